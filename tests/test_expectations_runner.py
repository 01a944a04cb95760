"""Expectation suites run by Great Expectations on a DuckDB file: clean data passes, each defect fails.

One warehouse is built with plain SQL: a clean `raw.orders_clean` (120 orders of 10 customers) and one
copy per defect, each breaking exactly one expectation. Relations are resolved through a hand-written
dbt manifest, so they are read as "warehouse"."raw"."orders_..." (a schema other than main, where GX's
own table reflection fails on DuckDB). Expected counts are worked out by hand next to each defect.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import duckdb
import pytest

from metricsctl.errors import WarehouseError
from metricsctl.expectations import (
    ExpectationRun,
    ExpectationSpecError,
    Suite,
    SuiteResult,
    run_suites,
    suites_from_yaml,
    write_results,
)

AS_OF = dt.date(2024, 3, 31)

CLEAN = """
CREATE SCHEMA raw;
CREATE TABLE main.customers AS SELECT i AS customer_id, 'customer ' || i AS name FROM range(1, 11) r(i);
CREATE TABLE raw.orders_clean AS
SELECT i AS order_id,
       (i % 10) + 1 AS customer_id,
       CASE WHEN i % 2 = 0 THEN 'placed' ELSE 'shipped' END AS status,
       (i * 37) % 5000 AS amount,
       DATE '2024-03-31' - CAST(i % 3 AS INTEGER) AS order_date,
       TIMESTAMP '2024-03-31 08:00:00' - to_hours(CAST(i AS BIGINT)) AS updated_at
FROM range(1, 121) r(i);
"""

#: defect -> (SQL applied to a copy of the clean orders, the one expectation it breaks,
#:            unexpected_count, sample of failing values, observed value)
DEFECTS: dict[str, tuple[str, str, int | None, set[Any], Any]] = {
    # order_id 1 then appears on three rows; GX counts every row of a duplicated value: 3
    "duplicate": ("UPDATE {t} SET order_id = 1 WHERE order_id IN (2, 3)",
                  "expect_column_values_to_be_unique:order_id", 3, {1}, None),
    # two null keys (a null is not a duplicate, so uniqueness still holds)
    "null_key": ("UPDATE {t} SET order_id = NULL WHERE order_id IN (5, 6)",
                 "expect_column_values_to_not_be_null:order_id", 2, {None}, None),
    # one amount below 0, one above 10000
    "out_of_range": ("UPDATE {t} SET amount = CASE order_id WHEN 7 THEN -5 ELSE 20000 END "
                     "WHERE order_id IN (7, 8)",
                     "expect_column_values_to_be_between:amount", 2, {-5, 20000}, None),
    # the latest order_date becomes 2024-03-21: 10 days before as_of, more than max_age_days=3
    "stale": ("UPDATE {t} SET order_date = order_date - 10",
              "expect_column_max_to_be_between:order_date", None, set(), dt.date(2024, 3, 21)),
    # customers 98 and 99 do not exist: four orphan rows
    "orphan": ("UPDATE {t} SET customer_id = CASE order_id WHEN 40 THEN 98 ELSE 99 END "
               "WHERE order_id IN (10, 20, 30, 40)",
               "expect_column_values_to_be_in_relation:customer_id", 4, {98, 99}, None),
    # two orders with a status outside {placed, shipped}
    "outside_set": ("UPDATE {t} SET status = 'lost' WHERE order_id IN (11, 12)",
                    "expect_column_values_to_be_in_set:status", 2, {"lost"}, None),
    # 50 rows where at least 100 are expected
    "too_few": ("DELETE FROM {t} WHERE order_id > 50",
                "expect_table_row_count_to_be_between:", None, set(), 50),
}

SUITE = """
  - suite: {variant}
    relation: orders_{variant}
    expectations:
      - expect_column_values_to_not_be_null: {{column: order_id}}
      - expect_column_values_to_be_unique: {{column: order_id}}
      - expect_column_values_to_be_between: {{column: amount, min_value: 0, max_value: 10000}}
      - expect_column_values_to_be_in_set: {{column: status, value_set: [placed, shipped]}}
      - expect_table_row_count_to_be_between: {{min_value: 100}}
      - expect_column_max_to_be_between: {{column: order_date, max_age_days: 3}}
      - expect_column_max_to_be_between: {{column: updated_at, max_age_days: 3}}
      - expect_column_values_to_be_in_relation: {{column: customer_id, to: customers, field: customer_id}}
"""

EXTRA_SUITES = """
  - suite: duplicate_warned
    relation: orders_duplicate
    severity: warn
    expectations:
      - expect_column_values_to_be_unique: {column: order_id}
      - expect_table_row_count_to_be_between: {min_value: 1000, severity: error}
  - suite: unknown_columns
    relation: orders_clean
    expectations:
      - unexpected_rows_expectation: {unexpected_rows_query: "SELECT no_such_column FROM {batch}"}
      - expect_column_values_to_not_be_null: {column: amout}
      - expect_column_values_to_not_be_null:
          {column: order_id, row_condition: 'col("nope") > 0', condition_parser: great_expectations}
      - expect_column_values_to_be_in_relation: {column: customer_id, to: customers, field: id}
      - expect_column_values_to_not_be_null: {column: order_id}
"""

ALL_SUITES = "".join(SUITE.format(variant=v) for v in ["clean", *DEFECTS]) + EXTRA_SUITES


def seed_node(name: str, schema: str) -> dict[str, Any]:
    return {"unique_id": f"seed.shop.{name}", "name": name, "resource_type": "seed", "package_name": "shop",
            "database": "warehouse", "schema": schema, "alias": name, "config": {"materialized": "seed"},
            "fqn": ["shop", name], "original_file_path": f"seeds/{name}.csv"}


def manifest() -> dict[str, Any]:
    nodes = [seed_node("customers", "main"), seed_node("orders_clean", "raw")]
    nodes += [seed_node(f"orders_{variant}", "raw") for variant in DEFECTS]
    return {"metadata": {"project_name": "shop"}, "nodes": {n["unique_id"]: n for n in nodes},
            "sources": {}, "child_map": {}}


def build_warehouse(path: Path) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute(CLEAN)
        for variant, (defect, *_rest) in DEFECTS.items():
            table = f"raw.orders_{variant}"
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM raw.orders_clean")
            con.execute(defect.format(t=table))
    finally:
        con.close()


def suites(text: str) -> list[Suite]:
    return suites_from_yaml("expectations:" + text, "models/staging/orders.yml", manifest())


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("expectations") / "warehouse.duckdb"
    build_warehouse(path)
    return path


@pytest.fixture(scope="module")
def run(warehouse: Path) -> ExpectationRun:
    """Every suite, in one run: the clean table, each defect, and the severity and error cases."""
    return run_suites(suites(ALL_SUITES), f"duckdb:///{warehouse}", as_of=AS_OF, run_id="run-1")


def suite(run: ExpectationRun, name: str) -> SuiteResult:
    return next(s for s in run.suites if s.suite == name)


def key(expectation: str, kwargs: dict[str, Any]) -> str:
    return f"{expectation}:{kwargs.get('column', '')}"


def test_a_clean_table_passes_every_expectation(run: ExpectationRun) -> None:
    """The DuckDB silent-failure trap would make these all success=False with an exception inside."""
    clean = suite(run, "clean")
    assert len(clean.results) == 8
    assert [(r.expectation, r.error) for r in clean.results if not r.success] == []
    assert all(r.status == "pass" for r in clean.results)
    assert clean.warehouse_relation == "warehouse.raw.orders_clean"


def test_not_every_result_is_an_exception(run: ExpectationRun) -> None:
    """Guard against the trap itself: GX on DuckDB as shipped errors on every expectation, silently."""
    assert not all(r.success is False and r.error is not None for r in run.results)
    assert sum(r.status == "pass" for r in run.results) >= 8


@pytest.mark.parametrize("variant", list(DEFECTS))
def test_each_defect_fails_exactly_its_expectation(run: ExpectationRun, variant: str) -> None:
    _sql, broken, count, sample, observed = DEFECTS[variant]
    results = suite(run, variant).results
    failed = [r for r in results if not r.success]
    assert [key(r.expectation, r.kwargs) for r in failed] == [broken]
    result = failed[0]
    assert result.status == "fail" and result.error is None
    assert result.unexpected_count == count
    assert set(result.unexpected_sample) == sample
    if observed is not None:
        assert result.observed_value == observed


def test_freshness_is_relative_to_as_of(run: ExpectationRun) -> None:
    """max_age_days=3 on 2024-03-31 means a latest date on or after 2024-03-28, for dates and timestamps."""
    clean = {key(r.expectation, r.kwargs): r for r in suite(run, "clean").results}
    assert clean["expect_column_max_to_be_between:order_date"].observed_value == dt.date(2024, 3, 31)
    assert clean["expect_column_max_to_be_between:order_date"].kwargs == {"column": "order_date", "max_age_days": 3}
    assert clean["expect_column_max_to_be_between:updated_at"].success


def test_warn_and_error_severity_are_reported(run: ExpectationRun) -> None:
    warned = suite(run, "duplicate_warned")
    by_name = {r.expectation: r for r in warned.results}
    assert by_name["expect_column_values_to_be_unique"].severity == "warn"
    assert by_name["expect_table_row_count_to_be_between"].severity == "error"  # overridden per expectation
    assert not by_name["expect_column_values_to_be_unique"].success
    assert [r.suite for r in run.failures("warn")] == ["duplicate_warned"]
    assert not run.ok
    failed = run.failed_relations("error")
    assert "expect_column_values_to_be_unique(column=order_id)" not in [
        d for d in failed["seed.shop.orders_duplicate"] if "1000" in d]
    assert "expect_table_row_count_to_be_between(min_value=1000)" in failed["seed.shop.orders_duplicate"]


def test_unknown_columns_and_sql_errors_are_errors_never_passes(run: ExpectationRun) -> None:
    results = suite(run, "unknown_columns").results
    statuses = [(r.expectation, r.status) for r in results]
    assert statuses == [
        ("unexpected_rows_expectation", "error"),
        ("expect_column_values_to_not_be_null", "error"),
        ("expect_column_values_to_not_be_null", "error"),
        ("expect_column_values_to_be_in_relation", "error"),
        # evaluated after the failed statements above: the aborted transaction was rolled back
        ("expect_column_values_to_not_be_null", "pass"),
    ]
    rows_query, typo, bad_condition, bad_field, _ = results
    assert "no_such_column" in (rows_query.error or "")
    assert "'amout'" in (typo.error or "") and "did you mean 'amount'" in (typo.error or "")
    assert "nope" in (bad_condition.error or "")
    assert "column 'id' does not exist in warehouse.main.customers" in (bad_field.error or "")
    assert all(not r.success for r in results[:4])


def recorded_statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement Great Expectations sends to DuckDB from now on, in order."""
    import duckdb_engine

    statements: list[str] = []
    execute = duckdb_engine.CursorWrapper.execute

    def recorded(self: Any, statement: str, *args: Any, **kwargs: Any) -> Any:
        statements.append(statement)
        return execute(self, statement, *args, **kwargs)

    monkeypatch.setattr(duckdb_engine.CursorWrapper, "execute", recorded)
    return statements


def test_orphan_rows_are_counted_in_full_with_one_query_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GX's own row-query expectation runs its query twice (count, then rows); ours runs it once.

    600 orders point at the 300 missing customers 1001-1300 (2 orders each): more orphan values than the 200
    rows GX fetches for a sample, and the count is still all 600 rows. The same orphans behind a key column
    named like the count's own column are counted the same.
    """
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA raw")
    con.execute("CREATE TABLE main.customers AS SELECT i AS customer_id FROM range(1, 11) r(i)")
    con.execute("CREATE TABLE raw.orders_clean AS SELECT i AS order_id, CASE WHEN i <= 600 THEN 1001 + i % 300 "
                "ELSE 1 + i % 10 END AS customer_id, CASE WHEN i <= 600 THEN 1001 + i % 300 ELSE 1 + i % 10 END "
                "AS metricsctl_orphan_rows FROM range(1, 801) r(i)")
    con.close()
    statements = recorded_statements(monkeypatch)
    checked = run_suites(suites("""
  - relation: orders_clean
    expectations:
      - expect_column_values_to_be_in_relation: {column: customer_id, to: customers, field: customer_id}
      - expect_column_values_to_be_in_relation: {column: metricsctl_orphan_rows, to: customers, field: customer_id}
"""), f"duckdb:///{path}", as_of=AS_OF)
    assert [(r.status, r.unexpected_count) for r in checked.results] == [("fail", 600), ("fail", 600)]
    for result in checked.results:
        assert len(result.unexpected_sample) == 10 and set(result.unexpected_sample) <= set(range(1001, 1301))
    assert sum('"parent"' in statement for statement in statements) == 2


def test_gx_reports_an_unknown_column_as_an_error(warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without metricsctl's own column check, GX's exception_info still turns into an error."""
    from metricsctl.expectations import runner

    monkeypatch.setattr(runner._SuiteRunner, "_column_problem", lambda *args: None)
    checked = run_suites(suites("""
  - relation: orders_clean
    expectations:
      - expect_column_values_to_not_be_null: {column: amout}
      - expect_column_values_to_be_between: {column: amout, min_value: 0}
"""), f"duckdb:///{warehouse}", as_of=AS_OF)
    assert [r.status for r in checked.results] == ["error", "error"]
    assert all("amout" in (r.error or "") for r in checked.results)


def test_without_the_persisted_connection_gx_fails_silently(warehouse: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The trap is real: GX as shipped errors on every expectation, and metricsctl reports errors, not passes."""
    from great_expectations.execution_engine import sqlalchemy_execution_engine as engine_module

    from metricsctl.expectations import runner

    shipped = tuple(d for d in engine_module._PERSISTED_CONNECTION_DIALECTS
                    if str(getattr(d, "value", d)) != "duckdb")
    monkeypatch.setattr(runner, "persist_duckdb_connections", lambda module: None)
    monkeypatch.setattr(engine_module, "_PERSISTED_CONNECTION_DIALECTS", shipped)
    checked = run_suites(suites(SUITE.format(variant="clean")), f"duckdb:///{warehouse}", as_of=AS_OF)
    assert checked.results and all(r.status == "error" for r in checked.results)
    assert not checked.ok


def test_a_suite_gx_cannot_run_is_all_errors_and_the_others_still_run(
        warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from metricsctl.expectations import runner

    real = runner._SuiteRunner._run_gx

    def broken_for_clean(self: Any, number: int, suite: Suite, runnable: Any, bound: Any) -> Any:
        if suite.name == "clean":
            raise RuntimeError("boom")
        return real(self, number, suite, runnable, bound)

    monkeypatch.setattr(runner._SuiteRunner, "_run_gx", broken_for_clean)
    checked = run_suites(suites(SUITE.format(variant="clean") + SUITE.format(variant="too_few")),
                         f"duckdb:///{warehouse}", as_of=AS_OF)
    clean, too_few = checked.suites
    assert {r.error for r in clean.results} == {"Great Expectations failed on this suite: boom"}
    assert [r.status for r in too_few.results].count("pass") == 7


def test_the_file_is_free_after_a_run(warehouse: Path, run: ExpectationRun) -> None:
    """GX's engines are closed: a read-write connection (another configuration) opens at once."""
    duckdb.connect(str(warehouse)).close()


def test_a_file_held_in_this_process_is_a_clear_error(warehouse: Path) -> None:
    held = duckdb.connect(str(warehouse))
    try:
        with pytest.raises(WarehouseError, match="already open in this process"):
            run_suites(suites(SUITE.format(variant="clean")), f"duckdb:///{warehouse}", as_of=AS_OF)
    finally:
        held.close()


def test_an_unreachable_warehouse_is_a_clear_error_without_the_password() -> None:
    with pytest.raises(WarehouseError, match=r"cannot connect to postgresql\+psycopg2://metrics:\*\*\*@") as raised:
        run_suites(suites_from_yaml("""
expectations:
  - relation: raw.orders
    expectations: [expect_table_row_count_to_be_between]
"""), "postgresql+psycopg2://metrics:secret@127.0.0.1:1/analytics")
    assert "secret" not in str(raised.value)


def test_a_missing_relation_makes_every_expectation_of_its_suite_an_error(warehouse: Path) -> None:
    checked = run_suites(suites_from_yaml("""
expectations:
  - relation: raw.not_built_yet
    expectations:
      - expect_table_row_count_to_be_between: {min_value: 1}
"""), f"duckdb:///{warehouse}", as_of=AS_OF)
    [result] = checked.results
    assert result.status == "error"
    assert "cannot read relation raw.not_built_yet" in (result.error or "")


def test_arguments_gx_rejects_are_spec_errors_with_file_and_line() -> None:
    """Checked before any connection: the URL points nowhere."""
    with pytest.raises(ExpectationSpecError) as raised:
        run_suites(suites_from_yaml("""
expectations:
  - relation: raw.orders
    expectations:
      - expect_table_row_count_to_be_between: {min_value: lots}
""", "models/x.yml"), "duckdb:////nowhere/warehouse.duckdb", as_of=AS_OF)
    [issue] = raised.value.issues
    assert (issue.path, issue.line) == ("models/x.yml", 5)
    assert "min_value" in issue.message


def test_results_are_written_to_a_table_and_read_back(tmp_path: Path, run: ExpectationRun) -> None:
    path = tmp_path / "results.duckdb"
    assert write_results(path, run) == len(run.results)
    assert write_results(path, run) == len(run.results)  # appended, table kept
    con = duckdb.connect(str(path))
    try:
        count = con.execute("SELECT count(*) FROM expectation_results").fetchone()
        row = con.execute("""
            SELECT run_id, relation, success, unexpected_count, unexpected_sample, error, severity
            FROM expectation_results
            WHERE suite = 'orphan' AND expectation LIKE 'expect_column_values_to_be_in_relation%'
            LIMIT 1""").fetchone()
        errors = con.execute("SELECT count(*) FROM expectation_results WHERE error IS NOT NULL").fetchone()
    finally:
        con.close()
    assert count == (2 * len(run.results),)
    assert row is not None
    run_id, relation, success, unexpected, sample, error, severity = row
    assert (run_id, relation, success, unexpected, error, severity) == (
        "run-1", "warehouse.raw.orders_orphan", False, 4, None, "error")
    assert set(json.loads(sample)) == {98, 99}
    assert errors == (2 * 4,)  # the four errors of the unknown_columns suite, written twice


def test_the_summary_is_json(run: ExpectationRun) -> None:
    summary = json.loads(json.dumps(run.to_dict()))
    assert summary["as_of"] == "2024-03-31" and summary["ok"] is False
    assert summary["counts"]["errors"] == 4
    stale = next(s for s in summary["suites"] if s["suite"] == "stale")
    failing = [r for r in stale["results"] if r["status"] == "fail"]
    assert [(r["expectation"], r["observed_value"]) for r in failing] == [
        ("expect_column_max_to_be_between", "2024-03-21")]
    lines = ("expectations:" + ALL_SUITES).splitlines()
    suite_line = lines.index("  - suite: stale") + 1
    assert lines[suite_line + 8 - 1].strip().startswith("- expect_column_max_to_be_between: {column: order_date")
    assert failing[0]["where"] == f"models/staging/orders.yml:{suite_line + 8}"


def test_a_build_imports_great_expectations_in_the_background_and_a_failed_import_stops_nothing(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """`metricsctl build` imports Great Expectations while dbt builds the staging; the suites use that import."""
    import logging
    import sys

    from metricsctl.expectations import runner

    runner.import_in_background().join()
    assert "great_expectations.expectations" in sys.modules  # what `_plan` looks its classes up in

    def broken() -> None:
        raise ImportError("No module named 'scipy'")

    monkeypatch.setattr(runner, "import_gx", broken)
    with caplog.at_level(logging.DEBUG, logger=runner.__name__):
        thread = runner.import_in_background()
        thread.join()
    assert not thread.is_alive()
    # only logged: run_suites imports again and reports the failure to the user
    assert "importing Great Expectations in the background failed" in caplog.text
    assert "No module named 'scipy'" in caplog.text


def test_great_expectations_imports_in_a_process_whose_main_has_no_file():
    """`python -c`, a pytest-xdist worker, an embedded interpreter: PySpark's Spark Connect (which GX imports when
    PySpark is installed) takes such a process for its doctests and, without grpcio, calls sys.exit(0). The
    import must go on: the process would otherwise stop mid-build, with success."""
    code = ("from metricsctl.expectations.runner import import_gx\n"
            "gx = import_gx()\n"
            "print('imported', gx.__name__)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert (done.returncode, done.stdout.strip()) == (0, "imported great_expectations"), done.stderr[-2000:]
    assert "Skipping doctests" not in done.stderr


def outcomes(checked: ExpectationRun) -> list[tuple[str, str, str, int | None, Any, str | None]]:
    """What each expectation of a run found, suite by suite, in order; of an error, what the warehouse said, not
    the statement it quotes (GX computes a row query's count or its rows first, in either order)."""
    return [(s.suite, r.expectation, r.status, r.unexpected_count, r.observed_value,
             None if r.error is None else r.error.split(" LINE ")[0]) for s in checked.suites for r in s.results]


def test_suites_run_two_at_a_time_and_find_what_one_at_a_time_finds(warehouse: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """On a SQL warehouse two suites are validated side by side, each on a connection of its own: while one waits
    for the warehouse, the other runs Great Expectations' Python. The results are those of one suite at a time,
    in the suites' order, and every suite is reported once.

    The two lanes are shown to overlap: the first suite each lane takes waits at a barrier for the other one,
    which one lane alone never reaches (the barrier then breaks after 30 s and the run raises).
    """
    from metricsctl.expectations import runner

    one_at_a_time = run_suites(suites(ALL_SUITES), f"duckdb:///{warehouse}", as_of=AS_OF, lanes=1)
    barrier = threading.Barrier(2, timeout=30)
    real = runner._SuiteRunner.run
    lanes_used: set[str] = set()

    def meeting(self: Any, number: int, suite: Suite, planned: Any, bound: Any = None) -> Any:
        lanes_used.add(threading.current_thread().name)
        if number < 2:
            barrier.wait()
        return real(self, number, suite, planned, bound)

    monkeypatch.setattr(runner._SuiteRunner, "run", meeting)
    heard: list[str] = []
    two_at_a_time = run_suites(suites(ALL_SUITES), f"duckdb:///{warehouse}", as_of=AS_OF,
                               on_suite=lambda suite, status, detail: heard.append(suite))
    assert len(lanes_used) == 2
    assert outcomes(two_at_a_time) == outcomes(one_at_a_time)
    assert [s.suite for s in two_at_a_time.suites] == [s.name for s in suites(ALL_SUITES)]
    assert sorted(heard) == sorted(s.suite for s in two_at_a_time.suites)
    duckdb.connect(str(warehouse)).close()  # both lanes' connections are closed


def test_an_error_of_the_warehouse_in_one_lane_ends_the_run(warehouse: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A lane that cannot read the warehouse stops the run: the other lane takes no further suite, and the error
    reaches the caller with both connections closed."""
    from metricsctl.expectations import runner

    real = runner._SuiteRunner.run
    started: list[str] = []

    def lost(self: Any, number: int, suite: Suite, planned: Any, bound: Any = None) -> Any:
        started.append(suite.name)
        if suite.name == "duplicate":
            raise WarehouseError("the warehouse went away")
        return real(self, number, suite, planned, bound)

    monkeypatch.setattr(runner._SuiteRunner, "run", lost)
    with pytest.raises(WarehouseError, match="went away"):
        run_suites(suites(ALL_SUITES), f"duckdb:///{warehouse}", as_of=AS_OF)
    assert len(started) < len(suites(ALL_SUITES)) - 2
    duckdb.connect(str(warehouse)).close()


def test_the_headline_counts_each_expectation_once(run: ExpectationRun) -> None:
    """An expectation that could not run is counted as such, not also as failed: the parts add up to the total."""
    errors = ExpectationRun("r", run.run_at, run.as_of, (suite(run, "unknown_columns"),))
    assert errors.headline() == "5 expectations: 1 passed, 4 could not run"
    assert errors.counts()["failed_error_severity"] == 4  # for the gate, an error is a failure still
