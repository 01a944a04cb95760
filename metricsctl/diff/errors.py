"""The errors a user can cause with `metricsctl diff`: no repository, an unknown ref, a ref that does not parse."""

from __future__ import annotations

from metricsctl.errors import MetricsctlError, SpecError, SpecIssue


class DiffError(MetricsctlError):
    """`metricsctl diff` cannot compare the two sides (git failed, a ref has no project, ...)."""


class NotAGitRepository(DiffError):
    """The project is not inside a git work tree."""


class UnknownRefError(DiffError):
    """A git ref (branch, tag, commit) that the repository does not have."""


class RefSpecError(SpecError):
    """The project at one side of the diff does not parse; carries that side's spec issues."""

    def __init__(self, side: str, where: str, issues: list[SpecIssue]) -> None:
        super().__init__(issues)
        self.side = side
        self.where = where
        count = len(issues)
        head = (f"the project at {side} {where} does not parse: {count} problem{'s' if count != 1 else ''} "
                "in its semantic spec:")
        fix = f"fix them on that ref, or compare against another {'--base' if side == 'base' else '--head'}"
        self.args = ("\n".join([head, *(f"  {issue}" for issue in issues), fix]),)
