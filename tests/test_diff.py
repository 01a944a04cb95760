"""`metricsctl diff`: what a pull request changes in the metrics, read from two real git commits.

The module builds one git repository: the shop project (with its generated models committed, alert
rules and a dashboard exposure) as the base commit, and one head commit that makes every kind of
change a reviewer must see:

- a metric added (`large_orders`);
- a metric removed (`january_orders`, watched by an alert): breaking;
- a metric's filter changed (`online_revenue`: online -> store orders): breaking, and its values move;
- a metric's label changed (`quantity`): not breaking;
- a measure's expression changed (`orders.order_total`: amount -> amount / 1.2): breaking, and carried to
  every metric that reads it: `order_total` and `store_order_total` directly, `revenue_minus_order_total`
  through a derived input, `orders_from_big_spenders` through `Metric('order_total')` in its filter;
- a column removed from an export (`revenue_7d` from the saved query `sales_by_month`): breaking.

The diff (with its two throw-away builds) runs once for the module. Expected values are computed with
pandas over the shop's seed CSVs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from metricsctl.diff import DiffResult, diff, exit_code, render_json, render_markdown
from metricsctl.facade import Metricsctl
from tests.conftest import SHOP, month, seed

# where the shop's metric `online_revenue` is defined (the diff names the line of its `- name:`)
ONLINE_REVENUE_LINE = 1 + (SHOP / "metrics" / "metrics.yml").read_text().splitlines().index("  - name: online_revenue")

GITIGNORE = "target/\nlogs/\n*.duckdb\n*.duckdb.wal\n"

ALERTS = """alert_channels:
  - {name: terminal, type: console}
alert_defaults:
  channels: [terminal]
alerts:
  - {name: online_revenue_floor, metric: online_revenue, kind: threshold, grain: month, below: 100}
  - {name: january_orders_floor, metric: january_orders, kind: threshold, grain: month, below: 1}
  - {name: quantity_floor, metric: quantity, kind: threshold, grain: month, below: 1}
"""

EXPOSURES = """exposures:
  - name: sales_dashboard
    label: Sales dashboard
    type: dashboard
    owner: {name: Sales analytics, email: sales@example.com}
    depends_on:
      - ref('sales_by_month')
"""

LARGE_ORDERS = """
  - name: large_orders
    label: Large orders
    type: simple
    type_params: {measure: orders}
    filter: "{{ Dimension('order__channel') }} = 'store'"
"""

JANUARY_ORDERS = """  - name: january_orders
    label: January orders
    type: simple
    type_params: {measure: orders}
    filter: "{{ TimeDimension('metric_time', 'month') }} = '2024-01-01'"
"""


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} must occur once in {path.name}"
    path.write_text(text.replace(old, new))


def make_repo(root: Path) -> Path:
    """A git repository holding the shop project at its root, one commit, generated models included."""
    shutil.copytree(SHOP, root, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Test")
    git(root, "config", "user.email", "test@example.com")
    git(root, "config", "commit.gpgsign", "false")
    (root / ".gitignore").write_text(GITIGNORE)
    (root / "metrics" / "alerts.yml").write_text(ALERTS)
    Metricsctl(root).compile()  # the generated models are committed, as a project does
    (root / "models" / "exposures.yml").write_text(EXPOSURES)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "shop")
    return root


def change_everything(root: Path) -> None:
    """The head commit: one change of each kind (see the module docstring)."""
    metrics = root / "metrics" / "metrics.yml"
    edit(metrics, JANUARY_ORDERS, "")
    online = "type_params: {measure: revenue}\n    filter: \"{{ Dimension('order__channel') }} = '%s'\""
    edit(metrics, online % "online", online % "store")
    edit(metrics, "label: Units sold", "label: Units")
    metrics.write_text(metrics.read_text() + LARGE_ORDERS)
    edit(root / "metrics" / "semantic_models.yml", "      - name: order_total\n        agg: sum\n        expr: amount",
         "      - name: order_total\n        agg: sum\n        expr: amount / 1.2")
    edit(root / "metrics" / "saved_queries.yml", "revenue_per_order, revenue_mom_growth, revenue_7d]",
         "revenue_per_order, revenue_mom_growth]")
    git(root, "commit", "-q", "-am", "every kind of change")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_repo(tmp_path_factory.mktemp("diff") / "shop")
    git(root, "branch", "base")
    change_everything(root)
    return root


@pytest.fixture(scope="module")
def result(repo: Path) -> DiffResult:
    """base -> main, values included (two throw-away builds), at most 3 differing rows per item."""
    before = git(repo, "status", "--porcelain")
    found = diff(repo, "base", "main", max_rows=3)
    assert git(repo, "status", "--porcelain") == before  # the work tree is untouched
    return found


def changes(result: DiffResult, kind: str) -> dict[str, tuple[str, tuple[str, ...], bool]]:
    """name -> (status, changed fields, breaking) of the changes of one kind."""
    return {c.name: (c.status, tuple(f.field for f in c.fields), c.breaking)
            for c in result.semantic.changes if c.kind == kind}


# --- the semantic diff -------------------------------------------------------------------------------
def test_metrics_added_removed_and_changed_field_by_field(result: DiffResult):
    assert changes(result, "metric") == {
        "large_orders": ("added", (), False),
        "january_orders": ("removed", (), True),
        "online_revenue": ("changed", ("filter",), True),
        "quantity": ("changed", ("label",), False),
    }
    online = next(c for c in result.semantic.metrics if c.name == "online_revenue")
    assert online.fields[0].base == "{{ Dimension('order__channel') }} = 'online'"
    assert online.fields[0].head == "{{ Dimension('order__channel') }} = 'store'"
    assert online.path == f"metrics/metrics.yml:{ONLINE_REVENUE_LINE}"


def test_a_measure_expression_change_is_found_in_its_semantic_model(result: DiffResult):
    assert changes(result, "measure") == {"orders.order_total": ("changed", ("expr",), True)}
    assert changes(result, "semantic_model") == {}
    measure = result.semantic.semantic_models[0]
    assert (measure.fields[0].base, measure.fields[0].head) == ("amount", "amount / 1.2")


def test_an_export_losing_a_column_is_a_breaking_change(result: DiffResult):
    assert changes(result, "export") == {"sales_by_month": ("changed", ("columns",), True)}
    assert changes(result, "saved_query") == {"sales_by_month": ("changed", ("metrics",), True)}
    export = next(c for c in result.semantic.saved_queries if c.kind == "export")
    assert export.note == "columns removed: revenue_7d"


# --- downstream --------------------------------------------------------------------------------------
def test_a_measure_change_is_carried_to_every_metric_that_reads_it(result: DiffResult):
    carried = {a.name for a in result.downstream if a.kind == "metric"
               and "measure `orders.order_total`: expr changed" in a.reasons}
    assert carried == {"order_total", "store_order_total", "revenue_minus_order_total", "orders_from_big_spenders"}


def test_downstream_metrics_exports_alerts_and_the_dashboard(result: DiffResult):
    by_name = {(a.kind, a.name): a for a in result.downstream}
    # online_revenue's filter reaches the derived metric over it, and the alert watching it
    assert "metric `online_revenue`: filter changed" in by_name[("metric", "online_share_of_revenue_pct")].reasons
    assert "metric `online_revenue`: filter changed" in by_name[("alert", "online_revenue_floor")].reasons
    # order_total is in daily_channel_sales; sales_by_month lost a column and feeds the dashboard
    assert set(result.affected("export")) == {"daily_channel_sales", "sales_by_month"}
    assert "export `sales_by_month`: columns changed (columns removed: revenue_7d)" in by_name[
        ("exposure", "sales_dashboard")].reasons
    # the alert on the removed metric is found in the base's graph
    assert by_name[("alert", "january_orders_floor")].reasons == ("metric `january_orders`: removed",)
    # a label is no reason to look further: the quantity alert is not affected
    assert ("alert", "quantity_floor") not in by_name
    assert "quantity" not in result.affected_metrics
    assert set(result.affected("alert")) == {"online_revenue_floor", "january_orders_floor"}


def test_the_head_alert_on_a_removed_metric_is_reported(result: DiffResult):
    assert result.notes[1:] == ("head: alert rules: metrics/alerts.yml:7: alert 'january_orders_floor' watches "
                                "unknown metric 'january_orders'; did you mean 'large_orders', 'promo_orders', "
                                "'orders'?",)


def test_a_head_whose_specs_changed_without_its_generated_models_is_told_so(result: DiffResult):
    """The head commit changes the specs but not the committed models (no `metricsctl compile` was run)."""
    assert result.notes[0] == (
        "head: the committed generated models differ from what its specs generate (models/metrics/"
        "daily_channel_sales.sql, models/metrics/metric_catalog.sql, models/metrics/metric_values.sql, "
        "models/metrics/sales_by_month.sql): run `metricsctl compile` and commit the result")


# --- breaking ----------------------------------------------------------------------------------------
def test_breaking_changes_are_named_and_fail_the_exit_code(result: DiffResult):
    texts = [b.text for b in result.breaking]
    assert texts == [
        "metric `january_orders`: removed; read by alert `january_orders_floor`",
        "metric `online_revenue`: filter changed",
        "measure `orders.order_total`: expr changed, which changes the metrics `order_total`, `store_order_total`",
        "export `sales_by_month`: columns removed: revenue_7d",
    ]
    assert result.is_breaking
    assert exit_code(result) == 1
    assert exit_code(result, allow_breaking=True) == 0


# --- the generated SQL -------------------------------------------------------------------------------
def test_the_generated_sql_diff_shows_the_column_leaving_the_export(result: DiffResult):
    by_name = {m.name: m for m in result.sql}
    assert set(by_name) == {"sales_by_month", "daily_channel_sales", "metric_values", "metric_catalog"}
    export = by_name["sales_by_month"]
    assert export.status == "changed"
    assert export.diff.startswith("--- a/models/metrics/sales_by_month.sql\n+++ b/models/metrics/sales_by_month.sql")
    removed = [line for line in export.diff.splitlines() if line.startswith("-") and "revenue_7d" in line]
    assert removed and not any(line.startswith("+") and "revenue_7d" in line for line in export.diff.splitlines())
    assert "/ 1.2" in by_name["daily_channel_sales"].diff


# --- values ------------------------------------------------------------------------------------------
def revenue_by_channel(channel: str, period: str) -> float:
    lines = seed("order_lines").merge(seed("orders")[["order_id", "channel"]], on="order_id")
    lines = lines[(lines.channel == channel) & (month(lines.ordered_at) == pd.Timestamp(period))]
    return float((lines.quantity * lines.unit_price).sum())


def test_a_filter_change_moves_the_metric_by_the_amount_computed_by_hand(result: DiffResult):
    assert result.values is not None
    online = next(v for v in result.values if v.name == "online_revenue")
    assert online.kind == "metric" and online.key_columns == ("metric_time__month",)
    assert online.differing == 6 and len(online.rows) == 3  # six months differ; --max-rows 3 shows three
    february = next(r for r in online.rows if r.key == ("2024-02-01",))
    assert february.base == pytest.approx(revenue_by_channel("online", "2024-02-01"))
    assert february.head == pytest.approx(revenue_by_channel("store", "2024-02-01"))
    assert february.difference == pytest.approx(february.head - february.base)


def test_a_measure_change_moves_every_month_of_its_metric(result: DiffResult):
    assert result.values is not None
    orders = seed("orders")
    by_month = orders.groupby(month(orders.ordered_at)).amount.sum()
    total = next(v for v in result.values if v.name == "order_total" and v.kind == "metric")
    assert total.differing == len(by_month)
    for row in total.rows:
        amount = by_month[pd.Timestamp(row.key[0])]
        assert (row.base, row.head) == (pytest.approx(amount), pytest.approx(amount / 1.2))


def test_an_export_table_is_compared_cell_by_cell(result: DiffResult):
    assert result.values is not None
    export = next(v for v in result.values if v.kind == "export" and v.name == "daily_channel_sales")
    assert export.key_columns == ("metric_time__day", "order__channel")
    assert {r.column for r in export.rows} == {"order_total"}  # only the measure's metric moved
    orders = seed("orders")
    days = orders.groupby([orders.ordered_at.dt.strftime("%Y-%m-%d"), orders.channel]).amount.sum()
    assert export.differing == len(days)
    first = export.rows[0]
    assert first.base == pytest.approx(days[first.key]) and first.head == pytest.approx(days[first.key] / 1.2)


def test_metrics_whose_values_did_not_move_are_listed_as_unchanged(result: DiffResult):
    assert result.values is not None
    unchanged = {v.name for v in result.values if not v.changed}
    # sales_by_month lost a column, but the columns it kept hold the same numbers
    assert "sales_by_month" in unchanged
    assert {b.side for b in result.builds} == {"base", "head"} and all(b.success for b in result.builds)


# --- output ------------------------------------------------------------------------------------------
def test_markdown_for_a_pull_request_comment(result: DiffResult):
    text = render_markdown(result)
    print(text)
    for heading in ("## metricsctl diff", "### Breaking changes", "### Definition changes", "#### Metrics",
                    "#### Semantic models", "#### Saved queries and exports", "### Downstream",
                    "### Generated SQL", "### Values by month"):
        assert f"\n{heading}\n" in f"\n{text}", heading
    assert "> ❌ **4 breaking changes**" in text
    assert (f"| metric | `online_revenue` | filter changed | **yes** | `metrics/metrics.yml:{ONLINE_REVENUE_LINE}` |"
            in text)
    assert "| metric | `quantity` | label changed |  | `metrics/metrics.yml:4` |" in text
    assert "- filter: {{ Dimension('order__channel') }} = 'online'" in text
    assert "+ filter: {{ Dimension('order__channel') }} = 'store'" in text
    assert "#### metric `online_revenue`: 6 of 6 months differ" in text
    assert "_… and 3 more; raise `--max-rows` to see them._" in text
    assert "<summary><code>models/metrics/metric_values.sql</code> changed" in text  # long SQL diffs fold
    assert "```diff\n--- a/models/metrics/sales_by_month.sql" in text


def test_json_loads_and_says_breaking(result: DiffResult):
    loaded = json.loads(render_json(result))
    assert loaded["breaking"] is True
    assert loaded["base"]["ref"] == "base" and loaded["head"]["ref"] == "main"
    assert {c["name"] for c in loaded["changes"]["metrics"]} == {
        "large_orders", "january_orders", "online_revenue", "quantity"}
    online = next(v for v in loaded["values"]["diffs"] if v["name"] == "online_revenue")
    assert online["differing"] == 6 and len(online["rows"]) == 3


@pytest.mark.parametrize("value", ["plain", "a ` b", "``", "```", "x\n````\ny", "  ````", "`````", "```diff\n+ ok"])
def test_a_value_from_the_revision_never_leaves_its_code(value: str):
    """A description of the compared revision lands in the comment's diff blocks and a name in inline code: with
    a fence of three or four backticks a line of five (or one indented) closed the block, and the rest of the
    text was the comment's own markdown."""
    from markdown_it import MarkdownIt

    from metricsctl.diff.render import _code, _fence

    markdown = MarkdownIt("commonmark")
    block = markdown.parse("\n".join(_fence("+ description: " + value)))
    assert [t.type for t in block] == ["fence"] and block[0].content == "+ description: " + value + "\n"
    if "\n" not in value:
        (paragraph,) = [t for t in markdown.parse(_code(value)) if t.type == "inline"]
        assert [(c.type, c.content) for c in paragraph.children or []] == [("code_inline", value)]
