"""The shape of the generated SQL: one scan per semantic model, derived values in the outer select."""

from __future__ import annotations

from collections import Counter

import duckdb
import pandas as pd
import pytest
import sqlglot
from sqlglot import exp

from metricsctl.compiler.query import MetricQuery
from metricsctl.compiler.render import SqlCompiler
from metricsctl.compiler.shared import share_scans
from tests.conftest import month, seed


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


def ctes(shop, metrics: str, group_by: str) -> dict[str, exp.Select]:
    compiled = shop.compile_query(MetricQuery.of(metrics, group_by))
    return {cte.alias: cte.this for cte in compiled.expression.find_all(exp.CTE)}


def test_dimensions_are_joined_to_the_models_rows_grouped_by_what_the_query_reads(shop):
    # orders grouped by month and customer first; the customer's region joined to those groups, not per order
    steps = ctes(shop, "orders,order_total", "metric_time__month,customer__region")
    grouped = steps["orders_grouped"]
    assert not grouped.args.get("joins")
    assert sorted(g.sql() for g in grouped.args["group"].expressions) == [
        "DATE_TRUNC('MONTH', src.ordered_at)", "src.customer_id"]
    outer = steps["orders_agg"]
    assert [j.this.alias for j in outer.args["joins"]] == ["j_customer"]
    assert outer.args["from_"].this.name == "orders_grouped"


def test_a_time_read_at_two_grains_is_grouped_on_as_it_is(shop):
    # by month and by week: the groups must hold both, so they are the days the orders fall on
    steps = ctes(shop, "orders", "metric_time__month,order__ordered_at__week,customer__region")
    assert sorted(g.sql() for g in steps["orders_grouped"].args["group"].expressions) == [
        "src.customer_id", "src.ordered_at"]


def test_filters_on_the_models_own_columns_apply_before_grouping(shop):
    # the period bound reads the orders alone: the rows outside it are never grouped; the region is known
    # only once the customers are joined, so it filters the groups
    compiled = shop.compile_query(MetricQuery.of("orders", "metric_time__month",
                                                 "{{ Dimension('customer__region') }} = 'north'",
                                                 start_time="2024-02-01", end_time="2024-03-31"))
    steps = {cte.alias: cte.this for cte in compiled.expression.find_all(exp.CTE)}
    inner, outer = steps["orders_grouped"].args["where"].sql(), steps["orders_agg"].args["where"].sql()
    assert "src.ordered_at" in inner and "region" not in inner
    assert "region" in outer and "ordered_at" not in outer


def test_filtered_grouped_first_gives_the_answer_of_the_rows(answer):
    got = answer("orders,order_total", "metric_time__month", "{{ Dimension('customer__region') }} = 'north'",
                 start_time="2024-02-01", end_time="2024-03-31")
    orders = seed("orders").merge(seed("customers"), on="customer_id", how="left")
    orders["month"] = month(orders.ordered_at)
    kept = orders[(orders.region == "north") & (orders.month >= "2024-02-01") & (orders.month <= "2024-03-01")]
    expected = kept.groupby("month").agg(orders=("order_id", "count"), order_total=("amount", "sum"))
    assert len(expected) == 2  # February and March
    got = got.set_index("metric_time__month").sort_index()
    assert list(got.index) == list(expected.index)
    assert got["orders"].tolist() == expected["orders"].tolist()
    assert got["order_total"].to_numpy() == pytest.approx(expected["order_total"].to_numpy())


def test_grouped_first_gives_the_answer_of_the_rows(answer):
    got = answer("orders,order_total,max_order_amount", "metric_time__month,customer__region")
    orders = seed("orders").merge(seed("customers"), on="customer_id", how="left")
    orders["month"] = month(orders.ordered_at)
    expected = orders.groupby(["month", "region"], dropna=False).agg(
        orders=("order_id", "count"), order_total=("amount", "sum"), max_order_amount=("amount", "max"))
    got = got.set_index(["metric_time__month", "customer__region"]).sort_index()
    assert len(got) == len(expected)
    for col in expected.columns:
        assert got[col].to_numpy() == pytest.approx(expected.sort_index()[col].to_numpy())


def test_a_count_over_no_rows_is_zero_when_grouped_first(answer):
    # no group-by: one row, a count of 0 and a sum of NULL, as when the rows are aggregated directly
    got = answer("order_count,order_total", "", "{{ Dimension('customer__region') }} = 'nowhere'")
    assert got.to_dict("records") == [{"order_count": 0, "order_total": None}]


def test_rows_are_grouped_first_only_where_the_semantic_model_asks_for_it(shop):
    # order lines (no `group_rows_first`) are joined row by row: most lines of a day have their own product
    steps = ctes(shop, "revenue", "metric_time__month,product__category")
    assert "order_lines_grouped" not in steps
    assert [j.this.alias for j in steps["order_lines_agg"].args["joins"]] == ["j_product"]


def test_aggregates_that_do_not_combine_read_the_rows(shop):
    # a distinct count and a median cannot be computed from partial groups
    steps = ctes(shop, "ordering_customers,median_order_amount", "metric_time__month,customer__region")
    assert "orders_grouped" not in steps


def test_scans_of_several_models_are_stacked_and_grouped_not_joined(shop):
    compiled = shop.compile_query(MetricQuery.of("revenue_per_order,online_order_share",
                                                 "metric_time__quarter,order__channel"))
    assert "group_keys" not in {cte.alias for cte in compiled.expression.find_all(exp.CTE)}
    assert not compiled.expression.args.get("joins")


# three customers, the third without a region
CUSTOMERS = """(1, 'north', 'consumer', date '2023-01-01'), (2, 'south', 'business', date '2023-01-01'),
    (3, null, 'consumer', date '2023-01-01')) t(customer_id, region, segment, signup_date"""


def scratch(shop, tables: dict[str, tuple[str, str]]) -> tuple[duckdb.DuckDBPyConnection, SqlCompiler]:
    """An in-memory warehouse of a few hand-written rows (relation -> (table, `VALUES ... ) t(columns`)),
    and a compiler of the shop's metrics that reads those tables for the shop's relations."""
    con = duckdb.connect()
    for table, values in tables.values():
        con.execute(f"create table {table} as select * from (values {values})")
    return con, SqlCompiler(shop.spec, "duckdb", relations={
        f'"shop"."main"."{relation}"': table for relation, (table, _) in tables.items()})


# --- a dimension two hops away: the chain joined once over the middle model (chains.py) ---------------

def test_a_two_hop_chain_is_joined_once_over_the_middle_model_and_shared_by_the_scans(shop):
    # revenue by the order's customer region: orders joined to customers once (460 orders), and that map
    # joined to each order line on its order, instead of both joins per order line; the plain sum is
    # summed with the 7-day window's daily sums (windows.py), from one scan of the rows through that map
    compiled = shop.compile_query(MetricQuery.of("revenue,revenue_7d", "metric_time__day,order__customer__region",
                                                 "{{ Dimension('order__customer__segment') }} = 'retail'"))
    steps = {cte.alias: cte.this for cte in compiled.expression.find_all(exp.CTE)}
    chain = steps["order_dims"]
    assert chain.args["from_"].this.name == "orders"
    assert [j.this.name for j in chain.args["joins"]] == ["customers"]
    assert sorted(p.alias for p in chain.expressions) == ["customer__region", "customer__segment", "order_id"]
    joins = steps["order_lines_rows"].args["joins"]
    assert [(j.this.name, j.this.alias) for j in joins] == [("order_dims", "j_order")]
    assert joins[0].args["on"].sql() == "src.order_id = j_order.order_id"
    assert "j_order.customer__segment" in steps["order_lines_rows"].sql()  # filtered on after the daily sums
    reads = Counter(t.name for t in compiled.expression.find_all(exp.Table) if t.name not in steps)
    assert reads == Counter({"order_lines": 1, "orders": 1, "customers": 1, "metricflow_time_spine": 1})
    assert steps["order_lines_agg"].args["from_"].this.name == "order_lines_daily"


def test_a_plain_sum_beside_a_window_is_summed_from_its_daily_sums(shop):
    # revenue and revenue_7d of the order lines: one scan of the rows, summed per day and channel; the plain
    # sum re-grouped to the month from there (windows.py), not a second scan of the lines and their joins
    compiled = shop.compile_query(MetricQuery.of("revenue,revenue_7d,line_count", "metric_time__month,order__channel"))
    steps = {cte.alias: cte.this for cte in compiled.expression.find_all(exp.CTE)}
    reads = Counter(t.name for t in compiled.expression.find_all(exp.Table) if t.name not in steps)
    assert reads["order_lines"] == 1 and "order_lines_read" not in steps
    agg = steps["order_lines_agg"]
    assert agg.args["from_"].this.name == "order_lines_daily" and not agg.args.get("joins")
    assert agg.sql() == (
        "SELECT DATE_TRUNC('MONTH', order_lines_daily.__day) AS metric_time__month, order_lines_daily.order__channel "
        "AS order__channel, SUM(order_lines_daily.revenue) AS revenue, CAST(SUM(order_lines_daily.line_count) AS "
        "BIGINT) AS line_count FROM order_lines_daily GROUP BY DATE_TRUNC('MONTH', order_lines_daily.__day), "
        "order_lines_daily.order__channel")
    # a distinct count does not roll up: it keeps its own scan of the rows
    steps = ctes(shop, "visits,visitors,visitors_7d", "metric_time__month")
    assert steps["visits_agg"].args["from_"].this.name in ("visits", "visits_read")


def test_a_one_hop_dimension_is_joined_as_it_is(shop):
    steps = ctes(shop, "revenue", "metric_time__month,order__channel")
    assert "order_dims" not in steps
    assert [j.this.name for j in steps["order_lines_agg"].args["joins"]] == ["orders"]


def test_a_chain_joined_once_keeps_null_and_unmatched_keys_as_the_hops_do(shop):
    """Lines without an order, with an order that is not there, whose order has no customer or an unknown
    one, and a customer without a region: each line counts once, under a NULL region where a hop misses."""
    con, compiler = scratch(shop, {
        "order_lines": ("lines", """(1, 10, 1, date '2024-01-03', 2, 5.0), (2, 10, 1, date '2024-01-03', 1, 7.0),
            (3, 11, 1, date '2024-01-04', 1, 3.0), (4, 12, 1, date '2024-01-05', 4, 1.0),
            (5, 13, 1, date '2024-01-05', 1, 2.0), (6, null, 1, date '2024-01-06', 1, 11.0),
            (7, 99, 1, date '2024-02-01', 3, 2.0), (8, 14, 1, date '2024-02-02', 1, 13.0)
            ) t(order_line_id, order_id, product_id, ordered_at, quantity, unit_price"""),
        "orders": ("orders", """(10, 1, 1, date '2024-01-03', 'online', false, 17.0),
            (11, 2, 1, date '2024-01-04', 'store', false, 3.0), (12, null, 1, date '2024-01-05', 'online', true, 4.0),
            (13, 77, 1, date '2024-01-05', 'store', false, 2.0), (14, 3, 1, date '2024-02-02', 'online', false, 13.0)
            ) t(order_id, customer_id, store_id, ordered_at, channel, is_promo, amount"""),
        "customers": ("customers", CUSTOMERS)})
    sql = compiler.compile(MetricQuery.of("revenue,line_count", "metric_time__month,order__customer__region")).sql()
    assert "order_dims" in sql
    got = con.execute(sql).df().fillna({"order__customer__region": "<null>"})
    lines, orders, customers = (con.execute(f"select * from {t}").df() for t in ("lines", "orders", "customers"))
    rows = lines.merge(orders[["order_id", "customer_id"]], on="order_id", how="left").merge(
        customers, on="customer_id", how="left")
    rows["month"] = month(pd.to_datetime(rows.ordered_at))
    rows["revenue"] = rows.quantity * rows.unit_price
    expected = rows.fillna({"region": "<null>"}).groupby(["month", "region"]).agg(
        revenue=("revenue", "sum"), line_count=("order_line_id", "count"))
    # January: north 17 (2 lines), south 3, no customer or an unknown one or no order 4 + 2 + 11;
    # February: an order that is not there 6, a customer without a region 13
    assert expected.loc[(pd.Timestamp("2024-01-01"), "<null>"), "revenue"] == 17.0
    assert expected.loc[(pd.Timestamp("2024-02-01"), "<null>"), "revenue"] == 19.0
    got = got.set_index([pd.to_datetime(got.metric_time__month), "order__customer__region"]).sort_index()
    assert list(got.index) == list(expected.index)
    assert got["revenue"].tolist() == expected["revenue"].tolist()
    assert got["line_count"].tolist() == expected["line_count"].tolist()


# --- conversions: base events ranked only where the pick between them changes the answer -------------

def test_base_events_are_not_ranked_when_the_entity_and_day_decide_every_group_by_value(shop):
    # a customer's region is the same on all of that customer's visits of a day: any of them is the latest
    by_region = ctes(shop, "visit_to_order_rate", "metric_time__month,customer__region")
    assert not [name for name in by_region if name.endswith(("_ranked", "_first"))]
    assert "__tie_rank" not in shop.compile_query(
        MetricQuery.of("visit_to_order_rate", "metric_time__month,customer__region")).sql("duckdb")
    # a visit's source differs between a customer's visits of one day: the tie is broken by its value
    by_source = ctes(shop, "visit_to_order_rate", "metric_time__month,visit__source")
    assert "visits_base_events_ranked" in by_source
    both = ctes(shop, "visit_to_order_rate", "metric_time__month,customer__region,visit__source")
    assert "visits_base_events_ranked" in both


def test_unranked_base_events_give_the_conversions_of_the_latest_visit(shop):
    """A worked example with tied visits: customer 1 visits twice on 10 January and orders on the 12th;
    customer 2 twice on 31 January and orders on 2 February. Either visit of a tie is the latest, and
    both are of the same customer, region and month, so the order counts there whichever is picked."""
    con, compiler = scratch(shop, {
        "visits": ("visits", """(1, 1, date '2024-01-10', 'web'), (2, 1, date '2024-01-10', 'store'),
            (3, 1, date '2024-01-20', 'web'), (4, 2, date '2024-01-31', 'store'), (5, 2, date '2024-01-31', 'web'),
            (6, 2, date '2024-02-05', 'web'), (7, 3, date '2024-02-10', 'web'), (8, 4, date '2024-02-11', 'web')
            ) t(visit_id, customer_id, visited_at, source"""),
        "orders": ("orders", """(1, 1, 1, date '2024-01-12', 'web', false, 1.0),
            (2, 1, 1, date '2024-01-25', 'web', false, 1.0), (3, 1, 1, date '2024-02-15', 'web', false, 1.0),
            (4, 2, 1, date '2024-02-02', 'web', false, 1.0), (5, 2, 1, date '2024-02-05', 'web', false, 1.0),
            (6, 3, 1, date '2024-02-12', 'web', false, 1.0)
            ) t(order_id, customer_id, store_id, ordered_at, channel, is_promo, amount"""),
        "customers": ("customers", CUSTOMERS)})
    sql = compiler.compile(MetricQuery.of("visit_to_order_conversions,visit_to_order_rate",
                                          "metric_time__month,customer__region")).sql()
    assert "__tie_rank" not in sql
    got = {(str(m)[:7], r): (c, rate) for m, r, c, rate in con.execute(sql).fetchall()}
    # order 3 is 26 days after customer 1's last visit; customer 4 (visit 8) is not a known customer
    assert got == {("2024-01", "north"): (2, pytest.approx(2 / 3)), ("2024-01", "south"): (1, pytest.approx(1 / 2)),
                   ("2024-02", "south"): (1, pytest.approx(1.0)), ("2024-02", None): (1, pytest.approx(1 / 2))}


# --- semi-additive rows grouped on the raw date, each period derived per group ---------------------

def test_semi_additive_rows_are_grouped_on_the_raw_date_and_the_periods_derived_per_group(shop):
    steps = ctes(shop, "stock_on_hand,opening_stock", "metric_time__month,product__category")
    days = steps["inventory_days"]
    assert sorted(g.sql() for g in days.args["group"].expressions) == ["j_product.category", "src.balance_date"]
    assert "DATE_TRUNC" not in days.sql()  # no truncation per row
    assert "DATE_TRUNC('MONTH', __time_1)" in steps["inventory_by_day"].sql()
    assert steps["inventory_by_day"].args["from_"].this.name == "inventory_days"


def test_semi_additive_rows_grouped_on_the_raw_date_keep_the_last_day_of_each_month(shop):
    """Stock counted twice a day (at 08:00 and 18:00 on some days): the month's closing stock is every count
    of its last counted day, whichever hour; per product, each product's own last day."""
    con, compiler = scratch(shop, {"inventory_balances": ("stock", """
        (1, timestamp '2024-01-30 08:00', 5), (1, timestamp '2024-01-31 08:00', 7),
        (1, timestamp '2024-01-31 18:00', 2), (2, timestamp '2024-01-20 08:00', 4),
        (2, timestamp '2024-01-29 18:00', 9), (1, timestamp '2024-02-10 08:00', 1),
        (2, timestamp '2024-02-11 08:00', 3), (2, timestamp '2024-02-11 18:00', 6)
        ) t(product_id, balance_date, on_hand""")})
    sql = compiler.compile(MetricQuery.of("stock_on_hand,opening_stock,latest_stock_per_product",
                                          "metric_time__month")).sql()
    assert "inventory_days" in sql
    got = {str(m)[:7]: (close, open_, per_product) for m, close, open_, per_product in con.execute(sql).fetchall()}
    # January: last day the 31st (7 + 2), first the 20th (4); per product 1 on the 31st (9), 2 on the 29th (9)
    # February: last day the 11th (3 + 6), first the 10th (1); per product 1 on the 10th (1), 2 on the 11th (9)
    assert got == {"2024-01": (9, 4, 18), "2024-02": (9, 1, 10)}


# --- one read of a semantic model per query, shared by its scans (shared.py) ---------------------------

VISITS = """(1, 1, date '2024-01-10', 'web'), (2, 1, date '2024-01-10', 'store'), (3, 1, date '2024-01-20', 'web'),
    (4, 2, date '2024-01-31', 'store'), (5, 2, date '2024-01-31', 'web'), (6, 2, date '2024-02-05', 'web'),
    (7, 3, date '2024-02-10', 'web'), (8, 4, date '2024-02-11', 'web')) t(visit_id, customer_id, visited_at, source"""
ORDERS = """(1, 1, 1, date '2024-01-12', 'web', false, 1.0), (2, 1, 1, date '2024-01-25', 'web', false, 1.0),
    (3, 1, 1, date '2024-02-15', 'web', false, 1.0), (4, 2, 1, date '2024-02-02', 'web', false, 1.0),
    (5, 2, 1, date '2024-02-05', 'web', false, 1.0), (6, 3, 1, date '2024-02-12', 'web', false, 1.0)
    ) t(order_id, customer_id, store_id, ordered_at, channel, is_promo, amount"""
FUNNEL = "visits,order_count,visit_to_order_conversions,visit_to_order_rate"


def test_scans_of_one_model_read_it_once_into_a_materialized_cte(shop):
    # visits: counted, and the conversion's base events; orders: counted, and the conversion events
    compiled = shop.compile_query(MetricQuery.of(FUNNEL, "metric_time__month"))
    steps = {cte.alias: cte for cte in compiled.expression.find_all(exp.CTE)}
    reads = Counter(t.name for t in compiled.expression.find_all(exp.Table) if t.name not in steps)
    assert reads == Counter({"visits": 1, "orders": 1})
    read = steps["orders_read"]
    assert read.args["materialized"] is True
    assert read.this.args["from_"].this.name == "orders"
    assert all(p.table == "src" for p in read.this.expressions)  # the relation's columns, as they are
    for scan in ("orders_agg", "orders_conversion_events"):
        assert steps[scan].this.args["from_"].this.sql() == "orders_read AS src"
    # the visits counted are the conversion's base events (same filters, same bound): counted from them
    assert "visits_read" not in steps
    assert steps["visits_agg"].this.args["from_"].this.sql() == "visits_base_events"
    assert "orders_read AS MATERIALIZED (" in compiled.sql("duckdb")
    # PostgreSQL 12+ computes a MATERIALIZED CTE once too; Spark inlines CTEs, so each scan reads the table
    query = MetricQuery.of(FUNNEL, "metric_time__month")
    assert "orders_read AS MATERIALIZED (" in SqlCompiler(shop.spec, "postgres").compile(query).sql()
    spark = SqlCompiler(shop.spec, "spark").compile(query)
    assert "_read" not in spark.sql() and "MATERIALIZED" not in spark.sql()


def test_a_filter_every_scan_applies_is_applied_once_as_the_rows_are_read(shop):
    # the period bound applies to both scans of the visits: once, in the read; the conversion events read
    # every order (an order after the period can convert a visit in it), so the orders' read keeps them all
    steps = ctes(shop, FUNNEL, "metric_time__month")
    assert "orders_read" in steps
    compiled = shop.compile_query(MetricQuery.of(FUNNEL, "metric_time__month", start_time="2024-02-01",
                                                 end_time="2024-02-29"))
    steps = {cte.alias: cte.this for cte in compiled.expression.find_all(exp.CTE)}
    assert "visited_at" in steps["visits_base_events"].args["where"].sql()  # read once: the visits counted too
    assert steps["visits_agg"].args.get("where") is None
    assert steps["orders_read"].args.get("where") is None
    assert "ordered_at" in steps["orders_agg"].args["where"].sql()
    # a filter on a joined dimension is known only once the scan joins it: it stays in each scan
    compiled = shop.compile_query(MetricQuery.of(FUNNEL, "metric_time__month",
                                                 "{{ Dimension('customer__region') }} = 'north'"))
    steps = {cte.alias: cte.this for cte in compiled.expression.find_all(exp.CTE)}
    assert steps["orders_read"].args.get("where") is None and not steps["orders_read"].args.get("joins")
    for scan in ("orders_agg", "visits_base_events"):
        assert steps[scan].args["where"].this.sql() == "j_customer.region = 'north'"


def test_scans_sharing_one_read_give_the_answers_of_hand_counted_visits_and_orders(shop):
    """A worked example: 8 visits and 6 orders (the conversions test above). Orders convert the latest visit
    of the customer up to 7 days before: in January orders 1, 2 (customer 1's visits of the 10th and 20th)
    and order 4 of 2 February (customer 2's visit of 31 January); in February orders 5 and 6. Order 3 is 26
    days after customer 1's last visit."""
    con, compiler = scratch(shop, {"visits": ("visits", VISITS), "orders": ("orders", ORDERS)})
    sql = compiler.compile(MetricQuery.of(FUNNEL, "metric_time__month")).sql()
    assert "visits_read" not in sql and "orders_read AS MATERIALIZED" in sql
    got = {str(m)[:7]: rest for m, *rest in con.execute(sql).fetchall()}
    assert got == {"2024-01": [5, 2, 3, pytest.approx(3 / 5)], "2024-02": [3, 4, 2, pytest.approx(2 / 3)]}
    # February alone: its 3 visits are the only base events, so order 4 (2 February) converts none of them
    # (customer 2's last visit, 31 January, is outside the period); every order is a conversion event
    sql = compiler.compile(MetricQuery.of(FUNNEL, "metric_time__month", start_time="2024-02-01",
                                          end_time="2024-02-29")).sql()
    assert "FROM visits_base_events" in sql
    assert [list(r) for r in con.execute(sql).fetchall()] == [[pd.Timestamp("2024-02-01"), 3, 4, 2,
                                                                pytest.approx(2 / 3)]]


def test_only_scans_whose_every_column_is_named_share_a_read():
    """shared.py on hand-written scans: two scans of `t` share `t_read`, the bound both apply read once; a
    scan with a bare column (which relation it reads is not written) or a path into a nested value keeps
    reading `t` itself."""
    def shared(sql: str) -> str:
        query = sqlglot.parse_one(sql, read="duckdb")
        share_scans(query.args["with_"], lambda table: f"{table.name}_read", lambda base: base)
        return query.sql("duckdb")

    got = shared("WITH a AS (SELECT SUM(src.x) AS x FROM t AS src WHERE src.d >= 1), "
                 "b AS (SELECT COUNT(src.y) AS y FROM t AS src WHERE src.d >= 1 AND src.y > 2) "
                 "SELECT * FROM a CROSS JOIN b")
    assert got == ("WITH t_read AS MATERIALIZED (SELECT src.x, src.d, src.y FROM t AS src WHERE src.d >= 1), "
                   "a AS (SELECT SUM(src.x) AS x FROM t_read AS src), "
                   "b AS (SELECT COUNT(src.y) AS y FROM t_read AS src WHERE src.y > 2) SELECT * FROM a CROSS JOIN b")
    for other in ("SELECT COUNT(y) AS y FROM t AS src", "SELECT COUNT(src.s.y) AS y FROM t AS src"):
        sql = f"WITH a AS (SELECT SUM(src.x) AS x FROM t AS src), b AS ({other}) SELECT * FROM a CROSS JOIN b"
        assert shared(sql) == sqlglot.parse_one(sql).sql("duckdb")


# --- scans stacked on the keys of the dimensions they join, the dimensions joined once (stacking.py) ------

def test_scans_by_one_dimension_are_stacked_on_its_key_and_join_it_once(shop):
    compiled = shop.compile_query(MetricQuery.of("visits,orders,order_count,order_total,max_order_amount",
                                                 "metric_time__day,customer__region"))
    steps = {cte.alias: cte.this for cte in compiled.expression.find_all(exp.CTE)}
    combined = steps["combined_by_key"]
    # the stacked rows are grouped on their keys first, so the GROUP BY by region holds a row a key and day
    assert combined.args["from_"].this.name == "grouped_by_key"
    grouped = steps["grouped_by_key"]
    assert grouped.args["from_"].this.name == "stacked_by_key"
    assert [g.sql() for g in grouped.args["group"].expressions] == ["__key_1", "customer_id"]
    assert [p.sql() for p in grouped.expressions if p.find(exp.AggFunc)] == [
        "SUM(visits) AS visits", "SUM(orders) AS orders", "SUM(order_count) AS order_count",
        "SUM(order_total) AS order_total", "MAX(max_order_amount) AS max_order_amount"]
    assert [j.this.alias for j in combined.args["joins"]] == ["j_customer"]
    assert [name for name, step in steps.items() if step.args.get("joins")] == ["combined_by_key"]
    # orders are grouped first (the model asks for it) on the day as it is, visits stacked row by row; the
    # day is truncated once per stacked row, not per order
    assert [g.sql() for g in steps["orders_grouped"].args["group"].expressions] == [
        "src.ordered_at", "src.customer_id"]
    assert steps["visits_rows"].args.get("group") is None
    assert "DATE_TRUNC" not in steps["orders_grouped"].sql() + steps["visits_rows"].sql()
    assert [g.sql() for g in combined.args["group"].expressions] == [
        "DATE_TRUNC('DAY', src.__key_1)", "j_customer.region"]
    # elsewhere each scan joins its dimension as before
    for dialect in ("postgres", "spark"):
        assert "stacked_by_key" not in SqlCompiler(shop.spec, dialect).compile(
            MetricQuery.of("visits,orders", "metric_time__day,customer__region")).sql()


def test_a_scan_of_aggregates_that_do_not_combine_keeps_grouping_by_the_dimension(shop):
    # a distinct count and a median cannot be summed from groups per customer: the orders keep their scan
    steps = ctes(shop, "visits,orders,ordering_customers,median_order_amount", "metric_time__month,customer__region")
    assert "combined_by_key" not in steps
    assert [j.this.alias for j in steps["orders_agg"].args["joins"]] == ["j_customer"]
    assert "visitors" not in steps and "combined_by_key" not in ctes(shop, "visitors,orders", "customer__region")


KEYED_CUSTOMERS = """(1, 'north', 'consumer', date '2023-01-01'), (2, 'south', 'business', date '2023-01-01'),
    (3, null, 'consumer', date '2023-01-01'), (4, 'north', 'business', date '2023-01-01')
    ) t(customer_id, region, segment, signup_date"""
KEYED_VISITS = """(1, 1, date '2024-01-10', 'web'), (2, 4, date '2024-01-10', 'store'),
    (3, 1, date '2024-01-20', 'web'), (4, 2, date '2024-01-31', 'store'), (5, 3, date '2024-01-31', 'web'),
    (6, 9, date '2024-02-05', 'web'),
    (7, null, date '2024-02-10', 'web'), (8, 2, date '2024-02-11', 'web'), (9, 4, date '2024-01-10', 'web')
    ) t(visit_id, customer_id, visited_at, source"""
KEYED_ORDERS = """(1, 1, 1, date '2024-01-10', 'web', false, 2.5), (2, 4, 1, date '2024-01-10', 'web', false, 4.0),
    (3, 4, 1, date '2024-01-10', 'web', true, 1.0), (4, 2, 1, date '2024-01-12', 'web', false, 7.0),
    (5, 9, 1, date '2024-02-05', 'web', false, 3.0), (6, null, 1, date '2024-02-05', 'web', false, 6.0),
    (7, 3, 1, date '2024-02-11', 'web', false, null)
    ) t(order_id, customer_id, store_id, ordered_at, channel, is_promo, amount"""


def test_scans_stacked_on_their_keys_give_the_answers_of_each_scan_joined_row_by_row(shop):
    """Two customers share the region north (their days sum both), customer 3 has no region, customer 9 is
    not there and two rows have no customer (NULL regions); an order without an amount counts as an order.
    The expected rows are hand-written SQL joining each model's rows to the customers, one model at a time."""
    con, compiler = scratch(shop, {"visits": ("visits", KEYED_VISITS), "orders": ("orders", KEYED_ORDERS),
                                   "customers": ("customers", KEYED_CUSTOMERS)})
    metrics = "visits,orders,order_count,order_total,max_order_amount,min_order_amount,promo_orders"
    sql = compiler.compile(MetricQuery.of(metrics, "metric_time__day,customer__region")).sql()
    assert "stacked_by_key" in sql
    got = con.execute(sql).df()
    by_visits = """select date_trunc('day', v.visited_at) as metric_time__day, c.region as customer__region,
        count(v.visit_id) as visits from visits v left join customers c on v.customer_id = c.customer_id
        group by all"""
    by_orders = """select date_trunc('day', o.ordered_at) as metric_time__day, c.region as customer__region,
        sum(1) as orders, count(o.order_id) as order_count, sum(o.amount) as order_total,
        max(o.amount) as max_order_amount, min(o.amount) as min_order_amount,
        sum(case when o.is_promo then 1 else 0 end) as promo_orders
        from orders o left join customers c on o.customer_id = c.customer_id group by all"""
    visits, orders = con.execute(by_visits).df(), con.execute(by_orders).df()
    keys = ["metric_time__day", "customer__region"]
    expected = visits.merge(orders, on=keys, how="outer").fillna({"customer__region": "<null>"})
    expected = expected.set_index(keys).sort_index()
    got = got.fillna({"customer__region": "<null>"}).set_index(keys).sort_index()
    assert list(got.index) == list(expected.index)
    assert expected.loc[(pd.Timestamp("2024-01-10"), "north"), "visits"] == 3  # customers 1 and 4
    assert expected.loc[(pd.Timestamp("2024-02-05"), "<null>"), "orders"] == 2  # unknown and no customer
    for col in expected.columns:
        assert got[col].fillna(-1).tolist() == pytest.approx(expected[col].fillna(-1).tolist()), col

    def types(query: str) -> dict[str, str]:
        return dict(con.execute(f"select column_name, column_type from (describe ({query}))").fetchall())

    # each column typed as the scan joined row by row types it (a count a BIGINT, the day a TIMESTAMP)
    compiled = types(sql)
    for hand in (by_visits, by_orders):
        assert {c: compiled[c] for c in types(hand)} == types(hand)


# --- distinct counts of group keys counted from another scan's groups of the same rows (regroup.py) -------

def test_days_counted_are_counted_from_the_closing_stocks_groups(shop):
    # the closing stock groups the rows by day and category; the days counted read those groups, so the
    # counts are joined to their products once, and no shared read of the rows is needed
    query = MetricQuery.of("stock_on_hand,days_counted", "metric_time__month,product__category")
    compiled = shop.compile_query(query)
    steps = {cte.alias: cte.this for cte in compiled.expression.find_all(exp.CTE)}
    reads = Counter(t.name for t in compiled.expression.find_all(exp.Table) if t.name not in steps)
    assert reads == Counter({"inventory_balances": 1, "products": 1})
    assert not any(name.endswith("_read") for name in steps)
    counting = [s for s in steps.values() if s.find(exp.Count) is not None and s.find(exp.Distinct) is not None]
    assert len(counting) == 1 and counting[0].args["from_"].this.sql() == "inventory_days AS src"
    assert not counting[0].args.get("joins") and counting[0].args.get("where") is None
    assert "FROM inventory_days AS src" in SqlCompiler(shop.spec, "postgres").compile(query).sql()
    # Spark computes a CTE once per reader: there the count keeps its own scan of the rows
    assert "FROM inventory_days AS src" not in SqlCompiler(shop.spec, "spark").compile(query).sql()


def test_days_counted_from_groups_give_the_days_of_the_rows(shop):
    """A worked example: kettles (1) and toasters (2) are kitchen, lamps (3) home, product 9 is no product
    (no category). January: kitchen counted on the 5th, 20th and 31st, home on the 5th only, product 9 on
    the 7th; the closing stock is that of the month's last counted day (the 31st). February: kitchen on the
    3rd, home on the 3rd and 9th."""
    con, compiler = scratch(shop, {
        "products": ("products", """(1, 'kettle', 'kitchen', 1.0), (2, 'toaster', 'kitchen', 1.0),
            (3, 'lamp', 'home', 1.0)) t(product_id, product_name, category, unit_price"""),
        "inventory_balances": ("stock", """(1, date '2024-01-05', 5), (2, date '2024-01-05', 1),
            (1, date '2024-01-20', 4), (2, date '2024-01-31', 3), (1, date '2024-01-31', 2),
            (3, date '2024-01-05', 7), (9, date '2024-01-07', 8), (1, date '2024-02-03', 6),
            (3, date '2024-02-03', 1), (3, date '2024-02-09', 2)) t(product_id, balance_date, on_hand""")})
    sql = compiler.compile(MetricQuery.of("stock_on_hand,days_counted", "metric_time__month,product__category")).sql()
    assert "FROM inventory_days AS src" in sql
    got = {(str(m)[:7], c): (stock, days) for m, c, stock, days in con.execute(sql).fetchall()}
    assert got == {("2024-01", "kitchen"): (5, 3), ("2024-01", "home"): (None, 1), ("2024-01", None): (None, 1),
                   ("2024-02", "kitchen"): (None, 1), ("2024-02", "home"): (2, 2)}
    # a filter on the category applies to the rows of both scans, before the days are counted
    sql = compiler.compile(MetricQuery.of("days_counted,stock_on_hand", "metric_time__month",
                                          "{{ Dimension('product__category') }} = 'kitchen'")).sql()
    assert {str(m)[:7]: (d, s) for m, d, s in con.execute(sql).fetchall()} == {"2024-01": (3, 5), "2024-02": (1, 6)}


def test_only_a_count_of_group_keys_over_the_same_rows_is_counted_from_groups():
    """regroup.py on hand-written scans: a distinct count of a key of `g`'s groups, over the rows `g` reads,
    reads `g`; a count of a column that is no key, or over rows filtered otherwise, keeps reading the rows."""
    from metricsctl.compiler.regroup import count_from_groups

    def regrouped(sql: str) -> str:
        query = sqlglot.parse_one(sql, read="duckdb")
        count_from_groups(query.args["with_"])
        return query.sql("duckdb")

    groups = ("WITH g AS (SELECT src.d AS day, j.c AS c, SUM(src.x) AS x FROM t AS src "
              "LEFT JOIN p AS j ON src.k = j.k WHERE src.d > 1 GROUP BY src.d, j.c), ")
    got = regrouped(groups + "n AS (SELECT src.d + 1 AS m, j.c AS c, COUNT(DISTINCT src.d) AS days, MAX(j.c) AS top "
                    "FROM t AS src LEFT JOIN p AS j ON src.k = j.k WHERE src.d > 1 GROUP BY src.d + 1, j.c) "
                    "SELECT * FROM n")
    assert got == (groups + "n AS (SELECT src.day + 1 AS m, src.c AS c, COUNT(DISTINCT src.day) AS days, "
                   "MAX(src.c) AS top FROM g AS src GROUP BY src.day + 1, src.c) SELECT * FROM n")
    for other in ("SELECT j.c AS c, COUNT(DISTINCT src.x) AS n FROM t AS src LEFT JOIN p AS j ON src.k = j.k "
                  "WHERE src.d > 1 GROUP BY j.c",
                  "SELECT j.c AS c, COUNT(DISTINCT src.d) AS n FROM t AS src LEFT JOIN p AS j ON src.k = j.k "
                  "WHERE src.d > 2 GROUP BY j.c",
                  "SELECT j.c AS c, COUNT(src.d) AS n FROM t AS src LEFT JOIN p AS j ON src.k = j.k "
                  "WHERE src.d > 1 GROUP BY j.c"):
        sql = groups + f"n AS ({other}) SELECT * FROM n"
        assert regrouped(sql) == sqlglot.parse_one(sql).sql("duckdb")


def test_conversion_events_of_an_entity_with_no_base_event_are_left_out_before_they_are_paired(shop):
    """The worked example above with two more January orders: one of customer 5, who never visited, and one
    of no customer. Neither converts a visit; both are counted as orders. On DuckDB they are left out of the
    conversion events before those are numbered and paired with the base events of their window's buckets
    (a third of the orders of the demo's company KPIs are of visited customers); the other engines pair the
    events by an inner join, which leaves them out too."""
    steps = ctes(shop, FUNNEL, "metric_time__month")
    converting = steps["orders_converting"]
    assert converting.args["from_"].this.name == "orders_conversion_events"
    assert converting.args["where"].this.sql() == (
        "orders_conversion_events.__entity IN (SELECT visits_base_events.__entity FROM visits_base_events)")
    keyed = steps["orders_keyed"]
    assert keyed.args["from_"].this.this.args["from_"].this.name == "orders_converting"
    attributed = steps["orders_attributed"]
    assert attributed.args["from_"].this.name == "orders_keyed"
    assert attributed.args["joins"][0].args["kind"] == "INNER"
    more = ORDERS.replace("(6, 3, 1,", "(7, 5, 1, date '2024-01-12', 'web', false, 1.0), "
                                       "(8, NULL, 1, date '2024-01-13', 'web', false, 1.0), (6, 3, 1,")
    con, compiler = scratch(shop, {"visits": ("visits", VISITS), "orders": ("orders", more)})
    sql = compiler.compile(MetricQuery.of(FUNNEL, "metric_time__month")).sql()
    got = {str(m)[:7]: rest for m, *rest in con.execute(sql).fetchall()}
    assert got == {"2024-01": [5, 4, 3, pytest.approx(3 / 5)], "2024-02": [3, 4, 2, pytest.approx(2 / 3)]}
    assert "_converting" not in SqlCompiler(shop.spec, "postgres").compile(MetricQuery.of(FUNNEL,
                                                                                           "metric_time__month")).sql()
