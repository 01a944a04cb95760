"""The one exception root, and the issue records that spec validation collects."""

from __future__ import annotations

from dataclasses import dataclass


class MetricsctlError(Exception):
    """Any error metricsctl reports to a user (exit code 2), never shown as a traceback."""

    exit_code = 2


@dataclass(frozen=True)
class SpecIssue:
    """One problem in a user's file: where it is, what is wrong, and how to fix it."""

    message: str
    path: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.path or "<semantic manifest>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"


class IssuesError(MetricsctlError):
    """Problems in the user's files; carries every issue found, not only the first, one line each."""

    subject = "the project"

    def __init__(self, issues: list[SpecIssue]) -> None:
        self.issues = issues
        if len(issues) == 1:  # one problem, one line
            super().__init__(str(issues[0]))
            return
        head = f"{len(issues)} problems in {self.subject}:"
        super().__init__("\n".join([head, *(f"  {issue}" for issue in issues)]))

    def __reduce__(self) -> tuple[type[IssuesError], tuple[list[SpecIssue]]]:
        return type(self), (self.issues,)  # pickled with its issues (the suites' own process sends them)


class SpecError(IssuesError):
    """The project's semantic spec is invalid."""

    subject = "the semantic spec"


class LocatedSpecError(SpecError):
    """Problems of the project's configuration, each located already: compiling every metric alone to find
    the failing ones would add nothing."""


class QueryError(MetricsctlError):
    """A metric query that cannot be answered: unknown names, fan-out joins, unsafe SQL."""


class WarehouseError(MetricsctlError):
    """The warehouse refused or failed a statement, or could not be opened."""


class DbtError(MetricsctlError):
    """dbt could not parse or build the project."""
