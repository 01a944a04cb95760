"""The query's group-by items, read against the plan: their grains, their names, and where values come from.

Decisions made here, as MetricFlow makes them: bare metric_time takes the coarsest default grain of the
query's metrics; a time dimension without a grain is named at its own grain; a measure's own time
dimension is its metric_time where the time spine is read; a sub-daily grain needs data that fine; a
query without metrics reads the model that reaches every item with the fewest joins.
"""

from __future__ import annotations

from typing import Any

from metricsctl.compiler.plan import Plan, as_metric_time, primary_entity
from metricsctl.compiler.query import MetricQuery
from metricsctl.errors import QueryError
from metricsctl.graph import SemanticGraph, dimension, dimension_grain
from metricsctl.names import METRIC_TIME, STANDARD_GRAINS, SUBDAILY_GRAINS, ItemName, grain_rank, parse_item_name
from metricsctl.spec import Spec, suggest


class ItemResolver:
    """Resolves a query's group-by items for one spec."""

    def __init__(self, spec: Spec, graph: SemanticGraph) -> None:
        self.spec = spec
        self.graph = graph
        self.custom_grains = spec.custom_grains

    def values_model(self, items: list[ItemName]) -> Any | None:
        """A query without metrics lists the distinct values of its group-by items, read from the model
        that reaches the items other than metric_time with the fewest joins (None: metric_time alone,
        read from the time spine); metric_time's periods are crossed with those values."""
        if all(i.is_metric_time for i in items):
            return None
        items = [i for i in items if not i.is_metric_time]  # metric_time comes from the time spine
        best: tuple[int, str] | None = None
        first_error: QueryError | None = None
        for name in sorted(self.graph.models):
            try:
                joins = sum(len(self.graph.resolve(name, item).joins) for item in items)
            except QueryError as exc:
                first_error = first_error or exc
                continue
            if best is None or joins < best[0]:
                best = (joins, name)
        if best is None:
            names = ", ".join(i.column_name() for i in items)
            raise QueryError(f"no semantic model reaches all of {names}; group by items that share an entity")
        return self.graph.models[best[1]]

    def group_by_items(self, query: MetricQuery, plan: Plan) -> list[ItemName]:
        items: list[ItemName] = []
        for text in query.group_by:
            try:
                item = parse_item_name(text, self.custom_grains)
            except ValueError as exc:
                raise QueryError(str(exc)) from None
            if item.is_metric_time is False and item.entity_path == (METRIC_TIME,) and \
                    item.element in ("microsecond", "nanosecond"):
                raise QueryError(f"'{text}' is finer than metricsctl answers: use millisecond or coarser")
            if item.entity_path[:1] == (METRIC_TIME,):
                grains = [*STANDARD_GRAINS, *sorted(self.custom_grains)]
                raise QueryError(f"unknown time granularity '{item.element}' in '{text}'"
                                 f"{suggest(item.element, grains)}; use one of {', '.join(grains)}, "
                                 "or extract_<part>")
            if query.shorter_paths and query.metrics and not item.is_metric_time:
                item = self._fitting(item, plan, text)
            if item.is_metric_time and item.grain is None and item.date_part is None:
                item = item.with_grain(self._default_grain(plan))
            elif item.is_metric_time and item.grain in SUBDAILY_GRAINS:
                self._check_fine_enough(item, plan, text)
            elif item.grain is None and item.date_part is None:
                item = self._named_with_grain(item, plan)
            item = self._as_metric_time(item, plan, text)
            if item in items:
                raise QueryError(f"group-by item '{text}' is given twice")
            items.append(item)
        return items

    def _fitting(self, item: ItemName, plan: Plan, text: str) -> ItemName:
        """A group-by item named by a shorter entity path, as `mf query` reads it: the path every model the query
        groups reaches it by (graph.fitting), which names its column; refused when the models differ."""
        models = list(dict.fromkeys(i.conversion.base_model if i.conversion else i.model for i in plan.instances))
        fits: dict[ItemName, list[str]] = {}
        for model in models:
            try:
                fits.setdefault(self.graph.fitting(model, item), []).append(model)
            except QueryError:
                return item  # reported where the item is bound, with that model's suggestions
        if len(fits) > 1:
            found = "; ".join(f"{fit} for {', '.join(names)}" for fit, names in fits.items())
            raise QueryError(f"'{text}' names a different item for the semantic models of the query's metrics: "
                             f"{found}; group by one of them by its full name, with metrics that reach it")
        return next(iter(fits), item)

    def _as_metric_time(self, item: ItemName, plan: Plan, text: str) -> ItemName:
        """A measure's own time dimension is its metric_time; refused where that differs by metric."""
        found = as_metric_time(item, plan.time_aliases)
        if found is not item or len(item.entity_path) != 1:
            return found
        for instance in plan.instances:
            if not instance.is_plain and instance.agg_time_dimension == item.element and \
                    primary_entity(self.graph.models[instance.model]) == item.entity_path[0]:
                raise QueryError(f"'{text}' is the aggregation time of '{instance.measure}' but not of every "
                                 "metric of the query; group by metric_time (at a grain) instead")
        return item

    def _named_with_grain(self, item: ItemName, plan: Plan) -> ItemName:
        """A time dimension asked without a grain is answered, and named, at its own grain, as `mf query`
        names it (`order__ordered_at` -> `order__ordered_at__day`); any other item is returned as is."""
        models = [i.model for i in plan.instances] or sorted(self.graph.models)
        for model in models:
            try:
                resolved = self.graph.resolve(model, item)
            except QueryError:
                continue  # reported where the item is bound, with the model's suggestions
            return resolved.name if resolved.kind == "time_dimension" else item
        return item

    def _check_fine_enough(self, item: ItemName, plan: Plan, text: str) -> None:
        """metric_time at a sub-daily grain needs every measure's time to be at least that fine."""
        assert item.grain is not None
        for instance in plan.instances:
            ref = self.spec.measure(instance.measure)
            dim = dimension(ref.model, ref.agg_time_dimension)
            grain = dimension_grain(dim) if dim is not None else "day"
            if grain not in (*SUBDAILY_GRAINS, *STANDARD_GRAINS) or grain_rank(grain) > grain_rank(item.grain):
                raise QueryError(f"'{text}' is finer than the data: '{instance.measure}' is timed by "
                                 f"'{ref.agg_time_dimension}' at {grain}; use metric_time__{grain} or coarser")

    def _default_grain(self, plan: Plan) -> str:
        """Bare metric_time, as MetricFlow answers it: the coarsest of the query's metrics' default grains,
        each its `time_granularity` or else the finest grain its measures' times allow (day at the finest)."""
        grains = [str(getattr(g, "value", g)).lower() for name in plan.metrics
                  if (g := getattr(self.spec.metric(name), "time_granularity", None)) is not None]
        return max([*grains, self._finest_common_grain(plan)],
                   key=lambda g: grain_rank(g) if g in STANDARD_GRAINS else 0)

    def _finest_common_grain(self, plan: Plan) -> str:
        grains = ["day"]
        for instance in plan.instances:
            ref = self.spec.measure(instance.measure)
            dim = dimension(ref.model, ref.agg_time_dimension)
            if dim is not None:
                grains.append(dimension_grain(dim))
        known = [g for g in grains if g in STANDARD_GRAINS]
        return max(known, key=grain_rank)
