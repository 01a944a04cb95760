"""The demo's nightly build: after one day's load, `metricsctl build` gives the rows a full build gives.

A copy of the built demo gets one more load in its seeds, late rows included: a late order that makes a
customer's next order a repeat order, an order reloaded with another customer and date, a late production
run, and a run reloaded with another date; and, in the sources that carry only their date (store traffic,
campaign spend, inventory balances), a day's row sent again corrected and a row of an earlier day the last
build did not have (sent late), both within the ten days those tables rebuild. The nightly build of that
copy (incremental staging and exports) is compared, relation by relation and row by row, with a full
build of the same seeds in a fresh copy; on PostgreSQL, every export and standard table of the nightly
build with that full build's.
(On Spark the staging of the large facts is rebuilt in full; its incremental exports are compared with a
full refresh in tests/test_materialize.py.) Expected values are the full build's, never the nightly
build's own.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from metricsctl.facade import Metricsctl

ROOT = Path(__file__).resolve().parents[1]
AS_OF = dt.date(2025, 7, 1)
OWN_TABLES = ("expectation_results", "metricsctl_")  # what each build records about itself
LOAD = {  # the morning of 2025-07-08: every row loaded after all the demo's rows
    "orders": [
        [9001, 949, 3, "2025-06-30", "", "2025-07-08 05:00:00"],  # late, for a customer with earlier orders
        [9002, 133, 1, "2025-06-23", "", "2025-07-08 05:10:00"],  # late, before customer 133's first order
        [8146, 2, 5, "2025-06-26", "", "2025-07-08 05:20:00"],  # reloaded: customer 9's order is customer 2's
    ],
    "order_lines": [[20001, 9001, 9, 2, 69.0, 0.0], [20002, 9001, 4, 1, 79.0, ""], [20003, 9002, 4, 1, 79.0, 0.0]],
    "attributed_orders": [[9001, 13, 2, "last_click"]],
    "production_runs": [
        [1801, 3, 4, "2025-06-30", 1, 320, 290, 1800, 9, 1, "2025-07-08 06:15:00"],  # uploaded late
        [1706, 3, 4, "2025-06-29", 2, 320, 282, 1800, 8, 2, "2025-07-08 06:15:00"],  # reloaded on another day
    ],
}
# corrections in the HR system, which lands whole every night: a leaving date moved earlier, a hire date later
CORRECTED = {"13": {"termination_date": "2024-10-31"}, "80": {"hire_date": "2024-02-10"}}
# sources with no load time, stored by date (each run rebuilds the last 10 days it holds): a row sent again
# with another value (seed, its key, the new values), and a row of an earlier day that the last build did not
# have (table, its id; taken out of the built table before the load, as if it had not been sent yet)
RESTATED = {
    "store_traffic": ({"traffic_date": "2025-06-27", "store_id": "2"}, {"footfall": "61"}),
    "campaign_spend": ({"spend_date": "2025-06-29", "campaign_id": "13"}, {"spend": "77.7", "clicks": "31"}),
    "inventory_balances": ({"balance_date": "2025-06-28", "product_id": "3"}, {"on_hand_units": "7"}),
}
SENT_LATE = {"stg_store_traffic": "store_day_id = '5-20250625'",
             "stg_campaign_spend": "campaign_day_id = '25-20250624'",
             "stg_inventory_balances": "inventory_balance_id = '11-main-20250622'"}
# a row of each, long before the days a run rebuilds: no run reads or writes it again (marked on its id,
# which no metric reads)
OLD_BY_DATE = {"stg_store_traffic": ("store_day_id", "1-20240105"),
               "stg_campaign_spend": ("campaign_day_id", "1-20240105"),
               "stg_inventory_balances": ("inventory_balance_id", "1-main-20240105")}
SENTINEL = "select loaded_at from stg_orders where order_id = 17"  # an old order of a customer the load leaves alone
OLD_ATTRIBUTION = "select loaded_at from stg_attributed_orders where order_id = 1"  # the same, of an attribution
# rows no run needs to rebuild: a headcount day of an employee nobody corrected, a day of units sold long past
# (metric_attainment reads months)
OLD_HEADCOUNT = "headcount_day_id = '1-20240105'"
OLD_VALUE = "metric_name = 'units_sold' and grain = 'day' and period_start = date '2024-03-05'"
OLD_HEADCOUNT_VALUE = "metric_name = 'headcount' and grain = 'day' and period_start = date '2024-03-05'"

pytestmark = pytest.mark.slow


def land(root: Path) -> None:
    for seed, rows in LOAD.items():
        with (root / "seeds" / f"{seed}.csv").open("a", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(rows)
    rewrite(root / "seeds" / "employees.csv", lambda row: CORRECTED.get(row["employee_id"], {}))
    for seed, (key, values) in RESTATED.items():
        rewrite(root / "seeds" / f"{seed}.csv",
                lambda row, key=key, values=values: values if all(row[k] == v for k, v in key.items()) else {})


def rewrite(path: Path, changes: Callable[[dict[str, str]], dict[str, str]]) -> None:
    """Rewrite a seed, each row updated with what `changes` gives for it; every change must find its row."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    changed = 0
    for row in rows:
        update = changes(row)
        changed += bool(update)
        row.update(update)
    assert changed, path
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def one(path: Path, sql: str) -> object:
    with duckdb.connect(str(path), read_only=True) as con:
        row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]


def differing_relations(left: Path, right: Path) -> list[str]:
    """Relations one file lacks, or whose rows differ (floating-point values beyond 1e-9 relative: a sum over
    rows stored in another order differs in the last bits), by bench/steps.py's comparison."""
    spec = importlib.util.spec_from_file_location("bench_steps", ROOT / "bench" / "steps.py")
    assert spec is not None and spec.loader is not None
    steps = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(steps)
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"attach '{left}' as nightly (read_only)")
        con.execute(f"attach '{right}' as refreshed (read_only)")
        found = steps.compare_catalogs(con, "nightly", "refreshed", OWN_TABLES)
    finally:
        con.close()
    assert len(found["tables"]) > 60  # seeds, staging, marts, exports, standard tables
    return [*found["only_left"], *found["only_right"],
            *(f"{t}: {found['tables'][t]}" for t in found["differing"])]


def fresh_copy(root: Path) -> Path:
    shutil.copytree(ROOT, root, ignore=shutil.ignore_patterns(
        ".git", ".venv", "target", "logs", "*.duckdb", "*.duckdb.wal", "tests", "bench", "docs", "*.egg-info",
        "spark-warehouse", ".metricsctl-candidate"))
    return root


@pytest.fixture(scope="module")
def full_build(tmp_path_factory: pytest.TempPathFactory) -> Metricsctl:
    """The demo with the load in its seeds, built from nothing on DuckDB."""
    root = fresh_copy(tmp_path_factory.mktemp("full") / "demo")
    land(root)
    app = Metricsctl(root)
    result = app.build(as_of=AS_OF)
    assert result.success, [(n.unique_id, n.message) for n in result.failed] or result.stale_metrics
    return app


def test_a_nightly_build_after_one_days_load_gives_a_full_builds_rows(demo_built: Path, tmp_path: Path,
                                                                       full_build: Metricsctl):
    nightly = tmp_path / "nightly"
    shutil.copytree(demo_built, nightly, ignore=shutil.ignore_patterns(".metricsctl-candidate", "*.lock"))
    warehouse = nightly / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:  # marks on rows no run needs to read or write again
        kept = con.execute(SENTINEL).fetchone()
        con.execute("update stg_orders set loaded_at = timestamp '2000-01-01' where order_id = 17")
        attributed = con.execute(OLD_ATTRIBUTION).fetchone()
        con.execute("update stg_attributed_orders set loaded_at = timestamp '2000-01-01' where order_id = 1")
        con.execute(f"update fct_headcount_daily set headcount_day_id = 'kept' where {OLD_HEADCOUNT}")
        units = con.execute(f"select value from metric_values where {OLD_VALUE}").fetchone()
        for value in (OLD_VALUE, OLD_HEADCOUNT_VALUE):
            con.execute(f"update metric_values set value = -1 where {value}")
        repeat = con.execute("select is_repeat_order from stg_orders where order_id = (select min(order_id) "
                             "from stg_orders where customer_id = 133)").fetchone()
        assert repeat == (False,)  # 9002 makes it a repeat order
        for table, row in SENT_LATE.items():
            assert con.execute(f"delete from {table} where {row}").fetchall() == [(1,)]
        for table, (key, value) in OLD_BY_DATE.items():
            assert con.execute(f"update {table} set {key} = 'kept' where {key} = ?", [value]).fetchall() == [(1,)]
    land(nightly)
    result = Metricsctl(nightly).build(as_of=AS_OF)
    assert result.success, [(n.unique_id, n.message) for n in result.failed] or result.stale_metrics
    # the staging of the large facts was incremental: a row no load touched was not rebuilt
    assert str(one(warehouse, SENTINEL)) == "2000-01-01 00:00:00"
    assert str(one(warehouse, OLD_ATTRIBUTION)) == "2000-01-01 00:00:00"
    # and so was fct_headcount_daily (from the earliest corrected date on); metric_values recomputed the HR
    # metrics from the first day fct_headcount_daily rewrote: employee 80's first day held, the first of the
    # history (the comparison below checks the value); the sales metrics only from their lookback, 10 days back
    # (tests/test_nightly_rewritten.py shows the HR periods before a later recorded day kept)
    assert one(warehouse, "select count(*) from fct_headcount_daily where headcount_day_id = 'kept'") == 1
    assert one(warehouse, f"select value from metric_values where {OLD_HEADCOUNT_VALUE}") != -1
    assert one(warehouse, f"select value from metric_values where {OLD_VALUE}") == -1
    # and so were the staging tables by date (the last 10 days they held)
    for table, (key, _) in OLD_BY_DATE.items():
        assert one(warehouse, f"select count(*) from {table} where {key} = 'kept'") == 1, table
    with duckdb.connect(str(warehouse)) as con:
        for table, (key, value) in OLD_BY_DATE.items():
            con.execute(f"update {table} set {key} = ? where {key} = 'kept'", [value])
        con.execute("update stg_orders set loaded_at = ? where order_id = 17", [kept[0] if kept else None])
        con.execute("update stg_attributed_orders set loaded_at = ? where order_id = 1",
                    [attributed[0] if attributed else None])
        con.execute("update fct_headcount_daily set headcount_day_id = '1-20240105' where headcount_day_id = 'kept'")
        con.execute(f"update metric_values set value = ? where {OLD_VALUE}", [units[0] if units else None])

    assert not differing_relations(warehouse, full_build.project.project_dir / "warehouse.duckdb")
    # and the load's late rows moved what they move (so the comparison above saw them)
    first_of_133 = "select is_repeat_order from stg_orders where order_id = (select min(order_id) from raw.orders " \
                   "where customer_id = 133)"
    assert one(warehouse, first_of_133) is True
    assert one(warehouse, "select customer_id || ' ' || ordered_at from stg_orders where order_id = 8146") == \
        "2 2025-06-26"
    assert str(one(warehouse, "select run_date from stg_production_runs where run_id = 1706")) == "2025-06-29"
    assert one(warehouse, "select count(*) from stg_order_lines where order_id in (9001, 9002)") == 3
    assert one(warehouse, "select count(*) from fct_attributed_orders where order_id = 9001") == 1
    assert str(one(warehouse, "select loaded_at from stg_attributed_orders where order_id = 9001")) == \
        "2025-07-08 05:00:00"
    assert one(warehouse, "select footfall from stg_store_traffic where store_day_id = '2-20250627'") == 61
    assert one(warehouse, "select clicks from stg_campaign_spend where campaign_day_id = '13-20250629'") == 31
    assert one(warehouse, "select on_hand_units from stg_inventory_balances "
                          "where inventory_balance_id = '3-main-20250628'") == 7
    for table, row in SENT_LATE.items():
        assert one(warehouse, f"select count(*) from {table} where {row}") == 1, table
    # the corrected dates reached the headcount: employee 13 left on 2024-10-31, employee 80 joined on 2024-02-10
    assert str(one(warehouse, "select max(date_day) from fct_headcount_daily where employee_id = 13")) == "2024-10-30"
    assert str(one(warehouse, "select min(date_day) from fct_headcount_daily where employee_id = 80")) == "2024-02-10"


@pytest.mark.postgres
def test_a_nightly_build_on_postgres_gives_a_full_builds_numbers(full_build: Metricsctl, postgres_env: dict[str, str],
                                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from tests.test_demo_engines import build_demo, compare

    monkeypatch.setenv("METRICSCTL_PG_SCHEMA", "nightly")  # beside the schema other demo tests build
    app = build_demo(tmp_path / "demo", "postgres")
    land(app.project.project_dir)
    result = app.build(as_of=AS_OF)
    assert result.success, [(n.unique_id, n.message) for n in result.failed] or result.stale_metrics
    compare(full_build, app)
    warehouse = app.warehouse()
    try:  # the late order reached the incremental staging
        assert warehouse.execute("select count(*) from nightly.stg_order_lines where order_id = 9002").rows[0][0] == 1
    finally:
        warehouse.close()

    # a table rebuilt whole that keeps a record compares its new rows with those published (the build copies
    # them into its candidate schema first): visit 674 moved from 2024-09-10 to 2024-08-20 records 2024-08-20
    # (with nothing to compare with, it would record 1900-01-01: everything recomputed)
    rewrite(app.project.project_dir / "seeds" / "sales_visits.csv",
            lambda row: {"visit_date": "2024-08-20"} if row["visit_id"] == "674" else {})
    moved = app.build(select=("+stg_sales_visits",), as_of=AS_OF)
    assert moved.success, [(n.unique_id, n.message) for n in moved.failed]
    warehouse = app.warehouse()
    try:
        assert warehouse.execute("select cast(first_day as varchar) from nightly.stg_sales_visits_rewrites").rows \
            == [("2024-08-20",)]
    finally:
        warehouse.close()
