"""`metricsctl build` with expectation suites: a bad load never reaches a metric table.

A copy of the shop project gets suites on two of its seeds. A clean load passes; a defect injected
into the visits seed fails the right expectation, keeps exactly the metric models downstream of visits
at their last good tables, builds the others, reports the stale metrics, and exits 1.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner

from metricsctl.cli import main
from metricsctl.facade import Metricsctl
from tests.test_materialize import make_project

SUITES = """
expectations:
  - relation: visits
    severity: error
    expectations:
      - expect_column_values_to_be_unique: {column: visit_id}
      - expect_column_values_to_not_be_null: {column: customer_id}
      - expect_column_values_to_be_in_set: {column: source, value_set: [online, store]}
      - expect_column_values_to_be_in_relation: {column: customer_id, to: customers, field: customer_id}
  - relation: orders
    severity: warn
    expectations:
      - expect_column_max_to_be_between: {column: ordered_at, max_age_days: 5}
"""


def table(root: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(root / "shop.duckdb"), read_only=True) as con:
        return con.execute(sql).df()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("gating"))
    (root / "models" / "expectations.yml").write_text(SUITES)
    return root


def test_a_clean_load_passes_and_its_results_are_kept(project: Path):
    result = Metricsctl(project).build(as_of=dt.date(2024, 7, 2))
    assert result.success, result.to_dict()
    assert result.expectations is not None and result.expectations.ok
    stored = table(project, "select suite, expectation, success from expectation_results")
    assert len(stored) == 5 and stored.success.all()
    assert json.loads((project / "target" / "metricsctl_run.json").read_text())["success"] is True


def test_a_build_tells_each_phase_as_it_goes_and_records_its_times(project: Path):
    """Not a terminal here, so plain lines: each phase as it starts and ends, each item in between."""
    result = CliRunner().invoke(main, ["build", "--project-dir", str(project), "--as-of", "2024-07-02"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()

    def at(prefix: str) -> int:
        return next(i for i, line in enumerate(lines) if line.startswith(prefix))

    order = [at("parse: "), at("sources and staging ..."), at("  ok seed visits"),
             at("sources and staging: "), at("expectations (2 suites) ..."), at("  pass suite visits"),
             at("expectations: "), at("metric models ..."), at("  ok model sales_by_month"), at("metric models: ")]
    assert order == sorted(order), lines
    assert lines[at("expectations: ")].endswith("5 expectations: 5 passed")
    record = json.loads((project / "target" / "metricsctl_run.json").read_text())
    phases = record["phases"]
    assert list(phases) == ["parse", "sources and staging", "expectations", "metric models"]
    assert record["seconds"] >= sum(phases.values()) - 0.01  # wall time: the phases and what lies between them
    summary = lines[-1]
    assert summary.startswith("OK built ") and f"in {record['seconds']:.1f} s (parse " in summary
    checked = CliRunner().invoke(main, ["check", "--project-dir", str(project), "--as-of", "2024-07-02"])
    assert checked.exit_code == 0, checked.output
    told = checked.output.splitlines()
    assert told[:3] == ["parse ...", told[1], "expectations (2 suites) ..."]
    assert sorted(told[3:5]) == ["  pass suite orders", "  pass suite visits"]  # two at a time, as each ends


def test_a_stale_input_of_severity_warn_is_reported_and_the_build_goes_on(project: Path):
    result = Metricsctl(project).build(as_of=dt.date(2024, 8, 1))
    freshness = [r for r in result.expectations.results if r.expectation == "expect_column_max_to_be_between"]
    assert [r.status for r in freshness] == ["fail"] and freshness[0].severity == "warn"
    assert result.success and not result.stale_metrics


def test_a_defect_blocks_exactly_the_metric_models_downstream(project: Path):
    before = table(project, "select * from metric_values order by all")
    sales_before = table(project, "select * from sales_by_month order by all")
    visits = project / "seeds" / "visits.csv"
    rows = list(csv.reader(visits.open()))
    rows.append([rows[1][0], rows[1][1], "2024-06-30", "store"])  # a second visit with an existing id
    rows.append([str(len(rows) + 1000), "999", "2024-06-30", "online"])  # a customer that does not exist
    with visits.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    orders = project / "seeds" / "orders.csv"  # and new orders, which the unaffected exports must show
    with orders.open("a", newline="") as f:
        csv.writer(f).writerow([99999, 3, 1, "2024-06-30", "store", "false", 100.0])

    result = CliRunner().invoke(main, ["build", "--project-dir", str(project), "--as-of", "2024-07-02"])
    assert result.exit_code == 1, result.output
    record = json.loads((project / "target" / "metricsctl_run.json").read_text())
    failures = {(r["expectation"], r["unexpected_count"]) for suite in record["expectations"]["suites"]
                for r in suite["results"] if r["success"] is False}
    assert failures == {("expect_column_values_to_be_unique", 2), ("expect_column_values_to_be_in_relation", 1)}
    # visits feeds conversion_by_source and the standard tables, not sales_by_month
    assert sorted(m.split(".")[-1] for m in record["blocked_models"]) == [
        "conversion_by_source", "metric_catalog", "metric_values"]
    assert set(record["stale_metrics"]) == {"visits", "visitors", "visitors_7d", "visitors_all_time", "visitors_mtd",
                                            "online_visitors_all_time", "store_visitors_all_time",
                                            "visit_to_order_rate",
                                            "visit_to_order_conversions", "same_channel_conversion_rate",
                                            "same_customer_conversion_rate", "visit_conversions_zero",
                                            "conversions_and_new_customers"}
    assert "STALE metric visit_to_order_rate" in result.output
    pd.testing.assert_frame_equal(table(project, "select * from metric_values order by all"), before)
    sales_after = table(project, "select * from sales_by_month order by all")
    june = sales_after.metric_time__month == pd.Timestamp("2024-06-01")
    assert sales_after[june].orders.iloc[0] == sales_before[june].orders.iloc[0] + 1


def test_a_selection_that_matches_nothing_says_so(tmp_path: Path):
    """dbt only logs "Nothing to do": a misspelt --select in a scheduler's command would pass for a build."""
    root = make_project(tmp_path)
    result = CliRunner().invoke(main, ["build", "--project-dir", str(root), "--select", "sales_by_mnth"])
    assert result.exit_code == 0, result.output  # as dbt: not an error
    assert ("WARN --select sales_by_mnth matches no model, seed, snapshot or test of the project: nothing was "
            "built") in result.output
    selected = CliRunner().invoke(main, ["build", "--project-dir", str(root), "--select", "orders"])
    assert selected.exit_code == 0 and "matches no model" not in selected.output, selected.output


SEED_TESTS = """
seeds:
  - name: visits
    columns:
      - name: source
        data_tests:
          - accepted_values:
              arguments: {values: [online, store]}
"""


def test_without_suites_a_failed_dbt_test_keeps_what_it_checks_and_what_reads_it_as_published(tmp_path: Path):
    # no expectation suites, only a dbt test on the visits seed: one `dbt build` runs everything
    root = make_project(tmp_path)
    (root / "seeds" / "tests.yml").write_text(SEED_TESTS)
    assert Metricsctl(root).build(as_of=dt.date(2024, 7, 2)).success
    visits_before = table(root, "select * from visits order by all")
    conversion_before = table(root, "select * from conversion_by_source order by all")
    values_before = table(root, "select * from metric_values where metric_name = 'visits' order by all")
    sales_before = table(root, "select * from sales_by_month order by all")
    with (root / "seeds" / "visits.csv").open("a", newline="") as f:
        csv.writer(f).writerow([99999, 3, "2024-06-30", "phone"])  # a source the test does not accept
    with (root / "seeds" / "orders.csv").open("a", newline="") as f:
        csv.writer(f).writerow([99999, 3, 1, "2024-06-30", "store", "false", 100.0])

    result = CliRunner().invoke(main, ["build", "--project-dir", str(root), "--as-of", "2024-07-02"])
    assert result.exit_code == 1, result.output
    assert "KEPT AS PUBLISHED" in result.output
    pd.testing.assert_frame_equal(table(root, "select * from visits order by all"), visits_before)
    pd.testing.assert_frame_equal(table(root, "select * from conversion_by_source order by all"), conversion_before)
    pd.testing.assert_frame_equal(
        table(root, "select * from metric_values where metric_name = 'visits' order by all"), values_before)
    # what does not read visits shows the new order
    sales_after = table(root, "select * from sales_by_month order by all")
    june = sales_after.metric_time__month == pd.Timestamp("2024-06-01")
    assert sales_after[june].orders.iloc[0] == sales_before[june].orders.iloc[0] + 1


UNIT_TEST_SUITE = """
expectations:
  - relation: order_channels
    severity: error
    expectations:
      - expect_column_values_to_not_be_null: {column: channel}
"""

UNIT_TEST = """
unit_tests:
  - name: channels_are_upper_case
    model: order_channels
    given:
      - input: ref('orders')
        rows: [{order_id: 1, channel: online}]
    expect:
      rows: [{channel: ONLINE}]
"""


@pytest.fixture(scope="module")
def failed_unit_test(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The output of a first build whose unit test fails, with a suite on the model dbt then skips."""
    root = make_project(tmp_path_factory.mktemp("unit_test"))
    (root / "models" / "order_channels.sql").write_text("select channel from {{ ref('orders') }}\n")
    (root / "models" / "unit_tests.yml").write_text(UNIT_TEST)
    (root / "models" / "expectations.yml").write_text(UNIT_TEST_SUITE)
    run = CliRunner().invoke(main, ["build", "--project-dir", str(root), "--as-of", "2024-07-02"])
    assert run.exit_code == 1, run.output
    return run.output


def test_a_failed_unit_test_shows_its_diff_as_plain_lines_under_its_name(failed_unit_test: str):
    lines = failed_unit_test.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("FAIL unit_test."))
    assert lines[at].endswith("channels_are_upper_case: actual differs from expected:")
    diff = [line for line in lines[at + 1:] if line][:3]
    # dbt's diff, indented under the test: the header, the row it got (+++) and the row expected (---);
    # no terminal escapes, no carriage returns
    assert diff == ["  @@ ,channel", "  +++,online", "  ---,ONLINE"], failed_unit_test
    assert "\x1b" not in failed_unit_test and "\\x1b" not in failed_unit_test and "\\x0d" not in failed_unit_test


def test_a_suite_on_a_model_dbt_skipped_says_why_it_could_not_check_it(failed_unit_test: str):
    # the model was never built: its suite says why it could not check it, not the warehouse's missing-table error
    assert ("ERROR order_channels expect_column_values_to_not_be_null(column=channel): not checked: the build did "
            "not write this relation (dbt skipped it after a failure upstream) (models/expectations.yml:6)"
            ) in failed_unit_test.splitlines()
    assert "Catalog Error" not in failed_unit_test and "does not exist" not in failed_unit_test
