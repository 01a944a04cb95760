"""`metricsctl init`: a new project in an empty folder builds right away and answers like its own seed;
in a dbt project it adds only metricsctl's files; it never overwrites a file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from metricsctl.cli import main
from tests.conftest import SHOP


def run(*args: str) -> object:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.mark.slow
def test_init_in_an_empty_folder_then_build_and_query(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("METRICSCTL_PROJECT_DIR", str(tmp_path))  # restored after the test
    monkeypatch.chdir(tmp_path)
    created = run("init", "shop-metrics")
    assert created.exit_code == 0, created.output
    root = tmp_path / "shop-metrics"
    assert {"dbt_project.yml", "profiles.yml", "seeds/orders.csv", "metrics/orders.yml", "metrics/expectations.yml",
            "metrics/alerts.yml", "models/metricflow_time_spine.sql"} <= {
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    assert "name: shop_metrics" in (root / "dbt_project.yml").read_text()
    assert "next: `cd shop-metrics && metricsctl build`" in created.output

    monkeypatch.chdir(root)
    built = run("build")
    assert built.exit_code == 0, built.output
    assert "expectations: " in built.output and "OK built" in built.output
    answered = run("query", "--metrics", "revenue,orders", "--group-by", "metric_time__month", "--json")
    assert answered.exit_code == 0, answered.output
    orders = pd.read_csv(root / "seeds" / "orders.csv", parse_dates=["ordered_at"])
    by_month = orders.groupby(orders.ordered_at.dt.to_period("M")).agg(revenue=("amount", "sum"),
                                                                     orders=("order_id", "count"))
    got = json.loads(answered.output)
    assert [r["metric_time__month"][:7] for r in got] == [str(m) for m in by_month.index]
    assert [r["orders"] for r in got] == by_month.orders.tolist()
    assert [r["revenue"] for r in got] == pytest.approx(by_month.revenue.tolist())
    for command in (["compile", "--check"], ["lint"], ["alerts", "--as-of", "2025-04-01", "--dry-run"]):
        result = run(*command)
        assert result.exit_code == 0, (command, result.output)


def test_init_never_overwrites_a_file(tmp_path: Path):
    assert run("init", str(tmp_path), "--name", "shop").exit_code == 0
    (tmp_path / "metrics" / "orders.yml").write_text("# mine\n")
    again = run("init", str(tmp_path))
    assert again.exit_code == 0
    # now a dbt project: metricsctl's files are there already, the rest is the user's
    assert "kept as it was: metrics/expectations.yml" in again.output and "created:" not in again.output
    assert "nothing to add" in again.output and "added metricsctl" not in again.output
    assert (tmp_path / "metrics" / "orders.yml").read_text() == "# mine\n"


def test_init_in_a_dbt_project_adds_only_metricsctls_files(tmp_path: Path):
    root = tmp_path / "shop"
    shutil.copytree(SHOP, root, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    result = run("init", str(root))
    assert result.exit_code == 0, result.output
    # the shop has a time spine already: only the example expectations and alerts, commented out
    assert result.output.splitlines()[:2] == ["created: metrics/expectations.yml", "created: metrics/alerts.yml"]
    for name in ("expectations.yml", "alerts.yml"):
        assert yaml.safe_load((root / "metrics" / name).read_text()) is None


def test_a_project_name_dbt_would_refuse_is_refused(tmp_path: Path):
    result = CliRunner().invoke(main, ["init", str(tmp_path), "--name", "Shop-Metrics"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "project name 'Shop-Metrics' must be lower-case letters, digits and _" in result.output
    assert not (tmp_path / "dbt_project.yml").exists()


@pytest.mark.parametrize("link", ["profiles.yml", "models"])
def test_init_writes_nothing_through_a_link_that_leaves_the_folder(tmp_path: Path, link: str):
    """A cloned folder may hold a link, dangling (to a file init would create) or to a folder, pointing elsewhere:
    init refuses before it writes anything, there or in the folder."""
    folder, outside = tmp_path / "project", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    (folder / link).symlink_to(outside / ("written_by_init.yml" if link == "profiles.yml" else ""))
    result = CliRunner().invoke(main, ["init", str(folder), "--name", "shop"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "writes no file through a link that leaves the folder" in result.output
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in folder.iterdir()) == [link]


def test_init_writes_through_a_link_that_stays_in_the_folder(tmp_path: Path):
    folder = tmp_path / "project"
    (folder / "dbt_models").mkdir(parents=True)
    (folder / "models").symlink_to(folder / "dbt_models")
    assert run("init", str(folder), "--name", "shop").exit_code == 0
    assert (folder / "dbt_models" / "time_spine.yml").is_file()


def test_a_project_name_with_a_line_break_is_refused(tmp_path: Path):
    result = CliRunner().invoke(main, ["init", str(tmp_path), "--name", "shop\n"])
    assert result.exit_code == 2 and "must be lower-case letters" in result.output
    assert not (tmp_path / "dbt_project.yml").exists()


def test_a_file_where_init_puts_a_folder_is_named_before_anything_is_written(tmp_path: Path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "models").write_text("not a folder\n")
    result = CliRunner().invoke(main, ["init", str(folder), "--name", "shop"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "models: a file where metricsctl init puts the folder of models/" in result.output
    assert sorted(p.name for p in folder.iterdir()) == ["models"]


def test_the_next_command_init_suggests_runs_as_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["init", "my metrics", "--name", "shop"])
    assert result.exit_code == 0, result.output
    assert "next: `cd 'my metrics' && metricsctl build`" in result.output
