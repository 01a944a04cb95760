"""Ratio and derived metrics, including offsets (period over period), against pandas."""

from __future__ import annotations

import pandas as pd

from tests.conftest import assert_series, month, seed


def revenue_by(key: str) -> pd.Series:
    lines = seed("order_lines")
    lines["revenue"] = lines.quantity * lines.unit_price
    lines["month"] = month(lines.ordered_at)
    return lines.groupby(key).revenue.sum()


def test_ratio_across_two_models(answer):
    got = answer("revenue_per_order", "metric_time__month")
    orders = seed("orders")
    expected = revenue_by("month") / orders.groupby(month(orders.ordered_at)).size()
    assert_series(got, "metric_time__month", "revenue_per_order", expected)


def test_ratio_with_a_filtered_numerator(answer):
    got = answer("online_order_share", "metric_time__month")
    orders = seed("orders")
    orders["month"] = month(orders.ordered_at)
    expected = orders[orders.channel == "online"].groupby("month").size() / orders.groupby("month").size()
    assert_series(got, "metric_time__month", "online_order_share", expected)


def test_derived_with_alias_and_nesting(answer):
    got = answer("avg_line_value,revenue_minus_order_total,online_share_of_revenue_pct", "metric_time__month")
    lines = seed("order_lines")
    lines["revenue"] = lines.quantity * lines.unit_price
    lines["month"] = month(lines.ordered_at)
    orders = seed("orders")
    revenue = lines.groupby("month").revenue.sum()
    assert_series(got, "metric_time__month", "avg_line_value", revenue / lines.groupby("month").size())
    assert_series(got, "metric_time__month", "revenue_minus_order_total",
                  revenue - orders.groupby(month(orders.ordered_at)).amount.sum(), rel=1e-6)
    online_ids = set(orders[orders.channel == "online"].order_id)
    online = lines[lines.order_id.isin(online_ids)].groupby("month").revenue.sum()
    assert_series(got, "metric_time__month", "online_share_of_revenue_pct", 100 * online / revenue)


def test_month_over_month_growth(answer):
    got = answer("revenue,revenue_mom_growth", "metric_time__month")
    revenue = revenue_by("month")
    previous = revenue.shift(1, freq="MS")
    growth = ((revenue - previous) / previous).reindex(got.metric_time__month)
    # MetricFlow keeps the spine's months after the data ends: July has last month's value but no revenue
    assert_series(got, "metric_time__month", "revenue_mom_growth", growth.rename_axis("metric_time__month"))
    assert got.metric_time__month.max() == pd.Timestamp("2024-07-01")


def test_offset_window_in_days_at_day_and_month_grain(answer):
    daily = revenue_by("ordered_at")
    got = answer("revenue_week_ago", "metric_time__day")
    shifted = daily.copy()
    shifted.index = shifted.index + pd.Timedelta(days=7)
    assert_series(got, "metric_time__day", "revenue_week_ago", shifted)
    # at month grain the shift happens per day, then days are summed into months
    by_month = answer("revenue_week_ago", "metric_time__month")
    assert_series(by_month, "metric_time__month", "revenue_week_ago",
                  shifted.groupby(month(shifted.index.to_series())).sum())


def test_offset_to_grain(answer):
    daily = revenue_by("ordered_at")
    got = answer("revenue_at_month_start", "metric_time__day")
    # every day of a month reads the revenue of the month's first day (if there was any)
    spine = pd.date_range("2023-10-01", "2024-12-31", freq="D")
    first_days = pd.Series(spine.to_period("M").to_timestamp(), index=spine)
    expected = first_days.map(daily).dropna()
    assert_series(got, "metric_time__day", "revenue_at_month_start", expected)


def test_a_filter_from_mid_month_keeps_that_month_of_an_offset_read_from_the_whole_month_before(answer):
    # As MetricFlow answers it: a filter on metric_time keeps the time spine's days it matches, at its own
    # grain, and a month is reported when one of its days is kept. The offset input is read from every row of
    # the month before; the plain revenue from the rows the filter keeps.
    where = "{{ TimeDimension('metric_time', 'day') }} >= '2024-03-15'"
    got = answer("revenue,revenue_mom_growth,revenue_at_month_start", "metric_time__month", where)
    lines = seed("order_lines")
    lines["revenue"] = lines.quantity * lines.unit_price
    lines["month"] = month(lines.ordered_at)
    whole = lines.groupby("month").revenue.sum()
    kept = lines[lines.ordered_at >= "2024-03-15"].groupby("month").revenue.sum()
    assert got.metric_time__month.min() == pd.Timestamp("2024-03-01")
    assert_series(got, "metric_time__month", "revenue", kept.reindex(got.metric_time__month))
    before = whole.shift(1, freq="MS")
    growth = (kept - before) / before
    assert_series(got, "metric_time__month", "revenue_mom_growth", growth.reindex(got.metric_time__month))
    assert_series(got, "metric_time__month", "revenue_at_month_start", whole.reindex(got.metric_time__month))


def test_a_filter_on_metric_time_and_another_dimension_applies_to_an_offset_inputs_rows(answer):
    # As MetricFlow answers it: a filter that reads another dimension besides metric_time is not a choice of
    # periods; it keeps the rows it matches, and last month's value is read from last month's kept rows.
    where = ("{{ TimeDimension('metric_time', 'day') }} >= '2024-03-15' "
             "or {{ Dimension('order__channel') }} = 'online'")
    got = answer("revenue_mom_growth", "metric_time__month,order__channel", where)
    lines = seed("order_lines").merge(seed("orders")[["order_id", "channel"]], on="order_id")
    lines["revenue"] = lines.quantity * lines.unit_price
    lines["month"] = month(lines.ordered_at)
    kept = lines[(lines.ordered_at >= "2024-03-15") | (lines.channel == "online")]
    by_channel = kept.groupby(["month", "channel"]).revenue.sum()
    before = by_channel.rename(index=lambda m: m + pd.DateOffset(months=1), level=0)
    growth = ((by_channel - before) / before).dropna()
    growth.index.names = ["metric_time__month", "order__channel"]
    assert_series(got.dropna(subset=["revenue_mom_growth"]), ["metric_time__month", "order__channel"],
                  "revenue_mom_growth", growth)
