"""`metricsctl diff`: check out both sides, compare their definitions, generated SQL and (built) values."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from metricsctl.diff.errors import DiffError
from metricsctl.diff.git import merge_base as find_merge_base
from metricsctl.diff.git import open_repo, resolve, working_tree
from metricsctl.diff.impact import breaking_changes, downstream
from metricsctl.diff.result import DiffResult
from metricsctl.diff.semantic import diff_specs
from metricsctl.diff.snapshot import checkout
from metricsctl.diff.sql import diff_generated
from metricsctl.diff.values import value_diffs
from metricsctl.names import STANDARD_GRAINS
from metricsctl.project import DbtProject


@contextmanager
def _environment_kept() -> Iterator[None]:
    """Parsing and building the copies repoints METRICSCTL_PROJECT_DIR; give the caller theirs back."""
    kept = os.environ.get("METRICSCTL_PROJECT_DIR")
    try:
        yield
    finally:
        if kept is None:
            os.environ.pop("METRICSCTL_PROJECT_DIR", None)
        else:
            os.environ["METRICSCTL_PROJECT_DIR"] = kept


def diff(project_dir: str | Path, base: str, head: str | None = None, *, values: bool = True,
         max_rows: int = 20, grain: str = "month", merge_base: bool = True,
         profiles_dir: str | Path | None = None, target: str | None = None,
         on_step: Callable[[str], None] | None = None) -> DiffResult:
    """What the change from `base` to `head` (default: the working tree) does to the project's metrics.

    `merge_base`: compare with the commit where head forked from base, as a pull request does.
    `values`: build both sides on the project's data in throw-away DuckDB warehouses and compare the
    affected metrics by `metric_time__<grain>` and the affected exports' tables (`max_rows` per item).
    """
    if grain not in STANDARD_GRAINS:
        raise DiffError(f"grain must be one of {', '.join(STANDARD_GRAINS)}, not '{grain}'")
    if max_rows < 0:
        raise DiffError("max_rows must be 0 or more")
    step = on_step or (lambda _: None)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    user_project = DbtProject.at(project_dir).project_dir
    repo = open_repo(user_project)
    head_rev = working_tree(repo) if head is None else resolve(repo, head)
    base_rev = resolve(repo, base)
    notes: list[str] = []
    if merge_base:
        forked = find_merge_base(repo, base_rev, head_rev)
        if forked is None:
            notes.append(f"`{base}` and the head share no history: compared with `{base}` itself")
        else:
            base_rev = forked
    with tempfile.TemporaryDirectory(prefix="metricsctl-diff-") as tmp, _environment_kept():
        snapshots = []
        for name, revision in (("base", base_rev), ("head", head_rev)):
            step(f"reading {name}: {revision.describe()}")
            begin = time.perf_counter()
            snapshots.append(checkout(repo, revision, name, Path(tmp) / name, user_project, profiles_dir, target))
            seconds[f"parse_{name}"] = time.perf_counter() - begin
        before, after = snapshots
        notes += before.notes + after.notes
        semantic = diff_specs(before.side, after.side, before.manifest, after.manifest)
        affected = downstream(semantic, before.graph, after.graph)
        breaking = breaking_changes(semantic, before.graph, after.graph)
        sql = diff_generated(before.models, after.models, before.committed, after.committed)
        result = DiffResult(before.revision, after.revision, semantic, affected, breaking, sql, grain=grain,
                            max_rows=max_rows)
        metrics = result.affected_metrics
        exports = result.affected_exports
        skipped: str | None = None
        compared = None
        builds = []
        if not values:
            skipped = "not asked for (--no-values)"
        elif before.warehouse is None or after.warehouse is None:
            kind = before.app.target.type
            skipped = f"the target is a {kind} warehouse; the value diff builds throw-away DuckDB warehouses only"
        elif not metrics and not exports:
            skipped = "no metric or export whose values can change"
        else:
            for snapshot in snapshots:
                step(f"building {snapshot.name} in a throw-away warehouse")
                summary = snapshot.run_build()
                builds.append(summary)
                seconds[f"build_{snapshot.name}"] = summary.seconds
                if summary.error:
                    notes.append(f"the {snapshot.name} build could not run: {summary.error}")
                elif not summary.success:
                    notes.append(f"the {snapshot.name} build had failures: {', '.join(summary.failed[:5])}")
            step("comparing values")
            begin = time.perf_counter()
            if any(b.error for b in builds):
                skipped = "a build could not run"
            else:
                compared = value_diffs(before, after, metrics, exports, grain, max_rows)
            seconds["values"] = time.perf_counter() - begin
    seconds["total"] = time.perf_counter() - started
    return DiffResult(result.base, result.head, semantic, affected, breaking, sql, compared, skipped, grain,
                      max_rows, tuple(builds), tuple(notes), seconds)
