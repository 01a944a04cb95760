"""Trailing windows as window functions over the daily sums (compiler/windows.py), on hand-written rows.

The spine here starts after the first orders, lacks four days in the middle and ends before the last
orders; a channel is NULL. The range join of the spine to the days (MetricFlow's semantics) reports a
spine day for each channel with a row in its window, and reads the rows before the spine's first day;
the expected values below are computed that way with pandas.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from metricsctl.compiler.query import MetricQuery
from metricsctl.compiler.render import SqlCompiler
from tests.conftest import month

LINES = [  # (line, order, day, quantity, unit price)
    (1, 10, "2024-01-01", 2, 5.0), (2, 11, "2024-01-03", 1, 7.0), (3, 12, "2024-01-09", 1, 3.0),
    (4, 10, "2024-01-10", 4, 1.0), (5, 13, "2024-01-19", 1, 2.0), (6, 12, "2024-01-30", 1, 11.0),
    (7, 11, "2024-02-03", 3, 2.0), (8, 13, "2024-02-09", 1, 13.0), (9, 10, "2024-02-12", 2, 4.0)]
ORDERS = {10: "online", 11: "store", 12: None, 13: "online"}
SPINE = [d for d in pd.date_range("2024-01-03", "2024-02-10") if not pd.Timestamp("2024-01-18") <= d
         <= pd.Timestamp("2024-01-21")]


@pytest.fixture(scope="module")
def warehouse(shop) -> tuple[duckdb.DuckDBPyConnection, SqlCompiler]:
    con = duckdb.connect()
    con.execute("create table lines (order_line_id int, order_id int, product_id int, ordered_at date, "
                "quantity int, unit_price double)")
    con.executemany("insert into lines values (?, ?, 1, ?, ?, ?)", LINES)
    con.execute("create table orders (order_id int, customer_id int, store_id int, ordered_at date, channel varchar, "
                "is_promo boolean, amount double)")
    con.executemany("insert into orders values (?, 1, 1, date '2024-01-01', ?, false, 1.0)", list(ORDERS.items()))
    con.execute("create table spine (date_day date, fiscal_quarter date)")
    con.executemany("insert into spine values (?, null)", [(d.date(),) for d in SPINE])
    return con, SqlCompiler(shop.spec, "duckdb", relations={
        '"shop"."main"."order_lines"': "lines", '"shop"."main"."orders"': "orders",
        '"shop"."main"."metricflow_time_spine"': "spine"})


def expected_7d() -> pd.Series:
    """Per spine day and channel with a line in the 7 days up to it: their revenue."""
    rows = pd.DataFrame(LINES, columns=["line", "order_id", "day", "quantity", "unit_price"])
    rows["day"] = pd.to_datetime(rows.day)
    rows["channel"] = rows.order_id.map(ORDERS).fillna("<null>")
    rows["revenue"] = rows.quantity * rows.unit_price
    out = {}
    for day in SPINE:
        window = rows[(rows.day <= day) & (rows.day > day - pd.Timedelta(days=7))]
        for channel, part in window.groupby("channel"):
            out[(day, channel)] = part.revenue.sum()
    return pd.Series(out)


def answer(warehouse, metrics: str, group_by: str) -> pd.DataFrame:
    con, compiler = warehouse
    sql = compiler.compile(MetricQuery.of(metrics, group_by)).sql()
    assert "RANGE BETWEEN INTERVAL '6' DAY PRECEDING AND CURRENT ROW" in sql  # the shape under test
    got = con.execute(sql).df().fillna({"order__channel": "<null>"})
    got[got.columns[0]] = pd.to_datetime(got[got.columns[0]])
    return got


def test_a_trailing_window_reports_each_spine_day_with_a_row_in_its_window(warehouse):
    got = answer(warehouse, "revenue_7d,revenue", "metric_time__day,order__channel")
    want = expected_7d()
    got = got.set_index(["metric_time__day", "order__channel"]).sort_index()
    windows = got.revenue_7d.dropna()
    assert list(windows.index) == list(want.sort_index().index)  # no day outside the spine or its gap
    assert windows.tolist() == want.sort_index().tolist()
    # the spine's first day reads the line of the day before it, a day the plain sum reports by itself
    assert got.loc[(pd.Timestamp("2024-01-03"), "online"), "revenue_7d"] == 10.0
    assert got.loc[(pd.Timestamp("2024-01-01"), "online"), "revenue"] == 10.0
    assert pd.isna(got.loc[(pd.Timestamp("2024-01-01"), "online"), "revenue_7d"])
    assert pd.isna(got.loc[(pd.Timestamp("2024-01-04"), "online"), "revenue"])


def test_first_and_last_day_of_a_month_among_the_days_reported(warehouse):
    got = answer(warehouse, "revenue_7d,revenue_7d_last,revenue_7d_avg", "metric_time__month,order__channel")
    daily = expected_7d().rename_axis(["day", "channel"]).reset_index(name="v").sort_values("day")
    daily["month"] = month(daily.day)
    by = daily.groupby(["month", "channel"]).v
    got = got.set_index(["metric_time__month", "order__channel"]).sort_index()
    for column, want in (("revenue_7d", by.first()), ("revenue_7d_last", by.last()), ("revenue_7d_avg", by.mean())):
        assert list(got.index) == list(want.index)
        assert got[column].tolist() == pytest.approx(want.tolist())
