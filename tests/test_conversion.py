"""Conversion metrics: a visit converts when the same customer orders within the window.

Each order is attributed to the customer's latest visit on or before the order's day (within the
window); conversions are counted in the visit's period; the rate divides by all visits of the period.
"""

from __future__ import annotations

import pandas as pd

from tests.conftest import assert_series, month, seed


def attributed(window_days: int | None, same_channel: bool = False) -> pd.DataFrame:
    visits = seed("visits")
    orders = seed("orders")
    rows = []
    for order in orders.itertuples():
        candidates = visits[(visits.customer_id == order.customer_id) & (visits.visited_at <= order.ordered_at)]
        if window_days is not None:
            candidates = candidates[candidates.visited_at > order.ordered_at - pd.Timedelta(days=window_days)]
        if same_channel:
            candidates = candidates[candidates.source == order.channel]
        if len(candidates):
            latest = candidates.sort_values("visited_at").iloc[-1]
            rows.append({"visited_at": latest.visited_at, "source": latest.source})
    return pd.DataFrame(rows)


def test_conversions_and_rate_by_month(answer):
    got = answer("visit_to_order_conversions,visit_to_order_rate,same_channel_conversion_rate",
                 "metric_time__month")
    visits = seed("visits")
    base = visits.groupby(month(visits.visited_at)).size()
    conv = attributed(7)
    conversions = conv.groupby(month(conv.visited_at)).size()
    same = attributed(None, same_channel=True)
    same_conversions = same.groupby(month(same.visited_at)).size()
    assert_series(got, "metric_time__month", "visit_to_order_conversions", conversions)
    assert_series(got, "metric_time__month", "visit_to_order_rate", conversions / base)
    assert_series(got, "metric_time__month", "same_channel_conversion_rate", same_conversions / base)


def test_conversion_rate_by_a_dimension_of_the_base_event(answer):
    got = answer("visit_to_order_rate", "visit__source")
    visits = seed("visits")
    conv = attributed(7)
    expected = conv.groupby("source").size() / visits.groupby("source").size()
    assert_series(got, "visit__source", "visit_to_order_rate", expected)


def test_a_constant_property_named_through_an_entity(answer):
    # MetricFlow's `base_property: session`: an entity of the base model, named through the model's own
    # entity (visit__customer); the same customer on both sides, so every conversion keeps it
    got = answer("same_customer_conversion_rate", "metric_time__month")
    visits = seed("visits")
    conv = attributed(7)
    expected = conv.groupby(month(conv.visited_at)).size() / visits.groupby(month(visits.visited_at)).size()
    assert_series(got, "metric_time__month", "same_customer_conversion_rate", expected)
