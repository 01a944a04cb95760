"""One committed set of generated models for every target: a SQL branch per dialect, whatever target compiled."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SHOP

from metricsctl.cli import main
from metricsctl.errors import DbtError
from metricsctl.facade import Metricsctl

pytestmark = pytest.mark.skipif(importlib.util.find_spec("dbt.adapters.postgres") is None,
                                reason="dbt-postgres is not installed (parsing a postgres target needs it)")


@pytest.fixture()
def shop_for_two(tmp_path: Path) -> Path:
    """The shop project, compiled for duckdb and postgres."""
    root = tmp_path / "shop"
    shutil.copytree(SHOP, root, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    project = root / "dbt_project.yml"
    project.write_text(project.read_text() + "vars:\n  metricsctl_dialects: [duckdb, postgres]\n")
    return root


def generated(root: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((root / "models" / "metrics").glob("*.sql"))}


def test_the_models_do_not_depend_on_the_target_that_compiled_them(shop_for_two: Path) -> None:
    Metricsctl(shop_for_two).compile()
    first = generated(shop_for_two)
    assert first, "the shop has metrics: metric_values at least"
    assert Metricsctl(shop_for_two, target="postgres").compile(check=True).ok
    Metricsctl(shop_for_two, target="postgres").compile()
    assert generated(shop_for_two) == first


def test_each_model_has_a_branch_per_dialect_and_refuses_others(shop_for_two: Path) -> None:
    Metricsctl(shop_for_two).compile()
    text = generated(shop_for_two)["metric_values.sql"]
    assert "{% if target.type == 'duckdb' %}" in text and "{% elif target.type == 'postgres' %}" in text
    postgres = text.split("{% elif target.type == 'postgres' %}")[1].split("{% else %}")[0]
    assert "DOUBLE PRECISION" in postgres and " AS DOUBLE)" not in postgres
    assert "raise_compiler_error" in text.split("{% else %}")[1]


def test_a_build_on_a_dialect_not_compiled_for_stops_before_anything(shop_for_two: Path) -> None:
    project = shop_for_two / "dbt_project.yml"
    project.write_text(project.read_text().replace("[duckdb, postgres]", "[duckdb]"))
    with pytest.raises(DbtError, match="add 'postgres' to vars.metricsctl_dialects"):
        Metricsctl(shop_for_two, target="postgres").build()
    assert not (shop_for_two / "models" / "metrics").exists()


def test_an_unknown_dialect_is_named_with_the_choices(shop_for_two: Path) -> None:
    project = shop_for_two / "dbt_project.yml"
    project.write_text(project.read_text().replace("[duckdb, postgres]", "[duckdb, postgress]"))
    result = CliRunner().invoke(main, ["compile", "--project-dir", str(shop_for_two)])
    assert result.exit_code == 2
    assert "unknown dialect 'postgress'" in result.output and "dbt_project.yml" in result.output
