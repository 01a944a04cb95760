"""`metricsctl explain METRIC --period P [--vs P2] [--by DIM,...]`: why a metric moved between two periods.

Along the tree, each formula input gets its exact Shapley share of the change, recursively (see
`attribution`). Along each dimension given with `by`, each slice gets its share:

- additive metrics (sums and counts, and linear formulas of them): each slice's own change;
- ratios of additive parts (ratio metrics; derived metrics whose formula is `a / b`): a mix effect
  and a rate effect per slice;
- anything else (distinct counts, averages, products ...): each slice's own change, and the part
  no single slice explains in a row of its own.

In every table the rows add up to the total change. When the slices' total differs from the
metric's own change (a slice whose dimension value is missing from the query, say), the difference
is a row "(unattributed)".
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from sqlglot import exp

from metricsctl.errors import QueryError
from metricsctl.management.attribution import (
    Attribution,
    FormulaNode,
    Number,
    SliceChange,
    UndefinedAttribution,
    additive_slices,
    as_float,
    attribute,
    mix_rate,
    number,
)
from metricsctl.management.periods import Period, parse_period
from metricsctl.management.tree import (
    RunQuery,
    TreeNode,
    Values,
    fetch_values,
    fmt,
    metric_tree,
    pct,
    table,
    tree_lines,
)
from metricsctl.spec import Spec

ADDITIVE_AGGREGATIONS = frozenset({"sum", "count", "sum_boolean"})
UNATTRIBUTED = "(unattributed)"
TOLERANCE = 1e-9


# --- what kind of metric -----------------------------------------------------------------------
def _linear(expression: exp.Expr) -> bool:
    """+, -, and products or quotients by constants only."""
    if isinstance(expression, (exp.Column, exp.Literal)):
        return True
    if isinstance(expression, (exp.Paren, exp.Neg, exp.Cast)):
        return _linear(expression.this)
    if isinstance(expression, (exp.Add, exp.Sub)):
        return _linear(expression.this) and _linear(expression.expression)
    if isinstance(expression, exp.Mul):
        left, right = expression.this, expression.expression
        return (not list(left.find_all(exp.Column)) and _linear(right)) or (
            not list(right.find_all(exp.Column)) and _linear(left))
    if isinstance(expression, exp.Div):
        return not list(expression.expression.find_all(exp.Column)) and _linear(expression.this)
    return False


def is_additive(spec: Spec, node: TreeNode) -> bool:
    """The metric's value over all slices is the sum of its values per slice."""
    metric = spec.metric(node.metric)
    kind = str(metric.type.value)
    if kind in ("simple", "cumulative"):
        return str(spec.measure(metric.type_params.measure.name).measure.agg.value) in ADDITIVE_AGGREGATIONS
    if kind == "derived" and node.formula is not None:
        inputs = node.formula_children
        return bool(inputs) and _linear(node.formula) and all(is_additive(spec, c) for c in inputs)
    return False


def _strip(expression: exp.Expr) -> exp.Expr:
    while isinstance(expression, (exp.Paren, exp.Cast)):
        expression = expression.this
    return expression


def ratio_parts(spec: Spec, node: TreeNode) -> tuple[TreeNode, TreeNode] | None:
    """(numerator, denominator) when the metric is a ratio of additive parts."""
    if node.formula is None:
        return None
    formula = _strip(node.formula)
    if not isinstance(formula, exp.Div):
        return None
    top, bottom = _strip(formula.this), _strip(formula.expression)
    if not isinstance(top, exp.Column) or not isinstance(bottom, exp.Column):
        return None
    roles = {c.role: c for c in node.formula_children}
    num, den = roles.get(top.name), roles.get(bottom.name)
    if num is None or den is None or not is_additive(spec, num) or not is_additive(spec, den):
        return None
    return num, den


# --- results -----------------------------------------------------------------------------------
def _f(value: Number | None) -> float | None:
    return as_float(value)


@dataclass(frozen=True)
class DimensionAttribution:
    """The change split over the values of one dimension."""

    dimension: str
    method: str  # additive | mix_rate | per_slice
    total: Number | None
    rows: tuple[SliceChange, ...]
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for r in self.rows:
            row: dict[str, Any] = {"slice": _plain(r.key), "base": _f(r.base), "new": _f(r.new),
                                   "change": _f(r.change), "contribution": _f(r.contribution)}
            if self.method == "mix_rate":
                row.update(mix=_f(r.mix), rate=_f(r.rate),
                           base_share=_f(r.extra.get("base_share")), new_share=_f(r.extra.get("new_share")))
            rows.append(row)
        return {"dimension": self.dimension, "method": self.method, "total": _f(self.total), "rows": rows,
                "note": self.note}


@dataclass(frozen=True)
class Explanation:
    metric: str
    base_period: Period
    period: Period
    base_value: float | None
    value: float | None
    tree: Attribution
    nodes: dict[int, TreeNode]  # id(Attribution) -> tree node, for labels
    dimensions: tuple[DimensionAttribution, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def change(self) -> float | None:
        return None if self.value is None or self.base_value is None else self.value - self.base_value

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (for `--json`)."""

        def node(a: Attribution) -> dict[str, Any]:
            t = self.nodes.get(id(a))
            return {"name": a.name, "metric": t.metric if t else a.metric, "edge": t.edge if t else None,
                    "offset": t.offset_text if t else None, "filters": list(t.filters) if t else [],
                    "base": _f(a.base), "new": _f(a.new), "change": _f(a.change),
                    "contribution": _f(a.contribution), "note": a.note, "children": [node(c) for c in a.children]}

        return {"metric": self.metric, "grain": self.period.grain, "base_period": self.base_period.label,
                "period": self.period.label, "base_value": self.base_value, "value": self.value,
                "change": self.change, "tree": node(self.tree),
                "dimensions": [d.to_dict() for d in self.dimensions], "notes": list(self.notes)}


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Fraction):
        return float(value)
    return value


# --- the work ----------------------------------------------------------------------------------
def _formula_node(tree: TreeNode, values: Values, base: Period, period: Period) -> FormulaNode:
    children = tree.formula_children
    if not children or tree.formula is None:
        return FormulaNode(tree.role, number(values.get(tree, base)), number(values.get(tree, period)),
                           metric=tree.metric)
    return FormulaNode(tree.role, number(values.get(tree, base)), number(values.get(tree, period)), tree.formula,
                       tuple(_formula_node(c, values, base, period) for c in children), tree.metric)


def _pair(attribution: Attribution, tree: TreeNode) -> Iterator[tuple[int, TreeNode]]:
    yield id(attribution), tree
    for a, t in zip(attribution.children, tree.formula_children):
        yield from _pair(a, t)


def explain(spec: Spec, run: RunQuery, metric: str, period: Period | str, vs: Period | str | None = None,
            by: Sequence[str] = (), top: int | None = None, grain: str | None = None) -> Explanation:
    """Why `metric` moved from `vs` (default: the period before) to `period`; see the module docstring."""
    target = parse_period(period, grain) if isinstance(period, str) else period
    base = (parse_period(vs, target.grain) if isinstance(vs, str) else vs) if vs is not None else target.previous()
    if base.grain != target.grain:
        raise QueryError(f"cannot compare a {base.grain} with a {target.grain}; give both periods at one grain")
    structure = metric_tree(spec, metric, drivers=False)
    nodes = list(structure.walk())
    values = fetch_values(run, nodes, [base, target])
    attribution = attribute(_formula_node(structure, values, base, target))
    notes = [f"{a.name}: {a.note}" for a in _walk(attribution) if a.note]
    for t in nodes:
        if t.offset is not None and values.get(t, target) is None and t.offset_text:
            notes.append(f"{t.role}: offset '{t.offset_text}' does not map to a whole {target.grain}")
    dimensions = tuple(_by_dimension(spec, run, structure, values, base, target, d, top) for d in by)
    return Explanation(metric, base, target, _f(attribution.base), _f(attribution.new), attribution,
                       dict(_pair(attribution, structure)), dimensions, tuple(notes))


def _walk(a: Attribution) -> Iterator[Attribution]:
    yield a
    for c in a.children:
        yield from _walk(c)


def _by_dimension(spec: Spec, run: RunQuery, tree: TreeNode, values: Values, base: Period, period: Period,
                  dimension: str, top: int | None) -> DimensionAttribution:
    total = None
    b, n = number(values.get(tree, base)), number(values.get(tree, period))
    if b is not None and n is not None:
        total = n - b
    parts = ratio_parts(spec, tree)
    note = None
    if parts is not None:
        num, den = parts
        sliced = fetch_values(run, [num, den], [base, period], by=dimension)
        keys = _keys(sliced, [num, den], [base, period])
        four = {k: (sliced.get(num, base, k), sliced.get(den, base, k), sliced.get(num, period, k),
                    sliced.get(den, period, k)) for k in keys}
        method = "mix_rate"
        try:
            rows = mix_rate(four)
        except UndefinedAttribution as exc:
            return DimensionAttribution(dimension, method, total, (), str(exc))
    else:
        sliced = fetch_values(run, [tree], [base, period], by=dimension)
        keys = _keys(sliced, [tree], [base, period])
        pairs = {k: (sliced.get(tree, base, k), sliced.get(tree, period, k)) for k in keys}
        rows = additive_slices(pairs)
        method = "additive" if is_additive(spec, tree) else "per_slice"
        if method == "per_slice":
            note = (f"'{tree.metric}' is not additive over slices: each slice shows its own change, and the "
                    f"rest of the total change is {UNATTRIBUTED}")
            # a slice without a value in one period has no change of its own: it joins the residual
            rows = [r if r.base is not None and r.new is not None else SliceChange(r.key, r.base, r.new, Fraction(0))
                    for r in rows if r.base is not None or r.new is not None]
    rows = sorted(rows, key=lambda r: (-abs(float(r.contribution)), str(r.key)))
    if top is not None and len(rows) > top:
        rest = rows[top:]
        rows = rows[:top] + [_merge(f"(other {len(rest)} slice{'s' if len(rest) != 1 else ''})", rest, method)]
    if total is not None:
        residual = total - sum((r.contribution for r in rows), Fraction(0))
        if abs(float(residual)) > TOLERANCE * max(1.0, abs(float(total))):
            rows.append(SliceChange(UNATTRIBUTED, None, None, residual))
    return DimensionAttribution(dimension, method, total, tuple(rows), note)


def _keys(values: Values, nodes: Sequence[TreeNode], periods: Sequence[Period]) -> list[Any]:
    keys: dict[Any, None] = {}
    for node in nodes:
        for p in periods:
            keys.update(dict.fromkeys(values.slices(node, p)))
    return list(keys)


def _merge(label: str, rows: Sequence[SliceChange], method: str) -> SliceChange:
    zero = Fraction(0)
    if method == "mix_rate":
        return SliceChange(label, None, None, sum((r.contribution for r in rows), zero),
                           sum((r.mix or zero for r in rows), zero), sum((r.rate or zero for r in rows), zero))
    base = sum(((r.base or zero) for r in rows), zero)
    new = sum(((r.new or zero) for r in rows), zero)
    return SliceChange(label, base if method == "additive" else None, new if method == "additive" else None,
                       sum((r.contribution for r in rows), zero))


# --- text --------------------------------------------------------------------------------------
def render_explanation(explanation: Explanation) -> str:
    """Plain-text tables: the headline, the tree's contributions, one table per dimension."""
    e = explanation
    total = e.change
    lines = [f"{e.metric}: {e.base_period.label} -> {e.period.label}: {fmt(e.base_value)} -> {fmt(e.value)} "
             f"(change {fmt(total, signed=True)}"
             + (f", {pct(total / abs(e.base_value), signed=True)})" if total is not None and e.base_value else ")"),
             ""]

    class Item:
        def __init__(self, a: Attribution) -> None:
            self.a = a
            self.node = e.nodes[id(a)]
            self.children = [Item(c) for c in a.children]

    def share(value: Number | None) -> str:
        if value is None or not total:
            return "–"
        return pct(float(value) / total, signed=True)

    rows = [[label, fmt(_f(item.a.base)), fmt(_f(item.a.new)), fmt(_f(item.a.change), signed=True),
             fmt(_f(item.a.contribution), signed=True), share(item.a.contribution)]
            for label, item in tree_lines(Item(e.tree))]
    lines.append("Along the tree (Shapley; an input's children share its contribution)")
    lines.append(table(["metric", e.base_period.label, e.period.label, "change", "contribution", "share"], rows))
    for d in e.dimensions:
        lines.append("")
        if d.method == "mix_rate":
            lines.append(f"By {d.dimension} (ratio: mix effect + rate effect per slice)")
            header = ["slice", f"rate {e.base_period.label}", f"rate {e.period.label}", f"share {e.base_period.label}",
                      f"share {e.period.label}", "mix", "rate", "contribution"]
            body = [[_key(r.key), fmt(_f(r.base)), fmt(_f(r.new)), pct(_f(r.extra.get("base_share"))),
                     pct(_f(r.extra.get("new_share"))), fmt(_f(r.mix), signed=True), fmt(_f(r.rate), signed=True),
                     fmt(_f(r.contribution), signed=True)] for r in d.rows]
        else:
            kind = "each slice's change" if d.method == "additive" else "each slice's own change; not additive"
            lines.append(f"By {d.dimension} ({kind})")
            header = ["slice", e.base_period.label, e.period.label, "contribution", "share"]
            body = [[_key(r.key), fmt(_f(r.base)), fmt(_f(r.new)), fmt(_f(r.contribution), signed=True),
                     share(r.contribution)] for r in d.rows]
        body.append(["total", *[""] * (len(header) - 2), fmt(_f(d.total), signed=True)])
        lines.append(table(header, body))
        if d.note:
            lines.append(f"note: {d.note}")
    lines += [f"note: {n}" for n in e.notes]
    return "\n".join(lines)


def _key(value: Any) -> str:
    return "(null)" if value is None else str(_plain(value))
