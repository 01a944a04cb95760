"""MetricFlow's query semantics beyond the common case, each checked against pandas over the seed CSVs.

Each test names the rule it shows, as `mf query` applies it.
"""

from __future__ import annotations

from datetime import date

import pytest

from metricsctl.compiler.query import MetricQuery
from metricsctl.errors import QueryError
from tests.conftest import SHOP, assert_series, month, seed

SHOP_SEEDS = SHOP / "seeds"


def revenue_lines():
    lines = seed("order_lines")
    lines["revenue"] = lines.quantity * lines.unit_price
    orders = seed("orders")[["order_id", "customer_id", "ordered_at"]].rename(columns={"ordered_at": "order_day"})
    customers = seed("customers")[["customer_id", "signup_date"]]
    return lines.merge(orders, on="order_id").merge(customers, on="customer_id")


def test_a_time_dimension_without_a_grain_is_named_and_answered_at_its_own_grain(answer):
    got = answer("revenue", "order__ordered_at", order_by="order__ordered_at")
    assert list(got.columns) == ["order__ordered_at__day", "revenue"]
    assert got.order__ordered_at__day.is_monotonic_increasing
    got["order__ordered_at__day"] = got.order__ordered_at__day.astype("datetime64[ns]")
    assert_series(got, "order__ordered_at__day", "revenue", revenue_lines().groupby("order_day").revenue.sum())


def test_the_same_rule_holds_two_hops_away_and_a_grain_given_is_kept(answer):
    lines = revenue_lines()
    got = answer("revenue", "order__customer__signup_date")
    assert list(got.columns) == ["order__customer__signup_date__day", "revenue"]
    got["order__customer__signup_date__day"] = got.order__customer__signup_date__day.astype("datetime64[ns]")
    assert_series(got, "order__customer__signup_date__day", "revenue", lines.groupby("signup_date").revenue.sum())
    by_month = answer("revenue", "order__customer__signup_date__month")
    assert list(by_month.columns) == ["order__customer__signup_date__month", "revenue"]
    lines["signup_month"] = month(lines.signup_date)
    by_month["order__customer__signup_date__month"] = by_month.order__customer__signup_date__month.astype(
        "datetime64[ns]")
    assert_series(by_month, "order__customer__signup_date__month", "revenue",
                  lines.groupby("signup_month").revenue.sum())


# --- expected rows from hand-written SQL over the seed CSVs ------------------------------------------
# Each query below is written as MetricFlow's own integration cases check themselves: plain SQL over the
# raw tables, joined and filtered by hand, run by an in-memory DuckDB that never sees metricsctl's SQL.

SPINE = "select cast(range as date) as ds from range(date '2023-10-01', date '2025-01-01', interval 1 day)"
DAILY_REVENUE = ("select ordered_at as ds, sum(quantity * unit_price) as revenue from order_lines "
                 "group by ordered_at")


def hand(sql: str) -> list[tuple[object, ...]]:
    """Rows of `sql` over the shop's seeds (each a table named after its CSV) and `spine`, sorted."""
    import duckdb

    con = duckdb.connect()
    for path in sorted(SHOP_SEEDS.glob("*.csv")):
        con.execute(f"create view {path.stem} as select * from read_csv_auto('{path}')")
    con.execute(f"create view spine as {SPINE}")
    return ordered(con.execute(sql).fetchall())


def rows(frame, columns: list[str]) -> list[tuple[object, ...]]:
    """A query's rows, in `columns` order, sorted like `hand`."""
    return ordered(frame[columns].itertuples(index=False))


def ordered(found) -> list[tuple[object, ...]]:
    """Rows with times as dates (or timestamps) and NULL as None, sorted with NULLs last."""
    import datetime

    def plain(value: object) -> object:
        if value is None or value != value:  # NULL, NaN, NaT
            return None
        if hasattr(value, "to_pydatetime"):
            value = value.to_pydatetime()
        if isinstance(value, datetime.datetime) and value.time() == datetime.time(0):
            return value.date()
        return None if value is None or value != value else value

    found = [tuple(plain(v) for v in row) for row in found]
    return sorted(found, key=lambda row: tuple((v is None, str(v)) for v in row))


def same_rows(got: list[tuple[object, ...]], expected: list[tuple[object, ...]]) -> None:
    assert len(got) == len(expected), f"{len(got)} rows, expected {len(expected)}"
    for g, e in zip(got, expected):
        assert g[:-1] == e[:-1], f"{g} != {e}"
        assert (g[-1] is None and e[-1] is None) or g[-1] == pytest.approx(e[-1]), f"{g} != {e}"


def test_a_filter_on_a_grouped_dimension_keeps_one_row_per_group(answer):
    got = answer("revenue", "order__customer__region,metric_time__month",
                 "{{ Dimension('order__customer__region') }} <> 'south' "
                 "or {{ Dimension('order__customer__region') }} is null")
    same_rows(rows(got, ["order__customer__region", "metric_time__month", "revenue"]), hand("""
        select c.region, date_trunc('month', l.ordered_at), sum(l.quantity * l.unit_price)
        from order_lines l left join orders o on l.order_id = o.order_id
        left join customers c on o.customer_id = c.customer_id
        where c.region <> 'south' or c.region is null
        group by 1, 2"""))


def test_offset_to_grain_at_coarser_grains_reads_the_first_day_of_each_period(answer):
    # MetricFlow's derived_metric_with_offset_to_grain_and_multiple_granularities: each spine day reads the
    # revenue of its month's first day; only days that start a week or a month are kept, then summed
    got = answer("revenue_at_month_start", "metric_time__week,metric_time__month")
    same_rows(rows(got, ["metric_time__week", "metric_time__month", "revenue_at_month_start"]), hand(f"""
        select date_trunc('week', s.ds), date_trunc('month', s.ds), sum(r.revenue)
        from spine s join ({DAILY_REVENUE}) r on date_trunc('month', s.ds) = r.ds
        where date_trunc('week', s.ds) = s.ds or date_trunc('month', s.ds) = s.ds
        group by 1, 2"""))
    # at the offset's own grain (and coarser ones with it) MetricFlow joins after aggregating: a month
    # reads the month its first day falls in, i.e. itself
    by_month = answer("revenue_at_month_start", "metric_time__quarter,metric_time__month")
    same_rows(rows(by_month, ["metric_time__quarter", "metric_time__month", "revenue_at_month_start"]), hand("""
        select date_trunc('quarter', ordered_at), date_trunc('month', ordered_at), sum(quantity * unit_price)
        from order_lines group by 1, 2"""))
    by_quarter = answer("revenue_at_month_start", "metric_time__quarter")
    same_rows(rows(by_quarter, ["metric_time__quarter", "revenue_at_month_start"]), hand(f"""
        select date_trunc('quarter', s.ds), sum(r.revenue)
        from spine s join ({DAILY_REVENUE}) r on date_trunc('month', s.ds) = r.ds
        where date_trunc('quarter', s.ds) = s.ds
        group by 1"""))


def test_a_cumulative_metric_grouped_by_its_own_time_dimension_moves_along_the_spine(answer):
    # `order_line__ordered_at` is revenue's aggregation time: as metric_time, the window is evaluated per
    # spine day and the first day of each week is shown (period_agg: first), as by metric_time__week
    got = answer("revenue_7d,revenue_all_time", "order_line__ordered_at__week")
    assert list(got.columns) == ["order_line__ordered_at__week", "revenue_7d", "revenue_all_time"]
    windows = hand(f"""
        with daily as (
            select s.ds, sum(case when r.ds > s.ds - interval 7 day then r.revenue end) as revenue_7d,
                   sum(r.revenue) as revenue_all_time
            from spine s join ({DAILY_REVENUE}) r on r.ds <= s.ds group by s.ds)
        select date_trunc('week', ds), arg_min(revenue_7d, ds), arg_min(revenue_all_time, ds)
        from daily group by 1""")
    same_rows(rows(got, ["order_line__ordered_at__week", "revenue_7d"]), [w[:2] for w in windows])
    same_rows(rows(got, ["order_line__ordered_at__week", "revenue_all_time"]), [(w[0], w[2]) for w in windows])


def test_a_time_filter_on_a_measures_own_time_dimension_filters_the_spine_days(answer):
    got = answer("revenue_7d", "order_line__ordered_at",
                 "{{ TimeDimension('order_line__ordered_at', 'day') }} between '2024-02-01' and '2024-02-05'")
    same_rows(rows(got, ["order_line__ordered_at__day", "revenue_7d"]), hand(f"""
        select s.ds, sum(r.revenue) from spine s join ({DAILY_REVENUE}) r
          on r.ds <= s.ds and r.ds > s.ds - interval 7 day
        where s.ds between date '2024-02-01' and date '2024-02-05' group by 1"""))


def test_a_partitioned_dimension_is_joined_on_its_partition_through_the_model_that_leads_on(answer):
    # customers and memberships both have `customer` as primary key; only memberships leads on to `plan`.
    # sessions and memberships share the partition `partition_day`: a session reads its own day's plan
    got = answer("sessions,page_views", "customer__region,customer__plan__plan_name")
    same_rows(rows(got, ["customer__region", "customer__plan__plan_name", "page_views"]), hand("""
        select c.region, p.plan_name, sum(s.page_views)
        from sessions s left join customers c on s.customer_id = c.customer_id
        left join memberships m on s.customer_id = m.customer_id and s.partition_day = m.partition_day
        left join plans p on m.plan_id = p.plan_id
        group by 1, 2"""))
    assert got.sessions.sum() == 120  # each session counted once


def test_an_scd_dimension_is_joined_on_the_validity_window(answer):
    got = answer("orders", "store__manager,metric_time__month")
    same_rows(rows(got, ["store__manager", "metric_time__month", "orders"]), hand("""
        select m.manager, date_trunc('month', o.ordered_at), count(*)
        from orders o left join managers m on o.store_id = m.store_id
          and o.ordered_at >= m.valid_from and (o.ordered_at < m.valid_to or m.valid_to is null)
        group by 1, 2"""))
    assert answer("orders").orders[0] == answer("orders", "store__manager").orders.sum()


def test_a_partition_join_reads_one_row_per_partition(answer):
    got = answer("sessions", "customer__plan")
    same_rows(rows(got, ["customer__plan", "sessions"]), hand("""
        select m.plan_id, count(*) from sessions s
        left join memberships m on s.customer_id = m.customer_id and s.partition_day = m.partition_day
        group by 1"""))


# --- queries without metrics: the distinct values of the group-by items ------------------------------

def test_group_by_alone_lists_distinct_values_of_the_model_that_holds_them(answer):
    got = answer("", "customer__region")
    assert list(got.columns) == ["customer__region"]
    same_rows(rows(got, ["customer__region"]), hand("select distinct region from customers"))


def test_group_by_alone_across_models_with_a_filter(answer):
    # MetricFlow's test_constraints_on_joined_group_by_items: the model that reaches every item with the
    # fewest joins (orders) is read, joined as for a metric, filtered, and made distinct
    got = answer("", "order__channel,customer__region",
                 "{{ Dimension('customer__region') }} <> 'south' or {{ Dimension('customer__region') }} is null")
    expected = hand("""
        select distinct o.channel, c.region from orders o left join customers c on o.customer_id = c.customer_id
        where c.region <> 'south' or c.region is null""")
    assert rows(got, ["order__channel", "customer__region"]) == expected


def test_metric_time_alone_lists_the_time_spines_periods(answer):
    got = answer("", "metric_time__month", "{{ TimeDimension('metric_time', 'day') }} >= '2024-11-15'")
    assert rows(got, ["metric_time__month"]) == hand(
        "select distinct date_trunc('month', ds) from spine where ds >= date '2024-11-15'")
    by_day = answer("", "metric_time", start_time="2024-03-01", end_time="2024-03-03")
    assert list(by_day.columns) == ["metric_time__day"] and len(by_day) == 3


def test_a_time_dimension_alone_is_named_with_its_grain(answer):
    got = answer("", "customer__signup_date")
    assert list(got.columns) == ["customer__signup_date__day"]
    assert rows(got, ["customer__signup_date__day"]) == hand("select distinct signup_date from customers")


def test_metric_time_with_a_dimension_and_no_metric_crosses_every_period_with_every_value(answer, shop):
    # as `mf query --group-by metric_time__month,customer__region` answers it: nothing relates the two
    got = answer("", "metric_time__month,customer__region",
                 ("{{ TimeDimension('metric_time', 'month') }} >= '2024-10-01'",
                  "{{ Dimension('customer__region') }} <> 'south'"))
    assert list(got.columns) == ["metric_time__month", "customer__region"]
    assert rows(got, ["metric_time__month", "customer__region"]) == hand("""
        select distinct date_trunc('month', s.ds), c.region from spine s cross join customers c
        where date_trunc('month', s.ds) >= date '2024-10-01' and c.region <> 'south'""")
    with pytest.raises(QueryError, match="a filter on metric_time needs a metric, or metric_time in the group-by"):
        shop.compile_query(MetricQuery.of("", "customer__region",
                                          "{{ TimeDimension('metric_time', 'day') }} > '2024-01-01'"))


# --- default grains and sub-daily grains --------------------------------------------------------------

def test_bare_metric_time_takes_the_coarsest_default_grain_of_the_query_metrics(answer):
    # volume_by_month has `time_granularity: month`; revenue has none (its measure is timed by day)
    got = answer("volume_by_month,revenue", "metric_time")
    assert list(got.columns) == ["metric_time__month", "volume_by_month", "revenue"]
    same_rows(rows(got, ["metric_time__month", "volume_by_month"]), hand(
        "select date_trunc('month', ordered_at), count(*) from orders group by 1"))
    assert list(answer("volume_by_month", "metric_time__day").columns)[0] == "metric_time__day"


def test_sub_daily_grains_where_the_data_is_timed_to_the_second(answer):
    got = answer("sessions,page_views", "metric_time__hour")
    same_rows(rows(got, ["metric_time__hour", "page_views"]), hand(
        "select date_trunc('hour', started_at), sum(page_views) from sessions group by 1"))
    by_minute = answer("sessions", "session__started_at__minute",
                       "{{ TimeDimension('metric_time', 'hour') }} >= '2024-01-05 12:00:00'")
    same_rows(rows(by_minute, ["session__started_at__minute", "sessions"]), hand("""
        select date_trunc('minute', started_at), count(*) from sessions
        where date_trunc('hour', started_at) >= timestamp '2024-01-05 12:00:00' group by 1"""))
    assert list(answer("sessions", "session__started_at").columns)[0] == "session__started_at__second"


# The shop has a second time spine, by hour (metricflow_time_spine_hour, 2023-12-31 to 2024-01-12), that
# hourly windows, offsets and fills step along, as MetricFlow picks the coarsest spine fine enough.
HOURS = ("select range as hr from range(timestamp '2023-12-31 00:00:00', timestamp '2024-01-13 00:00:00', "
         "interval 1 hour)")
HOURLY_SESSIONS = ("select date_trunc('hour', started_at) as hr, count(*) as sessions, sum(page_views) as views "
                   "from sessions group by 1")


def test_a_window_of_hours_steps_along_the_hourly_spine(answer):
    got = answer("sessions_3h,page_views_today", "metric_time__hour")
    # an hour has a value where its window holds a session (each metric's rows, side by side)
    same_rows(rows(got.dropna(subset=["sessions_3h"]), ["metric_time__hour", "sessions_3h"]), hand(f"""
        select h.hr, sum(s.sessions) from ({HOURS}) h join ({HOURLY_SESSIONS}) s
          on s.hr <= h.hr and s.hr > h.hr - interval 3 hour
        group by 1"""))
    same_rows(rows(got.dropna(subset=["page_views_today"]), ["metric_time__hour", "page_views_today"]), hand(f"""
        select h.hr, sum(s.views) from ({HOURS}) h join ({HOURLY_SESSIONS}) s
          on s.hr <= h.hr and s.hr >= date_trunc('day', h.hr)
        group by 1"""))


def test_an_offset_of_an_hour_and_a_fill_read_every_hour_of_the_spine(answer):
    got = answer("sessions_hour_ago,sessions_filled", "metric_time__hour")
    assert len(got) == 13 * 24  # every hour of the spine: the fill gives each one a row
    same_rows(rows(got, ["metric_time__hour", "sessions_filled"]), hand(f"""
        select h.hr, coalesce(s.sessions, 0) from ({HOURS}) h left join ({HOURLY_SESSIONS}) s on s.hr = h.hr"""))
    same_rows(rows(got, ["metric_time__hour", "sessions_hour_ago"]), hand(f"""
        select h.hr, s.sessions from ({HOURS}) h left join ({HOURLY_SESSIONS}) s on s.hr = h.hr - interval 1 hour"""))
    alone = answer("", "metric_time__hour")
    assert len(alone) == 13 * 24 and list(alone.columns) == ["metric_time__hour"]


def test_by_day_an_hourly_measure_is_accumulated_and_offset_hour_by_hour_first(answer):
    # as MetricFlow joins the spine at the measure's own grain, then aggregates: a day's trailing-3-hours
    # value is the one of its first hour that has one (period_agg first), and a day's hour-earlier value
    # sums its hours' values
    got = answer("sessions_3h,sessions_hour_ago", "metric_time__day")
    same_rows(rows(got.dropna(subset=["sessions_3h"]), ["metric_time__day", "sessions_3h"]), hand(f"""
        with by_hour as (
          select h.hr, sum(s.sessions) as trailing_3h from ({HOURS}) h join ({HOURLY_SESSIONS}) s
            on s.hr <= h.hr and s.hr > h.hr - interval 3 hour
          group by 1)
        select cast(hr as date), arg_min(trailing_3h, hr) from by_hour group by 1"""))
    same_rows(rows(got.dropna(subset=["sessions_hour_ago"]), ["metric_time__day", "sessions_hour_ago"]), hand(f"""
        select cast(h.hr as date), sum(s.sessions) from ({HOURS}) h join ({HOURLY_SESSIONS}) s
          on s.hr = h.hr - interval 1 hour
        group by 1"""))


def test_an_hourly_scan_does_not_move_the_other_metrics_of_the_query_to_the_hourly_spine(answer):
    # the hourly spine covers 13 days only: a daily offset beside an hourly window keeps the daily spine
    together = answer("sessions_3h,revenue_week_ago", "metric_time__day")
    alone = answer("revenue_week_ago", "metric_time__day")
    assert len(alone) > 100
    same_rows(rows(together.dropna(subset=["revenue_week_ago"]), ["metric_time__day", "revenue_week_ago"]),
              rows(alone, ["metric_time__day", "revenue_week_ago"]))


@pytest.mark.parametrize(("metrics", "group_by", "message"), [
    ("revenue", "metric_time__hour", "'metric_time__hour' is finer than the data: 'revenue' is timed by "
                                     "'ordered_at' at day"),
    ("sessions", "metric_time__millisecond", "'sessions' is timed by 'started_at' at second"),
    ("", "metric_time__minute", "'metric_time__minute' needs a time spine by minute or finer, and the project's "
                                "time spines are by hour, day: add a time spine model whose "
                                "standard_granularity_column is at minute grain"),
    ("sessions_filled", "metric_time__hour,metric_time__fiscal_quarter", "'metric_time__fiscal_quarter' is read "
                                                                         "from the daily time spine"),
])
def test_a_grain_finer_than_the_data_or_the_spine_is_refused(shop, metrics, group_by, message):
    with pytest.raises(QueryError, match=message):
        shop.compile_query(MetricQuery.of(metrics, group_by))


# --- filters ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("where", [
    "{{ TimeDimension('metric_time', 'day') }} = CAST('2024-02-05' AS TIMESTAMP)",
    "{{ Dimension('metric_time') }} = CAST('2024-02-05' AS TIMESTAMP)",
    "{{ TimeDimension('metric_time') }} BETWEEN CAST('2024-02-05' AS DATE) AND CAST('2024-02-05' AS TIMESTAMP)",
])
def test_metric_time_in_a_filter_compared_with_casts(answer, where):
    got = answer("revenue,revenue_7d", "metric_time", where)
    same_rows(rows(got, ["metric_time__day", "revenue"]), hand(
        "select ordered_at, sum(quantity * unit_price) from order_lines "
        "where ordered_at = date '2024-02-05' group by 1"))
    same_rows(rows(got, ["metric_time__day", "revenue_7d"]), hand(f"""
        select s.ds, sum(r.revenue) from spine s join ({DAILY_REVENUE}) r
          on r.ds <= s.ds and r.ds > s.ds - interval 7 day
        where s.ds = date '2024-02-05' group by 1"""))


def test_an_entity_named_through_the_models_own_entity(answer):
    got = answer("revenue", "", "{{ Entity('order_line__product') }} = 1")
    assert got.revenue[0] == pytest.approx(hand(
        "select sum(quantity * unit_price) from order_lines where product_id = 1")[0][0])


def test_a_metric_filter_grouped_by_an_entity_with_a_local_prefix(answer):
    # MetricFlow's test_metric_filter_with_local_entity_prefix: `order__customer` is the orders model's
    # customer entity; customers are joined to it on the customer itself
    got = answer("new_customers", "customer__region", "{{ Metric('orders', group_by=['order__customer']) }} > 15")
    same_rows(rows(got, ["customer__region", "new_customers"]), hand("""
        select c.region, count(c.customer_id) from customers c
        left join (select customer_id, count(*) as orders from orders group by 1) o
          on c.customer_id = o.customer_id
        where o.orders > 15 group by 1"""))


def test_a_filter_on_a_grouped_scd_dimension_keeps_one_row_per_order(answer):
    # MetricFlow's scd_constrained_metric_with_nulls: the filter lets NULL through (orders of a store
    # before its first manager), and each order is counted once, under the manager of its day
    got = answer("orders", "store__manager,order__channel",
                 "{{ Dimension('store__manager') }} <> 'Ada' or {{ Dimension('store__manager') }} is null")
    same_rows(rows(got, ["store__manager", "order__channel", "orders"]), hand("""
        select m.manager, o.channel, count(*)
        from orders o left join managers m on o.store_id = m.store_id
          and o.ordered_at >= m.valid_from and (o.ordered_at < m.valid_to or m.valid_to is null)
        where m.manager <> 'Ada' or m.manager is null
        group by 1, 2"""))


def test_an_offset_over_a_cumulative_metric_reads_the_window_ending_on_the_offset_day(answer):
    # MetricFlow's derived_metric_offset_with_cumulative_metric: the 7-day window of the day a week before
    got = answer("revenue_7d_week_ago", "metric_time")
    same_rows(rows(got, ["metric_time__day", "revenue_7d_week_ago"]), hand(f"""
        select s.ds, sum(r.revenue) from spine s join ({DAILY_REVENUE}) r
          on r.ds <= s.ds - interval 7 day and r.ds > s.ds - interval 14 day
        group by 1"""))
    # by month: the days' values as above, the first day of each month shown (period_agg: first)
    by_month = answer("revenue_7d_week_ago", "metric_time__month")
    same_rows(rows(by_month, ["metric_time__month", "revenue_7d_week_ago"]), hand(f"""
        with daily as (
            select s.ds, sum(r.revenue) as value from spine s join ({DAILY_REVENUE}) r
              on r.ds <= s.ds - interval 7 day and r.ds > s.ds - interval 14 day group by 1)
        select date_trunc('month', ds), arg_min(value, ds) from daily group by 1"""))


def test_a_cumulative_metric_by_a_custom_granularity_takes_each_periods_first_day(answer):
    # fiscal quarters start in February, May, August and November (the time spine's fiscal_quarter column)
    got = answer("revenue_7d,revenue_all_time", "metric_time__fiscal_quarter")
    fiscal = "cast(date_trunc('quarter', s.ds - interval 1 month) + interval 1 month as date)"
    expected = hand(f"""
        with daily as (
            select s.ds, {fiscal} as fiscal_quarter,
                   sum(case when r.ds > s.ds - interval 7 day then r.revenue end) as revenue_7d,
                   sum(r.revenue) as revenue_all_time
            from spine s join ({DAILY_REVENUE}) r on r.ds <= s.ds group by 1, 2)
        select fiscal_quarter, arg_min(revenue_7d, ds) filter (where revenue_7d is not null),
               arg_min(revenue_all_time, ds)
        from daily group by 1""")
    same_rows(rows(got, ["metric_time__fiscal_quarter", "revenue_all_time"]), [(e[0], e[2]) for e in expected])
    same_rows(rows(got, ["metric_time__fiscal_quarter", "revenue_7d"]), [e[:2] for e in expected])


def test_a_window_in_a_unit_no_time_spine_steps_by_is_refused():
    from types import SimpleNamespace

    from metricsctl.compiler.plan import window_of

    with pytest.raises(QueryError, match="metric 'm': a window of 3 fiscal_quarter is not supported"):
        window_of(SimpleNamespace(count=3, granularity="fiscal_quarter"), "m")
    with pytest.raises(QueryError, match="metric 'm': a conversion window of 3 hour is not supported"):
        window_of(SimpleNamespace(count=3, granularity="hour"), "m", "conversion window", sub_daily=False)
    assert window_of(SimpleNamespace(count=3, granularity="DAY"), "m") is not None
    assert window_of(SimpleNamespace(count=3, granularity="hour"), "m") is not None


# --- offsets by custom periods --------------------------------------------------------------------------
# revenue_fiscal_quarter_ago: `offset_window: 1 fiscal_quarter` (fiscal quarters start Feb, May, Aug, Nov).
# As MetricFlow moves it: grouped by fiscal quarter, a quarter reads the previous quarter's total; grouped
# otherwise, each day's revenue moves to the day at the same position in the next fiscal quarter, and to a
# NULL day when that quarter is shorter (Nov 2023-Jan 2024 has 92 days, Feb-Apr 2024 only 90).
FISCAL_DAYS = """
    with s as (select ds, cast(date_trunc('quarter', ds - interval 1 month) + interval 1 month as date) as fq
               from spine),
    b as (select ds, fq, row_number() over (partition by fq order by ds) as pos from s),
    q as (select fq, min(ds) as first_day, max(ds) as last_day from s group by fq),
    nq as (select fq, lead(first_day) over (order by fq) as next_first, lead(last_day) over (order by fq) as next_last
           from q)
    select b.ds, case when next_first + (pos - 1) * interval 1 day <= next_last
                      then cast(next_first + (pos - 1) * interval 1 day as date) end as moved_to
    from b join nq using (fq)"""


def test_an_offset_by_fiscal_quarters_reads_the_previous_quarter_by_quarter(answer):
    got = answer("revenue_fiscal_quarter_ago", "metric_time__fiscal_quarter")
    same_rows(rows(got, ["metric_time__fiscal_quarter", "revenue_fiscal_quarter_ago"]), hand(f"""
        with fq as (select distinct cast(date_trunc('quarter', ds - interval 1 month) + interval 1 month as date) as q
                    from spine),
        totals as (select cast(date_trunc('quarter', ds - interval 1 month) + interval 1 month as date) as q,
                          sum(revenue) as revenue from ({DAILY_REVENUE}) group by 1),
        moved as (select q, lead(q) over (order by q) as later from fq)
        select moved.later, totals.revenue from totals join moved using (q)"""))


def test_an_offset_by_fiscal_quarters_moves_each_day_to_its_place_in_the_next_quarter(answer):
    got = answer("revenue_fiscal_quarter_ago", "metric_time__day")
    same_rows(rows(got, ["metric_time__day", "revenue_fiscal_quarter_ago"]), hand(f"""
        select m.moved_to, sum(r.revenue) from ({FISCAL_DAYS}) m join ({DAILY_REVENUE}) r on r.ds = m.ds
        group by 1"""))
    # worked by hand: 1 May 2024 (day 1 of May-Jul) reads 1 February (day 1 of Feb-Apr); 30 and 31 January
    # (days 91 and 92 of Nov-Jan) have no place in the 90 days of Feb-Apr and land on a NULL day
    by_day = dict(hand(f"select ds, revenue from ({DAILY_REVENUE})"))
    values = dict(rows(got, ["metric_time__day", "revenue_fiscal_quarter_ago"]))
    assert values[date(2024, 5, 1)] == pytest.approx(by_day[date(2024, 2, 1)])
    assert values[None] == pytest.approx(by_day.get(date(2024, 1, 30), 0) + by_day.get(date(2024, 1, 31), 0))
