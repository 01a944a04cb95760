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
