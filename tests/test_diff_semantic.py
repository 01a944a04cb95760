"""The semantic diff field by field, without git: the shop's spec against an edited copy of itself.

Each test edits one thing in a deep copy of the shop's semantic manifest (as a pull request would in the
YAML), then checks which fields changed, whether that breaks consumers, and which metrics the change
reaches downstream. The expected metric sets are read off tests/fixtures/shop/metrics/*.yml by hand.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from dbt_semantic_interfaces.type_enums import AggregationType

from metricsctl.diff import breaking_changes, diff_specs, downstream, side
from metricsctl.diff.impact import lineage_graph
from metricsctl.diff.semantic import SemanticDiff, Side
from metricsctl.facade import Metricsctl
from metricsctl.project import read_manifest
from metricsctl.spec import Spec


@pytest.fixture(scope="module")
def base(shop: Metricsctl, shop_dir: Path) -> tuple[Side, dict[str, Any]]:
    manifest = read_manifest(shop_dir / "target")
    return side(shop.spec, manifest), manifest


Edit = Callable[[Any], None]


def compare(base: tuple[Side, dict[str, Any]], edit: Edit) -> tuple[SemanticDiff, dict[str, list[str]], list[str]]:
    """(the diff, downstream metric -> reasons, breaking texts) of the base against an edited copy."""
    before, manifest = base
    changed = copy.deepcopy(before.spec.manifest)
    edit(changed)
    spec = Spec(changed, before.spec.locations)
    after = side(spec, manifest)
    semantic = diff_specs(before, after)
    graphs = lineage_graph(before.spec, manifest), lineage_graph(spec, manifest)
    reached = {a.name: list(a.reasons) for a in downstream(semantic, *graphs) if a.kind == "metric"}
    return semantic, reached, [b.text for b in breaking_changes(semantic, *graphs)]


def fields(semantic: SemanticDiff) -> dict[str, list[str]]:
    return {f"{c.kind}:{c.name}": [f.field for f in c.fields] for c in semantic.changes}


def metric(manifest: Any, name: str) -> Any:
    return next(m for m in manifest.metrics if m.name == name)


def model(manifest: Any, name: str) -> Any:
    return next(m for m in manifest.semantic_models if m.name == name)


def element(items: list[Any], name: str) -> Any:
    return next(i for i in items if i.name == name)


def test_reformatting_expressions_and_filters_changes_nothing(base: tuple[Side, dict[str, Any]]):
    def edit(m: Any) -> None:
        metric(m, "avg_line_value").type_params.expr = "revenue/line_count"
        metric(m, "online_revenue").filter.where_filters[0].where_sql_template = (
            "{{Dimension('order__channel')}}='online'")
        element(model(m, "order_lines").measures, "revenue").expr = "quantity*unit_price"

    semantic, reached, breaking = compare(base, edit)
    assert semantic.empty and reached == {} and breaking == []


def test_a_derived_offset_is_breaking_and_reaches_the_export(base: tuple[Side, dict[str, Any]]):
    def edit(m: Any) -> None:
        inputs = metric(m, "revenue_mom_growth").type_params.metrics
        next(i for i in inputs if i.alias == "revenue_last_month").offset_window.count = 2

    semantic, reached, breaking = compare(base, edit)
    assert fields(semantic) == {"metric:revenue_mom_growth": ["offsets"]}
    change = semantic.metrics[0].fields[0]
    assert (change.base, change.head) == ("revenue_last_month: 1 month earlier", "revenue_last_month: 2 months earlier")
    assert breaking == ["metric `revenue_mom_growth`: offsets changed"]
    assert set(reached) == {"revenue_mom_growth"}


def test_a_cumulative_window_is_breaking(base: tuple[Side, dict[str, Any]]):
    def edit(m: Any) -> None:
        metric(m, "revenue_7d").type_params.cumulative_type_params.window.count = 14

    semantic, _, breaking = compare(base, edit)
    change = semantic.metrics[0]
    assert [(f.field, f.base, f.head) for f in change.fields] == [("window", "window 7 days", "window 14 days")]
    assert breaking == ["metric `revenue_7d`: window changed"]


def test_a_ratio_input_and_a_conversion_window_are_breaking(base: tuple[Side, dict[str, Any]]):
    def edit(m: Any) -> None:
        metric(m, "revenue_per_order").type_params.denominator.name = "order_count"
        metric(m, "visit_to_order_rate").type_params.conversion_type_params.window.count = 3

    semantic, _, breaking = compare(base, edit)
    assert fields(semantic) == {"metric:revenue_per_order": ["inputs"], "metric:visit_to_order_rate": ["window"]}
    assert breaking == ["metric `revenue_per_order`: inputs changed", "metric `visit_to_order_rate`: window changed"]


def test_a_label_description_or_meta_change_is_not_breaking_and_moves_nothing(base: tuple[Side, dict[str, Any]]):
    def edit(m: Any) -> None:
        metric(m, "revenue").label = "Gross revenue"
        metric(m, "revenue").description = "Before returns."
        metric(m, "revenue").config.meta["owner"] = "finance"

    semantic, reached, breaking = compare(base, edit)
    assert fields(semantic) == {"metric:revenue": ["label", "description", "meta"]}
    assert not semantic.metrics[0].breaking and not semantic.metrics[0].changes_values
    assert reached == {} and breaking == []


def test_a_measure_aggregation_reaches_every_metric_through_every_kind_of_input(base: tuple[Side, dict[str, Any]]):
    def edit(m: Any) -> None:
        element(model(m, "orders").measures, "order_count").agg = AggregationType.COUNT_DISTINCT

    semantic, reached, breaking = compare(base, edit)
    assert fields(semantic) == {"measure:orders.order_count": ["agg"]}
    # order_count is read by its simple metric and, as the conversion measure, by five conversion metrics, one
    # of them an input of a derived metric
    assert set(reached) == {"order_count", "visit_to_order_rate", "visit_to_order_conversions",
                            "same_channel_conversion_rate", "same_customer_conversion_rate", "visit_conversions_zero",
                            "conversions_and_new_customers"}
    assert breaking == ["measure `orders.order_count`: agg changed, which changes the metrics `order_count`, "
                        "`same_channel_conversion_rate`, `same_customer_conversion_rate`, "
                        "`visit_conversions_zero`, `visit_to_order_conversions`, `visit_to_order_rate`"]


def test_a_dimension_expression_reaches_the_metrics_that_filter_on_it_without_breaking(
        base: tuple[Side, dict[str, Any]]):
    def edit(m: Any) -> None:
        element(model(m, "orders").dimensions, "channel").expr = "lower(channel)"

    semantic, reached, breaking = compare(base, edit)
    assert fields(semantic) == {"dimension:orders.channel": ["expr"]}
    # filters on order__channel: a metric filter, a measure filter, a ratio's numerator filter, a zero-filled
    # metric's filter; the derived metrics over the first and the last; and the conversion metric that matches a
    # visit's source to the order's channel
    assert set(reached) == {"online_revenue", "store_order_total", "online_order_share", "online_share_of_revenue_pct",
                            "online_orders_zero", "new_customers_and_online_orders", "same_channel_conversion_rate"}
    assert breaking == []


def test_the_time_dimension_of_a_model_reaches_every_measure_it_dates(base: tuple[Side, dict[str, Any]]):
    def edit(m: Any) -> None:
        element(model(m, "customers").dimensions, "signup_date").expr = "cast(signup_date as date) + 1"

    semantic, reached, breaking = compare(base, edit)
    assert fields(semantic) == {"dimension:customers.signup_date": ["expr"],
                                "measure:customers.new_customers": ["agg_time_dimension"]}
    assert set(reached) == {"new_customers", "new_customers_zero", "new_customers_and_online_orders",
                            "new_customers_7d_zero", "new_customers_plus_one", "conversions_and_new_customers"}
    assert breaking == ["measure `customers.new_customers`: agg_time_dimension changed, which changes the metrics "
                        "`new_customers`, `new_customers_7d_zero`, `new_customers_zero`"]


def test_an_entity_or_a_model_ref_reaches_everything_reading_the_model(base: tuple[Side, dict[str, Any]]):
    before, manifest = base

    def edit(m: Any) -> None:
        element(model(m, "visits").entities, "customer").expr = "coalesce(customer_id, -1)"

    semantic, reached, breaking = compare(base, edit)
    assert fields(semantic) == {"entity:visits.customer": ["expr"]}
    assert set(reached) == {"visits", "visitors", "visitors_7d", "visitors_all_time", "visitors_mtd",
                            "online_visitors_all_time", "store_visitors_all_time", "visit_to_order_rate",
                            "visit_to_order_conversions", "same_channel_conversion_rate",
                            "same_customer_conversion_rate", "visit_conversions_zero", "conversions_and_new_customers"}
    assert breaking == []
    moved = replace(before, model_refs={**before.model_refs, "visits": "ref('stg_visits')"})
    ref = diff_specs(before, moved)
    assert [(c.kind, c.name, [(f.field, f.base, f.head) for f in c.fields]) for c in ref.changes] == [
        ("semantic_model", "visits", [("ref", "ref('visits')", "ref('stg_visits')")])]


def test_removing_a_dimension_breaks_queries_that_group_by_it(base: tuple[Side, dict[str, Any]]):
    def edit(m: Any) -> None:
        stores = model(m, "stores")
        stores.dimensions = [d for d in stores.dimensions if d.name != "store_name"]

    semantic, _, breaking = compare(base, edit)
    assert [(c.kind, c.name, c.status) for c in semantic.changes] == [("dimension", "stores.store_name", "removed")]
    assert breaking == ["dimension `stores.store_name`: removed: queries that group or filter by it fail"]


def test_a_renamed_metric_is_named_as_a_rename(base: tuple[Side, dict[str, Any]]):
    def edit(m: Any) -> None:
        metric(m, "quantity").name = "units_sold"

    semantic, _, breaking = compare(base, edit)
    assert {(c.name, c.status, c.note) for c in semantic.metrics} == {
        ("quantity", "removed", "renamed to `units_sold`"), ("units_sold", "added", "renamed from `quantity`")}
    assert breaking == ["metric `quantity`: renamed to `units_sold`"]
