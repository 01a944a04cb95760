"""Which metrics are answered only on their own rows: NULL on a row that only another metric of the query has.

MetricFlow computes a ratio, derived, cumulative or conversion metric in a subquery of its own and joins the
query's metrics on the rows any of them has. Only a simple metric's `fill_nulls_with` is applied on the joined
rows. Elsewhere a metric has a value only on its own rows:

- a derived or ratio metric on the rows of its inputs, where its filled inputs are filled:
  `orders, new_customers_zero_copy` by day is NULL for a day with orders and no sign-up, where
  `new_customers_zero` read alone is 0 on that day; so is `coalesce(new_customers, 0) + 1`;
- a filled cumulative metric on the periods its window has rows for;
- a filled conversion metric on the rows of its base events and conversions.

metricsctl combines every scan of a query in one select, so it marks, per scan, the rows that scan has
(`combine` in render.py), and answers such a metric only where a scan of its own inputs has the row. A metric is
checked only where the answer could differ: its value can be other than NULL on a row none of its inputs has (a
filled input, or an expression that makes a value of NULL), and the query has a scan of rows its inputs do not
share. The scans of the inputs checked are kept apart from other scans of their model, since a scan of several
filters has a row when any of them has.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlglot import exp

from metricsctl.compiler.plan import Derived, Leaf, MeasureInstance, Node, Plan, Ratio

# SQL that can make a value of NULL: a derived metric using one can read a value on a row none of its inputs has
NULL_TAKING = (exp.Coalesce, exp.Case, exp.If, exp.Is, exp.Greatest, exp.Least)


@dataclass(frozen=True)
class Presence:
    """The metric nodes answered only on their own rows, each with the instances whose rows those are."""

    scopes: dict[Node, frozenset[MeasureInstance]] = field(default_factory=dict)

    @property
    def isolated(self) -> frozenset[MeasureInstance]:
        """Instances whose scans must hold only the rows of their own scan key."""
        return frozenset().union(*self.scopes.values())


def children(node: Node) -> list[Node]:
    if isinstance(node, Ratio):
        return [node.numerator, node.denominator]
    if isinstance(node, Derived):
        return [child for _, child in node.inputs]
    return []


def own_rows(plan: Plan, leaf: Leaf) -> frozenset[MeasureInstance]:
    """The instances whose rows a leaf's metric has: a conversion's base events count with its conversions."""
    conversion = leaf.instance.conversion
    if conversion is None:
        return frozenset({leaf.instance})
    base = {i for i in plan.instances if i.conversion is None and i.cumulative is None
            and i.model == conversion.base_model and i.measure == conversion.base_measure
            and i.filters == leaf.instance.filters and i.offset == leaf.instance.offset}
    return frozenset({leaf.instance, *base})


def instances_under(plan: Plan, node: Node) -> frozenset[MeasureInstance]:
    if isinstance(node, Leaf):
        return own_rows(plan, node)
    return frozenset().union(*(instances_under(plan, child) for child in children(node)))


def filled(node: Node) -> bool:
    return isinstance(node, Leaf) and node.fill_nulls_with is not None


def reads_without_rows(node: Node, parse: Callable[[str], exp.Expr]) -> bool:
    """Whether `node` can read a value on a row none of its inputs has."""
    if isinstance(node, Derived):
        return any(filled(child) for child in children(node)) or \
            any(isinstance(n, NULL_TAKING) for n in parse(node.expr).walk())
    if isinstance(node, Ratio):  # NULLIF(0, 0) is NULL: a denominator filled with 0 reads no value
        denominator = node.denominator
        return filled(node.numerator) and isinstance(denominator, Leaf) and denominator.fill_nulls_with != 0 and \
            denominator.fill_nulls_with is not None
    # a filled cumulative or conversion metric: a simple one is filled on every row, as MetricFlow fills it
    return filled(node) and isinstance(node, Leaf) and (
        node.instance.cumulative is not None or node.instance.conversion is not None)


def presence(plan: Plan, grouped: bool, parse: Callable[[str], exp.Expr]) -> Presence:
    """The nodes of `plan` answered only on their own rows. A query without group-by items has one row, which
    every metric has. `parse` reads a derived metric's expression."""
    if not grouped:
        return Presence()
    keys = {instance.scan_key for instance in plan.instances}
    scopes: dict[Node, frozenset[MeasureInstance]] = {}

    def walk(node: Node) -> None:
        if reads_without_rows(node, parse):
            under = instances_under(plan, node)
            if keys - {instance.scan_key for instance in under}:
                scopes[node] = under
        for child in children(node):
            walk(child)

    for node in plan.metrics.values():
        walk(node)
    return Presence(scopes)

