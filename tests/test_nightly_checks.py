"""What a nightly build checks: the rows it wrote, without letting a bad row of the day's load through.

First the pieces on a hand-made DuckDB table of 100 rows loaded on 2024-03-01 and 5 loaded on 2024-03-31
(the day's load), each defect placed by hand and its count worked out beside it; then the demo: a day's
load with bad rows is stopped by its nightly build on DuckDB and PostgreSQL, by a dbt test and by an
expectation, and a bad row loaded before a check existed is found by `metricsctl check` and by a full
refresh, which see every row.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from metricsctl.expectations import ExpectationSpecError, run_suites, suites_from_yaml
from metricsctl.expectations.batches import batch_of
from metricsctl.expectations.spec import ExpectationSpec
from metricsctl.facade import Metricsctl
from metricsctl.since_last_build import Bound, SinceLastBuildError, read_bounds, where_requests
from metricsctl.warehouse import DuckDBWarehouse

NEW = dt.datetime(2024, 3, 31, 6, 0)  # the day's load
BOUND = Bound("loaded_at", dt.datetime(2024, 2, 5, 4, 0))  # the newest load before it: order 100's
TABLE = """
CREATE TABLE customers AS SELECT i AS customer_id FROM range(1, 11) r(i);
CREATE TABLE orders AS
SELECT i AS order_id, (i % 10) + 1 AS customer_id, 10.0 * i AS amount,
       TIMESTAMP '2024-02-01 00:00:00' + to_hours(CAST(i AS BIGINT)) AS loaded_at  -- one an hour
FROM range(1, 101) r(i);
UPDATE orders SET amount = -5 WHERE order_id = 7;          -- old and bad: validated (and let through) long ago
UPDATE orders SET customer_id = 998 WHERE order_id = 8;    -- old and orphaned
INSERT INTO orders VALUES
    (101, 1, 10.0, TIMESTAMP '2024-03-31 06:00:00'),
    (102, 2, 10.0, TIMESTAMP '2024-03-31 06:00:00'),
    (50, 3, 10.0, TIMESTAMP '2024-03-31 06:00:00'),        -- new, and repeats old order 50
    (104, 4, 20000.0, TIMESTAMP '2024-03-31 06:00:00'),    -- new and out of range
    (105, 999, 10.0, TIMESTAMP '2024-03-31 06:00:00');     -- new and orphaned
"""
SUITE = """
expectations:
  - relation: orders
    rows_since_last_build: loaded_at
    expectations:
      - expect_column_values_to_not_be_null: {column: order_id}
      - expect_column_values_to_be_unique: {column: order_id}
      - expect_column_values_to_be_between: {column: amount, min_value: 0, max_value: 10000}
      - expect_column_values_to_be_in_relation: {column: customer_id, to: customers, field: customer_id}
      - expect_table_row_count_to_be_between: {min_value: 100}
"""


@pytest.fixture()
def orders(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(TABLE)
    return path


def unexpected(run: Any) -> dict[str, int | None]:
    """expectation -> its unexpected count, for the failed ones."""
    return {r.expectation: r.unexpected_count for s in run.suites for r in s.results if not r.success}


def test_each_expectation_validates_the_rows_that_keep_its_meaning() -> None:
    def spec(name: str, **kwargs: Any) -> ExpectationSpec:
        return ExpectationSpec(name, kwargs, "error", "x.yml", 1)

    assert batch_of(spec("expect_column_values_to_not_be_null", column="a")) == "rows"
    assert batch_of(spec("expect_column_values_to_be_between", column="a", min_value=0)) == "rows"
    assert batch_of(spec("expect_column_pair_values_a_to_be_greater_than_b", column_A="a", column_B="b")) == "rows"
    assert batch_of(spec("expect_column_values_to_be_in_relation", column="a", to="t")) == "rows"
    assert batch_of(spec("expect_column_values_to_be_unique", column="a")) == "keys"
    assert batch_of(spec("expect_compound_columns_to_be_unique", column_list=["a", "b"])) == "keys"
    for whole in ("expect_table_row_count_to_be_between", "expect_column_max_to_be_between",
                  "expect_column_mean_to_be_between", "expect_column_values_to_be_increasing",
                  "expect_column_values_to_not_be_outliers", "unexpected_rows_expectation"):
        assert batch_of(spec(whole, column="a")) == "whole", whole


def test_a_bound_narrows_row_checks_to_the_new_rows_and_uniqueness_to_their_keys(orders: Path) -> None:
    suites = suites_from_yaml(SUITE, "models/expectations.yml")
    url = f"duckdb:///{orders}"
    nightly = run_suites(suites, url, since={"orders": BOUND})
    # new rows only (and order 100, loaded at the bound): 104 is out of range, 105 an orphan; old 7 and 8 are
    # not read again. Order 50 is on two rows (an old one and a new one): both are counted. 105 rows in the
    # table: the row count holds.
    assert unexpected(nightly) == {"expect_column_values_to_be_between": 1,
                                   "expect_column_values_to_be_unique": 2,
                                   "expect_column_values_to_be_in_relation": 1}
    assert nightly.suites[0].rows_since == "loaded_at >= 2024-02-05 04:00:00"  # in the build's run record
    everything = run_suites(suites, url)  # no bound: a full refresh, a first build, `metricsctl check`
    assert unexpected(everything) == {"expect_column_values_to_be_between": 2,
                                      "expect_column_values_to_be_unique": 2,
                                      "expect_column_values_to_be_in_relation": 2}
    assert everything.suites[0].rows_since is None


def test_the_rows_sharing_a_key_with_new_rows_are_read_from_the_table_once(
        orders: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GX computes each metric of the uniqueness batch with a query of its own (row count, non-null count,
    unexpected count, values, column types); on DuckDB the batch's rows are written to a temporary table once,
    and the count is the same: order 50's two rows."""
    from tests.test_expectations_runner import recorded_statements

    statements = recorded_statements(monkeypatch)
    suites = suites_from_yaml(SUITE, "models/expectations.yml")
    run = run_suites(suites, f"duckdb:///{orders}", since={"orders": BOUND})
    assert unexpected(run)["expect_column_values_to_be_unique"] == 2
    keyed = [s for s in statements if '"order_id" IN (SELECT "order_id"' in s]
    assert len(keyed) == 1 and keyed[0].startswith("CREATE OR REPLACE TEMPORARY TABLE")
    assert any(s.startswith('DROP TABLE IF EXISTS temp.main."suite_') for s in statements)


def test_a_bound_after_every_row_leaves_row_checks_nothing_to_fail(orders: Path) -> None:
    suites = suites_from_yaml(SUITE.replace("{min_value: 100}", "{min_value: 106}"), "models/expectations.yml")
    run = run_suites(suites, f"duckdb:///{orders}", since={"orders": Bound("loaded_at", dt.datetime(2025, 1, 1))})
    assert unexpected(run) == {"expect_table_row_count_to_be_between": None}  # the whole table: 105 rows


MANIFEST: dict[str, Any] = {
    "metadata": {"project_name": "shop"},
    "nodes": {
        "model.shop.orders": {"unique_id": "model.shop.orders", "name": "orders", "resource_type": "model",
                              "package_name": "shop", "alias": "orders", "config": {"materialized": "incremental"}},
        "model.shop.customers": {"unique_id": "model.shop.customers", "name": "customers", "resource_type": "model",
                                 "package_name": "shop", "alias": "customers", "config": {"materialized": "view"}},
        "seed.shop.stores": {"unique_id": "seed.shop.stores", "name": "stores", "resource_type": "seed",
                             "package_name": "shop", "alias": "stores", "config": {"materialized": "seed"}},
    },
}


def test_a_suite_setting_that_cannot_work_is_reported_with_file_line_and_fix() -> None:
    text = """\
expectations:
  - relation: stores
    rows_since_last_build: loaded_at
    expectations: [expect_table_row_count_to_be_between]
  - relation: orders
    rows_since_last_build: [loaded_at]
    expectations: [expect_table_row_count_to_be_between]
  - relation: customers
    rows_since_last_built: loaded_at
    expectations: [expect_table_row_count_to_be_between]
"""
    with pytest.raises(ExpectationSpecError) as caught:
        suites_from_yaml(text, "models/expectations.yml", MANIFEST)
    lines = str(caught.value).splitlines()[1:]
    assert lines[0].startswith("  models/expectations.yml:3: `rows_since_last_build:` is for an incremental model")
    assert "stores is a seed that a build does not write" in lines[0] and "remove `rows_since_last_build:`" in lines[0]
    assert lines[1].startswith("  models/expectations.yml:6: `rows_since_last_build:` names the relation's load "
                               "column, e.g. `rows_since_last_build: loaded_at`")
    assert lines[2].startswith("  models/expectations.yml:9: unknown suite key `rows_since_last_built` "
                               "(did you mean `rows_since_last_build`?)")
    assert suites_from_yaml(text.split("  - relation: orders")[0].replace("stores", "orders"), "x.yml",
                            MANIFEST)[0].rows_since == "loaded_at"


def test_a_malformed_where_is_reported_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "orders.yml").write_text(
        "models:\n  - name: orders\n    columns:\n      - name: order_id\n        data_tests:\n"
        "          - unique: {config: {where: \"keys_since_last_build(order_id)\"}}\n")
    test = {"resource_type": "test", "name": "unique_orders_order_id", "attached_node": "model.shop.orders",
            "original_file_path": "models/orders.yml", "config": {"where": "keys_since_last_build(order_id)"}}
    manifest = {**MANIFEST, "nodes": {**MANIFEST["nodes"], "test.shop.unique_orders_order_id": test}}
    with pytest.raises(SinceLastBuildError, match=r"^models/orders.yml:6: `keys_since_last_build\(order_id\)` in test "
                                                  r"unique_orders_order_id's `where` takes a key column and a load "
                                                  r"column by name, e.g. keys_since_last_build\(order_line_id, "
                                                  r"loaded_at\)$"):
        where_requests(manifest, tmp_path)
    test["config"] = {"where": "status <> 'test' and keys_since_last_build(order_id, loaded_at)"}
    assert [(r.unique_id, r.column) for r in where_requests(manifest, tmp_path)] == [("model.shop.orders", "loaded_at")]


def test_bounds_are_read_for_incremental_relations_that_hold_rows(orders: Path) -> None:
    from metricsctl.since_last_build import Request

    warehouse = DuckDBWarehouse(str(orders))
    try:
        requests = [Request("model.shop.orders", "loaded_at"), Request("model.shop.orders", "order_id"),
                    Request("model.shop.customers", "customer_id")]  # a view: rebuilt whole, checked whole
        assert read_bounds(requests, MANIFEST, warehouse) == {"model.shop.orders": {
            "loaded_at": Bound("loaded_at", NEW), "order_id": Bound("order_id", 105)}}
    finally:
        warehouse.close()
    with duckdb.connect(str(orders)) as con:
        con.execute("DELETE FROM orders")
    warehouse = DuckDBWarehouse(str(orders))
    try:  # no rows yet, or no table yet (a first build): every row is checked
        assert read_bounds(requests, MANIFEST, warehouse) == {}
        assert read_bounds([Request("model.shop.missing", "loaded_at")], {**MANIFEST, "nodes": {
            "model.shop.missing": {**MANIFEST["nodes"]["model.shop.orders"], "unique_id": "model.shop.missing",
                                   "name": "missing", "alias": "missing"}}}, warehouse) == {}
    finally:
        warehouse.close()


def test_a_model_that_says_which_rows_it_rewrote_gets_its_bound_from_its_run(orders: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """fct_headcount_daily's runs choose the rows they rewrite: no bound is read before the build (the table's
    newest day would leave out a corrected employee's older days); the day its run announces is the bound."""
    import json
    import os

    from metricsctl.since_last_build import ENV, Request, dbt_tests_see, hear

    node = MANIFEST["nodes"]["model.shop.orders"]
    manifest = {**MANIFEST, "nodes": {"model.shop.orders": {
        **node, "config": {**node["config"], "meta": {"metricsctl": {"rewritten_column": "loaded_at"}}}}}}
    warehouse = DuckDBWarehouse(str(orders))
    try:
        assert read_bounds([Request("model.shop.orders", "loaded_at")], manifest, warehouse) == {}
    finally:
        warehouse.close()
    said = 'metricsctl_rewritten {"unique_id": "model.shop.orders", "column": "loaded_at", "value": "2024-02-03"}'
    monkeypatch.delenv(ENV, raising=False)
    hear(said)  # outside a build: nothing listens
    assert ENV not in os.environ
    bounds: dict[str, dict[str, Bound]] = {"model.shop.customers": {"customer_id": Bound("customer_id", 3)}}
    with dbt_tests_see(bounds):
        hear("some other line of dbt's log")
        hear(said)
        assert bounds["model.shop.orders"] == {"loaded_at": Bound("loaded_at", dt.date(2024, 2, 3))}
        assert json.loads(os.environ[ENV]) == {"model.shop.customers": {"customer_id": ["integer", "3"]},
                                               "model.shop.orders": {"loaded_at": ["date", "2024-02-03"]}}
        with pytest.raises(SinceLastBuildError, match="in a form metricsctl does not read"):
            hear('metricsctl_rewritten {"unique_id": "model.shop.orders", "column": "loaded_at", "value": "soon"}')
    assert ENV not in os.environ
    manifest["nodes"]["model.shop.orders"]["config"]["meta"]["metricsctl"]["rewritten_column"] = "date day"
    warehouse = DuckDBWarehouse(str(orders))
    try:
        with pytest.raises(SinceLastBuildError, match="rewritten_column names the date column"):
            read_bounds([Request("model.shop.orders", "loaded_at")], manifest, warehouse)
    finally:
        warehouse.close()


def test_the_bound_of_a_table_by_date_is_its_latest_day_minus_its_lookback(tmp_path: Path) -> None:
    """A model whose runs rebuild the days from the latest it holds minus `lookback_days` (macros/portable.sql):
    its checks see every day the run rewrote, late rows included."""
    from metricsctl.since_last_build import Request

    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create table traffic as select date '2025-06-01' + cast(i as integer) as traffic_date, "
                    "timestamp '2025-06-02 06:30:00' + to_days(cast(i as integer)) as sent_at from range(30) r(i)")
    settings = {"lookback_column": "traffic_date", "lookback_days": 10}
    node = {"unique_id": "model.shop.traffic", "name": "traffic", "resource_type": "model", "package_name": "shop",
            "alias": "traffic", "original_file_path": "models/traffic.sql",
            "config": {"materialized": "incremental", "meta": {"metricsctl": settings}}}
    manifest = {**MANIFEST, "nodes": {"model.shop.traffic": node}}
    warehouse = DuckDBWarehouse(str(path))
    try:  # the latest day is 2025-06-30: a run rebuilds from 2025-06-20
        assert read_bounds([Request("model.shop.traffic", "traffic_date")], manifest, warehouse) == {
            "model.shop.traffic": {"traffic_date": Bound("traffic_date", dt.date(2025, 6, 20))}}
        settings.update(lookback_column="sent_at", lookback_days=0)  # a timestamp: from the midnight of its day
        assert read_bounds([Request("model.shop.traffic", "sent_at")], manifest, warehouse) == {
            "model.shop.traffic": {"sent_at": Bound("sent_at", dt.date(2025, 7, 1))}}
        # a check by another column than the one the runs rebuild by would miss rewritten rows
        with pytest.raises(SinceLastBuildError, match="rebuild the days of 'sent_at' from the latest minus 0: "
                                                      "name 'sent_at'"):
            read_bounds([Request("model.shop.traffic", "traffic_date")], manifest, warehouse)
        settings.update(lookback_days="10")
        with pytest.raises(SinceLastBuildError, match=r"^models/traffic.sql: model.shop.traffic: meta.metricsctl "
                                                      r"needs `lookback_column` .* and `lookback_days`"):
            read_bounds([Request("model.shop.traffic", "sent_at")], manifest, warehouse)
    finally:
        warehouse.close()


# --- the demo ---------------------------------------------------------------------------------------------
AS_OF = dt.date(2025, 7, 1)
BAD_LOAD = {  # the morning of 2025-07-08, after every row of the demo
    "orders": [[9001, 949, 3, "2025-06-30", "", "2025-07-08 05:00:00"]],
    # line 17 belongs to order 8 (loaded in 2024): the load repeats its id on a new order's line. The merge
    # deletes by order_id, so the old line stays: only a check of every line sharing the id finds the pair
    "order_lines": [[20001, 9001, 9, 2, 69.0, 0.0], [17, 9001, 4, 1, 79.0, 0.0]],
    "production_runs": [[1801, 3, "", "2025-06-30", 1, 320, 290, 1800, 9, 1, "2025-07-08 06:15:00"]],  # no product
    # a late day of the online shop, sent again with a negative footfall: store traffic carries no load time,
    # and a run rebuilds its last 10 days (from 2025-06-20), which its checks read
    "store_traffic": [["2025-06-25", 5, -3]],
    "attributed_orders": [[9001, 999, 2, "last_click"]],  # attributed to no campaign
}
CAUGHT_TESTS = {"unique_stg_order_lines_order_line_id", "not_null_stg_production_runs_product_id",
                "unique_stg_store_traffic_store_day_id",
                "relationships_stg_attributed_orders_campaign_id__campaign_id__ref_stg_campaigns_"}
CAUGHT_EXPECTATIONS = {("stg_order_lines", "expect_column_values_to_be_unique", 2),
                       ("stg_production_runs", "expect_column_values_to_not_be_null", 1),
                       ("stg_attributed_orders", "expect_column_values_to_be_in_relation", 1),
                       ("stg_store_traffic", "expect_column_values_to_be_unique", 2),
                       ("stg_store_traffic", "expect_column_values_to_be_between", 1)}
TRAFFIC_DAYS = "\"traffic_date\" >= cast('2025-06-20' as date)"  # the latest day, 2025-06-30, minus 10


def land(root: Path, load: dict[str, list[list[Any]]]) -> None:
    for seed, rows in load.items():
        with (root / "seeds" / f"{seed}.csv").open("a", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(rows)


def caught(result: Any) -> tuple[set[str], set[tuple[str, str, int | None]]]:
    tests = {n.unique_id.split(".")[2] for n in result.failed if n.unique_id.startswith("test.")}
    expectations = {(s.suite, r.expectation, r.unexpected_count)
                    for s in result.expectations.suites for r in s.results if not r.success and r.severity == "error"}
    return tests, expectations


def compiled_test(app: Metricsctl, name: str) -> str:
    """The SQL dbt last compiled for test `name` (under target/compiled, or the candidate's target path)."""
    found = [p for p in app.project.target_dir.rglob(f"{name}.sql") if "compiled" in p.parts]
    return max(found, key=lambda p: p.stat().st_mtime).read_text()


def newest_load(root: Path) -> str:
    """The newest `loaded_at` of the demo's orders before the day's load: an order line's load is its order's."""
    with (root / "seeds" / "orders.csv").open() as f:
        return max(row["loaded_at"] for row in csv.DictReader(f))


@pytest.mark.slow
def test_a_nightly_build_stops_a_bad_row_of_the_days_load(demo_built: Path, tmp_path: Path) -> None:
    root = tmp_path / "demo"
    shutil.copytree(demo_built, root, ignore=shutil.ignore_patterns(".metricsctl-candidate", "*.lock", "target"))
    bound = newest_load(root)
    land(root, BAD_LOAD)
    app = Metricsctl(root)
    result = app.build(as_of=AS_OF)
    assert not result.success
    assert caught(result) == (CAUGHT_TESTS, CAUGHT_EXPECTATIONS)
    # the tests read the rows since the newest load before the build, as a literal
    unique = compiled_test(app, "unique_stg_order_lines_order_line_id")
    assert f"\"loaded_at\" >= cast('{bound}' as timestamp)" in unique
    assert "\"order_line_id\" in (select \"order_line_id\"" in unique
    assert {s.suite: s.rows_since for s in result.expectations.suites}["stg_order_lines"] == f"loaded_at >= {bound}"
    assert TRAFFIC_DAYS in compiled_test(app, "unique_stg_store_traffic_store_day_id")
    assert {s.suite: s.rows_since for s in result.expectations.suites}["stg_store_traffic"] == \
        "traffic_date >= 2025-06-20"
    # the failed relations keep their published rows: the bad rows never reach a reader
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from stg_order_lines where order_line_id = 17").fetchone() == (1,)
        assert con.execute("select count(*) from stg_production_runs where run_id = 1801").fetchone() == (0,)
        assert con.execute("select count(*) from stg_store_traffic where footfall < 0").fetchone() == (0,)


@pytest.mark.slow
def test_a_bad_row_loaded_before_its_check_is_found_by_check_and_full_refresh(demo_built: Path,
                                                                               tmp_path: Path) -> None:
    root = tmp_path / "demo"
    shutil.copytree(demo_built, root, ignore=shutil.ignore_patterns(".metricsctl-candidate", "*.lock", "target"))
    # order 8's line 17, loaded in 2024, gets a quantity no check would have passed
    with duckdb.connect(str(root / "warehouse.duckdb")) as con:
        con.execute("update stg_order_lines set quantity = 0 where order_line_id = 17")
    seed = root / "seeds" / "order_lines.csv"
    rows = list(csv.reader(seed.open()))
    rows = [[*r[:3], "0", *r[4:]] if r[0] == "17" else r for r in rows]
    with seed.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    land(root, {"orders": BAD_LOAD["orders"], "order_lines": BAD_LOAD["order_lines"][:1]})
    app = Metricsctl(root)
    nightly = app.build(as_of=AS_OF)
    assert nightly.success, caught(nightly)  # the nightly build checks the day's rows: line 17 is not one
    between = ("stg_order_lines", "expect_column_values_to_be_between", 1)
    assert between in caught_expectations(app.check(as_of=AS_OF))
    refreshed = app.build(as_of=AS_OF, full_refresh=True)
    assert between in caught(refreshed)[1]
    assert "since_last_build" not in compiled_test(app, "unique_stg_order_lines_order_line_id")
    assert "1 = 1" in compiled_test(app, "unique_stg_order_lines_order_line_id")


def caught_expectations(run: Any) -> set[tuple[str, str, int | None]]:
    return {(s.suite, r.expectation, r.unexpected_count) for s in run.suites for r in s.results if not r.success}


@pytest.mark.slow
@pytest.mark.postgres
def test_a_nightly_build_on_postgres_stops_a_bad_row_of_the_days_load(postgres_env: dict[str, str], tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_demo_engines import build_demo

    monkeypatch.setenv("METRICSCTL_PG_SCHEMA", "nightchecks")  # beside the schemas other demo tests build
    app = build_demo(tmp_path / "demo", "postgres")
    bound = newest_load(app.project.project_dir)
    land(app.project.project_dir, BAD_LOAD)
    result = app.build(as_of=AS_OF)
    assert not result.success
    assert caught(result) == (CAUGHT_TESTS, CAUGHT_EXPECTATIONS)
    unique = compiled_test(app, "unique_stg_order_lines_order_line_id")
    assert f"\"loaded_at\" >= cast('{bound}' as timestamp)" in unique
    assert TRAFFIC_DAYS in compiled_test(app, "unique_stg_store_traffic_store_day_id")
    warehouse = app.warehouse()
    try:  # the published rows stay as they were
        assert warehouse.execute("select count(*) from nightchecks.stg_production_runs where run_id = 1801"
                                 ).rows[0][0] == 0
    finally:
        warehouse.close()
