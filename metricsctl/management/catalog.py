"""The metric catalog's management columns: owner, level, parents, unit, direction, KPI flag, and the
latest value, its target, attainment and data health.

`catalog_fields` gives the static part as values; `catalog_sql` gives every column as one query over
`metric_values`, the attainment table and (optionally) a data-health table, keyed by metric_name, to
be joined to (or merged into) `metric_catalog`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from metricsctl.compiler.render import cast
from metricsctl.management.fields import read_fields
from metricsctl.management.targets import COMPANY
from metricsctl.management.tree import parents_of
from metricsctl.spec import Spec

CATALOG_COLUMNS = ("metric_name", "owner", "level", "parents", "unit", "direction", "is_kpi", "latest_period",
                   "latest_value", "target_value", "attainment", "data_health")
STATIC_COLUMNS = CATALOG_COLUMNS[:7]


@dataclass(frozen=True)
class CatalogFields:
    metric_name: str
    owner: str | None
    level: str | None
    parents: str | None  # comma-separated: metrics whose formula reads this one, then its `parents`
    unit: str | None
    direction: str
    is_kpi: bool


def catalog_fields(spec: Spec) -> list[CatalogFields]:
    """One row per metric (sorted by name) of the static management columns."""
    fields = read_fields(spec)[0]
    parents = parents_of(spec, fields)
    return [CatalogFields(name, f.owner, f.level, ", ".join(parents[name]) or None, f.unit, f.direction, f.kpi)
            for name, f in sorted(fields.items())]


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=False)


def _literal(value: Any) -> exp.Expr:
    if value is None:
        return cast(exp.Null(), "VARCHAR")
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    return exp.Literal.string(str(value))


def catalog_sql(spec: Spec, metric_values: str = "metric_values", attainment: str | None = None,
                health: str | None = None, grain: str = "month") -> exp.Select:
    """Columns CATALOG_COLUMNS, one row per metric.

    The latest period is the newest `grain` period in `metric_values` for the metric; target and
    attainment are the company's for that period, from the `attainment` relation (the model built from
    `targets.attainment_sql`); data_health comes from `health` (columns metric_name, data_health) when
    given. Missing parts are NULL.
    """
    rows = [exp.Tuple(expressions=[_literal(getattr(r, c)) for c in STATIC_COLUMNS]) for r in catalog_fields(spec)]
    static = exp.select(*[_col(c) for c in STATIC_COLUMNS]).from_(exp.Values(
        expressions=rows, alias=exp.TableAlias(this=exp.to_identifier("fields"),
                                               columns=[exp.to_identifier(c) for c in STATIC_COLUMNS])))
    month_rows = exp.EQ(this=_col("grain"), expression=exp.Literal.string(grain))
    latest = exp.select(_col("metric_name"), exp.alias_(exp.Max(this=_col("period_start")), "latest_period")).from_(
        exp.to_table(metric_values)).where(month_rows).group_by(_col("metric_name"))
    latest_values = exp.select(
        _col("metric_name", "v"), exp.alias_(exp.cast(_col("period_start", "v"), "DATE"), "latest_period"),
        exp.alias_(exp.cast(_col("value", "v"), "DOUBLE"), "latest_value"),
    ).from_(exp.alias_(exp.to_table(metric_values), "v", table=True)).join(
        exp.alias_(exp.to_table("latest"), "l", table=True), on=exp.and_(
            exp.EQ(this=_col("metric_name", "v"), expression=_col("metric_name", "l")),
            exp.EQ(this=_col("period_start", "v"), expression=_col("latest_period", "l")),
            exp.EQ(this=_col("grain", "v"), expression=exp.Literal.string(grain))))
    select = exp.select(
        *[_col(c, "f") for c in STATIC_COLUMNS], _col("latest_period", "lv"), _col("latest_value", "lv"),
        exp.alias_(_col("target_value", "a") if attainment else exp.cast(exp.Null(), "DOUBLE"), "target_value"),
        exp.alias_(_col("attainment", "a") if attainment else exp.cast(exp.Null(), "DOUBLE"), "attainment"),
        exp.alias_(exp.cast(_col("data_health", "h"), "VARCHAR") if health else exp.cast(exp.Null(), "VARCHAR"),
                   "data_health"),
    ).from_(exp.alias_(exp.to_table("fields"), "f", table=True)).join(
        exp.alias_(exp.to_table("latest_values"), "lv", table=True),
        on=exp.EQ(this=_col("metric_name", "f"), expression=_col("metric_name", "lv")), join_type="LEFT")
    if attainment:
        select = select.join(exp.alias_(exp.to_table(attainment), "a", table=True), on=exp.and_(
            exp.EQ(this=_col("metric_name", "a"), expression=_col("metric_name", "f")),
            exp.EQ(this=_col("org_unit_kind", "a"), expression=exp.Literal.string(COMPANY)),
            exp.EQ(this=_col("period_grain", "a"), expression=exp.Literal.string(grain)),
            exp.EQ(this=_col("period_start", "a"), expression=_col("latest_period", "lv"))), join_type="LEFT")
    if health:
        select = select.join(exp.alias_(exp.to_table(health), "h", table=True),
                             on=exp.EQ(this=_col("metric_name", "h"), expression=_col("metric_name", "f")),
                             join_type="LEFT")
    select = select.order_by(_col("metric_name", "f"))
    for name, body in (("fields", static), ("latest", latest), ("latest_values", latest_values)):
        select = select.with_(name, as_=body, copy=False)
    return select
