"""The same numbers on every engine: the shop project's queries of every metric type, and the 292 queries that
MetricFlow answers alike, answered by DuckDB, PostgreSQL and Spark through each target's own connection, rows
matched on their keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from engines import differences, keyed

from metricsctl.compiler.query import MetricQuery
from metricsctl.facade import Metricsctl

# (metrics, group-by[, where]): every metric type, filters, fill_nulls_with, percentiles, date parts, custom grains
QUERIES = [
    ("revenue,quantity,line_count,orders,order_total,ordering_customers,promo_orders,new_customers",
     "metric_time__month"),
    ("avg_order_amount,min_order_amount,max_order_amount,median_order_amount,p90_order_amount,"
     "p90_order_amount_discrete", "metric_time__quarter,order__channel"),
    ("online_revenue,store_order_total,north_revenue,january_orders,promo_orders_filled,new_customers_zero,"
     "orders_from_big_spenders", "metric_time__day"),
    ("revenue,line_count", "order__store__store_region,product__category"),
    ("stock_on_hand,opening_stock,latest_stock_per_product", "metric_time__week"),
    ("stock_on_hand", "metric_time__month,product__category"),
    # the days counted from the closing stock's groups by day and category (DuckDB, PostgreSQL: regroup.py)
    ("stock_on_hand,days_counted,latest_stock_per_product", "metric_time__month,product__category"),
    ("revenue_per_order,online_order_share", "metric_time__month"),
    # a zero-filled measure offset, accumulated and semi-additive: every spine period appears
    ("promo_orders_filled_week_ago,promo_orders_filled_7d,stock_on_hand_filled", "metric_time__day"),
    ("online_order_share,orders", "metric_time__quarter,customer__region"),
    ("avg_line_value,revenue_minus_order_total,revenue_mom_growth,online_share_of_revenue_pct", "metric_time__month"),
    ("revenue_week_ago,revenue_at_month_start", "metric_time__day"),
    ("revenue_all_time,revenue_7d,revenue_mtd,visitors_7d", "metric_time__day"),
    ("revenue_7d_last,revenue_7d_avg,revenue_mtd", "metric_time__week"),
    # distinct counts since a fixed start, read from the days each value first appears
    ("visitors_all_time,visitors_mtd,online_visitors_all_time,store_visitors_all_time", "metric_time__month"),
    ("visitors_all_time,visitors_mtd,visits", "metric_time__week,customer__region"),
    ("visit_to_order_rate,visit_to_order_conversions,same_channel_conversion_rate", "metric_time__month"),
    ("visit_to_order_rate,visit_to_order_conversions", "metric_time__week,visit__source"),
    # a dimension of the entity: base events of one customer and day are interchangeable, not ranked
    ("visit_to_order_rate,visit_to_order_conversions", "metric_time__month,customer__region"),
    ("revenue,orders", "metric_time__extract_dow,metric_time__fiscal_quarter"),
    ("revenue,revenue_per_order", ""),
    # partitions, SCD validity windows, multi-hop model choice, offsets and windows along the spine
    ("sessions,page_views", "customer__region,customer__plan__plan_name"),
    # a chain of two hops joined once, read by a plain sum and a window's rows, filtered through it too
    ("revenue,revenue_7d,line_count", "metric_time__week,order__customer__region",
     "{{ Dimension('order__customer__segment') }} = 'retail'"),
    ("orders", "store__manager,metric_time__month"),
    ("revenue_at_month_start,revenue", "metric_time__week,metric_time__month"),
    ("revenue_7d,revenue_all_time", "order_line__ordered_at__week"),
    ("revenue_7d_week_ago", "metric_time__day"),
    ("revenue_7d,revenue_all_time", "metric_time__fiscal_quarter"),
    # sub-daily grains, a metric's default grain, and queries without metrics
    ("sessions,page_views", "metric_time__hour,session__started_at__minute"),
    ("sessions_3h,page_views_today,sessions_hour_ago,sessions_filled", "metric_time__hour"),
    ("sessions_3h,sessions_hour_ago", "metric_time__day"),
    # offsets by custom periods: by that grain, and day by day (a day with no place lands on NULL)
    ("revenue_fiscal_quarter_ago,revenue", "metric_time__fiscal_quarter"),
    ("revenue_fiscal_quarter_ago", "metric_time__day"),
    ("volume_by_month,revenue", "metric_time"),
    ("", "order__channel,customer__region"),
    ("", "metric_time__month"),
    ("", "metric_time__month,customer__region"),
    # filters: metric_time compared with casts, a metric filter by an entity with a local prefix
    ("revenue,revenue_7d,revenue_week_ago", "metric_time__day",
     "{{ TimeDimension('metric_time', 'day') }} BETWEEN CAST('2024-02-05' AS DATE) "
     "AND CAST('2024-02-09' AS TIMESTAMP)"),
    ("new_customers", "customer__region", "{{ Metric('orders', group_by=['order__customer']) }} > 15"),
    ("same_customer_conversion_rate", "metric_time__month"),
    # scans of one model read it once (a MATERIALIZED CTE on DuckDB and PostgreSQL), the filter both scans
    # of the visits apply applied once as they are read
    ("visits,order_count,visit_to_order_rate,visit_to_order_conversions,stock_on_hand,latest_stock_per_product",
     "metric_time__month", "{{ TimeDimension('metric_time', 'day') }} >= CAST('2024-02-01' AS DATE)"),
    # a filter on metric_time from mid-month keeps that month of an offset: the spine's days are filtered first
    ("revenue,revenue_mom_growth,revenue_at_month_start", "metric_time__month,order__channel",
     "{{ TimeDimension('metric_time', 'day') }} >= CAST('2024-03-15' AS DATE)"),
    # a filter on metric_time and another dimension keeps an offset input's rows, before they are shifted
    ("revenue_mom_growth", "metric_time__month,order__channel",
     "{{ TimeDimension('metric_time', 'day') }} >= CAST('2024-03-15' AS DATE) "
     "OR {{ Dimension('order__channel') }} = 'online'"),
]


PARITY_CASES = Path(__file__).resolve().parents[1] / "bench" / "metricflow_cases.txt"


def parity_queries() -> list[tuple[str, ...]]:
    """The queries that MetricFlow answers as DuckDB does (`bench/compare_metricflow.py`): every engine must
    answer them alike too."""
    queries = []
    for line in PARITY_CASES.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            metrics, group_by, *where = [part.strip() for part in line.split("|")]
            queries.append((metrics, group_by, *[w for w in where if w]))
    return queries


def answers(app: Metricsctl, metrics: str, group_by: str, where: str = "",
            ) -> dict[tuple[object, ...], dict[str, object]]:
    query = MetricQuery.of(metrics, group_by, (where,) if where else (), shorter_paths=True)  # as `mf query`
    result = app.query(query)
    assert result.rows, f"{app.target_name}: no rows for {metrics} by {group_by}"
    return keyed(result.columns, result.rows, [c for c in result.columns if c not in query.metrics])


def compare(reference: Metricsctl, other: Metricsctl) -> None:
    failures = []
    for metrics, group_by, *where in [*QUERIES, *parity_queries()]:
        problems = differences(answers(reference, metrics, group_by, *where), answers(other, metrics, group_by, *where))
        if problems:
            failures.append(f"{metrics} by {group_by or '(nothing)'}:\n  " + "\n  ".join(problems))
    assert not failures, f"{other.target_name} differs from DuckDB:\n" + "\n".join(failures)


@pytest.mark.postgres
def test_postgres_answers_every_metric_type_as_duckdb(shop: Metricsctl, shop_postgres: Metricsctl) -> None:
    compare(shop, shop_postgres)


@pytest.mark.spark
def test_spark_answers_every_metric_type_as_duckdb(shop: Metricsctl, shop_spark: Metricsctl) -> None:
    compare(shop, shop_spark)


@pytest.mark.spark
def test_spark_an_alert_table_rewrite_that_fails_part_way_keeps_every_row(shop_spark: Metricsctl,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # Spark's tables take no UPDATE: a change to the alert history rewrites it whole, in statements of CHUNK rows
    from metricsctl.alerts import state
    from metricsctl.errors import WarehouseError

    warehouse = shop_spark.warehouse()
    try:
        store = state.StateStore(warehouse.execute, "alert_rewrite", "spark")
        store.ensure()
        store.insert(state.HISTORY, [{"alert_id": f"a{i}", "rule": "r", "severity": "warning"} for i in range(5)])
        monkeypatch.setattr(state, "CHUNK", 2)
        written: list[str] = []

        def fails_at_the_second_insert(sql: str) -> object:
            if sql.startswith("INSERT"):
                written.append(sql)
                if len(written) == 2:
                    raise WarehouseError("the executor went away")
            return warehouse.execute(sql)

        with pytest.raises(WarehouseError):
            state.StateStore(fails_at_the_second_insert, "alert_rewrite", "spark").update(
                state.HISTORY, "alert_id", [{"alert_id": "a0", "severity": "critical"}])
        assert sorted((r["alert_id"], r["severity"]) for r in store.history()) == [
            (f"a{i}", "warning") for i in range(5)]
        store.update(state.HISTORY, "alert_id", [{"alert_id": "a0", "severity": "critical"}])  # and once it runs
        assert sorted((r["alert_id"], r["severity"]) for r in store.history()) == [
            ("a0", "critical"), *[(f"a{i}", "warning") for i in range(1, 5)]]
    finally:
        warehouse.close()
