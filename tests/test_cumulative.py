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


def test_window_metric_needs_metric_time(shop):
    from metricsctl.compiler.query import MetricQuery
    from metricsctl.errors import QueryError

    with __import__("pytest").raises(QueryError, match="needs metric_time"):
        shop.compile_query(MetricQuery.of("revenue_7d"))
