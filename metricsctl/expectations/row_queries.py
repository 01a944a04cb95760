"""The SQL of an `unexpected_rows_expectation`, read as data: one query that only reads the warehouse's tables.

Great Expectations runs the query a suite gives it as it stands, so a query from YAML could read files on the
warehouse's server (`read_text('/proc/self/environ')` on DuckDB, `pg_read_file` on PostgreSQL, a path as a
table on Spark) and land them in the results, the build's output and the metric center. It is parsed in the
warehouse's dialect and held to the node types of a `where` filter plus those of a plain query: selects,
joins, subqueries, grouping, set operations, aggregates and window functions. Each table is named by plain
identifiers, and `{batch}` stands for the relation the suite checks.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from metricsctl.compiler.filters import SCALAR_NODES
from metricsctl.guards import IDENTIFIER

BATCH = "{batch}"
_BATCH_NAME = "metricsctl_batch"

QUERY_NODES: tuple[type[exp.Expr], ...] = (
    *SCALAR_NODES, exp.Select, exp.From, exp.Where, exp.Join, exp.Table, exp.TableAlias, exp.Alias, exp.Star,
    exp.Subquery, exp.Exists, exp.Group, exp.Having, exp.Order, exp.Ordered, exp.Limit, exp.Offset,
    exp.Distinct, exp.Count, exp.Sum, exp.Min, exp.Max, exp.Avg, exp.Union, exp.Except, exp.Intersect, exp.With,
    exp.CTE, exp.Window, exp.RowNumber, exp.Lag, exp.Lead, exp.Any, exp.All,
)


def row_query_problem(query: object, dialect: str) -> str | None:
    """Why `query` is not one plain SQL query over the warehouse's tables, or None when it is."""
    if not isinstance(query, str) or not query.strip():
        return f"`unexpected_rows_query` must be a SQL query such as \"SELECT * FROM {BATCH} WHERE amount < 0\""
    try:
        statements = [s for s in sqlglot.parse(query.replace(BATCH, _BATCH_NAME), read=dialect) if s is not None]
    except RecursionError:
        return "`unexpected_rows_query` is nested too deeply to read"
    except sqlglot.errors.ParseError as exc:
        return f"`unexpected_rows_query` is not valid SQL: {exc.errors[0]['description']}"
    if len(statements) != 1:
        return f"`unexpected_rows_query` must be exactly one SELECT, found {len(statements)} statements"
    if not isinstance(statements[0], exp.Query):
        return f"`unexpected_rows_query` must be a SELECT, not {statements[0].key.upper()}"
    for node in statements[0].walk():
        if not isinstance(node, QUERY_NODES):
            return (f"`unexpected_rows_query` may only select from tables with plain SQL; "
                    f"`{node.sql(dialect)[:60]}` is not allowed (table or file functions, statements and "
                    "functions other than the common date, text and aggregate ones never are)")
        if isinstance(node, exp.Table):
            parts = [node.args.get(key) for key in ("this", "db", "catalog") if node.args.get(key) is not None]
            if not all(isinstance(p, exp.Identifier) and IDENTIFIER.fullmatch(p.name) for p in parts):
                return (f"`unexpected_rows_query` reads `{node.sql(dialect)[:60]}`: name tables with letters, digits "
                        f"and underscores ({BATCH} for the relation the suite checks)")
    return None
