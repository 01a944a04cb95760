"""What the metric center shows, read from the built warehouse and the project into one JSON-able dict.

Every number comes from a table metricsctl built (`metric_values`, `metric_catalog`,
`metric_attainment`, `scorecards`, the saved-query exports, `expectation_results`, the alert history)
or from the verbs that compute it (`metricsctl tree`, `metricsctl lineage`, the compiler): nothing is
derived again here. Queries are sqlglot expressions run through the target's `Warehouse`, so the site
reads whatever engine the project builds on.

Size is bounded: monthly and weekly values are all kept (up to the as-of date), daily values only for
the `daily_days` days before it.
"""

from __future__ import annotations

import datetime
import decimal
import json
import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from metricsctl.compiler.query import MetricQuery
from metricsctl.errors import MetricsctlError, WarehouseError
from metricsctl.management.periods import Period, add_months
from metricsctl.warehouse import Result

if TYPE_CHECKING:
    from metricsctl.facade import Metricsctl
    from metricsctl.lineage import LineageGraph

DAILY_DAYS = 92  # daily values kept before the as-of date: a quarter, enough for weekday patterns
TREE_MONTHS = 12  # complete months the metric tree can be shown for
REQUIRED_TABLES = ("metric_values", "metric_catalog")
SCORECARD_TABLES = ("metric_attainment", "scorecards")
RESULTS_TABLE = "expectation_results"
HISTORY_TABLE = "metricsctl_alert_history"

Execute = Callable[[str], Result]


class MissingTables(MetricsctlError):
    """The warehouse lacks tables the site is made from: the project was not built (yet)."""


def plain(value: Any) -> Any:
    """A JSON value: dates as ISO text, decimals as floats, NaN and infinities as null."""
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ") if value.time() != datetime.time() else value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=False)


def _str(value: str) -> exp.Literal:
    return exp.Literal.string(value)


def _date(day: datetime.date) -> exp.Expr:
    return exp.cast(_str(day.isoformat()), exp.DataType.build("DATE"))


@dataclass(frozen=True)
class Window:
    """The periods the site covers: complete periods before `as_of`."""

    as_of: datetime.date  # the first day not covered
    daily_days: int = DAILY_DAYS

    @property
    def latest_month(self) -> datetime.date:
        """The start of the newest month that ended before `as_of`."""
        return add_months(self.as_of.replace(day=1), -1)

    @property
    def first_day(self) -> datetime.date:
        return self.as_of - datetime.timedelta(days=self.daily_days)

    @property
    def last_week(self) -> datetime.date:
        """The start of the newest ISO week that ended before `as_of`."""
        monday = self.as_of - datetime.timedelta(days=self.as_of.weekday())
        return monday - datetime.timedelta(days=7)


class Reader:
    """Runs sqlglot queries in the warehouse and returns records."""

    def __init__(self, execute: Execute, dialect: str) -> None:
        self.execute = execute
        self.dialect = dialect

    def rows(self, query: exp.Query) -> list[dict[str, Any]]:
        result = self.execute(query.sql(dialect=self.dialect))
        return [{c: plain(v) for c, v in zip(result.columns, row)} for row in result.rows]

    def has_table(self, name: str) -> bool:
        """Whether `name` can be read (a probe that reads no rows; portable across engines)."""
        try:
            self.execute(exp.select(exp.Star()).from_(exp.to_table(name)).limit(0).sql(dialect=self.dialect))
        except WarehouseError:
            return False
        return True


def check_tables(reader: Reader, with_scorecards: bool) -> None:
    """Fail with the names of the tables a build makes and the warehouse does not have."""
    wanted = REQUIRED_TABLES + (SCORECARD_TABLES if with_scorecards else ())
    missing = [name for name in wanted if not reader.has_table(name)]
    if missing:
        raise MissingTables(f"the warehouse has no {', '.join(missing)}: the project is not built yet; run "
                            "`metricsctl build` first, then `metricsctl docs generate`")


# --- values ------------------------------------------------------------------------------------
def read_values(reader: Reader, window: Window) -> dict[str, dict[str, list[list[Any]]]]:
    """metric -> grain -> [[period_start, value], ...]: every complete month and week, recent days."""
    grain, start = _col("grain"), _col("period_start")
    keep = exp.or_(
        exp.and_(grain.eq(_str("month")), exp.LTE(this=start.copy(), expression=_date(window.latest_month))),
        exp.and_(grain.eq(_str("week")), exp.LTE(this=start.copy(), expression=_date(window.last_week))),
        exp.and_(grain.eq(_str("day")), exp.GTE(this=start.copy(), expression=_date(window.first_day)),
                 exp.LT(this=start.copy(), expression=_date(window.as_of))))
    query = (exp.select(_col("metric_name"), _col("grain"), exp.alias_(exp.cast(start.copy(), "DATE"), "period_start"),
                        exp.alias_(exp.cast(_col("value"), "DOUBLE"), "value"))
             .from_("metric_values").where(keep).order_by("metric_name", "grain", "period_start"))
    values: dict[str, dict[str, list[list[Any]]]] = {}
    for row in reader.rows(query):
        values.setdefault(row["metric_name"], {}).setdefault(row["grain"], []).append(
            [row["period_start"], row["value"]])
    return values


def data_end(reader: Reader) -> datetime.date | None:
    """The last day most metrics have a daily value for (the median of each metric's last day).

    The median passes over metrics joined to the whole time spine (values into the future) and
    metrics whose sources stopped early.
    """
    query = (exp.select(exp.alias_(exp.cast(exp.Max(this=_col("period_start")), "DATE"), "last_day"))
             .from_("metric_values")
             .where(exp.and_(_col("grain").eq(_str("day")), exp.Not(this=exp.Is(this=_col("value"),
                                                                                expression=exp.Null()))))
             .group_by(_col("metric_name")))
    days = sorted(datetime.date.fromisoformat(str(r["last_day"])) for r in reader.rows(query) if r["last_day"])
    return days[(len(days) - 1) // 2] if days else None


def latest_of(series: Sequence[Sequence[Any]], month: str) -> tuple[Any, Any]:
    """(value in `month`, value in the month before) from a monthly series, None when absent."""
    by_period = {p: v for p, v in series}
    before = add_months(datetime.date.fromisoformat(month), -1).isoformat()
    return by_period.get(month), by_period.get(before)


# --- the catalog and the metric pages ----------------------------------------------------------
def read_catalog(reader: Reader) -> dict[str, dict[str, Any]]:
    return {row["metric_name"]: row for row in reader.rows(
        exp.select(exp.Star()).from_("metric_catalog").order_by("metric_name"))}


def read_company_targets(reader: Reader, window: Window) -> dict[str, dict[str, Any]]:
    """metric -> month -> {target, attainment} of the company, from `metric_attainment`."""
    query = (exp.select(_col("metric_name"), exp.alias_(exp.cast(_col("period_start"), "DATE"), "period_start"),
                        _col("target_value"), _col("attainment"))
             .from_("metric_attainment")
             .where(exp.and_(_col("org_unit_kind").eq(_str("company")), _col("period_grain").eq(_str("month")),
                             exp.LTE(this=_col("period_start"), expression=_date(window.latest_month))))
             .order_by("metric_name", "period_start"))
    targets: dict[str, dict[str, Any]] = {}
    for row in reader.rows(query):
        targets.setdefault(row["metric_name"], {})[row["period_start"]] = {
            "target": row["target_value"], "attainment": row["attainment"]}
    return targets


def metric_links(app: Metricsctl) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(metric -> the metrics above it, metric -> the metrics below it), as `metricsctl tree` sees them."""
    from metricsctl.management.fields import read_fields
    from metricsctl.management.tree import formula_children, parents_of

    spec = app.spec
    fields = read_fields(spec)[0]
    parents = parents_of(spec, fields)
    children: dict[str, list[str]] = {name: list(formula_children(spec, name)) for name in spec.metric_names()}
    for name, f in fields.items():
        for parent in f.parents:
            if parent in children and name not in children[parent]:
                children[parent].append(name)
    return parents, children


def definition(spec: Any, name: str) -> dict[str, Any]:
    """The metric as the YAML defines it: type parameters, filter, and where it is written."""
    metric = spec.metric(name)
    params = metric.type_params
    text: dict[str, Any] = {"type": str(metric.type.value)}
    if params.expr:
        text["expr"] = str(params.expr)
    if params.measure:
        text["measure"] = params.measure.name
    for part in ("numerator", "denominator"):
        ref = getattr(params, part, None)
        if ref is not None:
            text[part] = ref.name
    if params.metrics:
        text["inputs"] = [m.name + (f" (offset {m.offset_window.count} {m.offset_window.granularity})"
                                    if m.offset_window else "") for m in params.metrics]
    if metric.filter is not None:
        text["filter"] = [w.where_sql_template for w in metric.filter.where_filters]
    return text


def metric_sql(app: Metricsctl, name: str) -> str | None:
    """The SQL `metricsctl query --metrics NAME --group-by metric_time__month --explain` prints."""
    try:
        return app.compile_query(MetricQuery((name,), ("metric_time__month",))).sql()
    except MetricsctlError as exc:
        return f"-- cannot be compiled at month grain: {exc}"


# --- lineage -----------------------------------------------------------------------------------
def metric_lineage(graph: LineageGraph, name: str) -> dict[str, Any]:
    """The metric's lineage, all the way up and one step down, as nodes, edges and their source systems."""
    from metricsctl.lineage import trace

    sub = trace(graph, f"metric:{name}", "up").graph
    down = trace(graph, f"metric:{name}", "down", 1).graph
    nodes = {**sub.nodes, **down.nodes}
    edges = {e.key: e for e in [*sub.edges, *down.edges]}
    return {
        "nodes": [{"id": n.id, "kind": n.kind, "name": n.name, "label": n.label} for n in nodes.values()],
        "edges": [[e.source, e.target, e.kind, e.label] for e in edges.values()],
        "sources": sorted(n.name for n in sub.nodes.values() if n.kind in ("seed", "source")),
    }


# --- breakdowns: the saved queries' exports ----------------------------------------------------
def breakdowns(app: Metricsctl, reader: Reader, manifest: Mapping[str, Any], window: Window,
               ) -> dict[str, list[dict[str, Any]]]:
    """metric -> one breakdown per (export, dimension) of the saved queries that hold the metric.

    Rows are read from the export tables (`period, member, value`), in the site's window: all months
    and weeks, the daily window's days.
    """
    from metricsctl.names import parse_item_name
    from metricsctl.saved_queries import saved_query_to_query

    spec = app.spec
    relations = {node.get("name"): node.get("relation_name") for node in manifest.get("nodes", {}).values()
                 if node.get("resource_type") == "model" and node.get("relation_name")}
    found: dict[str, list[dict[str, Any]]] = {}
    for saved in spec.manifest.saved_queries:
        query = saved_query_to_query(saved, spec.custom_grains)
        items = [(g, parse_item_name(g)) for g in query.group_by]
        times = [(g, item) for g, item in items if item.is_metric_time]
        dimensions = [item.column_name() for g, item in items if not item.is_metric_time]
        # one time column; several dimensions give a value per combination of their members
        if len(times) != 1 or not dimensions or times[0][1].grain not in ("day", "week", "month"):
            continue
        time_column, grain = times[0][1].column_name(), str(times[0][1].grain)
        for export in saved.exports:
            relation = relations.get(export.config.alias or export.name)
            if not relation or not reader.has_table(relation):
                continue
            since = {"month": None, "week": None, "day": window.first_day}[grain]
            until = {"month": window.latest_month, "week": window.last_week,
                     "day": window.as_of - datetime.timedelta(days=1)}[grain]
            condition: exp.Expr = exp.LTE(this=exp.cast(_col(time_column), "DATE"), expression=_date(until))
            if since is not None:
                condition = exp.and_(condition, exp.GTE(this=exp.cast(_col(time_column), "DATE"),
                                                        expression=_date(since)))
            table = exp.to_table(relation, dialect=app.dialect)
            rows = reader.rows(exp.select(exp.alias_(exp.cast(_col(time_column), "DATE"), "period"),
                                          *[_col(d) for d in dimensions], *[_col(m) for m in query.metrics])
                               .from_(table).where(condition)
                               # members too: rows of one period come back in any order on Spark
                               .order_by("period", *[exp.Ordered(this=_col(d), nulls_first=False)
                                                     for d in dimensions]))
            if not rows:
                continue
            for metric in query.metrics:
                found.setdefault(metric, []).append({
                    "saved_query": saved.name, "export": export.name, "grain": grain,
                    "dimension": " × ".join(dimensions),
                    "rows": [[r["period"], " / ".join(str(r[d]) for d in dimensions), r[metric]] for r in rows]})
    return found


# --- the metric tree ---------------------------------------------------------------------------
def tree_roots(app: Metricsctl, catalog: Mapping[str, Mapping[str, Any]], parents: Mapping[str, list[str]],
               children: Mapping[str, list[str]]) -> list[str]:
    """The trees worth a manager's look: KPIs, and the tops of trees (nothing above, something below)."""
    level_rank = {"company": 0, "department": 1, "team": 2, "individual": 3}

    def key(name: str) -> tuple[int, int, str]:
        row = catalog.get(name, {})
        return (0 if row.get("is_kpi") else 1, level_rank.get(str(row.get("level")), 4), name)

    names = [n for n in app.spec.metric_names()
             if catalog.get(n, {}).get("is_kpi") or (not parents.get(n) and children.get(n))]
    return sorted(names, key=key)


def tree_periods(window: Window, months: int = TREE_MONTHS) -> list[Period]:
    """The complete months the tree is shown for, newest first."""
    return [Period("month", add_months(window.latest_month, -i)) for i in range(months)]


def read_period_targets(reader: Reader, targets_table: str, periods: Sequence[Period],
                        ) -> dict[str, dict[str, float | None]]:
    """period label -> the company's targets in it, as `metricsctl tree` reads them."""
    from metricsctl.management.targets import read_targets

    try:
        return {p.label: read_targets(reader.execute, targets_table, p.grain, p.start.isoformat(),
                                      dialect=reader.dialect) for p in periods}
    except MetricsctlError:
        return {}  # targets not built: the tree shows no targets, as `metricsctl tree` does


def trees(app: Metricsctl, roots: Sequence[str], periods: Sequence[Period],
          targets: Mapping[str, Mapping[str, float | None]]) -> dict[str, Any]:
    """`metricsctl tree ROOT --period P` for every root and period (`targets`: period label -> targets).

    The values of every node of every tree come from one query per filter set (the tree module's
    fetch), not one per tree and period.
    """
    from metricsctl.management.tree import Values, fetch_values, metric_tree, tree_values

    structures = {}
    for root in roots:
        try:
            structures[root] = metric_tree(app.spec, root)
        except MetricsctlError:
            continue  # a tree the CLI refuses too (a cycle, an offset inside an offset): left out
    fetched = [*periods, periods[-1].previous()]
    try:
        values = fetch_values(app.query, [n for s in structures.values() for n in s.walk()], fetched)
    except MetricsctlError:  # one metric the warehouse cannot answer: fetch tree by tree, leave out what fails
        values = Values()
        for root, structure in list(structures.items()):
            try:
                values.data.update(fetch_values(app.query, list(structure.walk()), fetched).data)
            except MetricsctlError:
                del structures[root]
    by_period: dict[str, dict[str, Any]] = {}
    for period in periods:
        by_period[period.label] = {
            root: tree_values(structure, values, period, period.previous(), targets.get(period.label)).to_dict()
            for root, structure in structures.items()}
    return {"roots": list(structures), "periods": [p.label for p in periods], "by_period": by_period}


# --- scorecards, funnels -----------------------------------------------------------------------
def read_scorecards(reader: Reader, window: Window) -> dict[str, Any]:
    """Each org unit's monthly score, and the KPIs it is scored on."""
    until = exp.LTE(this=_col("period_start"), expression=_date(window.latest_month))
    scores = reader.rows(
        exp.select(_col("org_unit_kind"), _col("org_unit"), exp.alias_(exp.cast(_col("period_start"), "DATE"),
                                                                         "period_start"),
                   _col("score"), _col("kpis_with_target"), _col("kpis_scored"))
        .from_("scorecards").where(exp.and_(_col("period_grain").eq(_str("month")), until))
        .order_by("period_start", "org_unit_kind", "org_unit"))
    rows = reader.rows(
        exp.select(_col("metric_name"), _col("org_unit_kind"), _col("org_unit"),
                   exp.alias_(exp.cast(_col("period_start"), "DATE"), "period_start"), _col("actual"),
                   _col("target_value"), _col("weight"), _col("attainment"))
        .from_("metric_attainment")
        .where(exp.and_(_col("period_grain").eq(_str("month")), until.copy(),
                        exp.Not(this=exp.Is(this=_col("target_value"), expression=exp.Null()))))
        .order_by("period_start", "org_unit_kind", "org_unit", "metric_name"))
    return {"scores": scores, "kpis": rows}


def funnels(app: Metricsctl, values: Mapping[str, Mapping[str, list[list[Any]]]], window: Window,
            months: int = TREE_MONTHS, max_dimensions: int = 2) -> list[dict[str, Any]]:
    """Chained conversions: each conversion metric's base and converted counts, and ratios of a subset
    to its whole (converted leads of leads), as steps with their monthly values from `metric_values`.

    Steps are metrics of the project: a count of the base measure, then the converted count. Funnels
    whose last step is the first step of another are chained into one. Each funnel is also broken down
    by (up to `max_dimensions`) categorical dimensions of its first step's semantic model, for the last
    `months` complete months, through metric queries.

    When a step says what one conversion is worth (`config.meta.conversion_value`), each row and each
    breakdown row gains the money each step lost (see `value_lost`), valued at the month's worth.
    """
    from metricsctl.management.fields import read_fields

    spec = app.spec
    fields = read_fields(spec)[0]
    simple_of: dict[str, str] = {}
    for metric in spec.manifest.metrics:
        if str(metric.type.value) == "simple" and metric.type_params.measure and metric.filter is None:
            simple_of.setdefault(metric.type_params.measure.name, metric.name)
    chains: list[list[str]] = []
    for metric in spec.manifest.metrics:
        kind = str(metric.type.value)
        params = metric.type_params
        if kind == "conversion":
            cp = params.conversion_type_params
            if str(cp.calculation.value) != "conversions":
                continue
            base = simple_of.get(cp.base_measure.name)
            if base:
                chains.append([base, metric.name])
        elif kind == "ratio" and params.numerator.filter is None and params.denominator.filter is None:
            num, den = spec.metric(params.numerator.name), spec.metric(params.denominator.name)
            if (str(num.type.value) == "simple" and str(den.type.value) == "simple"
                    and spec.measure(num.type_params.measure.name).model.name
                    == spec.measure(den.type_params.measure.name).model.name
                    and str(spec.measure(num.type_params.measure.name).measure.agg.value) == "sum_boolean"):
                chains.append([den.name, num.name])
    merged = _chain(chains)
    result = []
    for steps in merged:
        monthly = {step: dict((p, v) for p, v in values.get(step, {}).get("month", [])) for step in steps}
        periods = sorted(set().union(*[set(m) for m in monthly.values()]))
        funnel: dict[str, Any] = {
            "steps": steps, "rows": [[p, *[monthly[s].get(p) for s in steps]] for p in periods],
            "dimensions": _funnel_slices(app, steps, window, months, max_dimensions)}
        worth_metric = next((fields[s].conversion_value for s in reversed(steps)
                             if s in fields and fields[s].conversion_value), None)
        if worth_metric is not None:
            worth = dict((p, v) for p, v in values.get(worth_metric, {}).get("month", []))
            funnel["value"] = {
                "metric": worth_metric, "unit": fields[worth_metric].unit if worth_metric in fields else None,
                "rows": [[row[0], worth.get(row[0]), *value_lost(row[1:], worth.get(row[0]))]
                         for row in funnel["rows"]],
                "dimensions": [[[r[0], r[1], *value_lost(r[2:], worth.get(r[0]))] for r in d["rows"]]
                               for d in funnel["dimensions"]]}
        result.append(funnel)
    return result


def value_lost(counts: Sequence[Any], worth: Any) -> list[float | None]:
    """The money a funnel loses at each step after the first, given what one conversion is worth.

    Whoever reaches the last step is one conversion, worth `worth`; whoever reaches an earlier step i+1
    is worth `worth * last / counts[i+1]` (the conversions still ahead, shared among those who reached
    it). The people step i+1 lost, `counts[i] - counts[i+1]`, lost that much each. With two steps this
    is simply the lost count times the worth of a conversion.
    """
    lost: list[float | None] = []
    last = counts[-1] if counts else None
    for i, (before, after) in enumerate(zip(counts, counts[1:])):
        final = i == len(counts) - 2
        if worth is None or before is None or after is None or last is None or (not final and not after):
            lost.append(None)
        else:
            each = float(worth) if final else float(worth) * float(last) / float(after)
            lost.append(float(before - after) * each)
    return lost


def _funnel_slices(app: Metricsctl, steps: list[str], window: Window, months: int,
                   max_dimensions: int) -> list[dict[str, Any]]:
    """[{dimension, rows: [[month, member, step values...]]}] for the first step's own dimensions."""
    spec = app.spec
    first = spec.metric(steps[0])
    if str(first.type.value) != "simple" or not first.type_params.measure:
        return []
    model = spec.measure(first.type_params.measure.name).model
    entity = model.primary_entity or next(
        (e.name for e in model.entities if str(e.type.value) in ("primary", "unique", "natural")), None)
    if entity is None:
        return []
    since = add_months(window.latest_month, 1 - months)
    slices = []
    for dim in [d for d in model.dimensions if str(d.type.value) == "categorical"][:max_dimensions]:
        column = f"{entity}__{dim.name}"
        try:
            result = app.query(MetricQuery(tuple(steps), ("metric_time__month", column),
                                           start_time=since.isoformat(), end_time=window.latest_month.isoformat()))
        except MetricsctlError:
            continue  # a dimension some step cannot be grouped by
        index = {c: i for i, c in enumerate(result.columns)}
        rows = [[plain(r[index["metric_time__month"]]), plain(r[index[column]]),
                 *[plain(r[index[s]]) for s in steps]] for r in result.rows]
        slices.append({"dimension": column, "rows": sorted(rows, key=lambda r: (str(r[0]), str(r[1])))})
    return slices


def _chain(chains: Iterable[list[str]]) -> list[list[str]]:
    chains = [list(c) for c in chains]
    changed = True
    while changed:
        changed = False
        for a in chains:
            for b in chains:
                if a is not b and a[-1] == b[0]:
                    a.extend(b[1:])
                    chains.remove(b)
                    changed = True
                    break
            if changed:
                break
    return chains


# --- data quality and alerts -------------------------------------------------------------------
def read_quality(reader: Reader, current: Collection[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
    """The last result of every expectation (a build whose suite's relation did not change checks only its
    freshness, so results of one suite may come from different runs). `current` ((suite, expectation as
    `ExpectationSpec.describe()` writes it) pairs: the project's expectations now) leaves out the results of
    expectations removed since they ran."""
    if not reader.has_table(RESULTS_TABLE):
        return []
    keys = ("suite", "expectation")
    latest = (exp.select(*[_col(k) for k in keys], exp.alias_(exp.Max(this=_col("run_at")), "last_run_at"))
              .from_(RESULTS_TABLE).group_by(*[_col(k) for k in keys]).subquery("l"))
    query = (exp.select(*[_col(c, "r") for c in ("run_at", "suite", "relation", "expectation", "success",
                                                 "unexpected_count", "unexpected_sample", "error", "severity",
                                                 "kwargs", "observed_value")])
             .from_(exp.alias_(exp.to_table(RESULTS_TABLE), "r", table=True))
             .join(latest, on=exp.and_(*[_col(k, "r").eq(_col(k, "l")) for k in keys],
                                       _col("run_at", "r").eq(_col("last_run_at", "l"))))
             .order_by(_col("suite", "r"), _col("expectation", "r")))
    rows = [row for row in reader.rows(query) if current is None or (row["suite"], row["expectation"]) in current]
    for row in rows:
        for key in ("kwargs", "observed_value", "unexpected_sample"):
            if isinstance(row.get(key), str):
                try:
                    row[key] = json.loads(row[key])
                except ValueError:
                    pass
    return rows


def read_alerts(reader: Reader, dialect: str) -> list[dict[str, Any]]:
    """The alert history (every episode, open and resolved), when alerts ever ran and kept state."""
    from metricsctl.alerts.state import StateStore

    if not reader.has_table(HISTORY_TABLE):
        return []
    return [{k: plain(v) for k, v in row.items()} for row in StateStore(reader.execute, None, dialect).history()]
