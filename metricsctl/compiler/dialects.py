"""What differs between warehouses, in one place: the dialects we render and their gaps.

Everything else is portable SQL that sqlglot transpiles; these helpers cover what it cannot
(exact percentiles, ISO day of week, Spark's DATE_TRUNC) and keep DuckDB-only syntax out of other
dialects. Every expression the compiler builds becomes text through `to_sql`, which applies the
dialect's rules (`RULES`) first.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from metricsctl.compiler.writer import write

DIALECTS: tuple[str, ...] = ("duckdb", "postgres", "snowflake", "bigquery", "spark", "databricks", "trino")

# dbt adapter type -> sqlglot dialect
ADAPTER_DIALECTS = {
    "duckdb": "duckdb", "postgres": "postgres", "redshift": "redshift", "snowflake": "snowflake",
    "bigquery": "bigquery", "spark": "spark", "databricks": "databricks", "trino": "trino",
}


# dialects whose tables (as dbt creates them there) take no UPDATE and no transaction: Spark's own
# (Hive) tables; Databricks' Delta tables do
NO_ROW_UPDATES = frozenset({"spark", "hive"})


def updates_rows(dialect: str) -> bool:
    """Whether UPDATE and BEGIN/COMMIT work on the dialect's tables."""
    return dialect not in NO_ROW_UPDATES


# dbt adapters whose tables take no DELETE: the strategy that replaces whole periods instead, partitioned by
# the period column (Spark's insert_overwrite replaces the partitions it writes)
PERIOD_REPLACING = {"spark": "insert_overwrite"}


def incremental_config(period_column: str) -> str:
    """dbt config arguments (Jinja) for an incremental export whose pre-hook has emptied every period it
    rebuilds (`Materializer._periods_emptied`): its new rows are appended where tables take DELETE (the
    adapter's delete+insert would only delete the same periods again), and overwrite their partitions on
    adapters whose tables take none."""
    strategy = "append"
    partition = "none"
    for adapter, other in sorted(PERIOD_REPLACING.items(), reverse=True):
        test = f"target.type == {adapter!r}"
        strategy = f"({other!r} if {test} else {strategy if strategy.startswith('(') else repr(strategy)})"
        partition = f"([{period_column!r}] if {test} else {partition})"
    return f"incremental_strategy={strategy}, partition_by={partition}"


# dialects that get metric_values as one UNPIVOT per grain (NULLs dropped), one pass over each grain's
# metrics instead of a union branch per metric: Spark inlines a CTE into every reference, so those branches
# made a plan too large for its driver, and on DuckDB they were half of compiling a large project
UNPIVOT_DIALECTS = frozenset({"duckdb", "spark", "databricks"})


def unpivots(dialect: str) -> bool:
    return dialect in UNPIVOT_DIALECTS


# dialects whose metric_values defines once what its queries at several grains compute alike (hoisting.py):
# DuckDB computes a CTE where it is defined, so each grain read the same rows again; Spark inlines every CTE
# into each reference, and on PostgreSQL a CTE read more than once is materialized, which is not measured
HOISTING_DIALECTS = frozenset({"duckdb"})


def hoists(dialect: str) -> bool:
    return dialect in HOISTING_DIALECTS


# dialects where cumulative metrics over daily sums are window functions over the days (windows.py), run
# and checked against the range join of the spine to the days there; elsewhere the range join stays
DAY_WINDOW_DIALECTS = frozenset({"duckdb", "postgres", "spark"})


def day_window(value: exp.Expr, partition: list[exp.Expr], day: exp.Expr, days_before: int | None) -> exp.Window:
    """`value` over the rows of a partition whose day is up to `days_before` days before the row's own
    (None: any day before), its own day included: a RANGE frame over the day."""
    if days_before is None:
        start: exp.Expr | str = "UNBOUNDED"
    else:
        start = exp.Interval(this=exp.Literal.string(str(days_before)), unit=exp.Var(this="DAY"))
    return exp.Window(this=value, partition_by=partition or None, order=exp.Order(
        expressions=[exp.Ordered(this=day, nulls_first=False)]), spec=exp.WindowSpec(
        kind="RANGE", start=start, start_side="PRECEDING", end="CURRENT ROW"))


def adapter_types(dialect: str) -> tuple[str, ...]:
    """The dbt adapter types (`target.type`) whose warehouse speaks `dialect`."""
    return tuple(sorted(a for a, d in ADAPTER_DIALECTS.items() if d == dialect)) or (dialect,)


def _spark_date_trunc(tree: exp.Expr) -> exp.Expr:
    """Spark's TRUNC(x, unit) (what sqlglot writes for DATE_TRUNC) knows YEAR..WEEK only: DAY gives NULL."""
    def swap(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.DateTrunc):
            return exp.TimestampTrunc(this=node.this, unit=node.args.get("unit"))
        return node

    return tree.transform(swap, copy=False)


def _unique_cte_names(tree: exp.Expr) -> exp.Expr:
    """Spark takes no WITH inside a subquery, so sqlglot lifts nested CTEs to the top, where two of one name
    (a metric filter's own `orders_agg` beside the query's) are an error: rename the nested ones."""
    top = tree.args.get("with_")
    seen = {cte.alias for cte in top.expressions} if isinstance(top, exp.With) else set()
    for with_ in list(tree.find_all(exp.With)):
        if with_ is top or with_.parent is None:
            continue
        scope = with_.parent
        own = {cte.alias for cte in with_.expressions}
        renamed: dict[str, str] = {}
        for cte in with_.expressions:
            # a new name is none of this WITH's own names either, and all are renamed at once: renamed one by
            # one, `orders_agg` -> `orders_agg_2` would then be taken again by the rename of `orders_agg_2`
            name, fresh, n = cte.alias, cte.alias, 1
            while fresh in seen or (fresh != name and fresh in own):
                n += 1
                fresh = f"{name}_{n}"
            seen.add(fresh)
            if fresh != name:
                renamed[name] = fresh
                cte.set("alias", exp.TableAlias(this=exp.to_identifier(fresh)))
        if renamed:
            for table in scope.find_all(exp.Table):
                if table.name in renamed and not table.db and not _shadowed(table, table.name, scope):
                    table.set("this", exp.to_identifier(renamed[table.name]))
            for column in scope.find_all(exp.Column):
                if column.table in renamed and not _shadowed(column, column.table, scope):
                    column.set("table", exp.to_identifier(renamed[column.table]))
    return tree


def _shadowed(node: exp.Expr, name: str, scope: exp.Expr) -> bool:
    """Whether `name`, read at `node`, is a CTE of a WITH nested deeper than `scope` (a metric filter's own
    `orders_agg`): that one is renamed, if at all, with its own WITH."""
    parent = node.parent
    while parent is not None and parent is not scope:
        with_ = parent.args.get("with_")
        if isinstance(with_, exp.With) and any(cte.alias == name for cte in with_.expressions):
            return True
        parent = parent.parent
    return False


# dialect -> rewrites of a whole expression, applied in order before it is written in that dialect
RULES: dict[str, tuple[Callable[[exp.Expr], exp.Expr], ...]] = {
    "spark": (_spark_date_trunc, _unique_cte_names),
    "databricks": (_spark_date_trunc, _unique_cte_names),
}


def to_sql(expression: exp.Expr, dialect: str, pretty: bool = False, copy: bool = True) -> str:
    """SQL text of a compiled expression in `dialect`, after the dialect's rules."""
    rules = RULES.get(dialect, ())
    if rules:
        # always a copy: the rules rewrite nodes in place, and a compiled tree may share a node
        # between two places (builders attach expressions without copying them)
        expression = expression.copy()
        for rule in rules:
            expression = rule(expression)
        copy = False
    return write(expression, dialect, pretty=pretty, copy=copy)


def check_dialect(dialect: str) -> str:
    from metricsctl.errors import QueryError

    if dialect not in DIALECTS and dialect not in ADAPTER_DIALECTS.values():
        raise QueryError(f"unknown dialect '{dialect}'; choose one of {', '.join(DIALECTS)}")
    return dialect


def percentile(value: exp.Expr, fraction: float, discrete: bool, dialect: str) -> exp.Expr:
    """An exact percentile aggregate where the dialect has one (Trino and BigQuery only approximate)."""
    p = exp.Literal.number(fraction)
    if dialect == "duckdb":
        name = "QUANTILE_DISC" if discrete else "QUANTILE_CONT"
        return exp.Anonymous(this=name, expressions=[value, p])
    if dialect in ("spark", "databricks"):
        if discrete:
            return exp.WithinGroup(this=exp.PercentileDisc(this=p), expression=exp.Order(
                expressions=[exp.Ordered(this=value)]))
        return exp.Anonymous(this="PERCENTILE", expressions=[value, p])
    if dialect == "trino":
        return exp.Anonymous(this="APPROX_PERCENTILE", expressions=[value, p])
    if dialect == "bigquery":
        quantiles = exp.Anonymous(this="APPROX_QUANTILES", expressions=[value, exp.Literal.number(100)])
        return exp.Bracket(this=quantiles, expressions=[exp.Anonymous(
            this="OFFSET", expressions=[exp.Literal.number(round(fraction * 100))])])
    func = exp.PercentileDisc(this=p) if discrete else exp.PercentileCont(this=p)
    return exp.WithinGroup(this=func, expression=exp.Order(expressions=[exp.Ordered(this=value)]))


def date_part(part: str, value: exp.Expr, dialect: str) -> exp.Expr:
    """`extract_<part>` as MetricFlow defines it; `dow` is ISO (Monday 1 .. Sunday 7)."""
    if part == "dow":
        if dialect in ("duckdb", "postgres"):
            return exp.Extract(this=exp.Var(this="ISODOW"), expression=value)
        if dialect == "snowflake":
            return exp.Anonymous(this="DAYOFWEEKISO", expressions=[value])
        if dialect in ("spark", "databricks"):
            return exp.Extract(this=exp.Var(this="DAYOFWEEK_ISO"), expression=value)
        if dialect == "trino":
            return exp.Anonymous(this="DAY_OF_WEEK", expressions=[value])
        sunday_first = exp.Extract(this=exp.Var(this="DAYOFWEEK"), expression=value)
        return exp.Add(this=exp.Mod(this=exp.paren(exp.Add(this=sunday_first,
                                                           expression=exp.Literal.number(5))),
                                    expression=exp.Literal.number(7)),
                       expression=exp.Literal.number(1))
    unit = {"doy": "DOY", "dow": "ISODOW"}.get(part, part.upper())
    if part == "doy" and dialect in ("spark", "databricks", "bigquery", "trino", "snowflake"):
        unit = "DAYOFYEAR"
    return exp.Extract(this=exp.Var(this=unit), expression=value)
