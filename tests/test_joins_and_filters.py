"""Joins through entities (one and two hops), metric and query filters, and refused fan-outs."""

from __future__ import annotations

import pandas as pd
import pytest

from metricsctl.compiler.query import MetricQuery
from metricsctl.errors import QueryError
from tests.conftest import assert_series, month, seed


def lines_with_orders() -> pd.DataFrame:
    lines = seed("order_lines")
    lines["revenue"] = lines.quantity * lines.unit_price
    orders = seed("orders").drop(columns=["ordered_at"])
    customers = seed("customers")
    joined = lines.merge(orders, on="order_id", how="left").merge(customers, on="customer_id", how="left")
    joined["month"] = month(joined.ordered_at)
    return joined


def test_two_hop_group_by(answer):
    got = answer("revenue", "order__customer__region")
    expected = lines_with_orders().groupby("region", dropna=False).revenue.sum()
    got = got.fillna({"order__customer__region": "<null>"})
    assert_series(got, "order__customer__region", "revenue", expected.rename(index={pd.NA: "<null>"})
                  .rename(lambda k: "<null>" if pd.isna(k) else k))


def test_one_hop_group_by_on_two_models(answer):
    got = answer("revenue", "product__category,order__channel")
    lines = lines_with_orders().merge(seed("products")[["product_id", "category"]], on="product_id")
    expected = lines.groupby(["category", "channel"]).revenue.sum()
    assert_series(got, ["product__category", "order__channel"], "revenue", expected)


def test_metric_filter_through_a_join(answer):
    got = answer("online_revenue,north_revenue", "metric_time__month")
    joined = lines_with_orders()
    online = joined[joined.channel == "online"].groupby("month").revenue.sum()
    north = joined[joined.region == "north"].groupby("month").revenue.sum()
    assert_series(got, "metric_time__month", "online_revenue", online)
    assert_series(got, "metric_time__month", "north_revenue", north)


def test_measure_filter_and_time_filter_in_definitions(answer):
    got = answer("store_order_total,january_orders", "metric_time__month")
    orders = seed("orders")
    orders["month"] = month(orders.ordered_at)
    store = orders[orders.channel == "store"].groupby("month").amount.sum()
    assert_series(got, "metric_time__month", "store_order_total", store)
    january = got.set_index("metric_time__month").january_orders.dropna()
    assert list(january.index) == [pd.Timestamp("2024-01-01")]
    assert january.iloc[0] == (orders.month == "2024-01-01").sum()


def test_query_filter_applies_to_every_metric(answer):
    where = "{{ Dimension('customer__region') }} = 'north'"
    got = answer("orders,order_total", "metric_time__month", where)
    orders = seed("orders").merge(seed("customers"), on="customer_id")
    north = orders[orders.region == "north"]
    assert_series(got, "metric_time__month", "orders", north.groupby(month(north.ordered_at)).size())
    assert_series(got, "metric_time__month", "order_total",
                  north.groupby(month(north.ordered_at)).amount.sum())


def test_entity_group_by(answer):
    got = answer("orders", "customer")
    assert_series(got, "customer", "orders", seed("orders").groupby("customer_id").size())


def test_filter_on_a_time_dimension_with_grain(answer):
    where = "{{ TimeDimension('metric_time', 'month') }} >= '2024-05-01'"
    got = answer("orders", "metric_time__month", where)
    assert sorted(got.metric_time__month.dt.month) == [5, 6]


def test_start_and_end_time(answer):
    got = answer("orders", "metric_time__month", start_time="2024-02-15", end_time="2024-03-10")
    orders = seed("orders")
    by_month = orders.groupby(month(orders.ordered_at)).size()
    assert_series(got, "metric_time__month", "orders", by_month.loc["2024-02-01":"2024-03-01"])


def test_a_shorter_entity_path_is_read_through_the_one_path_that_fits_as_mf_query_reads_it(shop, answer):
    # order lines reach customers through orders: asked as `metricsctl query` (and `mf query`) ask, `customer__region`
    # is `order__customer__region`, and the column is named by that path, as `mf query` names it
    query = shop.request(metrics="revenue", group_by="customer__region", order_by="-customer__region")
    assert query.shorter_paths
    result = shop.query(query)
    got = pd.DataFrame(result.rows, columns=list(result.columns))
    assert list(got.columns) == ["order__customer__region", "revenue"]
    assert list(got.order__customer__region[:3]) == ["west", "south", "north"]  # ordered by the name asked for
    expected = lines_with_orders().groupby("region", dropna=False).revenue.sum()
    got = got.fillna({"order__customer__region": "<null>"})
    assert_series(got, "order__customer__region", "revenue", expected.rename(lambda k: "<null>" if pd.isna(k) else k))
    # a time dimension, and a filter, by a shorter path too
    by_signup = answer("revenue", "customer__signup_date__month", shorter_paths=True)
    lines = lines_with_orders()
    assert_series(by_signup, "order__customer__signup_date__month", "revenue",
                  lines.groupby(month(lines.signup_date)).revenue.sum())
    north = answer("revenue", "metric_time__month", "{{ Dimension('customer__region') }} = 'north'",
                   shorter_paths=True)
    assert_series(north, "metric_time__month", "revenue",
                  lines[lines.region == "north"].groupby("month").revenue.sum().rename_axis("metric_time__month"))


def test_a_shorter_path_naming_different_items_for_the_querys_models_is_refused(shop):
    # as MetricFlow refuses it: revenue reaches the customer through its order, orders directly
    with pytest.raises(QueryError, match="'customer__region' names a different item for the semantic models of the "
                                         "query's metrics: order__customer__region for order_lines; customer__region "
                                         "for orders"):
        shop.compile_query(MetricQuery.of("revenue,orders", "customer__region", shorter_paths=True))


def test_fan_out_join_is_refused(shop):
    # orders -> visits on `customer` would match many visits per order
    with pytest.raises(QueryError, match="fan out"):
        shop.compile_query(MetricQuery.of("orders", "customer__source"))


def test_unknown_names_get_suggestions(shop):
    with pytest.raises(QueryError, match="did you mean 'revenue'"):
        shop.compile_query(MetricQuery.of("revenu"))
    with pytest.raises(QueryError, match="did you mean 'order__customer__region'"):
        shop.compile_query(MetricQuery.of("revenue", "order__customer__regoin"))
    with pytest.raises(QueryError, match="not available for semantic model 'order_lines'"):  # names as given
        shop.compile_query(MetricQuery.of("revenue", "customer__region"))


@pytest.mark.parametrize("where", [
    "1=1; drop table orders",
    "{{ Dimension('order__channel') }} in (select 'online')",
    "drop table orders",
    "amount > 100",
    "{{ Dimension('order__channel') }} = 'online' union select 1",
])
def test_unsafe_where_is_refused_before_anything_runs(shop, where):
    with pytest.raises(QueryError):
        shop.compile_query(MetricQuery.of("orders", "metric_time__month", where))


def test_metric_filter_in_a_definition(answer):
    got = answer("orders_from_big_spenders", "metric_time__month")
    orders = seed("orders")
    big = orders.groupby("customer_id").amount.sum().loc[lambda s: s > 2000].index
    chosen = orders[orders.customer_id.isin(big)]
    assert 0 < len(chosen) < len(orders)
    assert_series(got, "metric_time__month", "orders_from_big_spenders",
                  chosen.groupby(month(chosen.ordered_at)).size())


def test_metric_filter_in_a_query_joined_on_a_primary_entity(answer):
    where = "{{ Metric('revenue', group_by=['order']) }} > 300"
    got = answer("orders", "metric_time__month", where)
    lines = seed("order_lines")
    per_order = (lines.quantity * lines.unit_price).groupby(lines.order_id).sum()
    orders = seed("orders")
    chosen = orders[orders.order_id.isin(per_order[per_order > 300].index)]
    assert_series(got, "metric_time__month", "orders", chosen.groupby(month(chosen.ordered_at)).size())


def test_metric_filter_without_group_by_is_refused(shop):
    with pytest.raises(QueryError, match="needs group_by"):
        shop.compile_query(MetricQuery.of("orders", "", "{{ Metric('revenue') }} > 1"))


def test_filtered_and_unfiltered_metrics_of_one_scan_keep_their_own_rows(answer):
    got = answer("orders,order_count,january_orders,store_order_total", "metric_time__month")
    orders = seed("orders")
    orders["month"] = month(orders.ordered_at)
    assert_series(got, "metric_time__month", "order_count", orders.groupby("month").order_id.count())
    store = orders[orders.channel == "store"].groupby("month").amount.sum()
    assert_series(got, "metric_time__month", "store_order_total", store)
    january = got.set_index("metric_time__month").january_orders
    assert january.loc["2024-01-01"] == (orders.month == "2024-01-01").sum()
    assert january.drop(pd.Timestamp("2024-01-01")).isna().all()  # NULL, not 0, where it has no rows
