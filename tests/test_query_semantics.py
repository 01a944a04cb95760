"""MetricFlow's query semantics beyond the common case, each checked against pandas over the seed CSVs.

Each test names the rule it shows, as `mf query` applies it.
"""

from __future__ import annotations

from tests.conftest import assert_series, month, seed


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
