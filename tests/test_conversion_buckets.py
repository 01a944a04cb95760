"""Conversions paired by the window's bucket of days (compiler/conversions.py) against pandas.

Random visits and orders of a few customers, dense enough for every case the attribution has: several visits
of one customer on one day (ties, of different sources), several orders of one customer on one day, orders
before any visit, orders whose latest visit is outside the window while an older one is not (it must not
count), visits and orders of no customer, orders without an id (not counted), and days on both sides of
1970-01-01, where the buckets' integer division truncates. Each order is attributed in pandas to the latest
visit of its customer on or before its day, counted when that visit is less than the window before it; of
tied visits the one whose group-by values sort first (NULLs last).
"""

from __future__ import annotations

import datetime

import duckdb
import numpy as np
import pandas as pd
import pytest

from metricsctl.compiler import conversions
from metricsctl.compiler.plan import Window
from metricsctl.compiler.query import MetricQuery
from metricsctl.compiler.render import SqlCompiler

DAYS = [datetime.date(1969, 12, 10) + datetime.timedelta(days=n) for n in range(50)] + [
    datetime.date(2024, 1, 1) + datetime.timedelta(days=n) for n in range(70)]


def sql_value(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime.date):
        return f"DATE '{value}'"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, float) and value.is_integer():  # an id of a column with NULLs
        return str(int(value))
    return str(value)


def values(frame: pd.DataFrame) -> str:
    rows = ", ".join("(" + ", ".join(sql_value(None if pd.isna(v) else v) for v in row) + ")"
                     for row in frame.astype(object).itertuples(index=False))
    return f"{rows}) t({', '.join(frame.columns)}"


@pytest.fixture(scope="module")
def events() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(14)
    customers = pd.DataFrame({"customer_id": [1, 2, 3, 4, 5, 6], "region": ["north", "south", None, "north",
                                                                           "east", "south"],
                              "segment": ["consumer"] * 6, "signup_date": [datetime.date(1969, 1, 1)] * 6})
    # days drawn from few, so that ties and repeats are common
    visit_days = [DAYS[i] for i in rng.integers(0, len(DAYS), 160)]
    visits = pd.DataFrame({
        "visit_id": range(1, 161),
        "customer_id": [None if c == 0 else int(c) for c in rng.integers(0, 8, 160)],  # 7: no such customer
        "visited_at": visit_days,
        "source": [[None, "web", "store"][s] for s in rng.integers(0, 3, 160)]})
    order_days = [DAYS[i] for i in rng.integers(0, len(DAYS), 220)]
    orders = pd.DataFrame({
        "order_id": [None if n % 17 == 0 else n for n in range(1, 221)],
        "customer_id": [None if c == 0 else int(c) for c in rng.integers(0, 8, 220)],
        "store_id": [1] * 220,
        "ordered_at": order_days,
        "channel": [["web", "store"][s] for s in rng.integers(0, 2, 220)],
        "is_promo": [False] * 220,
        "amount": [1.0] * 220})
    return visits, orders, customers


def attributed(visits: pd.DataFrame, orders: pd.DataFrame, window_days: int | None, tie_key: str | None = None,
               same_channel: bool = False) -> pd.DataFrame:
    """Each counted order with the visit it is attributed to."""
    rows = []
    for order in orders.itertuples():
        if pd.isna(order.customer_id):
            continue
        candidates = visits[(visits.customer_id == order.customer_id) & (visits.visited_at <= order.ordered_at)]
        if same_channel:
            candidates = candidates[candidates.source == order.channel]
        if candidates.empty:
            continue
        latest = candidates[candidates.visited_at == candidates.visited_at.max()]
        if window_days is not None and \
                latest.visited_at.iloc[0] <= order.ordered_at - datetime.timedelta(days=window_days):
            continue
        if tie_key is not None:
            latest = latest.sort_values(tie_key, na_position="last")
        if not pd.isna(order.order_id):
            rows.append(latest.iloc[0])
    return pd.DataFrame(rows)


def month_of(day: datetime.date) -> str:
    return f"{day:%Y-%m}"


def run(shop, events, metrics: str, group_by: str) -> list[tuple[object, ...]]:
    visits, orders, customers = events
    con = duckdb.connect()
    relations = {}
    for relation, frame in (("visits", visits), ("orders", orders), ("customers", customers)):
        con.execute(f"create table {relation}_rows as select * from (values {values(frame)})")
        relations[f'"shop"."main"."{relation}"'] = f"{relation}_rows"
    return con.execute(SqlCompiler(shop.spec, "duckdb", relations=relations).compile(
        MetricQuery.of(metrics, group_by)).sql()).fetchall()


def test_conversions_and_rate_by_month(shop, events):
    visits, orders, _ = events
    sql_rows = run(shop, events, "visit_to_order_conversions,visit_to_order_rate,visits", "metric_time__month")
    conv = attributed(visits, orders, 7)
    assert len(conv) > 20  # the data converts, and some of it does not
    expected = conv.visited_at.map(month_of).value_counts().to_dict()
    base = visits.visited_at.map(month_of).value_counts().to_dict()
    got = {str(m)[:7]: (c, rate, n) for m, c, rate, n in sql_rows}
    assert {m: c for m, (c, _, _) in got.items() if c is not None} == expected
    assert {m: n for m, (_, _, n) in got.items()} == base
    for c, rate, n in got.values():
        assert rate == (None if c is None else pytest.approx(c / n))
    assert any(m.startswith("1969") for m in expected) and any(m.startswith("1970") for m in expected)


def test_ties_are_broken_by_the_group_by_value_nulls_last(shop, events):
    visits, orders, _ = events
    conv = attributed(visits, orders, 7, tie_key="source")
    expected = conv.source.fillna("<null>").value_counts().to_dict()
    rows = run(shop, events, "visit_to_order_conversions", "visit__source")
    got = {("<null>" if s is None else s): c for s, c in rows if c is not None}
    assert got == expected
    # the data has ties that the rule decides: visits of one customer and day with different sources
    tied = visits.dropna(subset=["customer_id"]).groupby(["customer_id", "visited_at"]).source.nunique(dropna=False)
    assert (tied > 1).any()


def test_conversions_by_a_dimension_of_the_entity(shop, events):
    visits, orders, customers = events
    conv = attributed(visits, orders, 7).merge(customers, on="customer_id", how="left")
    expected = conv.assign(month=conv.visited_at.map(month_of), region=conv.region.fillna("<null>")).groupby(
        ["month", "region"]).size().to_dict()
    got = {(str(m)[:7], "<null>" if r is None else r): c
           for m, r, c in run(shop, events, "visit_to_order_conversions", "metric_time__month,customer__region")
           if c is not None}
    assert got == expected


def test_a_constant_property_and_no_window(shop, events):
    visits, orders, _ = events
    base = visits.visited_at.map(month_of).value_counts()
    same_customer = attributed(visits, orders, 7).visited_at.map(month_of).value_counts()
    same_channel = attributed(visits, orders, None, same_channel=True).visited_at.map(month_of).value_counts()
    rows = run(shop, events, "same_customer_conversion_rate,same_channel_conversion_rate", "metric_time__month")
    got = {str(m)[:7]: (a, b) for m, a, b in rows}
    assert {m: a for m, (a, _) in got.items() if a is not None} == pytest.approx(
        (same_customer / base).dropna().to_dict())
    assert {m: b for m, (_, b) in got.items() if b is not None} == pytest.approx(
        (same_channel / base).dropna().to_dict())


@pytest.mark.parametrize("days", [1, 3, 7, 14, 30])
def test_a_base_event_in_the_window_is_in_the_conversion_bucket_or_the_one_before(days):
    """Over days on both sides of 1970-01-01 (where `//` truncates towards zero), computed by DuckDB."""
    con = duckdb.connect()
    bucket = conversions.bucket(conversions.exp.column("d"), days).sql("duckdb")
    rows = con.execute(f"select d, {bucket} from (select unnest(range(date '1969-10-01', date '1970-04-01', "
                       "interval 1 day))::date as d)").fetchall()
    of = dict(rows)
    for conversion_day in of:
        for back in range(days):
            base_day = conversion_day - datetime.timedelta(days=back)
            if base_day in of:
                assert of[base_day] in (of[conversion_day], of[conversion_day] - 1)


def test_windows_of_whole_days_only():
    assert conversions.window_days(Window(2, "week")) == 14
    assert conversions.window_days(Window(7, "day")) == 7
    assert conversions.window_days(Window(1, "month")) is None
    assert conversions.window_days(None) is None
