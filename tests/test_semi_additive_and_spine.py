"""Semi-additive measures, time-spine joins and null filling, custom granularities and date parts."""

from __future__ import annotations

import pandas as pd

from tests.conftest import assert_series, month, seed
from tests.test_conversion import attributed


def balances() -> pd.DataFrame:
    frame = seed("inventory_balances").merge(seed("products")[["product_id", "category"]], on="product_id")
    frame["month"] = month(frame.balance_date)
    return frame


def test_balance_at_the_last_and_first_day_of_each_month(answer):
    got = answer("stock_on_hand,opening_stock", "metric_time__month")
    frame = balances()
    last_day = frame.groupby("month").balance_date.transform("max")
    first_day = frame.groupby("month").balance_date.transform("min")
    assert_series(got, "metric_time__month", "stock_on_hand",
                  frame[frame.balance_date == last_day].groupby("month").on_hand.sum())
    assert_series(got, "metric_time__month", "opening_stock",
                  frame[frame.balance_date == first_day].groupby("month").on_hand.sum())


def test_window_groupings_pick_the_latest_day_per_product(answer):
    # rugs (product 4) are counted a day after the other products, so "the latest day" differs:
    # overall it is the rugs' day alone; per product it is each product's own latest day
    full = balances()
    got = answer("stock_on_hand,latest_stock_per_product", "metric_time__month,product__category")
    last_in_month = full.groupby("month").balance_date.transform("max")
    expected = full[full.balance_date == last_in_month].groupby(["month", "category"]).on_hand.sum()
    assert_series(got.dropna(subset=["stock_on_hand"]), ["metric_time__month", "product__category"],
                  "stock_on_hand", expected)
    per_product_last = full.groupby(["month", "product_id"]).balance_date.transform("max")
    expected_pp = full[full.balance_date == per_product_last].groupby(["month", "category"]).on_hand.sum()
    assert_series(got, ["metric_time__month", "product__category"], "latest_stock_per_product", expected_pp)
    assert not expected.sort_index().equals(expected_pp.sort_index())


def test_semi_additive_without_time_takes_the_latest_day_overall(answer):
    got = answer("stock_on_hand")
    frame = balances()
    assert got.stock_on_hand[0] == frame[frame.balance_date == frame.balance_date.max()].on_hand.sum()


def test_join_to_timespine_fills_every_spine_period(answer):
    got = answer("promo_orders_filled", "metric_time__month")
    orders = seed("orders")
    promo = orders.groupby(month(orders.ordered_at)).is_promo.sum()
    spine_months = pd.date_range("2023-10-01", "2024-12-01", freq="MS")
    expected = promo.reindex(spine_months).fillna(0)
    assert_series(got, "metric_time__month", "promo_orders_filled", expected.rename_axis("metric_time__month"))


def test_a_filled_measure_offset_accumulated_or_semi_additive_still_fills_every_spine_day(answer):
    # As MetricFlow answers it: join_to_timespine holds for the measure whatever reads it, so each of the
    # spine's 458 days appears, with 0 where the offset day, the 7 days or the day itself have no rows.
    got = answer("promo_orders_filled_week_ago,promo_orders_filled_7d,stock_on_hand_filled", "metric_time__day")
    spine_days = pd.date_range("2023-10-01", "2024-12-31", freq="D")
    orders = seed("orders")
    promo = orders.groupby(orders.ordered_at.dt.normalize()).is_promo.sum().reindex(spine_days).fillna(0)
    week_ago = promo.shift(7).fillna(0)
    seven_days = promo.rolling(7, min_periods=1).sum()
    stock = balances().groupby("balance_date").on_hand.sum().reindex(spine_days).fillna(0)
    for column, expected in [("promo_orders_filled_week_ago", week_ago), ("promo_orders_filled_7d", seven_days),
                             ("stock_on_hand_filled", stock)]:
        assert_series(got, "metric_time__day", column, expected.rename_axis("metric_time__day"))
    assert len(got) == 458 and (got.stock_on_hand_filled == 0).any() and (got.promo_orders_filled_7d == 0).any()


def test_fill_nulls_with_replaces_nulls_from_the_outer_join(answer):
    got = answer("new_customers_zero,visits", "metric_time__month")
    customers = seed("customers")
    new = customers.groupby(month(customers.signup_date)).size()
    expected = new.reindex(got.metric_time__month).fillna(0)
    assert_series(got, "metric_time__month", "new_customers_zero", expected.rename_axis("metric_time__month"))
    assert (got.new_customers_zero == 0).any()


def test_a_derived_metric_fills_its_inputs_on_its_own_rows_only(answer):
    # As MetricFlow answers it: a derived metric is computed over the rows its inputs have (a new customer or an
    # online order that day), its filled inputs 0 where one of them has no row. A day with store orders alone is
    # a row of `orders` only: the derived metric is NULL there, not 0 + 0.
    got = answer("new_customers_and_online_orders,orders", "metric_time__day")
    orders, customers = seed("orders"), seed("customers")
    per_day = orders.groupby(orders.ordered_at.dt.normalize()).size()
    online = orders[orders.channel == "online"].groupby(orders.ordered_at.dt.normalize()).size()
    new = customers.groupby(customers.signup_date.dt.normalize()).size()
    own_days = online.index.union(new.index)
    days = per_day.index.union(own_days)
    derived = (new.reindex(own_days).fillna(0) + online.reindex(own_days).fillna(0)).reindex(days)
    assert_series(got, "metric_time__day", "new_customers_and_online_orders", derived.rename_axis("metric_time__day"))
    assert_series(got, "metric_time__day", "orders", per_day.reindex(days).rename_axis("metric_time__day"))
    assert got.new_customers_and_online_orders.isna().sum() == len(per_day.index.difference(own_days)) > 0


def test_cumulative_conversion_and_coalescing_metrics_are_answered_on_their_own_rows_only(answer):
    # As MetricFlow answers them: a filled cumulative metric has the days its 7-day window holds a sign-up, a
    # filled conversion count the days with visits (0 where none converted), a derived metric whose expression
    # makes a value of NULL the days with sign-ups; on a day only another metric of the query has, each is NULL.
    got = answer("new_customers_7d_zero,new_customers_plus_one,visit_conversions_zero,orders", "metric_time__day")
    orders, customers, visits = seed("orders"), seed("customers"), seed("visits")
    per_day = orders.groupby(orders.ordered_at.dt.normalize()).size()
    signups = customers.groupby(customers.signup_date.dt.normalize()).size()
    calendar = pd.date_range(signups.index.min(), signups.index.max() + pd.Timedelta(days=6), freq="D")
    rolling = signups.reindex(calendar).fillna(0).rolling(7, min_periods=1).sum()
    window_days = rolling[rolling > 0]
    visit_days = visits.groupby(visits.visited_at.dt.normalize()).size().index
    converted = attributed(7)
    conversions = converted.groupby(converted.visited_at.dt.normalize()).size().reindex(visit_days).fillna(0)
    days = per_day.index.union(window_days.index).union(signups.index).union(visit_days)
    for column, expected in [("new_customers_7d_zero", window_days), ("new_customers_plus_one", signups + 1),
                             ("visit_conversions_zero", conversions), ("orders", per_day)]:
        assert_series(got, "metric_time__day", column, expected.reindex(days).rename_axis("metric_time__day"))
    assert got.visit_conversions_zero.eq(0).any() and got.new_customers_plus_one.isna().any()


def fiscal_quarter(day: pd.Timestamp) -> pd.Timestamp:
    """Fiscal years start on 1 February."""
    shifted = day - pd.DateOffset(months=1)
    start = pd.Timestamp(year=shifted.year, month=3 * ((shifted.month - 1) // 3) + 1, day=1)
    return start + pd.DateOffset(months=1)


def test_custom_granularity_from_the_time_spine(answer):
    got = answer("revenue", "metric_time__fiscal_quarter")
    lines = seed("order_lines")
    lines["revenue"] = lines.quantity * lines.unit_price
    lines["fq"] = lines.ordered_at.map(fiscal_quarter)
    got["metric_time__fiscal_quarter"] = pd.to_datetime(got.metric_time__fiscal_quarter)
    assert_series(got, "metric_time__fiscal_quarter", "revenue", lines.groupby("fq").revenue.sum())
    assert sorted(got.metric_time__fiscal_quarter.dt.month) == [2, 5, 11]


def test_date_part_day_of_week_is_iso(answer):
    got = answer("orders", "metric_time__extract_dow")
    orders = seed("orders")
    expected = orders.groupby(orders.ordered_at.dt.dayofweek + 1).size()
    assert_series(got, "metric_time__extract_dow", "orders", expected)


def test_year_grain_and_a_dimension_time_grain(answer):
    got = answer("orders", "metric_time__year,customer__signup_date__month")
    orders = seed("orders").merge(seed("customers"), on="customer_id")
    expected = orders.groupby(month(orders.signup_date)).size()
    got["customer__signup_date__month"] = pd.to_datetime(got.customer__signup_date__month)
    assert_series(got, "customer__signup_date__month", "orders", expected)
    assert set(got.metric_time__year) == {pd.Timestamp("2024-01-01")}


def test_a_time_filter_also_limits_the_spine_periods(answer):
    where = "{{ TimeDimension('metric_time', 'month') }} >= '2024-05-01'"
    got = answer("promo_orders_filled", "metric_time__month", where)
    orders = seed("orders")
    promo = orders.groupby(month(orders.ordered_at)).is_promo.sum()
    spine_months = pd.date_range("2024-05-01", "2024-12-01", freq="MS")
    expected = promo.reindex(spine_months).fillna(0).rename_axis("metric_time__month")
    assert_series(got, "metric_time__month", "promo_orders_filled", expected)
