"""Aggregate a model's own rows before the dimensions are joined to them.

A scan such as

    SELECT DATE_TRUNC('MONTH', src.day) AS m, j_store.name AS store, SUM(src.amount) AS revenue
    FROM facts AS src LEFT JOIN stores AS j_store ON src.store_id = j_store.store_id
    GROUP BY DATE_TRUNC('MONTH', src.day), j_store.name

joins a store and truncates a date once per fact row. Summing the facts by the columns the rest of the
query reads, `(src.day, src.store_id)`, and then joining, truncating and summing again over those groups
gives the same answer from far fewer rows:

    WITH facts_grouped AS (SELECT src.day AS day, src.store_id AS store_id, SUM(src.amount) AS revenue
                           FROM facts AS src GROUP BY src.day, src.store_id)
    SELECT DATE_TRUNC('MONTH', src.day) AS m, j_store.name AS store, SUM(src.revenue) AS revenue
    FROM facts_grouped AS src LEFT JOIN stores AS j_store ON src.store_id = j_store.store_id
    GROUP BY DATE_TRUNC('MONTH', src.day), j_store.name

This holds for aggregates that combine from partial aggregates (SUM, COUNT as a SUM of counts, MIN, MAX),
when every aggregate reads the model's own columns only. Filters on the model's own columns apply before
grouping, the others after (they read the grouped columns and the joined rows, which are the same for every
row of a group). A time dimension at day grain or coarser is grouped on as it is (its expression, when it
is one), so a timestamp's truncations are computed once per group; a scan that reads a finer time column is
left as it is, since grouping on it would group nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

ROLLUPS: dict[type[exp.Expr], type[exp.Expr]] = {exp.Sum: exp.Sum, exp.Count: exp.Sum, exp.Min: exp.Min,
                                                 exp.Max: exp.Max}


@dataclass(frozen=True)
class Grouped:
    """`inner` groups the model's rows; `outer(name)` is the scan over `inner` stored as the CTE `name`."""

    inner: exp.Select
    projections: list[exp.Expr]
    joins: list[exp.Expr]
    where: exp.Expr | None
    group: list[exp.Expr]
    source: str

    def outer(self, name: str) -> exp.Select:
        select = exp.select(*self.projections).from_(
            exp.alias_(exp.Table(this=exp.to_identifier(name)), self.source, table=True), copy=False)
        for join in self.joins:
            select = select.join(join, copy=False)
        if self.where is not None:
            select = select.where(self.where, copy=False)
        if self.group:
            select = select.group_by(*self.group, copy=False)
        return select


def _rollup(aggregate: exp.Expr, partial: exp.Expr, grouped: bool) -> exp.Expr:
    rolled = ROLLUPS[type(aggregate)](this=partial)
    if not isinstance(aggregate, exp.Count):
        return rolled
    # a count stays a BIGINT (a sum of BIGINTs is wider on DuckDB and PostgreSQL), and over no rows it is 0
    counted: exp.Expr = exp.Cast(this=rolled, to=exp.DataType.build("BIGINT"))
    return counted if grouped else exp.Coalesce(this=counted, expressions=[exp.Literal.number(0)])


def _conjuncts(where: exp.Expr | None) -> list[exp.Expr]:
    if where is None:
        return []
    return list(where.flatten()) if isinstance(where, exp.And) else [where]


def _own(node: exp.Expr, source: str) -> bool:
    """Reads the source's columns only (no other table, no subquery)."""
    if node.find(exp.Subquery, exp.Select) is not None:
        return False
    return all(c.table == source for c in node.find_all(exp.Column))


def grouped_first(select: exp.Select, time_atoms: list[exp.Expr], fine_columns: set[str],
                  source: str = "src") -> Grouped | None:
    """The scan split into an aggregate of the source's rows and the scan over it; None when it does not
    split (nothing is joined, an aggregate does not combine, or a finer time column is read).

    `time_atoms`: the model's time dimensions at day grain or coarser, as the scan qualifies them;
    `fine_columns`: the model's columns that a finer time dimension reads."""
    joins = list(select.args.get("joins") or [])
    if not joins or select.args.get("distinct") or select.args.get("having") or select.find(exp.Window):
        return None
    from_ = select.args.get("from_")
    if from_ is None or not isinstance(from_.this, exp.Table) or from_.this.alias_or_name != source:
        return None
    items: list[exp.Expr] = []
    aggregates: list[tuple[str, exp.Expr]] = []
    for projection in select.expressions:
        if not isinstance(projection, exp.Alias):
            return None
        value = projection.this
        if value.find(exp.AggFunc, exp.WithinGroup) is None:
            items.append(projection)
            continue
        rollup = ROLLUPS.get(type(value))
        if rollup is None or isinstance(value.this, exp.Distinct) or not _own(value, source) \
                or any(a is not value for a in value.find_all(exp.AggFunc)):
            return None
        aggregates.append((projection.alias, value))
    if not aggregates:
        return None
    inner_where = [c for c in _conjuncts(select.args.get("where")) if _own(c, source)]
    outer_where = [c for c in _conjuncts(select.args.get("where")) if not _own(c, source)]
    group = list(select.args["group"].expressions) if select.args.get("group") else []

    # the time atoms the rest of the scan reads become columns of the grouped rows
    names: dict[str, exp.Expr] = {}  # a grouped column's name -> its expression over the source's rows
    placeholders: set[int] = set()

    def atom_name(atom: exp.Expr) -> str:
        for name, known in names.items():
            if known == atom:
                return name
        name = atom.name if isinstance(atom, exp.Column) else f"__time_{len(names) + 1}"
        names[name] = atom.copy()
        return name

    def replace(node: exp.Expr) -> exp.Expr:
        for atom in time_atoms:
            if node == atom:
                placeholder = exp.column(atom_name(atom), table=source, quoted=False)
                placeholders.add(id(placeholder))
                return placeholder
        return node

    def join_on(join: exp.Expr) -> exp.Expr:
        join = join.copy()
        if join.args.get("on") is not None:
            join.set("on", join.args["on"].transform(replace, copy=False))
        return join

    rest = [*(p.copy().transform(replace, copy=False) for p in items),
            *(join_on(j) for j in joins),
            *(c.copy().transform(replace, copy=False) for c in outer_where),
            *(g.copy().transform(replace, copy=False) for g in group)]
    n_items, n_joins, n_where = len(items), len(joins), len(outer_where)
    for part in rest:  # a joined subquery's own columns are its own: only the join's condition is read
        read = part.args.get("on") if isinstance(part, exp.Join) else part
        for col in read.find_all(exp.Column) if read is not None else ():
            if col.table != source or id(col) in placeholders:
                continue
            if col.name in fine_columns:
                return None
            known = names.get(col.name)
            if known is None:
                names[col.name] = exp.column(col.name, table=source, quoted=col.this.quoted)
            elif not (isinstance(known, exp.Column) and known.name == col.name):
                return None  # a raw column named like a time atom's placeholder
    if any(alias in names for alias, _ in aggregates):
        return None
    inner = exp.select(*[exp.alias_(value, name, quoted=False, copy=False) for name, value in names.items()],
                       *[exp.alias_(value.copy(), alias, quoted=False, copy=False) for alias, value in aggregates])
    inner = inner.from_(from_.this.copy(), copy=False)
    if inner_where:
        inner = inner.where(exp.and_(*[c.copy() for c in inner_where], copy=False), copy=False)
    if names:
        inner = inner.group_by(*[value.copy() for value in names.values()], copy=False)
    rolled = [exp.alias_(_rollup(value, exp.column(alias, table=source, quoted=False), bool(group)), alias,
                         quoted=False, copy=False) for alias, value in aggregates]
    by_alias = {p.alias: p for p in rest[:n_items]}
    projections = [by_alias[p.alias] if isinstance(p, exp.Alias) and p.alias in by_alias
                   else rolled.pop(0) for p in select.expressions]
    outer_conjuncts = rest[n_items + n_joins:n_items + n_joins + n_where]
    where = exp.and_(*outer_conjuncts, copy=False) if outer_conjuncts else None
    return Grouped(inner, projections, rest[n_items:n_items + n_joins], where,
                   rest[n_items + n_joins + n_where:], source)
