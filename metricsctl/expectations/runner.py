"""Running the suites with Great Expectations 1.24, as SQL in the warehouse (never pulling tables into pandas).

GX on DuckDB fails silently as shipped: every expectation comes back success=False with
`MetricResolutionError: list index out of range` inside `exception_info`. GX closes the SQLAlchemy
connection before it fetches the rows, and duckdb-engine's cursor is the connection. GX already keeps one
persisted connection for sqlite and a few others (`_PERSISTED_CONNECTION_DIALECTS`); duckdb is added to
that list here. tests/test_expectations_runner.py proves both sides: without the fix every expectation
errors, with it a clean table passes and each defect fails with the right count.

Two more GX-on-DuckDB traps are avoided: a table asset in a schema other than `main` loses its schema when
GX reflects its columns (duckdb-engine's reflection is broken on SQLAlchemy 2.1), so each relation is read
through a query asset (`SELECT * FROM "db"."schema"."table"`); and any exception GX records in a result
makes that result an error, never a pass.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import functools
import io
import logging
import os
import re
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlglot import exp

from metricsctl.errors import SpecIssue, WarehouseError
from metricsctl.expectations.batches import Batch, batch_of, batch_query, key_of
from metricsctl.expectations.catalog import FRESHNESS, FRESHNESS_ARG, REFERENTIAL
from metricsctl.expectations.connection import (
    describe_duckdb_error,
    duckdb_path,
    ensure_duckdb_free,
    url_dialect,
)
from metricsctl.expectations.relations import Relation
from metricsctl.expectations.results import (
    SAMPLE_SIZE,
    UNREADABLE,
    ExpectationResult,
    ExpectationRun,
    SuiteResult,
    new_run_id,
)
from metricsctl.expectations.row_queries import row_query_problem
from metricsctl.expectations.spec import ExpectationSpec, ExpectationSpecError, Suite
from metricsctl.since_last_build import Bound

META_KEY = "metricsctl_index"
BATCH_PLACEHOLDER = "__metricsctl_batch__"
ORPHANS_COLUMN = "metricsctl_orphan_rows"
ROW_QUERY = "unexpected_rows_expectation"  # a query of the suite's own, held to row_queries.row_query_problem
ROW_QUERY_EXPECTATIONS = (REFERENTIAL, ROW_QUERY)
#: suites validated side by side on a SQL warehouse (see run_suites)
SQL_LANES = 2


class _DialectName(str):
    """A dialect name as GX's persisted-connection checks read one: equal to the string, with a `.value`."""

    @property
    def value(self) -> str:
        return str(self)


def import_gx() -> Any:
    """great_expectations, imported quietly (no analytics, no deprecation noise) and fixed for DuckDB."""
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    _spark_connect_without_exit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        import great_expectations as gx
        import great_expectations.expectations  # noqa: F401  (the ~300 classes `_plan` looks up; pyspark's warnings)
        from great_expectations.execution_engine import sqlalchemy_execution_engine as engine_module
    # GX logs its internals at INFO and WARNING ("Created temporary directory ...", "unexpected
    # table_selectable type"); what matters reaches the results. Quiet it unless someone configured it.
    logger = logging.getLogger("great_expectations")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.ERROR)
    for name, child in list(logging.root.manager.loggerDict.items()):
        # some GX modules force their own logger to INFO at import: let them inherit instead
        if name.startswith("great_expectations.") and isinstance(child, logging.Logger) \
                and logging.NOTSET < child.level <= logging.INFO:
            child.setLevel(logging.NOTSET)
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    persist_duckdb_connections(engine_module)
    return gx


def _spark_connect_without_exit() -> None:
    """Import `pyspark.sql.connect` (GX imports it when PySpark is installed) so that it cannot end the process.

    In a process whose `__main__` has no file (`python -c`, a pytest-xdist worker, an embedded interpreter) it
    takes itself for PySpark's doctests and, without Spark Connect's packages (grpcio), calls `sys.exit(0)`: the
    process would stop with success, mid-build. Then it is marked absent, and GX goes on without Spark Connect,
    as it does when the import fails with an ImportError (Spark Connect needs those packages anyway)."""
    main = sys.modules.get("__main__")
    if "pyspark.sql.connect" in sys.modules or getattr(main, "__spec__", None) is not None \
            or hasattr(main, "__file__") or hasattr(sys, "ps1"):
        return
    try:
        # what it prints before it exits ("Skipping doctests: ...") and PySpark's warnings are no news here
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            import pyspark.sql.connect  # noqa: F401
    except ImportError:  # no PySpark, or Spark Connect's packages missing: GX handles the same ImportError
        return
    except SystemExit:
        sys.modules["pyspark.sql.connect"] = None  # type: ignore[assignment]  # later imports raise ImportError


def import_in_background() -> threading.Thread:
    """Start importing Great Expectations (3-5 s: pandas, scipy, hundreds of expectation classes) in a thread.

    A build whose suites run in its own process (on Spark, or once Great Expectations is imported: see
    worker.py) starts it before dbt builds the staging, so the import is mostly done by the time the suites
    run. A failed import is only logged here: `run_suites` imports again and reports it. Join the thread
    before the process may exit (an interpreter that exits mid-import can hang).
    The import quiets its deprecation warnings with `warnings.catch_warnings`, which acts on the whole
    process: a warning another thread raises meanwhile may go unshown, nothing else.
    """
    def work() -> None:
        try:
            import_gx()
        except Exception:  # reported by run_suites, which imports again
            logging.getLogger(__name__).debug("importing Great Expectations in the background failed",
                                              exc_info=True)

    thread = threading.Thread(target=work, name="metricsctl-import-gx", daemon=True)
    thread.start()
    return thread


def persist_duckdb_connections(engine_module: Any) -> None:
    """Make GX keep one connection open for duckdb, as it does for sqlite (see the module docstring)."""
    dialects = getattr(engine_module, "_PERSISTED_CONNECTION_DIALECTS", None)
    if dialects is None:
        raise WarehouseError("this great_expectations version has no _PERSISTED_CONNECTION_DIALECTS, which "
                             "metricsctl needs to run expectations on DuckDB; install great-expectations 1.24")
    if "duckdb" not in [str(getattr(d, "value", d)) for d in dialects]:
        engine_module._PERSISTED_CONNECTION_DIALECTS = (*dialects, _DialectName("duckdb"))


def _unsaved() -> None:
    """Stands in for the ephemeral context's `_save_project_config`.

    An ephemeral GX context has no file to save to, yet on every data asset added or deleted it serializes
    its whole configuration to YAML in memory (about a fifth of a nightly's validation time at 1M rows).
    Nothing reads that text: the context lives for one run.
    """


@dataclass
class _Planned:
    index: int
    spec: ExpectationSpec
    gx_expectation: Any
    rows_query: bool  # the result is a count of rows returned by a query (referential integrity)


def run_suites(suites: Sequence[Suite], url: str, *, as_of: dt.date | None = None,
               run_id: str | None = None, spark: Any = None,
               on_suite: Callable[[str, str, str], None] | None = None,
               since: Mapping[str, Bound] | None = None, lanes: int | None = None) -> ExpectationRun:
    """Run every suite in the warehouse at `url` (a SQLAlchemy URL, see connection_url) and collect results.

    On Spark, pass the SparkSession as `spark` (`url` is then only a label): each relation is read as a
    Spark DataFrame and GX validates it with its Spark engine, the orphan-rows queries in Spark SQL.

    `as_of` (default: today) anchors freshness (`max_age_days`). A DuckDB file is opened read-only, and only
    when no other connection holds it (release dbt's first: metricsctl.runner.release_duckdb()); it is
    closed again before this returns. Arguments GX rejects raise SpecError (file:line) before any query.
    `on_suite(suite, status, detail)` hears each suite as it finishes (status: pass, warn, fail).
    `since` (suite name -> bound) narrows a nightly build's suites to the rows it wrote (see batches.py).

    On DuckDB and PostgreSQL the suites are validated `lanes` (default SQL_LANES) at a time, each lane in a GX
    context of its own with a connection of its own: Great Expectations spends about as long in its own Python
    (building metrics, results) as the warehouse spends on the queries, and one lane's Python runs while the
    other's query does. Suites that read their whole relation (no bound in `since`) are taken first, so that the
    longest is not the last. The results come back in the suites' order, as one lane gives them. On Spark the
    suites run one at a time in the build's Spark session.
    """
    return _run_suites(suites, url, as_of=as_of, run_id=run_id, spark=spark, on_suite=on_suite, since=since,
                       lanes=lanes).masked()


def _run_suites(suites: Sequence[Suite], url: str, *, as_of: dt.date | None, run_id: str | None, spark: Any,
                on_suite: Callable[[str, str, str], None] | None, since: Mapping[str, Bound] | None,
                lanes: int | None) -> ExpectationRun:
    since = since or {}
    started = time.perf_counter()
    as_of = as_of or dt.date.today()
    run_id = run_id or new_run_id()
    run_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    if not suites:
        return ExpectationRun(run_id, run_at, as_of, (), 0.0)
    gx = import_gx()
    dialect = "spark" if spark is not None else url_dialect(url)
    plans, issues = [], []
    for suite in suites:
        planned, problems = _plan(suite, as_of, dialect)
        plans.append(planned)
        issues += problems
    if issues:
        raise ExpectationSpecError(issues)
    path = None if spark is not None else duckdb_path(url)
    # no file on the server is read through the suites' connection, whatever a query asks (row_queries.py)
    connect_args: dict[str, Any] = {"read_only": True, "config": {"enable_external_access": False}} \
        if path is not None else {}
    if spark is None:
        ensure_duckdb_free(url, connect_args)
    if spark is not None:
        on_spark = _SparkSuiteRunner(gx, _context(gx).data_sources.add_spark(name=f"metricsctl_{run_id}"), dialect,
                                     spark)
        done_suites = []
        for i, (suite, planned) in enumerate(zip(suites, plans)):
            done_suites.append(on_spark.run(i, suite, planned, since.get(suite.name)))
            _report(on_suite, suite, done_suites[-1])
        return ExpectationRun(run_id, run_at, as_of, tuple(done_suites), time.perf_counter() - started)
    runners: list[_SuiteRunner] = []
    try:
        for n in range(max(1, min(lanes or SQL_LANES, len(suites)))):
            runners.append(_SuiteRunner(gx, _sql_source(gx, f"metricsctl_{run_id}_{n}", url, path, connect_args),
                                        dialect))
        results = _in_lanes(runners, suites, plans, since, on_suite)
    finally:
        for runner in runners:
            _close(runner.source)
    return ExpectationRun(run_id, run_at, as_of, tuple(results), time.perf_counter() - started)


def _context(gx: Any) -> Any:
    """An ephemeral GX context that saves nothing and draws no progress bars."""
    context = gx.get_context(mode="ephemeral")
    context._save_project_config = _unsaved
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


def _sql_source(gx: Any, name: str, url: str, path: str | None, connect_args: dict[str, Any]) -> Any:
    """A GX SQL data source on `url`, in a context of its own (one per lane: GX keeps one connection each)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "a more specific PostgresDatasource may be more appropriate"
            return _context(gx).data_sources.add_sql(name=name, connection_string=url,
                                                     kwargs={"connect_args": connect_args} if connect_args else {})
    except Exception as exc:  # GX tests the connection here
        if path is not None:
            raise describe_duckdb_error(path, exc) from None
        missing = re.search(r"No module named \\?['\"]([\w.]+)", str(exc))
        if missing:
            raise WarehouseError(f"cannot connect to {_safe_url(url)}: the database driver "
                                 f"{missing.group(1)} is not installed (for postgres: pip install "
                                 "psycopg2-binary, which dbt-postgres brings along)") from None
        raise WarehouseError(f"cannot connect to {_safe_url(url)}: {_clean_error(str(exc))}") from None


def _in_lanes(runners: list[_SuiteRunner], suites: Sequence[Suite], plans: list[list[_Planned]],
              since: Mapping[str, Bound], on_suite: Callable[[str, str, str], None] | None) -> list[SuiteResult]:
    """Run the suites with `runners` side by side, each taking the next suite when it is done with one; the first
    error of one (the warehouse is gone, the caller stopped hearing) stops them all and is raised."""
    lock = threading.Lock()
    # taken from the end: the suites reading their whole relation first, then the others, each in their order
    waiting = sorted(range(len(suites)), key=lambda i: (since.get(suites[i].name) is not None, i), reverse=True)
    results: dict[int, SuiteResult] = {}
    failed: list[BaseException] = []
    stop = threading.Event()

    def work(runner: _SuiteRunner) -> None:
        while True:
            with lock:
                if not waiting or stop.is_set():
                    return
                i = waiting.pop()
            try:
                done = runner.run(i, suites[i], plans[i], since.get(suites[i].name))
                with lock:
                    results[i] = done
                    _report(on_suite, suites[i], done)
            except BaseException as exc:
                failed.append(exc)
                stop.set()
                return

    threads = [threading.Thread(target=work, args=(runner,), name=f"metricsctl-suites-{n}", daemon=True)
               for n, runner in enumerate(runners[1:], 1)]
    for thread in threads:
        thread.start()
    try:
        work(runners[0])
    finally:
        stop.set()  # this thread is done, or interrupted: the others take no further suite
        for thread in threads:
            thread.join()
    if failed:
        raise failed[0]
    return [results[i] for i in range(len(suites))]


def _report(on_suite: Callable[[str, str, str], None] | None, suite: Suite, done: Any) -> None:
    """Tell `on_suite` how a finished suite went: pass, warn or fail, and how many expectations failed."""
    if on_suite is None:
        return
    failed = done.failures()
    status = "pass" if not failed else "fail" if done.failures("error") else "warn"
    on_suite(suite.name, status, f"{len(failed)} of {len(done.results)} failed" if failed else "")


def _plan(suite: Suite, as_of: dt.date, dialect: str) -> tuple[list[_Planned], list[SpecIssue]]:
    """GX expectation objects for a suite; arguments GX's own validation rejects become issues."""
    import great_expectations.expectations as gxe

    classes = _gx_classes(gxe)
    planned: list[_Planned] = []
    issues: list[SpecIssue] = []
    for index, spec in enumerate(suite.expectations):
        kwargs = dict(spec.kwargs)
        meta = {META_KEY: index}
        try:
            if spec.name == REFERENTIAL:
                assert spec.to is not None
                query = orphan_rows_query(kwargs["column"], spec.to, kwargs.get("field") or kwargs["column"],
                                          dialect)
                expectation = in_relation_class()(
                    unexpected_rows_query=query, meta=meta, description=kwargs.get("description"))
            else:
                problem = row_query_problem(kwargs.get("unexpected_rows_query"), dialect) \
                    if spec.name == ROW_QUERY else None
                if problem:
                    issues.append(SpecIssue(f"`{spec.name}`: {problem}", spec.path, spec.line))
                    continue
                if spec.name == FRESHNESS and FRESHNESS_ARG in kwargs:
                    kwargs["min_value"] = as_of - dt.timedelta(days=int(kwargs.pop(FRESHNESS_ARG)))
                expectation = classes[spec.name](**kwargs, meta=meta)
        except Exception as exc:  # pydantic's ValidationError, GX's own checks
            issues.append(SpecIssue(f"`{spec.name}`: Great Expectations rejects the arguments: "
                                    f"{_validation_message(exc)}", spec.path, spec.line))
            continue
        planned.append(_Planned(index, spec, expectation, spec.name in ROW_QUERY_EXPECTATIONS))
    return planned, issues


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can parse: say so without echoing it
        return "the warehouse URL"


def _validation_message(exc: Exception) -> str:
    """pydantic's first complaint as `min_value: value is not a valid integer`, else the message."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
            return f"{'.'.join(str(p) for p in first.get('loc', ()))}: {first.get('msg')}"
        except Exception:  # not pydantic's shape after all
            pass
    return _first_lines(str(exc), 3)


def _gx_classes(gxe: Any) -> dict[str, type]:
    classes: dict[str, type] = {}
    for value in vars(gxe).values():
        name = getattr(value, "expectation_type", None)
        if isinstance(value, type) and isinstance(name, str) and name:
            classes[name] = value
    return classes


def orphan_rows_query(column: str, parent: Relation, field: str, dialect: str) -> str:
    """The values of non-null `column` in the checked relation (GX's `{batch}`) that have no match in
    `parent.field`, one row each, with the count of every row that holds one of them in a second column;
    one row of NULLs when there is none.

    Orphans are found with a LEFT JOIN, so a duplicate key in the parent never multiplies an orphan row;
    a NULL foreign key is not an orphan (as in dbt's `relationships` test). The count rides on the values, so
    that one query gives both the count and the sample (`in_relation_class`), and a query that answers no
    row at all did not run to its end: an error, never a pass. Grouped by value, the count is a window over
    the groups, not over the rows (a window over every orphan row makes DuckDB's query half as slow again).
    """
    child_col = exp.column(column, table="child", quoted=True)
    parent_col = exp.column(field, table="parent", quoted=True)
    batch = exp.alias_(exp.Table(this=exp.to_identifier(BATCH_PLACEHOLDER, quoted=True)),
                       exp.to_identifier("child", quoted=True), table=True)
    count = exp.to_identifier(orphans_column(column), quoted=True)
    every_row = exp.Window(this=exp.Sum(this=exp.Count(this=exp.Star())))
    orphans = (exp.select(child_col.copy(), exp.alias_(every_row, count))
               .from_(batch)
               .join(exp.alias_(parent.table(), exp.to_identifier("parent", quoted=True), table=True),
                     on=exp.EQ(this=child_col.copy(), expression=parent_col.copy()), join_type="left")
               .where(exp.and_(exp.Not(this=exp.Is(this=child_col.copy(), expression=exp.Null())),
                               exp.Is(this=parent_col.copy(), expression=exp.Null())))
               .group_by(child_col.copy()))
    one = exp.select(exp.alias_(exp.Literal.number(1), "one")).subquery("one")
    query = (exp.select(exp.column(column, table="orphans", quoted=True), exp.column(count, table="orphans"))
             .from_(one).join(orphans.subquery("orphans"), on=exp.true(), join_type="left"))
    sql = query.sql(dialect).replace("{", "{{").replace("}", "}}")  # GX fills {batch} with str.format
    return sql.replace(exp.to_identifier(BATCH_PLACEHOLDER, quoted=True).sql(dialect), "{batch}")


def orphans_column(column: str) -> str:
    """The name of the orphan rows' count beside `column` in `orphan_rows_query`: never `column` itself."""
    return ORPHANS_COLUMN if column.lower() != ORPHANS_COLUMN else f"{ORPHANS_COLUMN}_"


@functools.cache
def in_relation_class() -> type:
    """GX's UnexpectedRowsExpectation for `orphan_rows_query`: it runs the query once, not twice.

    GX's own class runs its query twice, once for the count and once for the rows; on a large relation each
    run joins every row to the parent. The orphan rows query carries the count on each row it returns, so
    the rows alone say both: one row of NULLs is a pass, no row at all an error (GX records it).
    """
    import great_expectations.expectations as gxe

    class ExpectColumnValuesToBeInRelation(gxe.UnexpectedRowsExpectation):  # type: ignore[misc, name-defined]
        metric_dependencies: ClassVar[tuple[str, ...]] = ("unexpected_rows_query.table",)

        def _validate(self, metrics: dict[str, Any], runtime_configuration: dict[str, Any] | None = None,
                      execution_engine: Any = None) -> dict[str, Any]:
            rows = [list(dict(row).items()) for row in metrics["unexpected_rows_query.table"]]
            if not rows:  # the query answers one row at least: its result was lost (GX's unpersisted connection)
                raise ValueError("the orphan rows query returned no row at all")
            count = int(rows[0][-1][1] or 0)  # the last column: the count of every orphan row
            sample = [dict(row[:-1]) for row in rows if row[-1][1] is not None]
            return {"success": count == 0,
                    "result": {"observed_value": count, "details": {"unexpected_rows": sample}}}

    return ExpectColumnValuesToBeInRelation


class _SuiteRunner:
    def __init__(self, gx: Any, source: Any, dialect: str) -> None:
        self.gx = gx
        self.source = source
        self.dialect = dialect
        self._columns: dict[str, list[str] | str] = {}
        self._temporary: dict[str, str] = {}  # batch name -> the temporary table holding its rows

    def columns(self, relation: Relation) -> list[str] | str:
        """The relation's column names, or why it cannot be read."""
        key = str(relation)
        if key not in self._columns:
            import sqlalchemy

            sql = exp.select("*").from_(relation.table()).limit(0).sql(self.dialect)
            try:
                with self.source.get_engine().connect() as connection:
                    self._columns[key] = list(connection.exec_driver_sql(sql).keys())
            except sqlalchemy.exc.DBAPIError as exc:
                path = duckdb_path(str(self.source.connection_string))
                if path is not None and re.search(r"lock|different configuration", str(exc), re.IGNORECASE):
                    raise describe_duckdb_error(path, exc.orig or exc) from None
                self._columns[key] = (f"{UNREADABLE} {key}: {_clean_error(str(exc.orig or exc))}; "
                                      "is it built (dbt build) and does the manifest match the warehouse?")
        return self._columns[key]

    def run(self, number: int, suite: Suite, planned: list[_Planned], bound: Bound | None = None) -> SuiteResult:
        started = time.perf_counter()
        outcomes: dict[int, ExpectationResult] = {}
        columns = self.columns(suite.relation)
        runnable: list[_Planned] = []
        for item in planned:
            problem = columns if isinstance(columns, str) else self._column_problem(suite, item.spec, columns)
            if problem:
                outcomes[item.index] = _result(suite, item.spec, success=False, error=problem)
            else:
                runnable.append(item)
        if runnable:
            try:
                outcomes.update(self._run_gx(number, suite, runnable, bound))
            except WarehouseError:
                raise
            except Exception as exc:  # GX itself failed: this suite's results are errors, the run goes on
                self._rollback()
                message = f"Great Expectations failed on this suite: {_clean_error(str(exc))}"
                for item in runnable:
                    outcomes.setdefault(item.index, _result(suite, item.spec, success=False, error=message))
        results = tuple(outcomes[i] for i in sorted(outcomes))
        return SuiteResult(suite.name, suite.relation.name or str(suite.relation), str(suite.relation),
                           suite.relation.unique_id, suite.severity, results, time.perf_counter() - started,
                           f"{bound.column} >= {bound.text()}" if bound is not None else None)

    def _run_gx(self, number: int, suite: Suite, runnable: list[_Planned],
                bound: Bound | None) -> dict[int, ExpectationResult]:
        """Validate in one batch of the relation, or (with a bound) in the batches batches.py assigns."""
        outcomes: dict[int, ExpectationResult] = {}
        groups: dict[tuple[Batch, str | None], list[_Planned]] = {}
        for item in runnable:
            batch: Batch = batch_of(item.spec) if bound is not None else "whole"
            groups.setdefault((batch, key_of(item.spec) if batch == "keys" else None), []).append(item)
        for part, ((batch, key), items) in enumerate(sorted(groups.items(), key=lambda g: (g[0][0], g[0][1] or ""))):
            query = batch_query(suite.relation, batch, bound, self.dialect, key)
            name = f"suite_{number}_{part}"
            data = self._batch(name, query, reread=batch == "keys")
            try:
                summary = [p for p in items if not p.rows_query]
                if summary:
                    outcomes.update(self._validate_isolating_errors(data, suite, summary, {
                        "result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE}))
                for item in (p for p in items if p.rows_query):
                    # one at a time: each is a query of its own that may fail on its own; COMPLETE returns the
                    # orphan rows themselves (at most 200), for the sample
                    outcomes.update(self._validate_isolating_errors(data, suite, [item], "COMPLETE"))
            finally:
                self._drop(name)
        return outcomes

    def _batch(self, name: str, query: str, reread: bool = False) -> Any:
        """The batch of the rows `query` selects. GX runs a query asset's query again for each metric it computes
        (a uniqueness expectation: row count, non-null count, unexpected count, unexpected values, column types);
        on DuckDB a batch that costs a scan of its whole relation (`reread`: the rows sharing a key with the
        rewritten rows) is written once to a temporary table, which the metrics read instead."""
        if reread and self.dialect == "duckdb":
            query = self._written(name, query)
        asset = self.source.add_query_asset(name=name, query=query)
        return asset.add_batch_definition_whole_table("whole").get_batch()

    def _written(self, name: str, query: str) -> str:
        """Write `query`'s rows to the temporary table `<name>_rows` on GX's one DuckDB connection, committed (a
        rollback after a failed expectation keeps it); the query that reads them."""
        import sqlalchemy

        rows = exp.to_identifier(f"{name}_rows", quoted=True)
        table = exp.table_(rows, db="main", catalog="temp")
        self.source.get_execution_engine().execute_query_in_transaction(
            sqlalchemy.text(f"CREATE OR REPLACE TEMPORARY TABLE {rows.sql('duckdb')} AS {query}"))
        self._temporary[name] = table.sql("duckdb")
        return exp.select("*").from_(table).sql("duckdb")

    def _drop(self, name: str) -> None:
        """Forget a validated batch's asset (GX rebuilds every asset of the source each time one is added), and
        its temporary table."""
        self.source.delete_asset(name)
        table = self._temporary.pop(name, None)
        if table is not None:
            import sqlalchemy

            self.source.get_execution_engine().execute_query_in_transaction(
                sqlalchemy.text(f"DROP TABLE IF EXISTS {table}"))

    def _column_problem(self, suite: Suite, spec: ExpectationSpec, columns: list[str]) -> str | None:
        problems = [_missing_column(c, columns, str(suite.relation)) for c in spec.columns()]
        if spec.name == REFERENTIAL and spec.to is not None:
            parent = self.columns(spec.to)
            if isinstance(parent, str):
                problems.append(parent)
            else:
                problems.append(_missing_column(spec.kwargs.get("field") or spec.kwargs["column"], parent,
                                                str(spec.to)))
        found = [p for p in problems if p]
        return "; ".join(found) if found else None

    def _validate_isolating_errors(self, batch: Any, suite: Suite, planned: list[_Planned],
                                   result_format: Any) -> dict[int, ExpectationResult]:
        """Validate together; when some fail to evaluate, run those again one by one.

        On DuckDB GX keeps one connection in one transaction, and a failed statement aborts it: every
        expectation evaluated after it in the same call reports "Current transaction is aborted". Rolling
        back and evaluating the errored ones alone gives each its own result or its own error.
        """
        outcomes = self._validate(batch, suite, planned, result_format)
        errored = [p for p in planned if outcomes[p.index].error is not None]
        if errored:
            self._rollback()
        if len(planned) > 1:
            for item in errored:
                outcomes.update(self._validate(batch, suite, [item], result_format))
                if outcomes[item.index].error is not None:
                    self._rollback()
        return outcomes

    def _rollback(self) -> None:
        """End GX's aborted transaction on its persisted connection, so the next statement can run."""
        try:
            with self.source.get_execution_engine().get_connection() as connection:
                if connection.in_transaction():
                    connection.rollback()
        except Exception:  # nothing to roll back, or the connection is gone: the next query reconnects
            logging.getLogger(__name__).debug("rollback after a failed expectation failed", exc_info=True)

    def _validate(self, batch: Any, suite: Suite, planned: list[_Planned],
                  result_format: Any) -> dict[int, ExpectationResult]:
        gx_suite = self.gx.ExpectationSuite(name=suite.name, expectations=[p.gx_expectation for p in planned])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            validation = batch.validate(gx_suite, result_format=result_format)
        by_index = {p.index: p for p in planned}
        outcomes: dict[int, ExpectationResult] = {}
        for gx_result in validation.results:
            index = (gx_result.expectation_config.meta or {}).get(META_KEY)
            if index in by_index:
                outcomes[index] = _convert(suite, by_index[index], gx_result)
        for index, item in by_index.items():
            if index not in outcomes:
                outcomes[index] = _result(suite, item.spec, success=False,
                                          error="Great Expectations returned no result for this expectation")
        return outcomes


class _SparkSuiteRunner(_SuiteRunner):
    """The same suites on Spark: relations read as DataFrames of the session, validated by GX's Spark engine."""

    def __init__(self, gx: Any, source: Any, dialect: str, spark: Any) -> None:
        super().__init__(gx, source, dialect)
        self.spark = spark
        self._frames: dict[str, Any] = {}  # batch name -> its DataFrame, which GX caches in the session

    def columns(self, relation: Relation) -> list[str] | str:
        key = str(relation)
        if key not in self._columns:
            sql = exp.select("*").from_(relation.table()).limit(0).sql(self.dialect)
            try:
                self._columns[key] = list(self.spark.sql(sql).columns)
            except Exception as exc:  # pyspark's AnalysisException: the relation is not there
                self._columns[key] = (f"{UNREADABLE} {key}: {_first_lines(str(exc), 1)}; "
                                      "is it built (dbt build) and does the manifest match the warehouse?")
        return self._columns[key]

    def _batch(self, name: str, query: str, reread: bool = False) -> Any:
        asset = self.source.add_dataframe_asset(name=name)  # GX persists the DataFrame: its rows are read once
        self._frames[name] = self.spark.sql(query)
        return asset.add_batch_definition_whole_dataframe("whole").get_batch(
            batch_parameters={"dataframe": self._frames[name]})

    def _drop(self, name: str) -> None:
        """Forget the batch, and free what GX cached of it: GX persists each DataFrame it validates and never
        releases it, so a session that runs many suites would fill its memory with them."""
        super()._drop(name)
        frame = self._frames.pop(name, None)
        if frame is not None:
            frame.unpersist()

    def _rollback(self) -> None:
        pass  # no transaction to end


def _missing_column(name: str, columns: list[str], relation: str) -> str | None:
    if name.lower() in {c.lower() for c in columns}:
        return None
    close = difflib.get_close_matches(name, columns, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"column '{name}' does not exist in {relation}{hint}; its columns: {', '.join(columns)}"


def _result(suite: Suite, spec: ExpectationSpec, **values: Any) -> ExpectationResult:
    return ExpectationResult(suite=suite.name, relation=suite.relation.name or str(suite.relation),
                             expectation=spec.name, kwargs=dict(spec.kwargs), severity=spec.severity,
                             path=spec.path, line=spec.line, **values)


def _convert(suite: Suite, item: _Planned, gx_result: Any) -> ExpectationResult:
    """A GX result as ours; an exception GX recorded (unknown column, SQL error) makes it an error."""
    error = exception_message(gx_result.exception_info)
    result = dict(gx_result.result or {})
    if item.rows_query:
        count = result.get("observed_value")
        rows = (result.get("details") or {}).get("unexpected_rows") or []
        values = [next(iter(r.values())) if isinstance(r, dict) and len(r) == 1 else r for r in rows]
        return _result(suite, item.spec, success=bool(gx_result.success) and error is None,
                       unexpected_count=int(count) if isinstance(count, (int, float)) else None,
                       unexpected_sample=_distinct(values), error=error)
    count = result.get("unexpected_count")
    return _result(suite, item.spec, success=bool(gx_result.success) and error is None,
                   unexpected_count=int(count) if isinstance(count, (int, float)) else None,
                   unexpected_sample=_distinct(result.get("partial_unexpected_list") or []),
                   observed_value=result.get("observed_value"), error=error)


def exception_message(info: Any) -> str | None:
    """The message of an exception GX recorded in a result's exception_info (flat or keyed by metric)."""
    if not info:
        return None
    entries = [info] if isinstance(info, dict) and "raised_exception" in info else (
        list(info.values()) if isinstance(info, dict) else [info])
    for entry in entries:
        raised = entry.get("raised_exception") if isinstance(entry, dict) else getattr(entry, "raised_exception", None)
        if raised:
            message = (entry.get("exception_message") if isinstance(entry, dict)
                       else getattr(entry, "exception_message", None))
            return _clean_error(str(message or "Great Expectations raised an exception"))
    return None


def _clean_error(text: str) -> str:
    """A database or GX message without SQLAlchemy's [SQL: ...] dump and background link."""
    text = re.split(r"\n\[SQL:|\(Background on this error", text)[0]
    text = re.sub(r"^\(\S+?\)\s*", "", text.strip())  # "(_duckdb.BinderException) ..."
    return _first_lines(text, 4)


def _first_lines(text: str, count: int) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " ".join(lines[:count])[:500]


def _distinct(values: Sequence[Any]) -> tuple[Any, ...]:
    seen: list[Any] = []
    for value in values:
        if value not in seen:
            seen.append(value)
        if len(seen) == SAMPLE_SIZE:
            break
    return tuple(seen)


def _close(source: Any) -> None:
    """Close GX's engines, so the DuckDB file is free for dbt and for writing results."""
    for owner, method in ((source.get_execution_engine, "close"), (source.get_engine, "dispose")):
        try:
            getattr(owner(), method)()
        except Exception:  # closing is best effort; a failure here must not hide the run's results
            logging.getLogger(__name__).debug("closing a GX engine failed", exc_info=True)
