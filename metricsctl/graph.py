"""The semantic graph: which dimensions and entities a measure's semantic model can reach, and how.

Joins follow MetricFlow's rules: from any entity of the current model to a model where that entity is
primary, unique or natural (many-to-one or one-to-one), at most two hops. A join onto a foreign entity
would fan out and is refused.
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

    # --- the building blocks -------------------------------------------------------------------
    def _targets(self, entity: str, exclude: str) -> list[Any]:
        return [m for m in self.models.values()
                if m.name != exclude and entity_type(m, entity) in PRIMARY_LIKE]

    def _hop(self, current: Any, alias: str, entity: str, path: tuple[str, ...],
             need: str | None) -> tuple[Any, JoinStep]:
        """Join from `current` through `entity` to the model that owns it (holding `need`, if given)."""
        if entity_type(current, entity) is None:
            raise QueryError(
                f"semantic model '{current.name}' has no entity '{entity}'; its entities are "
                + ", ".join(sorted(e.name for e in current.entities)))
        targets = self._targets(entity, current.name)
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
        target = sorted(targets, key=lambda m: m.name)[0]
        join_alias = "j_" + SEP.join(path)
        step = JoinStep(entity, alias, entity_expr(current, entity), target.name,
                        target.node_relation.relation_name, join_alias, entity_expr(target, entity))
        return target, step

    # --- resolution ----------------------------------------------------------------------------
    def resolve(self, model_name: str, item: ItemName) -> ResolvedItem:
        """Bind `item` as seen from the semantic model `model_name`, or say why it cannot be."""
        try:
            return self._resolve(model_name, item)
        except QueryError as exc:
            hint = suggest(item.column_name(), self.available(model_name))
            raise QueryError(f"'{item}' is not available for semantic model '{model_name}': {exc}"
                             f"{hint}") from None

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
        current, alias, joins = model, "src", []
        path = item.entity_path
        for i, entity in enumerate(path[:-1]):
            current, step = self._hop(current, alias, entity, path[: i + 1], None)
            joins.append(step)
            alias = step.alias
        last = path[-1]
        local = entity_type(current, last) in PRIMARY_LIKE and (
            dimension(current, item.element) is not None)
        if not local:
            if entity_type(current, last) is None:
                raise QueryError(f"semantic model '{current.name}' has no entity '{last}'")
            current, step = self._hop(current, alias, last, path, item.element)
            joins.append(step)
            alias = step.alias
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
