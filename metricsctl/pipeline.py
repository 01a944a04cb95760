"""The build: sources and staging, then the data-quality gate, then the metric models, then alerts.

With expectation suites in the project, `metricsctl build` runs dbt twice:

1. everything but the generated metric models (seeds, staging, marts, their dbt tests);
2. the suites, in the warehouse (Great Expectations), their results stored in `expectation_results`;
3. the metric models, except those downstream of an input that failed an `error` suite or a dbt
   test: they keep their last good tables, and the metrics they hold are reported stale, with why.

Without suites it is one `dbt build`. In a nightly build (not `--full-refresh`), the tests and suites that
ask for it check the rows the build wrote to its incremental tables (metricsctl/since_last_build.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from metricsctl.compiler.plan import Planner
from metricsctl.progress import Phases
from metricsctl.runner import DbtRun, release_duckdb

if TYPE_CHECKING:
    from metricsctl.alerts.engine import AlertRun
    from metricsctl.expectations import ExpectationRun, Gate, Suite
    from metricsctl.expectations.results import SuiteResult
    from metricsctl.expectations.worker import SuiteProcess
    from metricsctl.facade import Metricsctl
    from metricsctl.profiles import Target
    from metricsctl.publish import Stage
    from metricsctl.since_last_build import Bound
    from metricsctl.unchanged import State, Unchanged


@dataclass
class BuildResult:
    runs: list[DbtRun] = field(default_factory=list)
    expectations: ExpectationRun | None = None
    gate: Gate | None = None
    stale_metrics: dict[str, str] = field(default_factory=dict)  # metric -> why it was not refreshed
    alerts: AlertRun | None = None
    restored: list[str] = field(default_factory=list)  # relations put back to their published rows
    unchanged: list[str] = field(default_factory=list)  # models and seeds left as the last build left them
    phases: dict[str, float] = field(default_factory=dict)  # phase -> seconds
    wall_seconds: float | None = None  # the whole build, as a clock on the wall measures it

    @property
    def nodes(self) -> list[Any]:
        return [n for run in self.runs for n in run.nodes]

    @property
    def failed(self) -> list[Any]:
        return [n for run in self.runs for n in run.failed]

    @property
    def seconds(self) -> float:
        """The build's wall time (before it is known: the time dbt took)."""
        return self.wall_seconds if self.wall_seconds is not None else sum(run.seconds for run in self.runs)

    @property
    def dbt_ok(self) -> bool:
        return all(run.success for run in self.runs)

    @property
    def success(self) -> bool:
        """Every node built and every `error` expectation passed (stale metrics are a failure too)."""
        return self.dbt_ok and (self.expectations is None or self.expectations.ok) and not self.stale_metrics

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {
            "success": self.success, "seconds": round(self.seconds, 3),
            "phases": {name: round(seconds, 3) for name, seconds in self.phases.items()},
            "nodes": [asdict(n) for n in self.nodes],
            "expectations": self.expectations.to_dict() if self.expectations else None,
            "stale_metrics": self.stale_metrics,
            "blocked_models": list(self.gate.metric_models) if self.gate else [],
            "restored_relations": self.restored,
            "unchanged": self.unchanged,
            "alerts": self.alerts.summary() if self.alerts else None,
        }


def _selection(select: tuple[str, ...], scope: str | None) -> list[str]:
    """dbt's --select, narrowed to `scope` (intersection) when given."""
    if not select:
        return ["--select", scope] if scope else []
    return ["--select", *[f"{s},{scope}" if scope else s for s in select]]


def build(app: Metricsctl, select: tuple[str, ...] = (), exclude: tuple[str, ...] = (), full_refresh: bool = False,
          progress: Phases | None = None, as_of: dt.date | None = None) -> BuildResult:
    """Build into a candidate, audit it, put failed relations back to their published rows, then publish."""
    from metricsctl.expectations import project_suites
    from metricsctl.expectations.worker import suites_process
    from metricsctl.publish import staged
    from metricsctl.unchanged import look

    phases = progress or Phases()
    suites = project_suites(app.project)

    def unchanged(target: Target) -> Unchanged:  # a full refresh builds and checks everything
        return look(target, app.project.project_dir, app.project.manifest(), app.project.config, suites,
                    not full_refresh)

    # the suites' process imports Great Expectations while this one parses and builds the staging
    with suites_process(app.target.type, bool(suites)) as process, \
            staged(app.project, app.target, select, exclude, full_refresh, unchanged) as stage:
        result = _build(app, stage, suites, select, (*exclude, *_skipped(stage)), full_refresh, phases, as_of,
                        process)
        result.unchanged = sorted(stage.unchanged.skipped) if stage.unchanged is not None else []
        stage.state = _state_after(app, stage, result)
    return result


def _skipped(stage: Stage) -> tuple[str, ...]:
    return stage.unchanged.selectors if stage.unchanged is not None else ()


def _state_after(app: Metricsctl, stage: Stage, result: BuildResult) -> State | None:
    """The state to record: every node built or left as it is, but for those that failed, were restored, or were
    not built because something upstream failed; a warning of a dbt test or an expectation is marked."""
    from metricsctl.unchanged import expectation_id, suite_id

    if stage.unchanged is None or not stage.unchanged.keys:
        return None
    nodes = app.project.manifest().get("nodes", {})
    built: list[str] = []
    warned: set[str] = set()
    bad: set[str] = set()
    for node in result.nodes:
        if node.status in ("success", "pass"):
            built.append(node.unique_id)
        elif node.unique_id.startswith("test.") and node.status == "warn":
            built.append(node.unique_id)
            warned.add(node.unique_id)
        elif node.unique_id.startswith("test."):
            bad.update([node.unique_id, *nodes.get(node.unique_id, {}).get("depends_on", {}).get("nodes", [])])
        else:
            bad.add(node.unique_id)
    for suite in result.expectations.suites if result.expectations is not None else []:
        built.append(suite_id(suite.suite))
        if suite.failures("warn"):
            warned.add(suite_id(suite.suite))
            warned.update(expectation_id(suite.suite, r.expectation, r.kwargs) for r in suite.failures("warn"))
        if suite.failures("error"):
            bad.update([suite_id(suite.suite), suite.unique_id or ""])
    if result.gate is not None:
        bad.update(result.gate.failed)
        bad.update(result.gate.blocked)
    return stage.unchanged.state_after(built, warned, bad)


def _build(app: Metricsctl, stage: Stage, suites: list[Suite], select: tuple[str, ...], exclude: tuple[str, ...],
           full_refresh: bool, phases: Phases, as_of: dt.date | None, process: SuiteProcess | None) -> BuildResult:
    from metricsctl.since_last_build import bounds_before_build, dbt_tests_see

    if stage.unchanged is not None and not full_refresh:  # a full refresh checks everything too
        suites = stage.unchanged.suites(suites)  # not those of what the build leaves as it is
    if not suites and process is not None:
        process.close()  # nothing for it to run: stopped now, not left importing beside dbt
    # a nightly build checks the rows it writes: the bounds are read before dbt writes anything
    bounds = {} if full_refresh else bounds_before_build(app.project.manifest(), app.project.project_dir, suites,
                                                          stage.target)
    with dbt_tests_see(bounds):
        return _build_checked(app, stage, suites, bounds, select, exclude, full_refresh, phases, as_of, process)


def _build_checked(app: Metricsctl, stage: Stage, suites: list[Suite], bounds: dict[str, dict[str, Bound]],
                   select: tuple[str, ...], exclude: tuple[str, ...], full_refresh: bool, phases: Phases,
                   as_of: dt.date | None, process: SuiteProcess | None) -> BuildResult:
    from metricsctl.expectations import gate
    from metricsctl.expectations.runner import import_in_background
    from metricsctl.since_last_build import suite_bounds

    common = ["--full-refresh"] if full_refresh else []
    result = BuildResult()
    if not suites:
        with phases.phase("dbt build"):
            result.runs.append(stage.dbt(["build", *_selection(select, None),
                                          *(["--exclude", *exclude] if exclude else []), *common], phases.node))
        bad = _failed_nodes(app.project.manifest(), result.runs[-1])
        if bad:
            _keep_published(app, stage, result, bad)
        return result
    metrics_path = f"path:{app.materializer().folder}"
    # Great Expectations, while dbt builds the staging, in this process when the suites run in it
    importing = import_in_background() if process is None else None
    try:
        with phases.phase("sources and staging"):
            first = stage.dbt(["build", *_selection(select, None), "--exclude", metrics_path, *exclude, *common],
                              phases.node)
    except BaseException:
        if importing is not None:
            importing.join()
        raise
    result.runs.append(first)
    release_duckdb()
    unbuilt = _not_built(first)
    with phases.phase("expectations", len(suites)):
        if importing is not None:
            importing.join()
        result.expectations = _unbuilt_said(app.run_suites(
            stage.audited(suites), as_of, stage.target, on_suite=phases.item, since=suite_bounds(suites, bounds),
            process=process), unbuilt)
        phases.summary(result.expectations.headline())
    app.store_expectation_results(result.expectations, stage.target)
    manifest = app.project.manifest()
    failed: dict[str, list[str]] = {k: list(v) for k, v in result.expectations.failed_relations("error").items()}
    for parent, why in _failed_nodes(manifest, first).items():  # a failed model or test stops its metric models
        failed.setdefault(parent, []).extend(why)
    result.gate = gate(manifest, failed, app.materializer().folder)
    excluded = [*exclude, *result.gate.selectors]
    with phases.phase("metric models"):
        second = stage.dbt(["build", *_selection(select, metrics_path),
                            *(["--exclude", *excluded] if excluded else []), *common], phases.node)
    result.runs.append(second)
    for parent, why in _failed_nodes(manifest, second).items():  # a test of an export failed, say
        failed.setdefault(parent, []).extend(why)
    if failed:
        _keep_published(app, stage, result, failed)
    return result


def _not_built(run: DbtRun) -> dict[str, str]:
    """The models, seeds and snapshots a dbt run did not write -> why, in the words of a suite's result."""
    why = {"skipped": "dbt skipped it after a failure upstream"}
    return {node.unique_id: "not checked: the build did not write this relation "
                            f"({why.get(node.status, 'its dbt build failed')})"
            for node in run.nodes if node.status in ("skipped", "error", "runtime error")
            and node.unique_id.startswith(("model.", "seed.", "snapshot."))}


def _unbuilt_said(run: ExpectationRun, unbuilt: dict[str, str]) -> ExpectationRun:
    """`run` with the suites that could not read a relation dbt did not write in this build (a first build, say,
    whose unit test failed) saying so, in place of the warehouse's error on the missing table."""
    import dataclasses

    from metricsctl.expectations.results import UNREADABLE

    def said(suite: SuiteResult) -> SuiteResult:
        why = unbuilt.get(suite.unique_id or "")
        if why is None:
            return suite
        return dataclasses.replace(suite, results=tuple(
            dataclasses.replace(r, error=why) if r.error is not None and r.error.startswith(UNREADABLE) else r
            for r in suite.results))

    return dataclasses.replace(run, suites=tuple(said(s) for s in run.suites))


def _failed_nodes(manifest: dict[str, Any], run: DbtRun) -> dict[str, list[str]]:
    """Each relation a dbt run found bad -> why: a failed model, seed or snapshot itself, and the relations a
    failed test checks."""
    failed: dict[str, list[str]] = {}
    for node in run.failed:
        info = manifest.get("nodes", {}).get(node.unique_id) or manifest.get("unit_tests", {}).get(node.unique_id) or {}
        parents = info.get("depends_on", {}).get("nodes", []) if node.unique_id.startswith(("test.", "unit_test.")) \
            else [node.unique_id]
        for parent in parents:
            failed.setdefault(parent, []).append(f"{node.unique_id.split('.')[-1]} ({node.status})")
    return failed


def _keep_published(app: Metricsctl, stage: Stage, result: BuildResult, failed: dict[str, list[str]]) -> None:
    """Readers only ever see audited rows: what failed, and every view or table built from it, goes back to the
    rows the published warehouse holds (or is not published), whichever run found it bad."""
    from metricsctl.expectations import gate
    from metricsctl.publish import relations_of

    manifest = app.project.manifest()
    result.gate = gate(manifest, failed, app.materializer().folder)
    result.stale_metrics = stale_metrics(app, manifest, result.gate)
    built = [uid for uid in [*result.gate.failed, *result.gate.blocked] if not uid.startswith("source.")]
    result.restored = stage.restore(relations_of(manifest, built))  # a source is not the build's to write


def stale_metrics(app: Metricsctl, manifest: dict[str, Any], blocked: Gate) -> dict[str, str]:
    """Metrics that read a semantic model whose dbt model failed or is downstream of a failure."""
    bad = set(blocked.blocked) | set(blocked.failed)
    if not bad:
        return {}
    why: dict[str, str] = {}
    for node in manifest.get("semantic_models", {}).values():
        for parent in node.get("depends_on", {}).get("nodes", []):
            if parent in bad:
                origins = blocked.upstream_failures.get(parent, (parent,))
                causes = "; ".join(f"{blocked.names.get(o, o)} failed {', '.join(blocked.failed.get(o, ()))}"
                                   for o in origins)
                why[node["name"]] = causes
    if not why:
        return {}
    planner = Planner(app.spec)
    stale: dict[str, str] = {}
    for metric in app.spec.metric_names():
        models = {i.model for i in planner.plan((metric,), ()).instances}
        reasons = [why[m] for m in sorted(models) if m in why]
        if reasons:
            stale[metric] = reasons[0]
    return stale
