"""Saved queries (and their exports) as metric queries."""

from __future__ import annotations

from typing import Any

import jinja2

from metricsctl.compiler.filters import _Ref, _Registry
from metricsctl.compiler.query import MetricQuery
from metricsctl.errors import QueryError
from metricsctl.names import ItemName


def group_by_name(text: str, custom_grains: frozenset[str] = frozenset()) -> str:
    """`TimeDimension('metric_time', 'month')` -> `metric_time__month`; plain names pass through."""
    if "(" not in text:
        return text.strip()
    registry = _Registry(custom_grains)
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    holder: list[_Ref] = []

    def capture(ref: _Ref) -> str:
        holder.append(ref)
        return ""

    try:
        env.from_string("{{ capture(" + text + ") }}").render(
            capture=capture, Dimension=registry.dimension, TimeDimension=registry.time_dimension,
            Entity=registry.entity)
    except (jinja2.TemplateError, ValueError, TypeError) as exc:
        raise QueryError(f"group-by item {text!r}: {exc}") from None
    if len(holder) != 1:
        raise QueryError(f"group-by item {text!r} is not a Dimension, TimeDimension or Entity")
    item: ItemName = holder[0]._item
    return item.column_name()


def saved_query_to_query(saved: Any, custom_grains: frozenset[str] = frozenset()) -> MetricQuery:
    params = saved.query_params
    where = tuple(f.where_sql_template for f in params.where.where_filters) if params.where else ()
    order_by = tuple(getattr(params, "order_by", None) or ())
    return MetricQuery(
        metrics=tuple(params.metrics),
        group_by=tuple(group_by_name(g, custom_grains) for g in params.group_by),
        where=where,
        order_by=tuple(group_by_name(o, custom_grains) for o in order_by),
        limit=getattr(params, "limit", None),
    )
