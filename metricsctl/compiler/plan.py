"""The plan: each requested metric as an expression tree over measure instances, instances in scans.

A *measure instance* is one measure with everything that changes its value (filters, a time offset, a
cumulative window, a conversion, a time-spine join). Instances that can be computed by the same
aggregation over the same semantic model are grouped into one *scan*; ratio and derived metrics are
computed from the scans' columns in the outer select, never by joining a relation to itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from metricsctl.errors import QueryError
from metricsctl.names import METRIC_TIME, STANDARD_GRAINS, SUBDAILY_GRAINS, ItemName
from metricsctl.spec import Spec


@dataclass(frozen=True)
class Window:
    count: int
    grain: str

    def __str__(self) -> str:
        return f"{self.count} {self.grain}"


@dataclass(frozen=True)
class Offset:
    window: Window | None = None
    to_grain: str | None = None


@dataclass(frozen=True)
class Cumulative:
    window: Window | None = None
    grain_to_date: str | None = None
    period_agg: str = "first"


@dataclass(frozen=True)
class Conversion:
    """The conversions half of a conversion metric; the instance's measure is the conversion measure."""

    base_model: str
    base_measure: str
    entity: str
    window: Window | None
    constant_properties: tuple[tuple[str, str], ...]
    conversion_filters: tuple[str, ...]


@dataclass(frozen=True)
class MeasureInstance:
    measure: str
    model: str
    filters: tuple[str, ...] = ()
    offset: Offset | None = None
    cumulative: Cumulative | None = None
    conversion: Conversion | None = None
    join_to_timespine: bool = False
    # (dimension, window choice, window groupings) of a semi-additive measure
    semi_additive: tuple[str, str, tuple[str, ...]] | None = None
    agg_time_dimension: str = ""

    @property
    def is_plain(self) -> bool:
        """Aggregated straight from its model's rows, with no time spine, window or attribution."""
        return (self.conversion is None and self.cumulative is None and self.offset is None
                and self.semi_additive is None and not self.join_to_timespine)

    @property
    def scan_key(self) -> tuple[Any, ...]:
        """Instances with equal keys are aggregated by one scan."""
        return (self.model, self.filters, self.offset, self.cumulative, self.conversion,
                self.join_to_timespine, self.semi_additive, self.agg_time_dimension)


@dataclass(frozen=True)
class Leaf:
    instance: MeasureInstance
    fill_nulls_with: int | float | None = None


@dataclass(frozen=True)
class Ratio:
    numerator: Node
    denominator: Node


@dataclass(frozen=True)
class Derived:
    expr: str
    inputs: tuple[tuple[str, Node], ...]


Node = Union[Leaf, Ratio, Derived]  # noqa: UP007  (a runtime alias, Python 3.10 included)


@dataclass
class Plan:
    """Metric name -> expression tree; instances in first-seen order, named for their columns."""

    metrics: dict[str, Node] = field(default_factory=dict)
    instances: dict[MeasureInstance, str] = field(default_factory=dict)
    # (entity, time dimension) names that mean metric_time for every instance: a measure's own
    # aggregation time, named through its model's primary entity (`order__ordered_at`)
    time_aliases: frozenset[tuple[str, str]] = frozenset()
    names: set[str] = field(default_factory=set)  # the instances' column names

    def add_instance(self, instance: MeasureInstance) -> None:
        if instance in self.instances:
            return
        name = instance.measure
        n = 1
        while name in self.names:
            n += 1
            name = f"{instance.measure}__{n}"
        self.instances[instance] = name
        self.names.add(name)

    def scans(self) -> list[list[MeasureInstance]]:
        """Instances grouped by scan key, in first-seen order."""
        groups: dict[tuple[Any, ...], list[MeasureInstance]] = {}
        for instance in self.instances:
            groups.setdefault(instance.scan_key, []).append(instance)
        return list(groups.values())


def filter_templates(where: Any) -> tuple[str, ...]:
    """The where-filter templates of a spec filter (None: none)."""
    if where is None:
        return ()
    return tuple(f.where_sql_template for f in where.where_filters)


def window_of(value: Any, metric: str = "", what: str = "window", sub_daily: bool = True,
              custom: frozenset[str] = frozenset()) -> Window | None:
    """A window or offset in a unit a time spine can step by (millisecond to year; `sub_daily=False`:
    day to year; and the `custom` granularities), or refused."""
    if value is None:
        return None
    window = Window(int(value.count), str(getattr(value.granularity, "value", value.granularity)).lower())
    units = (*SUBDAILY_GRAINS, *STANDARD_GRAINS) if sub_daily else STANDARD_GRAINS
    if window.grain not in units and window.grain not in custom:
        raise QueryError(f"metric '{metric}': a {what} of {window} is not supported; it is answered in "
                         f"{', '.join(units)}")
    return window


def grain_of(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value)).lower()


def as_metric_time(item: ItemName, aliases: frozenset[tuple[str, str]]) -> ItemName:
    """`order__ordered_at__month` as metric_time at month, still named as asked, when it is an alias."""
    if len(item.entity_path) != 1 or (item.entity_path[0], item.element) not in aliases:
        return item
    return ItemName(METRIC_TIME, (), item.grain, item.date_part, (item.entity_path[0], item.element))


def primary_entity(model: Any) -> str | None:
    """The entity a model's own dimensions are named through."""
    return model.primary_entity or next(
        (e.name for e in model.entities if str(e.type.value) in ("primary", "unique", "natural")), None)


class Planner:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec

    def plan(self, metric_names: tuple[str, ...], query_filters: tuple[str, ...]) -> Plan:
        plan = Plan()
        for name in metric_names:
            plan.metrics[name] = self._metric(plan, name, query_filters, None, (name,))
        plan.time_aliases = self._time_aliases(plan)
        return plan

    def _time_aliases(self, plan: Plan) -> frozenset[tuple[str, str]]:
        """As MetricFlow answers it, a measure's own time dimension is its metric_time: an offset or a
        window grouped by `order__ordered_at__month` moves along the time spine, not along the rows.
        Plain aggregates read the same value either way, so the names are kept as they are for them."""
        if all(i.is_plain for i in plan.instances):
            return frozenset()
        names: set[tuple[str, str]] | None = None
        for instance in plan.instances:
            entity = primary_entity(self.spec.measure(instance.measure).model)
            own = {(entity, instance.agg_time_dimension)} if entity else set()
            names = own if names is None else names & own
        return frozenset(names or ())

    def _measure(self, plan: Plan, measure_input: Any, filters: tuple[str, ...], offset: Offset | None,
                 cumulative: Cumulative | None = None) -> Leaf:
        ref = self.spec.measure(measure_input.name)
        nad = ref.measure.non_additive_dimension
        semi_additive = None if nad is None else (
            str(nad.name), str(nad.window_choice.value), tuple(str(g) for g in nad.window_groupings or ()))
        instance = MeasureInstance(
            measure=ref.measure.name, model=ref.model.name,
            filters=tuple(dict.fromkeys(filters + filter_templates(measure_input.filter))),
            offset=offset, cumulative=cumulative,
            join_to_timespine=bool(measure_input.join_to_timespine),
            semi_additive=semi_additive, agg_time_dimension=ref.agg_time_dimension)
        plan.add_instance(instance)
        return Leaf(instance, measure_input.fill_nulls_with)

    def _metric(self, plan: Plan, name: str, filters: tuple[str, ...], offset: Offset | None,
                stack: tuple[str, ...]) -> Node:
        metric = self.spec.metric(name)
        filters = tuple(dict.fromkeys(filters + filter_templates(metric.filter)))
        params = metric.type_params
        kind = str(metric.type.value)
        if kind == "simple":
            return self._measure(plan, params.measure, filters, offset)
        if kind == "ratio":
            return Ratio(self._input(plan, params.numerator, filters, offset, stack),
                         self._input(plan, params.denominator, filters, offset, stack))
        if kind == "derived":
            inputs = tuple((inp.alias or inp.name, self._input(plan, inp, filters, offset, stack))
                           for inp in params.metrics)
            return Derived(str(params.expr), inputs)
        if kind == "cumulative":
            cp = params.cumulative_type_params
            cumulative = Cumulative(
                window=window_of(cp.window if cp else None, name) or window_of(params.window, name),
                grain_to_date=grain_of(cp.grain_to_date if cp else None) or grain_of(params.grain_to_date),
                period_agg=grain_of(cp.period_agg if cp else None) or "first")
            return self._measure(plan, params.measure, filters, offset, cumulative)
        if kind == "conversion":
            cp = params.conversion_type_params
            base = self._measure(plan, cp.base_measure, filters, offset)
            conv_ref = self.spec.measure(cp.conversion_measure.name)
            conversion = Conversion(
                base_model=base.instance.model, base_measure=base.instance.measure,
                entity=str(cp.entity), window=window_of(cp.window, name, "conversion window", sub_daily=False),
                constant_properties=tuple((c.base_property, c.conversion_property)
                                          for c in (cp.constant_properties or [])),
                conversion_filters=filter_templates(cp.conversion_measure.filter))
            conv_instance = MeasureInstance(
                measure=conv_ref.measure.name, model=conv_ref.model.name,
                filters=base.instance.filters, offset=offset, conversion=conversion,
                agg_time_dimension=conv_ref.agg_time_dimension)
            plan.add_instance(conv_instance)
            conversions = Leaf(conv_instance, cp.conversion_measure.fill_nulls_with)
            if str(cp.calculation.value) == "conversions":
                return conversions
            return Ratio(conversions, base)
        raise QueryError(f"metric '{name}' has unsupported type '{kind}'")

    def _input(self, plan: Plan, metric_input: Any, filters: tuple[str, ...], offset: Offset | None,
               stack: tuple[str, ...]) -> Node:
        if metric_input.name in stack:
            raise QueryError(f"metric '{stack[0]}' refers to itself through {' -> '.join(stack)}")
        inner = Offset(window_of(metric_input.offset_window, stack[-1], "offset_window",
                                 custom=self.spec.custom_grains),
                       grain_of(metric_input.offset_to_grain))
        if inner.to_grain is not None and inner.to_grain not in (*SUBDAILY_GRAINS, *STANDARD_GRAINS):
            raise QueryError(f"metric '{stack[-1]}': offset_to_grain {inner.to_grain} is not supported; it is "
                             f"answered for {', '.join((*SUBDAILY_GRAINS, *STANDARD_GRAINS))}")
        if inner.window is None and inner.to_grain is None:
            combined = offset
        elif offset is None:
            combined = inner
        else:
            raise QueryError(f"metric '{stack[-1]}': an offset inside an offset input is not supported")
        return self._metric(plan, metric_input.name, filters + filter_templates(metric_input.filter), combined,
                            (*stack, metric_input.name))
