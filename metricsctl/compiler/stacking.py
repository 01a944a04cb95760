"""Stack scans on the keys of the dimensions they join, and join the dimensions once to the stacked rows.

Scans of several models by the same joined dimension, as footfall, orders and revenue by day and store name,

    WITH traffic_agg AS (SELECT DATE_TRUNC('DAY', src.day) AS d, j_store.name AS store, SUM(src.n) AS footfall
                         FROM traffic AS src LEFT JOIN stores AS j_store ON src.store_id = j_store.store_id
                         GROUP BY DATE_TRUNC('DAY', src.day), j_store.name),
         orders_agg AS (... the same over orders, COUNT(src.order_id) AS orders ...)

each join the stores to their own rows and group by name, and the groups are then stacked and grouped again
(render.py, `combine`). Grouping each model's rows on the columns the joins and the items read instead (the
foreign key and the day), stacking those groups and joining the stores once to the stacked rows gives each
group's values in one GROUP BY by name:

    WITH traffic_grouped AS (SELECT src.day AS day, src.store_id AS store_id, SUM(src.n) AS footfall
                             FROM traffic AS src GROUP BY src.day, src.store_id),
         orders_grouped AS (SELECT src.ordered_at AS ordered_at, src.store_id AS store_id,
                            COUNT(src.order_id) AS orders FROM orders AS src GROUP BY src.ordered_at, src.store_id),
         stacked AS (SELECT day AS __key_1, store_id, footfall, NULL AS orders FROM traffic_grouped
                     UNION ALL SELECT ordered_at, store_id, NULL, orders FROM orders_grouped),
         combined_by_key AS (SELECT DATE_TRUNC('DAY', src.__key_1) AS d, j_store.name AS store,
                                    SUM(src.footfall) AS footfall, CAST(SUM(src.orders) AS BIGINT) AS orders
                             FROM stacked AS src LEFT JOIN stores AS j_store ON src.store_id = j_store.store_id
                             GROUP BY DATE_TRUNC('DAY', src.__key_1), j_store.name)

A name two stores share sums both stores' groups, as grouping each scan by the name did; a key no store
matches, or a NULL key, gives a NULL name, as it did. It holds for the aggregates that combine from partial
aggregates (preaggregate.py: SUM, COUNT as a sum of counts, MIN, MAX) and for scans whose joins, items and
filters on joined columns are the same once their own columns are named alike; any other scan (a distinct
count, a median, a filter inside an aggregate that reads a joined table) keeps its own scan, combined with
the result as before.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlglot import exp

from metricsctl.compiler.nodes import find_all
from metricsctl.compiler.plan import MeasureInstance
from metricsctl.compiler.preaggregate import grouped_first, may_group_first
from metricsctl.compiler.writer import text

# where the stacked shape gives the same rows and is measured to pay (BENCHMARKS.md section 6): a column of
# NULLs stacked first takes the type of the rows it meets (as for stacking, render.py); measured on DuckDB
KEYED_DIALECTS = frozenset({"duckdb"})
# where a time read at day grain is grouped on as it is and truncated per group (preaggregate.py)
RAW_DAY_DIALECTS = frozenset({"duckdb"})
SOURCE = "src"
STACKED = "__stacked"  # the stacked rows' name while the scans are compared

Output = tuple[str, list[MeasureInstance]]  # a scan's CTE and the measure instances it computes
TimeColumns = Callable[[str], tuple[list[exp.Expr], set[str]]]


@dataclass
class _Keyed:
    """A scan split into its model's rows grouped on the columns the rest reads (`inner`), and the joins,
    items, filters and roll-ups over those groups (`outer`, reading them as `src`)."""

    output: Output
    inner: exp.Select
    inner_name: str | None  # the CTE holding `inner` already (the model groups its rows first)
    outer: exp.Select
    reads: list[str]  # the grouped columns `outer` reads, in the order first read
    measures: list[str]  # the partial aggregates' columns
    signature: str  # `outer` without its aggregates, its reads named by position


def _is_aggregate(projection: exp.Expr) -> bool:
    return projection.find(exp.AggFunc) is not None


def _key_parts(outer: exp.Select) -> list[exp.Expr]:
    """What the outer select reads besides its aggregates: items, join conditions, filters, groups."""
    parts = [p for p in outer.expressions if not _is_aggregate(p)]
    parts += [j for j in outer.args.get("joins") or []]
    for arg in ("where", "group"):
        if outer.args.get(arg) is not None:
            parts.append(outer.args[arg])
    return parts


def _renamed(node: exp.Expr, names: Mapping[str, str]) -> exp.Expr:
    """A copy of `node` whose source columns are renamed by `names`."""
    copied = node.copy()
    for col in find_all(copied, exp.Column):
        if col.table == SOURCE and col.name in names:
            col.set("this", exp.to_identifier(names[col.name]))
    return copied


def _partial(aggregate: exp.Expr) -> exp.Expr:
    """What `aggregate` (SUM, COUNT, MIN, MAX) is over one row: the row's value, or 1 or 0 for a count."""
    value: exp.Expr = aggregate.this
    if not isinstance(aggregate, exp.Count):
        return value
    if isinstance(value, exp.Star):
        return exp.Literal.number(1)
    return exp.Case(ifs=[exp.If(this=exp.Not(this=exp.Is(this=value, expression=exp.Null())),
                                true=exp.Literal.number(1))], default=exp.Literal.number(0))


def _ungrouped(inner: exp.Select) -> exp.Select:
    """`inner` row by row: each aggregate as its value over one row, no GROUP BY. A model that does not group
    its rows first (`group_rows_first`) has about a row per key, so grouping them would cost a pass and save
    nothing; the roll-ups over the stacked rows (a SUM of counts) treat each row as a group of one."""
    inner.set("expressions", [exp.alias_(_partial(p.this), p.alias, quoted=False, copy=False)
                              if _is_aggregate(p) else p for p in inner.expressions])
    inner.set("group", None)
    return inner


def _split(output: Output, bodies: Mapping[str, exp.Expr], time_columns: TimeColumns,
           raw_days: bool) -> _Keyed | None:
    name, group = output
    body = bodies.get(name)
    if not group or not all(i.is_plain for i in group) or not isinstance(body, exp.Select):
        return None
    from_ = body.args.get("from_")
    if from_ is None or not isinstance(from_.this, exp.Table) or from_.this.alias_or_name != SOURCE:
        return None
    read = from_.this.name if not from_.this.args.get("db") else None
    grouped_body = bodies.get(read) if read is not None else None
    if isinstance(grouped_body, exp.Select) and read is not None and read != name:
        inner, inner_name, outer = grouped_body, read, body  # the model's rows are grouped first already
    else:
        if not may_group_first(body):  # before copying the scan, which splitting it takes
            return None
        atoms, fine = time_columns(group[0].model)
        split = grouped_first(body.copy(), atoms, fine, raw_days=raw_days)
        if split is None:
            return None
        inner, inner_name, outer = split.inner, None, split.outer(STACKED)
    if not outer.args.get("joins") or not outer.args.get("group"):
        return None
    measures = [p.alias_or_name for p in inner.expressions if _is_aggregate(p)]
    if inner_name is None:
        inner = _ungrouped(inner)
    columns = {p.alias_or_name for p in inner.expressions}
    reads: list[str] = []
    for part in _key_parts(outer):
        for col in find_all(part, exp.Column):
            if col.table == SOURCE and col.name not in reads:
                reads.append(col.name)
    if any(r not in columns or r in measures for r in reads):
        return None
    positions = {r: f"__key_{n}" for n, r in enumerate(reads, 1)}
    signature = " ".join(text(_renamed(p, positions), copy=False) for p in _key_parts(outer))
    return _Keyed(output, inner, inner_name, outer, reads, measures, signature)


def _joined(body: exp.Expr | None) -> tuple[tuple[str, str], ...] | None:
    """The relations a scan joins (name and alias, in order), which scans that stack share, since their
    joins are written alike; None for a scan that does not stack (no join, no GROUP BY). Only scans sharing
    them are split, each on a copy of its tree: most of a query's scans share them with no other."""
    if not isinstance(body, exp.Select) or not body.args.get("joins") or not body.args.get("group"):
        return None
    return tuple((join.this.name, join.this.alias_or_name) for join in body.args["joins"])


def _stacked_names(members: list[_Keyed]) -> list[str]:
    """The stacked rows' key columns: the members' own name where all share it, else `__key_<n>`."""
    measures = {m for member in members for m in member.measures}
    names: list[str] = []
    for n in range(len(members[0].reads)):
        own = {member.reads[n] for member in members}
        name = own.pop() if len(own) == 1 else f"__key_{n + 1}"
        names.append(name if name not in measures and name not in names else f"__key_{n + 1}")
    return names


def stack_on_keys(outputs: list[Output], ctes: list[tuple[str, exp.Expr]], time_columns: TimeColumns,
                  add_cte: Callable[[str, exp.Expr], str], raw_days: bool) -> list[Output]:
    """`outputs` with the scans that stack on their keys replaced by one scan of them all; `ctes` loses the
    scans replaced and gains the stacked rows and their aggregate (through `add_cte`)."""
    bodies = dict(ctes)
    joined = {name: _joined(bodies.get(name)) for name, _ in outputs}
    sharing = Counter(joined.values())
    classes: dict[str, list[_Keyed]] = {}
    for output in outputs:
        joins = joined[output[0]]
        keyed = _split(output, bodies, time_columns, raw_days) if joins is not None and sharing[joins] > 1 else None
        if keyed is not None:
            classes.setdefault(keyed.signature, []).append(keyed)
    merged = {m.output[0]: members for members in classes.values() if len(members) > 1 for m in members}
    if not merged:
        return outputs
    replaced: dict[str, Output] = {}
    for members in {id(v): v for v in merged.values()}.values():
        replaced[members[0].output[0]] = _stack(members, ctes, add_cte)
    dropped = {name for name in merged if name not in replaced} | set(replaced)
    ctes[:] = [(name, body) for name, body in ctes if name not in dropped]
    return [replaced.get(o[0], o) for o in outputs if o[0] in replaced or o[0] not in merged]


def _stack(members: list[_Keyed], ctes: list[tuple[str, exp.Expr]],
           add_cte: Callable[[str, exp.Expr], str]) -> Output:
    keys = _stacked_names(members)
    measures = [m for member in members for m in member.measures]
    stacked: exp.Query | None = None
    for member in members:
        source = member.inner_name or add_cte(f"{member.output[1][0].model}_rows", member.inner)
        own = set(member.measures)
        part = exp.select(
            *[exp.alias_(exp.column(r, quoted=False), k, quoted=False) if r != k else exp.column(r, quoted=False)
              for r, k in zip(member.reads, keys, strict=True)],
            *[exp.column(m, quoted=False) if m in own else exp.alias_(exp.Null(), m, quoted=False)
              for m in measures], copy=False).from_(exp.Table(this=exp.to_identifier(source)), copy=False)
        stacked = part if stacked is None else exp.union(stacked, part, distinct=False, copy=False)
    assert stacked is not None
    stacked_name = add_cte("stacked_by_key", stacked)
    first = members[0]
    names = dict(zip(first.reads, keys, strict=True))
    outer = first.outer.copy()
    projections = [_renamed(p, names) for p in outer.expressions if not _is_aggregate(p)]
    for member in members:
        projections += [p.copy() for p in member.outer.expressions if _is_aggregate(p)]
    outer.set("expressions", projections)
    for arg in ("joins", "where", "group"):
        value = outer.args.get(arg)
        if isinstance(value, list):
            outer.set(arg, [_renamed(v, names) for v in value])
        elif value is not None:
            outer.set(arg, _renamed(value, names))
    grouped = _grouped_on_keys(stacked_name, keys, outer)
    if grouped is not None:
        stacked_name = add_cte("grouped_by_key", grouped)
    outer.set("from_", exp.From(this=exp.alias_(exp.Table(this=exp.to_identifier(stacked_name)), SOURCE,
                                                table=True)))
    instances = [i for member in members for i in member.output[1]]
    return add_cte("combined_by_key", outer), instances


def _grouped_on_keys(stacked: str, keys: list[str], outer: exp.Select) -> exp.Select | None:
    """The stacked rows grouped on their keys (the day, the foreign key) before the dimension is joined: the
    GROUP BY by its names then holds one row a key, not a hash table of names over every stacked row (store
    traffic: 6M stacked rows, 2M keys; 1.1 GB of memory against 0.75 GB, BENCHMARKS.md section 6). Each
    measure is rolled up as the outer select rolls it up (SUM, MIN, MAX), so the values are those of the rows;
    None where an outer aggregate is anything else, reads more than a measure, or rolls up a measure that
    another aggregate rolls up another way."""
    rollups: dict[str, exp.Expr] = {}
    for projection in outer.expressions:
        if not _is_aggregate(projection):
            continue
        aggregate = projection.find(exp.AggFunc)
        value = aggregate.this if aggregate is not None else None
        if not isinstance(aggregate, (exp.Sum, exp.Min, exp.Max)) or not isinstance(value, exp.Column) or \
                value.table != SOURCE or value.name in keys or len(find_all(projection, exp.AggFunc)) != 1:
            return None
        earlier = rollups.get(value.name)
        if earlier is not None and not isinstance(earlier, aggregate.__class__):
            return None  # one column rolled up two ways (SUM and MAX of it) cannot be grouped once
        rollups[value.name] = aggregate.__class__(this=exp.column(value.name, quoted=False))
    return exp.select(*[exp.column(k, quoted=False) for k in keys],
                      *[exp.alias_(r, m, quoted=False) for m, r in rollups.items()], copy=False).from_(
        exp.Table(this=exp.to_identifier(stacked)), copy=False).group_by(
        *[exp.column(k, quoted=False) for k in keys], copy=False)
