"""Attainment and scorecards: the generated SQL, run on DuckDB in memory over small tables made here.

Directions come from the metrics' config.meta: the shop's semantic manifest is copied with meta added
(promo_orders is lower-is-better). Every expected attainment and score is worked out in the test.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from metricsctl.compiler.render import SqlCompiler
from metricsctl.errors import SpecError
from metricsctl.management.catalog import catalog_sql
from metricsctl.management.targets import (
    ScorecardConfig,
    attainment,
    attainment_sql,
    load_scorecard_config,
    parse_scorecard_config,
    render,
    scorecard_sql,
)
from metricsctl.spec import Spec

META = {
    "revenue": {"owner": "cfo", "unit": "EUR", "kpi": True, "level": "company"},
    "promo_orders": {"owner": "head_of_marketing", "direction": "lower", "kpi": True},
    "new_customers": {"owner": "head_of_crm", "kpi": True},
    "orders": {"owner": "head_of_stores"},
}


@pytest.fixture(scope="module")
def spec(shop_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Spec:
    """The shop's spec with management fields in config.meta."""
    manifest = json.loads((shop_dir / "target" / "semantic_manifest.json").read_text())
    for metric in manifest["metrics"]:
        metric["config"] = {"meta": META.get(metric["name"], {})}
    path = tmp_path_factory.mktemp("managed") / "semantic_manifest.json"
    path.write_text(json.dumps(manifest))
    return Spec.load(path)


def company_tables() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("""create table metric_values as select * from (values
        ('revenue', 'month', date '2024-01-01', 1200.0), ('revenue', 'month', date '2024-02-01', 900.0),
        ('revenue', 'day', date '2024-01-01', 55.0),
        ('promo_orders', 'month', date '2024-01-01', 40.0), ('promo_orders', 'month', date '2024-02-01', 60.0),
        ('promo_orders', 'month', date '2024-03-01', 0.0), ('promo_orders', 'month', date '2024-04-01', 0.0),
        ('new_customers', 'month', date '2024-01-01', 10.0), ('new_customers', 'month', date '2024-02-01', 0.0),
        ('orders', 'month', date '2024-01-01', 80.0)
        ) t(metric_name, grain, period_start, value)""")
    con.execute("""create table targets as select * from (values
        ('revenue', 'month', '2024-01-01', 'company', 1000.0, 0.5),
        ('revenue', 'month', '2024-02-01', 'company', 1000.0, 0.5),
        ('revenue', 'month', '2024-03-01', 'company', 1000.0, 0.5),
        ('promo_orders', 'month', '2024-01-01', 'company', 50.0, 0.2),
        ('promo_orders', 'month', '2024-02-01', 'company', 50.0, 0.2),
        ('promo_orders', 'month', '2024-03-01', 'company', 0.0, 0.2),
        ('promo_orders', 'month', '2024-04-01', 'company', 5.0, 0.2),
        ('new_customers', 'month', '2024-01-01', 'company', 0.0, 0.3),
        ('new_customers', 'month', '2024-02-01', 'company', 0.0, 0.3)
        ) t(metric_name, period_grain, period_start, org_unit, target_value, weight)""")
    return con


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> dict[tuple[str, ...], dict[str, object]]:
    frame = con.execute(sql).df()
    keys = [c for c in ("metric_name", "org_unit", "period_start") if c in frame.columns]
    return {tuple(str(r[k])[:10] if k == "period_start" else str(r[k]) for k in keys): r
            for r in frame.to_dict("records")}


def is_null(value: object) -> bool:
    return value is None or value != value


def test_attainment_respects_direction_zero_and_missing_targets(spec: Spec):
    con = company_tables()
    got = rows(con, render(attainment_sql(spec, ScorecardConfig())))
    a = {k: v["attainment"] for k, v in got.items()}
    assert a[("revenue", "company", "2024-01-01")] == pytest.approx(1200 / 1000)  # higher: actual / target
    assert a[("revenue", "company", "2024-02-01")] == pytest.approx(900 / 1000)
    assert a[("promo_orders", "company", "2024-01-01")] == pytest.approx(50 / 40)  # lower: target / actual
    assert a[("promo_orders", "company", "2024-02-01")] == pytest.approx(50 / 60)
    assert a[("promo_orders", "company", "2024-03-01")] == 1.0  # 0 against a target of 0: met
    assert is_null(a[("promo_orders", "company", "2024-04-01")])  # lower, actual 0: no ratio
    assert is_null(a[("new_customers", "company", "2024-01-01")])  # higher, target 0: no ratio
    assert a[("new_customers", "company", "2024-02-01")] == 1.0
    assert is_null(a[("orders", "company", "2024-01-01")])  # no target: NULL, not 0
    assert is_null(a[("revenue", "company", "2024-03-01")])  # a target without an actual
    assert got[("revenue", "company", "2024-03-01")]["target_value"] == 1000
    assert got[("promo_orders", "company", "2024-01-01")]["direction"] == "lower"
    assert bool(got[("revenue", "company", "2024-01-01")]["is_kpi"]) is True
    assert bool(got[("orders", "company", "2024-01-01")]["is_kpi"]) is False
    assert len(got) == 10  # the day-grain value is not a month's


def test_python_attainment_agrees_with_the_formula():
    assert attainment(1200, 1000) == 1.2 and attainment(40, 50, "lower") == 1.25
    assert attainment(5, 0) is None and attainment(0, 0, "lower") == 1.0 and attainment(0, 5, "lower") is None
    assert attainment(None, 5) is None and attainment(5, None) is None


def test_scorecard_is_the_weighted_attainment_of_kpis_with_a_target(spec: Spec):
    con = company_tables()
    con.execute("create table metric_attainment as " + render(attainment_sql(spec, ScorecardConfig())))
    got = rows(con, render(scorecard_sql("metric_attainment")))
    january = got[("company", "2024-01-01")]
    # revenue 1.2 (w .5) and promo_orders 1.25 (w .2) count; new_customers has a target but no attainment
    assert january["score"] == pytest.approx((0.5 * 1.2 + 0.2 * 1.25) / (0.5 + 0.2))
    assert (january["kpis_with_target"], january["kpis_scored"]) == (3, 2)
    assert january["weight_scored"] == pytest.approx(0.7)
    february = got[("company", "2024-02-01")]
    assert february["score"] == pytest.approx((0.5 * 0.9 + 0.2 * 50 / 60 + 0.3 * 1.0) / 1.0)
    april = got[("company", "2024-04-01")]
    assert is_null(april["score"]) and april["kpis_scored"] == 0  # nothing measurable: no score, not 0

    capped = rows(con, render(scorecard_sql("metric_attainment", cap=1.0)))
    assert capped[("company", "2024-01-01")]["score"] == pytest.approx((0.5 * 1.0 + 0.2 * 1.0) / 0.7)
    only_revenue = rows(con, render(scorecard_sql("metric_attainment", kpis=["revenue"])))
    assert only_revenue[("company", "2024-02-01")]["score"] == pytest.approx(0.9)


def test_org_units_are_sliced_by_their_dimension(spec: Spec, tmp_path: Path):
    """Stores' actuals come from the `orders` metric grouped by store__store_name, over tables made here."""
    con = company_tables()
    con.execute("""create table stores as select * from (values (1, 'Harbor', 'north'), (2, 'Mill', 'south'))
                   t(store_id, store_name, store_region)""")
    con.execute("""create table orders as select * from (values
        (1, 1, 1, date '2024-01-03', 'store', false, 10.0), (2, 1, 1, date '2024-01-09', 'store', true, 20.0),
        (3, 2, 1, date '2024-01-20', 'online', false, 30.0), (4, 2, 2, date '2024-01-21', 'store', false, 40.0),
        (5, 3, 1, date '2024-02-02', 'store', false, 50.0), (6, 3, 1, date '2024-02-05', 'online', true, 60.0)
        ) t(order_id, customer_id, store_id, ordered_at, channel, is_promo, amount)""")
    con.execute("""create table store_targets as select * from (values
        ('orders', 'month', '2024-01-01', 'Harbor', 'store', 2.0, 1.0),
        ('orders', 'month', '2024-01-01', 'Mill', 'store', 2.0, 1.0),
        ('promo_orders', 'month', '2024-01-01', 'Harbor', 'store', 2.0, 3.0),
        ('orders', 'month', '2024-02-01', 'Harbor', 'store', 4.0, 1.0),
        ('orders', 'month', '2024-02-01', 'Mill', 'store', 1.0, 1.0),
        ('revenue', 'month', '2024-01-01', 'company', 'company', 1000.0, 1.0)
        ) t(metric_name, period_grain, period_start, org_unit, org_unit_type, target_value, weight)""")
    compiler = SqlCompiler(spec, "duckdb", relations={
        '"shop"."main"."orders"': "orders", '"shop"."main"."stores"': "stores"})
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "scorecard.yml").write_text(
        "metricsctl_scorecard:\n  targets: store_targets\n  kind_column: org_unit_type\n"
        "  org_units: {store: store__store_name}\n  sliced_metrics: {store: [orders, promo_orders]}\n")
    config = load_scorecard_config(tmp_path, ["models"])
    assert config == ScorecardConfig(org_units={"store": "store__store_name"}, targets="store_targets",
                                     kind_column="org_unit_type", sliced_metrics={"store": ["orders", "promo_orders"]},
                                     source="models/scorecard.yml:1")
    con.execute("create table metric_attainment as " + render(attainment_sql(spec, config, compiler)))
    got = rows(con, "select * from metric_attainment where org_unit_kind = 'store'")
    # Harbor: 3 orders in January (1 promo), 2 in February (1 promo); Mill: 1 order in January
    assert got[("orders", "Harbor", "2024-01-01")]["actual"] == 3
    assert got[("orders", "Harbor", "2024-01-01")]["attainment"] == pytest.approx(3 / 2)
    assert got[("orders", "Mill", "2024-01-01")]["attainment"] == pytest.approx(1 / 2)
    assert got[("orders", "Harbor", "2024-02-01")]["attainment"] == pytest.approx(2 / 4)
    assert got[("promo_orders", "Harbor", "2024-01-01")]["attainment"] == pytest.approx(2 / 1)  # lower is better
    assert is_null(got[("orders", "Mill", "2024-02-01")]["actual"])  # a target, no orders
    assert is_null(got[("orders", "Mill", "2024-02-01")]["attainment"])
    assert is_null(got[("promo_orders", "Mill", "2024-01-01")]["attainment"])  # Mill's promo orders: no target
    scores = rows(con, render(scorecard_sql("metric_attainment")) + " order by 1")
    assert scores[("Harbor", "2024-01-01")]["score"] == pytest.approx((1.0 * 1.5 + 3.0 * 2.0) / 4.0)
    assert scores[("Mill", "2024-01-01")]["score"] == pytest.approx(0.5)
    assert scores[("company", "2024-01-01")]["score"] == pytest.approx(1.2)


def test_catalog_columns_carry_fields_latest_value_target_and_attainment(spec: Spec):
    con = company_tables()
    con.execute("create table metric_attainment as " + render(attainment_sql(spec, ScorecardConfig())))
    con.execute("create table health as select 'revenue' as metric_name, 'ok' as data_health")
    got = rows(con, render(catalog_sql(spec, attainment="metric_attainment", health="health")))
    revenue = got[("revenue",)]
    assert (revenue["owner"], revenue["unit"], revenue["level"], revenue["direction"]) == (
        "cfo", "EUR", "company", "higher")
    assert str(revenue["latest_period"])[:10] == "2024-02-01" and revenue["latest_value"] == 900
    assert revenue["target_value"] == 1000 and revenue["attainment"] == pytest.approx(0.9)
    assert revenue["data_health"] == "ok"
    # revenue feeds ratio and derived metrics: they are its parents in the tree
    assert "revenue_per_order" in revenue["parents"] and "avg_line_value" in revenue["parents"]
    assert got[("promo_orders",)]["direction"] == "lower"
    assert is_null(got[("line_count",)]["latest_value"])


def test_the_sql_renders_for_other_dialects(spec: Spec):
    sql = render(scorecard_sql(attainment_sql(spec, ScorecardConfig())), "postgres")
    assert "FULL OUTER JOIN" in sql and "NULLIF" in sql


def test_a_bad_scorecard_configuration_is_reported_at_once():
    with pytest.raises(SpecError) as error:
        parse_scorecard_config({"org_unit": {}, "grains": ["fortnight"], "cap": "high"}, "models/kpi.yml:3")
    text = str(error.value)
    assert "models/kpi.yml:3" in text and "unknown key 'org_unit'" in text and "did you mean 'org_units'" in text
    assert "grains must be" in text and "cap is 'high'" in text


@pytest.mark.parametrize(("key", "value", "message"), [
    # the kind column stood in the attainment's SQL as written: this one closed the CAST and added a UNION
    ("kind_column", "org_unit_type AS TEXT) AS org_unit_kind, (SELECT 1) AS x FROM stg_targets UNION ALL "
                    "SELECT 1,2,3,4,5,6,7,CAST(NULL", "kind_column 'org_unit_type AS TEXT)"),
    ("targets", "finance.targets", "targets 'finance.targets' is not a valid name"),
    ("metric_values", "mv; drop table x", "metric_values 'mv; drop table x' is not a valid name"),
    ("org_units", {"north-east": "store__region"}, "org unit kind 'north-east' is not a valid name"),
    ("org_units", {"store": "store__store_name') }} or {{ Dimension('x"}, "which is not a group-by name"),
])
def test_names_in_the_scorecard_configuration_are_names(key: str, value: object, message: str):
    with pytest.raises(SpecError) as error:
        parse_scorecard_config({key: value}, "models/kpi.yml:3")
    assert message in str(error.value) and "models/kpi.yml:3" in str(error.value)
