"""The shape of the generated SQL: one scan per semantic model, derived values in the outer select."""

from __future__ import annotations

from collections import Counter

from sqlglot import exp

from metricsctl.compiler.query import MetricQuery


def scans(shop, metrics: str, group_by: str = "metric_time__month") -> Counter[str]:
    """How often each table is read by the compiled query."""
    compiled = shop.compile_query(MetricQuery.of(metrics, group_by))
    ctes = {cte.alias for cte in compiled.expression.find_all(exp.CTE)}
    return Counter(t.name for t in compiled.expression.find_all(exp.Table) if t.name not in ctes)


def test_metrics_of_one_model_share_one_scan(shop):
    reads = scans(shop, "orders,order_total,order_count,ordering_customers,promo_orders,avg_order_amount,"
                        "min_order_amount,max_order_amount,median_order_amount,p90_order_amount")
    assert reads == Counter({"orders": 1})


def test_ratio_and_derived_metrics_are_computed_from_the_scans_not_by_self_joins(shop):
    # MetricFlow joins two aggregations of order_lines for revenue + avg_line_value; here one scan
    assert scans(shop, "revenue,line_count,avg_line_value") == Counter({"order_lines": 1})
    assert scans(shop, "revenue,revenue_per_order,orders") == Counter({"order_lines": 1, "orders": 1})


def test_a_single_scan_query_has_no_join_of_aggregates(shop):
    compiled = shop.compile_query(MetricQuery.of("revenue,avg_line_value", "metric_time__month"))
    assert not list(compiled.expression.find_all(exp.Join))
    assert [c.alias for c in compiled.expression.find_all(exp.CTE)] == ["order_lines_agg"]


def test_joins_are_only_those_the_query_needs(shop):
    reads = scans(shop, "revenue", "order__customer__region")
    assert reads == Counter({"order_lines": 1, "orders": 1, "customers": 1})
    assert scans(shop, "revenue", "metric_time__month") == Counter({"order_lines": 1})


def test_metrics_with_different_filters_on_one_model_share_one_scan(shop):
    # orders, orders filtered to online (in a ratio), to January, and a store-only total
    reads = scans(shop, "orders,online_order_share,january_orders,store_order_total,order_count")
    assert reads == Counter({"orders": 1})
