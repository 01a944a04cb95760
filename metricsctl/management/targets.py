"""Targets, attainment and scorecards, as SQL that metricsctl compile materializes as dbt models.

The targets table is the finance spreadsheet, one row per metric, period and org unit:

    metric_name, period_grain ('month'), period_start (date), org_unit ('company' or a store,
    channel, department ... name), target_value, weight

**Attainment** of a metric in a period and org unit, by its `config.meta.direction`:

    higher is better (default):  actual / target
    lower is better:             target / actual

    - no target row, or no actual value     -> NULL (never 0: "not measured" is not "failed")
    - actual = target (including 0 = 0)     -> 1
    - otherwise a zero divisor              -> NULL (higher: target 0; lower: actual 0)
    - negative values are not sign-corrected: the ratio is meant for positive quantities

**Score** of an org unit in a period: sum(weight * attainment) / sum(weight) over the rows that have
a target, a weight and a non-NULL attainment (optionally capping each attainment first, e.g. at 1.2,
so one runaway KPI cannot hide the others). Weights are data: change the spreadsheet, not the code.

Actuals at the company level come from `metric_values` (metric_name, grain, period_start, value);
for other org units, from a metric query sliced by the org unit's dimension, configured per org unit
kind (`{'store': 'store__store_name'}`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from metricsctl.compiler.dialects import to_sql
from metricsctl.compiler.query import MetricQuery
from metricsctl.errors import MetricsctlError, QueryError
from metricsctl.names import parse_item_name

if TYPE_CHECKING:
    from metricsctl.compiler.render import SqlCompiler
    from metricsctl.spec import Spec

COMPANY = "company"
ATTAINMENT_COLUMNS = ("metric_name", "period_grain", "period_start", "org_unit_kind", "org_unit", "actual",
                      "target_value", "weight", "direction", "is_kpi", "attainment")
SCORECARD_COLUMNS = ("org_unit_kind", "org_unit", "period_grain", "period_start", "score", "kpis_with_target",
                     "kpis_scored", "weight_scored")


def attainment(actual: float | None, target: float | None, direction: str = "higher") -> float | None:
    """The attainment formula of the module docstring, in Python (the SQL computes the same)."""
    if actual is None or target is None:
        return None
    if actual == target:
        return 1.0
    if direction == "lower":
        return None if actual == 0 else target / actual
    return None if target == 0 else actual / target


# --- SQL building blocks -----------------------------------------------------------------------
def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=False)


def _str(value: str) -> exp.Literal:
    return exp.Literal.string(value)


def _alias(value: exp.Expr, name: str) -> exp.Expr:
    return exp.alias_(value, name, quoted=False)


def _double(value: exp.Expr) -> exp.Expr:
    return exp.cast(value, exp.DataType.build("DOUBLE"))


def _text(value: exp.Expr) -> exp.Expr:
    return exp.cast(value, exp.DataType.build("VARCHAR"))


def _date(value: exp.Expr) -> exp.Expr:
    return exp.cast(value, exp.DataType.build("DATE"))


def _is_null(value: exp.Expr) -> exp.Expr:
    return exp.Is(this=value, expression=exp.Null())


def _not_null(value: exp.Expr) -> exp.Expr:
    return exp.Not(this=_is_null(value))


def _in(value: exp.Expr, options: Sequence[str]) -> exp.Expr:
    return exp.In(this=value, expressions=[_str(o) for o in options])


def attainment_expression(actual: exp.Expr, target: exp.Expr, direction: exp.Expr) -> exp.Expr:
    """CASE expression of the attainment formula (direction: an expression giving 'higher' or 'lower')."""
    zero = exp.Literal.number(0)
    return exp.Case(ifs=[
        exp.If(this=exp.or_(_is_null(actual.copy()), _is_null(target.copy())), true=_double(exp.Null())),
        exp.If(this=exp.EQ(this=actual.copy(), expression=target.copy()), true=_double(exp.Literal.number(1))),
        exp.If(this=exp.EQ(this=direction, expression=_str("lower")),
               true=exp.Div(this=_double(target.copy()), expression=exp.Nullif(this=actual.copy(), expression=zero))),
    ], default=exp.Div(this=_double(actual.copy()), expression=exp.Nullif(this=target.copy(), expression=zero.copy())))


def _values(rows: list[list[exp.Expr]], name: str, columns: Sequence[str]) -> exp.Select:
    values = exp.Values(expressions=[exp.Tuple(expressions=r) for r in rows], alias=exp.TableAlias(
        this=exp.to_identifier(name), columns=[exp.to_identifier(c) for c in columns]))
    return exp.select(*[_col(c) for c in columns]).from_(values)


def _union(parts: Sequence[exp.Query]) -> exp.Query:
    union = parts[0]
    for part in parts[1:]:
        union = exp.union(union, part, distinct=False, copy=False)
    return union


def render(expression: exp.Expr, dialect: str = "duckdb", pretty: bool = True) -> str:
    """SQL text of an expression built here, for a dialect."""
    return to_sql(expression, dialect, pretty=pretty)


# --- attainment --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScorecardConfig:
    """Where targets and actuals come from, and how org units map to dimensions.

    - org_units: org unit kind -> MetricFlow group-by name, e.g. {'store': 'store__store_name',
      'channel': 'order__channel'}; 'company' is always there (from `metric_values`).
    - kind_column: a column of the targets table naming each row's org unit kind. Without it, a target
      row matches actuals by org unit name alone (a name used by two kinds would match both).
    - sliced_metrics: kind -> metrics to slice by it. Default: the KPIs (every metric when none is
      flagged), keeping those that can be grouped by the kind's dimension.
    - metrics: metrics whose company actuals are reported (default: all).
    """

    org_units: Mapping[str, str] = field(default_factory=dict)
    grains: tuple[str, ...] = ("month",)
    metric_values: str = "metric_values"
    targets: str = "targets"
    kind_column: str | None = None
    sliced_metrics: Mapping[str, Sequence[str]] | None = None
    metrics: Sequence[str] | None = None
    cap: float | None = None  # for scorecard_sql
    source: str | None = None  # file:line it was read from


CONFIG_KEY = "metricsctl_scorecard"
_GROUP_BY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # a dimension's group-by name: entity path, name, grain
_CONFIG_KEYS = ("targets", "metric_values", "kind_column", "grains", "org_units", "sliced_metrics", "metrics", "cap")


def parse_scorecard_config(value: Any, where: str = "") -> ScorecardConfig:
    """A `metricsctl_scorecard:` mapping -> ScorecardConfig (every problem reported at once, at `where`).

        metricsctl_scorecard:
          targets: targets                # the targets relation (a seed or model)
          kind_column: org_unit_type      # optional: the targets' column naming each org unit's kind
          grains: [month]
          cap: 1.5                        # optional: cap each attainment in the score
          org_units: {store: store__store_name, channel: order__channel}
          sliced_metrics: {store: [revenue, orders]}     # optional
    """
    from metricsctl.errors import SpecError, SpecIssue
    from metricsctl.guards import identifier_problem
    from metricsctl.management.config import split_where
    from metricsctl.names import STANDARD_GRAINS
    from metricsctl.spec import suggest

    at = split_where(where) if where else (None, None)
    issues: list[SpecIssue] = []

    def issue(message: str) -> None:
        issues.append(SpecIssue(f"{CONFIG_KEY}: {message}", *at))

    if not isinstance(value, dict):
        raise SpecError([SpecIssue(f"{CONFIG_KEY} must be a mapping (targets, org_units, ...)", *at)])
    for key in value:
        if key not in _CONFIG_KEYS:
            issue(f"unknown key '{key}'{suggest(str(key), list(_CONFIG_KEYS))}; the keys are {', '.join(_CONFIG_KEYS)}")
    org_units = value.get("org_units") or {}
    if not isinstance(org_units, dict) or not all(isinstance(v, str) for v in org_units.values()):
        issue("org_units must map an org unit kind to a group-by name, e.g. {store: store__store_name}")
        org_units = {}
    grains = value.get("grains", ["month"])
    grains = [grains] if isinstance(grains, str) else grains
    if not isinstance(grains, list) or any(g not in STANDARD_GRAINS for g in grains):
        issue(f"grains must be a list of {', '.join(STANDARD_GRAINS)}")
        grains = ["month"]
    sliced = value.get("sliced_metrics")
    if sliced is not None and (not isinstance(sliced, dict) or not all(isinstance(v, list) for v in sliced.values())):
        issue("sliced_metrics must map an org unit kind to a list of metric names")
        sliced = None
    for kind in sliced or {}:
        if kind not in org_units:
            issue(f"sliced_metrics names org unit kind '{kind}', which is not in org_units")
    metrics = value.get("metrics")
    if metrics is not None and not isinstance(metrics, list):
        issue("metrics must be a list of metric names")
        metrics = None
    cap = value.get("cap")
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, (int, float))):
        issue(f"cap is {cap!r}; use a number such as 1.5")
        cap = None
    names = [(value.get(key), key, becomes) for key, becomes in (
        ("targets", "the name of the model or seed the targets are read from"),
        ("metric_values", "the name of the model the actuals are read from"),
        ("kind_column", "a column name in SQL"))
        if value.get(key) is not None]
    names += [(kind, "org unit kind", "part of a name in SQL") for kind in org_units]
    for name, what, becomes in names:
        problem = identifier_problem(name, what, becomes)
        if problem:
            issue(problem)
    for kind, group_by in org_units.items():
        if not _GROUP_BY.fullmatch(group_by):
            issue(f"org unit kind '{kind}' maps to {group_by!r}, which is not a group-by name; name a dimension "
                  "as queries do, e.g. store__store_name")
    if issues:
        raise SpecError(issues)
    return ScorecardConfig(
        org_units={str(k): str(v) for k, v in org_units.items()}, grains=tuple(str(g) for g in grains),
        metric_values=str(value.get("metric_values", "metric_values")), targets=str(value.get("targets", "targets")),
        kind_column=str(value["kind_column"]) if value.get("kind_column") else None,
        sliced_metrics={str(k): [str(m) for m in v] for k, v in sliced.items()} if sliced is not None else None,
        metrics=[str(m) for m in metrics] if metrics is not None else None,
        cap=float(cap) if cap is not None else None, source=where or None)


def load_scorecard_config(project_dir: str | Path, folders: Iterable[str]) -> ScorecardConfig | None:
    """The `metricsctl_scorecard:` block of the YAML files under `folders` (the model paths), if any."""
    from metricsctl.management.config import find_config

    found = find_config(project_dir, folders, CONFIG_KEY)
    return None if found is None else parse_scorecard_config(found[1], found[0])


def _kpis(spec: Spec) -> tuple[dict[str, str], set[str]]:
    from metricsctl.management.fields import read_fields

    fields = read_fields(spec)[0]
    return {n: f.direction for n, f in fields.items()}, {n for n, f in fields.items() if f.kpi}


def sliceable(compile_query: Callable[[MetricQuery], Any], metrics: Sequence[str], group_by: str,
              grain: str) -> list[str]:
    """The metrics that can be grouped by `group_by` (each tried on its own: compiling is cheap)."""
    found = []
    for metric in metrics:
        try:
            compile_query(MetricQuery((metric,), (f"metric_time__{grain}", group_by)))
        except MetricsctlError:
            continue
        found.append(metric)
    return found


def attainment_sql(spec: Spec, config: ScorecardConfig, compiler: SqlCompiler | None = None) -> exp.Select:
    """Attainment per metric, period and org unit (columns: ATTAINMENT_COLUMNS).

    Every actual appears, with or without a target (attainment NULL), and every target, with or
    without an actual. `compiler` renders the sliced queries (pass the materializer's, whose relations
    become dbt refs); the default compiles for DuckDB against the spec's relations.
    """
    if compiler is None:
        from metricsctl.compiler.render import SqlCompiler

        compiler = SqlCompiler(spec)
    directions, kpis = _kpis(spec)
    names = list(config.metrics) if config.metrics is not None else spec.metric_names()
    unknown = [m for m in names if m not in directions]
    if unknown:
        raise QueryError(f"unknown metric(s) {', '.join(unknown)} in the scorecard configuration")
    ctes: list[tuple[str, exp.Expr]] = []
    ctes.append(("metric_directions", _values(
        [[_str(n), _str(d), exp.Boolean(this=n in kpis)] for n, d in sorted(directions.items())],
        "metric_directions", ("metric_name", "direction", "is_kpi"))))

    actual_columns = ("metric_name", "period_grain", "period_start", "org_unit_kind", "org_unit", "actual")
    company = exp.select(
        _alias(_text(_col("metric_name")), "metric_name"), _alias(_text(_col("grain")), "period_grain"),
        _alias(_date(_col("period_start")), "period_start"), _alias(_str(COMPANY), "org_unit_kind"),
        _alias(_str(COMPANY), "org_unit"), _alias(_double(_col("value")), "actual"),
    ).from_(exp.to_table(config.metric_values)).where(_in(_col("grain"), config.grains))
    if config.metrics is not None:
        company = company.where(_in(_col("metric_name"), names))
    parts: list[exp.Query] = [company]

    default_sliced = sorted(kpis) or spec.metric_names()
    for kind, group_by in config.org_units.items():
        if kind == COMPANY:
            raise QueryError("'company' is the org unit of metric_values; do not map it to a dimension")
        wanted = list((config.sliced_metrics or {}).get(kind, default_sliced))
        dimension = parse_item_name(group_by).column_name()
        for grain in config.grains:
            metrics = sliceable(compiler.compile, wanted, group_by, grain)
            if config.sliced_metrics is not None and kind in config.sliced_metrics and len(metrics) < len(wanted):
                missing = sorted(set(wanted) - set(metrics))
                raise QueryError(f"metric(s) {', '.join(missing)} cannot be grouped by '{group_by}' "
                                 f"(org unit kind '{kind}')")
            if not metrics:
                continue
            time_column = f"metric_time__{grain}"
            cte = f"actuals_{kind}_{grain}"
            compiled = compiler.compile(MetricQuery(tuple(metrics), (time_column, group_by)))
            ctes.append((cte, compiled.expression))
            for metric in metrics:
                parts.append(exp.select(
                    _alias(_str(metric), "metric_name"), _alias(_str(grain), "period_grain"),
                    _alias(_date(_col(time_column)), "period_start"), _alias(_str(kind), "org_unit_kind"),
                    _alias(_text(_col(dimension)), "org_unit"), _alias(_double(_col(metric)), "actual"),
                ).from_(cte).where(exp.and_(_not_null(_col(metric)), _not_null(_col(dimension)))))
    ctes.append(("actuals", exp.select(*[_col(c) for c in actual_columns]).from_(
        exp.Subquery(this=_union(parts), alias=exp.TableAlias(this=exp.to_identifier("all_actuals"))))))

    target_projection = [
        _alias(_text(_col("metric_name")), "metric_name"), _alias(_text(_col("period_grain")), "period_grain"),
        _alias(_date(_col("period_start")), "period_start"), _alias(_text(_col("org_unit")), "org_unit"),
        _alias(_double(_col("target_value")), "target_value"), _alias(_double(_col("weight")), "weight")]
    if config.kind_column:
        target_projection.append(_alias(_text(_col(config.kind_column)), "org_unit_kind"))
    ctes.append(("target_rows", exp.select(*target_projection).from_(exp.to_table(config.targets)).where(
        _in(_col("period_grain"), config.grains))))

    keys = ["metric_name", "period_grain", "period_start", "org_unit"]
    on = [exp.EQ(this=_col(k, "a"), expression=_col(k, "t")) for k in keys]
    if config.kind_column:
        on.append(exp.EQ(this=_col("org_unit_kind", "a"), expression=_col("org_unit_kind", "t")))
        target_kind: exp.Expr = _col("org_unit_kind", "t")
    else:
        target_kind = exp.Case(ifs=[exp.If(this=exp.EQ(this=_col("org_unit", "t"), expression=_str(COMPANY)),
                                           true=_str(COMPANY))])
    joined = exp.select(
        *[_alias(exp.Coalesce(this=_col(k, "a"), expressions=[_col(k, "t")]), k) for k in keys[:3]],
        _alias(exp.Coalesce(this=_col("org_unit_kind", "a"), expressions=[target_kind]), "org_unit_kind"),
        _alias(exp.Coalesce(this=_col("org_unit", "a"), expressions=[_col("org_unit", "t")]), "org_unit"),
        _alias(_col("actual", "a"), "actual"), _alias(_col("target_value", "t"), "target_value"),
        _alias(_col("weight", "t"), "weight"),
    ).from_(exp.alias_(exp.to_table("actuals"), "a", table=True)).join(
        exp.alias_(exp.to_table("target_rows"), "t", table=True), on=exp.and_(*on), join_type="FULL OUTER")
    ctes.append(("joined", joined))

    direction = exp.Coalesce(this=_col("direction", "d"), expressions=[_str("higher")])
    select = exp.select(
        *[_col(c, "j") for c in ("metric_name", "period_grain", "period_start", "org_unit_kind", "org_unit",
                                 "actual", "target_value", "weight")],
        _alias(direction, "direction"),
        _alias(exp.Coalesce(this=_col("is_kpi", "d"), expressions=[exp.false()]), "is_kpi"),
        _alias(attainment_expression(_col("actual", "j"), _col("target_value", "j"), direction.copy()),
               "attainment"),
    ).from_(exp.alias_(exp.to_table("joined"), "j", table=True)).join(
        exp.alias_(exp.to_table("metric_directions"), "d", table=True),
        on=exp.EQ(this=_col("metric_name", "j"), expression=_col("metric_name", "d")), join_type="LEFT")
    for name, body in ctes:
        select = select.with_(name, as_=body, copy=False)
    return select


# --- scorecards --------------------------------------------------------------------------------
def scorecard_sql(attainment_source: str | exp.Query, cap: float | None = None,
                  kpis: Collection[str] | None = None, kpis_only: bool = False) -> exp.Select:
    """Weighted score per org unit and period (columns: SCORECARD_COLUMNS), from the attainment table.

    `attainment_source`: the attainment relation's name, or the attainment query itself. Rows count
    when they have a target and a weight; `kpis` (names) or `kpis_only` (the spec's `kpi: true`) narrow
    them further. `cap` caps each attainment before weighting.
    """
    if isinstance(attainment_source, str):
        source: exp.Expr = exp.to_table(attainment_source)
        ctes: list[tuple[str, exp.Expr]] = []
    else:
        source = exp.to_table("attainment")
        ctes = [("attainment", attainment_source)]
    value: exp.Expr = _col("attainment")
    if cap is not None:
        limit = exp.Literal.number(cap)
        value = exp.Case(ifs=[exp.If(this=exp.GT(this=_col("attainment"), expression=limit),
                                     true=_double(limit.copy()))], default=_col("attainment"))
    conditions: list[exp.Expr] = [_not_null(_col("target_value")), _not_null(_col("weight"))]
    if kpis is not None:
        conditions.append(_in(_col("metric_name"), sorted(kpis)) if kpis else exp.false())
    if kpis_only:
        conditions.append(exp.EQ(this=_col("is_kpi"), expression=exp.true()))
    scored = exp.select(
        *[_col(c) for c in ("org_unit_kind", "org_unit", "period_grain", "period_start", "metric_name", "weight")],
        _alias(value, "scored_attainment"),
    ).from_(source).where(exp.and_(*conditions))
    ctes.append(("scored", scored))
    counted_weight = exp.Case(ifs=[exp.If(this=_not_null(_col("scored_attainment")), true=_col("weight"))])
    group = [_col(c) for c in ("org_unit_kind", "org_unit", "period_grain", "period_start")]
    select = exp.select(
        *[c.copy() for c in group],
        _alias(exp.Div(this=exp.Sum(this=exp.Mul(this=_col("weight"), expression=_col("scored_attainment"))),
                       expression=exp.Nullif(this=exp.Sum(this=counted_weight.copy()),
                                             expression=exp.Literal.number(0))), "score"),
        _alias(exp.Count(this=exp.Star()), "kpis_with_target"),
        _alias(exp.Count(this=_col("scored_attainment")), "kpis_scored"),
        _alias(exp.Sum(this=counted_weight), "weight_scored"),
    ).from_("scored").group_by(*group)
    for name, body in ctes:
        select = select.with_(name, as_=body, copy=False)
    return select


def targets_sql(targets: str, period_grain: str, period_start: str, org_unit: str = COMPANY,
                kind: tuple[str, str] | None = None) -> exp.Select:
    """metric_name, target_value of one period and org unit (for `tree`'s target column); `kind` is
    (the targets' kind column, the org unit's kind), so a store and a team of one name keep their own."""
    conditions = [exp.EQ(this=_col("period_grain"), expression=_str(period_grain)),
                  exp.EQ(this=_date(_col("period_start")), expression=_date(_str(period_start))),
                  exp.EQ(this=_col("org_unit"), expression=_str(org_unit))]
    if kind is not None:
        conditions.append(exp.EQ(this=_text(_col(kind[0])), expression=_str(kind[1])))
    return exp.select(_col("metric_name"), _alias(_double(_col("target_value")), "target_value")).from_(
        exp.to_table(targets)).where(exp.and_(*conditions))


def read_targets(execute: Callable[[str], Any], targets: str, period_grain: str, period_start: str,
                 org_unit: str = COMPANY, dialect: str = "duckdb",
                 kind: tuple[str, str] | None = None) -> dict[str, float | None]:
    """Metric -> target of one period and org unit, through `execute(sql) -> Result` (e.g. a Warehouse)."""
    result = execute(render(targets_sql(targets, period_grain, period_start, org_unit, kind), dialect))
    return {str(r[0]): (None if r[1] is None else float(r[1])) for r in result.rows}
