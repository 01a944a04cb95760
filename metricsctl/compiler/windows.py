"""Cumulative scans over a model's daily sums, and what else those daily sums answer.

A cumulative metric whose measure rolls up (sum, count, min, max) reads its model's rows summed per
spine day and group (`X_daily`, render.py's `staged_rows`). A plain measure of the same model, filters
and time dimension that rolls up as well is summed there too, and re-grouped from the daily sums to the
query's grain, so the model's rows are read and joined once (`plain_on_daily`, `regrouped`).

Where the dialect allows (`DAY_WINDOW_DIALECTS`), the cumulative values themselves are window functions
over the daily sums instead of a range join of each spine day to the days of its window: the daily sums
and the spine days that report a value are stacked, a RANGE frame over the day sums the window, and the
spine's rows whose frame holds a daily row are kept, which are the rows the range join gives
(`rolling_days`: a trailing window of days or weeks; `to_date_by_period`: a grain_to_date at the
period's end, by a grain no finer than the to-date grain).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlglot import exp

from metricsctl.compiler import render as r
from metricsctl.compiler.dialects import DAY_WINDOW_DIALECTS, day_window
from metricsctl.compiler.plan import MeasureInstance, Window
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


# --- cumulative values as windows over the daily sums ----------------------------------------------

NESTED_GRAINS = ("month", "quarter", "year")  # each period lies in one period of every coarser grain here
DATA = "__data"  # 1 on a daily sum's row, NULL on a spine day's
ROWS = "__rows"  # the daily rows in a frame


def _daily_sums(b: _QueryBuilder, group: list[MeasureInstance]) -> tuple[str, list[str], list[exp.Expr]] | None:
    """The daily sums a window reads, the query's other items' columns and the conditions that pick the
    daily rows (the filters that read no metric_time); None in a dialect not in DAY_WINDOW_DIALECTS, and
    where windows would not give the range join's answer: a spine finer than a day, a custom grain, an
    offset, a measure that does not roll up, or a filter that reads metric_time and another item at once."""
    first = group[0]
    if b.c.dialect not in DAY_WINDOW_DIALECTS or first.offset is not None or b.counted_once(first):
        return None
    if b.spine_for(first).grain != "day" or any(b.is_custom(i) for i in b.time_items):
        return None
    for template in first.filters:
        named = b.filter_items((template,))
        reads_time = any(i.is_metric_time for i in named)
        if reads_time and (b.filter_metrics((template,)) or not all(i.is_metric_time for i in named)):
            return None
    rows, rolled_up = b.staged_rows(group)
    if not rolled_up:
        return None
    row_filters = tuple(t for t in first.filters if not any(i.is_metric_time for i in b.filter_items((t,))))
    conditions = b.bind_filters(row_filters, lambda item: r.column(b.item_column(item), rows))
    return rows, [i.column_name() for i in b.items if not i.is_metric_time], conditions


def _spine_conditions(b: _QueryBuilder, group: list[MeasureInstance], spine_day: exp.Expr) -> list[exp.Expr]:
    """The filters that read metric_time and the query's time constraint, on a spine day."""
    time_filters = tuple(t for t in group[0].filters if any(i.is_metric_time for i in b.filter_items((t,))))
    bind = lambda item: b.c.time_value(item, spine_day.copy(), None, r.SPINE)  # noqa: E731
    return b.bind_filters(time_filters, bind) + b.time_constraint(spine_day.copy())


def _stacked(b: _QueryBuilder, group: list[MeasureInstance], rows: str, keys: list[str],
             conditions: list[exp.Expr], grid: exp.Select) -> exp.Query:
    """The daily rows (`__data` 1) and the spine days of `grid` (`__day` and the keys, values NULL)."""
    names = [b.plan.instances[i] for i in group]
    data = r.new_select(r.column(r.DAY, rows), *[r.column(k, rows) for k in keys], *[r.column(n, rows) for n in names],
                        r.alias(exp.Literal.number(1), DATA)).from_(r.named_table(rows), copy=False)
    if conditions:
        data = data.where(r.and_all([c.copy() for c in conditions]), copy=False)
    grid = grid.select(*[r.alias(exp.Null(), n) for n in [*names, DATA]], copy=False)
    return exp.union(data, grid, distinct=False, copy=False)


def _windowed(b: _QueryBuilder, group: list[MeasureInstance], stacked: exp.Query, keys: list[str],
              partition: list[exp.Expr], days_before: int | None, name: str,
              day_as: tuple[exp.Expr, str] | None = None) -> str:
    """The spine days of `stacked` whose frame holds a daily row, with each instance's rolled-up frame."""
    day = r.column(r.DAY)
    inner = r.new_select(day, *[r.column(k) for k in keys], r.column(DATA))
    for instance in group:
        value = b.rollup(instance, r.column(b.plan.instances[instance]))
        inner = inner.select(r.alias(day_window(value, [p.copy() for p in partition], day.copy(), days_before),
                                     b.plan.instances[instance]), copy=False)
    inner = inner.select(r.alias(day_window(exp.Count(this=r.column(DATA)), [p.copy() for p in partition],
                                            day.copy(), days_before), ROWS), copy=False)
    inner = inner.from_(exp.Subquery(this=stacked, alias=exp.TableAlias(this=exp.to_identifier("stacked"))),
                        copy=False)
    framed = exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("framed")))
    first = r.alias(r.column(r.DAY, "framed"), r.DAY) if day_as is None else r.alias(day_as[0], day_as[1])
    outer = r.new_select(first, *[r.column(k, "framed") for k in keys],
                         *[r.column(b.plan.instances[i], "framed") for i in group]).from_(framed, copy=False).where(
        exp.and_(exp.Is(this=r.column(DATA, "framed"), expression=exp.Null()),
                 exp.GT(this=r.column(ROWS, "framed"), expression=exp.Literal.number(0)), copy=False), copy=False)
    return b.add_cte(name, outer)


def rolling_days(b: _QueryBuilder, group: list[MeasureInstance]) -> str | None:
    """A trailing window of days or weeks, per spine day: the columns the range join of the spine to the
    daily sums gives (`__day`, the query's other items, the instances), or None where it stays.

    The spine days each key reports on lie between its first daily row and its last plus the window."""
    cumulative = group[0].cumulative
    assert cumulative is not None
    window = cumulative.window
    if window is None or cumulative.grain_to_date is not None or window.grain not in ("day", "week"):
        return None
    found = _daily_sums(b, group)
    if found is None:
        return None
    rows, keys, conditions = found
    length = window.count * (7 if window.grain == "week" else 1)
    day = r.column(r.DAY, rows)
    bounds = r.new_select(*[r.column(k, rows) for k in keys], r.alias(exp.Min(this=day.copy()), "__first"),
                          r.alias(exp.Max(this=day.copy()), "__last")).from_(r.named_table(rows), copy=False)
    if conditions:
        bounds = bounds.where(r.and_all([c.copy() for c in conditions]), copy=False)
    if keys:
        bounds = bounds.group_by(*[r.column(k, rows) for k in keys], copy=False)
    bounds_name = b.add_shared_cte(f"{group[0].model}_window_bounds", bounds)
    spine = b.spine_for(group[0])
    spine_day = r.column(spine.day_column, r.SPINE)
    reach = exp.Add(this=r.column("__last", bounds_name), expression=r.interval(Window(length - 1, "day")))
    on = exp.and_(exp.GTE(this=spine_day.copy(), expression=r.column("__first", bounds_name)),
                  exp.LTE(this=spine_day.copy(), expression=reach), copy=False)
    grid = r.new_select(r.alias(spine_day.copy(), r.DAY), *[r.column(k, bounds_name) for k in keys]).from_(
        b.c.relation(spine.relation, r.SPINE), copy=False).join(r.joined("INNER", bounds_name), on=on, copy=False)
    spine_conditions = _spine_conditions(b, group, spine_day)
    if spine_conditions:
        grid = grid.where(r.and_all(spine_conditions), copy=False)
    stacked = _stacked(b, group, rows, keys, conditions, grid)
    return _windowed(b, group, stacked, keys, [r.column(k) for k in keys], length - 1,
                     f"{group[0].model}_cumulative")


def to_date_by_period(b: _QueryBuilder, group: list[MeasureInstance]) -> str | None:
    """A grain_to_date at its period's end (`period_agg: last`), grouped by metric_time alone at a grain
    that nests in the to-date grain (month to date by month; year to date by month, quarter or year): each
    period reports the sum from the start of its to-date period up to its last spine day (that day's
    value, as the range join gives it), if a daily row lies in that span. None where the range join stays.

    Columns: the query's items and the instances, at the query's grain (period_aggregate's output)."""
    cumulative = group[0].cumulative
    assert cumulative is not None
    to_date = cumulative.grain_to_date
    if cumulative.window is not None or to_date not in NESTED_GRAINS or cumulative.period_agg != "last":
        return None
    if len(b.time_items) != 1:
        return None
    item = b.time_items[0]
    grain = item.grain or "day"
    if item.date_part or grain not in NESTED_GRAINS or grain_rank(grain) > grain_rank(str(to_date)):
        return None
    found = _daily_sums(b, group)
    if found is None:
        return None
    rows, keys, conditions = found
    spine = b.spine_for(group[0])
    spine_day = r.column(spine.day_column, r.SPINE)
    # each period's last spine day that the filters on metric_time keep
    periods = r.new_select(r.alias(exp.Max(this=spine_day.copy()), r.DAY)).from_(
        b.c.relation(spine.relation, r.SPINE), copy=False).group_by(r.trunc(grain, spine_day.copy()), copy=False)
    spine_conditions = _spine_conditions(b, group, spine_day)
    if spine_conditions:
        periods = periods.where(r.and_all(spine_conditions), copy=False)
    periods_name = b.add_cte(f"{group[0].model}_period_ends", periods)
    # the keys with a daily row in each to-date period
    to_date_of = r.trunc(str(to_date), r.column(r.DAY, rows))
    keyed = r.new_select(*[r.column(k, rows) for k in keys], r.alias(to_date_of, "__to_date")).distinct(
        copy=False).from_(r.named_table(rows), copy=False)
    if conditions:
        keyed = keyed.where(r.and_all([c.copy() for c in conditions]), copy=False)
    keyed_name = b.add_cte(f"{group[0].model}_to_date_keys", keyed)
    grid = r.new_select(r.column(r.DAY, periods_name), *[r.column(k, keyed_name) for k in keys]).from_(
        r.named_table(periods_name), copy=False).join(r.joined("INNER", keyed_name), on=exp.EQ(
            this=r.trunc(str(to_date), r.column(r.DAY, periods_name)), expression=r.column("__to_date", keyed_name)),
        copy=False)
    stacked = _stacked(b, group, rows, keys, conditions, grid)
    partition = [*[r.column(k) for k in keys], r.trunc(str(to_date), r.column(r.DAY))]
    period = b.c.time_value(item, r.column(r.DAY, "framed"), None)
    return _windowed(b, group, stacked, keys, partition, None, f"{group[0].model}_to_date",
                     day_as=(period, item.column_name()))
