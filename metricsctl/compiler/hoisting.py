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


def _with(query: exp.Expr) -> exp.With | None:
    found = query.args.get("with_")
    return found if isinstance(found, exp.With) else None


def _renamed(expression: exp.Expr, names: dict[str, str]) -> exp.Expr:
    """`expression` with each unqualified table reference named in `names` renamed (in place); one without an
    alias gets its old name as alias, so that columns qualified with it still resolve."""
    for table in list(expression.find_all(exp.Table)):
        if not table.args.get("db") and not table.args.get("catalog") and table.name in names:
            if not table.alias:
                table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name)))
            table.set("this", exp.to_identifier(names[table.name]))
    return expression


def _fresh(name: str, taken: set[str]) -> str:
    candidate, n = f"shared_{name}", 1
    while candidate in taken:
        n += 1
        candidate = f"shared_{name}_{n}"
    taken.add(candidate)
    return candidate


def hoisted(queries: Sequence[tuple[str, exp.Expr]], taken: Iterable[str] = (),
            copy: bool = True) -> list[tuple[str, exp.Expr, bool]]:
    """The top-level CTEs (name, query, materialized) of a statement whose queries are `queries`, with the CTEs
    that two or more of them define alike defined once, first, and each query reading those.

    Two CTEs are alike when they are the same expression (as sqlglot compares them) and each CTE they read is
    alike. `taken` names the statement's other top-level names; `copy=False` edits the queries in place."""
    keys: dict[tuple[bool, exp.Expr, tuple[tuple[str, int], ...]], int] = {}  # (materialized, SQL, inputs) -> key
    first: dict[int, tuple[int, str, bool]] = {}  # key -> (query, alias, materialized) of its first definition
    owners: dict[int, set[int]] = {}
    local_keys: list[dict[str, int]] = []
    alone = itertools.count(-1, -1)  # keys of CTEs that stay where they are
    for index, (_, query) in enumerate(queries):
        local: dict[str, int] = {}
        with_ = _with(query)
        # a name a WITH inside the query defines again means another CTE there: such a CTE stays in its query
        inner = {cte.alias for w in query.find_all(exp.With) if w is not with_ for cte in w.expressions}
        for cte in with_.expressions if with_ is not None else []:
            inputs = {table.name: local[table.name] for table in cte.this.find_all(exp.Table)
                      if not table.args.get("db") and not table.args.get("catalog") and table.name in local}
            materialized = bool(cte.args.get("materialized"))
            key = next(alone) if cte.alias in inner or any(k < 0 for k in inputs.values()) else \
                keys.setdefault((materialized, cte.this, tuple(sorted(inputs.items()))), len(keys))
            first.setdefault(key, (index, cte.alias, materialized))
            owners.setdefault(key, set()).add(index)
            local[cte.alias] = key
        local_keys.append(local)
    shared = sorted(key for key, where in owners.items() if len(where) > 1)
    if not shared:
        return [(name, query, False) for name, query in queries]
    names_taken = {name for name, _ in queries} | set(taken) | {
        cte.alias for _, query in queries if (w := _with(query)) is not None for cte in w.expressions}
    canonical = {key: _fresh(first[key][1], names_taken) for key in shared}
    bodies: dict[int, exp.Expr] = {}
    rest: list[tuple[str, exp.Expr, bool]] = []
    for index, ((name, query), local) in enumerate(zip(queries, local_keys)):
        names = {alias: canonical[key] for alias, key in local.items() if key in canonical}
        if not names:
            rest.append((name, query, False))
            continue
        query = query.copy() if copy else query
        with_ = _with(query)
        assert with_ is not None
        _renamed(query, names)  # in the CTEs that stay, those that move, and the query's own SELECT
        kept = []
        for cte in with_.expressions:
            key = local[cte.alias]
            if key not in canonical:
                kept.append(cte)
            elif first[key][:2] == (index, cte.alias):
                bodies[key] = cte.this
        if kept:
            with_.set("expressions", kept)
        else:
            query.set("with_", None)
        rest.append((name, query, False))
    return [(canonical[key], bodies[key], first[key][2]) for key in shared] + rest
