"""Cumulative scans over a model's daily sums, and what else those daily sums answer.

A cumulative metric whose measure rolls up (sum, count, min, max) reads its model's rows summed per
spine day and group (`X_daily`, render.py's `staged_rows`). A plain measure of the same model, filters
and time dimension that rolls up as well is summed there too, and re-grouped from the daily sums to the
query's grain, so the model's rows are read and joined once (`plain_on_daily`, `regrouped`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlglot import exp

from metricsctl.compiler import render as r
from metricsctl.compiler.plan import MeasureInstance
from metricsctl.names import ItemName, grain_rank

if TYPE_CHECKING:
    from metricsctl.compiler.render import Ref, _QueryBuilder


def _daily_key(instance: MeasureInstance) -> tuple[str, tuple[str, ...], str]:
    """Instances with equal keys read the same daily sums (as `staged_rows` keys them)."""
    return instance.model, instance.filters, instance.agg_time_dimension


def _at_or_above(item: ItemName, spine_grain: str) -> bool:
    """A metric_time item that a spine day at `spine_grain` determines: a standard or sub-daily grain no
    finer than the spine's (a date part or a custom grain is read from the raw time or the spine)."""
    grain = item.grain or "day"
    return not item.date_part and grain in r.STEPPED_GRAINS and grain_rank(grain) >= grain_rank(spine_grain)


def plain_on_daily(b: _QueryBuilder, scans: Sequence[list[MeasureInstance]]) -> frozenset[MeasureInstance]:
    """The plain instances summed in a cumulative scan's daily sums rather than scanned on their own.

    A plain scan qualifies when every instance rolls up, a cumulative scan of the same model, filters and
    time dimension is summed per day (each of its instances rolls up, none is a distinct count counted
    once), and each metric_time the query groups or that scan's filters read is a grain no finer than
    the spine's day (`time_value` of the day then equals that of the raw time)."""
    if not b.time_items:
        return frozenset()
    staged: dict[tuple[str, tuple[str, ...], str], list[MeasureInstance]] = {}
    for instance in b.plan.instances:
        if b.is_staged(instance) and not b.counted_once(instance):
            staged.setdefault(_daily_key(instance), []).append(instance)
    found: set[MeasureInstance] = set()
    for group in scans:
        first = group[0]
        members = staged.get(_daily_key(first))
        if not b.is_plain(first) or not members:
            continue
        if any(b.rollup_kind(i) is None for i in [*members, *group]):
            continue
        spine_grain = b.spine_for(members[0]).grain
        times = [*b.time_items, *(i for i in b.filter_items(first.filters) if i.is_metric_time)]
        if all(_at_or_above(item, spine_grain) for item in times):
            found.update(group)
    return frozenset(found)


def regrouped(b: _QueryBuilder, group: list[MeasureInstance]) -> str:
    """A plain scan's values from its model's daily sums: re-aggregated to the query's items, filtered
    and time-constrained as the plain scan filters its rows."""
    daily, rolled_up = b.staged_rows(group)
    assert rolled_up, "plain_on_daily admits only scans whose daily sums roll up"
    day = r.column(r.DAY, daily)

    def bind(item: Ref) -> exp.Expr:
        if isinstance(item, ItemName) and item.is_metric_time:
            return b.c.time_value(item, day.copy(), None)
        return r.column(b.item_column(item), daily)

    projections = [r.alias(bind(item), item.column_name()) for item in b.items]
    for instance in group:
        value = b.rollup(instance, r.column(b.plan.instances[instance], daily))
        if b.c.spec.measure(instance.measure).measure.agg.value == "count":
            value = r.cast(value, "BIGINT")  # a sum of counts, typed as the count it stands for
        projections.append(r.alias(value, b.plan.instances[instance]))
    select = r.new_select(*projections).from_(r.named_table(daily), copy=False)
    conditions = b.bind_filters(group[0].filters, bind) + b.time_constraint(day.copy())
    if conditions:
        select = select.where(r.and_all(conditions), copy=False)
    if b.items:
        select = select.group_by(*[bind(item) for item in b.items], copy=False)
    return b.add_cte(f"{group[0].model}_agg", select)

