"""The semantic graph: which dimensions and entities a measure's semantic model can reach, and how.

Joins follow MetricFlow's rules: from any entity of the current model to a model where that entity is
primary, unique or natural (many-to-one or one-to-one), at most two hops, each hop to the model from
which the rest of the path reaches the item. A join onto a foreign entity would fan out and is refused.
Two models that both have a partition dimension of the same name (`is_partition: true`) are joined on it
as well; a model with `validity_params` (an SCD type II dimension) is joined on the row's time falling
inside the validity window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from metricsctl.errors import QueryError
from metricsctl.names import METRIC_TIME, SEP, ItemName
from metricsctl.spec import Spec, suggest

MAX_HOPS = 2
PRIMARY_LIKE = {"primary", "unique", "natural"}


@dataclass(frozen=True)
class JoinStep:
    """`LEFT JOIN right_relation AS alias ON left_alias.left_expr = alias.right_expr`."""

    entity: str
    left_alias: str
    left_expr: str
    model: str
    relation: str
    alias: str
    right_expr: str
    # (left expression, right expression) of each partition dimension both models share
    partitions: tuple[tuple[str, str], ...] = ()
    # the target's validity window (start, end expressions) when it is an SCD type II model
    validity: tuple[str, str | None] | None = None


@dataclass(frozen=True)
class ResolvedItem:
    """A query item bound to the model it lives in and the joins that reach it."""

    name: ItemName
    kind: str  # "metric_time" | "dimension" | "time_dimension" | "entity"
    model: str
    alias: str  # table alias the expression reads from ("src" for the measure's own model)
    expr: str  # SQL expression in that model's columns, not yet qualified
    joins: tuple[JoinStep, ...] = ()
    grain: str | None = None
    date_part: str | None = None

    @property
    def column(self) -> str:
        return self.name.column_name()

    @property
    def is_time(self) -> bool:
        return self.kind in ("metric_time", "time_dimension")


def entity_type(model: Any, entity: str) -> str | None:
    for e in model.entities:
        if e.name == entity:
            return str(e.type.value)
    if model.primary_entity == entity:
        return "primary"
    return None


def entity_expr(model: Any, entity: str) -> str:
    for e in model.entities:
        if e.name == entity:
            return str(e.expr or e.name)
    raise QueryError(f"semantic model '{model.name}' has no entity '{entity}'")


def dimension(model: Any, name: str) -> Any | None:
    for d in model.dimensions:
        if d.name == name:
            return d
    return None


def partition_exprs(model: Any) -> dict[str, str]:
    """A model's partition dimensions: name -> SQL expression."""
    return {d.name: str(d.expr or d.name) for d in model.dimensions if getattr(d, "is_partition", False)}


def validity_window(model: Any) -> tuple[str, str | None] | None:
    """The start and end expressions of an SCD type II model's validity window (None: not one)."""
    start: str | None = None
    end: str | None = None
    for d in model.dimensions:
        params = getattr(d.type_params, "validity_params", None) if d.type_params is not None else None
        if params is None:
            continue
        if params.is_start:
            start = str(d.expr or d.name)
        if params.is_end:
            end = str(d.expr or d.name)
    return None if start is None else (start, end)


def dimension_grain(dim: Any) -> str:
    params = dim.type_params
    if params is None or params.time_granularity is None:
        return "day"
    return str(params.time_granularity.value)


class SemanticGraph:
    """Resolves item names from the point of view of one semantic model."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.models = {m.name: m for m in spec.semantic_models}
        self._resolved: dict[tuple[str, ItemName], ResolvedItem] = {}  # the spec is frozen: resolved once
        self._fitting: dict[tuple[str, ItemName], ItemName] = {}  # a shorter path's full one, found once

    # --- the building blocks -------------------------------------------------------------------
    def _targets(self, entity: str, exclude: str) -> list[Any]:
        return [m for m in self.models.values()
                if m.name != exclude and entity_type(m, entity) in PRIMARY_LIKE]

    def _hop(self, current: Any, alias: str, entity: str, target: Any) -> JoinStep:
        """Join from `current` through `entity` to `target`, a model where the entity is primary-like."""
        first = sorted(self._targets(entity, current.name), key=lambda m: m.name)[0]
        # the usual target keeps the plain alias; another model reached on the same path gets its own
        join_alias = ("j_" if alias == "src" else alias + SEP) + entity + (
            "" if target.name == first.name else SEP + target.name)
        left_partitions = partition_exprs(current)
        partitions = tuple((left_partitions[name], right) for name, right in partition_exprs(target).items()
                           if name in left_partitions)
        return JoinStep(entity, alias, entity_expr(current, entity), target.name,
                        target.node_relation.relation_name, join_alias, entity_expr(target, entity),
                        partitions, validity_window(target))

    def _candidates(self, current: Any, entity: str, need: str | None) -> list[Any]:
        """The models `entity` joins `current` to, by name (only those holding `need`, if given); or why
        there are none."""
        if entity_type(current, entity) is None:
            raise QueryError(
                f"semantic model '{current.name}' has no entity '{entity}'; its entities are "
                + ", ".join(sorted(e.name for e in current.entities)))
        targets = sorted(self._targets(entity, current.name), key=lambda m: m.name)
        if need is not None:
            targets = [m for m in targets if dimension(m, need) or entity_type(m, need)]
        if not targets:
            fan_out = [m.name for m in self.models.values()
                       if m.name != current.name and entity_type(m, entity) == "foreign"
                       and (need is None or dimension(m, need))]
            if fan_out:
                raise QueryError(
                    f"joining '{current.name}' to '{fan_out[0]}' on entity '{entity}' would fan out: "
                    f"'{entity}' is a foreign key there, so one row would match many; "
                    "group by a dimension of a model where the entity is primary or unique")
            raise QueryError(f"no semantic model reachable through entity '{entity}' has "
                             f"'{need}'" if need else f"no semantic model has '{entity}' as primary")
        return targets

    # --- resolution ----------------------------------------------------------------------------
    def resolve(self, model_name: str, item: ItemName) -> ResolvedItem:
        """Bind `item` as seen from the semantic model `model_name`, or say why it cannot be."""
        key = (model_name, item)
        found = self._resolved.get(key)
        if found is not None:
            return found
        try:
            found = self._resolved[key] = self._resolve(model_name, item)
        except QueryError as exc:
            hint = suggest(item.column_name(), self.available(model_name))
            raise QueryError(f"'{item}' is not available for semantic model '{model_name}': {exc}"
                             f"{hint}") from None
        return found

    def fitting(self, model_name: str, item: ItemName) -> ItemName:
        """`item` as `model_name` reaches it, as MetricFlow reads a shorter entity path: as named where it
        resolves; else the one shortest path from the model that ends with the one named (`customer__region`
        for order lines, which reach customers through orders, is `order__customer__region`). Refused when
        none fits (the error of the name as given) or when two paths of one length do."""
        found = self._fitting.get((model_name, item))
        if found is not None:
            return found
        try:
            self.resolve(model_name, item)
            return item
        except QueryError as exc:
            if item.is_metric_time or not item.entity_path:
                raise
            error = exc
        size = len(item.entity_path)
        fits: dict[int, list[ItemName]] = {}
        for name in self.available(model_name):
            *path, element = name.split(SEP)
            if element != item.element or len(path) <= size or tuple(path[-size:]) != item.entity_path:
                continue
            candidate = ItemName(item.element, tuple(path), item.grain, item.date_part)
            try:
                self.resolve(model_name, candidate)
            except QueryError:
                continue
            fits.setdefault(len(path), []).append(candidate)
        if not fits:
            raise error
        shortest = fits[min(fits)]
        if len(shortest) > 1:
            raise QueryError(f"'{item}' is reached from semantic model '{model_name}' by more than one path: "
                             f"{', '.join(str(c) for c in shortest)}; group by one of them")
        self._fitting[(model_name, item)] = shortest[0]
        return shortest[0]

    def _resolve(self, model_name: str, item: ItemName) -> ResolvedItem:
        model = self.models[model_name]
        if item.is_metric_time:
            raise QueryError("metric_time is resolved per measure, not per model")
        if len(item.entity_path) > MAX_HOPS:
            raise QueryError(f"at most {MAX_HOPS} entity links are supported")
        if not item.entity_path:
            if entity_type(model, item.element) is None:
                raise QueryError(f"'{item.element}' is neither an entity of the model nor "
                                 "qualified with an entity (write entity__dimension)")
            return ResolvedItem(item, "entity", model.name, "src", entity_expr(model, item.element))
        current, alias, joins = self._walk(model, "src", item.entity_path, item.element)
        dim = dimension(current, item.element)
        if dim is None:
            if entity_type(current, item.element) is not None and item.grain is None:
                return ResolvedItem(item, "entity", current.name, alias,
                                    entity_expr(current, item.element), tuple(joins))
            raise QueryError(f"semantic model '{current.name}' has no dimension '{item.element}'")
        expr = str(dim.expr or dim.name)
        if str(dim.type.value) == "time":
            grain = item.grain or (None if item.date_part else dimension_grain(dim))
            return ResolvedItem(item.with_grain(grain), "time_dimension", current.name, alias, expr,
                                tuple(joins), grain, item.date_part)
        if item.grain or item.date_part:
            raise QueryError(f"'{item.element}' is a categorical dimension and takes no time grain")
        return ResolvedItem(item, "dimension", current.name, alias, expr, tuple(joins))

    def _walk(self, current: Any, alias: str, path: tuple[str, ...], element: str,
              ) -> tuple[Any, str, list[JoinStep]]:
        """Follow the entity links of `path` from `current` to the model holding `element`.

        At each link the first model (by name) from which the rest of the path reaches the element is
        taken, as MetricFlow does; the last link stays on `current` when the element is its own.
        """
        entity, rest = path[0], path[1:]
        if not rest and entity_type(current, entity) in PRIMARY_LIKE and (
                dimension(current, element) is not None or entity_type(current, element) is not None):
            return current, alias, []  # the model's own dimension or entity (`visit__session`)
        if not rest and entity_type(current, entity) is None:
            raise QueryError(f"semantic model '{current.name}' has no entity '{entity}'")
        candidates = self._candidates(current, entity, None if rest else element)
        error: QueryError | None = None
        for target in candidates:
            step = self._hop(current, alias, entity, target)
            if not rest:
                return target, step.alias, [step]
            try:
                found, found_alias, steps = self._walk(target, step.alias, rest, element)
            except QueryError as exc:
                error = error or exc
                continue
            return found, found_alias, [step, *steps]
        assert error is not None
        raise error

    def decided_by(self, model_name: str, entity: str, item: ItemName) -> bool:
        """Whether `item`, read from `model_name`'s rows, is the same on every row with the same `entity`:
        the entity itself, a dimension of a model where it is primary-like (the model's own, or joined
        through it, hop after hop), but not through a join that also matches a partition of the row or
        a validity window on its time."""
        resolved = self.resolve(model_name, item)
        if not resolved.joins:  # the model's own column: the entity itself, or any when it keys the rows
            return (resolved.kind == "entity" and item.element == entity) or \
                entity_type(self.models[model_name], entity) in PRIMARY_LIKE
        first = resolved.joins[0]
        return first.entity == entity and not first.partitions and all(s.validity is None for s in resolved.joins)

    # --- what can be asked for -----------------------------------------------------------------
    def available(self, model_name: str) -> list[str]:
        """Every group-by name reachable from a semantic model (for suggestions)."""
        model = self.models[model_name]
        names = [METRIC_TIME, *(e.name for e in model.entities)]
        for e in model.entities:
            if entity_type(model, e.name) in PRIMARY_LIKE:
                names += [SEP.join((e.name, d.name)) for d in model.dimensions]
        if model.primary_entity:
            names += [SEP.join((model.primary_entity, d.name)) for d in model.dimensions]
        frontier: list[tuple[Any, tuple[str, ...]]] = [(model, ())]
        for _ in range(MAX_HOPS):
            nxt: list[tuple[Any, tuple[str, ...]]] = []
            for current, path in frontier:
                for e in current.entities:
                    if path and e.name == path[-1]:
                        continue
                    link = (*path, e.name)
                    for target in self._targets(e.name, current.name):
                        names += [SEP.join((*link, d.name)) for d in target.dimensions]
                        nxt.append((target, link))
            frontier = nxt
        return sorted(set(names))
