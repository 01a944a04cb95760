"""Saved queries (and their exports) as metric queries."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from metricsctl.compiler.filters import _Ref, _Registry
from metricsctl.compiler.query import MetricQuery
from metricsctl.compiler.templates import evaluate_call
from metricsctl.errors import QueryError
from metricsctl.names import ItemName


@lru_cache(maxsize=4096)
def group_by_name(text: str, custom_grains: frozenset[str] = frozenset()) -> str:
    """`TimeDimension('metric_time', 'month')` -> `metric_time__month`; plain names pass through.

    The call is read as data (see metricsctl.compiler.templates); no template engine runs it.
    """
    if "(" not in text:
        return text.strip()
    registry = _Registry(custom_grains)
    functions = {k: v for k, v in registry.functions().items() if k != "Metric"}
    ref = evaluate_call(text.strip().removeprefix("{{").removesuffix("}}"), functions, text)
    if not isinstance(ref, _Ref):
        raise QueryError(f"group-by item {text!r} is not a Dimension, TimeDimension or Entity")
    item: ItemName = ref._item
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
        shorter_paths=True,  # as dbt's exports read it
    )
