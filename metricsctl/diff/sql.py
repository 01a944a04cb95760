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
    committed: bool = False  # the committed file changed, though the specs of both sides generate the same

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "status": self.status, "added": self.added,
                "removed": self.removed, "committed_only": self.committed, "diff": self.diff}


def _body(content: str) -> list[str]:
    """The model without its header line, which names a file and line that move with unrelated edits."""
    return [line for line in content.splitlines() if not line.startswith(MARKER)]


def diff_models(base: Iterable[GeneratedModel], head: Iterable[GeneratedModel], context: int = 3,
                committed: bool = False) -> tuple[ModelDiff, ...]:
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
        diffs.append(ModelDiff(name, path, status, "\n".join(lines), added, removed, committed))
    return tuple(diffs)


def diff_generated(base_models: Iterable[GeneratedModel], head_models: Iterable[GeneratedModel],
                   base_files: Iterable[GeneratedModel], head_files: Iterable[GeneratedModel],
                   ) -> tuple[ModelDiff, ...]:
    """What the specs generate differently, then committed generated files that changed on their own.

    dbt builds the committed files: a hand edit, or models committed without their spec change, moves
    the tables as surely as a spec change does, so a reviewer must see it.
    """
    generated = diff_models(base_models, head_models)
    seen = {(m.path, m.diff) for m in generated}
    shown = {m.path for m in generated}
    files = [m for m in diff_models(base_files, head_files, committed=True)
             if m.path not in shown and (m.path, m.diff) not in seen]
    return (*generated, *files)
