"""Plan -> one sqlglot SELECT: a CTE per scan, then the outer select that combines and computes.

Every scan outputs the query's group-by columns (named as `mf query` names them) and one column per
measure instance. Scans are combined on the group-by keys (null-safe), and ratio and derived metrics
are computed from those columns in the outer select.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp

from metricsctl import settings
from metricsctl.compiler import conversions, windows
from metricsctl.compiler.chains import Chain, chains, projections, read_through, rewrite
from metricsctl.compiler.dialects import date_part, percentile, to_sql
from metricsctl.compiler.filters import MetricCall, ParsedFilter, parse_filter
from metricsctl.compiler.items import ItemResolver
from metricsctl.compiler.nodes import find_all
from metricsctl.compiler.plan import (
    Cumulative,
    Derived,
    Leaf,
    MeasureInstance,
    Node,
    Offset,
    Plan,
    Planner,
    Ratio,
    Window,
    as_metric_time,
    primary_entity,
)
from metricsctl.compiler.preaggregate import grouped_first, grouped_on_raw_days
from metricsctl.compiler.presence import presence
from metricsctl.compiler.query import MetricQuery
from metricsctl.compiler.regroup import count_from_groups
from metricsctl.compiler.shared import share_scans
from metricsctl.compiler.stacking import KEYED_DIALECTS, RAW_DAY_DIALECTS, stack_on_keys
from metricsctl.compiler.writer import text
from metricsctl.errors import QueryError
from metricsctl.graph import (
    JoinStep,
    ResolvedItem,
    SemanticGraph,
    dimension,
    dimension_grain,
    entity_expr,
    entity_type,
)
from metricsctl.names import (
    METRIC_TIME,
    SEP,
    STANDARD_GRAINS,
    SUBDAILY_GRAINS,
    ItemName,
    grain_rank,
    parse_item_name,
)
from metricsctl.spec import Spec, TimeSpine, suggest

DAY = "__day"  # a row's time at the time spine's grain (a day, or an hour, ... for a finer spine)
SPINE = "time_spine"
STEPPED_GRAINS = (*SUBDAILY_GRAINS, *STANDARD_GRAINS)  # grains a time spine's rows can be truncated to
Ref = ItemName | MetricCall  # what a filter placeholder stands for


# --- small expression helpers ------------------------------------------------------------------

# the arguments of each type (plain values): building a type from text parses it, every time
_TYPES = {name: dict(exp.DataType.build(name).args) for name in ("BIGINT", "DATE", "DOUBLE", "TIMESTAMP", "VARCHAR")}


def cast(value: exp.Expr, type_name: str) -> exp.Expr:
    """CAST with a prebuilt type."""
    return exp.Cast(this=value, to=exp.DataType(**_TYPES[type_name]))


def new_select(*projections: exp.Expr) -> exp.Select:
    """`SELECT projections`, as `exp.select(*projections)` builds it, without copying an empty query first."""
    return exp.Select(expressions=list(projections))


def rebuilt(node: exp.Expr) -> exp.Expr:
    """A copy of `node`; a node of plain values and identifiers (a column, a table) is built afresh, which
    costs a fraction of a deep copy."""
    args: dict[str, object] = {}
    for key, value in node.args.items():
        if isinstance(value, exp.Identifier) and set(value.args) <= {"this", "quoted"} and not value.comments:
            args[key] = exp.Identifier(**value.args)
        elif value is None or isinstance(value, (str, bool)):
            args[key] = value
        else:
            return node.copy()
    if node.comments:
        return node.copy()
    return type(node)(**args)


def named_table(name: str) -> exp.Table:
    """A CTE or table named by a plain identifier, without parsing."""
    return exp.Table(this=exp.to_identifier(name))

_JOIN_PARTS: dict[str, dict[str, str]] = {"LEFT": {"side": "LEFT"}, "INNER": {"kind": "INNER"},
                                         "CROSS": {"kind": "CROSS"}, "ASOF": {"method": "ASOF"}}


def joined(join_type: str, table: exp.Expr | str) -> exp.Join:
    """A join of `table` (a CTE's name, or a relation), built without parsing its type."""
    source = named_table(table) if isinstance(table, str) else table
    return exp.Join(this=source, **_JOIN_PARTS[join_type])


def with_ctes(select: exp.Select, ctes: list[tuple[str, exp.Expr]]) -> exp.Select:
    """`WITH name AS (body), ...` before `select`, built without parsing the names (as `with_` does)."""
    if ctes:
        select.set("with_", exp.With(expressions=[
            exp.CTE(this=body, alias=exp.TableAlias(this=exp.to_identifier(name))) for name, body in ctes]))
    return select


def column(name: str, table: str | None = None) -> exp.Column:
    """`table.name`, both unquoted, written as `exp.column(name, table=table, quoted=False)` writes it: the
    names are kept as text, not as identifier nodes (sqlglot writes a text part as it is, as it writes an
    unquoted identifier), which spares two of a column's three nodes (BENCHMARKS.md, section 3)."""
    return exp.Column(this=name, table=table)


def trunc(grain: str, value: exp.Expr) -> exp.Expr:
    """DATE_TRUNC, rendered per dialect by sqlglot (TRUNC on Spark, DATE_TRUNC(x, MONTH) on BigQuery);
    a sub-daily grain truncates a timestamp (TIMESTAMP_TRUNC on BigQuery, whose DATE_TRUNC takes dates only)."""
    if grain in SUBDAILY_GRAINS:
        return exp.TimestampTrunc(this=value, unit=exp.Var(this=grain.upper()))
    truncated: exp.Expr = exp.DateTrunc(this=value, unit=exp.Var(this=grain.upper()))  # type: ignore[no-untyped-call]
    return truncated


def as_date(value: exp.Expr) -> exp.Expr:
    return cast(value, "DATE")


def interval(window: Window) -> exp.Interval:
    return exp.Interval(this=exp.Literal.string(str(window.count)), unit=exp.Var(this=window.grain.upper()))


def null_safe_eq(left: exp.Expr, right: exp.Expr) -> exp.Expr:
    return exp.NullSafeEQ(this=left, expression=right)


def and_all(conditions: list[exp.Expr]) -> exp.Expr | None:
    return exp.and_(*conditions, copy=False) if conditions else None


def alias(value: exp.Expr, name: str) -> exp.Expr:
    """`value AS name`, unquoted, as `exp.alias_(value, name, quoted=False, copy=False)` builds it."""
    if "alias" in value.arg_types and not isinstance(value, exp.Window):
        value.set("alias", exp.Identifier(this=name, quoted=False))
        return value
    return exp.Alias(this=value, alias=name)  # the name as text, as in `column`


STACKED_CELLS = 400  # scans x measure columns up to which scans are combined by stacking them
# where a column of NULLs takes the type of the other rows it is stacked with; PostgreSQL types two NULLs
# stacked first as text, and BigQuery a NULL as INT64, before they meet the typed rows
STACKED_DIALECTS = frozenset({"duckdb", "spark", "databricks", "snowflake", "trino"})
# engines where `WITH x AS MATERIALIZED (...)` computes x once for all its readers (shared.py); Spark and
# others inline a CTE into each reader, so there each scan keeps reading its relation itself
MATERIALIZED_DIALECTS = frozenset({"duckdb", "postgres"})


@dataclass(frozen=True)
class TimeItem:
    """A metric_time group-by or filter item at a grain, custom grain or date part."""

    item: ItemName

    @property
    def column(self) -> str:
        return self.item.column_name()


@dataclass
class ScanSource:
    """FROM a semantic model's relation, with the joins its items need (deduplicated by alias)."""

    compiler: SqlCompiler
    model: Any
    joins: dict[str, JoinStep] = field(default_factory=dict)
    spine_joins: dict[str, tuple[str, exp.Expr]] = field(default_factory=dict)
    metric_joins: dict[MetricCall, tuple[str, exp.Expr, exp.Expr]] = field(default_factory=dict)
    time: exp.Expr | None = None  # the row's time, for joins on an SCD model's validity window
    # stores a chain of hops joined once (chains.py) as a CTE, and names it; None: joined hop by hop
    add_chain: Callable[[str, exp.Select], str] | None = None

    def qualify(self, sql: str, table: str) -> exp.Expr:
        return self.compiler.qualify(sql, table)

    def item(self, resolved: ResolvedItem) -> exp.Expr:
        for step in resolved.joins:
            self.joins.setdefault(step.alias, step)
        value = self.qualify(resolved.expr, resolved.alias)
        if resolved.is_time:
            return self.compiler.time_value(resolved.name, value, self)
        return value

    def metric(self, call: MetricCall, bind: Callable[[ItemName], exp.Expr]) -> exp.Expr:
        """`{{ Metric('revenue', group_by=['customer']) }}`: the metric per entity, joined to the rows."""
        if call not in self.metric_joins:
            if not call.group_by:
                raise QueryError(f"Metric('{call.metric}') in a filter needs group_by=[...] naming the "
                                 "entity it is joined on")
            compiled = self.compiler.compile(MetricQuery((call.metric,), call.group_by))
            name = f"metric_filter_{len(self.metric_joins) + 1}"
            on = and_all([exp.EQ(this=self.join_key(parse_item_name(g, self.compiler.custom_grains), bind),
                                 expression=column(parse_item_name(g).column_name(), name))
                          for g in call.group_by])
            assert on is not None
            self.metric_joins[call] = (name, exp.Subquery(this=compiled.expression,
                                                          alias=exp.TableAlias(this=exp.to_identifier(name))), on)
        return column(call.metric, self.metric_joins[call][0])

    def join_key(self, item: ItemName, bind: Callable[[ItemName], exp.Expr]) -> exp.Expr:
        """A metric filter's group-by item on these rows; an entity named through the metric's own model
        (`view__listing`, MetricFlow's local entity prefix) is joined on the entity itself."""
        try:
            return bind(item)
        except QueryError:
            if not item.entity_path or entity_type(self.model, item.element) is None:
                raise
            return bind(ItemName(item.element))

    def custom_grain(self, grain: str, value: exp.Expr) -> exp.Expr:
        """Custom granularities live in the time spine: join it on the day and read its column."""
        key = text(as_date(trunc("day", value)))
        if key not in self.spine_joins:
            self.spine_joins[key] = (f"{SPINE}_{len(self.spine_joins) + 1}", as_date(trunc("day", value)))
        spine_alias = self.spine_joins[key][0]
        return column(self.compiler.spine.custom_grains[grain], spine_alias)

    def join_condition(self, step: JoinStep) -> exp.Expr:
        """The entity, every partition both models share, and an SCD model's validity window."""
        conditions: list[exp.Expr] = [exp.EQ(this=self.qualify(step.left_expr, step.left_alias),
                                             expression=self.qualify(step.right_expr, step.alias))]
        conditions += [exp.EQ(this=self.qualify(left, step.left_alias), expression=self.qualify(right, step.alias))
                       for left, right in step.partitions]
        if step.validity is not None:
            if self.time is None:
                raise QueryError(f"'{step.model}' is a slowly changing dimension (validity_params): its "
                                 "values are joined on a measure's time, so query it with a metric")
            start, end = step.validity
            conditions.append(exp.GTE(this=self.time.copy(), expression=self.qualify(start, step.alias)))
            if end is not None:
                end_value = self.qualify(end, step.alias)
                conditions.append(exp.paren(exp.or_(exp.LT(this=self.time.copy(), expression=end_value),
                                                    exp.Is(this=end_value.copy(), expression=exp.Null()))))
        return exp.and_(*conditions, copy=False) if len(conditions) > 1 else conditions[0]

    def from_(self, select: exp.Select, conditions: list[exp.Expr] | None = None,
              group_by: list[exp.Expr] | None = None) -> exp.Select:
        """`select` FROM the model's rows with the joins its items need, WHERE `conditions`, GROUP BY
        `group_by`; called once everything is bound, since binding adds joins."""
        select = select.from_(self.compiler.relation(self.model.node_relation.relation_name, "src"), copy=False)
        where = and_all(conditions or [])
        if where is not None:
            select = select.where(where, copy=False)
        if group_by:
            select = select.group_by(*group_by, copy=False)
        found = chains(list(self.joins.values()), "src") if self.add_chain is not None else []
        chained = {h.alias for c in found for h in c.hops}
        by_root = {c.root.alias: c for c in found}
        placed: list[tuple[Chain, exp.Table]] = []
        for step in self.joins.values():
            if step.alias in chained:
                continue
            table = self.compiler.relation(step.relation, step.alias)
            if step.alias in by_root:  # named once the whole select shows what it reads of the chain
                table = exp.Table(this=exp.to_identifier(step.alias),
                                  alias=exp.TableAlias(this=exp.to_identifier(step.alias)))
                placed.append((by_root[step.alias], table))
            select = select.join(joined("LEFT", table), on=self.join_condition(step), copy=False)
        for spine_alias, day in self.spine_joins.values():
            on = exp.EQ(this=column(self.compiler.spine.day_column, spine_alias), expression=day)
            spine = self.compiler.relation(self.compiler.spine.relation, spine_alias)
            select = select.join(joined("LEFT", spine), on=on, copy=False)
        for _, subquery, metric_on in self.metric_joins.values():
            select = select.join(joined("LEFT", subquery), on=metric_on, copy=False)
        for chain, table in placed:
            names = read_through(select, chain)
            table.set("this", exp.to_identifier(self.chain_cte(chain, names)))
            rewrite(select, chain, names)
        return select

    def chain_cte(self, chain: Chain, names: dict[tuple[str, str], exp.Identifier]) -> str:
        """The chain's hops joined over its first hop's model, projecting the columns read of it."""
        body = new_select(*projections(names)).from_(
            self.compiler.relation(chain.root.relation, chain.root.alias), copy=False)
        for hop in chain.hops:
            body = body.join(joined("LEFT", self.compiler.relation(hop.relation, hop.alias)),
                             on=self.join_condition(hop), copy=False)
        assert self.add_chain is not None
        return self.add_chain(chain.name, body)


@dataclass(frozen=True)
class Compiled:
    """A compiled query: the expression, its output columns, and SQL for any dialect."""

    expression: exp.Select
    columns: tuple[str, ...]
    dialect: str

    def sql(self, dialect: str | None = None, pretty: bool = True) -> str:
        return to_sql(self.expression, dialect or self.dialect, pretty=pretty)


class SqlCompiler:
    """Compiles metric queries against one spec into sqlglot expressions."""

    def __init__(self, spec: Spec, dialect: str = "duckdb", source_dialect: str | None = None,
                 relations: dict[str, str] | None = None) -> None:
        """`relations` renames warehouse relations (e.g. to placeholders that become dbt refs)."""
        self.spec = spec
        self.relations = relations or {}
        self.dialect = dialect
        self.source_dialect = source_dialect or dialect
        self.graph = SemanticGraph(spec)
        self.items = ItemResolver(spec, self.graph)
        self.custom_grains = spec.custom_grains
        self._filters: dict[str, ParsedFilter] = {}
        self._parsed: dict[str, exp.Expr] = {}  # model expressions, parsed once
        self.derived: dict[str, exp.Expr] = {}  # derived metrics' expressions, parsed and divisions rewritten
        self._time_columns: dict[str, tuple[list[exp.Expr], set[str]]] = {}
        self._tables: dict[str, exp.Table] = {}  # relations, parsed once
        self._read_names: dict[str, str] | None = None  # a model's relation (as SQL) -> its shared read's name
        self._qualified: dict[tuple[str, str], exp.Expr] = {}  # (expression, table alias) -> qualified
        # (expression, table alias) -> the names and quoting of a qualified plain column (None: not one)
        self._plain_columns: dict[tuple[str, str], list[tuple[str, bool]] | None] = {}
        self._plans: dict[tuple[tuple[str, ...], tuple[str, ...]], Plan] = {}  # (metrics, filters) -> plan

    # --- shared helpers ------------------------------------------------------------------------
    @property
    def spine(self) -> Any:
        return self.spec.time_spine

    def read_name(self, relation: exp.Table) -> str | None:
        """The name of the shared read (`<model>_read`) of the semantic model whose relation (without alias)
        `relation` is; None for a relation no semantic model reads."""
        if self._read_names is None:
            self._read_names = {}
            for model in self.graph.models.values():
                self._read_names.setdefault(text(self.relation(model.node_relation.relation_name)),
                                            f"{model.name}_read")
        return self._read_names.get(text(relation))

    def relation(self, relation_name: str, table_alias: str | None = None) -> exp.Table:
        """A warehouse relation (its text parsed once per compiler), `AS table_alias` when given."""
        table = self._tables.get(relation_name)
        if table is None:
            if relation_name in self.relations:
                table = exp.to_table(self.relations[relation_name])
            else:
                table = exp.to_table(relation_name, dialect=self.source_dialect)
            self._tables[relation_name] = table
        fresh = rebuilt(table)
        assert isinstance(fresh, exp.Table)
        if table_alias is not None:  # as exp.alias_(fresh, table_alias, table=True) sets it
            fresh.set("alias", exp.TableAlias(this=exp.to_identifier(table_alias)))
        return fresh

    def qualify(self, sql: str, table: str) -> exp.Expr:
        """Parse a model's SQL expression and qualify its bare columns with the model's alias."""
        key = (sql, table)
        if key not in self._qualified:
            value = self.parsed(sql, "expression")
            for col in find_all(value, exp.Column):
                if not col.table:
                    col.set("table", exp.to_identifier(table))
            if isinstance(value, exp.Column) and not value.table:
                value.set("table", exp.to_identifier(table))
            self._qualified[key] = value
            parts = [value.args.get("this"), value.args.get("table")]
            plain = isinstance(value, exp.Column) and set(value.args) <= {"this", "table"} and all(
                isinstance(i, exp.Identifier) and set(i.args) <= {"this", "quoted"} for i in parts)
            self._plain_columns[key] = [(i.this, i.quoted) for i in parts if i is not None] if plain else None
        plain_parts = self._plain_columns[key]
        if plain_parts is not None:  # a plain column, the common case: built afresh, cheaper than a deep copy
            (name, quoted), (table_name, table_quoted) = plain_parts
            return exp.Column(this=exp.Identifier(this=name, quoted=True) if quoted else name,
                              table=exp.Identifier(this=table_name, quoted=True) if table_quoted else table_name)
        return self._qualified[key].copy()

    def parsed(self, sql: str, what: str, copy: bool = True) -> exp.Expr:
        """A model's or a derived metric's SQL expression, parsed once per compiler; a copy to rewrite (or, with
        `copy=False`, the one kept, to read only)."""
        if sql not in self._parsed:
            try:
                self._parsed[sql] = sqlglot.parse_one(sql, read=self.source_dialect)
            except sqlglot.errors.ParseError as exc:
                raise QueryError(f"{what} {sql!r} is not valid SQL: {exc.errors[0]['description']}") from None
        return self._parsed[sql].copy() if copy else self._parsed[sql]

    def filter(self, template: str) -> ParsedFilter:
        if template not in self._filters:
            self._filters[template] = parse_filter(template, self.source_dialect, self.custom_grains)
        return self._filters[template]

    def time_value(self, item: ItemName, value: exp.Expr, source: ScanSource | None,
                   spine_alias: str | None = None) -> exp.Expr:
        """A time expression at the item's grain, custom grain or date part."""
        if item.date_part:
            return date_part(item.date_part, value, self.dialect)
        grain = item.grain or "day"
        if grain in STANDARD_GRAINS or grain in SUBDAILY_GRAINS:
            return trunc(grain, value)
        if grain in self.custom_grains:
            if spine_alias is not None:
                return column(self.spine.custom_grains[grain], spine_alias)
            if source is None:
                raise QueryError(f"custom granularity '{grain}' needs the time spine")
            return source.custom_grain(grain, value)
        raise QueryError(f"unknown time granularity '{grain}'"
                         f"{suggest(grain, [*STANDARD_GRAINS, *self.custom_grains])}")

    def groups_rows_first(self, model_name: str) -> bool:
        """The semantic model asks for its rows to be grouped before dimensions are joined to them
        (`config: {meta: {metricsctl: {group_rows_first: true}}}`): a gain where many rows share a day and
        a key, as in a daily snapshot per employee, and a loss where they hardly do."""
        config = getattr(self.graph.models[model_name], "config", None)
        return settings.of_object(config).get("group_rows_first") is True

    def time_columns(self, model_name: str) -> tuple[list[exp.Expr], set[str]]:
        """A model's time dimensions at day grain or coarser, qualified on `src`, and the columns that its
        finer time dimensions read."""
        if model_name not in self._time_columns:
            atoms: list[exp.Expr] = []
            fine: set[str] = set()
            for dim in self.graph.models[model_name].dimensions:
                if str(dim.type.value) != "time":
                    continue
                value = self.qualify(str(dim.expr or dim.name), "src")
                if dimension_grain(dim) in SUBDAILY_GRAINS:
                    fine |= {c.name for c in find_all(value, exp.Column)}
                elif value not in atoms:
                    atoms.append(value)
            self._time_columns[model_name] = (atoms, fine)
        return self._time_columns[model_name]

    def measure_grain(self, measure: str) -> str:
        """The granularity of a measure's aggregation time dimension (`day` when it names none)."""
        ref = self.spec.measure(measure)
        dim = dimension(ref.model, ref.agg_time_dimension)
        return dimension_grain(dim) if dim is not None else "day"

    def measure_time(self, measure: str, model: Any, table: str = "src") -> exp.Expr:
        ref = self.spec.measure(measure)
        name = ref.agg_time_dimension
        dim = dimension(model, name)
        if dim is None:
            raise QueryError(f"semantic model '{model.name}' has no time dimension '{name}'")
        return self.qualify(str(dim.expr or dim.name), table)

    def aggregate(self, instance: MeasureInstance, value: exp.Expr) -> exp.Expr:
        measure = self.spec.measure(instance.measure).measure
        agg = str(measure.agg.value)
        if agg == "sum":
            return exp.Sum(this=value)
        if agg == "count":
            return exp.Count(this=value)
        if agg == "count_distinct":
            return exp.Count(this=exp.Distinct(expressions=[value]))
        if agg == "sum_boolean":
            return exp.Sum(this=exp.Case(ifs=[exp.If(this=value, true=exp.Literal.number(1))],
                                         default=exp.Literal.number(0)))
        if agg == "average":
            return exp.Avg(this=value)
        if agg == "min":
            return exp.Min(this=value)
        if agg == "max":
            return exp.Max(this=value)
        if agg == "median":
            return percentile(value, 0.5, False, self.dialect)
        if agg == "percentile":
            params = measure.agg_params
            if params is None or params.percentile is None:
                raise QueryError(f"measure '{measure.name}' needs agg_params.percentile")
            return percentile(value, float(params.percentile), bool(params.use_discrete_percentile),
                              self.dialect)
        raise QueryError(f"measure '{measure.name}' has unsupported aggregation '{agg}'")

    def measure_value(self, instance: MeasureInstance, table: str = "src") -> exp.Expr:
        measure = self.spec.measure(instance.measure).measure
        return self.qualify(str(measure.expr or measure.name), table)

    # --- the query -----------------------------------------------------------------------------
    def compile(self, query: MetricQuery, since: exp.Expr | None = None) -> Compiled:
        """`since`: the start of the first period to compute, at the grain of the query's metric_time (a
        constant, so that each source's time is compared with it as it is), instead of the query's start_time."""
        if not query.metrics and not query.group_by:
            raise QueryError("no metrics given and nothing to group by; pass --metrics a,b or --group-by a,b")
        key = (query.metrics, query.where)
        plan = self._plans.get(key)
        if plan is None:  # read only from here on: a query by another grain of the same metrics reuses it
            plan = self._plans[key] = Planner(self.spec).plan(query.metrics, query.where)
        items = self.items.group_by_items(query, plan)
        builder = _QueryBuilder(self, plan, items, query, since)
        if not query.metrics:
            return builder.values(self.items.values_model(items))
        return builder.build()


class _QueryBuilder:
    """Builds the CTEs of one query; one instance per compile call."""

    def __init__(self, compiler: SqlCompiler, plan: Plan, items: list[ItemName], query: MetricQuery,
                 since: exp.Expr | None = None) -> None:
        self.c = compiler
        self.since = since
        self.plan = plan
        self.items = items
        self.query = query
        self.ctes: list[tuple[str, exp.Expr]] = []
        self.cte_names: set[str] = set()  # the names in `ctes`
        self.shared: dict[str, str] = {}  # a shared CTE's SQL -> its name
        self.staged: dict[tuple[Any, ...], tuple[str, bool]] = {}
        self.staged_scans: dict[tuple[Any, ...], tuple[str, list[ItemName]]] = {}
        self.time_items = [i for i in items if i.is_metric_time]
        self.spines: dict[str, TimeSpine] = {}  # by the grain a scan needs
        self.other_items = [i for i in items if not i.is_metric_time]
        self.columns = [i.column_name() for i in items]
        # (model, filters, time dimension) -> a conversion's base events over those rows (conversion_scan)
        self.base_events: dict[tuple[str, tuple[str, ...], str], str] = {}
        self.on_daily: frozenset[MeasureInstance] = frozenset()  # plain instances read from daily sums
        # the metrics answered only on their own rows, as MetricFlow answers them (presence.py)
        self.presence = presence(plan, bool(items), lambda sql: compiler.parsed(sql, "derived expression", copy=False))

    # --- naming --------------------------------------------------------------------------------
    def cte_name(self, base: str) -> str:
        name, n = base, 1
        while name in self.cte_names:
            n += 1
            name = f"{base}_{n}"
        return name

    def add_cte(self, base: str, body: exp.Expr) -> str:
        name = self.cte_name(base)
        self.ctes.append((name, body))
        self.cte_names.add(name)
        return name

    def add_shared_cte(self, base: str, body: exp.Select) -> str:
        """A CTE that scans reading the same columns of it share: stored once."""
        key = text(body)
        if key not in self.shared:
            self.shared[key] = self.add_cte(base, body)
        return self.shared[key]

    def source(self, model: Any) -> ScanSource:
        """A scan of `model`'s rows; its multi-hop dimension chains are joined once (chains.py)."""
        return ScanSource(self.c, model, add_chain=self.add_shared_cte)

    # --- the time spine ------------------------------------------------------------------------
    def spine_for(self, instance: MeasureInstance | None = None) -> TimeSpine:
        """The time spine a scan steps along, chosen as MetricFlow chooses it: of the project's spines, the
        coarsest that is no coarser than the query's finest metric_time grain, nor than the time of the
        scan's measure when its window or offset is joined to the spine before aggregating (a session timed
        to the second is accumulated by the second), nor than a day. Windows, offsets and spine joins then
        step by that spine's grain (`__day` holds a row's time at it). `instance` None: the query's own
        periods (metric_time alone, a spine fill, an offset joined after aggregating)."""
        needs = [(str(i.grain), f"'{i.column_name()}'") for i in self.time_items
                 if i.grain in SUBDAILY_GRAINS and not i.date_part]
        if instance is not None and self.is_staged(instance):
            grain = self.c.measure_grain(instance.measure)
            if grain in SUBDAILY_GRAINS:
                needs.append((grain, f"metric input '{instance.measure}' (timed at {grain}, its window or offset "
                                     "joined to the time spine before aggregating)"))
        needed, why = min(needs or [("day", "")], key=lambda need: grain_rank(need[0]))
        if needed not in self.spines:
            self.spines[needed] = self.choose_spine(needed, why)
        return self.spines[needed]

    def choose_spine(self, needed: str, why: str) -> TimeSpine:
        spines = self.c.spec.time_spines
        usable = [g for g in spines if g in STEPPED_GRAINS and grain_rank(g) <= grain_rank(needed)]
        if not usable:
            if needed == "day":
                return self.c.spec.time_spine  # raises: the project has no daily time spine
            have = ", ".join(sorted(spines, key=lambda g: grain_rank(g) if g in STEPPED_GRAINS else 99)) or "none"
            raise QueryError(f"{why} needs a time spine by {needed} or finer, and the project's time spines "
                             f"are by {have}: add a time spine model whose standard_granularity_column is at "
                             f"{needed} grain, or group by a coarser grain")
        spine = spines[max(usable, key=grain_rank)]
        custom = [i for i in self.time_items if i.grain in self.c.custom_grains and not i.date_part]
        if custom and spine.grain != "day":
            raise QueryError(f"'{custom[0].column_name()}' is read from the daily time spine and "
                             f"{why} from the {spine.grain} one; a query that reads the time spine "
                             "takes one of them")
        return spine

    @staticmethod
    def at_spine_grain(value: exp.Expr, spine: TimeSpine, grain: str | None = None) -> exp.Expr:
        """`value` truncated to `grain` (the spine's by default), typed as the spine's column: a DATE
        for a daily spine, a TIMESTAMP for a finer one."""
        truncated = trunc(grain or spine.grain, value)
        return as_date(truncated) if spine.grain in STANDARD_GRAINS else cast(truncated, "TIMESTAMP")

    def check_units(self, instance: MeasureInstance) -> None:
        """A window or offset in a sub-daily unit steps along a spine at least that fine, so the query
        groups by metric_time at that unit or finer."""
        units = [w.grain for w in (instance.cumulative.window if instance.cumulative else None,
                                   instance.offset.window if instance.offset else None) if w is not None]
        units += [u for u in (instance.offset.to_grain if instance.offset else None,
                              instance.cumulative.grain_to_date if instance.cumulative else None) if u]
        for unit in units:
            if unit in SUBDAILY_GRAINS and self.time_items and grain_rank(self.spine_for(instance).grain) > \
                    grain_rank(unit):
                raise QueryError(f"metric input '{instance.measure}' steps by {unit}, finer than the query's "
                                 f"metric_time grain: group by metric_time__{unit} (or finer)")

    # --- filters -------------------------------------------------------------------------------
    def filter_items(self, templates: tuple[str, ...]) -> list[ItemName]:
        found: list[ItemName] = []
        for template in templates:
            for _, named in self.c.filter(template).items:
                item = as_metric_time(named, self.plan.time_aliases)
                if item not in found:
                    found.append(item)
        return found

    def filter_metrics(self, templates: tuple[str, ...]) -> list[MetricCall]:
        return list(dict.fromkeys(call for t in templates for _, call in self.c.filter(t).metrics))

    def bind_filters(self, templates: tuple[str, ...], bind: Callable[[Ref], exp.Expr]) -> list[exp.Expr]:
        bound: list[exp.Expr] = []
        for template in templates:
            parsed = self.c.filter(template)
            mapping: dict[str, Ref] = {**{name: as_metric_time(item, self.plan.time_aliases)
                                          for name, item in parsed.items}, **dict(parsed.metrics)}
            expression = parsed.expression.copy()

            def replace(node: exp.Expr, mapping: dict[str, Ref] = mapping) -> exp.Expr:
                if isinstance(node, exp.Column) and not node.table and node.name in mapping:
                    return bind(mapping[node.name]).copy()
                return node

            bound.append(exp.paren(expression.transform(replace, copy=False), copy=False) if not isinstance(
                expression, (exp.EQ, exp.Column)) else expression.transform(replace, copy=False))
        return bound

    def time_constraint(self, day: exp.Expr) -> list[exp.Expr]:
        grain = self.time_items[0].grain if self.time_items and self.time_items[0].grain in STEPPED_GRAINS \
            else "day"
        assert grain is not None
        period = trunc(grain, day)
        conditions: list[exp.Expr] = []
        if self.since is not None:  # a period start: `time >= since` keeps the periods `period >= since` keeps
            conditions.append(exp.GTE(this=day.copy(), expression=self.since.copy()))
        elif self.query.start_time:
            start = trunc(grain, cast(exp.Literal.string(self.query.start_time), "TIMESTAMP"))
            conditions.append(exp.GTE(this=period, expression=start))
        if self.query.end_time:
            end = trunc(grain, cast(exp.Literal.string(self.query.end_time), "TIMESTAMP"))
            conditions.append(exp.LTE(this=period, expression=end))
        return conditions

    # --- resolution ----------------------------------------------------------------------------
    def resolve(self, model: Any, item: ItemName) -> ResolvedItem:
        # a filter's item by a shorter entity path is read through the one path that fits, as MetricFlow reads it;
        # a group-by item only where the query reads names so (it names its column by that path: items.py)
        if self.query.shorter_paths or item not in self.items:
            item = self.c.graph.fitting(model.name, item)
        return self.c.graph.resolve(model.name, item)

    def row_binder(self, source: ScanSource, time: exp.Expr) -> Callable[[Ref], exp.Expr]:
        """Items as expressions over a model's rows, metric_time being the measure's own time."""
        source.time = time

        def bind(item: Ref) -> exp.Expr:
            if isinstance(item, MetricCall):
                return source.metric(item, bind)
            if item.is_metric_time:
                return self.c.time_value(item, time, source)
            return source.item(self.resolve(source.model, item))

        return bind

    # --- scans ---------------------------------------------------------------------------------
    def build(self) -> Compiled:
        outputs: list[tuple[str, list[MeasureInstance]]] = []
        plain: dict[tuple[Any, ...], list[list[MeasureInstance]]] = {}
        scans = self.scans()
        self.on_daily = windows.plain_on_daily(self, scans)
        for group in scans:
            if self.is_plain(group[0]) and group[0] not in self.on_daily:
                plain.setdefault(self.plain_key(group), []).append(group)
        done: set[tuple[Any, ...]] = set()
        for group in scans:
            key = self.plain_key(group)
            if group[0] in self.on_daily:
                outputs.append((windows.regrouped(self, group), group))
            elif not self.is_plain(group[0]):
                outputs.append((self.scan(group), group))
            elif key not in done:
                done.add(key)
                groups = plain[key]
                name = self.grouped_scan(key[0], self.plain_select(groups[0]) if len(groups) == 1
                                         else self.conditional_select(groups), f"{key[0]}_agg")
                outputs.append((name, [i for g in groups for i in g]))
        for name, group in outputs:
            if group[0] not in self.on_daily:  # those are read from the daily sums already
                self.from_base_events(name, group)
        return self.combine(outputs)

    def plain_key(self, group: list[MeasureInstance]) -> tuple[Any, ...]:
        """Plain groups of one key share a scan; a group whose rows are checked has a scan of its own."""
        first = group[0]
        own = first.scan_key if self.presence.isolated.intersection(group) else None
        return (first.model, first.agg_time_dimension, own)

    def from_base_events(self, name: str, group: list[MeasureInstance]) -> None:
        """A plain scan of a conversion's base model, with the base measure's filters, aggregated from the
        conversion's base events, which are those rows (same filters, same time bound, same joins) with the
        query's items: the model's rows are read once for both, where a CTE read twice is computed once. The
        scan's CTE `name` is rewritten in place."""
        first = group[0]
        events = self.base_events.get((first.model, first.filters, first.agg_time_dimension))
        if events is None or self.c.dialect not in MATERIALIZED_DIALECTS or self.c.groups_rows_first(first.model) \
                or not all(
                i.is_plain and i.filters == first.filters and i.agg_time_dimension == first.agg_time_dimension
                for i in group):
            return
        bodies = dict(self.ctes)
        base = bodies[events]
        assert isinstance(base, exp.Select)
        aggregates: list[exp.Expr] = []
        for n, instance in enumerate(group):
            value = f"__base_measure_{n}"
            base.select(alias(self.c.measure_value(instance), value), append=True, copy=False)
            aggregates.append(alias(self.c.aggregate(instance, column(value, events)), self.plan.instances[instance]))
        keys = [column(c, events) for c in self.columns]
        select = new_select(*[k.copy() for k in keys], *aggregates).from_(named_table(events), copy=False)
        if keys:
            select = select.group_by(*keys, copy=False)
        del self.ctes[[n for n, _ in self.ctes].index(name)]  # and placed after the events it reads
        self.ctes.insert([n for n, _ in self.ctes].index(events) + 1, (name, select))

    def grouped_scan(self, model_name: str, select: exp.Select, name: str) -> str:
        """`select` as the CTE `name`, over the model's rows grouped first when that gives the same answer
        (preaggregate.py): the dimensions are then joined to the groups, not to every row."""
        if not self.c.groups_rows_first(model_name):
            return self.add_cte(name, select)
        atoms, fine = self.c.time_columns(model_name)
        grouped = grouped_first(select, atoms, fine, raw_days=self.c.dialect in RAW_DAY_DIALECTS)
        if grouped is None:
            return self.add_cte(name, select)
        return self.add_cte(name, grouped.outer(self.add_cte(f"{model_name}_grouped", grouped.inner)))

    def scans(self) -> list[list[MeasureInstance]]:
        """The plan's scans; a distinct count counted once per value (`counted_once`) is a scan of its own."""
        scans: list[list[MeasureInstance]] = []
        for group in self.plan.scans():
            rest = [i for i in group if not self.counted_once(i)]
            scans += [rest] if rest else []
            scans += [[i] for i in group if self.counted_once(i)]
        return scans

    @staticmethod
    def is_plain(instance: MeasureInstance) -> bool:
        """Aggregated straight from the rows: any number of these share one scan of their model."""
        return instance.is_plain

    def values(self, model: Any | None) -> Compiled:
        """The distinct values of the group-by items: from `model` and its joins, or the time spine; with
        metric_time and other items, every period with every value, as MetricFlow answers it."""
        if model is None:
            periods = self.spine_periods(self.time_items, self.query.where)
            time_only = [t for t in self.query.where if not self.filter_metrics((t,))
                         and all(i.is_metric_time for i in self.filter_items((t,)))]
            if len(time_only) != len(self.query.where):
                raise QueryError("a query of metric_time alone takes filters on metric_time only")
            return self.combine([(self.add_cte("time_spine_periods", periods), [])])
        time_filters = tuple(t for t in self.query.where if not self.filter_metrics((t,))
                             and all(i.is_metric_time for i in self.filter_items((t,))))
        other_filters = tuple(t for t in self.query.where if t not in time_filters)
        if any(i.is_metric_time for i in self.filter_items(other_filters)) or (time_filters and not self.time_items):
            raise QueryError("a filter on metric_time needs a metric, or metric_time in the group-by (and a filter "
                             "of its own, apart from the other items)")
        source = self.source(model)

        def bind(item: Ref) -> exp.Expr:
            if isinstance(item, MetricCall):
                return source.metric(item, bind)
            return source.item(self.resolve(model, item))

        projections = [alias(bind(item), item.column_name()) for item in self.other_items]
        conditions = self.bind_filters(other_filters, bind)
        select = source.from_(new_select(*projections).distinct(copy=False), conditions)
        values = self.add_cte(f"{model.name}_values", select)
        if not self.time_items:
            return self.combine([(values, [])])
        spine = self.add_cte("time_spine_periods", self.spine_periods(self.time_items, time_filters))
        every = new_select(*[alias(column(i.column_name(), spine if i.is_metric_time else values), i.column_name())
                             for i in self.items]).from_(named_table(spine), copy=False).join(
            joined("CROSS", values), copy=False)
        return self.combine([(self.add_cte("periods_and_values", every), [])])

    def conditional_select(self, groups: list[list[MeasureInstance]]) -> exp.Select:
        """Metrics of one model with different filters, in one scan: each aggregates only its rows.

        Filters shared by every metric stay in WHERE; the others become CASE WHEN inside the aggregate,
        and WHERE keeps the rows that any metric reads. A count over no rows of its own is NULL, as if
        it had been scanned alone (its group would be missing).
        """
        first = groups[0][0]
        model = self.c.graph.models[first.model]
        source = self.source(model)
        time = self.c.measure_time(first.measure, model)
        bind = self.row_binder(source, time)
        common = [f for f in groups[0][0].filters if all(f in g[0].filters for g in groups)]
        projections = [alias(bind(item), item.column_name()) for item in self.items]
        own_conditions: list[exp.Expr | None] = []
        for group in groups:
            own = and_all(self.bind_filters(tuple(f for f in group[0].filters if f not in common), bind))
            own_conditions.append(own)
            for instance in group:
                value = self.c.measure_value(instance)
                if own is None:
                    aggregated = self.c.aggregate(instance, value)
                else:
                    aggregated = self.c.aggregate(instance, exp.Case(ifs=[exp.If(this=own.copy(), true=value)]))
                    if self.c.spec.measure(instance.measure).measure.agg.value in ("count", "count_distinct"):
                        present = exp.Count(this=exp.Case(ifs=[exp.If(this=own.copy(), true=exp.Literal.number(1))]))
                        aggregated = exp.Case(ifs=[exp.If(this=exp.GT(this=present, expression=exp.Literal.number(0)),
                                                          true=aggregated)])
                projections.append(alias(aggregated, self.plan.instances[instance]))
        conditions = self.bind_filters(tuple(common), bind) + self.time_constraint(time)
        if all(c is not None for c in own_conditions):
            any_own = exp.or_(*[c.copy() for c in own_conditions if c is not None], copy=False)
            conditions.append(exp.paren(any_own, copy=False))
        return source.from_(new_select(*projections), conditions, [bind(item) for item in self.items])

    def scan(self, group: list[MeasureInstance]) -> str:
        first = group[0]
        self.check_units(first)
        if first.conversion is not None:
            return self.conversion_scan(group)
        name = self.measure_scan(group)
        if first.join_to_timespine and self.time_items:  # as MetricFlow: every period, offset or accumulated too
            return self.spine_fill(name, group)
        return name

    def measure_scan(self, group: list[MeasureInstance]) -> str:
        first = group[0]
        if first.cumulative is not None:
            return self.cumulative_scan(group)
        if first.offset is not None:
            if self.offset_at_query_grain(first.offset):
                window = first.offset.window
                if window is not None and window.grain in self.c.custom_grains:
                    return self.custom_offset_period_scan(group)
                return self.offset_period_scan(group)
            return self.offset_day_scan(group)
        if first.semi_additive is not None:
            return self.semi_additive_scan(group)
        return self.plain_scan(group)

    def require_metric_time(self, instance: MeasureInstance, what: str) -> None:
        if not self.time_items:
            raise QueryError(f"metric input '{instance.measure}' is {what}, which needs metric_time in "
                             "the group-by; add --group-by metric_time__day (or another grain)")

    def plain_select(self, group: list[MeasureInstance], filters: tuple[str, ...] | None = None,
                     apply_time: bool = True, start: exp.Expr | None = None) -> exp.Select:
        """One aggregation over a model's rows; `filters` overrides the instances' own filters; `start`: the
        first day of rows it reads, when the query's own time constraint is not applied."""
        first = group[0]
        model = self.c.graph.models[first.model]
        source = self.source(model)
        time = self.c.measure_time(first.measure, model)
        bind = self.row_binder(source, time)
        projections = [alias(bind(item), item.column_name()) for item in self.items]
        for instance in group:
            projections.append(alias(self.c.aggregate(instance, self.c.measure_value(instance)),
                                     self.plan.instances[instance]))
        conditions = self.bind_filters(first.filters if filters is None else filters, bind)
        if apply_time:
            conditions += self.time_constraint(time)
        elif start is not None:
            conditions.append(exp.GTE(this=time.copy(), expression=start))
        return source.from_(new_select(*projections), conditions, [bind(item) for item in self.items])

    def plain_scan(self, group: list[MeasureInstance]) -> str:
        return self.add_cte(f"{group[0].model}_agg", self.plain_select(group))

    def spine_periods(self, grain_items: list[ItemName], filters: tuple[str, ...] = ()) -> exp.Select:
        """One row per period of the time spine at the query's metric_time grains.

        Filters that read only metric_time apply to the periods too: a spine-filled metric filtered to
        2025 lists 2025's periods only.
        """
        spine = self.spine_for()
        day = column(spine.day_column, SPINE)
        projections = [alias(self.c.time_value(i, day, None, SPINE), i.column_name()) for i in grain_items]
        select = new_select(*projections).distinct(copy=False).from_(
            self.c.relation(spine.relation, SPINE), copy=False)
        conditions = self.time_constraint(day) + self.bind_filters(
            self.time_only(filters),
            lambda item: self.c.time_value(item, day, None, SPINE) if isinstance(item, ItemName) else exp.Null())
        if conditions:
            select = select.where(and_all(conditions), copy=False)
        return select

    def time_only(self, filters: tuple[str, ...]) -> tuple[str, ...]:
        """The filters that read metric_time alone (no other dimension, no metric)."""
        return tuple(t for t in filters if not self.filter_metrics((t,))
                     and all(i.is_metric_time for i in self.filter_items((t,))))

    def spine_fill(self, aggregated: str, group: list[MeasureInstance]) -> str:
        """join_to_timespine: every spine period appears, with NULL (or the fill value) where no data."""
        periods = exp.Subquery(this=self.spine_periods(self.time_items, group[0].filters), alias=exp.TableAlias(
            this=exp.to_identifier("periods")))
        projections: list[exp.Expr] = []
        for item in self.items:
            table = "periods" if item.is_metric_time else aggregated
            projections.append(alias(column(item.column_name(), table), item.column_name()))
        projections += [alias(column(self.plan.instances[i], aggregated), self.plan.instances[i])
                        for i in group]
        on = and_all([exp.EQ(this=column(i.column_name(), "periods"),
                             expression=column(i.column_name(), aggregated)) for i in self.time_items])
        select = new_select(*projections).from_(periods, copy=False).join(joined("LEFT", aggregated), on=on, copy=False)
        return self.add_cte(f"{group[0].model}_spine", select)

    # --- scans over raw rows, staged -----------------------------------------------------------
    def rows_cte(self, group: list[MeasureInstance], extra_items: list[ItemName],
                 with_time_items: bool, apply_filters: bool) -> tuple[str, list[ItemName]]:
        """A model's rows with each needed item as a named column, plus its day and measure values."""
        first = group[0]
        model = self.c.graph.models[first.model]
        source = self.source(model)
        time = self.c.measure_time(first.measure, model)
        bind = self.row_binder(source, time)
        wanted: list[ItemName] = []
        for item in [*self.items, *extra_items, *(self.filter_items(first.filters)
                                                  if not apply_filters else [])]:
            if (item.is_metric_time and not with_time_items) or item in wanted:
                continue
            wanted.append(item)
        projections = [alias(self.at_spine_grain(time, self.spine_for(first)), DAY)]
        projections += [alias(bind(item), self.item_column(item)) for item in wanted]
        if not apply_filters:
            projections += [alias(bind(call), self.item_column(call)) for call in self.filter_metrics(first.filters)]
        for instance in group:
            projections.append(alias(self.c.measure_value(instance), self.plan.instances[instance]))
        conditions = (self.bind_filters(first.filters, bind) + self.time_constraint(time)) if apply_filters else []
        start = None if apply_filters else self.history_start(group)
        if start is not None:  # the spine's days start at `since`: their windows and offsets reach back to here
            conditions.append(exp.GTE(this=time.copy(), expression=start))
        select = source.from_(new_select(*projections), conditions)  # after binding: filters may add joins
        return self.add_cte(f"{first.model}_rows", select), wanted

    def history_start(self, group: list[MeasureInstance]) -> exp.Expr | None:
        """With `since`, the first day of rows the spine's days from `since` on read: a window reaches back
        its length, an offset its distance, a grain_to_date to the start of the period holding `since`. None
        without `since`, or when an instance reads all history (accumulated since the first row) or steps by
        custom periods."""
        if self.since is None:
            return None
        starts: dict[str, exp.Expr] = {}
        for instance in group:
            if instance in self.on_daily:  # from `since` on: no later than the staged instances it is read with
                continue
            start: exp.Expr = self.since.copy()
            offset, cumulative = instance.offset, instance.cumulative
            if offset is not None:
                if offset.window is not None and offset.window.grain in STEPPED_GRAINS:
                    start = exp.Sub(this=start, expression=interval(offset.window))
                elif offset.to_grain in STEPPED_GRAINS:
                    start = trunc(str(offset.to_grain), start)
                else:
                    return None
            if cumulative is not None:
                if cumulative.window is not None and cumulative.window.grain in STEPPED_GRAINS:
                    start = exp.Sub(this=start, expression=interval(cumulative.window))
                elif cumulative.window is None and cumulative.grain_to_date in STEPPED_GRAINS:
                    start = trunc(str(cumulative.grain_to_date), start)
                else:
                    return None
            start = as_date(start)
            starts.setdefault(text(start), start)
        values = list(starts.values())
        return values[0] if len(values) == 1 else exp.Least(this=values[0], expressions=values[1:])

    @staticmethod
    def item_column(item: Ref) -> str:
        if isinstance(item, MetricCall):
            return "__".join(("__metric", item.metric, *item.group_by))
        return item.column_name()

    def is_staged(self, instance: MeasureInstance) -> bool:
        """Whether the instance is computed by joining the time spine's days to its rows."""
        if instance.conversion is not None or instance.semi_additive is not None or not self.time_items:
            return False
        if instance.cumulative is not None:
            return True
        return instance.offset is not None and not self.offset_at_query_grain(instance.offset)

    def staged_rows(self, group: list[MeasureInstance]) -> tuple[str, bool]:
        """The rows (or daily sums) that spine joins read: built once per model and filters.

        Every staged instance of the same model, filters and time dimension shares one scan. When all
        of them can be rolled up (sums, counts, min, max), the rows are first aggregated to one row
        per day and group, so the spine joins days to daily values, never to raw rows. A distinct
        count accumulated since a fixed start (`counted_once`) reads the days its values first appear.
        """
        first = group[0]
        key = (first.model, first.filters, first.agg_time_dimension)
        if key not in self.staged_scans:
            members = [i for i in self.plan.instances if self.is_staged(i)
                       and (i.model, i.filters, i.agg_time_dimension) == key]
            members += [i for i in self.plan.instances if i in self.on_daily
                        and (i.model, i.filters, i.agg_time_dimension) == key]
            self.staged_scans[key] = self.rows_cte(members, [], with_time_items=False, apply_filters=False)
        rows, wanted = self.staged_scans[key]
        if self.counted_once(first):
            variant = (*key, first.measure, first.cumulative)
            if variant not in self.staged:
                self.staged[variant] = (self.first_seen_daily(first, rows), True)
            return self.staged[variant]
        if key not in self.staged:
            members = [i for i in self.plan.instances if (self.is_staged(i) and not self.counted_once(i)
                                                          or i in self.on_daily)
                       and (i.model, i.filters, i.agg_time_dimension) == key]
            rolled = all(self.rollup_kind(i) is not None for i in members)
            if rolled:
                keys = [column(DAY, rows)] + [column(self.item_column(i), rows) for i in wanted]
                keys += [column(self.item_column(c), rows) for c in self.filter_metrics(first.filters)]
                daily = new_select(*keys, *[alias(self.c.aggregate(i, column(self.plan.instances[i], rows)),
                                                  self.plan.instances[i]) for i in members]
                                   ).from_(named_table(rows), copy=False).group_by(*keys, copy=False)
                rows = self.add_cte(f"{first.model}_daily", daily)
            self.staged[key] = (rows, rolled)
        return self.staged[key]

    def counted_once(self, instance: MeasureInstance) -> bool:
        """A distinct count accumulated since a fixed start (all time, or the start of its grain_to_date
        period): each value counts from the first day it appears, so the spine reads those days, one row
        per value and group, instead of every row. Filters on metric_time keep the general shape (they
        apply to the spine's days, the others to the rows)."""
        cumulative = instance.cumulative
        return (cumulative is not None and cumulative.window is None and self.is_staged(instance)
                and self.c.spec.measure(instance.measure).measure.agg.value == "count_distinct"
                and not any(i.is_metric_time for i in self.filter_items(instance.filters)))

    def first_seen_daily(self, instance: MeasureInstance, rows: str) -> str:
        """Per day and group, how many values of a distinct count appear for the first time (since the
        start of the grain_to_date period, if any). Summed over the days up to a day, that is the
        distinct count up to it. A value's first day is taken after the instance's filters; NULLs form
        a group of their own, counted as none, so that a group with rows has a day as it had before."""
        assert instance.cumulative is not None
        value = column(self.plan.instances[instance], rows)
        day = column(DAY, rows)
        keys = [column(i.column_name(), rows) for i in self.other_items]
        by: list[exp.Expr] = [*keys, value]
        grain_to_date = instance.cumulative.grain_to_date
        if grain_to_date is not None:
            by.append(self.at_spine_grain(day.copy(), self.spine_for(instance), grain_to_date))
        conditions = self.bind_filters(instance.filters, lambda item: column(self.item_column(item), rows))
        first = new_select(*[alias(k.copy(), k.name) for k in keys], alias(value.copy(), value.name),
                           alias(exp.Min(this=day), DAY)).from_(named_table(rows), copy=False).group_by(
            *[b.copy() for b in by], copy=False)
        if conditions:
            first = first.where(and_all(conditions), copy=False)
        seen = self.add_cte(f"{instance.model}_first_seen", first)
        keys = [column(DAY, seen)] + [column(k.name, seen) for k in keys]
        daily = new_select(*keys, alias(exp.Count(this=column(value.name, seen)), value.name)).from_(
            named_table(seen), copy=False).group_by(*[k.copy() for k in keys], copy=False)
        return self.add_cte(f"{instance.model}_first_seen_daily", daily)

    def rollup_kind(self, instance: MeasureInstance) -> str | None:
        """How daily aggregates of the measure combine into a longer period, if they can."""
        agg = str(self.c.spec.measure(instance.measure).measure.agg.value)
        return {"sum": "sum", "count": "sum", "sum_boolean": "sum", "min": "min", "max": "max"}.get(agg)

    def rollup(self, instance: MeasureInstance, value: exp.Expr) -> exp.Expr:
        kind = self.rollup_kind(instance)
        return exp.Min(this=value) if kind == "min" else exp.Max(this=value) if kind == "max" else exp.Sum(this=value)

    def spine_joined(self, group: list[MeasureInstance], on: Callable[[exp.Expr, exp.Expr],
                                                                     exp.Expr],
                     label: str, days: exp.Expr | None = None, via: tuple[str, str] | None = None) -> str:
        """Join the time spine's days to the rows (an offset or a window); metric_time is the spine's.

        `days`, given the spine's day, keeps only some of the days (those that start a period). With `via`
        (a relation and its column), the rows are joined to `via`, and the spine's day is the column's."""
        rows, rolled_up = self.staged_rows(group)
        spine_of = self.spine_for(group[0])
        spine_day = column(spine_of.day_column, SPINE)

        def bind(item: Ref) -> exp.Expr:
            if isinstance(item, ItemName) and item.is_metric_time:
                return self.c.time_value(item, spine_day, None, SPINE)
            return column(self.item_column(item), rows)

        # a cumulative scan stays at day grain; period_aggregate derives metric_time from the day, and
        # reads the day's custom-grain periods, which only the spine holds, from here
        items = [i for i in self.items if not i.is_metric_time or self.is_custom(i)] \
            if label == "cumulative" else self.items
        projections = [alias(bind(item), item.column_name()) for item in items]
        if label == "cumulative":
            projections.insert(0, alias(spine_day, DAY))
        counted_once = self.counted_once(group[0])
        for instance in group:
            value = column(self.plan.instances[instance], rows)
            aggregated = self.rollup(instance, value) if rolled_up else self.c.aggregate(instance, value)
            if counted_once:  # a sum of counts, typed as the count it stands for
                aggregated = cast(aggregated, "BIGINT")
            projections.append(alias(aggregated, self.plan.instances[instance]))
        spine = self.c.relation(spine_of.relation, SPINE)
        if via is None:
            select = new_select(*projections).from_(spine, copy=False)
        else:  # a row whose day has no counterpart in `via` keeps a NULL metric_time
            select = new_select(*projections).from_(named_table(via[0]), copy=False).join(
                joined("LEFT", spine), on=exp.EQ(this=column(via[1], via[0]), expression=spine_day.copy()), copy=False)
        select = select.join(joined("INNER", named_table(rows)), on=on(column(DAY, rows), spine_day), copy=False)
        filters = () if counted_once else group[0].filters  # counted_once applied them to the rows
        conditions = self.bind_filters(filters, bind) + self.time_constraint(spine_day)
        if days is not None:
            conditions.append(days)
        if conditions:
            select = select.where(and_all(conditions), copy=False)
        group_exprs = [bind(item) for item in items]
        if label == "cumulative":
            group_exprs.insert(0, spine_day)
        if group_exprs:
            select = select.group_by(*group_exprs, copy=False)
        return self.add_cte(f"{group[0].model}_{label}", select)

    def smallest_time_item(self) -> ItemName | None:
        """The finest metric_time item when all are standard grains (None: none, or a date part or custom)."""
        if not self.time_items or any(i.date_part or i.grain not in STEPPED_GRAINS for i in self.time_items):
            return None
        return min(self.time_items, key=lambda i: grain_rank(str(i.grain)))

    def offset_at_query_grain(self, offset: Offset) -> bool:
        """As MetricFlow decides it: the offset is joined after aggregating to the query's grains when the
        finest of them is no coarser than the offset's unit (offset_to_grain by week excepted: weeks do
        not roll up into months), and before, day by day, otherwise. An offset by custom periods is
        joined after aggregating when the query groups metric_time by that custom grain alone."""
        smallest = self.smallest_time_item()
        unit = offset.window.grain if offset.window else offset.to_grain
        if unit in self.c.custom_grains:
            return [(i.grain, i.date_part) for i in self.time_items] == [(unit, None)]
        if smallest is None or unit not in STEPPED_GRAINS or grain_rank(str(smallest.grain)) > grain_rank(unit):
            return False
        if smallest.grain == "week" and offset.to_grain is not None:
            return False
        if smallest.grain == "week" and len(self.time_items) > 1:
            raise QueryError(f"an offset of {offset.window} grouped by metric_time__week and a coarser grain "
                             "is not supported (a week can fall in two months); group by one of them")
        return True

    def offset_day_scan(self, group: list[MeasureInstance]) -> str:
        offset = group[0].offset
        assert offset is not None
        self.require_metric_time(group[0], "offset in time")
        spine = self.spine_for(group[0])

        if offset.window is not None and offset.window.grain in self.c.custom_grains:
            mapping = self.custom_offset_days(offset.window)
            return self.spine_joined(group, lambda row_day, _: exp.EQ(this=row_day, expression=column(DAY, mapping)),
                                     "offset", via=(mapping, "__offset_day"))

        def on(row_day: exp.Expr, spine_day: exp.Expr) -> exp.Expr:
            if offset.window is not None:
                return exp.EQ(this=row_day, expression=exp.Sub(this=spine_day, expression=interval(offset.window)))
            assert offset.to_grain is not None
            return exp.EQ(this=row_day, expression=self.at_spine_grain(spine_day, spine, offset.to_grain))

        days = None
        if offset.to_grain is not None:
            days = self.period_starts(group[0])
        return self.spine_joined(group, on, "offset", days)

    def custom_offset_days(self, window: Window) -> str:
        """Each spine day with the day it is reported on, `window.count` custom periods later, as MetricFlow
        offsets by custom periods: the day at the same position in the later period (the 10th day of a
        fiscal quarter moves to the 10th day of the next); NULL when that period is shorter or beyond the
        spine, and reported under a NULL metric_time, as MetricFlow reports it."""
        key = ("custom_offset", window)
        if key not in self.staged:
            spine = self.c.spec.time_spine
            day = column(spine.day_column, SPINE)
            period = column(spine.custom_grains[window.grain], SPINE)
            by_period = [period.copy()]
            bounds = new_select(
                alias(day, DAY), alias(period, "__period"),
                alias(exp.Window(this=exp.RowNumber(), partition_by=by_period,
                                 order=exp.Order(expressions=[exp.Ordered(this=day.copy())])), "__position"),
                alias(exp.Window(this=exp.Min(this=day.copy()), partition_by=[period.copy()]), "__first"),
                alias(exp.Window(this=exp.Max(this=day.copy()), partition_by=[period.copy()]), "__last"),
            ).from_(self.c.relation(spine.relation, SPINE), copy=False)
            bounds_name = self.add_cte(f"{window.grain}_days", bounds)
            periods = new_select(column("__period"), column("__first"), column("__last")).distinct(copy=False).from_(
                named_table(bounds_name), copy=False)
            order = exp.Order(expressions=[exp.Ordered(this=column("__period"))])
            shifted = new_select(column("__period"), *[alias(exp.Window(
                this=exp.func("LEAD", column(c), exp.Literal.number(window.count)), order=order.copy()), c)
                for c in ("__first", "__last")]).from_(exp.Subquery(
                this=periods, alias=exp.TableAlias(this=exp.to_identifier("periods"))), copy=False)
            shifted_name = self.add_cte(f"{window.grain}_offset_periods", shifted)
            moved = exp.DateAdd(this=column("__first", shifted_name), expression=exp.Sub(
                this=column("__position", bounds_name), expression=exp.Literal.number(1)), unit=exp.Var(this="DAY"))
            moved_day = exp.Case(ifs=[exp.If(this=exp.LTE(this=as_date(moved), expression=column(
                "__last", shifted_name)), true=as_date(moved.copy()))])
            mapping = new_select(column(DAY, bounds_name), alias(moved_day, "__offset_day")).from_(
                named_table(bounds_name), copy=False).join(joined("INNER", named_table(shifted_name)), on=exp.EQ(
                    this=column("__period", bounds_name), expression=column("__period", shifted_name)), copy=False)
            self.staged[key] = (self.add_cte(f"{window.grain}_offset_days", mapping), False)
        return self.staged[key][0]

    def period_starts(self, instance: MeasureInstance) -> exp.Expr | None:
        """offset_to_grain joined day by day (the query's finest grain is coarser than the offset's, or is
        a week), as MetricFlow answers it: a period's value is the value its first day reads (the week of
        2024-03-04 shows the value of 2024-03-01 for offset_to_grain: month), so only days that start a
        period of some grain of the query are kept."""
        spine = self.spine_for(instance)
        spine_day = column(spine.day_column, SPINE)
        starts: list[exp.Expr] = []
        for item in self.time_items:
            if item.date_part or item.grain not in STEPPED_GRAINS:
                raise QueryError(f"metric input '{instance.measure}' has offset_to_grain, which is answered "
                                 f"at {', '.join(STEPPED_GRAINS)}; '{item.column_name()}' is not one")
            if item.grain == spine.grain:
                return None
            starts.append(exp.EQ(this=self.at_spine_grain(spine_day.copy(), spine, str(item.grain)),
                                 expression=spine_day.copy()))
        return exp.paren(exp.or_(*starts, copy=False), copy=False) if len(starts) > 1 else starts[0] if starts else None

    def offset_period_scan(self, group: list[MeasureInstance]) -> str:
        """Aggregate at the query grain, then read each period's value from the offset period."""
        offset = group[0].offset
        assert offset is not None
        time_item = self.smallest_time_item()
        assert time_item is not None
        # as MetricFlow: filters on metric_time alone keep the spine's days they match, at their own grain, and
        # a period is reported when one of its days is kept (a filter from 2024-03-15 keeps March); the others,
        # a filter on metric_time and another dimension too, apply to the rows before they are shifted
        time_filters = self.time_only(group[0].filters)
        row_filters = tuple(t for t in group[0].filters if t not in time_filters)
        window, to_grain = offset.window, offset.to_grain

        def shift(period: exp.Expr) -> exp.Expr:
            if window is not None:
                return exp.Sub(this=period, expression=interval(window))
            assert to_grain is not None
            return trunc(to_grain, period)

        # with `since` (a period start), the periods from it on read the periods from its shifted one on
        start = None if self.since is None else as_date(trunc(str(time_item.grain), shift(self.since.copy())))
        inner = self.plain_select(group, filters=row_filters, apply_time=False, start=start)
        aggregated = self.add_cte(f"{group[0].model}_by_period", inner)
        periods = exp.Subquery(this=self.spine_periods(self.time_items, time_filters), alias=exp.TableAlias(
            this=exp.to_identifier("periods")))
        period = column(time_item.column_name(), "periods")
        shifted = shift(period)
        projections: list[exp.Expr] = []
        for item in self.items:
            table = "periods" if item.is_metric_time else aggregated
            projections.append(alias(column(item.column_name(), table), item.column_name()))
        projections += [alias(column(self.plan.instances[i], aggregated), self.plan.instances[i]) for i in group]
        select = new_select(*projections).from_(periods, copy=False).join(
            joined("INNER", aggregated), copy=False,
            on=exp.EQ(this=column(time_item.column_name(), aggregated), expression=shifted))
        return self.add_cte(f"{group[0].model}_offset", select)

    def custom_offset_period_scan(self, group: list[MeasureInstance]) -> str:
        """An offset by custom periods, grouped by that custom grain: each period's total is reported
        `count` periods later, as MetricFlow moves it (the total of a period with no later one in the time
        spine is reported under a NULL period, as MetricFlow reports it)."""
        offset = group[0].offset
        assert offset is not None and offset.window is not None
        name = self.time_items[0].column_name()
        row_filters = tuple(t for t in group[0].filters
                            if not any(i.is_metric_time for i in self.filter_items((t,))))
        aggregated = self.add_cte(f"{group[0].model}_by_period",
                                  self.plain_select(group, filters=row_filters, apply_time=False))
        spine = self.c.spec.time_spine
        custom = column(spine.custom_grains[offset.window.grain], SPINE)
        periods = new_select(alias(custom, name)).distinct(copy=False).from_(
            self.c.relation(spine.relation, SPINE), copy=False)
        later = exp.Window(this=exp.func("LEAD", column(name), exp.Literal.number(offset.window.count)),
                           order=exp.Order(expressions=[exp.Ordered(this=column(name))]))
        moved = self.add_cte(f"{offset.window.grain}_offset_periods", new_select(
            column(name), alias(later, "__offset_period")).from_(exp.Subquery(
                this=periods, alias=exp.TableAlias(this=exp.to_identifier("periods"))), copy=False))
        period = column("__offset_period", moved)
        projections = [alias(period.copy() if item.is_metric_time else column(item.column_name(), aggregated),
                             item.column_name()) for item in self.items]
        projections += [alias(column(self.plan.instances[i], aggregated), self.plan.instances[i]) for i in group]
        select = new_select(*projections).from_(named_table(aggregated), copy=False).join(
            joined("INNER", moved), copy=False,
            on=exp.EQ(this=column(name, moved), expression=column(name, aggregated)))
        time_filters = tuple(t for t in group[0].filters if t not in row_filters)
        grain = offset.window.grain

        def bind(item: Ref) -> exp.Expr:  # metric_time is the later period (its first day at other grains)
            if isinstance(item, ItemName) and item.is_metric_time:
                same = item.grain == grain and not item.date_part
                return period.copy() if same else self.c.time_value(item, period.copy(), None)
            return column(self.item_column(item), aggregated)

        conditions = self.bind_filters(time_filters, bind) + self.time_constraint(period.copy())
        if conditions:
            select = select.where(and_all(conditions), copy=False)
        return self.add_cte(f"{group[0].model}_offset", select)

    def cumulative_scan(self, group: list[MeasureInstance]) -> str:
        cumulative = group[0].cumulative
        assert cumulative is not None
        if not self.time_items:
            if cumulative.window is not None or cumulative.grain_to_date is not None or group[0].offset:
                self.require_metric_time(group[0], "a cumulative metric with a window, grain_to_date or offset")
            return self.plain_scan(group)  # accumulated over all time: a plain aggregate
        window = cumulative.window
        grain_to_date = cumulative.grain_to_date
        offset = group[0].offset
        spine = self.spine_for(group[0])
        if offset is not None and offset.window is not None and offset.window.grain in self.c.custom_grains:
            raise QueryError(f"an offset of {offset.window} over the cumulative metric input '{group[0].measure}' is "
                             "not supported (offsets by custom periods are answered for simple inputs)")

        def on(row_day: exp.Expr, spine_day: exp.Expr) -> exp.Expr:
            # an offset moves the window's end, before the days are aggregated to the query's grain (as
            # MetricFlow joins the offset spine before aggregating): a day reads its offset day's window
            if offset is not None and offset.window is not None:
                spine_day = exp.paren(exp.Sub(this=spine_day, expression=interval(offset.window)))
            elif offset is not None:
                assert offset.to_grain is not None
                spine_day = self.at_spine_grain(spine_day, spine, offset.to_grain)
            conditions: list[exp.Expr] = [exp.LTE(this=row_day, expression=spine_day)]
            if window is not None:
                conditions.append(exp.GT(this=row_day, expression=exp.Sub(
                    this=spine_day, expression=interval(window))))
            if grain_to_date is not None:
                conditions.append(exp.GTE(this=row_day, expression=self.at_spine_grain(spine_day, spine,
                                                                                        grain_to_date)))
            return exp.and_(*conditions, copy=False)

        by_period = windows.to_date_by_period(self, group)
        if by_period is not None:
            return by_period
        daily = windows.rolling_days(self, group) or self.spine_joined(group, on, "cumulative")
        return self.period_aggregate(daily, group, cumulative)

    def is_custom(self, item: ItemName) -> bool:
        return item.grain in self.c.custom_grains and not item.date_part

    def period_aggregate(self, daily: str, group: list[MeasureInstance], cumulative: Cumulative) -> str:
        """From daily cumulative values to the query's grain: first, last or average of the days."""
        day = column(DAY, daily)
        time_values = {i: column(i.column_name(), daily) if self.is_custom(i) else self.c.time_value(i, day, None)
                       for i in self.time_items}
        if all(i.grain == self.spine_for(group[0]).grain and not i.date_part for i in self.time_items):
            projections = [alias(time_values[i] if i.is_metric_time else column(i.column_name(), daily),
                                 i.column_name()) for i in self.items]
            projections += [alias(column(self.plan.instances[i], daily), self.plan.instances[i]) for i in group]
            by_day = new_select(*projections).from_(named_table(daily), copy=False)
            return self.add_cte(f"{group[0].model}_cumulative_by_day", by_day)
        partition = [time_values[i] if i.is_metric_time else column(i.column_name(), daily) for i in self.items]
        if cumulative.period_agg == "average":
            projections = [alias(p, i.column_name()) for p, i in zip(partition, self.items)]
            projections += [alias(exp.Avg(this=column(self.plan.instances[i], daily)), self.plan.instances[i])
                            for i in group]
            select = new_select(*projections).from_(named_table(daily), copy=False).group_by(*partition, copy=False)
            return self.add_cte(f"{group[0].model}_cumulative_avg", select)
        descending = cumulative.period_agg == "last"
        rank = exp.Window(this=exp.RowNumber(), partition_by=partition, order=exp.Order(
            expressions=[exp.Ordered(this=day, desc=descending)]))
        inner = new_select(*[alias(p, i.column_name()) for p, i in zip(partition, self.items)],
                           *[alias(column(self.plan.instances[i], daily), self.plan.instances[i]) for i in group],
                           alias(rank, "__period_rank")).from_(named_table(daily), copy=False)
        ranked = self.add_cte(f"{group[0].model}_cumulative_ranked", inner)
        outer = new_select(*[column(i.column_name(), ranked) for i in self.items],
                           *[column(self.plan.instances[i], ranked) for i in group]).from_(
            named_table(ranked), copy=False).where(
            exp.EQ(this=column("__period_rank", ranked), expression=exp.Literal.number(1)), copy=False)
        return self.add_cte(f"{group[0].model}_cumulative_{cumulative.period_agg}", outer)

    def semi_additive_scan(self, group: list[MeasureInstance]) -> str:
        """Keep only the rows at the latest (or earliest) value of the non-additive dimension."""
        first = group[0]
        model = self.c.graph.models[first.model]
        nad = self.c.spec.measure(first.measure).measure.non_additive_dimension
        nad_dim = dimension(model, nad.name)
        if nad_dim is None:
            raise QueryError(f"measure '{first.measure}': non_additive_dimension '{nad.name}' is not a "
                             f"dimension of '{model.name}'")
        source = self.source(model)
        time = self.c.measure_time(first.measure, model)
        bind = self.row_binder(source, time)
        projections = [alias(bind(item), item.column_name()) for item in self.items]
        projections.append(alias(as_date(trunc("day", self.c.qualify(str(nad_dim.expr or nad_dim.name), "src"))),
                                 "__window_day"))
        groupings = [str(g) for g in (nad.window_groupings or [])]
        for g in groupings:
            projections.append(alias(self.c.qualify(entity_expr(model, g), "src"), f"__window_{g}"))
        keys = [p.this for p in projections]
        rolled_up = all(self.rollup_kind(i) is not None for i in group)
        for instance in group:
            value = self.c.measure_value(instance)
            projections.append(alias(self.c.aggregate(instance, value) if rolled_up else value,
                                     self.plan.instances[instance]))
        conditions = self.bind_filters(first.filters, bind) + self.time_constraint(time)
        # rolled up: one row per day and group before the window, as a daily balance table has many per day
        rows = source.from_(new_select(*projections), conditions,  # after binding: filters may add joins
                            [k.copy() for k in keys] if rolled_up else None)
        split = None if not rolled_up or self.c.groups_rows_first(first.model) else \
            grouped_on_raw_days(rows, *self.c.time_columns(first.model))
        if split is not None:  # grouped on the raw days, each period and window day derived per group
            rows_name = self.add_cte(f"{first.model}_by_day", split.outer(self.add_cte(f"{first.model}_days",
                                                                                        split.inner)))
        elif rolled_up:
            rows_name = self.grouped_scan(first.model, rows, f"{first.model}_by_day")
        else:
            rows_name = self.add_cte(f"{first.model}_rows", rows)
        partition = [column(i.column_name(), rows_name) for i in self.time_items]
        partition += [column(f"__window_{g}", rows_name) for g in groupings]
        choice = str(nad.window_choice.value)
        window_func: exp.Expr = exp.Max(this=column("__window_day", rows_name)) if choice == "max" \
            else exp.Min(this=column("__window_day", rows_name))
        marked = new_select(exp.Star(), alias(exp.Window(this=window_func, partition_by=partition or None),
                                              "__window_pick")).from_(named_table(rows_name), copy=False)
        marked_name = self.add_cte(f"{first.model}_window", marked)
        combine = self.rollup if rolled_up else self.c.aggregate
        outer = new_select(*[column(i.column_name(), marked_name) for i in self.items],
                           *[alias(combine(i, column(self.plan.instances[i], marked_name)),
                                   self.plan.instances[i]) for i in group]).from_(
            named_table(marked_name), copy=False).where(exp.EQ(
                this=column("__window_day", marked_name), expression=column("__window_pick", marked_name)), copy=False)
        if self.items:
            outer = outer.group_by(*[column(i.column_name(), marked_name) for i in self.items], copy=False)
        return self.add_cte(f"{first.model}_agg", outer)

    def conversion_scan(self, group: list[MeasureInstance]) -> str:
        """Each conversion event is attributed to the latest base event of the same entity in the window."""
        instance = group[0]
        conversion = instance.conversion
        assert conversion is not None
        base_model = self.c.graph.models[conversion.base_model]
        conv_model = self.c.graph.models[instance.model]
        # base events: the query's items, entity and constant properties, filtered like the base measure
        base_source = self.source(base_model)
        base_time = self.c.measure_time(conversion.base_measure, base_model)
        bind = self.row_binder(base_source, base_time)
        projections = [alias(as_date(trunc("day", base_time)), DAY),
                       alias(self.c.qualify(entity_expr(base_model, conversion.entity), "src"), "__entity")]
        projections += [alias(bind(item), item.column_name()) for item in self.items]
        for n, (base_prop, _) in enumerate(conversion.constant_properties):
            projections.append(alias(bind(parse_item_name(self._local_name(base_model, base_prop))),
                                     f"__property_{n}"))
        conditions = self.bind_filters(instance.filters, bind) + self.time_constraint(base_time)
        base = base_source.from_(new_select(*projections), conditions)  # after binding: filters may add joins
        base_name = self.add_cte(f"{base_model.name}_base_events", base)
        self.base_events.setdefault((base_model.name, instance.filters, self.c.spec.measure(
            conversion.base_measure).agg_time_dimension), base_name)
        base_name = self.one_base_event_per_day(base_name, len(conversion.constant_properties), base_model.name,
                                                conversion.entity)
        # conversion events
        conv_source = self.source(conv_model)
        conv_time = self.c.measure_time(instance.measure, conv_model)
        conv_bind = self.row_binder(conv_source, conv_time)
        conv_day = as_date(trunc("day", conv_time))
        conv_projections = [] if self.c.dialect == "duckdb" else [  # an id to rank base events per conversion
            alias(exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=[exp.Ordered(this=conv_day)])),
                  "__conversion_id")]
        conv_projections += [
            alias(conv_day.copy(), DAY),
            alias(self.c.qualify(entity_expr(conv_model, conversion.entity), "src"), "__entity"),
            alias(self.c.measure_value(instance), "__value")]
        for n, (_, conv_prop) in enumerate(conversion.constant_properties):
            conv_projections.append(alias(conv_bind(parse_item_name(self._local_name(conv_model, conv_prop))),
                                          f"__property_{n}"))
        conv_conditions = self.bind_filters(conversion.conversion_filters, conv_bind)
        conv = conv_source.from_(new_select(*conv_projections), conv_conditions)
        conv_name = self.add_cte(f"{conv_model.name}_conversion_events", conv)
        if self.c.dialect == "duckdb":  # of an entity with no base event none is attributed: left out before
            # they are numbered and paired, or sorted by the ASOF JOIN (orders of customers never visited, in the
            # demo's company KPIs)
            conv_name = self.add_cte(f"{conv_model.name}_converting", new_select(exp.Star()).from_(
                named_table(conv_name), copy=False).where(exp.In(this=column("__entity", conv_name), query=exp.Subquery(
                    this=new_select(column("__entity", base_name)).from_(named_table(base_name), copy=False))),
                copy=False))
        # attribution
        on: list[exp.Expr] = [
            exp.EQ(this=column("__entity", base_name), expression=column("__entity", conv_name)),
            exp.LTE(this=column(DAY, base_name), expression=column(DAY, conv_name))]
        if conversion.window is not None:
            on.append(exp.GT(this=column(DAY, base_name), expression=exp.Sub(
                this=column(DAY, conv_name), expression=interval(conversion.window))))
        for n in range(len(conversion.constant_properties)):
            on.append(exp.EQ(this=column(f"__property_{n}", base_name),
                             expression=column(f"__property_{n}", conv_name)))
        days = conversions.window_days(conversion.window)
        if self.c.dialect == "duckdb" and days is not None:
            # a hash join on the entity and the window's bucket of days: no sort of every event (conversions.py)
            keyed_name = self.add_cte(f"{conv_model.name}_keyed", conversions.keyed(conv_name, days))
            renamed = [c.transform(lambda n: column(n.name, keyed_name) if isinstance(n, exp.Column) and n.table
                                   == conv_name else n) for c in on]
            matched = conversions.attributed(
                keyed_name, base_name, [*[column(i.column_name(), base_name) for i in self.items],
                                        column("__value", keyed_name)],
                [c for c in renamed if isinstance(c, exp.EQ)], exp.and_(
                    *[c for c in renamed if not isinstance(c, exp.EQ)], copy=False), days)
        elif self.c.dialect == "duckdb":
            # ASOF JOIN finds each conversion's latest base event without pairing every base event
            # with every later conversion of the same entity; the window is checked afterwards
            asof = [c for c in on if not isinstance(c, exp.GT)]
            window: list[exp.Expr] = [c for c in on if isinstance(c, exp.GT)]
            matched = new_select(*[column(i.column_name(), base_name) for i in self.items],
                                 column("__value", conv_name)).from_(named_table(conv_name), copy=False).join(
                joined("ASOF", base_name), on=exp.and_(*asof, copy=False), copy=False)
            if window:
                matched = matched.where(and_all(window), copy=False)
        else:
            rank = exp.Window(this=exp.RowNumber(), partition_by=[column("__conversion_id", conv_name)],
                              order=exp.Order(expressions=[exp.Ordered(this=column(DAY, base_name), desc=True)]))
            matched = new_select(*[column(i.column_name(), base_name) for i in self.items],
                                 column("__value", conv_name), alias(rank, "__attribution_rank")).from_(
                named_table(conv_name), copy=False).join(joined("INNER", base_name), on=exp.and_(*on, copy=False),
                                                         copy=False)
        matched_name = self.add_cte(f"{conv_model.name}_attributed", matched)
        outer = new_select(*[column(i.column_name(), matched_name) for i in self.items],
                           alias(self.c.aggregate(instance, column("__value", matched_name)),
                                 self.plan.instances[instance])).from_(named_table(matched_name), copy=False)
        if self.c.dialect != "duckdb":  # one base event per conversion: the first of its rank
            outer = outer.where(exp.EQ(this=column("__attribution_rank", matched_name),
                                       expression=exp.Literal.number(1)), copy=False)
        if self.items:
            outer = outer.group_by(*[column(i.column_name(), matched_name) for i in self.items], copy=False)
        return self.add_cte(f"{conv_model.name}_conversions", outer)

    def one_base_event_per_day(self, base_name: str, properties: int, base_model: str, entity: str) -> str:
        """Ties, broken the same way on every engine: of an entity's base events on one day, the one whose
        group-by values sort first (NULLs last) is the conversion's latest base event. When the day and
        the entity decide every group-by value (metric_time; the entity's dimensions, as a customer's
        segment), tied events are interchangeable and are not ranked."""
        ties = [i for i in self.items if not i.is_metric_time]
        if all(self.c.graph.decided_by(base_model, entity, i) for i in ties):
            return base_name
        keys = [DAY, "__entity", *(f"__property_{n}" for n in range(properties))]
        rank = exp.Window(this=exp.RowNumber(), partition_by=[column(k, base_name) for k in keys],
                          order=exp.Order(expressions=[exp.Ordered(this=column(i.column_name(), base_name),
                                                                   nulls_first=False) for i in ties]))
        ranked = self.add_cte(f"{base_name}_ranked", new_select(exp.Star(), alias(rank, "__tie_rank")).from_(
            named_table(base_name), copy=False))
        kept = new_select(*[column(k, ranked) for k in [*keys[:2], *(i.column_name() for i in self.items),
                                                        *keys[2:]]]).from_(named_table(ranked), copy=False).where(
            exp.EQ(this=column("__tie_rank", ranked), expression=exp.Literal.number(1)), copy=False)
        return self.add_cte(f"{base_name}_first", kept)

    @staticmethod
    def _local_name(model: Any, dimension_name: str) -> str:
        """A model's own dimension, named through its primary entity."""
        primary = primary_entity(model)
        if primary is None:
            raise QueryError(f"semantic model '{model.name}' has no primary entity to name "
                             f"'{dimension_name}' through")
        return f"{primary}__{dimension_name}"

    # --- combining -----------------------------------------------------------------------------
    def combine(self, outputs: list[tuple[str, list[MeasureInstance]]]) -> Compiled:
        checked = self.presence.isolated
        if self.items and len(outputs) > 1 and self.c.dialect in KEYED_DIALECTS and \
                len(outputs) * len(self.plan.instances) <= STACKED_CELLS:
            apart = [o for o in outputs if checked.intersection(o[1])]  # their rows are told apart below
            outputs = stack_on_keys([o for o in outputs if o not in apart], self.ctes, self.c.time_columns,
                                    self.add_cte, self.c.dialect in RAW_DAY_DIALECTS) + apart  # stacking.py
        where_from = {inst: name for name, group in outputs for inst in group}
        names = [self.plan.instances[inst] for _, group in outputs for inst in group]
        # a scan whose rows a metric is answered on marks them (presence.py)
        markers = {name: f"__rows_{n}" for n, (name, group) in enumerate(outputs, 1)
                   if len(outputs) > 1 and checked.intersection(group)}
        present: dict[MeasureInstance, exp.Expr] = {}
        if len(outputs) == 1:
            base = outputs[0][0]
            key_source = base
            select = new_select().from_(named_table(base), copy=False)
        elif self.items and len(outputs) * len(names) <= STACKED_CELLS and self.c.dialect in STACKED_DIALECTS:
            # every scan has one row per group: stacked and grouped, each group's values meet in one row
            # (NULL keys meet as GROUP BY meets them), with no join and no distinct list of keys to build first
            stacked: exp.Query | None = None
            for name, group in outputs:
                own = {self.plan.instances[inst] for inst in group}
                part = new_select(*[column(c, name) for c in self.columns], *[
                    column(n, name) if n in own else alias(exp.Null(), n) for n in names], *[
                    alias(exp.Literal.number(1) if scan == name else exp.Null(), marker)
                    for scan, marker in markers.items()]).from_(named_table(name), copy=False)
                stacked = part if stacked is None else exp.union(stacked, part, distinct=False, copy=False)
            assert stacked is not None
            grouped = new_select(*[column(c) for c in self.columns],
                                 *[alias(exp.Max(this=column(n)), n) for n in [*names, *markers.values()]]).from_(
                exp.Subquery(this=stacked, alias=exp.TableAlias(this=exp.to_identifier("stacked"))),
                copy=False).group_by(*[column(c) for c in self.columns], copy=False)
            key_source = self.add_cte("combined", grouped)
            present = {inst: column(markers[name], key_source) for name, group in outputs if name in markers
                       for inst in group}
            where_from = dict.fromkeys(where_from, key_source)
            select = new_select().from_(named_table(key_source), copy=False)
        elif self.items:
            # many scans of many metrics (`metric_values`), where stacking would pad each scan with every
            # other scan's columns, or an engine that cannot stack untyped NULLs: the distinct keys are
            # listed once and each scan is joined to them
            keys: exp.Query | None = None
            for name, _ in outputs:
                part = new_select(*[column(c) for c in self.columns]).from_(named_table(name), copy=False)
                keys = part if keys is None else exp.union(keys, part, distinct=True, copy=False)
            assert keys is not None
            key_source = self.add_cte("group_keys", keys)
            select = new_select().from_(named_table(key_source), copy=False)
            for name, group in outputs:
                if name in markers:  # the scan's rows, marked
                    marker = markers[name]
                    name = self.add_cte(f"{name}_marked", new_select(
                        exp.Star(), alias(exp.Literal.number(1), marker)).from_(named_table(name), copy=False))
                    where_from.update(dict.fromkeys(group, name))
                    present.update({inst: column(marker, name) for inst in group})
                on = and_all([null_safe_eq(column(c, key_source), column(c, name)) for c in self.columns])
                select = select.join(joined("LEFT", named_table(name)), on=on, copy=False)
        else:
            key_source = outputs[0][0]
            select = new_select().from_(named_table(key_source), copy=False)
            for name, _ in outputs[1:]:
                select = select.join(joined("CROSS", named_table(name)), copy=False)
        projections: list[exp.Expr] = [alias(column(c, key_source), c) for c in self.columns]
        for metric, node in self.plan.metrics.items():
            projections.append(alias(self.metric_expression(node, where_from, present), metric))
        select = select.select(*projections, copy=False)
        select = with_ctes(select, self.ctes)
        if self.c.dialect in MATERIALIZED_DIALECTS and select.args.get("with_") is not None:
            count_from_groups(select.args["with_"])  # regroup.py: before the rows are shared
            share_scans(select.args["with_"], self.rows_name, self.reserve_name)
        select = self.order_and_limit(select)
        output = tuple([*self.columns, *self.plan.metrics])
        return Compiled(select, output, self.c.dialect)

    def rows_name(self, relation: exp.Table) -> str | None:
        """The name of the rows CTE of the semantic model whose relation (without alias) `relation` is."""
        return self.c.read_name(relation)

    def reserve_name(self, base: str) -> str:
        name = self.cte_name(base)
        self.cte_names.add(name)
        return name

    def metric_expression(self, node: Node, where_from: dict[MeasureInstance, str],
                          present: dict[MeasureInstance, exp.Expr]) -> exp.Expr:
        """`node` over the combined scans; `present`: per instance, the marker of its scan's rows, where a metric
        is answered only on its own rows (presence.py)."""
        value = self.metric_value(node, where_from, present)
        scope = self.presence.scopes.get(node)
        if scope and all(inst in present for inst in scope):
            markers = {text(present[inst]): present[inst] for inst in scope}
            rows = exp.or_(*[exp.Not(this=exp.Is(this=m.copy(), expression=exp.Null())) for m in markers.values()],
                           copy=False)
            value = exp.Case(ifs=[exp.If(this=rows, true=value)])
        return value

    def metric_value(self, node: Node, where_from: dict[MeasureInstance, str],
                     present: dict[MeasureInstance, exp.Expr]) -> exp.Expr:
        if isinstance(node, Leaf):
            value: exp.Expr = column(self.plan.instances[node.instance], where_from[node.instance])
            if node.fill_nulls_with is not None:
                value = exp.Coalesce(this=value, expressions=[exp.Literal.number(node.fill_nulls_with)])
            return value
        if isinstance(node, Ratio):
            num = cast(self.metric_expression(node.numerator, where_from, present), "DOUBLE")
            den = cast(exp.Nullif(this=self.metric_expression(node.denominator, where_from, present),
                                      expression=exp.Literal.number(0)), "DOUBLE")
            return exp.Div(this=num, expression=den)
        assert isinstance(node, Derived)
        inputs = dict(node.inputs)

        def float_division(n: exp.Expr) -> exp.Expr:
            # `/` is integer division on Postgres, Trino and SQL Server, and x / 0 an error on Postgres:
            # a derived metric divides as floating point everywhere, and by zero gives NULL everywhere
            if isinstance(n, exp.Div):
                return exp.Div(this=cast(n.this, "DOUBLE"), expression=exp.Nullif(
                    this=n.expression, expression=exp.Literal.number(0)))
            return n

        if node.expr not in self.c.derived:  # rewritten once per compiler, copied for each use
            self.c.derived[node.expr] = self.c.parsed(node.expr, "derived expression").transform(float_division,
                                                                                                copy=False)
        parsed = self.c.derived[node.expr].copy()

        def replace(n: exp.Expr) -> exp.Expr:
            if isinstance(n, exp.Column) and not n.table and n.name in inputs:
                return exp.paren(self.metric_expression(inputs[n.name], where_from, present), copy=False)
            return n

        return exp.paren(parsed.transform(replace, copy=False), copy=False)

    def order_and_limit(self, select: exp.Select) -> exp.Select:
        names = {*self.columns, *self.plan.metrics}
        for spec in self.query.order_by:
            desc = spec.startswith("-")
            name = spec[1:] if desc else spec
            if name == METRIC_TIME:
                name = next((i.column_name() for i in self.time_items), name)
            if name not in names:  # a time dimension ordered by the name it was asked for, without its grain
                grains = {*STANDARD_GRAINS, *SUBDAILY_GRAINS, *self.c.custom_grains}
                name = next((c for c in self.columns if c.startswith(f"{name}{SEP}")
                             and c[len(name) + len(SEP):] in grains), name)
            if name not in names and self.query.shorter_paths:  # by the shorter path it was asked for
                name = next(iter(c for c in self.columns if c.endswith(f"{SEP}{name}")), name)
            if name not in names:
                raise QueryError(f"cannot order by '{name}': it is not a metric or group-by item of the "
                                 f"query{suggest(name, sorted(names))}")
            select = select.order_by(exp.Ordered(this=column(name), desc=desc), copy=False)
        if self.query.limit is not None:
            select = select.limit(self.query.limit, copy=False)
        return select
