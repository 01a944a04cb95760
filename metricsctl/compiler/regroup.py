"""Distinct counts of a scan's group keys, counted from another scan's groups of the same rows.

A balance's month-end value and its count of days by month and product category,

    WITH balances_days AS (SELECT src.day AS __time_1, j_product.category AS category, SUM(src.value) AS value
                           FROM balances AS src LEFT JOIN products AS j_product ON src.product_id = ...
                           GROUP BY src.day, j_product.category),
         ...
         balances_agg_2 AS (SELECT DATE_TRUNC('MONTH', src.day) AS month, j_product.category AS category,
                                   COUNT(DISTINCT src.day) AS days
                            FROM balances AS src LEFT JOIN products AS j_product ON src.product_id = ...
                            GROUP BY DATE_TRUNC('MONTH', src.day), j_product.category)

read the same rows, joined and filtered alike, twice: every raw row is joined to its product twice (and on
engines that compute a CTE once, shared.py reads the relation into a materialized CTE for both). The second
scan reads nothing but the first scan's group keys, so it is counted from the first scan's groups:

         balances_agg_2 AS (SELECT DATE_TRUNC('MONTH', src.__time_1) AS month, src.category AS category,
                                   COUNT(DISTINCT src.__time_1) AS days
                            FROM balances_days AS src GROUP BY DATE_TRUNC('MONTH', src.__time_1), src.category)

Every group holds one row at least and the rows are the same, so a distinct count (NULLs left out as before), a
MIN and a MAX of the group keys are what they were over the rows.
"""

from __future__ import annotations

from sqlglot import exp

from metricsctl.compiler.nodes import find_all
from metricsctl.compiler.writer import text

SOURCE = "src"  # the alias every scan gives its model's relation


def _relation(select: exp.Select) -> tuple[str, int] | None:
    """The relation's name and the number of joins of a plain scan (None: not a plain scan of a relation): a
    cheap first test, so that the full text of `_shape` is written only where a counting scan may match."""
    from_ = select.args.get("from_")
    table = from_.this if from_ is not None else None
    if not isinstance(table, exp.Table) or table.alias != SOURCE:
        return None
    if any(select.args.get(arg) for arg in ("having", "qualify", "distinct", "limit", "windows", "with_")):
        return None
    return table.name, len(select.args.get("joins") or [])


def _shape(select: exp.Select) -> str:
    """The relation, joins and filter a plain scan reads its rows through, as text."""
    where = select.args.get("where")
    return " ".join([text(select.args["from_"].this), *(text(j) for j in select.args.get("joins") or []),
                     text(where) if where is not None else ""])


def _counts_keys_only(select: exp.Select) -> bool:
    """Whether every aggregate of the scan is a distinct count, a MIN or a MAX (the same over groups)."""
    if select.args.get("group") is None:
        return False
    found = False
    for projection in select.expressions:
        for aggregate in find_all(projection, exp.AggFunc, exp.Window):
            if not (isinstance(aggregate, (exp.Min, exp.Max))
                    or isinstance(aggregate, exp.Count) and isinstance(aggregate.this, exp.Distinct)):
                return False  # the first other aggregate ends the search (most scans sum)
            found = True
    return found


def _keys(select: exp.Select) -> dict[exp.Expr, str] | None:
    """Each group key of the scan and the name it is projected as (None: a key is not projected)."""
    group = select.args.get("group")
    if group is None or not group.expressions or any(group.args.get(a) for a in ("rollup", "cube", "grouping_sets")):
        return None
    named = {p.this: p.alias for p in select.expressions if isinstance(p, exp.Alias)}
    keys = {key: named.get(key) for key in group.expressions}
    return {k: v for k, v in keys.items() if v} if all(keys.values()) else None


def count_from_groups(with_: exp.With) -> None:
    """Rewrite `with_` in place: a scan whose aggregates are distinct counts, MINs and MAXes of another
    earlier scan's group keys, over the same rows, reads that scan's groups instead of the rows."""
    ctes: list[exp.CTE] = list(with_.expressions)
    counting = {id(cte) for cte in ctes if isinstance(cte.this, exp.Select) and _counts_keys_only(cte.this)}
    if not counting:
        return
    relations = {_relation(cte.this) for cte in ctes if id(cte) in counting} - {None}
    grouping: dict[str, tuple[exp.CTE, dict[exp.Expr, str]]] = {}
    for cte in ctes:
        select = cte.this
        relation = _relation(select) if isinstance(select, exp.Select) else None
        if relation not in relations:
            continue
        shape = _shape(select)
        if id(cte) not in counting:
            keys = _keys(select)
            if keys is not None:
                grouping.setdefault(shape, (cte, keys))
            continue
        if shape not in grouping:
            continue
        source, keys = grouping[shape]
        rewritten = _from_groups(select, source.alias_or_name, keys)
        if rewritten is not None:
            cte.set("this", rewritten)


def _from_groups(select: exp.Select, groups: str, keys: dict[exp.Expr, str]) -> exp.Select | None:
    """`select` reading the groups (as `src`) where it read the rows, or None if it reads more than the keys."""
    made: set[int] = set()

    def to_key(node: exp.Expr) -> exp.Expr:
        name = keys.get(node)
        if name is None:
            return node
        key = exp.column(name, SOURCE, quoted=False)
        made.add(id(key))
        return key

    projections = [p.copy().transform(to_key, copy=False) for p in select.expressions]
    group = [g.copy().transform(to_key, copy=False) for g in select.args["group"].expressions]
    if any(id(col) not in made for node in [*projections, *group] for col in find_all(node, exp.Column)):
        return None  # it reads a column of the rows that is no group key
    return exp.select(*projections, copy=False).from_(
        exp.alias_(exp.Table(this=exp.to_identifier(groups)), SOURCE, table=True), copy=False).group_by(
        *group, copy=False)
