"""`meta: {metricsctl: {...}}` says only what metricsctl reads: a misspelt key or a value of the wrong kind is
reported with its file and line before anything is compiled, never ignored (a misspelt `lookback_days` would
leave a nightly bound at its default, a misspelt `always_build` a model that reads the clock unbuilt)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from metricsctl import settings
from metricsctl.cli import main
from metricsctl.errors import SpecError
from metricsctl.facade import Metricsctl
from metricsctl.materialize import Materializer
from tests.test_spec_errors import edit, line_of, project_copy


def test_the_settings_metricsctl_reads_pass():
    meta = {"metricsctl": {"incremental": True, "lookback_days": 3}, "owner": "sales"}
    assert settings.problems(meta, settings.SAVED_QUERY_KEYS) == []
    assert settings.problems({"owner": "sales"}, settings.SAVED_QUERY_KEYS) == []  # other meta keys are not ours
    assert settings.problems(None, settings.MODEL_KEYS) == []


def test_a_misspelt_key_is_named_with_the_key_it_is_close_to():
    found = settings.problems({"metricsctl": {"lookbak_days": 10}}, settings.SAVED_QUERY_KEYS)
    assert found == ["meta.metricsctl: unknown key 'lookbak_days'; the keys here are incremental, lookback_days; "
                     "did you mean 'lookback_days'?"]


@pytest.mark.parametrize(("keys", "value", "expected"), [
    (settings.SAVED_QUERY_KEYS, {"incremental": "false"},
     "meta.metricsctl.incremental must be true or false, not 'false'"),
    (settings.SAVED_QUERY_KEYS, {"lookback_days": -3},
     "meta.metricsctl.lookback_days must be a whole number of days (0 or more), not -3"),
    (settings.SEMANTIC_MODEL_KEYS, {"lookback_days": True},
     "meta.metricsctl.lookback_days must be a whole number of days (0 or more), not True"),
    (settings.MODEL_KEYS, {"always_build": 1}, "meta.metricsctl.always_build must be true or false, not 1"),
])
def test_a_value_of_the_wrong_kind_is_named(keys, value, expected):
    assert settings.problems({"metricsctl": value}, keys) == [expected]


def test_settings_that_are_not_a_mapping_are_reported_and_read_as_none():
    assert settings.problems({"metricsctl": "incremental"}, settings.SAVED_QUERY_KEYS) == [
        "meta.metricsctl must be a mapping of settings (incremental, lookback_days), not 'incremental'"]
    assert settings.read({"metricsctl": "incremental"}) == {}


def test_compile_reports_every_unknown_setting_at_once_with_its_file_and_line(tmp_path: Path, shop_dir: Path):
    root = project_copy(tmp_path, shop_dir)
    saved = root / "metrics" / "saved_queries.yml"
    edit(saved, "metricsctl: {incremental: true, lookback_days: 3}", "metricsctl: {incremental: true, lookbak_days: 3}")
    models = root / "metrics" / "semantic_models.yml"
    edit(models, "metricsctl: {group_rows_first: true}", "metricsctl: {group_rows_first: 'yes'}")
    spine = root / "models" / "metricflow_time_spine.sql"
    spine.write_text("{{ config(meta={'metricsctl': {'always_bulid': true}}) }}\n" + spine.read_text())
    with pytest.raises(SpecError) as caught:
        Metricsctl(root).compile()
    issues = {(i.path, i.line): i.message for i in caught.value.issues}
    assert issues == {
        ("metrics/saved_queries.yml", line_of(saved, "lookbak_days")):
            "saved query 'daily_channel_sales': meta.metricsctl: unknown key 'lookbak_days'; the keys here are "
            "incremental, lookback_days; did you mean 'lookback_days'?",
        ("metrics/semantic_models.yml", line_of(models, "group_rows_first")):
            "semantic model 'orders': meta.metricsctl.group_rows_first must be true or false, not 'yes'",
        ("models/metricflow_time_spine.sql", 1):
            "model 'metricflow_time_spine': meta.metricsctl: unknown key 'always_bulid'; the keys here are "
            "lookback_column, lookback_days, rewritten_column, always_build; did you mean 'always_build'?",
    }
    assert not (root / "models" / "metrics").exists()  # nothing was written


def test_the_cli_exits_2_on_an_unknown_setting(tmp_path: Path, shop_dir: Path):
    root = project_copy(tmp_path, shop_dir)
    saved = root / "metrics" / "saved_queries.yml"
    edit(saved, "metricsctl: {incremental: true, lookback_days: 3}", "metricsctl: {incremental: true, lookback: 3}")
    result = CliRunner().invoke(main, ["compile", "--project-dir", str(root)])
    assert result.exit_code == 2
    assert f"metrics/saved_queries.yml:{line_of(saved, 'lookback: 3')}: saved query 'daily_channel_sales'" \
        in result.output
    assert "unknown key 'lookback'" in result.output and "Traceback" not in result.output


def test_a_models_setting_in_its_properties_file_is_reported_at_its_line(tmp_path: Path, shop_dir: Path):
    root = project_copy(tmp_path, shop_dir)
    properties = root / "models" / "time_spine.yml"
    text = properties.read_text()
    assert "  - name: metricflow_time_spine\n" in text
    properties.write_text(text.replace("  - name: metricflow_time_spine\n", "  - name: metricflow_time_spine\n"
                                       "    config:\n      meta:\n        metricsctl: {lookback_day: 3}\n", 1))
    with pytest.raises(SpecError) as caught:
        Metricsctl(root).compile()
    [issue] = caught.value.issues
    assert (issue.path, issue.line) == ("models/time_spine.yml", line_of(properties, "lookback_day: 3"))
    assert issue.message.startswith("model 'metricflow_time_spine': meta.metricsctl: unknown key 'lookback_day'; ")
    assert issue.message.endswith("did you mean 'lookback_days', 'lookback_column'?")


def test_an_unknown_setting_is_not_searched_for_metric_by_metric(tmp_path: Path, shop_dir: Path,
                                                                 monkeypatch: pytest.MonkeyPatch):
    """Compiling every metric alone to locate a failure (seconds in a large project) is for failing metrics; a
    setting's problem is located already."""
    root = project_copy(tmp_path, shop_dir)
    edit(root / "metrics" / "saved_queries.yml", "lookback_days: 3", "lookback: 3")

    def located_metric_by_metric(self: Metricsctl) -> None:
        raise AssertionError("validate() ran")

    monkeypatch.setattr(Metricsctl, "validate", located_metric_by_metric)
    with pytest.raises(settings.SettingsError):
        Metricsctl(root).compile()


@pytest.mark.parametrize("outside", ["../elsewhere/orders.sql", "{elsewhere}/orders.sql", "models/linked.sql"])
def test_a_nodes_file_outside_the_project_is_named_but_never_read(tmp_path: Path, outside: str):
    """The manifest says where a node's file is; a path that leaves the project (`..`, an absolute path, a symlink
    inside it pointing out) is named in the message as the manifest gives it, but not opened to find the line."""
    root, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    (root / "models").mkdir(parents=True)
    elsewhere.mkdir()
    (root / "dbt_project.yml").write_text("name: shop\n")
    (elsewhere / "orders.sql").write_text("-- secret\n{{ config(meta={'metricsctl': {'lookbak_days': 3}}) }}\n")
    (root / "models" / "linked.sql").symlink_to(elsewhere / "orders.sql")
    relative = outside.format(elsewhere=elsewhere)
    node = {"resource_type": "model", "name": "orders", "package_name": "shop", "original_file_path": relative,
            "patch_path": f"shop://{relative}"}
    materializer = SimpleNamespace(manifest={"metadata": {"project_name": "shop"}},
                                   project=SimpleNamespace(project_dir=root))
    issue = Materializer._node_issue(materializer, node, "lookbak_days", "unknown key")  # type: ignore[arg-type]
    assert (issue.path, issue.line, issue.message) == (relative, None, "model 'orders': unknown key")
    inside = dict(node, original_file_path="models/orders.sql", patch_path=None)
    (root / "models" / "orders.sql").write_text((elsewhere / "orders.sql").read_text())
    assert Materializer._node_issue(materializer, inside, "lookbak_days", "unknown key").line == 2  # type: ignore[arg-type]
