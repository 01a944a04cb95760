"""The SQL writer that remembers the text of small nodes writes exactly what sqlglot writes, in every dialect.

Each statement is written twice in a row by `write` (the second time from remembered texts) and compared with
sqlglot's own `Expr.sql`, which remembers nothing. The statements put the same names where their text
differs: quoted and bare, in a function and outside, in a nested type, with comments, reserved words, a table
with a sample or a column list.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlglot import exp, parse_one

from metricsctl.compiler.dialects import DIALECTS
from metricsctl.compiler.writer import text, write

STATEMENTS = [
    # one name bare, quoted, with a comment, as a reserved word and starting with a digit
    'SELECT o.revenue, "o"."revenue", o.revenue /* net */, "select", "1st" AS "select", t."Mixed" FROM orders AS o '
    'JOIN "Orders" AS t ON o.id = t.id',
    # the same names as table, column, alias and CTE; a table with a column list, one with a sample
    "WITH orders AS (SELECT 1 AS orders) SELECT orders.orders FROM orders AS orders "
    "JOIN orders AS o(a, b) ON TRUE CROSS JOIN sales TABLESAMPLE (10 PERCENT)",
    # plain, parametrized and nested types, and the same type inside a nested one
    "SELECT CAST(a AS DOUBLE), CAST(a AS DECIMAL(18, 2)), CAST(b AS ARRAY<DOUBLE>), CAST(c AS DOUBLE), "
    "CAST(d AS STRUCT<x DOUBLE, y VARCHAR>), CAST(e AS TIMESTAMP), CAST(f AS TIMESTAMPTZ), CAST(g AS TIME) FROM t",
    # catalog and schema parts, a star, a qualified star
    "SELECT c.s.t.x, s.t.x, t.*, * FROM c.s.t AS t, s.t",
    # queries nested in CTEs, subqueries and set operations: each level indents the text below it again
    "WITH a AS (WITH b AS (SELECT x, y FROM t WHERE x > 1 AND y < 2) SELECT b.x, SUM(b.y) AS s FROM b GROUP BY b.x), "
    "c AS (SELECT 1 AS x UNION ALL SELECT 2) SELECT a.x, CASE WHEN a.s > 0 THEN 'p' ELSE 'n' END AS sign, "
    "(SELECT MAX(x) FROM c) AS m, ROW_NUMBER() OVER (PARTITION BY a.x ORDER BY a.s DESC) AS r FROM a "
    "LEFT JOIN (SELECT x FROM c) AS d ON a.x = d.x WHERE a.x IN (SELECT x FROM c) AND a.x NOT IN (1, 2)",
]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("statement", STATEMENTS)
@pytest.mark.parametrize("pretty", [True, False])
def test_writes_what_sqlglot_writes(dialect: str, statement: str, pretty: bool) -> None:
    tree = parse_one(statement, read="duckdb")
    expected = tree.sql(dialect=dialect, pretty=pretty)
    assert write(tree, dialect, pretty=pretty, copy=True) == expected
    assert write(tree, dialect, pretty=pretty, copy=True) == expected  # now from remembered texts


def test_a_type_inside_another_is_written_as_its_dialect_writes_it_there() -> None:
    # Snowflake writes FLOAT as DOUBLE, but as FLOAT inside a VECTOR
    tree = parse_one("SELECT CAST(a AS FLOAT), CAST(v AS VECTOR(FLOAT, 3)), CAST(b AS FLOAT)", read="snowflake")
    for _ in range(2):
        assert write(tree, "snowflake", pretty=False, copy=True) == (
            "SELECT CAST(a AS DOUBLE), CAST(v AS VECTOR(FLOAT, 3)), CAST(b AS DOUBLE)")


def test_a_remembered_name_is_not_reused_where_its_text_differs() -> None:
    bare = exp.column("value", "orders")
    quoted = exp.column(exp.to_identifier("value", quoted=True), exp.to_identifier("orders", quoted=True))
    assert write(bare, "duckdb", pretty=False, copy=True) == "orders.value"
    assert write(quoted, "duckdb", pretty=False, copy=True) == '"orders"."value"'
    assert write(bare, "bigquery", pretty=False, copy=True) == "orders.value"
    assert write(quoted, "bigquery", pretty=False, copy=True) == "`orders`.`value`"
    assert write(exp.to_identifier("order"), "duckdb", pretty=False, copy=True) == '"order"'  # a reserved word


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("pretty", [True, False])
def test_names_kept_as_text_are_written_as_unquoted_identifiers(dialect: str, pretty: bool) -> None:
    """The compiler keeps the names of the columns and aliases it builds as text (`render.column`,
    `render.alias`): a node fewer each. Their SQL is that of the same nodes with unquoted identifiers, a name in
    mixed case and a keyword (`day`) included."""
    from metricsctl.compiler.render import alias, column

    def statement(col: Callable[[str, str | None], exp.Expr], named: Callable[[exp.Expr, str], exp.Expr]) -> exp.Expr:
        return exp.select(named(col("amount", "src"), "f1_amount"), col("Region", "j_customer"), col("day", None),
                          named(exp.Sum(this=col("amount", "src")), "total"), named(exp.Null(), "nothing")
                          ).from_("orders").group_by(col("day", None))

    as_text = statement(column, alias)
    as_identifiers = statement(lambda name, table: exp.column(name, table, quoted=False),
                               lambda value, name: exp.alias_(value, name, quoted=False))
    assert isinstance(as_text.selects[0].args["alias"], str)  # the shape this test is about
    expected = as_identifiers.sql(dialect=dialect, pretty=pretty)
    for _ in range(2):  # the second time from remembered texts
        assert write(as_text, dialect, pretty=pretty, copy=True) == expected
        assert write(as_identifiers, dialect, pretty=pretty, copy=True) == expected
    assert as_text.sql(dialect=dialect, pretty=pretty) == expected


def test_remembered_texts_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from metricsctl.compiler import writer

    monkeypatch.setattr(writer, "_MOST_TEXTS", 5)
    for n in range(20):
        query = parse_one(f"SELECT c{n}, d{n} FROM t{n}")
        assert write(query, "trino", pretty=False, copy=True) == query.sql(dialect="trino")
    if writer._CLASSES["trino"] is not None:  # sqlglot in pure Python: the writer remembers
        assert 0 < len(writer._TEXTS["trino"]) <= 5 + 6  # cleared past the bound, then one statement's texts


@pytest.mark.parametrize("statement", STATEMENTS)
def test_text_is_sqlglots_own_text(statement: str) -> None:
    tree = parse_one(statement, read="duckdb")
    for _ in range(2):  # the second time from remembered texts
        assert text(tree) == tree.sql()
    assert text(tree.copy(), copy=False) == tree.sql()


def test_indentation_is_sqlglots() -> None:
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.generator import Generator

    from metricsctl.compiler import writer

    write(exp.column("x"), "duckdb", pretty=True, copy=True)
    remembering = writer._CLASSES["duckdb"]
    if remembering is None:  # sqlglot compiled: its own generator, unchanged
        pytest.skip("sqlglot is compiled")
    language = Dialect.get_or_raise("duckdb")
    ours, theirs = remembering(dialect=language, pretty=True), language.generator_class(dialect=language, pretty=True)
    assert type(ours).indent is not Generator.indent
    for sql in ["", "a", "a\nb", "a\n\nb\n", "\n", "a\nb\nc"]:
        for level in (0, 1, 2):
            for pad in (None, 0, 3):
                for skip_first in (False, True):
                    for skip_last in (False, True):
                        assert ours.indent(sql, level, pad, skip_first, skip_last) == theirs.indent(
                            sql, level, pad, skip_first, skip_last), (sql, level, pad, skip_first, skip_last)
