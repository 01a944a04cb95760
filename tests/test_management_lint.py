"""`lint`: every gap in a KPI's management, reported at the metric's file and line.

The project is a copy of the shop whose metrics.yml gets config.meta here; expected lines are found
by searching the edited file's text.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from metricsctl.errors import SpecError
from metricsctl.facade import Metricsctl
from metricsctl.management.fields import management_fields, read_fields
from metricsctl.management.lint import LintConfig, lint, load_lint_config, metrics_with_targets
from metricsctl.management.tree import metric_tree
from tests.conftest import SHOP

MANAGED = {
    "  - {name: revenue, label: Revenue, type: simple, type_params: {measure: revenue}}": """\
  - name: revenue
    label: Revenue
    description: Net revenue of order lines (quantity times unit price).
    type: simple
    type_params: {measure: revenue}
    config: {meta: {owner: cfo, unit: EUR, level: company, kpi: true}}""",
    "  - {name: orders, label: Orders, type: simple, type_params: {measure: orders}}": """\
  - name: orders
    label: Orders
    description: Orders placed, any channel.
    type: simple
    type_params: {measure: orders}
    config: {meta: {unit: orders, kpi: true}}""",
    "  - {name: visits, label: Visits, type: simple, type_params: {measure: visits}}": """\
  - name: visits
    label: Visits
    description: Web and store visits.
    type: simple
    type_params: {measure: visits}
    config: {meta: {owner: head_of_marketing, unit: visits, kpi: true, level: galaxy, direction: sideways}}""",
    "  - {name: line_count, label: Order lines, type: simple, type_params: {measure: line_count}}": """\
  - name: line_count
    label: Order lines
    type: simple
    type_params: {measure: line_count}
    config: {meta: {parents: [revenue, revnue]}}  # not a KPI: only its bad field is reported""",
}
AVG_LINE_VALUE = """  - name: avg_line_value
    label: Average line value
    type: derived"""


def make_copy(root: Path) -> Path:
    shutil.copytree(SHOP, root, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    (root / "profiles.yml").write_text((root / "profiles.yml").read_text().replace(
        "{{ env_var('METRICSCTL_SHOP_DB', 'shop.duckdb') }}", str(root / "shop.duckdb")))
    path = root / "metrics" / "metrics.yml"
    text = path.read_text()
    for old, new in MANAGED.items():
        assert old in text
        text = text.replace(old, new)
    assert AVG_LINE_VALUE in text
    text = text.replace(AVG_LINE_VALUE, AVG_LINE_VALUE + "\n    config: {meta: {owner: cfo, kpi: true}}")
    path.write_text(text)
    return root


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_copy(tmp_path_factory.mktemp("lint") / "shop")


@pytest.fixture(scope="module")
def app(project: Path) -> Metricsctl:
    return Metricsctl(project)


def line_of(project: Path, name: str) -> int:
    """The line where the metric `name` starts in the copy's metrics.yml (1-based)."""
    lines = (project / "metrics" / "metrics.yml").read_text().splitlines()
    found = [i + 1 for i, line in enumerate(lines) if line.strip() in (f"- name: {name}",) or
             line.strip().startswith(f"- {{name: {name},")]
    assert len(found) == 1, found
    return found[0]


def meta_line(project: Path, name: str) -> int:
    """The line of the metric `name`'s `config: {meta: ...}` in the copy's metrics.yml."""
    lines = (project / "metrics" / "metrics.yml").read_text().splitlines()
    start = line_of(project, name)
    return next(i + 1 for i, line in enumerate(lines) if i + 1 > start and line.strip().startswith("config:"))


def test_lint_reports_each_missing_item_at_the_metrics_file_and_line(project: Path, app: Metricsctl):
    issues = lint(app.spec, targets={"revenue", "avg_line_value", "visits"}, watched={"visits"},
                  guarded={"order_lines", "shop.main.visits"})
    found = {(i.metric, i.check): (i.path, i.line) for i in issues}
    where = {m: ("metrics/metrics.yml", line_of(project, m)) for m in ("orders", "avg_line_value")}
    where |= {m: ("metrics/metrics.yml", meta_line(project, m)) for m in ("visits", "line_count")}  # the bad field
    assert found == {
        ("orders", "owner"): where["orders"],
        ("orders", "target"): where["orders"],
        ("orders", "guarded_inputs"): where["orders"],  # the orders relation has no expectations
        ("avg_line_value", "description"): where["avg_line_value"],
        ("avg_line_value", "unit"): where["avg_line_value"],
        ("avg_line_value", "time_grain"): where["avg_line_value"],  # in no saved query with metric_time
        ("visits", "fields"): where["visits"],
        ("line_count", "fields"): where["line_count"],
    }
    messages = [str(i) for i in issues if i.metric == "visits"]
    assert any("level is 'galaxy'" in m for m in messages) and any("direction is 'sideways'" in m for m in messages)
    assert any("unknown metric 'revnue'; did you mean 'revenue'" in str(i) for i in issues)
    assert str(issues[0]).startswith(f"metrics/metrics.yml:{meta_line(project, 'line_count')}: [fields] metric 'line_c")


def test_checks_without_their_input_are_skipped_and_visits_needs_an_alert(app: Metricsctl):
    issues = lint(app.spec)  # no targets table, no expectations known
    checks = {(i.metric, i.check) for i in issues}
    assert not {c for _, c in checks} & {"target", "guarded_inputs"}
    # visits is in a saved query grouped by source only: no time grain unless an alert watches it
    assert ("visits", "time_grain") in checks
    assert ("revenue", "time_grain") not in checks  # sales_by_month groups it by month


def test_fields_are_read_from_config_meta(app: Metricsctl):
    fields, issues = read_fields(app.spec)
    assert fields["revenue"].owner == "cfo" and fields["revenue"].unit == "EUR" and fields["revenue"].kpi
    assert fields["revenue"].level == "company" and fields["revenue"].direction == "higher"
    assert fields["line_count"].parents == ("revenue",)
    assert fields["visits"].level is None  # a bad value is reported and dropped
    assert len(issues) == 3
    with pytest.raises(SpecError, match="galaxy"):
        management_fields(app.spec)
    # parents make a driver edge in the tree
    tree = metric_tree(app.spec, "revenue")
    assert [(c.metric, c.edge) for c in tree.children] == [("line_count", "driver")]


def test_lint_configuration_from_a_yaml_key(project: Path, app: Metricsctl, tmp_path: Path):
    (project / "metrics" / "lint.yml").write_text("metricsctl_lint:\n  scope: all\n  checks: [owner]\n")
    try:
        config = load_lint_config(project, ["models", "metrics"])
        assert config == LintConfig(frozenset({"owner"}), "all", "metrics/lint.yml:1")
        issues = lint(app.spec, config)
        assert {i.check for i in issues} == {"owner"}
        without_owner = {m for m, f in read_fields(app.spec)[0].items() if not f.owner}
        assert {i.metric for i in issues} == without_owner and "line_count" in without_owner

        (project / "metrics" / "lint.yml").write_text(
            "metricsctl_lint:\n  scope: some\n  checks: {owners: false}\n")
        with pytest.raises(SpecError) as error:
            load_lint_config(project, ["metrics"])
        text = str(error.value)
        assert "metrics/lint.yml:1" in text and "scope is 'some'" in text
        assert "unknown check 'owners'" in text and "did you mean 'owner'" in text
    finally:
        (project / "metrics" / "lint.yml").unlink()


def test_targets_seed_gives_the_metrics_with_targets(tmp_path: Path):
    path = tmp_path / "targets.csv"
    path.write_text("metric_name,period_grain,period_start,org_unit,target_value,weight\n"
                    "revenue,month,2024-01-01,company,1,1\nrevenue,month,2024-02-01,company,1,1\n"
                    "orders,month,2024-01-01,Mill,1,1\n")
    assert metrics_with_targets(path) == {"revenue", "orders"}


def test_conversion_value_names_a_metric_or_is_reported_with_a_suggestion(tmp_path: Path):
    project = make_copy(tmp_path / "shop")
    path = project / "metrics" / "metrics.yml"
    path.write_text(path.read_text().replace("config: {meta: {unit: orders, kpi: true}}",
                                             "config: {meta: {unit: orders, kpi: true, conversion_value: revenu}}"))
    fields, issues = read_fields(Metricsctl(project).spec)
    assert fields["orders"].conversion_value is None  # reported and dropped
    [issue] = [i for i in issues if "conversion_value" in str(i)]
    assert (issue.path, issue.line) == ("metrics/metrics.yml", meta_line(project, "orders"))
    assert "unknown metric 'revenu'; did you mean 'revenue'" in str(issue)

    path.write_text(path.read_text().replace("conversion_value: revenu}", "conversion_value: revenue}"))
    assert read_fields(Metricsctl(project).spec)[0]["orders"].conversion_value == "revenue"
