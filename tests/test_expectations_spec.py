"""Expectation suites in YAML: what parses, where each mistake is reported, how relations resolve."""

from __future__ import annotations

import datetime as dt
import inspect
import warnings
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from metricsctl.errors import SpecError, WarehouseError
from metricsctl.expectations import (
    ExpectationSpecError,
    Relation,
    connection_url,
    load_suites,
    suites_from_yaml,
)
from metricsctl.expectations.catalog import GX_EXPECTATIONS, MAP
from metricsctl.profiles import Target


def node(unique_id: str, **extra: Any) -> dict[str, Any]:
    kind, package, name = unique_id.split(".")[:3]
    base = {"unique_id": unique_id, "name": name, "resource_type": kind, "package_name": package,
            "database": "warehouse", "schema": "main", "alias": name, "config": {"materialized": "view"}}
    return {**base, **extra}


MANIFEST: dict[str, Any] = {
    "metadata": {"project_name": "shop"},
    "nodes": {n["unique_id"]: n for n in [
        node("model.shop.stg_orders", schema="staging", alias="orders_v2"),
        node("model.shop.stg_customers"),
        node("model.shop.int_orders", config={"materialized": "ephemeral"}),
        node("seed.shop.stores", schema="raw", config={"materialized": "seed"}),
        node("model.other_pkg.stg_orders", schema="elsewhere"),
    ]},
    "sources": {"source.shop.raw.orders": {
        "unique_id": "source.shop.raw.orders", "name": "orders", "source_name": "raw", "resource_type": "source",
        "database": "landing", "schema": "raw_data", "identifier": "orders_export"}},
}

EXAMPLE = """\
version: 2
models:
  - name: stg_orders
expectations:
  - suite: orders_raw
    relation: stg_orders
    severity: warn
    expectations:
      - expect_column_values_to_not_be_null: {column: order_id}
      - expect_column_values_to_be_between: {column: amount, min_value: 0, max_value: 10000}
      - expect_column_values_to_be_in_set: {column: status, value_set: [placed, shipped]}
      - expect_table_row_count_to_be_between: {min_value: 100}
      - expect_column_max_to_be_between: {column: order_date, max_age_days: 3, severity: error}
      - expect_column_values_to_be_in_relation: {column: customer_id, to: stg_customers}
      - expect_column_min_to_be_between: {column: order_date, min_value: 2020-01-01}
  - relation: raw.orders
    expectations:
      - expect_table_row_count_to_be_between
"""


def test_the_example_parses_with_defaults_and_resolved_relations() -> None:
    first, second = suites_from_yaml(EXAMPLE, "models/staging/staging.yml", MANIFEST)
    assert (first.name, first.severity, first.path, first.line) == (
        "orders_raw", "warn", "models/staging/staging.yml", 5)
    assert first.relation == Relation("orders_v2", "staging", "warehouse", "model.shop.stg_orders", "stg_orders")
    assert [e.severity for e in first.expectations] == ["warn"] * 4 + ["error"] + ["warn"] * 2
    assert [e.line for e in first.expectations] == [9, 10, 11, 12, 13, 14, 15]
    freshness, fk, min_date = first.expectations[4:]
    assert freshness.kwargs == {"column": "order_date", "max_age_days": 3}  # severity taken out
    assert fk.to == Relation("stg_customers", "main", "warehouse", "model.shop.stg_customers", "stg_customers")
    assert min_date.kwargs["min_value"] == dt.date(2020, 1, 1)
    assert fk.describe() == "expect_column_values_to_be_in_relation(column=customer_id, to=stg_customers)"
    # a source by source_name.table; the suite is named after its relation; error is the default severity
    assert (second.name, second.severity) == ("raw.orders", "error")
    assert second.relation == Relation("orders_export", "raw_data", "landing", "source.shop.raw.orders", "raw.orders")
    assert second.expectations[0].kwargs == {}


def test_every_mistake_is_reported_once_with_file_and_line(tmp_path: Path) -> None:
    models = tmp_path / "models" / "staging"
    models.mkdir(parents=True)
    (models / "orders.yml").write_text("""\
expectations:
  - relation: stg_order
    expectations:
      - expect_column_values_to_not_be_null: {column: id}
  - relation: stg_orders
    severity: critical
    owner: data-team
    expectations:
      - expect_column_values_to_be_uniqe: {column: order_id}
      - ExpectColumnValuesToNotBeNull: {column: order_id}
      - expect_column_values_to_be_in_set: {column: status}
      - expect_column_values_to_be_between: {colum: amount, min_value: 0}
      - expect_column_max_to_be_between: {column: order_date, max_age_days: 3, min_value: 2024-01-01}
      - expect_column_values_to_be_in_relation: {column: customer_id, to: stg_customer}
      - expect_column_values_to_be_in_set: {column: status, value_set: placed}
      - expect_column_values_to_not_be_null: {column: order_id, mostly: 2}
  - relation: int_orders
    expectations: []
""")
    with pytest.raises(ExpectationSpecError) as raised:
        load_suites(tmp_path, ["models"], MANIFEST)
    found = [(i.path, i.line, i.message) for i in raised.value.issues]
    where = "models/staging/orders.yml"
    expected = [
        (2, "unknown relation 'stg_order' (did you mean 'stg_orders'?)"),
        (7, "unknown suite key `owner`"),
        (6, "severity must be `error` or `warn`, not `critical`"),
        (9, "unknown expectation `expect_column_values_to_be_uniqe` (did you mean "
            "`expect_column_values_to_be_unique`?)"),
        (10, "unknown expectation `ExpectColumnValuesToNotBeNull` (did you mean "
             "`expect_column_values_to_not_be_null`?)"),
        (11, "`expect_column_values_to_be_in_set` needs `value_set`"),
        (12, "`expect_column_values_to_be_between` has no argument `colum` (did you mean `column`?)"),
        (12, "`expect_column_values_to_be_between` needs `column`"),
        (13, "give either `max_age_days` (relative to the run's as_of date) or `min_value`, not both"),
        (14, "unknown relation 'stg_customer' (did you mean 'stg_customers'?)"),
        (15, "`value_set` must be a list"),
        (16, "`mostly` must be a fraction between 0 and 1, not 2"),
        (17, "'int_orders' is an ephemeral model"),
        (18, "`expectations:` must be a non-empty list"),
    ]
    assert len(found) == len(expected)
    for (path, line, message), (want_line, want) in zip(found, expected):
        assert (path, line) == (where, want_line)
        assert message.startswith(want), message
    assert f"{where}:9: unknown expectation" in str(raised.value)
    assert isinstance(raised.value, SpecError)


def test_suites_are_found_under_the_given_folders_only(tmp_path: Path) -> None:
    for folder in ("models", "seeds", "analyses"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "props.yml").write_text(
            f"expectations:\n  - relation: main.{folder}\n    expectations: [expect_table_row_count_to_be_between]\n")
    (tmp_path / "models" / "plain.yml").write_text("version: 2\nmodels:\n  - name: a\n")
    (tmp_path / "models" / "broken.yml").write_text("models: [\n")  # dbt's problem, not ours
    suites = load_suites(tmp_path, ["models", "seeds"])
    assert [(s.name, s.path) for s in suites] == [("main.models", "models/props.yml"),
                                                  ("main.seeds", "seeds/props.yml")]


def test_broken_yaml_with_suites_and_duplicate_names_are_reported(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "a.yml").write_text(
        "expectations:\n  - suite: orders\n    relation: t\n    expectations: [expect_table_row_count_to_be_between]\n")
    (tmp_path / "models" / "b.yml").write_text(
        "expectations:\n  - suite: orders\n    relation: u\n    expectations: [expect_table_row_count_to_be_between]\n")
    (tmp_path / "models" / "c.yml").write_text("expectations:\n  - relation: [t\n")
    with pytest.raises(ExpectationSpecError) as raised:
        load_suites(tmp_path, ["models"])
    messages = [str(i) for i in raised.value.issues]
    assert messages[0].startswith("models/c.yml:3: not valid YAML")
    assert messages[1] == ("models/b.yml:2: suite `orders` is also defined at models/a.yml:2; "
                           "give one of them another `suite:` name")


def test_without_a_manifest_a_relation_is_a_warehouse_table_name() -> None:
    [suite] = suites_from_yaml(
        "expectations:\n  - relation: analytics.raw.orders\n    expectations: [expect_table_row_count_to_be_between]\n")
    assert suite.relation == Relation("orders", "raw", "analytics", None, "analytics.raw.orders")
    assert suite.relation.table().sql("duckdb") == '"analytics"."raw"."orders"'


def test_a_name_shared_with_a_package_means_the_root_projects_node() -> None:
    [suite] = suites_from_yaml(
        "expectations:\n  - relation: stg_orders\n    expectations: [expect_table_row_count_to_be_between]\n",
        manifest=MANIFEST)
    assert suite.relation.unique_id == "model.shop.stg_orders"


def test_the_catalog_matches_the_installed_great_expectations() -> None:
    """Names and required arguments are GX 1.24's: an upgrade that changes them fails here first."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations.expectations as gxe
        from great_expectations.expectations.expectation import Expectation
    base = set(Expectation.__fields__)
    classes = {c.expectation_type: c for c in vars(gxe).values()
               if inspect.isclass(c) and issubclass(c, Expectation) and getattr(c, "expectation_type", None)}
    for name, (required, optional) in GX_EXPECTATIONS.items():
        fields = classes[name].__fields__
        assert sorted(f for f, m in fields.items() if m.required and f not in base) == sorted(required), name
        assert set(optional) <= set(fields), name
    assert set(MAP) <= set(classes["expect_column_values_to_be_unique"].__fields__)


def test_connection_url_for_duckdb_and_postgres(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = connection_url(Target("p", "dev", {"type": "duckdb", "path": "warehouse.duckdb"}))
    assert relative == f"duckdb:///{tmp_path}/warehouse.duckdb"  # dbt resolves against the working directory
    url = make_url(connection_url(Target("p", "prod", {
        "type": "postgres", "host": "db.internal", "port": 5433, "user": "metrics", "password": "p@ss:w/rd",
        "dbname": "analytics", "schema": "marts", "sslmode": "require"})))
    assert (url.drivername, url.host, url.port, url.username, url.password, url.database) == (
        "postgresql+psycopg2", "db.internal", 5433, "metrics", "p@ss:w/rd", "analytics")
    assert dict(url.query) == {"sslmode": "require"}
    with pytest.raises(WarehouseError, match="in-memory DuckDB"):
        connection_url(Target("p", "dev", {"type": "duckdb", "path": ":memory:"}))
    with pytest.raises(WarehouseError, match="is a snowflake warehouse.*duckdb and postgres"):
        connection_url(Target("p", "sf", {"type": "snowflake", "account": "x"}))
