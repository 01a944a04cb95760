"""The generated dbt models of both sides, as unified diffs (what `metricsctl compile` would change)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from metricsctl.materialize import MARKER, GeneratedModel


@dataclass(frozen=True)
class ModelDiff:
    name: str
    path: str
    status: str  # added, removed, changed
    diff: str  # unified diff, `a/<path>` -> `b/<path>`
    added: int  # lines added
    removed: int  # lines removed

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "status": self.status, "added": self.added,
                "removed": self.removed, "diff": self.diff}


def _body(content: str) -> list[str]:
    """The model without its header line, which names a file and line that move with unrelated edits."""
    return [line for line in content.splitlines() if not line.startswith(MARKER)]


def diff_models(base: Iterable[GeneratedModel], head: Iterable[GeneratedModel], context: int = 3,
                ) -> tuple[ModelDiff, ...]:
    """Models added, removed, or whose SQL changed (a moved header line alone is no change)."""
    before = {m.path: m for m in base}
    after = {m.path: m for m in head}
    diffs = []
    for path in sorted(set(before) | set(after), key=lambda p: (p not in after or p not in before, p)):
        old, new = before.get(path), after.get(path)
        if old is not None and new is not None and _body(old.content) == _body(new.content):
            continue
        lines = list(difflib.unified_diff(
            old.content.splitlines() if old else [], new.content.splitlines() if new else [],
            fromfile=f"a/{path}" if old else "/dev/null", tofile=f"b/{path}" if new else "/dev/null",
            lineterm="", n=context))
        added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
        removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
        status = "added" if old is None else "removed" if new is None else "changed"
        name = (new or old).name  # type: ignore[union-attr]
        diffs.append(ModelDiff(name, path, status, "\n".join(lines), added, removed))
    return tuple(diffs)
