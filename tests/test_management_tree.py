"""`tree` and `explain` on the shop project: values against pandas over the seeds, contributions exact."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from metricsctl.errors import QueryError
from metricsctl.facade import Metricsctl
from metricsctl.management.explain import explain, render_explanation
from metricsctl.management.periods import parse_period
from metricsctl.management.tree import render_tree, tree
from tests.conftest import month, seed

MARCH, FEBRUARY, JANUARY = pd.Timestamp("2024-03-01"), pd.Timestamp("2024-02-01"), pd.Timestamp("2024-01-01")


def lines() -> pd.DataFrame:
    """Order lines with revenue, month, the order's channel and the product's category."""
    frame = seed("order_lines")
    frame["revenue"] = frame.quantity * frame.unit_price
    frame["month"] = month(frame.ordered_at)
    frame = frame.merge(seed("orders")[["order_id", "channel"]], on="order_id")
    return frame.merge(seed("products")[["product_id", "category"]], on="product_id")


def orders() -> pd.DataFrame:
    frame = seed("orders")
    frame["month"] = month(frame.ordered_at)
    return frame


def test_tree_of_a_nested_derived_metric_has_the_independent_values(shop: Metricsctl):
    """online_share_of_revenue_pct = 100 * online_revenue / (avg_line_value * line_count)."""
    got = tree(shop.spec, shop.query, "online_share_of_revenue_pct", parse_period("2024-03"),
               targets={"revenue": 11000.0, "line_count": 200.0})
    frame = lines()
    revenue = frame.groupby("month").revenue.sum()
    count = frame.groupby("month").size()
    online = frame[frame.channel == "online"].groupby("month").revenue.sum()
    expected = {
        "online_share_of_revenue_pct": 100 * online / revenue,
        "online_revenue": online,
        "avg_line_value": revenue / count,
        "revenue": revenue,
        "line_count": count,
    }
    seen = []
    stack = [got]
    while stack:
        node = stack.pop()
        seen.append(node.node.role)
        want = expected[node.node.metric]
        assert node.value == pytest.approx(want[MARCH]), node.node.role
        assert node.previous == pytest.approx(want[FEBRUARY]), node.node.role
        stack.extend(node.children)
    assert sorted(seen) == sorted(["online_share_of_revenue_pct", "online_revenue", "avg_line_value", "revenue",
                                   "line_count", "line_count"])
    revenue_node = got.children[1].children[0]
    assert revenue_node.node.metric == "revenue"
    assert revenue_node.target == 11000.0 and revenue_node.attainment == pytest.approx(revenue[MARCH] / 11000)
    text = render_tree(got)
    assert text.splitlines()[0].split()[:3] == ["metric", "2024-03", "2024-02"]
    assert "│  ├─ revenue" in text and "└─ line_count" in text
    assert json.loads(json.dumps(got.to_dict()))["children"][1]["children"][0]["metric"] == "revenue"


def test_tree_inputs_keep_their_filter_and_offset(shop: Metricsctl):
    share = tree(shop.spec, shop.query, "online_order_share", parse_period("2024-03"))
    frame = orders()
    online = frame[frame.channel == "online"].groupby("month").size()
    assert [c.node.role for c in share.children] == ["online_orders", "orders"]
    assert share.children[0].value == online[MARCH] and share.children[0].node.filters
    assert share.children[1].value == frame.groupby("month").size()[MARCH]

    growth = tree(shop.spec, shop.query, "revenue_mom_growth", parse_period("2024-03"))
    revenue = lines().groupby("month").revenue.sum()
    last_month = growth.children[1]
    assert last_month.node.offset_text == "1 month earlier"
    assert last_month.value == pytest.approx(revenue[FEBRUARY]) and last_month.previous == pytest.approx(
        revenue[JANUARY])


def test_explain_a_month_over_month_growth_with_shapley_by_hand(shop: Metricsctl):
    """g = (r - l) / l, r the month's revenue and l last month's: two inputs, two orderings."""
    result = explain(shop.spec, shop.query, "revenue_mom_growth", "2024-03")
    revenue = lines().groupby("month").revenue.sum()
    r0, r1 = revenue[FEBRUARY], revenue[MARCH]
    l0, l1 = revenue[JANUARY], revenue[FEBRUARY]

    def g(r: float, last: float) -> float:
        return (r - last) / last

    phi_r = ((g(r1, l0) - g(r0, l0)) + (g(r1, l1) - g(r0, l1))) / 2
    phi_l = ((g(r0, l1) - g(r0, l0)) + (g(r1, l1) - g(r1, l0))) / 2
    parts = {c.name: float(c.contribution) for c in result.tree.children}
    assert parts == pytest.approx({"revenue": phi_r, "revenue_last_month": phi_l}, rel=1e-9)
    assert result.change == pytest.approx(g(r1, l1) - g(r0, l0))
    assert sum(parts.values()) == pytest.approx(result.change, rel=1e-12)


def test_explain_a_nested_formula_sums_exactly_at_every_level(shop: Metricsctl):
    result = explain(shop.spec, shop.query, "online_share_of_revenue_pct", "2024-03", vs="2024-01")
    frame = lines()
    share = 100 * frame[frame.channel == "online"].groupby("month").revenue.sum() / frame.groupby("month").revenue.sum()
    assert result.change == pytest.approx(share[MARCH] - share[JANUARY])
    top = result.tree
    assert sum(c.contribution for c in top.children) == top.contribution  # exact, in rational numbers
    avg = next(c for c in top.children if c.name == "avg_line_value")
    assert [c.name for c in avg.children] == ["revenue", "line_count"]
    assert sum(c.contribution for c in avg.children) == avg.contribution
    assert float(top.contribution) == pytest.approx(result.change, rel=1e-12)
    text = render_explanation(result)
    assert text.startswith("online_share_of_revenue_pct: 2024-01 -> 2024-03")


def test_explain_by_dimension_additive_and_mix_versus_rate(shop: Metricsctl):
    result = explain(shop.spec, shop.query, "revenue_per_order", "2024-03", by=["order__channel"])
    frame, order_rows = lines(), orders()
    (by_channel,) = result.dimensions
    assert by_channel.method == "mix_rate"
    total = float(by_channel.total)
    assert sum(float(r.contribution) for r in by_channel.rows) == pytest.approx(total, rel=1e-12)
    num = frame.groupby(["month", "channel"]).revenue.sum()
    den = order_rows.groupby(["month", "channel"]).size()
    ratio = {m: num[m].sum() / den[m].sum() for m in (FEBRUARY, MARCH)}
    assert total == pytest.approx(ratio[MARCH] - ratio[FEBRUARY])
    mean = (ratio[FEBRUARY] + ratio[MARCH]) / 2
    for row in by_channel.rows:
        s0, s1 = den[FEBRUARY][row.key] / den[FEBRUARY].sum(), den[MARCH][row.key] / den[MARCH].sum()
        r0, r1 = num[FEBRUARY][row.key] / den[FEBRUARY][row.key], num[MARCH][row.key] / den[MARCH][row.key]
        assert float(row.mix) == pytest.approx((s1 - s0) * ((r0 + r1) / 2 - mean))
        assert float(row.rate) == pytest.approx((s0 + s1) / 2 * (r1 - r0))

    revenue = explain(shop.spec, shop.query, "revenue", "2024-03", by=["product__category"])
    (by_category,) = revenue.dimensions
    assert by_category.method == "additive"
    change = frame[frame.month == MARCH].groupby("category").revenue.sum() - frame[
        frame.month == FEBRUARY].groupby("category").revenue.sum()
    assert {r.key: float(r.contribution) for r in by_category.rows} == pytest.approx(change.to_dict())
    payload = json.loads(json.dumps(revenue.to_dict()))
    assert payload["dimensions"][0]["rows"][0]["slice"] in change.index


def test_periods_parse_every_grain_and_step_back():
    assert parse_period("2024-03").previous().label == "2024-02"
    assert parse_period("2024-01").previous(1).label == "2023-12"
    assert parse_period("2024-Q1").previous().label == "2023-Q4"
    week = parse_period("2024-W01")
    assert str(week.start) == "2024-01-01" and week.previous().label == "2023-W52"
    assert parse_period("2024-03-05", "week").label == "2024-W10"
    assert parse_period("2024").grain == "year" and parse_period("2024-03-31").previous().label == "2024-03-30"
    with pytest.raises(QueryError, match="coarser"):
        parse_period("2024-03", "day")
    with pytest.raises(QueryError, match="not a period"):
        parse_period("March")
