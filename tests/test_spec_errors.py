"""A broken spec is reported whole: every problem with its file and line, exit code 2, no traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from metricsctl.cli import main
from metricsctl.compiler.query import MetricQuery
from metricsctl.errors import SpecError
from metricsctl.facade import Metricsctl
from tests.conftest import SHOP, seed


def project_copy(tmp_path: Path, shop_dir: Path) -> Path:
    """The shop project without its parse results; it reads the session's built warehouse."""
    root = tmp_path / "shop"
    shutil.copytree(SHOP, root, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, fragment: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if fragment in line)


def test_every_broken_reference_is_reported_with_file_and_line(tmp_path: Path, shop_dir: Path):
    root = project_copy(tmp_path, shop_dir)
    metrics = root / "metrics" / "metrics.yml"
    edit(metrics, "type_params: {measure: quantity}}", "type_params: {measure: quantityy}}")
    edit(metrics, "{numerator: revenue, denominator: orders}", "{numerator: revenue, denominator: orderz}")
    edit(metrics, "expr: revenue / line_count", "expr: revenue / line_cnt")
    with pytest.raises(SpecError) as caught:
        _ = Metricsctl(root).spec
    issues = {(i.path, i.line): i.message for i in caught.value.issues}
    assert len(issues) == 3
    assert "unknown measure 'quantityy'; did you mean 'quantity'?" in issues[
        ("metrics/metrics.yml", line_of(metrics, "quantityy"))]
    assert "unknown metric 'orderz'" in issues[("metrics/metrics.yml", line_of(metrics, "denominator: orderz"))]
    assert "'line_cnt'" in issues[("metrics/metrics.yml", line_of(metrics, "expr: revenue / line_cnt"))]


def test_cli_reports_the_spec_problems_and_exits_2(tmp_path: Path, shop_dir: Path):
    root = project_copy(tmp_path, shop_dir)
    edit(root / "metrics" / "metrics.yml", "type: ratio", "type: ratioo")
    result = CliRunner().invoke(main, ["query", "--project-dir", str(root), "--metrics", "orders"])
    assert result.exit_code == 2
    assert "metrics/metrics.yml:" in result.output and "type 'ratioo'" in result.output
    assert "Traceback" not in result.output


def test_a_filter_on_an_unknown_dimension_fails_validation(tmp_path: Path, shop_dir: Path):
    root = project_copy(tmp_path, shop_dir)
    metrics = root / "metrics" / "metrics.yml"
    edit(metrics, "filter: \"{{ Dimension('order__channel') }} = 'online'\"\n",
         "filter: \"{{ Dimension('order__chanel') }} = 'online'\"\n")
    with pytest.raises(SpecError) as caught:
        Metricsctl(root).validate()
    [issue] = caught.value.issues
    assert issue.path == "metrics/metrics.yml" and issue.line == line_of(metrics, "- name: online_revenue")
    assert "did you mean 'order__channel'" in issue.message


def test_a_changed_spec_is_parsed_again_before_the_next_query(tmp_path: Path, shop_dir: Path):
    root = project_copy(tmp_path, shop_dir)
    query = MetricQuery.of("online_revenue")
    before = Metricsctl(root).query(query).rows[0][0]
    edit(root / "metrics" / "metrics.yml", "{{ Dimension('order__channel') }} = 'online'\"\n",
         "{{ Dimension('order__channel') }} = 'store'\"\n")
    after = Metricsctl(root).query(query).rows[0][0]
    lines = seed("order_lines").merge(seed("orders")[["order_id", "channel"]], on="order_id")
    store = lines[lines.channel == "store"]
    assert after == pytest.approx((store.quantity * store.unit_price).sum())
    assert after != pytest.approx(before)


def test_compile_reports_a_broken_metric_at_its_definition(tmp_path: Path, shop_dir: Path):
    root = project_copy(tmp_path, shop_dir)
    metrics = root / "metrics" / "metrics.yml"
    edit(metrics, "{{ Dimension('customer__region', entity_path=['order']) }}",
         "{{ Dimension('customer__regio', entity_path=['order']) }}")
    result = CliRunner().invoke(main, ["compile", "--project-dir", str(root)])
    assert result.exit_code == 2
    assert f"metrics/metrics.yml:{line_of(metrics, '- name: north_revenue')}: metric 'north_revenue'" in result.output


def test_an_unknown_measure_does_not_hide_a_bad_filter_dimension(tmp_path: Path, shop_dir: Path):
    """dbt stops at the unknown measure; the filter, group-by and metric references are checked all the same."""
    root = project_copy(tmp_path, shop_dir)
    metrics = root / "metrics" / "metrics.yml"
    edit(metrics, "type_params: {measure: quantity}}", "type_params: {measure: quantityy}}")
    edit(metrics, "filter: \"{{ Dimension('order__channel') }} = 'online'\"\n",
         "filter: \"{{ Dimension('order__chanel') }} = 'online'\"\n")
    saved = root / "metrics" / "saved_queries.yml"
    edit(saved, "group_by: [\"Dimension('visit__source')\"]", "group_by: [\"Dimension('visit__sauce')\"]")
    with pytest.raises(SpecError) as caught:
        _ = Metricsctl(root).spec
    issues = {(i.path, i.line): i.message for i in caught.value.issues}
    assert "unknown measure 'quantityy'" in issues[("metrics/metrics.yml", line_of(metrics, "quantityy"))]
    online = issues[("metrics/metrics.yml", line_of(metrics, "filter: \"{{ Dimension('order__chanel')"))]
    assert online.startswith("metric 'online_revenue': filter \"{{ Dimension('order__chanel') }} = 'online'\" names "
                             "'order__chanel', but no semantic model with entity 'order' has a dimension or entity "
                             "'chanel'; did you mean 'order__channel'")
    source = issues[("metrics/saved_queries.yml", line_of(saved, "visit__sauce"))]
    assert "saved query 'conversion_by_source': group-by item \"Dimension('visit__sauce')\"" in source
    assert "did you mean 'visit__source'" in source


def test_dbt_validation_findings_and_bad_filters_are_reported_together(tmp_path: Path, shop_dir: Path):
    """dbt's semantic validation finds the unknown agg_time_dimension, never the filter: both are reported,
    each at the element it is about."""
    root = project_copy(tmp_path, shop_dir)
    models = root / "metrics" / "semantic_models.yml"
    edit(models, "agg_time_dimension: ordered_at", "agg_time_dimension: ordered_att")
    metrics = root / "metrics" / "metrics.yml"
    edit(metrics, "filter: \"{{ Dimension('order__channel') }} = 'online'\"\n",
         "filter: \"{{ Dimension('order__chanel') }} = 'online'\"\n")
    with pytest.raises(SpecError) as caught:
        _ = Metricsctl(root).spec
    issues = {(i.path, i.line): i.message for i in caught.value.issues}
    assert "'order__chanel'" in issues[("metrics/metrics.yml", line_of(metrics, "order__chanel"))]
    default = issues[("metrics/semantic_models.yml", line_of(models, "- name: orders"))]
    assert "Default aggregation time dimension was specified as 'ordered_att'" in default
    measure = issues[("metrics/semantic_models.yml", line_of(models, "- name: order_total"))]
    assert "measure 'order_total' has the aggregation time dimension set to 'ordered_att'" in measure


def test_build_reports_spec_suite_and_alert_problems_at_once_before_building(tmp_path: Path, shop_dir: Path):
    root = project_copy(tmp_path, shop_dir)
    (root / "profiles.yml").write_text((root / "profiles.yml").read_text().replace(
        "{{ env_var('METRICSCTL_SHOP_DB', 'shop.duckdb') }}", str(root / "shop.duckdb")))
    metrics = root / "metrics" / "metrics.yml"
    edit(metrics, "{{ Dimension('customer__region', entity_path=['order']) }}",
         "{{ Dimension('customer__regio', entity_path=['order']) }}")
    (root / "models" / "expectations.yml").write_text(
        "expectations:\n  - relation: visits\n    expectations:\n      - expect_column_to_be_nice: {column: x}\n")
    (root / "metrics" / "watch.yml").write_text(
        "alerts:\n  - {name: floor, metric: revenu, kind: threshold, grain: day, below: 1}\n")
    result = CliRunner().invoke(main, ["build", "--alerts", "--project-dir", str(root)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.startswith("error: 3 problems in the project:")
    assert f"metrics/metrics.yml:{line_of(metrics, '- name: north_revenue')}: metric 'north_revenue'" in result.output
    assert "models/expectations.yml:4:" in result.output and "expect_column_to_be_nice" in result.output
    assert "metrics/watch.yml:2:" in result.output and "'revenu'" in result.output
    assert not (root / "shop.duckdb").exists()
