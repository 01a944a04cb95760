"""The compiler's tree walks (metricsctl/compiler/nodes.py) give sqlglot's own `walk()` and `find_all()`
answers: the same nodes, in the same breadth-first order."""

from __future__ import annotations

from pathlib import Path

import sqlglot
from sqlglot import exp

from metricsctl.compiler.nodes import find_all, walk

GOLDEN = Path(__file__).parent / "golden" / "duckdb"

NESTED = """
WITH a AS (SELECT x, SUM(y) AS s FROM t WHERE z IN (SELECT z FROM u) GROUP BY x),
     b AS (WITH inner_cte AS (SELECT 1 AS one) SELECT * FROM inner_cte CROSS JOIN a)
SELECT CASE WHEN s > 1 THEN 'big' ELSE 'small' END AS size, COUNT(DISTINCT x) OVER (PARTITION BY x)
FROM b LEFT JOIN c ON b.x = c.x UNION ALL SELECT 1, 2 FROM d
"""


def trees() -> list[exp.Expr]:
    found = [sqlglot.parse_one(NESTED, read="duckdb")]
    for path in sorted(GOLDEN.glob("*.sql"))[:12]:
        found.append(sqlglot.parse_one(path.read_text(encoding="utf-8"), read="duckdb"))
    return found


def test_walk_gives_every_node_in_sqlglots_order():
    for tree in trees():
        ours, theirs = walk(tree), list(tree.walk())
        assert len(ours) == len(theirs) > 10
        assert all(a is b for a, b in zip(ours, theirs))


def test_find_all_gives_the_nodes_of_the_types_asked_for_in_sqlglots_order():
    for tree in trees():
        for types in [(exp.Table,), (exp.Table, exp.With), (exp.Column,), (exp.AggFunc, exp.Window)]:
            ours, theirs = find_all(tree, *types), list(tree.find_all(*types))
            assert [id(n) for n in ours] == [id(n) for n in theirs]
    nested = trees()[0]
    assert sorted(t.name for t in find_all(nested, exp.Table)) == ["a", "b", "c", "d", "inner_cte", "t", "u"]
