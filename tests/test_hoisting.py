"""What several queries of one statement compute alike is defined once (metricsctl/compiler/hoisting.py)."""

from __future__ import annotations

import duckdb
import sqlglot
from sqlglot import exp

from metricsctl.compiler.hoisting import hoisted

# two queries of one statement, as metric_values has one per grain: both read the same daily sums of the
# same rows, and only their last step differs
BY_DAY = """
WITH rows AS (SELECT day, amount FROM sales WHERE amount > 0),
     daily AS (SELECT day, SUM(amount) AS amount FROM rows GROUP BY day)
SELECT day AS period, amount FROM daily
"""
BY_MONTH = """
WITH rows AS (SELECT day, amount FROM sales WHERE amount > 0),
     daily AS (SELECT day, SUM(amount) AS amount FROM rows GROUP BY day),
     monthly AS (SELECT DATE_TRUNC('month', daily.day) AS period, SUM(daily.amount) AS amount FROM daily GROUP BY 1)
SELECT period, amount FROM monthly
"""
# alike in its own SQL, but reading a CTE that differs: not the same rows
OTHER_ROWS = """
WITH rows AS (SELECT day, amount FROM sales WHERE amount < 0),
     daily AS (SELECT day, SUM(amount) AS amount FROM rows GROUP BY day)
SELECT day AS period, amount FROM daily
"""


def statement(parts: list[tuple[str, exp.Expr, bool]]) -> str:
    select = exp.union(*[exp.select("period", "amount").from_(name) for name, _, _ in parts[-3:]], distinct=False)
    query = exp.select("*").from_(exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier("u"))))
    for name, body, materialized in parts:
        query = query.with_(name, as_=body, materialized=materialized or None, copy=False)
    return query.sql("duckdb")


def test_ctes_two_queries_define_alike_are_defined_once_and_the_rows_stay_the_same():
    queries = [(name, sqlglot.parse_one(sql, read="duckdb"))
               for name, sql in [("by_day", BY_DAY), ("by_month", BY_MONTH), ("other", OTHER_ROWS)]]
    before = statement([(name, query.copy(), False) for name, query in queries])

    parts = hoisted(queries)

    names = [name for name, _, _ in parts]
    # `rows` and `daily` of by_day and by_month: one definition each, first; `other` keeps its own two
    assert names == ["shared_rows", "shared_daily", "by_day", "by_month", "other"]
    after = statement(parts)
    assert after.count("amount > 0") == 1 and after.count("amount < 0") == 1
    by_month = dict((name, body) for name, body, _ in parts)["by_month"].sql("duckdb")
    assert "FROM shared_daily AS daily" in by_month  # columns qualified with the old name still resolve

    con = duckdb.connect()
    con.execute("CREATE TABLE sales AS SELECT * FROM (VALUES (DATE '2024-01-01', 5.0), (DATE '2024-01-01', -2.0),"
                " (DATE '2024-01-02', 3.0), (DATE '2024-02-01', 4.0), (DATE '2024-02-01', -1.0)) AS t(day, amount)")
    got = sorted(con.execute(after).fetchall())
    assert got == sorted(con.execute(before).fetchall())
    # worked by hand: days 5, 3 and 4; months 8 (January) and 4 (February); negative days -2 and -1
    assert sorted(v for _, v in got) == [-2.0, -1.0, 3.0, 4.0, 4.0, 5.0, 8.0]


def test_queries_with_nothing_alike_are_left_as_they_are():
    queries = [(name, sqlglot.parse_one(sql, read="duckdb"))
               for name, sql in [("by_day", BY_DAY), ("other", OTHER_ROWS)]]
    before = [(name, q.sql()) for name, q in queries]
    assert [(name, body.sql()) for name, body, _ in hoisted(queries)] == before


def test_a_shared_name_never_takes_one_the_statement_uses():
    queries = [(name, sqlglot.parse_one(sql, read="duckdb"))
               for name, sql in [("by_day", BY_DAY), ("by_month", BY_MONTH)]]
    names = [name for name, _, _ in hoisted(queries, taken={"shared_rows"})]
    assert names[:2] == ["shared_rows_2", "shared_daily"]


def test_a_cte_whose_name_a_nested_with_defines_again_stays_in_its_query():
    # a metric filter's subquery may define its own `rows`: renaming `rows` there would read the wrong rows
    nested = BY_DAY.replace("SELECT day AS period, amount FROM daily",
                            "SELECT day AS period, amount FROM daily WHERE day IN "
                            "(WITH rows AS (SELECT DATE '2024-01-01' AS day) SELECT day FROM rows)")
    queries = [(name, sqlglot.parse_one(sql, read="duckdb"))
               for name, sql in [("by_day", nested), ("by_month", BY_MONTH)]]
    before = [q.sql() for _, q in queries]
    parts = hoisted(queries)
    assert [name for name, _, _ in parts] == ["by_day", "by_month"]  # `daily` reads `rows`: it stays too
    assert [body.sql() for _, body, _ in parts] == before
