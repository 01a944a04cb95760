"""Keeping a bad load out of the metric tables: the dbt nodes downstream of a relation that failed its checks.

Given dbt's manifest and the relations whose `error`-severity expectations failed, `gate` walks the
manifest's `child_map` and returns every node that reads from them, directly or not, and among those the
generated metric models (under `<first model path>/metrics/`). The caller then runs
`dbt build --exclude <gate.selectors()>` and reports each skipped model with `gate.reason(unique_id)`:
"stale because stg_orders failed expect_column_values_to_be_unique(column=order_id)".
The failed relations themselves are not in `blocked`: they hold the bad data already.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from metricsctl.errors import MetricsctlError
from metricsctl.expectations.relations import RelationResolver
from metricsctl.expectations.results import ExpectationRun

METRICS_DIR = "models/metrics"
#: node types `dbt build --exclude` can skip
BUILDABLE = ("model", "seed", "snapshot", "test", "unit_test")


@dataclass(frozen=True)
class Gate:
    """What must not be built because an input failed its expectations, and why."""

    failed: dict[str, tuple[str, ...]] = field(hash=False)  # failed relation unique_id -> expectations
    upstream_failures: dict[str, tuple[str, ...]] = field(hash=False)  # blocked node -> failed relations
    metric_models: tuple[str, ...]  # the blocked generated metric models, sorted
    names: dict[str, str] = field(hash=False)  # unique_id -> name, for messages
    selectors: tuple[str, ...] = ()  # `dbt build --exclude` arguments for every blocked buildable node

    @property
    def blocked(self) -> tuple[str, ...]:
        """Every node downstream of a failed relation (models, tests, exposures, ...), sorted."""
        return tuple(sorted(self.upstream_failures))

    def __bool__(self) -> bool:
        return bool(self.failed)

    def reason(self, unique_id: str, shown: int = 2) -> str:
        """`stale because stg_orders failed expect_column_values_to_be_unique(column=order_id)`.

        A relation that failed more than `shown` checks is named with its first ones and a count of the
        rest: each failed check has its own line in the build's report already.
        """
        parts = []
        for relation in self.upstream_failures.get(unique_id, ()):
            checks = self.failed[relation]
            more = f" and {len(checks) - shown} more" if len(checks) > shown else ""
            parts.append(f"{self.names.get(relation, relation)} failed {', '.join(checks[:shown])}{more}")
        return "stale because " + "; ".join(parts) if parts else ""


def downstream(manifest: Mapping[str, Any], roots: Iterable[str]) -> set[str]:
    """Every node reachable from `roots` (unique_ids) through the manifest's child_map, roots excluded."""
    child_map: Mapping[str, Sequence[str]] = manifest.get("child_map") or {}
    start = list(roots)
    seen: set[str] = set()
    queue = deque(start)
    while queue:
        for child in child_map.get(queue.popleft(), ()):
            if child not in seen:
                seen.add(child)
                queue.append(child)
    return seen - set(start)


def gate(manifest: Mapping[str, Any], failed: Mapping[str, Sequence[str]], metrics_dir: str = METRICS_DIR) -> Gate:
    """The nodes downstream of `failed` (relation -> its failed expectations, described).

    A relation is a unique_id, or a name as a suite writes it (model/seed/snapshot name,
    `source_name.table`). `metrics_dir` is where the generated metric models live
    (`Materializer.folder`, by default models/metrics).
    """
    resolver = RelationResolver(manifest)
    failures: dict[str, tuple[str, ...]] = {}
    for key, expectations in failed.items():
        try:
            unique_id = resolver.resolve(key).unique_id
        except LookupError as exc:
            raise MetricsctlError(f"cannot gate on relation '{key}': {exc.args[0]}") from None
        assert unique_id is not None
        failures[unique_id] = (*failures.get(unique_id, ()), *expectations)
    upstream: dict[str, list[str]] = {}
    for relation in sorted(failures):
        for node in downstream(manifest, [relation]):
            upstream.setdefault(node, []).append(relation)
    nodes: Mapping[str, Mapping[str, Any]] = {**(manifest.get("nodes") or {}), **(manifest.get("unit_tests") or {})}
    folder = metrics_dir.replace("\\", "/").strip("/") + "/"
    metric_models = sorted(
        n for n in upstream
        if nodes.get(n, {}).get("resource_type") == "model"
        and str(nodes[n].get("original_file_path", "")).replace("\\", "/").startswith(folder))
    selectors = sorted(
        "fqn:" + ".".join(nodes[n]["fqn"]) for n in upstream
        if nodes.get(n, {}).get("resource_type") in BUILDABLE and nodes[n].get("fqn"))
    names = {uid: str(node.get("name", uid)) for uid, node in
             {**(manifest.get("sources") or {}), **nodes}.items() if uid in failures or uid in upstream}
    for uid in failures:
        source = (manifest.get("sources") or {}).get(uid)
        if source is not None:
            names[uid] = f"{source.get('source_name')}.{source.get('name')}"
    return Gate(failures, {k: tuple(v) for k, v in upstream.items()}, tuple(metric_models), names, tuple(selectors))


def gate_run(manifest: Mapping[str, Any], run: ExpectationRun, metrics_dir: str = METRICS_DIR) -> Gate:
    """The gate for a run: downstream of every relation with a failed `error`-severity expectation."""
    return gate(manifest, run.failed_relations("error"), metrics_dir)
