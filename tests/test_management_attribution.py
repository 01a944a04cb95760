"""Exact attribution of a change: Shapley over formulas, nested formulas, and slices (additive, mix vs rate).

Every expected value is worked out by hand in the test; contributions must add up to the change
exactly (the engine works in rational numbers, so `==` on Fractions, not approx).
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from metricsctl.errors import QueryError
from metricsctl.management.attribution import (
    FormulaNode,
    UndefinedAttribution,
    additive_slices,
    attribute,
    evaluate,
    mix_rate,
    parse_formula,
    shapley,
)

F = Fraction


def test_product_of_three_matches_shapley_by_hand():
    """a*b*c from (2, 3, 4) to (3, 5, 6): 24 -> 90.

    With two others at base (0) or new (1), input a's marginal change is (a1-a0) times the others'
    product; its weight is 1/3 when both others are at the same state and 1/6 when they differ:
    phi_a = 1 * ((3*4 + 5*6)/3 + (3*6 + 5*4)/6) = 14 + 19/3 = 61/3, likewise
    phi_b = 2 * ((2*4 + 3*6)/3 + (2*6 + 3*4)/6) = 76/3 and phi_c = 2 * ((2*3 + 3*5)/3 + (2*5 + 3*3)/6) = 61/3.
    """
    shares = shapley("a * b * c", {"a": 2, "b": 3, "c": 4}, {"a": 3, "b": 5, "c": 6})
    assert shares == {"a": F(61, 3), "b": F(76, 3), "c": F(61, 3)}
    assert sum(shares.values()) == 90 - 24


def test_ratio_splits_as_the_two_orderings_average():
    """a/b from 10/4 to 12/5: phi_a = ((12-10)/4 + (12-10)/5)/2 = 9/20, phi_b = ((10/5-10/4) + (12/5-12/4))/2."""
    shares = shapley("a / b", {"a": 10, "b": 4}, {"a": 12, "b": 5})
    assert shares["a"] == F(9, 20)
    assert shares["b"] == (F(10, 5) - F(10, 4) + F(12, 5) - F(12, 4)) / 2
    assert sum(shares.values()) == F(12, 5) - F(10, 4)


def test_sum_gives_each_input_its_own_change():
    shares = shapley("a + b - c", {"a": 1.5, "b": 10, "c": 3}, {"a": 2.0, "b": 7, "c": 4})
    assert shares == {"a": F(1, 2), "b": F(-3), "c": F(-1)}


def test_inputs_that_did_not_move_get_nothing_and_floats_stay_exact():
    shares = shapley("100 * x / (y * z)", {"x": 0.1, "y": 0.2, "z": 0.3}, {"x": 0.7, "y": 0.2, "z": 0.3})
    assert shares["y"] == 0 and shares["z"] == 0
    # 0.1 etc. are converted exactly, so the share equals the exact change
    assert shares["x"] == 100 * (F(0.7) - F(0.1)) / (F(0.2) * F(0.3))


def test_nested_formula_children_add_up_to_their_parents_contribution():
    """revenue = traffic * conversion * aov, where aov = sales / orders (a derived input of a derived metric)."""
    traffic = FormulaNode.leaf("traffic", 1000, 1100)
    conversion = FormulaNode.leaf("conversion", 0.05, 0.04)
    sales = FormulaNode.leaf("sales", 6000, 6600)
    orders = FormulaNode.leaf("orders", 50, 44)
    aov = FormulaNode.of("aov", "sales / orders", [sales, orders])
    revenue = FormulaNode.of("revenue", "traffic * conversion * aov", [traffic, conversion, aov])
    result = attribute(revenue)

    assert result.contribution == revenue.new - revenue.base
    assert sum(c.contribution for c in result.children) == result.contribution
    aov_part = result.children[2]
    assert aov.base == 120 and aov.new == 150
    assert sum(c.contribution for c in aov_part.children) == aov_part.contribution
    assert sum(leaf.contribution for leaf in result.leaves()) == result.contribution
    # aov's share, worked out by hand: (150-120) * ((1000*.05 + 1100*.04)/3 + (1000*.04 + 1100*.05)/6)
    by_hand = 30 * ((1000 * F(0.05) + 1100 * F(0.04)) / 3 + (1000 * F(0.04) + 1100 * F(0.05)) / 6)
    assert aov_part.contribution == by_hand
    # within aov (a ratio) the Shapley split of its own change, scaled to aov's contribution
    own_sales = (F(6600 - 6000, 50) + F(6600 - 6000, 44)) / 2
    assert aov_part.children[0].contribution == by_hand * own_sales / 30


def test_an_input_whose_change_cancels_out_keeps_its_childrens_own_shares():
    a = FormulaNode.leaf("a", 10, 12)
    b = FormulaNode.leaf("b", 5, 7)
    diff = FormulaNode.of("diff", "a - b", [a, b])  # 5 -> 5
    top = FormulaNode.of("top", "diff * c", [diff, FormulaNode.leaf("c", 2, 3)])
    result = attribute(top)
    assert result.children[0].contribution == 0
    assert [c.contribution for c in result.children[0].children] == [2, -2]


def test_a_missing_value_or_division_by_zero_is_reported_not_guessed():
    with pytest.raises(UndefinedAttribution, match="no value"):
        shapley("a / b", {"a": 1, "b": None}, {"a": 2, "b": 3})
    with pytest.raises(UndefinedAttribution, match="division by zero"):
        shapley("a / b", {"a": 1, "b": 0}, {"a": 2, "b": 3})
    node = FormulaNode.of("r", "a / b", [FormulaNode.leaf("a", 1, 2), FormulaNode.leaf("b", 0, 3)])
    result = attribute(node)
    assert result.contribution is None and result.note


def test_formulas_evaluate_with_sql_semantics():
    values = {"a": F(3), "b": F(0), "c": None}
    assert evaluate(parse_formula("coalesce(c, a) * 2"), values) == 6
    assert evaluate(parse_formula("a / nullif(b, 0)"), values) is None
    assert evaluate(parse_formula("case when a > 2 then a else -a end"), values) == 3
    assert evaluate(parse_formula("power(a, 2) - greatest(a, b, c)"), values) == 6
    assert evaluate(parse_formula("cast(a as double) + c"), values) is None
    with pytest.raises(QueryError, match="cannot attribute through"):
        evaluate(parse_formula("date_trunc('month', a)"), values)
    with pytest.raises(QueryError, match="exactly one expression"):
        parse_formula("select 1")


def test_additive_slices_are_each_slices_change():
    rows = additive_slices({"north": (100, 130), "south": (50, None), "west": (None, 20)})
    assert {r.key: r.contribution for r in rows} == {"north": 30, "south": -50, "west": 20}
    assert sum(r.contribution for r in rows) == (130 + 20) - (100 + 50)


def test_mix_and_rate_on_a_hand_worked_example():
    """Revenue per order by channel: online 100/10 -> 240/20, store 300/10 -> 300/10; 20 -> 18.

    Shares: online 1/2 -> 2/3, store 1/2 -> 1/3. Rates: online 10 -> 12, store 30 -> 30. Mean ratio 19.
    online: mix = (2/3 - 1/2) * (11 - 19) = -4/3,  rate = (1/2 + 2/3)/2 * (12 - 10) = 7/6
    store:  mix = (1/3 - 1/2) * (30 - 19) = -11/6, rate = 0
    Total: -4/3 + 7/6 - 11/6 = -2 = 18 - 20.
    """
    rows = {r.key: r for r in mix_rate({"online": (100, 10, 240, 20), "store": (300, 10, 300, 10)})}
    assert rows["online"].mix == F(-4, 3) and rows["online"].rate == F(7, 6)
    assert rows["store"].mix == F(-11, 6) and rows["store"].rate == 0
    assert sum(r.contribution for r in rows.values()) == F(18) - F(20)


def test_mix_and_rate_when_a_slice_appears():
    """A slice without a denominator before takes its new rate: its arrival is pure mix."""
    rows = {r.key: r for r in mix_rate({"old": (50, 10, 50, 10), "new": (0, 0, 90, 10)})}
    # 5 -> 7: shares old 1 -> 1/2, new 0 -> 1/2; rates old 5, new 9; mean ratio 6
    assert rows["new"].rate == 0 and rows["new"].mix == F(1, 2) * (9 - 6)
    assert rows["old"].mix == F(-1, 2) * (5 - 6)
    assert sum(r.contribution for r in rows.values()) == 2


def test_mix_and_rate_need_a_denominator_in_both_periods():
    with pytest.raises(UndefinedAttribution):
        mix_rate({"a": (1, 0, 2, 3)})
