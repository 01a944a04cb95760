"""What differs between warehouses, in one place: the dialects we render and their gaps.

Everything else is portable SQL that sqlglot transpiles; these helpers cover what it cannot
(exact percentiles, ISO day of week) and keep DuckDB-only syntax out of other dialects.
"""

from __future__ import annotations

from sqlglot import exp

DIALECTS: tuple[str, ...] = ("duckdb", "postgres", "snowflake", "bigquery", "spark", "databricks", "trino")

# dbt adapter type -> sqlglot dialect
ADAPTER_DIALECTS = {
    "duckdb": "duckdb", "postgres": "postgres", "redshift": "redshift", "snowflake": "snowflake",
    "bigquery": "bigquery", "spark": "spark", "databricks": "databricks", "trino": "trino",
}


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
