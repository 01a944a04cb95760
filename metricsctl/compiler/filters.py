"""Where filters in MetricFlow's Jinja form, turned into sqlglot expressions.

`{{ Dimension('order__channel') }} = 'online'` renders to a placeholder column per referenced item;
the SQL is then parsed and checked: exactly one boolean expression, no subquery, no statement, no
column that is not a referenced item. The placeholders are bound to real columns per scan later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jinja2
import sqlglot
from sqlglot import exp

from metricsctl.errors import QueryError
from metricsctl.names import SEP, ItemName, parse_item_name

PLACEHOLDER = "__mctl_item_{}"

# Node types a filter may contain; anything else (subqueries, DDL, DML, commands) is refused.
_FORBIDDEN = (exp.Query, exp.Subquery, exp.Command, exp.Create, exp.Drop, exp.Insert, exp.Delete,
              exp.Update, exp.Merge, exp.Alter, exp.Set, exp.Use, exp.Transaction, exp.Commit,
              exp.Rollback, exp.Pragma, exp.Into, exp.Copy, exp.Star)


@dataclass(frozen=True)
class MetricCall:
    """`{{ Metric('revenue', group_by=['customer']) }}`: a metric value joined on an entity."""

    metric: str
    group_by: tuple[str, ...]


@dataclass(frozen=True)
class ParsedFilter:
    """One where filter: a boolean expression over placeholders, and what each placeholder is."""

    source: str
    expression: exp.Expr
    items: tuple[tuple[str, ItemName], ...]
    metrics: tuple[tuple[str, MetricCall], ...] = ()


class _Ref:
    """What a Jinja call returns: renders as its placeholder, and supports `.grain()` / `.date_part()`."""

    def __init__(self, registry: _Registry, item: ItemName) -> None:
        self._registry, self._item = registry, item

    def grain(self, grain: str) -> _Ref:
        return _Ref(self._registry, self._item.with_grain(grain.lower()))

    def date_part(self, part: str) -> _Ref:
        it = self._item
        return _Ref(self._registry, ItemName(it.element, it.entity_path, None, part.lower()))

    def descending(self, _flag: bool = True) -> _Ref:
        return self

    def __str__(self) -> str:
        return self._registry.add_item(self._item)


class _Registry:
    def __init__(self, custom_grains: frozenset[str]) -> None:
        self.custom_grains = custom_grains
        self.items: dict[str, ItemName] = {}
        self.metrics: dict[str, MetricCall] = {}

    def add_item(self, item: ItemName) -> str:
        for key, known in self.items.items():
            if known == item:
                return key
        key = PLACEHOLDER.format(len(self.items) + len(self.metrics))
        self.items[key] = item
        return key

    def name(self, text: str, entity_path: Any = None, grain: str | None = None,
             date_part: str | None = None) -> ItemName:
        item = parse_item_name(str(text), self.custom_grains)
        if entity_path:
            item = ItemName(item.element, (*[str(e) for e in entity_path], *item.entity_path),
                            item.grain, item.date_part)
        if grain:
            item = item.with_grain(str(grain).lower())
        if date_part:
            item = ItemName(item.element, item.entity_path, None, str(date_part).lower())
        return item

    def dimension(self, name: str, entity_path: Any = None) -> _Ref:
        return _Ref(self, self.name(name, entity_path))

    def time_dimension(self, name: str, time_granularity_name: str | None = None,
                       entity_path: Any = None, descending: bool | None = None,
                       date_part_name: str | None = None) -> _Ref:
        return _Ref(self, self.name(name, entity_path, time_granularity_name, date_part_name))

    def entity(self, name: str, entity_path: Any = None) -> _Ref:
        return _Ref(self, self.name(name, entity_path))

    def metric(self, metric: str, group_by: Any = None) -> str:
        call = MetricCall(str(metric), tuple(str(g) for g in (group_by or ())))
        key = PLACEHOLDER.format(len(self.items) + len(self.metrics))
        self.metrics[key] = call
        return key


def parse_filter(template: str, dialect: str, custom_grains: frozenset[str] = frozenset()) -> ParsedFilter:
    """Render the Jinja, parse the SQL, and refuse anything but one boolean expression over items."""
    registry = _Registry(custom_grains)
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    try:
        rendered = env.from_string(template).render(
            Dimension=registry.dimension, TimeDimension=registry.time_dimension,
            Entity=registry.entity, Metric=registry.metric)
    except (jinja2.TemplateError, ValueError, TypeError) as exc:
        raise QueryError(f"filter {template!r}: {exc}; write items as {{{{ Dimension('entity__name') }}}}, "
                         "{{ TimeDimension('metric_time', 'month') }} or {{ Entity('name') }}") from None
    try:
        statements = [s for s in sqlglot.parse(rendered, read=dialect) if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise QueryError(f"filter {template!r} is not valid SQL: {exc.errors[0]['description']}") from None
    if len(statements) != 1:
        raise QueryError(f"filter {template!r} must be exactly one SQL boolean expression, "
                         f"found {len(statements)} statements")
    expression = statements[0]
    if isinstance(expression, _FORBIDDEN) or any(isinstance(n, _FORBIDDEN) for n in expression.walk()):
        raise QueryError(f"filter {template!r} may only compare items and values: subqueries, "
                         "statements and DDL are not allowed")
    known = set(registry.items) | set(registry.metrics)
    for column in expression.find_all(exp.Column):
        if column.table or column.name not in known:
            raise QueryError(
                f"filter {template!r} reads column '{column.sql(dialect)}' directly; reference items "
                "as {{ Dimension('entity__name') }}, {{ TimeDimension('metric_time', 'day') }} or "
                "{{ Entity('name') }}")
    return ParsedFilter(template, expression, tuple(registry.items.items()), tuple(registry.metrics.items()))


def item_key(item: ItemName) -> str:
    return SEP.join([*item.entity_path, item.element])
