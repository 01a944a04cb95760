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
is one), so a timestamp's truncations are computed once per group; when every read of it is one and the same
truncation (the scan of a query by month), it is grouped on that truncation, one group per month and key
instead of per day and key. A scan that reads a finer time column is left as it is, since grouping on it would
group nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from metricsctl.compiler.nodes import find_all, quoted, walk

TRUNCATIONS = (exp.DateTrunc, exp.TimestampTrunc)
ROLLUPS: dict[type[exp.Expr], type[exp.Expr]] = {exp.Sum: exp.Sum, exp.Count: exp.Sum, exp.Min: exp.Min,
                                                 exp.Max: exp.Max}
_BIGINT = dict(exp.DataType.build("BIGINT").args)  # the type's plain arguments: building it from text parses it


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
    counted: exp.Expr = exp.Cast(this=rolled, to=exp.DataType(**_BIGINT))
    return counted if grouped else exp.Coalesce(this=counted, expressions=[exp.Literal.number(0)])


def _conjuncts(where: exp.Expr | None) -> list[exp.Expr]:
    """The conditions a WHERE clause ANDs together."""
    if where is None:
        return []
    condition = where.this if isinstance(where, exp.Where) else where
    return list(condition.flatten()) if isinstance(condition, exp.And) else [condition]


def _own(node: exp.Expr, source: str) -> bool:
    """Reads the source's columns only (no other table, no subquery)."""
    if node.find(exp.Subquery, exp.Select) is not None:
        return False
    return all(c.table == source for c in find_all(node, exp.Column))


def _reads(node: exp.Expr, source: str, atoms: list[exp.Expr], found: dict[int, exp.Expr],
           columns: dict[str, exp.Column]) -> None:
    """Record the time atoms `node` reads (by id of the node) and the source's other columns, without
    descending into a subquery (its columns are its own) or into an atom."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, exp.Subquery):
            continue
        atom = next((a for a in atoms if type(a) is type(current) and a == current), None)
        if atom is not None:
            found[id(current)] = atom
            continue
        if isinstance(current, exp.Column):
            if current.table == source:
                columns.setdefault(current.name, current)
            continue
        stack.extend(current.iter_expressions())


def _walk(node: exp.Expr) -> list[exp.Expr]:
    """`node` and the nodes below it, without descending into a subquery (its columns are its own)."""
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        if isinstance(current, exp.Subquery):
            continue
        found.append(current)
        stack.extend(current.iter_expressions())
    return found


def _by_day(node: exp.Expr) -> bool:
    """A truncation to the day."""
    unit = node.args.get("unit")
    return isinstance(node, TRUNCATIONS) and isinstance(unit, (exp.Var, exp.Literal)) and unit.name.upper() == "DAY"


def _coarsest(atoms: list[exp.Expr], parts: list[exp.Expr], raw_days: bool = False) -> list[exp.Expr]:
    """Each time atom, or the one truncation of it that every read of it goes through: a scan by month
    reads `DATE_TRUNC('MONTH', src.day)` only, and grouping on that leaves a group per month, not per day.
    With `raw_days`, a truncation to the day is not grouped on: the atom is a time at day grain or coarser,
    so its values are days already, and `DATE_TRUNC('DAY', d)` computed per row (a TIMESTAMP key made of
    each DATE) is then computed once per group instead."""
    nodes = [node for part in parts for node in _walk(part)]
    coarsest: list[exp.Expr] = []
    for atom in atoms:
        parents = [n.parent for n in nodes if type(n) is type(atom) and n == atom]
        first = parents[0] if parents else None
        if isinstance(first, TRUNCATIONS) and all(type(p) is type(first) and p == first for p in parents) \
                and not (raw_days and _by_day(first)):
            coarsest.append(first.copy())
        else:
            coarsest.append(atom)
    return coarsest


def _projections(select: exp.Select, source: str) -> tuple[list[exp.Alias], list[tuple[str, exp.Expr]]] | None:
    """The scan's items and its aggregates (by alias), when its shape can be grouped first: joins, the source
    as a plain table, every projection named, and every aggregate one that combines from partial aggregates
    over the source's own columns; None otherwise. Reads the scan, changes nothing."""
    if not select.args.get("joins") or select.args.get("distinct") or select.args.get("having"):
        return None
    from_ = select.args.get("from_")
    if from_ is None or not isinstance(from_.this, exp.Table) or from_.this.alias_or_name != source:
        return None
    items: list[exp.Alias] = []
    aggregates: list[tuple[str, exp.Expr]] = []
    for projection in select.expressions:
        if not isinstance(projection, exp.Alias):
            return None
        value = projection.this
        if value.find(exp.AggFunc, exp.WithinGroup, exp.Window) is None:
            items.append(projection)
            continue
        rollup = ROLLUPS.get(type(value))
        if rollup is None or isinstance(value.this, exp.Distinct) or not _own(value, source) \
                or any(a is not value for a in find_all(value, exp.AggFunc, exp.Window)):
            return None
        aggregates.append((projection.alias, value))
    return (items, aggregates) if aggregates else None


def may_group_first(select: exp.Select, source: str = "src") -> bool:
    """Whether `grouped_first` may split the scan, checked without copying it: False means it returns None."""
    return _projections(select, source) is not None


def grouped_first(select: exp.Select, time_atoms: list[exp.Expr], fine_columns: set[str],
                  source: str = "src", raw_days: bool = False) -> Grouped | None:
    """The scan split into an aggregate of the source's rows and the scan over it; None when it does not
    split (nothing is joined, an aggregate does not combine, or a finer time column is read). The scan's
    nodes move into the result: on success `select` is not to be used again.

    `time_atoms`: the model's time dimensions at day grain or coarser, as the scan qualifies them;
    `fine_columns`: the model's columns that a finer time dimension reads; `raw_days`: a time read at day
    grain is grouped on as it is, and truncated per group."""
    parts = _projections(select, source)
    if parts is None:
        return None
    items, aggregates = parts
    joins = list(select.args["joins"])
    from_ = select.args["from_"]
    # the filters and groups are copied: a compiled tree may share a node between two places (a period's
    # truncation in the projection and in a bound), and each place's reads are replaced apart below
    conjuncts = [c.copy() for c in _conjuncts(select.args.get("where"))]
    inner_where = [c for c in conjuncts if _own(c, source)]
    outer_where = [c for c in conjuncts if not _own(c, source)]
    group = [g.copy() for g in select.args["group"].expressions] if select.args.get("group") else []
    ons = [j.args["on"] for j in joins if j.args.get("on") is not None]

    # what the rest of the scan reads of the source's rows: time atoms (each at the coarsest truncation
    # that all its reads share), and other columns
    found: dict[int, exp.Expr] = {}
    columns: dict[str, exp.Column] = {}
    time_atoms = _coarsest(time_atoms, [*items, *ons, *outer_where, *group], raw_days)
    for part in [*items, *ons, *outer_where, *group]:
        _reads(part, source, time_atoms, found, columns)
    if any(name in fine_columns for name in columns):
        return None
    names: dict[str, exp.Expr] = {}  # a grouped column's name -> its value over the source's rows
    atom_names: list[tuple[exp.Expr, str]] = []
    for atom in dict.fromkeys(found.values()):  # each atom once, in the order met
        name = atom.name if isinstance(atom, exp.Column) else f"__time_{len(atom_names) + 1}"
        atom_names.append((atom, name))
        names[name] = atom.copy()
    for name, col in columns.items():
        if name in names:
            return None  # a column named like a time atom's placeholder
        names[name] = exp.column(name, table=source, quoted=quoted(col.this))
    if any(alias in names for alias, _ in aggregates):
        return None

    # nothing returns None from here: the scan's own nodes are moved into the two selects
    placeholders = {id(atom): name for atom, name in atom_names}

    def placed(part: exp.Expr) -> exp.Expr:
        """`part` reading the grouped columns: each time atom it reads replaced by the atom's column."""
        for node in walk(part):
            matched = found.get(id(node))
            if matched is not None and not isinstance(matched, exp.Column):
                fresh = exp.column(placeholders[id(matched)], table=source, quoted=False)
                if node is part:
                    return fresh
                node.replace(fresh)
        return part

    for part in [*items, *ons]:
        placed(part)  # in place: a projection's alias or a join's condition is never an atom itself
    outer_where = [placed(c) for c in outer_where]
    group = [placed(g) for g in group]
    inner = exp.select(*[exp.alias_(value, name, quoted=False, copy=False) for name, value in names.items()],
                       *[exp.alias_(value, alias, quoted=False, copy=False) for alias, value in aggregates],
                       copy=False)
    inner = inner.from_(from_.this, copy=False)
    if inner_where:
        inner = inner.where(exp.and_(*inner_where, copy=False), copy=False)
    if names:
        inner = inner.group_by(*[value.copy() for value in names.values()], copy=False)
    rolled = {alias: exp.alias_(_rollup(value, exp.column(alias, table=source, quoted=False), bool(group)),
                                alias, quoted=False, copy=False) for alias, value in aggregates}
    projections: list[exp.Expr] = [rolled.get(p.alias_or_name, p) for p in select.expressions]
    where = exp.and_(*outer_where, copy=False) if outer_where else None
    return Grouped(inner, projections, joins, where, group, source)


@dataclass(frozen=True)
class OnRawDays:
    """`inner` groups the joined rows on the raw time columns; `outer(name)` derives the periods per group."""

    inner: exp.Select
    derived: list[tuple[str, exp.Expr]]  # (output name, expression over `inner`'s columns), in order

    def outer(self, name: str) -> exp.Select:
        return exp.select(*[exp.alias_(value, alias, quoted=False, copy=False) for alias, value in self.derived],
                          copy=False).from_(exp.Table(this=exp.to_identifier(name)), copy=False)


def grouped_on_raw_days(select: exp.Select, time_atoms: list[exp.Expr], fine_columns: set[str],
                        source: str = "src") -> OnRawDays | None:
    """A grouped scan whose keys truncate or cast the model's time columns (`DATE_TRUNC('MONTH', src.day)`,
    `CAST(DATE_TRUNC('DAY', src.day) AS DATE)`) split in two: the rows grouped on the time columns as they
    are and the other keys, then each derived key computed once per group instead of once per row. A key
    is a function of what it reads, so every group of the inner select falls into one group of the scan's
    keys; the outer select keeps the inner's groups (a period over several days is several rows, which the
    scan's consumer sums or picks from as it did the scan's). None when no key derives from a time column,
    a key mixes one with another column, or a finer time column is read."""
    if select.args.get("distinct") or select.args.get("having") or not select.args.get("group"):
        return None
    keys: list[exp.Alias] = []
    aggregates: list[exp.Alias] = []
    for projection in select.expressions:
        if not isinstance(projection, exp.Alias):
            return None
        (aggregates if projection.this.find(exp.AggFunc, exp.Window) is not None else keys).append(projection)
    atom_names: list[tuple[exp.Expr, str]] = []
    derived: list[tuple[str, exp.Expr]] = []
    plain: list[exp.Alias] = []
    def atom_of(node: exp.Expr) -> exp.Expr | None:
        return next((a for a in time_atoms if type(a) is type(node) and a == node), None)

    for key in keys:
        if any(c.table == source and c.name in fine_columns for c in find_all(key.this, exp.Column)):
            return None
        if not any(atom_of(n) is not None for n in walk(key.this)):
            plain.append(key)
            continue
        value = key.this.copy()
        for node in walk(value):
            atom = atom_of(node)
            if atom is None:
                continue
            name = next((n for a, n in atom_names if a == atom), None)
            if name is None:
                name = f"__time_{len(atom_names) + 1}"
                atom_names.append((atom, name))
            fresh = exp.column(name, quoted=False)
            if node is value:
                value = fresh
            else:
                node.replace(fresh)
        if any(c.table for c in find_all(value, exp.Column)):
            return None  # reads another column besides the time columns
        derived.append((key.alias, value))
    if not derived:
        return None
    inner = exp.select(*[exp.alias_(atom.copy(), name, quoted=False, copy=False) for atom, name in atom_names],
                       *[k.copy() for k in plain], *[a.copy() for a in aggregates], copy=False)
    for arg in ("from_", "joins", "where"):
        if select.args.get(arg) is not None:
            inner.set(arg, select.args[arg])
    inner = inner.group_by(*[atom.copy() for atom, _ in atom_names], *[k.this.copy() for k in plain], copy=False)
    names = dict(derived)
    ordered = [(p.alias, names[p.alias] if p.alias in names else exp.column(p.alias, quoted=False))
               for p in select.expressions]
    return OnRawDays(inner, ordered)
