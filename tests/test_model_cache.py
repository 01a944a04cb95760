"""Generated models kept under target/ (metricsctl/model_cache.py): a model is read back only when nothing it
reads changed, and what `metricsctl compile` writes is always what a compile without the cache writes.

Each test edits the shop project's YAML (a metric's definition, a label, a semantic model, a saved query's
options), compiles with the cache as the CLI does, records which models were compiled rather than read back,
and compares every generated file with a compile of the same spec that uses no cache.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from metricsctl import forked, model_cache
from metricsctl.facade import Metricsctl
from metricsctl.materialize import GeneratedModel, Materializer

EXPORTS = {"sales_by_month", "daily_channel_sales", "conversion_by_source"}


@pytest.fixture
def project(shop_dir: Path, tmp_path: Path) -> Path:
    """A copy of the built shop project, compiled once (so its cache holds every model)."""
    root = tmp_path / "shop"
    shutil.copytree(shop_dir, root, ignore=shutil.ignore_patterns("*.duckdb", "*.duckdb.wal", "logs"))
    Metricsctl(root).compile()  # writes the models and fills the cache
    return root


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names of the models compiled (not read back from the cache), in order: compiled in this process,
    where they are recorded (tests/test_forked.py compares what forked processes compile)."""
    monkeypatch.setenv(forked.SETTING, "1")
    names: list[str] = []

    def recording(method: Callable[..., GeneratedModel]) -> Callable[..., GeneratedModel]:
        def compiling(self: Materializer, *args: Any) -> GeneratedModel:
            model = method(self, *args)
            names.append(model.name)
            return model
        return compiling

    for method in ("_export", "_metric_values", "_metric_catalog", "_attainment", "_scorecard"):
        monkeypatch.setattr(Materializer, method, recording(getattr(Materializer, method)))
    yield names


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def compile_and_compare(root: Path, compiled: list[str]) -> dict[str, str]:
    """`metricsctl compile` as the CLI runs it (the cache on); every file must be what a cache-less compile
    of the same spec writes. Returns the generated files' contents by model name; `compiled` keeps the
    models the CLI's compile compiled (once per dialect)."""
    app = Metricsctl(root)
    app.compile()
    by_cli = list(compiled)
    written = {Path(p).stem: text for p, text in app.materializer().generated_on_disk().items()}
    fresh = Materializer(app.spec, app.project, app.model_dialects).models()  # no cache
    assert written == {m.name: m.content for m in fresh}
    compiled[:] = sorted(set(by_cli))
    return written


def test_the_cache_holds_every_generated_model(project: Path, compiled: list[str]):
    stored = json.loads((project / "target" / model_cache.MODELS_CACHE_FILE).read_text())["models"]
    assert {key.split("/", 1)[1] for key in stored} == EXPORTS | {"metric_values", "metric_catalog"}
    compile_and_compare(project, compiled)
    assert compiled == []  # nothing changed: every model read back


def test_an_edited_metric_recompiles_exactly_the_models_that_read_it(project: Path, compiled: list[str]):
    before = {Path(p).stem: t for p, t in Metricsctl(project).materializer().generated_on_disk().items()}
    # `visits` counts visitors now: only conversion_by_source (which lists it), metric_values and the catalog
    # (every metric's formula) read it
    edit(project / "metrics" / "metrics.yml",
         "- {name: visits, label: Visits, type: simple, type_params: {measure: visits}}",
         "- {name: visits, label: Visits, type: simple, type_params: {measure: visitors}}")
    after = compile_and_compare(project, compiled)
    assert compiled == ["conversion_by_source", "metric_catalog", "metric_values"]
    assert after["conversion_by_source"] != before["conversion_by_source"]  # the stale text was not served
    assert after["metric_values"] != before["metric_values"]
    assert after["sales_by_month"] == before["sales_by_month"]


def test_a_metric_read_through_another_is_recompiled(project: Path, compiled: list[str]):
    # revenue_per_order (in sales_by_month) divides revenue by orders; orders is in two exports and a filter
    edit(project / "metrics" / "metrics.yml",
         "- {name: orders, label: Orders, type: simple, type_params: {measure: orders}}",
         "- {name: orders, label: Orders, type: simple, type_params: {measure: order_count}}")
    compile_and_compare(project, compiled)
    assert compiled == ["daily_channel_sales", "metric_catalog", "metric_values", "sales_by_month"]


def test_a_label_is_read_by_the_catalog_alone(project: Path, compiled: list[str]):
    edit(project / "metrics" / "metrics.yml", "{name: revenue, label: Revenue,", "{name: revenue, label: Turnover,")
    after = compile_and_compare(project, compiled)
    assert compiled == ["metric_catalog"]
    assert "'Turnover'" in after["metric_catalog"]


def test_a_semantic_model_or_a_saved_query_option_recompiles_what_reads_it(project: Path, compiled: list[str]):
    edit(project / "metrics" / "saved_queries.yml", "metricsctl: {incremental: true, lookback_days: 3}",
         "metricsctl: {incremental: true, lookback_days: 5}")
    after = compile_and_compare(project, compiled)
    assert compiled == ["daily_channel_sales"]
    assert "INTERVAL '5' DAY" in after["daily_channel_sales"].replace('"', "'")
    compiled.clear()
    semantic_models = project / "metrics" / "semantic_models.yml"
    text = semantic_models.read_text()
    assert "agg: sum" in text
    semantic_models.write_text(text.replace("description:", "description: Edited.", 1))
    compile_and_compare(project, compiled)
    assert compiled == sorted(EXPORTS | {"metric_values", "metric_catalog"})


def test_a_cache_from_other_code_or_damaged_is_not_served(project: Path, compiled: list[str],
                                                          monkeypatch: pytest.MonkeyPatch):
    cache = project / "target" / model_cache.MODELS_CACHE_FILE
    stored = json.loads(cache.read_text())
    # the same digests with other text: served (the digest is what is trusted), so the test below means something
    planted = copy.deepcopy(stored)
    for entry in planted["models"].values():
        entry[4] += "\n-- planted"  # [digest, path, header, config, body]
    cache.write_text(json.dumps(planted))
    served = Metricsctl(project).materializer().models()
    assert compiled == [] and all("-- planted" in m.body for m in served if m.name in EXPORTS)

    # another build of the compiler (any source file of metricsctl, sqlglot's release): nothing is served
    real = model_cache.code_digest()
    monkeypatch.setattr(model_cache, "code_digest", lambda: real + "-changed")
    compile_and_compare(project, compiled)
    assert compiled == sorted(EXPORTS | {"metric_values", "metric_catalog"})
    assert "-- planted" not in cache.read_text()  # rewritten with this build's digests

    compiled.clear()
    cut = {key: entry[:3] for key, entry in stored["models"].items()}
    for damage in ("not json", json.dumps({"format": "0", "models": stored["models"]}),
                   json.dumps({"format": model_cache.FORMAT, "models": cut})):
        cache.write_text(damage)
        compile_and_compare(project, compiled)
        assert compiled == sorted(EXPORTS | {"metric_values", "metric_catalog"})
        compiled.clear()


def test_a_metric_filter_reaches_every_metric(shop: Metricsctl):
    """A filter that calls Metric(...) may read any metric: its digest changes with every metric's definition."""
    spec = shop.spec
    digests = model_cache.ModelDigests(spec, {}, {})
    saved = copy.deepcopy(spec.saved_query("conversion_by_source"))
    plain = digests.export(saved, "x", {})
    saved.query_params.where.where_filters[0].where_sql_template = "{{ Metric('orders', group_by=['visit']) }} > 1"
    filtered = digests.export(saved, "x", {})
    edited = copy.deepcopy(spec)
    revenue = next(m for m in edited.manifest.metrics if m.name == "revenue")
    revenue.type_params.measure.name = "quantity"
    other = model_cache.ModelDigests(edited, {}, {})
    assert other.export(saved, "x", {}) != filtered  # revenue is in no list of this query, but the filter may read it
    original = spec.saved_query("conversion_by_source")
    assert other.export(original, "x", {}) == plain  # without the filter, revenue is not read


def test_the_scorecard_models_are_kept_until_their_configuration_or_a_metric_changes(demo_built: Path,
                                                                                    tmp_path: Path,
                                                                                    compiled: list[str]):
    """The demo's scorecard (metrics/finance.yml): metric_attainment and scorecards are read back after a label's
    edit, which only the catalog shows, and compiled again when the scorecard's configuration changes."""
    root = tmp_path / "demo"
    shutil.copytree(demo_built, root, ignore=shutil.ignore_patterns("*.duckdb", "*.duckdb.wal", "*.lock", "logs",
                                                                    ".metricsctl-candidate"))
    Metricsctl(root).compile()  # the cache as this copy's paths give it
    compiled.clear()
    edit(root / "metrics" / "sales.yml", "label: Customer lifetime value", "label: Lifetime value per customer")
    after = compile_and_compare(root, compiled)
    assert compiled == ["metric_catalog"]
    assert "'Lifetime value per customer'" in after["metric_catalog"]
    compiled.clear()
    edit(root / "metrics" / "finance.yml", "  cap: 1.5\n", "  cap: 2\n")
    after = compile_and_compare(root, compiled)
    assert compiled == ["metric_attainment", "scorecards"]
    assert "attainment > 2" in after["scorecards"] and "attainment > 1.5" not in after["scorecards"]
