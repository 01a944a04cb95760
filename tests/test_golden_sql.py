"""Golden SQL per dialect: what reviewers read, kept stable and checked for each dialect's gaps.

Regenerate after an intended change with `python -m pytest tests/test_golden_sql.py --update-golden`
and review the diff of tests/golden/ in the pull request.
"""

from __future__ import annotations

import difflib
import re

import pytest
import sqlglot
from sqlglot import exp

from metricsctl.compiler.dialects import DIALECTS
from metricsctl.compiler.query import MetricQuery
from tests.conftest import GOLDEN

QUERIES = {
    "simple_by_month": MetricQuery.of("revenue,quantity,line_count", "metric_time__month"),
    "ratio_across_models": MetricQuery.of("revenue_per_order,online_order_share",
                                          "metric_time__quarter,order__channel"),
    "two_hop_join_and_metric_filter": MetricQuery.of("revenue,north_revenue,avg_line_value",
                                                     "order__customer__region,product__category"),
    "derived_offsets": MetricQuery.of("revenue_mom_growth,revenue_week_ago", "metric_time__month"),
    "cumulative": MetricQuery.of("revenue_7d,revenue_mtd,revenue_7d_avg", "metric_time__week"),
    "conversion": MetricQuery.of("visit_to_order_rate,same_channel_conversion_rate", "metric_time__month"),
    # a dimension of the base event: tied base events (one entity, one day) resolve by its value
    "conversion_ties_by_source": MetricQuery.of("visit_to_order_rate", "metric_time__month,visit__source"),
    # a dimension of the entity: every base event of one entity and day has it, so none is ranked
    "conversion_by_entity_dimension": MetricQuery.of("visit_to_order_rate", "metric_time__month,customer__region"),
    # a metric filter is a query of its own, inside a subquery: Spark lifts its CTEs, names must not clash
    "metric_filter_subquery": MetricQuery.of("orders_from_big_spenders,store_order_total", "metric_time__month"),
    "semi_additive": MetricQuery.of("stock_on_hand,latest_stock_per_product", "metric_time__month"),
    # the days counted from the closing stock's groups of the same rows (DuckDB, PostgreSQL: regroup.py)
    "semi_additive_and_days_counted": MetricQuery.of("stock_on_hand,days_counted",
                                                     "metric_time__month,product__category"),
    "spine_fill_custom_grain_and_filters": MetricQuery.of(
        "promo_orders_filled,orders", "metric_time__fiscal_quarter,metric_time__extract_dow",
        "{{ Dimension('customer__region') }} <> 'south'", order_by="-orders", limit=10),
    # a partition joined on the partition too, through the model that leads on to the plan
    "partition_and_multi_hop": MetricQuery.of("sessions,page_views", "customer__region,customer__plan__plan_name"),
    "scd_validity_window": MetricQuery.of("orders", "store__manager,metric_time__month"),
    "offset_to_grain_by_week_and_month": MetricQuery.of("revenue_at_month_start",
                                                        "metric_time__week,metric_time__month"),
    "cumulative_by_own_time_dimension": MetricQuery.of("revenue_7d", "order_line__ordered_at__month"),
    "sub_daily": MetricQuery.of("sessions", "metric_time__hour,session__started_at__minute"),
    # no metric: every period of the spine crossed with every value of the dimension
    "periods_and_values": MetricQuery.of("", "metric_time__month,customer__region"),
    # windows and offsets stepping along the hourly time spine
    "hourly_spine": MetricQuery.of("sessions_3h,sessions_hour_ago,sessions_filled", "metric_time__hour"),
    # an offset by custom periods: by that grain (periods moved), and by month (days moved)
    "custom_offset_by_its_grain": MetricQuery.of("revenue_fiscal_quarter_ago", "metric_time__fiscal_quarter"),
    "custom_offset_by_month": MetricQuery.of("revenue_fiscal_quarter_ago", "metric_time__month"),
    "dimension_values": MetricQuery.of("", "order__channel,customer__region",
                                       "{{ Dimension('order__channel') }} = 'online'"),
    "percentiles": MetricQuery.of("median_order_amount,p90_order_amount,p90_order_amount_discrete",
                                  "metric_time__year", start_time="2024-01-01", end_time="2024-12-31"),
}


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name", sorted(QUERIES))
def test_golden_sql(shop, request, dialect: str, name: str):
    sql = shop.compile_query(QUERIES[name], dialect).sql() + "\n"
    path = GOLDEN / dialect / f"{name}.sql"
    if request.config.getoption("--update-golden") or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql)
    expected = path.read_text()
    if sql != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), sql.splitlines(True),
                                            f"golden/{dialect}/{name}.sql", "compiled"))
        pytest.fail(f"generated SQL differs from the golden file (rerun with --update-golden if "
                    f"intended):\n{diff}")


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name", sorted(QUERIES))
def test_sql_parses_back_and_avoids_what_the_dialect_lacks(shop, dialect: str, name: str):
    sql = shop.compile_query(QUERIES[name], dialect).sql()
    statements = sqlglot.parse(sql, read=dialect)
    assert len(statements) == 1 and isinstance(statements[0], exp.Select)
    upper = sql.upper()
    assert "GROUP BY ALL" not in upper
    if dialect != "duckdb":
        for duckdb_only in ("QUANTILE_CONT", "QUANTILE_DISC", "ASOF", "ISODOW" if dialect not in (
                "postgres",) else "QUANTILE_"):
            assert duckdb_only not in upper, f"{duckdb_only} in {dialect} SQL"
    if dialect in ("spark", "databricks"):
        assert not re.search(r"(?<!DATE_)TRUNC\(", upper), "Spark's TRUNC(x, 'DAY') is NULL: DATE_TRUNC it is"
        names = re.findall(r"(\w+) AS \(", sql)
        assert len(names) == len(set(names)), f"CTE names repeat: {names}"


def test_a_derived_metric_divides_as_floating_point_everywhere(shop):
    for dialect in DIALECTS:
        sql = shop.compile_query(MetricQuery.of("avg_line_value", "metric_time__month"), dialect).sql(pretty=False)
        division = re.search(r"CAST\(.*? AS (DOUBLE|FLOAT64|DOUBLE PRECISION)\) / NULLIF\(", sql)
        assert division, f"{dialect}: {sql[-300:]}"


def test_every_golden_file_belongs_to_a_query():
    names = {f"{d}/{n}.sql" for d in DIALECTS for n in QUERIES}
    on_disk = {str(p.relative_to(GOLDEN)) for p in GOLDEN.rglob("*.sql")}
    assert on_disk <= names, f"stale golden files: {sorted(on_disk - names)}"
