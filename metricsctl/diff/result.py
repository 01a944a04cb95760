"""What `metricsctl diff` found, and the exit code it implies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from metricsctl.diff.git import Revision
from metricsctl.diff.impact import Affected, Breaking
from metricsctl.diff.semantic import SemanticDiff
from metricsctl.diff.snapshot import BuildSummary
from metricsctl.diff.sql import ModelDiff
from metricsctl.diff.values import ValueDiff


@dataclass(frozen=True)
class DiffResult:
    base: Revision
    head: Revision
    semantic: SemanticDiff
    downstream: tuple[Affected, ...] = ()
    breaking: tuple[Breaking, ...] = ()
    sql: tuple[ModelDiff, ...] = ()
    values: tuple[ValueDiff, ...] | None = None  # None when the value diff did not run
    values_skipped: str | None = None  # why it did not run
    grain: str = "month"
    max_rows: int = 20
    builds: tuple[BuildSummary, ...] = ()
    notes: tuple[str, ...] = ()
    seconds: Mapping[str, float] = field(default_factory=dict)  # step -> seconds

    @property
    def is_breaking(self) -> bool:
        return bool(self.breaking)

    @property
    def affected_metrics(self) -> tuple[str, ...]:
        """Metrics on both sides whose values the changes can move (the ones the value diff compares)."""
        return tuple(a.name for a in self.downstream if a.kind == "metric" and a.status == "affected")

    @property
    def affected_exports(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.downstream if a.kind == "export" and a.status == "affected")

    def affected(self, kind: str) -> tuple[str, ...]:
        """Names of the downstream nodes of one kind (metric, export, alert, exposure, model, ...)."""
        return tuple(a.name for a in self.downstream if a.kind == kind)

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base.to_dict(), "head": self.head.to_dict(),
            "breaking": self.is_breaking,
            "breaking_changes": [b.to_dict() for b in self.breaking],
            "changes": self.semantic.to_dict(),
            "downstream": [a.to_dict() for a in self.downstream],
            "sql": [m.to_dict() for m in self.sql],
            "values": None if self.values is None else {
                "grain": self.grain, "max_rows": self.max_rows, "diffs": [v.to_dict() for v in self.values]},
            "values_skipped": self.values_skipped,
            "builds": [b.to_dict() for b in self.builds],
            "notes": list(self.notes),
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
        }


def exit_code(result: DiffResult, allow_breaking: bool = False) -> int:
    """0, or 1 when the diff has a breaking change and breaking changes are not allowed."""
    return 1 if result.is_breaking and not allow_breaking else 0
