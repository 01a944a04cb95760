"""Cumulative metrics: windows, grain-to-date, all-time, and period_agg at coarser grains.

MetricFlow's semantics: a cumulative value exists for every day of the time spine whose window holds at
least one row; at a coarser grain, the period takes the first (default), last or average of its days.
"""

from __future__ import annotations

import pandas as pd

from tests.conftest import assert_series, month, seed

SPINE = pd.date_range("2023-10-01", "2024-12-31", freq="D")


def daily_revenue() -> pd.DataFrame:
    lines = seed("order_lines")
    lines["revenue"] = lines.quantity * lines.unit_price
    return lines[["ordered_at", "revenue"]]


def cumulative(rows: pd.DataFrame, value: str, start_of_window, agg: str = "sum") -> pd.Series:
    """For each spine day d: agg of rows with start_of_window(d) <= day <= d, days without rows dropped."""
    out = {}
    for day in SPINE:
        window = rows[(rows.iloc[:, 0] <= day) & (rows.iloc[:, 0] >= start_of_window(day))]
        if len(window):
            out[day] = window[value].sum() if agg == "sum" else window[value].nunique()
    return pd.Series(out, dtype=float)


def per_month(daily: pd.Series, how: str) -> pd.Series:
    frame = daily.to_frame("v")
    frame["month"] = month(frame.index.to_series())
    grouped = frame.groupby("month").v
    return {"first": grouped.first, "last": grouped.last, "average": grouped.mean}[how]()


def test_trailing_window_and_month_to_date_by_day(answer):
    rows = daily_revenue()
    got = answer("revenue_7d,revenue_mtd", "metric_time__day")
    seven = cumulative(rows, "revenue", lambda d: d - pd.Timedelta(days=6))
    mtd = cumulative(rows, "revenue", lambda d: d.replace(day=1))
    assert_series(got.dropna(subset=["revenue_7d"]), "metric_time__day", "revenue_7d", seven)
    assert_series(got.dropna(subset=["revenue_mtd"]), "metric_time__day", "revenue_mtd", mtd)


def test_period_agg_first_last_and_average_by_month(answer):
    rows = daily_revenue()
    seven = cumulative(rows, "revenue", lambda d: d - pd.Timedelta(days=6))
    got = answer("revenue_7d,revenue_7d_last,revenue_7d_avg", "metric_time__month")
    assert_series(got, "metric_time__month", "revenue_7d", per_month(seven, "first"))
    assert_series(got, "metric_time__month", "revenue_7d_last", per_month(seven, "last"))
    assert_series(got, "metric_time__month", "revenue_7d_avg", per_month(seven, "average"))


def test_all_time_by_month_runs_to_the_end_of_the_spine(answer):
    rows = daily_revenue()
    running = cumulative(rows, "revenue", lambda d: pd.Timestamp("1900-01-01"))
    got = answer("revenue_all_time", "metric_time__month")
    assert_series(got, "metric_time__month", "revenue_all_time", per_month(running, "first"))
    assert got.metric_time__month.max() == pd.Timestamp("2024-12-01")


def test_all_time_without_metric_time_is_the_total(answer):
    got = answer("revenue_all_time")
    assert got.revenue_all_time[0] == __import__("pytest").approx(daily_revenue().revenue.sum())


def test_distinct_count_over_a_window_is_not_summed(answer):
    visits = seed("visits")[["visited_at", "customer_id"]]
    got = answer("visitors_7d", "metric_time__day")
    expected = cumulative(visits, "customer_id", lambda d: d - pd.Timedelta(days=6), agg="nunique")
    assert_series(got, "metric_time__day", "visitors_7d", expected)


def test_plain_sums_beside_a_window_keep_their_rows_and_periods(answer):
    # revenue and line_count are summed from the daily sums revenue_7d reads (windows.py): a month cut
    # by a filter on metric_time sums only its days from the 3rd on, while the window of its first day
    # still reads the rows before it (the filter picks days, not rows)
    lines = seed("order_lines")
    lines["revenue"] = lines.quantity * lines.unit_price
    where = "{{ TimeDimension('metric_time', 'day') }} >= CAST('2024-03-03' AS DATE)"
    got = answer("revenue,line_count,revenue_7d", "metric_time__month", where=where)
    kept = lines[lines.ordered_at >= "2024-03-03"]
    by_month = kept.groupby(month(kept.ordered_at))
    assert_series(got.dropna(subset=["revenue"]), "metric_time__month", "revenue", by_month.revenue.sum())
    assert_series(got.dropna(subset=["line_count"]), "metric_time__month", "line_count",
                  by_month.order_line_id.count())
    seven = cumulative(lines[["ordered_at", "revenue"]], "revenue", lambda d: d - pd.Timedelta(days=6))
    assert_series(got, "metric_time__month", "revenue_7d", per_month(seven[seven.index >= "2024-03-03"], "first"))
    assert got.metric_time__month.min() == pd.Timestamp("2024-03-01")


# --- distinct counts since a fixed start: each value counts from the first day it appears ----------
ALL_TIME = pd.Timestamp("1900-01-01")


def visits() -> pd.DataFrame:
    frame = seed("visits")[["visited_at", "customer_id", "source"]]
    frame["online_customer_id"] = frame.customer_id.where(frame.source == "online")
    return frame


def test_distinct_visitors_since_the_start_and_month_to_date_by_day(answer):
    rows = visits()
    got = answer("visitors_all_time,visitors_mtd,online_visitors_all_time", "metric_time__day")
    assert_series(got, "metric_time__day", "visitors_all_time",
                  cumulative(rows, "customer_id", lambda d: ALL_TIME, agg="nunique"))
    assert_series(got.dropna(subset=["visitors_mtd"]), "metric_time__day", "visitors_mtd",
                  cumulative(rows, "customer_id", lambda d: d.replace(day=1), agg="nunique"))
    # store visits have no online customer: a day with only those counts 0, not a missing day
    assert_series(got, "metric_time__day", "online_visitors_all_time",
                  cumulative(rows, "online_customer_id", lambda d: ALL_TIME, agg="nunique"))


def test_a_visitor_seen_in_two_groups_counts_once_in_each_and_once_overall(answer):
    rows = visits().merge(seed("customers")[["customer_id", "region"]], on="customer_id")
    got = answer("visitors_all_time", "metric_time__month,customer__region")
    expected = {}
    for region, part in rows.groupby("region"):
        daily = cumulative(part[["visited_at", "customer_id"]], "customer_id", lambda d: ALL_TIME, agg="nunique")
        for when, value in per_month(daily, "first").items():
            expected[(when, region)] = value
    known = got[got.customer__region.notna()]  # visits of customers missing from customers: a NULL region
    assert_series(known, ["metric_time__month", "customer__region"], "visitors_all_time", pd.Series(expected))
    # a filter on a dimension the query does not group by keeps a customer who visited both ways once
    both = answer("visitors_all_time", "metric_time__month",
                  where="{{ Dimension('visit__source') }} in ('store', 'online')")
    assert_series(both, "metric_time__month", "visitors_all_time",
                  per_month(cumulative(rows[["visited_at", "customer_id"]], "customer_id", lambda d: ALL_TIME,
                                       agg="nunique"), "first"))


def test_a_filtered_distinct_count_since_the_start_counts_the_filtered_rows_only(answer):
    rows = visits()
    store = rows[rows.source == "store"][["visited_at", "customer_id"]]
    got = answer("store_visitors_all_time", "metric_time__month")
    assert_series(got, "metric_time__month", "store_visitors_all_time",
                  per_month(cumulative(store, "customer_id", lambda d: ALL_TIME, agg="nunique"), "first"))


def test_a_filter_on_metric_time_picks_days_not_rows(answer):
    rows = visits()
    got = answer("visitors_all_time", "metric_time__day",
                 where="{{ TimeDimension('metric_time', 'day') }} >= '2024-06-01'")
    everything = cumulative(rows, "customer_id", lambda d: ALL_TIME, agg="nunique")
    assert_series(got, "metric_time__day", "visitors_all_time", everything[everything.index >= "2024-06-01"])


def test_window_metric_needs_metric_time(shop):
    from metricsctl.compiler.query import MetricQuery
    from metricsctl.errors import QueryError

    with __import__("pytest").raises(QueryError, match="needs metric_time"):
        shop.compile_query(MetricQuery.of("revenue_7d"))
