"""One read of a semantic model per query: scans of the same relation share a rows CTE.

When two scans of one query (a plain aggregate and a conversion's events, a balance's rows and a count of
its days, ...) read the same relation, each would read it, and a staging view would re-run its own query
(a deduplication window, a repair of mistyped dates) for each. Instead the relation is read once into
`<model>_read AS MATERIALIZED (SELECT <every column either reads> FROM relation AS src WHERE <the conditions
every scan applies>)`, and each scan reads that CTE under the same alias, keeping its own joins and its own
remaining filters. The rows each scan sees are the rows it saw before, so no answer changes.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from metricsctl.compiler.nodes import find_all, quoted, walk
from metricsctl.compiler.writer import text

SOURCE = "src"  # the alias every scan gives its model's relation


def share_scans(with_: exp.With, name_for: Callable[[exp.Table], str | None],
                new_name: Callable[[str], str]) -> None:
    """Rewrite `with_` in place: the scans (CTEs) reading one relation as `src` read one rows CTE instead.

    `name_for` names the rows CTE of a relation (None: leave its scans alone); `new_name` makes a CTE name
    unique. The rows CTE is placed before its first reader and marked MATERIALIZED."""
    ctes: list[exp.CTE] = list(with_.expressions)
    local = {cte.alias_or_name for cte in ctes}
    readers: dict[tuple[tuple[str, bool], ...], list[exp.CTE]] = {}
    relations: dict[tuple[tuple[str, bool], ...], exp.Table] = {}
    for cte in ctes:
        table = _read_as_source(cte.this, local)
        if table is not None:
            key = _relation_key(table)
            readers.setdefault(key, []).append(cte)
            relations.setdefault(key, table)
    placed: dict[int, exp.CTE] = {}
    for key, candidates in readers.items():
        # the full walk of each scan only where a relation has two readers at least
        read = {id(cte): _read_columns(cte.this) for cte in candidates} if len(candidates) > 1 else {}
        scans = [cte for cte in candidates if read.get(id(cte)) is not None]
        if len(scans) < 2:
            continue
        bare = relations[key].copy()
        bare.set("alias", None)
        base = name_for(bare)
        if base is None:
            continue
        rows_name = new_name(base)
        common = _common_conditions([cte.this for cte in scans])
        columns: dict[str, exp.Identifier | str] = {}  # a name as text: unquoted (render.column)
        for cte in scans:
            for col in read[id(cte)] or []:
                if col.table == SOURCE:
                    ident = col.this
                    columns.setdefault(col.name if quoted(ident) else col.name.lower(), ident)
        body = exp.Select(expressions=[exp.Column(this=ident if isinstance(ident, str) else ident.copy(), table=SOURCE)
                                       for ident in columns.values()]).from_(relations[key].copy(), copy=False)
        if common:
            body = body.where(*[c.copy() for c in common.values()], copy=False)
        for cte in scans:
            select = cte.this
            from_table = select.args["from_"].this
            from_table.set("this", exp.to_identifier(rows_name))
            from_table.set("db", None)
            from_table.set("catalog", None)
            if common:
                kept = [c for c in _conjuncts(select.args.get("where")) if text(c) not in common]
                select.set("where", None)
                if kept:
                    select.where(*kept, copy=False)
        rows = exp.CTE(this=body, alias=exp.TableAlias(this=exp.to_identifier(rows_name)), materialized=True)
        placed[id(scans[0])] = rows
    if placed:
        ordered: list[exp.CTE] = []
        for cte in ctes:
            if id(cte) in placed:
                ordered.append(placed[id(cte)])
            ordered.append(cte)
        with_.set("expressions", ordered)


def _read_as_source(body: exp.Expr, local: set[str]) -> exp.Table | None:
    """The relation a scan reads as `src` in a plain SELECT of its own (not one of the query's CTEs)."""
    if not isinstance(body, exp.Select) or body.args.get("with_") is not None:
        return None
    from_ = body.args.get("from_")
    table = from_.this if from_ is not None else None
    if not isinstance(table, exp.Table) or table.alias != SOURCE or (not table.db and table.name in local):
        return None
    return table


def _read_columns(body: exp.Select) -> list[exp.Column] | None:
    """The columns the scan reads, in the order of a walk of its tree, when every one is named and qualified
    (so every column it reads of its relation is known), with no nested query and no `*`; else None."""
    aliases = {SOURCE, *(join.alias_or_name for join in body.args.get("joins") or [])}
    columns: list[exp.Column] = []
    for node in walk(body):
        if isinstance(node, exp.Select) and node is not body or isinstance(node, exp.Star):
            return None
        if isinstance(node, exp.Column):
            if node.table not in aliases or node.args.get("db") is not None:
                return None  # a bare column, or a path into a nested value: not every column read is named
            columns.append(node)
    return columns


def _relation_key(table: exp.Table) -> tuple[tuple[str, bool], ...]:
    """The relation's name parts (catalog, schema, name), each with whether it is quoted."""
    parts = [table.args.get(part) for part in ("catalog", "db", "this")]
    return tuple((part.name, bool(part.quoted)) if isinstance(part, exp.Identifier) else (text(part), False)
                 for part in parts if part is not None)


def _conjuncts(where: exp.Where | None) -> list[exp.Expr]:
    if where is None:
        return []
    return list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]


def _common_conditions(selects: list[exp.Expr]) -> dict[str, exp.Expr]:
    """The conditions of WHERE that every scan applies and that read the relation's own columns only:
    applied once, as the shared rows are read."""
    found: dict[str, exp.Expr] | None = None
    for select in selects:
        own = {text(c): c for c in _conjuncts(select.args.get("where")) if _own_columns_only(c)}
        found = own if found is None else {k: v for k, v in found.items() if k in own}
    return found or {}


def _own_columns_only(condition: exp.Expr) -> bool:
    columns = find_all(condition, exp.Column)
    return bool(columns) and all(col.table == SOURCE for col in columns) and condition.find(
        exp.AggFunc, exp.Window) is None
