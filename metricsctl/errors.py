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


class SpecError(MetricsctlError):
    """The project's semantic spec is invalid; carries every issue found, not only the first."""

    def __init__(self, issues: list[SpecIssue]) -> None:
        self.issues = issues
        count = len(issues)
        head = f"{count} problem{'s' if count != 1 else ''} in the semantic spec:"
        super().__init__("\n".join([head, *(f"  {issue}" for issue in issues)]))


class QueryError(MetricsctlError):
    """A metric query that cannot be answered: unknown names, fan-out joins, unsafe SQL."""


class WarehouseError(MetricsctlError):
    """The warehouse refused or failed a statement, or could not be opened."""


class DbtError(MetricsctlError):
    """dbt could not parse or build the project."""
