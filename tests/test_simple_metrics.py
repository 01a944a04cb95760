"""Simple metrics over every measure aggregation, checked against pandas over the seed CSVs."""

from __future__ import annotations

import math

import pandas as pd

from tests.conftest import assert_series, month, seed


def lines() -> pd.DataFrame:
    frame = seed("order_lines")
    frame["revenue"] = frame.quantity * frame.unit_price
    frame["month"] = month(frame.ordered_at)
    return frame


def orders() -> pd.DataFrame:
    frame = seed("orders")
    frame["quarter"] = frame.ordered_at.dt.to_period("Q").dt.to_timestamp()
    frame["week"] = frame.ordered_at.dt.to_period("W-SUN").dt.start_time  # ISO weeks start on Monday
    return frame


def test_sum_by_month(answer):
    got = answer("revenue,quantity", "metric_time__month")
    expected = lines().groupby("month")
    assert_series(got, "metric_time__month", "revenue", expected.revenue.sum())
    assert_series(got, "metric_time__month", "quantity", expected.quantity.sum())


def test_count_count_distinct_and_sum_boolean_by_week(answer):
    got = answer("order_count,ordering_customers,promo_orders,orders", "metric_time__week")
    by_week = orders().groupby("week")
    assert_series(got, "metric_time__week", "order_count", by_week.order_id.count())
    assert_series(got, "metric_time__week", "ordering_customers", by_week.customer_id.nunique())
    assert_series(got, "metric_time__week", "promo_orders", by_week.is_promo.sum())
    assert_series(got, "metric_time__week", "orders", by_week.size())


def discrete_percentile(values: pd.Series, p: float) -> float:
    """PERCENTILE_DISC: the first value whose cumulative share reaches p."""
    ordered = sorted(values)
    return float(ordered[math.ceil(p * len(ordered)) - 1])


def test_average_min_max_median_and_percentiles_by_quarter(answer):
    got = answer("avg_order_amount,min_order_amount,max_order_amount,median_order_amount,"
                 "p90_order_amount,p90_order_amount_discrete", "metric_time__quarter")
    by_quarter = orders().groupby("quarter").amount
    assert_series(got, "metric_time__quarter", "avg_order_amount", by_quarter.mean())
    assert_series(got, "metric_time__quarter", "min_order_amount", by_quarter.min())
    assert_series(got, "metric_time__quarter", "max_order_amount", by_quarter.max())
    assert_series(got, "metric_time__quarter", "median_order_amount", by_quarter.median())
    assert_series(got, "metric_time__quarter", "p90_order_amount", by_quarter.quantile(0.9))
    assert_series(got, "metric_time__quarter", "p90_order_amount_discrete",
                  by_quarter.apply(lambda s: discrete_percentile(s, 0.9)))


def test_metrics_of_different_models_and_time_dimensions(answer):
    got = answer("new_customers,visits,visitors", "metric_time__month")
    customers = seed("customers")
    visits = seed("visits")
    new = customers.groupby(month(customers.signup_date)).customer_id.count()
    assert_series(got.dropna(subset=["new_customers"]), "metric_time__month", "new_customers", new)
    assert_series(got, "metric_time__month", "visits", visits.groupby(month(visits.visited_at)).size())
    assert_series(got, "metric_time__month", "visitors",
                  visits.groupby(month(visits.visited_at)).customer_id.nunique())
    # months without signups are still listed, with NULL: MetricFlow's outer join of metrics
    months_without_signups = set(got.metric_time__month) - set(new.index)
    assert months_without_signups and got[got.metric_time__month.isin(months_without_signups)] \
        .new_customers.isna().all()


def test_no_group_by_is_one_total_row(answer):
    got = answer("revenue,orders")
    assert len(got) == 1
    assert got.revenue[0] == __import__("pytest").approx(lines().revenue.sum())
    assert got.orders[0] == len(seed("orders"))


def test_bare_metric_time_means_the_finest_common_grain(answer):
    got = answer("orders", "metric_time")
    assert list(got.columns) == ["metric_time__day", "orders"]
    assert_series(got, "metric_time__day", "orders", seed("orders").groupby("ordered_at").size())
