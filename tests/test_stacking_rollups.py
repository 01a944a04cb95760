"""Stacked rows are grouped on their keys before a dimension is joined only where every measure rolls up one way."""

from __future__ import annotations

import duckdb
import sqlglot
from sqlglot import exp

from metricsctl.compiler.stacking import _grouped_on_keys

ROWS = "SELECT * FROM (VALUES (1, 10), (1, 30), (2, 5)) AS t(store_id, amount)"


def _outer(*aggregates: str) -> exp.Select:
    projections = ", ".join(f"{a}(src.amount) AS a{i}" for i, a in enumerate(aggregates))
    select = sqlglot.parse_one(f"SELECT src.store_id, {projections} FROM stacked AS src GROUP BY src.store_id",
                               read="duckdb")
    assert isinstance(select, exp.Select)
    return select


def test_one_rollup_a_measure_groups_the_rows_first_and_keeps_the_values() -> None:
    outer = _outer("SUM", "SUM")
    grouped = _grouped_on_keys("stacked", ["store_id"], outer)
    assert grouped is not None
    with duckdb.connect() as con:
        direct = con.sql(f"WITH stacked AS ({ROWS}) {outer.sql('duckdb')} ORDER BY 1").fetchall()
        regrouped = outer.copy()
        regrouped.set("from_", exp.From(this=exp.alias_(exp.to_table("g"), "src", table=True)))
        via = con.sql(f"WITH stacked AS ({ROWS}), g AS ({grouped.sql('duckdb')}) "
                      f"{regrouped.sql('duckdb')} ORDER BY 1").fetchall()
    assert direct == via == [(1, 40, 40), (2, 5, 5)]


def test_a_measure_summed_and_maxed_is_not_grouped_first() -> None:
    # Grouped once with MAX, the SUM would read 30 for store 1 instead of 40.
    assert _grouped_on_keys("stacked", ["store_id"], _outer("SUM", "MAX")) is None
