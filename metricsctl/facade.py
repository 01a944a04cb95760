"""One object, one method per verb: what the CLI (and any scheduler or notebook) calls."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from metricsctl.compiler.dialects import ADAPTER_DIALECTS, DIALECTS, check_dialect
from metricsctl.compiler.query import MetricQuery, too_deep
from metricsctl.compiler.render import Compiled, SqlCompiler
from metricsctl.errors import DbtError, IssuesError, LocatedSpecError, MetricsctlError, QueryError, SpecError
from metricsctl.forked import SettingError
from metricsctl.guards import mask
from metricsctl.jsonable import dumps
from metricsctl.profiles import Target, load_target
from metricsctl.progress import Phases
from metricsctl.project import DbtProject
from metricsctl.saved_queries import saved_query_to_query
from metricsctl.spec import Spec
from metricsctl.spec_cache import CACHE_FILE
from metricsctl.warehouse import Result, Warehouse, connect, ensure_adapter, ensure_reachable, release_duckdb_if_loaded

if TYPE_CHECKING:
    from metricsctl.alerts.engine import AlertRun
    from metricsctl.alerts.rules import Rule as AlertRule
    from metricsctl.diff import DiffResult
    from metricsctl.expectations import ExpectationRun, Suite
    from metricsctl.expectations.worker import SuiteProcess
    from metricsctl.lineage import Attachment, Lineage
    from metricsctl.management.explain import Explanation
    from metricsctl.management.lint import LintIssue
    from metricsctl.management.tree import ValuedNode
    from metricsctl.materialize import CheckResult, Materializer
    from metricsctl.pipeline import BuildResult
    from metricsctl.scaffold import InitResult
    from metricsctl.since_last_build import Bound
    from metricsctl.site import SiteResult
    from metricsctl.site.server import SiteServer


class Metricsctl:
    """A dbt project's metrics: compile queries, answer them in the warehouse."""

    def __init__(self, project_dir: str | Path = ".", profiles_dir: str | Path | None = None,
                 target: str | None = None, semantic_manifest: str | Path | None = None) -> None:
        self.project_dir = Path(project_dir).resolve()
        self.profiles_dir = profiles_dir
        self.target_name = target
        self.semantic_manifest_path = Path(semantic_manifest) if semantic_manifest else None

    # --- the project -------------------------------------------------------------------------------
    @cached_property
    def project(self) -> DbtProject:
        return DbtProject.at(self.project_dir, self.profiles_dir, self.target_name)

    @cached_property
    def spec(self) -> Spec:
        if self.semantic_manifest_path is not None:
            return Spec.load(self.semantic_manifest_path)
        project = self.project
        return project.reparsed_when_cut(
            lambda: Spec.load(project.semantic_manifest(), project.locations(), validated_stamp=project.validated_stamp,
                              cache=project.target_dir / CACHE_FILE),
            project.semantic_manifest_path)

    @cached_property
    def target(self) -> Target:
        profile = self.project.config.get("profile")
        if not profile:
            raise DbtError(f"{self.project.project_dir / 'dbt_project.yml'}: no `profile:` set")
        self.project.activate()
        profiles = self.project.resolved_profiles_dir()
        target = load_target(profiles, str(profile), self.target_name)
        ensure_adapter(target, profiles / "profiles.yml")
        return target

    @property
    def dialect(self) -> str:
        if self.semantic_manifest_path is not None and not (self.project_dir / "dbt_project.yml").is_file():
            return "duckdb"
        return ADAPTER_DIALECTS.get(self.target.type, self.target.type)

    @cached_property
    def model_dialects(self) -> tuple[str, ...]:
        """The dialects the generated models are compiled for: `vars.metricsctl_dialects` in dbt_project.yml,
        else the dialect of the profile's default target. Never the target of one run: the committed models
        must not change with the target a build runs on."""
        listed = (self.project.config.get("vars") or {}).get("metricsctl_dialects")
        if listed is None:
            profile = str(self.project.config.get("profile"))
            default = load_target(self.project.resolved_profiles_dir(), profile, None)
            return (ADAPTER_DIALECTS.get(default.type, default.type),)
        names = [listed] if isinstance(listed, str) else list(listed)
        where = self.project.project_dir / "dbt_project.yml"
        if not names or not all(isinstance(n, str) for n in names):
            raise DbtError(f"{where}: vars.metricsctl_dialects must be a list of dialects, e.g. [duckdb, postgres]")
        for name in names:
            if name not in DIALECTS:
                raise DbtError(f"{where}: vars.metricsctl_dialects: unknown dialect '{name}'; "
                               f"choose from {', '.join(DIALECTS)}")
        return tuple(dict.fromkeys(names))

    def ensure_buildable(self) -> None:
        """A build on a target whose dialect the committed models lack stops here, before any change."""
        if self.dialect not in self.model_dialects:
            raise DbtError(f"target '{self.target.name}' is a {self.target.type} warehouse, but the generated models "
                           f"are compiled for {', '.join(self.model_dialects)}: add '{self.dialect}' to "
                           "vars.metricsctl_dialects in dbt_project.yml and run `metricsctl compile`")

    # --- verbs ---------------------------------------------------------------------------------
    def saved_query(self, name: str) -> MetricQuery:
        return saved_query_to_query(self.spec.saved_query(name), self.spec.custom_grains)

    def request(self, metrics: str = "", group_by: str = "", where: tuple[str, ...] = (), order_by: str = "",
                limit: int | None = None, start_time: str | None = None, end_time: str | None = None,
                saved_query: str | None = None) -> MetricQuery:
        """The query `metricsctl query` (and the site's /api/query) asks, from its options as given."""
        if saved_query:
            if metrics or group_by:
                raise QueryError("--saved-query runs the saved query as written; drop --metrics and --group-by")
            base = self.saved_query(saved_query)
            return MetricQuery(base.metrics, base.group_by, base.where + where,
                               tuple(order_by.split(",")) if order_by else base.order_by,
                               limit if limit is not None else base.limit, start_time, end_time, shorter_paths=True)
        if not metrics and not group_by:
            raise QueryError("no metrics given and nothing to group by; pass --metrics a,b, --group-by a,b "
                             "(their distinct values) or --saved-query NAME")
        return MetricQuery.of(metrics, group_by, where, order_by, limit, start_time, end_time, shorter_paths=True)

    def compile_query(self, query: MetricQuery, dialect: str | None = None) -> Compiled:
        """The SQL that answers `query`, in `dialect` (default: the target's)."""
        source = self.dialect
        compiler = SqlCompiler(self.spec, check_dialect(dialect or source), source)
        try:
            return compiler.compile(query)
        except RecursionError:
            raise QueryError(too_deep(query)) from None

    def protected_paths(self) -> list[Path]:
        """Files no output may overwrite: the warehouse of the target (when it is a file)."""
        if self.semantic_manifest_path is not None and not (self.project_dir / "dbt_project.yml").is_file():
            return [self.semantic_manifest_path]
        try:
            path = self.target.config.get("path") if self.target.type == "duckdb" else None
        except MetricsctlError:
            return []
        if not path or path == ":memory:":
            return []
        return [Path(os.path.abspath(str(path))), Path(os.path.abspath(str(path)) + ".wal")]

    def input_folders(self) -> list[Path]:
        """Folders no output may write into: the project's seeds (none without a dbt project)."""
        if not (self.project_dir / "dbt_project.yml").is_file():
            return []
        return [self.project_dir / folder for folder in self.project.paths("seed-paths")]

    def warehouse(self, read_only: bool = True) -> Warehouse:
        """The target's warehouse, through its own client; close it when done."""
        if not read_only:
            release_duckdb_if_loaded()
        return connect(self.target, self.project.project_dir, read_only=read_only)

    def query(self, query: MetricQuery) -> Result:
        """Compile `query` and run it in the target's warehouse."""
        compiled = self.compile_query(query)
        warehouse = self.warehouse()
        try:
            result = warehouse.execute(compiled.sql())
        finally:
            warehouse.close()
        return Result(compiled.columns, result.rows)

    def validate(self) -> Spec:
        """The spec, checked further than dbt does: every metric and saved query must compile."""
        from metricsctl.validation import check_compiles

        issues = check_compiles(self.spec)
        if issues:
            raise SpecError(issues)
        return self.spec

    def lineage(self, node: str, direction: str = "both", depth: int | None = None,
                columns: bool = False) -> Lineage:
        """What `node` reads and what reads it, from source systems to exports and dashboards."""
        from metricsctl.lineage import DIRECTIONS, lineage_of

        if direction not in DIRECTIONS:
            raise MetricsctlError(f"direction must be one of {', '.join(DIRECTIONS)}")
        spec = self.spec  # parses the project when it changed, which rewrites manifest.json
        return lineage_of(spec, self.project.manifest(), node, direction,  # type: ignore[arg-type]
                          depth, columns, self.dialect, self._lineage_attachments())

    def _lineage_attachments(self) -> list[Attachment]:
        """Expectation suites (guarding their relation) and alert rules (watching their metric)."""
        from metricsctl.alerts import load_alert_config
        from metricsctl.expectations import project_suites
        from metricsctl.lineage import Attachment

        attachments = [Attachment(f"expectation_suite:{suite.name}", (suite.relation.unique_id,),
                                  label=f"{len(suite.expectations)} expectations, {suite.severity}",
                                  path=f"{suite.path}:{suite.line}", edge_kind="guarded by")
                       for suite in project_suites(self.project) if suite.relation.unique_id]
        rules = load_alert_config(self.project.project_dir, self.project.paths("model-paths"), self.spec).rules
        return [*attachments, *(rule.attachment() for rule in rules)]

    # --- review ---------------------------------------------------------------------------------
    def diff(self, base: str, head: str | None = None, values: bool = True, max_rows: int = 20,
             grain: str = "month", merge_base: bool = True,
             on_step: Callable[[str], None] | None = None) -> DiffResult:
        """What the change from git ref `base` to `head` (default: the working tree) does to the metrics."""
        from metricsctl.diff import diff

        return diff(self.project_dir, base, head, values=values, max_rows=max_rows, grain=grain,
                    merge_base=merge_base, profiles_dir=self.profiles_dir, target=self.target_name, on_step=on_step)

    # --- alerts --------------------------------------------------------------------------------
    def alert_rules(self) -> tuple[AlertRule, ...]:
        from metricsctl.alerts import load_alert_config

        return load_alert_config(self.project.project_dir, self.project.paths("model-paths"), self.spec).rules

    def alerts(self, as_of: datetime | None = None, dry_run: bool = False, rules: tuple[str, ...] = (),
               stale_metrics: tuple[str, ...] = (), progress: Phases | None = None) -> AlertRun:
        """Evaluate the alert rules in the warehouse, keep their state there and notify the owners."""
        from metricsctl.alerts import load_alert_config, run_alerts
        from metricsctl.publish import writer_lock

        config = load_alert_config(self.project.project_dir, self.project.paths("model-paths"), self.spec)
        with contextlib.nullcontext() if dry_run else writer_lock(self.target):
            warehouse = self.warehouse(read_only=dry_run)
            try:
                return run_alerts(self.spec, config, warehouse.execute, as_of=as_of, dry_run=dry_run,
                                  stale_metrics=stale_metrics, rules=rules or None, dialect=self.dialect,
                                  base_dir=self.project.project_dir,
                                  on_rule=progress.item if progress else None)
            finally:
                warehouse.close()

    def _refuse_rewriting_alerts(self, as_of: datetime) -> None:
        """Alerts judged as of a date before the recorded alert state would rewrite it, and alerts dated in the
        future would stop every run until then: refuse both up front."""
        from metricsctl.alerts.engine import refuse_future, refuse_rewriting
        from metricsctl.alerts.state import StateStore
        from metricsctl.runner import release_duckdb
        from metricsctl.warehouse import DuckDBWarehouse

        refuse_future(as_of)
        path = str(self.target.config.get("path", ":memory:")) if self.target.type == "duckdb" else ":memory:"
        if path == ":memory:" or not os.path.exists(path):
            return
        release_duckdb()
        warehouse = DuckDBWarehouse(os.path.abspath(path), read_only=True)
        try:
            store = StateStore(warehouse.execute)
            if store.exists():
                refuse_rewriting(store.recorded_until(), as_of)
        finally:
            warehouse.close()

    # --- metric management ---------------------------------------------------------------------
    def _targets(self, grain: str, period_start: str, org_unit: tuple[str, str] | None = None,
                 ) -> dict[str, float | None] | None:
        """The targets of one period, of the company or of `org_unit` (kind, name), when the project has a
        scorecard and a built warehouse."""
        from metricsctl.management.targets import COMPANY, load_scorecard_config, read_targets

        config = load_scorecard_config(self.project.project_dir, self.project.paths("model-paths"))
        if config is None:
            return None
        kind, name = org_unit or (COMPANY, COMPANY)
        warehouse = self.warehouse()
        try:
            return read_targets(warehouse.execute, config.targets, grain, period_start, name, dialect=self.dialect,
                                kind=(config.kind_column, kind) if config.kind_column and org_unit else None)
        except MetricsctlError:
            return None  # targets not built yet: the tree shows no targets rather than failing
        finally:
            warehouse.close()

    def org_unit_filter(self, org_unit: str) -> tuple[tuple[str, str], str]:
        """`store=Riverside` -> ((kind, name), the where filter that narrows a metric to it), through the
        scorecard's `org_units` (kind -> the dimension holding its names)."""
        from metricsctl.compiler.filters import equality_filter
        from metricsctl.management.targets import load_scorecard_config
        from metricsctl.spec import suggest

        config = load_scorecard_config(self.project.project_dir, self.project.paths("model-paths"))
        kinds = dict(config.org_units) if config else {}
        if not kinds:
            raise QueryError("--org-unit needs `org_units:` under `metricsctl_scorecard:` (org unit kind -> the "
                             "dimension naming them, e.g. {store: store__store_name})")
        kind, sep, name = org_unit.partition("=")
        if not sep or not kind.strip() or not name.strip():
            raise QueryError(f"--org-unit is KIND=NAME, e.g. {next(iter(kinds))}=..., not '{org_unit}'")
        kind, name = kind.strip(), name.strip()
        if kind not in kinds:
            raise QueryError(f"unknown org unit kind '{kind}'{suggest(kind, sorted(kinds))}; the kinds are "
                             f"{', '.join(sorted(kinds))}")
        return (kind, name), equality_filter(kinds[kind], name, self.dialect)

    def tree(self, metric: str, period: str | None = None, previous: str | None = None, depth: int | None = None,
             org_unit: str | None = None) -> ValuedNode:
        """The metric's tree down to its leaves, with values in `period` (default: the latest complete month
        with a value) and the period before; with `org_unit` (KIND=NAME), that org unit's values and targets."""
        from metricsctl.management.periods import parse_period
        from metricsctl.management.tree import latest_period, tree

        unit, where = self.org_unit_filter(org_unit) if org_unit else (None, None)
        filters = (where,) if where else ()
        at = parse_period(period) if period else latest_period(self.spec, self.query, metric, date.today(),
                                                                where=filters)
        before = parse_period(previous, at.grain) if previous else None
        targets = self._targets(at.grain, at.start.isoformat(), unit)
        valued = tree(self.spec, self.query, metric, at, before, targets, max_depth=depth, where=filters)
        return replace(valued, org_unit=f"{unit[0]}={unit[1]}") if unit else valued

    def explain(self, metric: str, period: str, vs: str | None = None, by: tuple[str, ...] = (),
                top: int | None = None) -> Explanation:
        """Why `metric` moved from `vs` (default: the period before) to `period`."""
        from metricsctl.management.explain import explain

        return explain(self.spec, self.query, metric, period, vs, by, top)

    def lint(self) -> list[LintIssue]:
        """The gaps of every KPI against the project's checklist (`metricsctl_lint:`)."""
        from metricsctl.management.lint import lint, load_lint_config, metrics_with_targets
        from metricsctl.management.targets import load_scorecard_config

        spec = self.spec  # parses the project when it changed: suites resolve relations through its manifest
        folders = self.project.paths("model-paths")
        config = load_lint_config(self.project.project_dir, folders)
        scorecard = load_scorecard_config(self.project.project_dir, folders)
        targets = None
        if scorecard is not None:
            for seed_folder in self.project.paths("seed-paths"):
                for name in {scorecard.targets, scorecard.targets.removeprefix("stg_")}:
                    csv_path = self.project.project_dir / seed_folder / f"{name}.csv"
                    if csv_path.is_file():
                        targets = metrics_with_targets(csv_path)
        from metricsctl.alerts import load_alert_config
        from metricsctl.expectations import project_suites

        suites = project_suites(self.project)
        guarded = {name for suite in suites for name in (suite.relation.name, suite.relation.identifier) if name}
        watched = {rule.metric for rule in load_alert_config(self.project.project_dir, folders, spec).rules}
        return lint(spec, config, targets=targets, watched=watched, guarded=guarded if suites else None)

    def init(self, name: str | None = None) -> InitResult:
        """Scaffold a metrics project in the project folder, or add metricsctl's files to the dbt project there."""
        from metricsctl.scaffold import init_project

        return init_project(self.project_dir, name)

    def materializer(self) -> Materializer:
        from metricsctl.materialize import Materializer
        from metricsctl.model_cache import MODELS_CACHE_FILE

        # models are kept beside the spec cache, for the project's own manifest only
        cache = self.project.target_dir / MODELS_CACHE_FILE if self.semantic_manifest_path is None else None
        return Materializer(self.spec, self.project, self.model_dialects, cache=cache)

    def compile(self, check: bool = False) -> CheckResult:
        """Write the generated models (or, with `check`, only report which are out of date)."""
        materializer = self.materializer()
        try:
            models = materializer.models()  # compiles every metric (metric_values) and every export
        except (LocatedSpecError, SettingError):
            raise  # located as they are, or the environment's: no failing metric to find
        except (MetricsctlError, RecursionError):
            self.validate()  # locate each failing metric at its file and line
            raise
        return materializer.check(models) if check else materializer.write(models)

    def preflight(self, alerts: bool = False) -> None:
        """Check what a build reads from the project's files (seeds, spec and generated models, expectation
        suites, the tests' `*_since_last_build` filters and, with `alerts`, alert rules) and report every
        problem found at once."""
        from metricsctl.alerts import load_alert_config
        from metricsctl.expectations import project_suites
        from metricsctl.seeds import ensure_seeds_load
        from metricsctl.since_last_build import where_requests

        failures: list[IssuesError] = []

        def attempt(check: Callable[[], object]) -> bool:
            try:
                check()
            except IssuesError as exc:
                failures.append(exc)
                return False
            return True

        folders = self.project.paths("model-paths")
        attempt(lambda: ensure_seeds_load(self.project.project_dir, self.project.paths("seed-paths")))
        if attempt(lambda: self.spec):  # the others read the parsed project
            attempt(self.compile)
            attempt(lambda: project_suites(self.project))
            attempt(lambda: where_requests(self.project.manifest(), self.project.project_dir))
            if alerts:
                attempt(lambda: load_alert_config(self.project.project_dir, folders, self.spec))
        if len(failures) == 1:
            raise failures[0]
        if failures:  # the same problem may stop two checks (a seed dbt cannot read stops the parse too)
            raise IssuesError(list(dict.fromkeys(issue for failure in failures for issue in failure.issues)))

    def build(self, select: tuple[str, ...] = (), exclude: tuple[str, ...] = (), full_refresh: bool = False,
              progress: Phases | None = None, as_of: date | None = None, alerts: bool = False) -> BuildResult:
        """Validate and compile the spec, build through the data-quality gate, then (optionally) alert.

        `progress` hears each phase and each item as it finishes, and times the phases. The run result,
        with the phase times, is written to target/metricsctl_run.json.
        """
        from metricsctl.pipeline import build

        phases = progress or Phases()
        started = time.time()
        now = datetime.combine(as_of, datetime.min.time()) if as_of else None
        # a bad spec, seed, suite or rule stops the build before it touches the warehouse, as one message
        # with no progress lines before it: the parse shows a live line on a terminal, its time once done
        with phases.phase("parse", quiet_until_done=True):
            self.ensure_buildable()
            ensure_reachable(self.target)
            self.preflight(alerts)
            if alerts and now is not None:
                self._refuse_rewriting_alerts(now)  # before the build, not after it
        result = build(self, select, exclude, full_refresh, phases, as_of)
        if alerts:
            with phases.phase("alerts", len(self.alert_rules())):
                result.alerts = self.alerts(now, stale_metrics=tuple(result.stale_metrics), progress=phases)
                phases.summary(result.alerts.headline())
        result.phases = dict(phases.seconds)
        result.wall_seconds = phases.wall_seconds
        record = {"command": "build", "started_at": started, **result.to_dict()}
        self.project.target_dir.mkdir(parents=True, exist_ok=True)
        (self.project.target_dir / "metricsctl_run.json").write_text(mask(dumps(record)))
        return result

    def check(self, as_of: date | None = None, progress: Phases | None = None) -> ExpectationRun:
        """Run the expectation suites alone, against the warehouse as it is; results are stored there."""
        from metricsctl.expectations import project_suites

        phases = progress or Phases()
        with phases.phase("parse"):
            _ = self.spec  # parses the project when it changed: suites resolve relations through its manifest
        suites = project_suites(self.project)
        with phases.phase("expectations", len(suites)):
            run = self.run_suites(suites, as_of, on_suite=phases.item)
            phases.summary(run.headline())
        self.store_expectation_results(run)
        return run

    def run_suites(self, suites: list[Suite], as_of: date | None = None, target: Target | None = None,
                   on_suite: Callable[[str, str, str], None] | None = None,
                   since: Mapping[str, Bound] | None = None, process: SuiteProcess | None = None) -> ExpectationRun:
        """Run expectation suites in the target's warehouse (or the candidate a build writes): through
        SQLAlchemy, or Spark's own session. `on_suite` hears each suite as it finishes; `since` (suite name ->
        bound) narrows a nightly build's suites to the rows it wrote (metricsctl/since_last_build.py);
        `process`, a build's, runs them (metricsctl/expectations/worker.py)."""
        from metricsctl.expectations import run_suites
        from metricsctl.expectations.connection import connection_url
        from metricsctl.runner import release_duckdb

        where = target or self.target
        release_duckdb()
        if where.type == "spark":
            from metricsctl.warehouse import SparkWarehouse

            return run_suites(suites, f"spark target '{where.name}'", as_of=as_of,
                              spark=SparkWarehouse(where.config).session, on_suite=on_suite, since=since)
        if process is not None:
            return process.run(suites, connection_url(where), as_of=as_of, on_suite=on_suite, since=since)
        return run_suites(suites, connection_url(where), as_of=as_of, on_suite=on_suite, since=since)

    def store_expectation_results(self, run: ExpectationRun, target: Target | None = None) -> None:
        """Append a run's results to `expectation_results` in the target's warehouse (a build passes the
        candidate it writes; otherwise the published warehouse, under its writer lock)."""
        from metricsctl.expectations.results import store_results
        from metricsctl.publish import writer_lock

        where = target or self.target
        if where.type == "duckdb" and where.config.get("path", ":memory:") == ":memory:":
            return  # nothing outlives an in-memory database
        with contextlib.nullcontext() if target is not None else writer_lock(where):
            release_duckdb_if_loaded()
            warehouse = connect(where, self.project.project_dir, read_only=False)
            try:
                store_results(warehouse, run, where.config.get("schema"))
            finally:
                warehouse.close()

    # --- the metric center ---------------------------------------------------------------------
    def docs_generate(self, out: str | Path | None = None, lang: str = "en", as_of: date | None = None) -> SiteResult:
        """Write the metric center, a static site of the metrics, into target/metrics-site/ (or `out`)."""
        from metricsctl.site import generate

        return generate(self, Path(out) if out is not None else None, lang, as_of)

    def docs_server(self, host: str = "127.0.0.1", port: int = 8080, folder: str | Path | None = None) -> SiteServer:
        """A server of the generated site and its read-only query API (call `serve_forever()` on it)."""
        from metricsctl.site.server import SiteServer

        return SiteServer(self, Path(folder) if folder is not None else None, host, port)
