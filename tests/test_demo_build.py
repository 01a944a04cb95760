"""The demo company, built from a clean copy by `metricsctl build`, answers like hand-written SQL.

Every expected value here is computed by SQL written in the test over the raw seed tables (schema
`raw`), applying the cleaning rules the staging models document (duplicate orders kept once, a missing
discount is the promotion's), never through staging, the semantic layer or metricsctl.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from metricsctl.facade import Metricsctl

ORDER_LINES = """
    with orders as (select distinct order_id, customer_id, store_id, cast(ordered_at as date) as ordered_at,
                                    nullif(trim(promotion), '') as promotion
                    from raw.orders),
    lines as (
        select o.ordered_at, o.store_id, l.quantity, p.unit_cost,
               l.unit_price - coalesce(l.discount_per_unit,
                                       round(l.unit_price * coalesce(pr.discount_pct, 0), 2)) as net_price
        from raw.order_lines l
        join orders o using (order_id)
        join raw.products p using (product_id)
        left join raw.promotions pr on pr.promotion_code = o.promotion
                                   and o.ordered_at between cast(pr.start_date as date) and cast(pr.end_date as date))
"""


@pytest.fixture(scope="module")
def demo_root(demo_built: Path) -> Path:
    """The repository's own dbt project, copied without its warehouse, then built (tests/conftest.py)."""
    return demo_built


@pytest.fixture(scope="module")
def demo(demo_root: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(demo_root / "warehouse.duckdb"), read_only=True)
    yield con
    con.close()


def frame(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    return con.execute(sql).df()


def test_sales_by_month_and_store(demo):
    got = frame(demo, "select * from sales_by_month_and_store")
    assert list(got.columns) == ["metric_time__month", "store__store_name", "revenue", "orders",
                                 "average_order_value", "gross_margin_pct"]
    expected = frame(demo, ORDER_LINES + """,
        revenue as (select date_trunc('month', ordered_at) as month, s.store_name,
                           sum(quantity * net_price) as revenue, sum(quantity * unit_cost) as cost
                    from lines join raw.stores s using (store_id) group by all),
        counts as (select date_trunc('month', ordered_at) as month, s.store_name, count(*) as orders
                   from orders join raw.stores s using (store_id) group by all)
        select r.month, r.store_name, r.revenue as expected_revenue, c.orders as expected_orders,
               r.revenue / c.orders as aov, 100 * (r.revenue - r.cost) / r.revenue as margin
        from revenue r join counts c using (month, store_name)""")
    merged = got.merge(expected, left_on=["metric_time__month", "store__store_name"],
                       right_on=["month", "store_name"], how="outer", indicator=True)
    assert (merged._merge == "both").all(), merged[merged._merge != "both"]
    for ours, theirs in (("revenue", "expected_revenue"), ("orders", "expected_orders"), ("average_order_value", "aov"),
                         ("gross_margin_pct", "margin")):
        assert merged[ours].to_numpy() == pytest.approx(merged[theirs].to_numpy(), rel=1e-9), ours


def test_month_to_date_and_growth_in_metric_values(demo):
    values = frame(demo, "select * from metric_values where metric_name in ('revenue_mtd', 'revenue_mom_growth_pct')")
    daily = frame(demo, ORDER_LINES + """
        select ordered_at as day, sum(quantity * net_price) as revenue from lines group by 1 order by 1""")
    daily["day"] = pd.to_datetime(daily.day)
    daily["mtd"] = daily.groupby(daily.day.dt.to_period("M")).revenue.cumsum()
    mtd = values[(values.metric_name == "revenue_mtd") & (values.grain == "day")].copy()
    mtd["period_start"] = pd.to_datetime(mtd.period_start)
    check = daily.merge(mtd, left_on="day", right_on="period_start")
    assert len(check) == len(daily)
    assert check.value.to_numpy() == pytest.approx(check.mtd.to_numpy())
    monthly = daily.groupby(daily.day.dt.to_period("M").dt.to_timestamp()).revenue.sum()
    growth = (100 * (monthly - monthly.shift(1)) / monthly.shift(1)).dropna()
    got = values[(values.metric_name == "revenue_mom_growth_pct") & (values.grain == "month")].copy()
    got = got.set_index(pd.to_datetime(got.period_start)).value.reindex(growth.index)
    assert got.to_numpy() == pytest.approx(growth.to_numpy())


def test_month_end_inventory_is_semi_additive(demo):
    got = frame(demo, "select period_start, value from metric_values "
                      "where metric_name = 'inventory_units' and grain = 'month' order by 1")
    expected = frame(demo, """
        with b as (select cast(balance_date as date) as day, on_hand_units from raw.inventory_balances)
        select date_trunc('month', day) as month, sum(on_hand_units) as units from b
        where day = (select max(day) from b b2 where date_trunc('month', b2.day) = date_trunc('month', b.day))
        group by 1 order by 1""")
    assert len(got) == len(expected)
    assert got.value.tolist() == pytest.approx(expected.units.tolist())


def test_sales_visit_conversion_within_14_days(demo):
    got = frame(demo, "select metric_time__month, sales_visit_conversion_rate from company_kpis_by_month")
    expected = frame(demo, """
        with visits as (select visit_id, customer_id, cast(visit_date as date) as day from main.stg_sales_visits),
        orders as (select distinct order_id, customer_id, cast(ordered_at as date) as day from raw.orders),
        attributed as (   -- each order to the customer's latest visit in the 14 days up to it
            select o.order_id, max(v.day) as visit_day
            from orders o join visits v on v.customer_id = o.customer_id
                                       and v.day <= o.day and v.day > o.day - interval 14 day
            group by o.order_id)
        select date_trunc('month', v.month) as month, coalesce(c.conversions, 0) / v.visits as rate
        from (select date_trunc('month', day) as month, count(*) as visits from visits group by 1) v
        left join (select date_trunc('month', visit_day) as month, count(*) as conversions
                   from attributed group by 1) c using (month)""")
    merged = got.merge(expected, left_on="metric_time__month", right_on="month")
    assert len(merged) == 18
    assert merged.sales_visit_conversion_rate.to_numpy() == pytest.approx(merged.rate.to_numpy())


def test_the_alert_rules_find_exactly_the_planted_events(demo_root: Path, demo):
    """Judged week after week over the demo's history, the rules fire on the three planted events only."""
    demo.close()  # alert evaluation opens the warehouse itself
    app = Metricsctl(demo_root)
    found = set()
    day = datetime.datetime(2024, 4, 1)
    while day <= datetime.datetime(2025, 7, 1):
        run = app.alerts(as_of=day, dry_run=True)
        found |= {(a.rule, a.series_key, a.period.isoformat()) for a in run.open_alerts if a.period}
        day += datetime.timedelta(days=7)
    assert found == {
        ("store_conversion_collapse", "store__store_name=Riverside", "2024-10-14"),
        ("channel_roi_under_target", "channel__channel_name=paid_social", "2025-02-01"),
        ("defect_rate_spike", "production_line__line_name=Assembly", "2025-03-10"),
    }


def test_lineage_reaches_the_alert_rules_that_watch_a_metric(demo_root: Path):
    lineage = Metricsctl(demo_root).lineage("defect_rate", "down", depth=1)
    assert "alert:defect_rate_spike" in lineage.graph.nodes
    assert "export:factory_kpis_by_line_and_day" not in lineage.graph.nodes  # two steps away


def test_one_stores_tree_has_its_own_values_and_targets(demo_root: Path):
    """`metricsctl tree revenue --org-unit store=Riverside`: Riverside's revenue and Riverside's target."""
    valued = Metricsctl(demo_root).tree("revenue", "2025-03", org_unit="store=Riverside", depth=0)
    with duckdb.connect(str(demo_root / "warehouse.duckdb"), read_only=True) as con:
        expected = frame(con, ORDER_LINES + """
            select sum(quantity * net_price) as revenue from lines join raw.stores s using (store_id)
            where s.store_name = 'Riverside' and date_trunc('month', ordered_at) = date '2025-03-01'""").revenue[0]
        target = frame(con, """select target_value from raw.targets where metric_name = 'revenue'
            and org_unit = 'Riverside' and period_start = '2025-03-01'""").target_value[0]
    assert valued.org_unit == "store=Riverside"
    assert valued.value == pytest.approx(expected) and valued.target == target
    assert valued.attainment == pytest.approx(expected / target)


def test_a_tree_without_a_period_shows_the_latest_complete_month_with_data(demo_root: Path):
    valued = Metricsctl(demo_root).tree("oee", depth=1)
    assert valued.period.label == "2025-06"  # the demo's source systems end on 2025-06-30
    assert valued.previous_period is not None and valued.previous_period.label == "2025-05"


def test_a_tree_for_an_org_unit_its_metric_cannot_be_split_by_says_so(demo_root: Path):
    from metricsctl.errors import QueryError

    valued = Metricsctl(demo_root).tree("oee", "2025-03", org_unit="store=Riverside", depth=0)
    assert valued.value is None and valued.note is not None and valued.note.startswith("not split by this org unit")
    with pytest.raises(QueryError, match="unknown org unit kind 'shop'; the kinds are channel, production_line, store"):
        Metricsctl(demo_root).tree("oee", "2025-03", org_unit="shop=Riverside")
