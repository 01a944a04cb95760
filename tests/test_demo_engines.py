"""The demo built on PostgreSQL and on Spark holds DuckDB's numbers: every export, `metric_values`,
`metric_attainment` and `scorecards`, rows matched on their keys, values within 1e-9 relative; and the
metric center generated from each engine's warehouse shows what the one generated from DuckDB shows.

Each engine builds its own copy of the repository's project with `metricsctl build --target <engine>`,
seeds to scorecards, through the expectation gate; the committed generated models are not rewritten.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from engines import Keyed, differences, keyed

from metricsctl.compiler.query import MetricQuery
from metricsctl.facade import Metricsctl
from metricsctl.site.generate import site_data

ROOT = Path(__file__).resolve().parents[1]
AS_OF = dt.date(2025, 7, 1)
# the standard tables' keys; an export's keys are its group-by columns (every column but the metrics)
KEYS = {"metric_values": ["metric_name", "grain", "period_start"],
        "metric_attainment": ["metric_name", "period_grain", "period_start", "org_unit_kind", "org_unit"],
        "scorecards": ["org_unit_kind", "org_unit", "period_grain", "period_start"]}

pytestmark = pytest.mark.slow


def build_demo(root: Path, target: str | None) -> Metricsctl:
    shutil.copytree(ROOT, root, ignore=shutil.ignore_patterns(
        ".git", ".venv", "target", "logs", "*.duckdb", "*.duckdb.wal", "tests", "bench", "docs", "*.egg-info",
        "spark-warehouse"))
    committed = {p.name: p.read_text() for p in (root / "models" / "metrics").glob("*.sql")}
    app = Metricsctl(root, target=target)
    result = app.build(as_of=AS_OF)
    assert result.success, [(n.unique_id, n.message) for n in result.failed] or result.stale_metrics
    rewritten = [name for name, text in committed.items() if (root / "models" / "metrics" / name).read_text() != text]
    assert not rewritten, f"building on {target} rewrote committed models: {rewritten}"
    return app


def tables(app: Metricsctl) -> dict[str, list[str] | None]:
    """The tables to compare, by model name, with their keys (None: every column but the metrics)."""
    names: dict[str, list[str] | None] = dict.fromkeys(
        export.name for saved in app.spec.manifest.saved_queries for export in saved.exports)
    names.update(KEYS)
    return names


def read(app: Metricsctl, model: str, keys: list[str] | None) -> tuple[list[str], Keyed]:
    """The model's rows by their keys, and the keys' names (by default every column but the metrics, in the
    order of the model's columns)."""
    manifest = json.loads((app.project.target_dir / "manifest.json").read_text())
    relation = next(n["relation_name"] for n in manifest["nodes"].values()
                    if n["resource_type"] == "model" and n["name"] == model)
    warehouse = app.warehouse()
    try:
        result = warehouse.execute(f"select * from {relation}")
    finally:
        warehouse.close()
    assert result.rows, f"{app.target_name}: {model} is empty"
    metrics = set(app.spec.metric_names())
    keys = keys or [c for c in result.columns if c not in metrics]
    return keys, keyed(result.columns, result.rows, keys)


@pytest.fixture(scope="module")
def demo_duckdb(tmp_path_factory: pytest.TempPathFactory) -> Metricsctl:
    return build_demo(tmp_path_factory.mktemp("demo-duckdb") / "demo", None)


def compare(reference: Metricsctl, other: Metricsctl) -> None:
    failures = []
    for model, keys in tables(reference).items():
        # matched by the reference's key names: Spark writes an incremental export's partition column last
        names, expected = read(reference, model, keys)
        problems = differences(expected, read(other, model, names)[1])
        if problems:
            failures.append(f"{model}:\n  " + "\n  ".join(problems))
    assert not failures, f"the demo on {other.target_name} differs from DuckDB:\n" + "\n".join(failures)


# what differs between engines by nature: when the site and the expectation runs were made, the
# warehouse's name for a relation (`warehouse.raw.orders` on DuckDB, `postgres.raw.orders` on PostgreSQL),
# and a metric's SQL, which each site shows in its own engine's dialect (checked in `same_site`)
VOLATILE = frozenset({"generated_at", "run_at", "relation", "sql"})


def document_differences(expected: object, actual: object, path: str = "", rel: float = 1e-9) -> list[str]:
    """Where two JSON-able documents differ: keys, lengths, values (numbers within `rel`, relative)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        problems = [f"{path}: missing {k!r}" for k in expected.keys() - actual.keys()]
        problems += [f"{path}: extra {k!r}" for k in actual.keys() - expected.keys()]
        for key in expected.keys() & actual.keys():
            if key not in VOLATILE:
                problems += document_differences(expected[key], actual[key], f"{path}/{key}", rel)
        return problems
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path}: {len(actual)} items, DuckDB has {len(expected)}"]
        return [problem for i, (e, a) in enumerate(zip(expected, actual))
                for problem in document_differences(e, a, f"{path}/{i}", rel)]
    numbers = (int, float)
    if isinstance(expected, numbers) and isinstance(actual, numbers) and not isinstance(expected, bool):
        close = abs(actual - expected) <= max(rel * max(abs(expected), abs(actual)), 1e-9)
        return [] if close else [f"{path}: {actual!r} != {expected!r}"]
    return [] if expected == actual else [f"{path}: {actual!r:.200} != {expected!r:.200}"]


@pytest.fixture(scope="module")
def duckdb_site(demo_duckdb: Metricsctl) -> dict[str, Any]:
    """The metric center's document from DuckDB's warehouse, read once, before any alert run writes history."""
    return site_data(demo_duckdb, as_of=AS_OF)


def same_site(expected: dict[str, Any], other: Metricsctl) -> None:
    """The metric center's document (KPIs, values, trees, scorecards, funnels, quality) from the other
    engine's warehouse equals the one from DuckDB's."""
    actual = site_data(other, as_of=AS_OF)
    assert expected["values"] and expected["trees"]["roots"] and expected["scorecards"]["scores"]
    problems = document_differences(expected, actual)
    # a metric page's SQL is what `metricsctl query --explain` prints for that engine
    explained = other.compile_query(MetricQuery(("revenue",), ("metric_time__month",))).sql()
    assert next(m["sql"] for m in actual["metrics"] if m["name"] == "revenue") == explained
    assert not problems, f"the metric center on {other.target_name} differs from DuckDB's:\n" + "\n".join(problems[:20])


def alerts_opened(app: Metricsctl, as_of: dt.datetime) -> set[tuple[str, str, object]]:
    run = app.alerts(as_of)
    assert not run.errors, run.errors
    return {(e.rule, e.series_key, e.period) for e in run.opened}


ALERT_DAYS = (dt.datetime(2024, 10, 21), dt.datetime(2025, 3, 3))  # a planted event on each


@pytest.fixture(scope="module")
def duckdb_alerts(demo_duckdb: Metricsctl,
                  duckdb_site: dict[str, Any]) -> dict[dt.datetime, set[tuple[str, str, object]]]:
    """The alerts the planted events open on DuckDB, run once (alert state only moves forward in time), after
    the site document is read (it shows the alert history)."""
    return {day: alerts_opened(demo_duckdb, day) for day in ALERT_DAYS}


def same_alerts_and_state(expected_by_day: dict[dt.datetime, set[tuple[str, str, object]]],
                          other: Metricsctl) -> None:
    """The planted events open the same alerts; the state kept in the target's warehouse stops a re-open."""
    for day, expected in expected_by_day.items():
        assert expected, f"no alert opened on DuckDB at {day}"
        assert alerts_opened(other, day) == expected
        assert alerts_opened(other, day) == set()  # already open: kept in the warehouse, not opened again
    warehouse = other.warehouse()
    try:
        stored = warehouse.execute("select count(*) from expectation_results").rows[0][0]
        history = warehouse.execute("select count(*) from metricsctl_alert_history").rows[0][0]
    finally:
        warehouse.close()
    assert stored > 0 and history > 0


@pytest.mark.postgres
def test_the_demo_on_postgres_holds_duckdbs_numbers(demo_duckdb: Metricsctl, duckdb_site: dict[str, Any],
                                                    duckdb_alerts: dict[dt.datetime, set], postgres_env: dict[str, str],
                                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    postgres = build_demo(tmp_path_factory.mktemp("demo-pg") / "demo", "postgres")
    compare(demo_duckdb, postgres)
    same_site(duckdb_site, postgres)
    same_alerts_and_state(duckdb_alerts, postgres)


@pytest.mark.spark
def test_the_demo_on_spark_holds_duckdbs_numbers(demo_duckdb: Metricsctl, duckdb_site: dict[str, Any],
                                                 duckdb_alerts: dict[dt.datetime, set], spark_env: dict[str, str],
                                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    spark = build_demo(tmp_path_factory.mktemp("demo-spark") / "demo", "spark")
    compare(demo_duckdb, spark)
    same_site(duckdb_site, spark)
    same_alerts_and_state(duckdb_alerts, spark)
