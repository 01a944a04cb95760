"""Metric trees: a metric and what drives it, down to the leaves, with values for a period.

Edges come from the spec, never stated twice: a derived metric's inputs (`revenue = traffic *
conversion * aov`), a ratio's numerator and denominator, and `config.meta.parents` for relations
that are not a formula ("drivers"). An input keeps what its parent applies to it: the parent's
filters and the input's own (`filter:` on the input), and its time offset (`offset_window`).

Values come from compiled metric queries run through a callable (`Metricsctl.query`): one query per
distinct set of filters, at the period's grain, over the periods needed. An input offset by a whole
number of periods reads the earlier period; other offsets (`offset_to_grain`, 7 days at month grain)
are not evaluated and say so.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlglot import exp

from metricsctl.compiler.plan import Offset, Window, filter_templates, grain_of, window_of
from metricsctl.compiler.query import MetricQuery
from metricsctl.errors import QueryError
from metricsctl.management.attribution import as_float, number, parse_formula
from metricsctl.management.fields import MetricFields, read_fields
from metricsctl.management.periods import Period, add_months, shift, truncate
from metricsctl.management.targets import attainment
from metricsctl.names import STANDARD_GRAINS, parse_item_name
from metricsctl.spec import Spec

FORMULA_EDGES = ("input", "numerator", "denominator")


class ResultLike(Protocol):
    """What `Metricsctl.query` returns: column names and rows."""

    @property
    def columns(self) -> Sequence[str]: ...

    @property
    def rows(self) -> Sequence[Sequence[Any]]: ...


RunQuery = Callable[[MetricQuery], ResultLike]


@dataclass(frozen=True)
class TreeNode:
    """A metric in a tree, as its parent sees it."""

    metric: str
    role: str  # the name the parent's formula uses (an alias, or the metric's name); the root: its name
    edge: str  # root | input (of a derived metric) | numerator | denominator | driver
    fields: MetricFields
    filters: tuple[str, ...] = ()  # applied on top of the metric's own: from its parents and the input
    offset: Offset | None = None
    formula: exp.Expr | None = None  # over the roles of the formula children; None for leaves
    children: tuple[TreeNode, ...] = ()

    @property
    def formula_children(self) -> tuple[TreeNode, ...]:
        return tuple(c for c in self.children if c.edge in FORMULA_EDGES)

    def walk(self) -> Iterator[TreeNode]:
        yield self
        for child in self.children:
            yield from child.walk()

    @property
    def offset_text(self) -> str | None:
        return offset_text(self.offset)


def offset_text(offset: Offset | None) -> str | None:
    if offset is None:
        return None
    if offset.window is not None:
        plural = "s" if offset.window.count != 1 else ""
        return f"{offset.window.count} {offset.window.grain}{plural} earlier"
    return f"at the start of the {offset.to_grain}"


def _role_names(numerator: Any, denominator: Any) -> tuple[str, str]:
    num, den = numerator.alias or numerator.name, denominator.alias or denominator.name
    return (num, den) if num != den else ("numerator", "denominator")


def formula_children(spec: Spec, name: str) -> list[str]:
    """The metrics a metric's formula reads directly (derived inputs, ratio numerator and denominator)."""
    metric = spec.metric(name)
    kind = str(metric.type.value)
    if kind == "derived":
        return [m.name for m in metric.type_params.metrics]
    if kind == "ratio":
        return [metric.type_params.numerator.name, metric.type_params.denominator.name]
    return []


def parents_of(spec: Spec, fields: Mapping[str, MetricFields] | None = None) -> dict[str, list[str]]:
    """Metric -> the metrics directly above it: those whose formula reads it, and its `parents`."""
    if fields is None:
        fields = read_fields(spec)[0]
    found: dict[str, list[str]] = {name: [] for name in spec.metric_names()}
    for name in spec.metric_names():
        for child in formula_children(spec, name):
            if name not in found[child]:
                found[child].append(name)
    for name, f in fields.items():
        for parent in f.parents:
            if parent not in found[name]:
                found[name].append(parent)
    return found


def metric_tree(spec: Spec, metric: str, drivers: bool = True, max_depth: int | None = None,
                fields: Mapping[str, MetricFields] | None = None) -> TreeNode:
    """The tree below `metric`: formula inputs and (with `drivers`) metrics naming it in `parents`."""
    if fields is None:
        fields = read_fields(spec)[0]
    spec.metric(metric)  # an unknown name fails here, with suggestions
    driven: dict[str, list[str]] = {}
    for name, f in fields.items():
        for parent in f.parents:
            driven.setdefault(parent, []).append(name)
    return _node(spec, fields, driven, metric, metric, "root", (), None, (metric,), drivers, max_depth)


def _node(spec: Spec, fields: Mapping[str, MetricFields], driven: Mapping[str, list[str]], name: str,
          role: str, edge: str, filters: tuple[str, ...], offset: Offset | None, stack: tuple[str, ...],
          drivers: bool, depth: int | None) -> TreeNode:
    metric = spec.metric(name)
    kind = str(metric.type.value)
    params = metric.type_params
    below = tuple(dict.fromkeys(filters + filter_templates(metric.filter)))
    children: list[TreeNode] = []
    formula: exp.Expr | None = None
    if depth is None or depth > 0:
        nxt = None if depth is None else depth - 1

        def child(inp: Any, child_role: str, child_edge: str) -> TreeNode:
            if inp.name in stack:
                raise QueryError(f"metric '{stack[0]}' refers to itself through {' -> '.join((*stack, inp.name))}")
            inner = Offset(window_of(inp.offset_window), grain_of(inp.offset_to_grain))
            has_inner = inner.window is not None or inner.to_grain is not None
            if has_inner and offset is not None:
                raise QueryError(f"metric '{name}': an offset inside an offset input is not supported")
            child_filters = tuple(dict.fromkeys(below + filter_templates(inp.filter)))
            return _node(spec, fields, driven, inp.name, child_role, child_edge, child_filters,
                         inner if has_inner else offset, (*stack, inp.name), drivers, nxt)

        if kind == "derived":
            formula = parse_formula(str(params.expr))
            children += [child(inp, inp.alias or inp.name, "input") for inp in params.metrics]
        elif kind == "ratio":
            num_role, den_role = _role_names(params.numerator, params.denominator)
            formula = exp.Div(this=exp.column(num_role), expression=exp.column(den_role))
            children += [child(params.numerator, num_role, "numerator"),
                         child(params.denominator, den_role, "denominator")]
        if drivers:
            for driver in driven.get(name, []):
                if driver in stack:
                    continue  # a cycle through `parents`: `metricsctl lint` reports it
                children.append(_node(spec, fields, driven, driver, driver, "driver", (), None,
                                      (*stack, driver), drivers, nxt))
    return TreeNode(name, role, edge, fields[name], filters, offset, formula, tuple(children))


# --- values ------------------------------------------------------------------------------------
_MONTHS = {"month": 1, "quarter": 3, "year": 12}
_DAYS = {"day": 1, "week": 7}


def offset_period(period: Period, offset: Offset | None) -> Period | None:
    """The period an offset input reads for `period`, or None when it is not a whole-period shift."""
    if offset is None:
        return period
    window: Window | None = offset.window
    if window is None:
        if offset.to_grain == period.grain:
            return period
        if period.grain == "day" and offset.to_grain in STANDARD_GRAINS:
            return Period("day", truncate(period.start, offset.to_grain))
        return None
    if window.grain in _MONTHS and period.grain in _MONTHS:
        months = window.count * _MONTHS[window.grain]
        if months % _MONTHS[period.grain] == 0:
            return Period(period.grain, add_months(period.start, -months))
        return None
    if window.grain in _DAYS and period.grain in _DAYS:
        days = window.count * _DAYS[window.grain]
        if days % _DAYS[period.grain] == 0:
            return Period(period.grain, shift(period.start, -days, "day"))
        return None
    if window.grain in _MONTHS and period.grain == "day":
        return Period("day", add_months(period.start, -window.count * _MONTHS[window.grain]))
    return None


def _day(value: Any) -> datetime.date | None:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        return datetime.date.fromisoformat(value[:10])
    return None


@dataclass(frozen=True)
class ValueKey:
    metric: str
    filters: tuple[str, ...]


@dataclass
class Values:
    """Fetched values: (metric, filters) -> period start -> slice (None without --by) -> value."""

    data: dict[ValueKey, dict[datetime.date, dict[Any, Any]]] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)  # metric -> why it has no values here

    def get(self, node: TreeNode, period: Period, key: Any = None) -> Any:
        at = offset_period(period, node.offset)
        if at is None:
            return None
        return self.data.get(ValueKey(node.metric, node.filters), {}).get(at.start, {}).get(key)

    def slices(self, node: TreeNode, period: Period) -> dict[Any, Any]:
        at = offset_period(period, node.offset)
        if at is None:
            return {}
        return dict(self.data.get(ValueKey(node.metric, node.filters), {}).get(at.start, {}))


def fetch_values(run: RunQuery, nodes: Sequence[TreeNode], periods: Sequence[Period],
                 by: str | None = None, where: tuple[str, ...] = ()) -> Values:
    """Query every node's value in the periods (shifted by their offsets): one query per filter set.

    `where` narrows every value (one org unit's tree); a metric that cannot be narrowed so is left
    without values, and why is kept in `Values.unavailable`.
    """
    wanted: dict[tuple[str, ...], tuple[set[str], set[datetime.date]]] = {}
    grain = periods[0].grain
    for node in nodes:
        days = {at.start for at in (offset_period(p, node.offset) for p in periods) if at is not None}
        if not days:
            continue
        metrics, needed = wanted.setdefault(node.filters, (set(), set()))
        metrics.add(node.metric)
        needed |= days
    slice_column = parse_item_name(by).column_name() if by else None
    time_column = f"metric_time__{grain}"
    values = Values()
    for filters, (metrics, days) in wanted.items():
        group_by = (time_column, by) if by else (time_column,)
        names = tuple(sorted(metrics))
        batches = [names]
        if where:  # find the metrics the org unit's dimension cannot reach, and leave them out
            batches = []
            for name in names:
                try:
                    run(MetricQuery((name,), group_by, filters + where, limit=0))
                    batches.append((name,))
                except QueryError as exc:
                    values.unavailable[name] = str(exc)
            batches = [tuple(n for batch in batches for n in batch)] if batches else []
        for batch in batches:
            _fetch(run, MetricQuery(batch, group_by, filters + where, start_time=min(days).isoformat(),
                                    end_time=max(days).isoformat()), filters, days, time_column, slice_column,
                   values)
    return values


def _fetch(run: RunQuery, query: MetricQuery, filters: tuple[str, ...], days: set[datetime.date], time_column: str,
           slice_column: str | None, values: Values) -> None:
    """Run one query and file its values under (metric, the node's own filters), period, slice."""
    result = run(query)
    columns = list(result.columns)
    for row in result.rows:
        record = dict(zip(columns, row))
        day = _day(record.get(time_column))
        if day is None or day not in days:
            continue
        key = record.get(slice_column) if slice_column else None
        for metric in query.metrics:
            values.data.setdefault(ValueKey(metric, filters), {}).setdefault(day, {})[key] = record.get(metric)


# --- a tree with values ------------------------------------------------------------------------
@dataclass(frozen=True)
class ValuedNode:
    """A tree node with its value in a period and the one before, its target and attainment."""

    node: TreeNode
    period: Period
    value: float | None
    previous_period: Period | None
    previous: float | None
    target: float | None = None
    attainment: float | None = None
    children: tuple[ValuedNode, ...] = ()
    note: str | None = None
    org_unit: str | None = None  # KIND=NAME when the values are one org unit's

    @property
    def change(self) -> float | None:
        return None if self.value is None or self.previous is None else self.value - self.previous

    @property
    def change_pct(self) -> float | None:
        change = self.change
        if change is None or not self.previous:
            return None
        return change / abs(self.previous)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (for `--json`)."""
        node, f = self.node, self.node.fields
        return {
            "metric": node.metric, "role": node.role, "edge": node.edge, "label": f.label, "owner": f.owner,
            "level": f.level, "unit": f.unit, "direction": f.direction, "kpi": f.kpi,
            "filters": list(node.filters), "offset": node.offset_text,
            "formula": node.formula.sql() if node.formula is not None else None,
            "period": self.period.label, "value": self.value,
            "previous_period": self.previous_period.label if self.previous_period else None,
            "previous": self.previous, "change": self.change, "change_pct": self.change_pct,
            "target": self.target, "attainment": self.attainment, "note": self.note,
            **({"org_unit": self.org_unit} if self.org_unit else {}),
            "children": [c.to_dict() for c in self.children],
        }


TargetLookup = Mapping[str, float | None]


def tree_values(tree: TreeNode, values: Values, period: Period, previous: Period | None,
                targets: TargetLookup | None = None) -> ValuedNode:
    """Put fetched values on a tree; targets (metric -> target for `period`) apply to unfiltered nodes."""
    value = as_float(number(values.get(tree, period)))
    before = as_float(number(values.get(tree, previous))) if previous is not None else None
    note = None
    if offset_period(period, tree.offset) is None:
        note = f"offset '{tree.offset_text}' does not map to a whole {period.grain}: not evaluated"
    elif tree.metric in values.unavailable:
        note = f"not split by this org unit: {values.unavailable[tree.metric]}"
    target = None
    if targets is not None and not tree.filters and tree.offset is None:
        target = targets.get(tree.metric)
    children = tuple(tree_values(c, values, period, previous, targets) for c in tree.children)
    return ValuedNode(tree, period, value, previous, before, target,
                      attainment(value, target, tree.fields.direction), children, note)


def tree(spec: Spec, run: RunQuery, metric: str, period: Period, previous: Period | None = None,
         targets: TargetLookup | None = None, drivers: bool = True, max_depth: int | None = None,
         where: tuple[str, ...] = ()) -> ValuedNode:
    """`metricsctl tree METRIC --period P`: the tree with values in P and the period before (or `previous`);
    `where` narrows every value (one org unit's tree, with that org unit's `targets`)."""
    structure = metric_tree(spec, metric, drivers=drivers, max_depth=max_depth)
    before = previous if previous is not None else period.previous()
    values = fetch_values(run, list(structure.walk()), [period, before], where=where)
    return tree_values(structure, values, period, before, targets)


def latest_period(spec: Spec, run: RunQuery, metric: str, today: datetime.date, grain: str = "month",
                  where: tuple[str, ...] = ()) -> Period:
    """The latest complete `grain` (before the one `today` is in) in which `metric` has a value."""
    spec.metric(metric)  # an unknown name fails with a suggestion
    current = Period(grain, truncate(today, grain))
    column = f"metric_time__{grain}"
    result = run(MetricQuery((metric,), (column,), where, (f"-{column}",),
                             end_time=(current.start - datetime.timedelta(days=1)).isoformat()))
    columns = list(result.columns)
    for row in result.rows:
        record = dict(zip(columns, row))
        day = _day(record.get(column))
        if day is not None and record.get(metric) is not None:
            return Period(grain, day)
    raise QueryError(f"'{metric}' has no value in any {grain} before {current.label}; pass --period")


# --- text --------------------------------------------------------------------------------------
def fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    sign = "+" if signed else ""
    if value != 0 and abs(value) < 0.01:
        return f"{value:{sign}.3g}"
    if abs(value) >= 1000 or float(value).is_integer():
        return f"{value:{sign},.0f}"
    return f"{value:{sign},.2f}" if abs(value) >= 1 else f"{value:{sign}.4f}"


def pct(value: float | None, signed: bool = False) -> str:
    return "–" if value is None else f"{100 * value:{'+' if signed else ''}.1f}%"


def node_label(node: TreeNode) -> str:
    text = node.role if node.role == node.metric else f"{node.role} = {node.metric}"
    if node.edge in ("numerator", "denominator", "driver"):
        text += f" [{node.edge}]"
    if node.offset is not None:
        text += f" ({node.offset_text})"
    if node.filters:
        text += " (filtered)"
    if node.fields.unit:
        text += f" ({node.fields.unit})"
    return text


def tree_lines(node: Any, prefix: str = "", last: bool = True, root: bool = True) -> Iterator[tuple[str, Any]]:
    """(indented label, item) for a tree of objects with `.node` (a TreeNode) and `.children`."""
    label = node_label(node.node)
    yield (label if root else prefix + ("└─ " if last else "├─ ") + label), node
    inner = "" if root else prefix + ("   " if last else "│  ")
    for i, child in enumerate(node.children):
        yield from tree_lines(child, inner, i == len(node.children) - 1, False)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [str(row[0]).ljust(widths[0]), *(str(c).rjust(w) for c, w in zip(row[1:], widths[1:]))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def render_tree(valued: ValuedNode) -> str:
    """The tree as a terminal table: metric, value, previous value, change, target, attainment, owner."""
    previous = valued.previous_period.label if valued.previous_period else "previous"
    header = ["metric", valued.period.label, previous, "change", "target", "attainment", "owner"]
    rows = []
    for label, item in tree_lines(valued):
        rows.append([label, fmt(item.value), fmt(item.previous), pct(item.change_pct, signed=True),
                     fmt(item.target), pct(item.attainment), item.node.fields.owner or ""])
    notes = [f"note: {item.node.role}: {item.note}" for _, item in tree_lines(valued) if item.note]
    title = [f"{valued.node.metric} of {valued.org_unit}, its values and targets:"] if valued.org_unit else []
    return "\n".join([*title, table(header, rows), *notes])
