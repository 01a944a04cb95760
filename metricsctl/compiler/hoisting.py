"""One definition of what several queries of one statement compute alike: their common CTEs, hoisted.

`metric_values` is one statement of many queries (each group of metrics at day, week and month), each with
its own CTEs. Queries of one group at the three grains read their semantic models alike: the same rows, the
same daily sums (a cumulative metric's days over the whole history, the first order of each customer), only
their last steps differ by grain. The warehouse computes each CTE where it is defined, so each of those reads
ran three times. `hoisted` gives every CTE that two or more queries define alike (the same SQL, reading CTEs
that are alike in turn) one definition at the top of the statement, under a name of its own, and points the
queries at it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from sqlglot import exp

from metricsctl.compiler.nodes import find_all


def _with(query: exp.Expr) -> exp.With | None:
    found = query.args.get("with_")
    return found if isinstance(found, exp.With) else None


def _rename(tables: Iterable[exp.Table], names: dict[str, str]) -> None:
    """Rename each table reference named in `names` (in place); one without an alias gets its old name as alias,
    so that columns qualified with it still resolve."""
    for table in tables:
        if table.name in names:
            if not table.alias:
                table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name)))
            table.set("this", exp.to_identifier(names[table.name]))


def _fresh(name: str, taken: set[str]) -> str:
    candidate, n = f"shared_{name}", 1
    while candidate in taken:
        n += 1
        candidate = f"shared_{name}_{n}"
    taken.add(candidate)
    return candidate


def _references(node: exp.Expr, inner: set[str]) -> list[exp.Table]:
    """The unqualified table references in `node`; the names a WITH inside it defines go to `inner`."""
    found: list[exp.Table] = []
    for child in find_all(node, exp.Table, exp.With):
        if isinstance(child, exp.With):
            inner.update(cte.alias for cte in child.expressions)
        elif isinstance(child, exp.Table) and not child.args.get("db") and not child.args.get("catalog"):
            found.append(child)
    return found


def hoisted(queries: Sequence[tuple[str, exp.Expr]], taken: Iterable[str] = ()) -> list[tuple[str, exp.Expr, bool]]:
    """The top-level CTEs (name, query, materialized) of a statement whose queries are `queries`, with the CTEs
    that two or more of them define alike defined once, first, and each query reading those.

    Two CTEs are alike when they are the same expression (as sqlglot compares them) and each CTE they read is
    alike. The queries are edited in place; `taken` names the statement's other top-level names."""
    keys: dict[tuple[bool, exp.Expr, tuple[tuple[str, int], ...]], int] = {}  # (materialized, SQL, inputs) -> key
    first: dict[int, tuple[int, exp.CTE]] = {}  # key -> (query, CTE) of its first definition
    owners: dict[int, set[int]] = {}
    local_keys: list[dict[str, int]] = []
    references: list[list[exp.Table]] = []  # each query's unqualified table references
    alone = itertools.count(-1, -1)  # keys of CTEs that stay where they are
    for index, (_, query) in enumerate(queries):
        local: dict[str, int] = {}
        with_ = _with(query)
        inner: set[str] = set()  # a name a WITH inside the query defines again: another CTE there
        ctes = list(with_.expressions) if with_ is not None else []
        read = [_references(cte.this, inner) for cte in ctes]
        outside = [table for child in query.iter_expressions() if child is not with_
                   for table in _references(child, inner)]
        for cte, tables in zip(ctes, read):
            inputs = {table.name: local[table.name] for table in tables if table.name in local}
            materialized = bool(cte.args.get("materialized"))
            key = next(alone) if cte.alias in inner or any(k < 0 for k in inputs.values()) else \
                keys.setdefault((materialized, cte.this, tuple(sorted(inputs.items()))), len(keys))
            first.setdefault(key, (index, cte))
            owners.setdefault(key, set()).add(index)
            local[cte.alias] = key
        local_keys.append(local)
        references.append([table for tables in read for table in tables] + outside)
    shared = sorted(key for key, where in owners.items() if len(where) > 1)
    if not shared:
        return [(name, query, False) for name, query in queries]
    names_taken = {name for name, _ in queries} | set(taken) | {
        cte.alias for _, query in queries if (w := _with(query)) is not None for cte in w.expressions}
    canonical = {key: _fresh(first[key][1].alias, names_taken) for key in shared}
    rest: list[tuple[str, exp.Expr, bool]] = []
    for (name, query), local, tables in zip(queries, local_keys, references):
        names = {alias: canonical[key] for alias, key in local.items() if key in canonical}
        if names:
            with_ = _with(query)
            assert with_ is not None
            _rename(tables, names)  # in the CTEs that stay, those that move, and the query's own SELECT
            kept = [cte for cte in with_.expressions if local[cte.alias] not in canonical]
            if kept:
                with_.set("expressions", kept)
            else:
                query.set("with_", None)
        rest.append((name, query, False))
    return [(canonical[key], first[key][1].this, bool(first[key][1].args.get("materialized"))) for key in shared] + rest
