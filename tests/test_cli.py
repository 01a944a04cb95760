"""The `metricsctl` command line: output formats, exit codes and error messages."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from metricsctl.cli import main
from tests.conftest import seed


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_query_prints_a_table(shop_dir: Path):
    result = run("query", "--project-dir", str(shop_dir), "--metrics", "orders",
                 "--group-by", "metric_time__month", "--order-by", "metric_time__month")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "metric_time__month" in lines[0] and "orders" in lines[0]
    assert "2024-01-01" in lines[2]
    january = seed("orders").ordered_at.dt.month.eq(1).sum()
    assert lines[2].split()[-1] == str(january)


def test_query_json_with_order_and_limit(shop_dir: Path):
    result = run("query", "--project-dir", str(shop_dir), "--metrics", "orders,revenue",
                 "--group-by", "metric_time__month", "--order-by", "-orders", "--limit", "2", "--json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    assert len(records) == 2 and list(records[0]) == ["metric_time__month", "orders", "revenue"]
    by_month = seed("orders").groupby(seed("orders").ordered_at.dt.month).size().sort_values(ascending=False)
    assert [r["orders"] for r in records] == by_month.head(2).tolist()


def test_query_csv(shop_dir: Path, tmp_path: Path):
    target = tmp_path / "out.csv"
    result = run("query", "--project-dir", str(shop_dir), "--metrics", "orders",
                 "--group-by", "order__channel", "--csv", str(target))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(target.open()))
    counts = seed("orders").channel.value_counts()
    assert {r["order__channel"]: int(r["orders"]) for r in rows} == counts.to_dict()


def test_query_csv_and_json_writes_the_csv_and_prints_the_json(shop_dir: Path, tmp_path: Path):
    target = tmp_path / "out.csv"
    result = CliRunner().invoke(main, ["query", "--project-dir", str(shop_dir), "--metrics", "orders", "--group-by",
                                       "order__channel", "--csv", str(target), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    counts = seed("orders").channel.value_counts().to_dict()
    assert {r["order__channel"]: int(r["orders"]) for r in csv.DictReader(target.open())} == counts
    assert {r["order__channel"]: r["orders"] for r in json.loads(result.stdout)} == counts


@pytest.mark.parametrize("output", [["--json"], ["--csv", "out.csv"]])
def test_explain_with_an_output_says_it_runs_nothing(shop_dir: Path, tmp_path: Path, output: list[str]):
    result = run("query", "--project-dir", str(shop_dir), "--metrics", "revenue", "--explain",
                 *[str(tmp_path / o) if o.endswith(".csv") else o for o in output])
    assert result.exit_code == 2
    assert "--explain prints the SQL and runs nothing" in result.output
    assert not (tmp_path / "out.csv").exists()


def test_explain_prints_sql_and_runs_nothing(shop_dir: Path):
    result = run("query", "--project-dir", str(shop_dir), "--metrics", "revenue",
                 "--group-by", "metric_time__month", "--explain", "--dialect", "postgres")
    assert result.exit_code == 0, result.output
    assert result.output.lstrip().startswith("WITH order_lines_agg AS")
    assert "DATE_TRUNC('MONTH'" in result.output


def test_saved_query_from_a_semantic_manifest(shop_dir: Path):
    manifest = shop_dir / "target" / "semantic_manifest.json"
    result = run("query", "--semantic-manifest", str(manifest), "--project-dir", str(shop_dir),
                 "--metrics", "orders", "--explain")
    assert result.exit_code == 0 and "SUM(1)" in result.output


@pytest.mark.parametrize("args, message", [
    (["--metrics", "revnue"], "unknown metric 'revnue'; did you mean 'revenue'"),
    (["--metrics", "revenue", "--group-by", "order__chanel"], "did you mean 'order__channel'"),
    (["--metrics", "orders", "--group-by", "customer__source"], "fan out"),
    (["--metrics", "orders", "--where", "1=1; drop table orders"], "exactly one SQL boolean expression"),
    (["--metrics", "orders", "--where", "{{ Dimension('order__channel') }} in (select 1)"], "subqueries"),
    (["--metrics", "orders", "--order-by", "revenue"], "cannot order by 'revenue'"),
    (["--metrics", "revenue_7d"], "needs metric_time"),
    (["--metrics", "orders", "--group-by", "metric_time__fortnight"], "unknown time granularity"),
    (["--metrics", "orders", "--group-by", "metric_time__hour"], "finer than the data"),
    (["--metrics", "orders", "--limit", "1" + "0" * 30], "is not in the range"),  # no warehouse takes it
])
def test_bad_queries_exit_2_with_one_line(shop_dir: Path, args: list[str], message: str):
    result = CliRunner().invoke(main, ["query", "--project-dir", str(shop_dir), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_missing_project_is_a_clear_error(tmp_path: Path):
    result = CliRunner().invoke(main, ["query", "--project-dir", str(tmp_path), "--metrics", "x"])
    assert result.exit_code == 2 and "no dbt_project.yml" in result.output


def test_every_command_has_help_with_an_example():
    for name, command in main.commands.items():
        assert command.help and "Example" in command.help, f"`metricsctl {name}` needs help with an example"
        assert run(name, "--help").exit_code == 0


# --- what a new user trips on ------------------------------------------------------------------------
def test_debug_works_after_the_command_as_well_as_before(shop_dir: Path):
    for args in (["--debug", "query"], ["query", "--debug"]):
        result = CliRunner().invoke(main, [*args, "--project-dir", str(shop_dir), "--metrics", "revnue"])
        assert result.exit_code == 2
        assert "Traceback" in result.output and "error: " in result.output, args
    quiet = CliRunner().invoke(main, ["query", "--project-dir", str(shop_dir), "--metrics", "revnue"])
    assert quiet.exit_code == 2 and "Traceback" not in quiet.output


def test_a_command_run_in_a_subfolder_finds_the_project(shop_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(shop_dir / "metrics")
    result = run("query", "--metrics", "orders", "--group-by", "metric_time__month", "--json")
    assert result.exit_code == 0, result.output
    assert sum(r["orders"] for r in json.loads(result.output)) == len(seed("orders"))


def test_outside_any_project_the_error_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["query", "--metrics", "orders"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{tmp_path}: no dbt_project.yml here or in a folder above" in result.output


def test_lint_on_a_project_without_kpis_says_it_checked_nothing(shop_dir: Path):
    result = run("lint", "--project-dir", str(shop_dir))  # the shop marks no metric as a KPI
    assert result.exit_code == 1
    assert "no metric is a KPI, so the checklist checks nothing" in result.output
    assert "every KPI passes" not in result.output


def test_without_order_by_rows_come_in_group_by_order_so_limit_is_stable(shop_dir: Path):
    result = run("query", "--project-dir", str(shop_dir), "--metrics", "orders",
                 "--group-by", "metric_time__month", "--limit", "3", "--json")
    assert result.exit_code == 0, result.output
    months = sorted(seed("orders").ordered_at.dt.to_period("M").unique())[:3]
    assert [r["metric_time__month"][:7] for r in json.loads(result.output)] == [str(m) for m in months]
    explained = run("query", "--project-dir", str(shop_dir), "--metrics", "orders",
                    "--group-by", "metric_time__month", "--limit", "3", "--explain")
    assert "ORDER BY" in explained.output and "LIMIT 3" in explained.output


def test_the_installed_command_keeps_its_exit_code_and_writes_all_its_output(shop_dir: Path, tmp_path: Path):
    """The command exits without freeing its memory object by object (metricsctl.cli.run): what it printed
    still reaches the pipe, whole, and the exit code is the command's."""
    command = [sys.executable, "-m", "metricsctl.cli"]
    rows = subprocess.run([*command, "query", "--project-dir", str(shop_dir), "--metrics", "orders",
                           "--group-by", "metric_time__day", "--json"], capture_output=True, text=True, check=False)
    assert rows.returncode == 0, rows.stderr
    assert len(json.loads(rows.stdout)) == seed("orders").ordered_at.dt.date.nunique() > 100
    missing = subprocess.run([*command, "query", "--project-dir", str(tmp_path), "--metrics", "x"],
                             capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and "no dbt_project.yml" in missing.stderr
    unknown = subprocess.run([*command, "no-such-command"], capture_output=True, text=True, check=False)
    assert unknown.returncode == 2 and "No such command" in unknown.stderr


def test_ctrl_c_in_any_command_is_one_line_and_exit_130(shop_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """Exit 1 means a finding for `diff` (a breaking change) and `alerts`; an interruption must not read as one."""
    from metricsctl.facade import Metricsctl

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Metricsctl, "diff", interrupted)
    result = CliRunner().invoke(main, ["diff", "--base", "HEAD", "--project-dir", str(shop_dir)])
    assert result.exit_code == 130
    assert result.output.strip() == "error: interrupted"
