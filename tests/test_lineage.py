"""Lineage: from a seed or source, through models, semantic models, measures and metrics, to saved
queries, their exports, dashboards, expectation suites and alerts; and column by column.

One copy of the shop project, with a staging model between the `order_lines` seed and its semantic
model (renaming `unit_price` to `net_unit_price` behind a `select *`), a `crm.customers` source under
a staging model for the customers semantic model, and two exposures. It is compiled by dbt once for
the module. Every expected edge below is read off the shop's YAML by hand.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from metricsctl.errors import QueryError
from metricsctl.facade import Metricsctl
from metricsctl.lineage import (
    Attachment,
    Lineage,
    LineageGraph,
    build_graph,
    lineage_of,
    render,
    trace,
    trace_columns,
)
from metricsctl.project import read_manifest
from metricsctl.runner import run_dbt
from tests.conftest import SHOP

STAGING = """with source as (
    select * from {{ ref('order_lines') }}
)
select
    order_line_id,
    order_id,
    product_id,
    ordered_at,
    quantity,
    unit_price as net_unit_price
from source
"""

CUSTOMERS = """select customer_id, lower(region) as region, segment, signup_date
from {{ source('crm', 'customers') }}
"""

SOURCES = """sources:
  - name: crm
    schema: crm
    tables:
      - name: customers
        columns:
          - {name: customer_id}
          - {name: region}
          - {name: segment}
          - {name: signup_date}
"""

EXPOSURES = """exposures:
  - name: sales_dashboard
    label: Sales dashboard
    type: dashboard
    owner: {name: Sales analytics, email: sales@example.com}
    depends_on:
      - ref('sales_by_month')
  - name: kpi_tile
    type: application
    owner: {name: Sales analytics}
    depends_on:
      - metric('revenue_per_order')
"""


def make_project(tmp_path: Path) -> Path:
    """The shop project with staging models, a source and exposures, compiled by dbt."""
    root = tmp_path / "shop"
    shutil.copytree(SHOP, root, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    (root / "profiles.yml").write_text((root / "profiles.yml").read_text().replace(
        "{{ env_var('METRICSCTL_SHOP_DB', 'shop.duckdb') }}", str(root / "shop.duckdb")))
    staging = root / "models" / "staging"
    staging.mkdir()
    (staging / "stg_order_lines.sql").write_text(STAGING)
    (staging / "stg_customers.sql").write_text(CUSTOMERS)
    (staging / "sources.yml").write_text(SOURCES)
    semantic = root / "metrics" / "semantic_models.yml"
    text = semantic.read_text()
    for old, new in [("model: ref('order_lines')", "model: ref('stg_order_lines')"),
                     ("expr: quantity * unit_price", "expr: quantity * net_unit_price"),
                     ("model: ref('customers')", "model: ref('stg_customers')")]:
        assert old in text
        text = text.replace(old, new)
    semantic.write_text(text)
    Metricsctl(root).compile()  # writes the export models the dashboard reads
    (root / "models" / "exposures.yml").write_text(EXPOSURES)
    app = Metricsctl(root)
    assert app.spec.metric_names()  # parses again, with the exposures
    run = run_dbt(app.project, ["compile"])  # compiled SQL for column lineage
    assert run.success, run.failed
    return root


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("lineage"))


@pytest.fixture(scope="module")
def manifest(project: Path) -> dict[str, Any]:
    return read_manifest(project / "target")


@pytest.fixture(scope="module")
def graph(project: Path, manifest: dict[str, Any]) -> LineageGraph:
    return build_graph(Metricsctl(project).spec, manifest)


def edges(lineage: Lineage | LineageGraph) -> set[tuple[str, str, str]]:
    graph = lineage.graph if isinstance(lineage, Lineage) else lineage
    return {(e.source, e.target, e.kind) for e in graph.edges}


def edge(graph: LineageGraph, source: str, target: str, kind: str) -> list[Any]:
    return [e for e in graph.edges if (e.source, e.target, e.kind) == (source, target, kind)]


# --- the graph ---------------------------------------------------------------------------------------
def test_a_simple_metric_runs_from_its_seed_to_the_dashboard(graph: LineageGraph):
    """seed -> staging model -> semantic model -> measure -> metric -> saved query -> export -> exposure."""
    got = edges(trace(graph, "revenue"))
    assert {
        ("seed:order_lines", "model:stg_order_lines", "ref"),
        ("model:stg_order_lines", "semantic_model:order_lines", "model"),
        ("semantic_model:order_lines", "measure:order_lines.revenue", "defines"),
        ("measure:order_lines.revenue", "metric:revenue", "measure"),
        ("metric:revenue", "saved_query:sales_by_month", "metric"),
        ("saved_query:sales_by_month", "export:sales_by_month", "export"),
        ("export:sales_by_month", "exposure:sales_dashboard", "depends_on"),
    } <= got
    # the export model is drawn from its saved query, not from the seeds its SQL happens to read
    assert not {e for e in got if e[1] == "export:sales_by_month" and e[0] != "saved_query:sales_by_month"}


def test_upstream_of_a_metric_is_exactly_what_it_reads(graph: LineageGraph):
    assert set(trace(graph, "metric:revenue", "up").graph.nodes) == {
        "metric:revenue", "measure:order_lines.revenue", "semantic_model:order_lines",
        "model:stg_order_lines", "seed:order_lines"}


def test_a_two_hop_filter_dimension_brings_in_both_joined_models(graph: LineageGraph):
    """north_revenue filters on customer__region reached through order: order_lines -> orders -> customers."""
    up = trace(graph, "north_revenue", "up").graph
    assert {
        ("semantic_model:customers", "dimension:customers.region", "defines"),
        ("dimension:customers.region", "metric:north_revenue", "filter"),
        ("semantic_model:orders", "metric:north_revenue", "join"),
        ("model:stg_customers", "semantic_model:customers", "model"),
        ("source:crm.customers", "model:stg_customers", "ref"),
        ("seed:orders", "semantic_model:orders", "model"),
    } <= edges(up)
    [dim] = edge(up, "dimension:customers.region", "metric:north_revenue", "filter")
    assert dim.label == "order__customer__region"
    assert dim.attrs["join_path"] == "order_lines -> orders (on order) -> customers (on customer)"


def test_a_measure_filter_and_a_metric_in_a_filter(graph: LineageGraph):
    [measure_filter] = edge(graph, "dimension:orders.channel", "metric:store_order_total", "filter")
    assert measure_filter.label == "order__channel (measure filter)"
    [metric_filter] = edge(graph, "metric:order_total", "metric:orders_from_big_spenders", "filter")
    assert metric_filter.label == "Metric(order_total by customer)"


def test_a_ratio_reads_its_numerator_and_denominator(graph: LineageGraph):
    assert {("metric:revenue", "metric:revenue_per_order", "numerator"),
            ("metric:orders", "metric:revenue_per_order", "denominator")} <= edges(graph)
    # a filtered numerator with an alias
    [numerator] = edge(graph, "metric:orders", "metric:online_order_share", "numerator")
    assert numerator.label == "as online_orders"
    assert edge(graph, "dimension:orders.channel", "metric:online_order_share", "filter")
    # an exposure that depends on the metric itself
    assert ("metric:revenue_per_order", "exposure:kpi_tile", "depends_on") in edges(graph)


def test_a_derived_input_carries_its_offset(graph: LineageGraph):
    inputs = edge(graph, "metric:revenue", "metric:revenue_mom_growth", "input")
    assert sorted((e.label, e.attrs.get("offset_window")) for e in inputs) == [
        ("", None), ("offset 1 month, as revenue_last_month", "1 month")]
    [to_grain] = edge(graph, "metric:revenue", "metric:revenue_at_month_start", "input")
    assert to_grain.attrs["offset_to_grain"] == "month"
    [week] = edge(graph, "metric:revenue", "metric:revenue_week_ago", "input")
    assert week.attrs["offset_window"] == "7 days"
    # offsets are answered over the time spine
    assert edge(graph, "model:metricflow_time_spine", "metric:revenue_mom_growth", "time_spine")


def test_a_cumulative_metric_reads_its_measure_over_a_window(graph: LineageGraph):
    labels = {name: [e.label for e in edge(graph, "measure:order_lines.revenue", f"metric:{name}", "measure")]
              for name in ("revenue_7d", "revenue_mtd", "revenue_all_time")}
    assert labels == {"revenue_7d": ["window 7 days"], "revenue_mtd": ["month to date"],
                      "revenue_all_time": ["all time"]}
    assert edge(graph, "model:metricflow_time_spine", "metric:revenue_7d", "time_spine")


def test_a_conversion_metric_reads_both_measures(graph: LineageGraph):
    up = trace(graph, "visit_to_order_rate", "up", depth=1).graph
    assert edges(up) == {("measure:visits.visits", "metric:visit_to_order_rate", "base"),
                         ("measure:orders.order_count", "metric:visit_to_order_rate", "conversion")}
    assert {e.label for e in up.edges} == {"by customer, within 7 days"}
    [same] = edge(graph, "measure:visits.visits", "metric:same_channel_conversion_rate", "base")
    assert same.label == "by customer, same source = channel"


def test_saved_queries_read_their_metrics_and_group_by_dimensions(graph: LineageGraph):
    up = trace(graph, "saved_query:daily_channel_sales", "up", depth=1).graph
    assert edges(up) == {(f"metric:{m}", "saved_query:daily_channel_sales", "metric")
                         for m in ("revenue", "order_total", "orders", "avg_order_amount", "revenue_7d")} | {
        ("dimension:orders.channel", "saved_query:daily_channel_sales", "group_by")}


def test_depth_one_stops_at_the_direct_inputs(graph: LineageGraph):
    lineage = trace(graph, "revenue_per_order", "up", depth=1)
    assert set(lineage.graph.nodes) == {"metric:revenue_per_order", "metric:revenue", "metric:orders"}
    assert lineage.graph.truncated == {"metric:revenue", "metric:orders"}  # there is more above them
    assert set(trace(graph, "revenue_per_order", "both", depth=0).graph.nodes) == {"metric:revenue_per_order"}


def test_downstream_of_a_seed_reaches_every_metric_built_on_it(graph: LineageGraph):
    down = trace(graph, "seed:order_lines", "down").graph
    metrics = {n.name for n in down.nodes.values() if n.kind == "metric"}
    # the metrics over order lines, and those built from them (read off metrics.yml by hand)
    assert metrics == {
        "revenue", "quantity", "line_count", "online_revenue", "north_revenue", "revenue_per_order",
        "avg_line_value", "revenue_minus_order_total", "revenue_mom_growth", "revenue_week_ago",
        "revenue_fiscal_quarter_ago", "revenue_at_month_start", "online_share_of_revenue_pct", "revenue_all_time",
        "revenue_7d", "revenue_mtd", "revenue_7d_last", "revenue_7d_avg", "revenue_7d_week_ago"}
    assert {"saved_query:sales_by_month", "saved_query:daily_channel_sales", "export:sales_by_month",
            "export:daily_channel_sales", "exposure:sales_dashboard", "exposure:kpi_tile",
            "model:metric_values"} <= set(down.nodes)
    assert "saved_query:conversion_by_source" not in down.nodes
    assert all(e.source in down.nodes for e in down.edges) and "seed:orders" not in down.nodes


def test_suites_and_alerts_hang_on_as_attachments(project: Path, manifest: dict[str, Any]):
    graph = build_graph(Metricsctl(project).spec, manifest, [
        Attachment("expectation_suite:stg_order_lines", ("model:stg_order_lines",), "Order line checks"),
        Attachment("alert:revenue_drop", ("revenue",), "Revenue dropped", edge_kind="alerts"),
        Attachment("alert:gone", ("metric:no_such_metric",)),
    ])
    down = trace(graph, "seed:order_lines", "down").graph
    assert ("model:stg_order_lines", "expectation_suite:stg_order_lines", "reads") in edges(down)
    assert ("metric:revenue", "alert:revenue_drop", "alerts") in edges(down)
    assert any("alert:gone reads metric:no_such_metric" in w for w in graph.warnings)


# --- naming a node -----------------------------------------------------------------------------------
def test_a_node_is_named_with_or_without_its_kind(graph: LineageGraph):
    assert graph.resolve("revenue") == "metric:revenue"  # a metric first, though a measure has that name
    assert graph.resolve("measure:revenue") == "measure:order_lines.revenue"
    assert graph.resolve("stg_order_lines") == "model:stg_order_lines"
    assert graph.resolve("model.shop.stg_order_lines") == "model:stg_order_lines"  # dbt's unique id
    assert graph.resolve("crm.customers") == "source:crm.customers"


def test_an_ambiguous_name_lists_the_candidates(graph: LineageGraph):
    with pytest.raises(QueryError, match=r"'order_lines' is ambiguous: it names seed:order_lines, "
                                         r"semantic_model:order_lines"):
        graph.resolve("order_lines")


def test_an_unknown_name_gets_suggestions(graph: LineageGraph):
    with pytest.raises(QueryError, match=r"no node named 'revenu'.*did you mean 'metric:revenue'"):
        graph.resolve("revenu")
    with pytest.raises(QueryError, match=r"no metric 'revenu'.*'metric:revenue'"):
        graph.resolve("metric:revenu")
    with pytest.raises(QueryError, match=r"no node of kind 'metrc'"):
        graph.resolve("metrc:revenue")


# --- columns -----------------------------------------------------------------------------------------
def test_an_alert_sliced_by_a_two_hop_dimension_is_downstream_of_where_it_comes_from(
        project: Path, manifest: dict[str, Any]):
    """revenue by order__customer__region: order_lines -> orders -> customers, as a saved query would read it."""
    from metricsctl.alerts.rules import parse_alert_config

    spec = Metricsctl(project).spec
    text = ("alert_channels:\n  - {name: terminal, type: console}\nalert_defaults: {channels: [terminal]}\n"
            "alerts:\n  - {name: regional_revenue_floor, metric: revenue, kind: threshold, grain: month, "
            "below: 1, dimensions: [order__customer__region],\n"
            "     filter: \"{{ Dimension('order__channel') }} = 'online'\"}\n")
    (rule,) = parse_alert_config([("metrics/alerts.yml", text)], spec).rules
    graph = build_graph(spec, manifest, [rule.attachment()])
    for upstream in ("source:crm.customers", "model:stg_customers", "seed:orders"):
        assert "alert:regional_revenue_floor" in trace(graph, upstream, "down").graph.nodes, upstream
    assert {("dimension:customers.region", "alert:regional_revenue_floor", "group_by"),
            ("semantic_model:orders", "alert:regional_revenue_floor", "join"),
            ("dimension:orders.channel", "alert:regional_revenue_floor", "filter")} <= edges(graph)


def test_a_target_alert_reads_its_targets_table(project: Path, manifest: dict[str, Any]):
    """A change to the finance team's targets reaches the rules that compare a metric with them."""
    from metricsctl.alerts.rules import parse_alert_config

    spec = Metricsctl(project).spec
    text = ("alert_channels:\n  - {name: terminal, type: console}\n"
            "alert_defaults: {channels: [terminal], targets_table: finance.stores}\n"
            "alerts:\n  - {name: under_target, metric: revenue, kind: target, grain: month}\n")
    (rule,) = parse_alert_config([("metrics/alerts.yml", text)], spec).rules
    graph = build_graph(spec, manifest, [rule.attachment()])
    assert ("seed:stores", "alert:under_target", "reads") in edges(graph)  # the relation, named without schema
    assert "alert:under_target" in trace(graph, "seed:stores", "down").graph.nodes
    assert not graph.warnings


def test_the_lineage_command_hangs_the_projects_alerts_by_what_they_slice(project: Path):
    alerts = project / "metrics" / "alerts.yml"
    alerts.write_text("alert_channels:\n  - {name: terminal, type: console}\n"
                      "alert_defaults: {channels: [terminal]}\nalerts:\n"
                      "  - {name: by_region, metric: revenue, kind: threshold, grain: month, below: 1,"
                      " dimensions: [order__customer__region]}\n")
    try:
        down = Metricsctl(project).lineage("source:crm.customers", "down")
    finally:
        alerts.unlink()
    assert "alert:by_region" in down.graph.nodes


def source_columns(lineage: Lineage) -> set[str]:
    """Columns with nothing above them: what the root finally reads."""
    g = lineage.graph
    return {n.id for n in g.nodes.values() if n.kind == "column" and not g.parents(n.id)}


def test_column_lineage_of_a_metric_reaches_the_seed_columns(graph: LineageGraph, manifest: dict[str, Any]):
    """revenue = sum(quantity * net_unit_price); net_unit_price is unit_price renamed in stg_order_lines."""
    lineage = trace_columns(graph, manifest, "revenue")
    assert {
        ("measure:order_lines.revenue", "metric:revenue", "measure"),
        ("model:stg_order_lines.quantity", "measure:order_lines.revenue", "value"),
        ("model:stg_order_lines.net_unit_price", "measure:order_lines.revenue", "value"),
        ("seed:order_lines.quantity", "model:stg_order_lines.quantity", "column"),
        ("seed:order_lines.unit_price", "model:stg_order_lines.net_unit_price", "column"),
        ("model:stg_order_lines.ordered_at", "measure:order_lines.revenue", "time"),
    } <= edges(lineage)
    assert source_columns(lineage) == {"seed:order_lines.quantity", "seed:order_lines.unit_price",
                                       "seed:order_lines.ordered_at"}
    assert lineage.graph.node("model:stg_order_lines.net_unit_price").detail == "unit_price"


def test_column_lineage_follows_filters_and_join_keys_to_a_source(graph: LineageGraph, manifest: dict[str, Any]):
    lineage = trace_columns(graph, manifest, "north_revenue")
    assert ("source:crm.customers.region", "model:stg_customers.region", "column") in edges(lineage)
    assert ("model:stg_customers.region", "dimension:customers.region", "dimension") in edges(lineage)
    assert lineage.graph.node("model:stg_customers.region").detail == "LOWER(region)"
    # order_lines.order_id = orders.order_id, then orders.customer_id = customers.customer_id
    joins = {e.source for e in lineage.graph.edges if e.kind == "join"}
    assert joins == {"model:stg_order_lines.order_id", "seed:orders.order_id", "seed:orders.customer_id",
                     "model:stg_customers.customer_id"}
    assert source_columns(lineage) == {
        "seed:order_lines.quantity", "seed:order_lines.unit_price", "seed:order_lines.ordered_at",
        "seed:order_lines.order_id", "seed:orders.order_id", "seed:orders.customer_id",
        "source:crm.customers.customer_id", "source:crm.customers.region"}


def test_column_lineage_of_a_conversion_metric_includes_the_entity_key(graph: LineageGraph,
                                                                      manifest: dict[str, Any]):
    """visit_to_order_rate matches a visit to an order of the same customer: customer_id on both sides."""
    lineage = trace_columns(graph, manifest, "visit_to_order_rate")
    assert {("seed:visits.customer_id", "metric:visit_to_order_rate", "entity"),
            ("seed:orders.customer_id", "metric:visit_to_order_rate", "entity")} <= edges(lineage)
    assert {"seed:visits.customer_id", "seed:orders.customer_id"} <= source_columns(lineage)


def test_column_lineage_renders_raw_sql_when_dbt_has_not_compiled(graph: LineageGraph, manifest: dict[str, Any]):
    """`dbt parse` leaves no compiled_code in the manifest: ref() and source() are rendered here then."""
    parsed_only = copy.deepcopy(manifest)
    for node in parsed_only["nodes"].values():
        node.pop("compiled_code", None)
    assert edges(trace_columns(graph, parsed_only, "north_revenue")) == edges(
        trace_columns(graph, manifest, "north_revenue"))


def test_column_lineage_of_a_model_traces_every_column(graph: LineageGraph, manifest: dict[str, Any]):
    lineage = trace_columns(graph, manifest, "model:stg_order_lines")
    assert {e.source for e in lineage.graph.parents("model:stg_order_lines")} == {
        f"model:stg_order_lines.{c}" for c in
        ("order_line_id", "order_id", "product_id", "ordered_at", "quantity", "net_unit_price")}
    assert ("seed:order_lines.unit_price", "model:stg_order_lines.net_unit_price", "column") in edges(lineage)


def test_column_lineage_goes_upstream_only(project: Path):
    with pytest.raises(QueryError, match="upstream"):
        lineage_of(Metricsctl(project).spec, read_manifest(project / "target"), "revenue", "down", columns=True)


# --- output ------------------------------------------------------------------------------------------
def test_the_tree_reads_top_down(graph: LineageGraph):
    assert render(trace(graph, "revenue_per_order", "up", depth=2)) == """\
metric:revenue_per_order "Revenue per order" — ratio: revenue / orders
upstream (what it reads):
├── [numerator] metric:revenue "Revenue" — simple: sum(quantity * net_unit_price) over order_lines
│   └── [measure] measure:order_lines.revenue — sum(quantity * net_unit_price) …
└── [denominator] metric:orders "Orders" — simple: sum(1) over orders
    └── [measure] measure:orders.orders — sum(1) …
"""


def test_a_multi_line_description_stays_on_its_branch():
    from metricsctl.lineage import Edge, Node

    graph = LineageGraph()
    graph.add_node(Node("metric:a", "metric", "a", "A", "derived: x\n  / y"))
    graph.add_node(Node("semantic_model:m", "semantic_model", "m", "",
                        "Orders, one row each.\n\nLate rows land daily."))
    graph.add_edge(Edge("semantic_model:m", "metric:a", "filter", "{{ Dimension('m__x') }}\n  = 1"))
    assert render(Lineage("metric:a", "up", None, graph)) == """\
metric:a "A" — derived: x / y
upstream (what it reads):
└── [filter: {{ Dimension('m__x') }} = 1] semantic_model:m — Orders, one row each. Late rows land daily.
"""


def test_the_tree_marks_a_node_it_has_shown_already(graph: LineageGraph):
    tree = render(trace(graph, "revenue_mom_growth", "up"))
    assert "├── [input] metric:revenue" in tree
    assert "[input: offset 1 month, as revenue_last_month] metric:revenue" in tree
    assert tree.count("(see above)") == 1 and tree.count("seed:order_lines") == 1


def test_json_holds_every_node_and_edge(graph: LineageGraph):
    lineage = trace(graph, "revenue_mom_growth", "both")
    document = json.loads(render(lineage, "json"))
    assert document["root"] == "metric:revenue_mom_growth"
    assert {(e["source"], e["target"], e["kind"]) for e in document["edges"]} == edges(lineage)
    assert {n["id"] for n in document["nodes"]} == set(lineage.graph.nodes)
    offset = [e for e in document["edges"] if e["attrs"].get("offset_window")]
    assert offset[0]["attrs"]["offset_window"] == "1 month"


def test_mermaid_declares_every_node_and_draws_every_edge(graph: LineageGraph):
    text = render(trace(graph, "revenue_mom_growth", "up"), "mermaid")
    assert text.startswith("flowchart LR\n")
    assert '  metric_revenue -->|"input: offset 1 month, as revenue_last_month"| metric_revenue_mom_growth' in text
    assert "  measure_order_lines_revenue --> metric_revenue" in text
    declared = set(re.findall(r"^  (\w+)[\[(>{]", text, flags=re.M))
    drawn = re.findall(r"^  (\w+) -->(?:\|[^|]*\|)? (\w+)$", text, flags=re.M)
    assert len(drawn) == len(trace(graph, "revenue_mom_growth", "up").graph.edges)
    assert {n for pair in drawn for n in pair} <= declared


def test_dot_draws_every_edge(graph: LineageGraph):
    lineage = trace(graph, "revenue_per_order", "both")
    text = render(lineage, "dot")
    assert text.startswith("digraph lineage {") and text.rstrip().endswith("}")
    assert '"metric:revenue" -> "metric:revenue_per_order" [label="numerator"];' in text
    drawn = set(re.findall(r'^  "([^"]+)" -> "([^"]+)"', text, flags=re.M))
    assert drawn == {(s, t) for s, t, _ in edges(lineage)}


def test_an_unknown_format_is_refused(graph: LineageGraph):
    with pytest.raises(QueryError, match="use one of tree, json, mermaid, dot"):
        render(trace(graph, "revenue"), "svg")


def test_a_conversion_metrics_constant_properties_are_edges(graph: LineageGraph):
    # same_channel_conversion_rate only matches a visit to an order when visit source = order channel
    downstream = trace(graph, "dimension:orders.channel", "down")
    assert "metric:same_channel_conversion_rate" in downstream.graph.nodes
    assert ("dimension:visits.source", "metric:same_channel_conversion_rate", "constant_property") in edges(graph)
