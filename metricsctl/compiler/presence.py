"""Where a filled input of a ratio or derived metric is filled: only on the rows of that metric's inputs.

MetricFlow computes a ratio or derived metric in a subquery of its own. Its input metrics are joined there, on
the rows any of them has, and their `fill_nulls_with` is applied to those rows; the result is then joined to the
query's other metrics. A row that only another metric of the query has reads NULL for the derived metric, not
the value its filled inputs would give: `orders, new_customers_zero_copy` by day is NULL for a day with orders
and no sign-up, where `new_customers_zero` asked for by itself reads 0 on that day.

metricsctl combines every scan of a query in one select, so it marks, per scan, the rows that scan has
(`combine` in render.py), and fills such an input only where a scan of its metric's inputs has the row. A
metric is checked only where the answer could differ: a derived metric with a filled input, or a ratio whose
filled denominator is not 0 (NULLIF(0, 0) is NULL either way), in a query with a scan of rows the metric's
inputs do not share. The scans of the inputs checked are kept apart from other scans of their model, since a
scan of several filters has a row when any of them has.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from metricsctl.compiler.plan import Derived, Leaf, MeasureInstance, Node, Plan, Ratio


@dataclass(frozen=True)
class Presence:
    """The metrics whose filled inputs are filled only on their inputs' rows, and the instances read for it."""

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


def instances_under(node: Node) -> frozenset[MeasureInstance]:
    if isinstance(node, Leaf):
        return frozenset({node.instance})
    return frozenset().union(*(instances_under(child) for child in children(node)))


def fills_without_rows(node: Node) -> bool:
    """Whether `node` can read a value on a row none of its inputs has, through a filled input."""
    if isinstance(node, Derived):
        return any(isinstance(child, Leaf) and child.fill_nulls_with is not None for child in children(node))
    if isinstance(node, Ratio):
        numerator, denominator = node.numerator, node.denominator
        return isinstance(numerator, Leaf) and numerator.fill_nulls_with is not None and \
            isinstance(denominator, Leaf) and denominator.fill_nulls_with not in (None, 0)
    return False


def presence(plan: Plan, grouped: bool) -> Presence:
    """The ratio and derived metrics of `plan` whose filled inputs need their rows checked. A query without
    group-by items has one row, which every metric has."""
    if not grouped:
        return Presence()
    keys = {instance.scan_key for instance in plan.instances}
    scopes: dict[Node, frozenset[MeasureInstance]] = {}

    def walk(node: Node) -> None:
        if fills_without_rows(node):
            under = instances_under(node)
            if keys - {instance.scan_key for instance in under}:
                scopes[node] = under
        for child in children(node):
            walk(child)

    for node in plan.metrics.values():
        walk(node)
    return Presence(scopes)
