"""Bad input on other engines: one line that says what to do, exit code 2, nothing changed."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import SHOP, patched_environ
from engines import free_port

from metricsctl import guards
from metricsctl.cli import main

REVENUE = ["--metrics", "revenue", "--group-by", "metric_time__month"]


@pytest.fixture()
def shop_copy(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    shutil.copytree(SHOP, root, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    project = root / "dbt_project.yml"
    project.write_text(project.read_text() + "vars:\n  metricsctl_dialects: [duckdb, postgres]\n")
    return root


def test_a_target_without_its_adapter_names_the_pip_extra(shop_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def without_postgres(name: str, *args: Any) -> Any:
        return None if name.startswith("dbt.adapters.postgres") else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_postgres)
    result = CliRunner().invoke(main, ["query", "--project-dir", str(shop_copy), "--target", "postgres", *REVENUE])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "pip install 'metricsctl[postgres]'" in lines[0], result.output


@pytest.mark.skipif(importlib.util.find_spec("dbt.adapters.postgres") is None, reason="dbt-postgres is not installed")
@pytest.mark.parametrize("command", [["query", *REVENUE], ["build"], ["alerts", "--dry-run"]])
def test_an_unreachable_server_is_one_line_with_host_and_port(shop_copy: Path, command: list[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # secrets other tests of this process registered (a webhook on 127.0.0.1) would mask the host
    monkeypatch.setattr(guards, "_SECRETS", set())
    port = free_port()  # nothing listens there
    with patched_environ({"METRICSCTL_PG_HOST": "127.0.0.1", "METRICSCTL_PG_PORT": str(port)}):
        result = CliRunner().invoke(main, [command[0], "--project-dir", str(shop_copy), "--target", "postgres",
                                           *command[1:]])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and f"PostgreSQL at 127.0.0.1:{port}" in lines[0], result.output
    assert not (shop_copy / "models" / "metrics").exists()  # the build stopped before writing anything
