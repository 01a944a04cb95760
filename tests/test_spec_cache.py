"""The loaded spec cached under target/ (metricsctl/spec_cache.py): used when the manifest is the same,
never trusted otherwise.

A query reads target/metricsctl_spec.pickle instead of parsing semantic_manifest.json with
dbt-semantic-interfaces' pydantic models. These tests change a metric's YAML, damage the cache and plant
a malicious pickle in it, and check each time that the query answers what the YAML now says (computed
from the seed CSV with pandas) and that the cache is written again.
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import metricsctl
from metricsctl import spec_cache
from metricsctl.compiler.query import MetricQuery
from metricsctl.facade import Metricsctl
from tests.conftest import assert_series, month, seed

MONTHLY_REVENUE = MetricQuery.of("revenue", "metric_time__month")


@pytest.fixture
def project(shop_dir: Path, tmp_path: Path) -> Path:
    """A copy of the built shop project (its warehouse stays the session's, read only)."""
    root = tmp_path / "shop"
    shutil.copytree(shop_dir, root, ignore=shutil.ignore_patterns("*.duckdb", "*.duckdb.wal", "logs"))
    return root


def monthly(app: Metricsctl) -> pd.DataFrame:
    result = app.query(MONTHLY_REVENUE)
    frame = pd.DataFrame(result.rows, columns=list(result.columns))
    frame["metric_time__month"] = pd.to_datetime(frame["metric_time__month"])
    return frame


def lines() -> pd.DataFrame:
    frame = seed("order_lines")
    frame["month"] = month(frame.ordered_at)
    return frame


def revenue_by_month() -> pd.Series:
    frame = lines()
    return (frame.quantity * frame.unit_price).groupby(frame.month).sum()


def cache_of(root: Path) -> Path:
    return root / "target" / spec_cache.CACHE_FILE


def written_for_current_manifest(root: Path) -> bool:
    key = spec_cache.cache_key((root / "target" / "semantic_manifest.json").read_bytes())
    return cache_of(root).read_bytes().startswith(key + b"\n")


def test_a_query_writes_the_cache_and_the_next_one_reads_it_without_pydantic(project: Path):
    assert_series(monthly(Metricsctl(project)), "metric_time__month", "revenue", revenue_by_month())
    assert written_for_current_manifest(project)

    # a fresh process, as the next `metricsctl query` is: it answers without pydantic or dbt's machinery
    script = ("import json, sys; from metricsctl.facade import Metricsctl; from metricsctl.compiler.query import "
              "MetricQuery; rows = Metricsctl(sys.argv[1]).query(MetricQuery.of('revenue', 'metric_time__month'))"
              ".rows; print(json.dumps([len(rows), sorted(sys.modules)]))")
    done = subprocess.run([sys.executable, "-c", script, str(project)], capture_output=True, text=True, check=True,
                          env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"})
    rows, modules = json.loads(done.stdout)
    assert rows == len(revenue_by_month())
    assert not [m for m in modules if m.split(".")[0] in ("pydantic", "pydantic_core")]
    assert not [m for m in modules if m.startswith(("dbt_semantic_interfaces.implementations", "dbt.cli"))]


def test_a_changed_metric_is_answered_with_its_new_definition(project: Path):
    monthly(Metricsctl(project))  # writes the cache for the current definition
    metrics_yml = project / "metrics" / "metrics.yml"
    text = metrics_yml.read_text()
    old = "- {name: revenue, label: Revenue, type: simple, type_params: {measure: revenue}}"
    assert old in text
    metrics_yml.write_text(text.replace(old, old.replace("{measure: revenue}", "{measure: quantity}")))

    got = monthly(Metricsctl(project))  # the manifest changed: the cached spec is stale
    assert_series(got, "metric_time__month", "revenue", lines().groupby("month").quantity.sum())
    assert written_for_current_manifest(project)


@pytest.mark.parametrize("damage", ["garbage", "header only", "cut short", "not a tree", "code"])
def test_a_damaged_cache_is_ignored_and_written_again(project: Path, damage: str):
    monthly(Metricsctl(project))
    cache = cache_of(project)
    key = cache.read_bytes().split(b"\n", 1)[0]
    marker = project / "pwned"

    class Planted:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {marker}",))

    cache.write_bytes({
        "garbage": b"\x00\xffnot a cache at all",
        "header only": key,
        "cut short": cache.read_bytes()[:-200],
        "not a tree": key + b"\n" + pickle.dumps({"metrics": []}),
        "code": key + b"\n" + pickle.dumps(Planted()),
    }[damage])

    assert_series(monthly(Metricsctl(project)), "metric_time__month", "revenue", revenue_by_month())
    assert not marker.exists()  # the planted pickle was refused, not run
    assert written_for_current_manifest(project)
    assert cache.read_bytes() != key  # rewritten whole


def test_a_cache_from_another_release_is_not_read(monkeypatch: pytest.MonkeyPatch):
    key = spec_cache.cache_key(b"{}")
    monkeypatch.setattr(metricsctl, "__version__", "999.0")
    assert spec_cache.cache_key(b"{}") != key
    assert spec_cache.cache_key(b"{ }") != spec_cache.cache_key(b"{}")


def test_the_tree_holds_what_the_pydantic_models_hold(shop: Metricsctl, shop_dir: Path):
    from dbt_semantic_interfaces.implementations.semantic_manifest import PydanticSemanticManifest

    parsed = PydanticSemanticManifest.parse_raw((shop_dir / "target" / "semantic_manifest.json").read_text())

    def same(node: object, model: object, where: str) -> None:
        fields = getattr(type(model), "__fields__", None)
        if isinstance(fields, dict):
            assert isinstance(node, spec_cache.Node), where
            for name in fields:
                same(getattr(node, name), getattr(model, name), f"{where}.{name}")
        elif isinstance(model, (list, tuple)):
            assert type(node) is type(model) and len(node) == len(model), where
            for i, (a, b) in enumerate(zip(node, model)):
                same(a, b, f"{where}[{i}]")
        else:
            assert node == model and type(node) is type(model), where

    same(shop.spec.manifest, parsed, "manifest")
    assert json.loads(shop.spec.manifest.json()) == json.loads(parsed.json())  # as pydantic writes it


def test_nodes_compare_hash_copy_and_pickle_by_value(shop: Metricsctl):
    metric = shop.spec.metric("revenue")
    twin = copy.deepcopy(metric)
    assert twin == metric and hash(twin) == hash(metric) and twin is not metric
    assert pickle.loads(pickle.dumps(metric)) == metric
    twin.label = "Turnover"  # an edited copy (as the semantic diff's tests make) differs, the original does not
    assert twin != metric and metric.label == "Revenue"
    assert "PydanticMetric(name='revenue'" in repr(metric)


def test_dbt_settings_that_do_not_change_the_parse_do_not_make_the_project_parsed_again(
        project: Path, monkeypatch: pytest.MonkeyPatch):
    """A build run from a scheduler that sets DBT_SEND_ANONYMOUS_USAGE_STATS, then a query from a shell
    that does not: the second must not pay for a dbt parse. A variable dbt's parse reads still counts."""
    from metricsctl.project import DbtProject

    monkeypatch.delenv("DBT_SEND_ANONYMOUS_USAGE_STATS", raising=False)
    monkeypatch.delenv("DBT_TARGET_PATH", raising=False)
    before = DbtProject.at(project).fingerprint()
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "True")
    monkeypatch.setenv("DBT_QUIET", "1")
    assert DbtProject.at(project).fingerprint() == before
    # a nightly build's bounds, which dbt's tests read only when they run (macros/checks.sql)
    monkeypatch.setenv("METRICSCTL_SINCE_LAST_BUILD", '{"model.shop.orders": {"loaded_at": ["date", "2024-01-01"]}}')
    assert DbtProject.at(project).fingerprint() == before
    monkeypatch.setenv("DBT_TARGET_PATH", "elsewhere")
    assert DbtProject.at(project).fingerprint() != before
