"""Gating: the dbt nodes, and the metric models among them, downstream of a relation that failed its checks.

A hand-built manifest:

    seed orders ──> stg_orders ──> metric_orders (models/metrics)   + test not_null_stg_orders_order_id
                              └──> fct_sales ──> metric_sales (models/metrics)
    seed customers ─────────────────> fct_sales
                   └──> metric_customers (models/metrics)
    source raw.events ──> stg_events ──> metric_events (models/metrics)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from metricsctl.errors import MetricsctlError
from metricsctl.expectations import ExpectationResult, ExpectationRun, SuiteResult, downstream, gate, gate_run


def node(unique_id: str, path: str) -> dict[str, Any]:
    kind, package, name = unique_id.split(".")[:3]
    folders = path.split("/")[1:-1] if kind != "seed" else []
    return {"unique_id": unique_id, "name": name, "resource_type": kind, "package_name": package,
            "database": "warehouse", "schema": "main", "alias": name, "config": {"materialized": "table"},
            "original_file_path": path, "fqn": [package, *folders, name]}


NODES = [
    node("seed.shop.orders", "seeds/orders.csv"),
    node("seed.shop.customers", "seeds/customers.csv"),
    node("model.shop.stg_orders", "models/staging/stg_orders.sql"),
    node("model.shop.stg_events", "models/staging/stg_events.sql"),
    node("test.shop.not_null_stg_orders_order_id.1a2b", "models/staging/staging.yml"),
    node("model.shop.fct_sales", "models/marts/fct_sales.sql"),
    node("model.shop.metric_orders", "models/metrics/metric_orders.sql"),
    node("model.shop.metric_sales", "models/metrics/metric_sales.sql"),
    node("model.shop.metric_customers", "models/metrics/metric_customers.sql"),
    node("model.shop.metric_events", "models/metrics/metric_events.sql"),
]
MANIFEST: dict[str, Any] = {
    "metadata": {"project_name": "shop"},
    "nodes": {n["unique_id"]: n for n in NODES},
    "sources": {"source.shop.raw.events": {"unique_id": "source.shop.raw.events", "name": "events",
                                           "source_name": "raw", "resource_type": "source", "database": "warehouse",
                                           "schema": "raw", "identifier": "events"}},
    "child_map": {
        "seed.shop.orders": ["model.shop.stg_orders"],
        "seed.shop.customers": ["model.shop.fct_sales", "model.shop.metric_customers"],
        "model.shop.stg_orders": ["model.shop.metric_orders", "model.shop.fct_sales",
                                  "test.shop.not_null_stg_orders_order_id.1a2b"],
        "model.shop.fct_sales": ["model.shop.metric_sales"],
        "source.shop.raw.events": ["model.shop.stg_events"],
        "model.shop.stg_events": ["model.shop.metric_events"],
        "model.shop.metric_orders": [], "model.shop.metric_sales": [], "model.shop.metric_customers": [],
        "model.shop.metric_events": [], "test.shop.not_null_stg_orders_order_id.1a2b": [],
    },
}
UNIQUE = "expect_column_values_to_be_unique(column=order_id)"


def test_a_failed_staging_model_blocks_exactly_what_reads_from_it() -> None:
    stale = gate(MANIFEST, {"stg_orders": [UNIQUE]})
    assert stale.blocked == ("model.shop.fct_sales", "model.shop.metric_orders", "model.shop.metric_sales",
                             "test.shop.not_null_stg_orders_order_id.1a2b")
    assert stale.metric_models == ("model.shop.metric_orders", "model.shop.metric_sales")
    assert stale.reason("model.shop.metric_sales") == f"stale because stg_orders failed {UNIQUE}"
    assert stale.selectors == ("fqn:shop.marts.fct_sales", "fqn:shop.metrics.metric_orders",
                               "fqn:shop.metrics.metric_sales", "fqn:shop.staging.not_null_stg_orders_order_id")


def test_a_failed_seed_blocks_its_whole_subtree_but_not_its_neighbours() -> None:
    stale = gate(MANIFEST, {"seed.shop.orders": ["expect_table_row_count_to_be_between(min_value=100)"]})
    assert "model.shop.stg_orders" in stale.blocked
    assert "model.shop.metric_customers" not in stale.blocked
    assert "model.shop.metric_events" not in stale.blocked
    assert stale.metric_models == ("model.shop.metric_orders", "model.shop.metric_sales")


def test_a_source_and_two_failures_sharing_a_descendant() -> None:
    stale = gate(MANIFEST, {"raw.events": ["expect_column_max_to_be_between(column=at, max_age_days=1)"],
                            "customers": ["expect_column_values_to_not_be_null(column=id)"],
                            "stg_orders": [UNIQUE]})
    assert stale.metric_models == ("model.shop.metric_customers", "model.shop.metric_events",
                                   "model.shop.metric_orders", "model.shop.metric_sales")
    assert stale.reason("model.shop.metric_sales") == (  # in the order of the failed relations' unique_ids
        f"stale because stg_orders failed {UNIQUE}; "
        "customers failed expect_column_values_to_not_be_null(column=id)")
    assert stale.reason("model.shop.metric_events").startswith("stale because raw.events failed")


def test_a_relation_that_failed_many_checks_is_named_with_its_first_two_and_a_count() -> None:
    checks = [f"expect_column_values_to_not_be_null(column=c{i})" for i in range(5)]
    stale = gate(MANIFEST, {"stg_orders": checks})
    assert stale.reason("model.shop.metric_sales") == (
        f"stale because stg_orders failed {checks[0]}, {checks[1]} and 3 more")


def test_downstream_excludes_the_roots() -> None:
    assert downstream(MANIFEST, ["model.shop.fct_sales"]) == {"model.shop.metric_sales"}
    assert downstream(MANIFEST, ["model.shop.metric_sales"]) == set()


def test_nothing_failed_nothing_blocked() -> None:
    stale = gate(MANIFEST, {})
    assert not stale and stale.blocked == () and stale.selectors == ()


def test_an_unknown_relation_is_an_error() -> None:
    with pytest.raises(MetricsctlError, match="stg_order'.*did you mean 'stg_orders'"):
        gate(MANIFEST, {"stg_order": [UNIQUE]})


def test_gate_run_uses_only_error_severity_failures() -> None:
    def result(suite: str, severity: str, success: bool) -> ExpectationResult:
        return ExpectationResult(suite, suite, "expect_column_values_to_be_unique", {"column": "order_id"},
                                 severity, success)  # type: ignore[arg-type]

    run = ExpectationRun("r", dt.datetime(2024, 3, 31), dt.date(2024, 3, 31), (
        SuiteResult("orders", "stg_orders", "warehouse.main.stg_orders", "model.shop.stg_orders", "error",
                    (result("orders", "error", False),)),
        SuiteResult("customers", "customers", "warehouse.main.customers", "seed.shop.customers", "warn",
                    (result("customers", "warn", False),)),
        SuiteResult("events", "raw.events", "warehouse.raw.events", "source.shop.raw.events", "error",
                    (result("events", "error", True),)),
    ))
    stale = gate_run(MANIFEST, run)
    assert list(stale.failed) == ["model.shop.stg_orders"]
    assert stale.metric_models == ("model.shop.metric_orders", "model.shop.metric_sales")
