"""A nightly build leaves as they are the relations whose code and inputs are those of the last build.

Each build records a state key per model and seed (metricsctl/unchanged.py); the next one leaves out of dbt's
runs, and out of the expectation suites, every node whose key is the one recorded. What it builds must still
equal a build of everything.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
from engines import differences
from test_build_gating import SUITES
from test_demo_nightly import AS_OF, differing_relations, full_build, land  # noqa: F401 - full_build: a fixture
from test_materialize import ENGINES, engine_project, export_rows, make_project, metric_values, succeeded

from metricsctl.facade import Metricsctl
from metricsctl.pipeline import BuildResult
from metricsctl.unchanged import STATE_TABLE, state_keys

GATING_AS_OF = dt.date(2024, 7, 2)  # the suites' freshness check passes on this day
NEW_VISIT = "9001,5,2024-06-30,online\r\n"  # customer 5 visits online on the last day


def recorded_keys(project: Path) -> dict[str, str]:
    """unique_id -> the state key the last build recorded."""
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        return dict(con.execute(f"select unique_id, state_key from {STATE_TABLE}").fetchall())


def ran(result: BuildResult) -> set[str]:
    """The names of the models and seeds dbt built."""
    return {n.unique_id.split(".")[-1] for n in result.nodes if n.unique_id.startswith(("model.", "seed."))}


@pytest.mark.parametrize("target", ENGINES)
def test_a_new_visit_rebuilds_only_what_reads_visits_and_the_result_equals_a_full_build(
        tmp_path: Path, target: str, request: pytest.FixtureRequest):
    if target != "dev":
        request.getfixturevalue(f"{target}_env")  # its server or session folder
    only = ("+metric_values", "+daily_channel_sales", "+conversion_by_source")
    # schemas of their own: the demo's nightly test builds the schema `nightly` in the same server
    nightly = engine_project(tmp_path, "unchanged", target)
    succeeded(nightly.build(select=only))  # loads the seeds
    second = nightly.build(select=only)  # the seeds' rows are known now: every node's state is recorded
    succeeded(second)
    assert {"orders", "visits", "metric_values", "daily_channel_sales"} <= ran(second)
    schema, exports = ("main", "exports") if target == "dev" else ("unchanged", "unchanged_exports")
    before = conversions(nightly, schema)

    with (nightly.project.project_dir / "seeds" / "visits.csv").open("a") as f:
        f.write(NEW_VISIT)
    third = nightly.build(select=only)
    succeeded(third)
    # the visits seed, the conversions that read it and metric_values; not the orders, nor the sales by channel
    assert {"visits", "conversion_by_source", "metric_values"} <= ran(third)
    assert not ran(third) & {"orders", "order_lines", "customers", "daily_channel_sales"}

    full = engine_project(tmp_path, "unchanged_full", target)
    with (full.project.project_dir / "seeds" / "visits.csv").open("a") as f:
        f.write(NEW_VISIT)
    succeeded(full.build(select=only, full_refresh=True))
    other, other_exports = ("main", "exports") if target == "dev" else ("unchanged_full", "unchanged_full_exports")
    assert not differences(metric_values(full, other), metric_values(nightly, schema))
    assert not differences(export_rows(full, other_exports), export_rows(nightly, exports))
    assert conversions(nightly, schema) == conversions(full, other) != before  # the new visit reached it


def conversions(app: Metricsctl, schema: str) -> list[tuple[Any, ...]]:
    warehouse = app.warehouse()
    try:
        rows = warehouse.execute(f"select * from {schema}.conversion_by_source").rows
    finally:
        warehouse.close()
    return sorted(tuple(str(v) for v in row) for row in rows)


def test_a_build_with_nothing_changed_builds_nothing_and_a_dropped_table_is_built_again(tmp_path: Path):
    app = Metricsctl(make_project(tmp_path))
    succeeded(app.build())
    succeeded(app.build())
    idle = app.build()
    succeeded(idle)
    assert ran(idle) == set()
    with duckdb.connect(str(app.project.project_dir / "shop.duckdb")) as con:
        recorded = con.execute(f"select count(*), count(*) filter (where passed) from {STATE_TABLE}").fetchone()
        con.execute("drop table metric_values")
    assert recorded is not None and recorded[0] == recorded[1] > 10
    rebuilt = app.build()  # the state speaks of a table that is gone: everything is built again
    succeeded(rebuilt)
    assert {"customers", "orders", "metric_values", "sales_by_month"} <= ran(rebuilt)


def test_a_full_refresh_builds_and_checks_everything(tmp_path: Path):
    root = make_project(tmp_path)
    (root / "models" / "expectations.yml").write_text(SUITES)
    app = Metricsctl(root)
    first = app.build(as_of=GATING_AS_OF)
    succeeded(first)
    succeeded(app.build(as_of=GATING_AS_OF))
    again = app.build(as_of=GATING_AS_OF)
    succeeded(again)
    full = app.build(full_refresh=True, as_of=GATING_AS_OF)
    assert {"orders", "metric_values"} <= ran(full)
    assert first.expectations is not None and full.expectations is not None
    checked = [(s.suite, r.expectation, r.kwargs) for s in first.expectations.suites for r in s.results]
    assert len(checked) == 5
    # with nothing changed a build runs only what moves with the day; a full refresh, every expectation
    assert again.expectations is None or sum(len(s.results) for s in again.expectations.suites) < len(checked)
    assert [(s.suite, r.expectation, r.kwargs) for s in full.expectations.suites for r in s.results] == checked


def manifest(*nodes: dict[str, Any], macros: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"nodes": {n["unique_id"]: n for n in nodes if n["resource_type"] != "source"},
            "sources": {n["unique_id"]: n for n in nodes if n["resource_type"] == "source"},
            "macros": macros or {}}


def node(name: str, *parents: str, code: str = "select 1", macros: tuple[str, ...] = (),
         meta: dict[str, Any] | None = None) -> dict[str, Any]:
    kind = "source" if name.startswith("raw_") else "model"
    return {"unique_id": f"{kind}.p.{name}", "resource_type": kind, "name": name, "raw_code": code,
            "checksum": {"checksum": str(hash(code))}, "config": {"meta": meta or {}},
            "depends_on": {"nodes": [f"{'source' if p.startswith('raw_') else 'model'}.p.{p}" for p in parents],
                           "macros": list(macros)}}


def test_a_state_key_follows_the_rows_of_the_inputs_and_nothing_reading_the_clock_has_one():
    """stg reads raw_orders; mart reads stg; today reads the clock through a macro, and its child has no key
    either; a comment naming current_date reads no clock; always_build opts a model out."""
    macros = {"macro.p.today": {"macro_sql": "{% macro today() %}cast(now() as date){% endmacro %}",
                                "depends_on": {"macros": []}},
              "macro.p.quiet": {"macro_sql": "{# not current_date #} {% macro quiet() %}1{% endmacro %}",
                                "depends_on": {"macros": []}}}
    graph = manifest(node("raw_orders"), node("stg", "raw_orders", macros=("macro.p.quiet",)), node("mart", "stg"),
                     node("today", "stg", macros=("macro.p.today",)), node("after_today", "today"),
                     node("pinned", "stg", meta={"metricsctl": {"always_build": True}}), macros=macros)
    keys = state_keys(graph, {"source.p.raw_orders": "3:42"}, "shared")
    assert set(keys) == {"source.p.raw_orders", "model.p.stg", "model.p.mart"}
    reloaded = state_keys(graph, {"source.p.raw_orders": "4:57"}, "shared")  # a row more in raw_orders
    assert all(reloaded[uid] != keys[uid] for uid in keys)
    assert state_keys(graph, {"source.p.raw_orders": "3:42"}, "shared") == keys
    assert state_keys(graph, {"source.p.raw_orders": None}, "shared") == {}  # unreadable: nothing is known


@pytest.mark.slow
def test_the_demos_nightly_leaves_what_the_load_did_not_reach_and_equals_a_full_build(
        demo_built: Path, tmp_path: Path, full_build: Metricsctl):  # noqa: F811 - the fixture imported above
    """The demo's day of load (tests/test_demo_nightly.py: late and reloaded orders and runs, restated traffic,
    spend and balances, corrected hire and leaving dates) after a build that recorded every node's state: the
    leads, targets and visits, which the load does not reach, are left as they are, and so are the suites that
    read only what did not change (of those that check freshness, only that check runs); every relation holds
    a full build's rows."""
    nightly = tmp_path / "nightly"
    shutil.copytree(demo_built, nightly, ignore=shutil.ignore_patterns(".metricsctl-candidate", "*.lock"))
    app = Metricsctl(nightly)
    recorded = app.build(as_of=AS_OF)  # the seeds are loaded: this build records every node's state
    assert recorded.success, [(n.unique_id, n.message) for n in recorded.failed] or recorded.stale_metrics
    keys_before = recorded_keys(nightly)
    land(nightly)
    result = app.build(as_of=AS_OF)
    assert result.success, [(n.unique_id, n.message) for n in result.failed] or result.stale_metrics
    keys_after = recorded_keys(nightly)
    parents = {uid: set(node["depends_on"].get("nodes", [])) for uid, node in app.project.manifest()["nodes"].items()}
    # changed: a new key, or none (it reads the clock, or is built from something that does)
    changed = {uid for uid in set().union(*parents.values(), parents)
               if keys_after.get(uid) is None or keys_before.get(uid) != keys_after[uid]}
    tests = {n.unique_id for n in result.nodes if n.unique_id.startswith("test.")}
    assert tests and all(parents[t] & changed for t in tests)  # every test that ran reads something that changed
    # the customers did not change, yet a test of new orders reads them: they are built, their own tests are not
    customers = "model.metricsctl_demo.stg_customers"
    assert customers not in changed and "stg_customers" in ran(result)
    assert any(customers in parents[t] and parents[t] & changed for t in tests)
    assert not any(parents[t] == {customers} for t in tests)
    unchanged = {uid.split(".")[-1] for uid in result.unchanged}
    assert {"stg_leads", "stg_targets", "stg_sales_visits", "leads"} <= unchanged
    assert {"orders", "stg_orders", "stg_employees", "fct_headcount_daily", "metric_values"} <= ran(result)
    assert recorded.expectations is not None and result.expectations is not None
    checked = {suite.suite for suite in result.expectations.suites}
    assert "stg_promotions" not in checked  # unchanged, and its suite reads nothing else and no clock
    assert {"stg_orders", "stg_projects"} <= checked  # the projects' suite reads the corrected employees
    whole = {suite.suite: len(suite.results) for suite in recorded.expectations.suites}
    runs = {suite.suite: [r.describe() for r in suite.results] for suite in result.expectations.suites}
    assert len(runs["stg_orders"]) == whole["stg_orders"]  # its rows changed: every check of it runs
    # the leads did not change: of their suite only the freshness check runs, whose answer moves with the day
    assert runs["stg_leads"] == ["expect_column_max_to_be_between(column=created_date, max_age_days=7)"]
    assert whole["stg_leads"] > 1
    assert len(checked) < len(recorded.expectations.suites)
    assert not differing_relations(nightly / "warehouse.duckdb", full_build.project.project_dir / "warehouse.duckdb")


def test_a_suite_that_warned_on_the_same_rows_runs_again_only_what_warned_and_what_moves_with_the_day(
        demo_built: Path, tmp_path: Path):
    """An expectation that passed on the same rows passes again: of a suite that warned last time, and whose rows
    did not change, only the expectations that warned run again (so that the build still reports them), with
    the freshness checks; each warned expectation is recorded apart, under the suite's key."""
    root = tmp_path / "demo"
    shutil.copytree(demo_built, root, ignore=shutil.ignore_patterns(".metricsctl-candidate", "*.lock"))
    suites = root / "models" / "staging" / "expectations.yml"
    text = suites.read_text()
    reps = "      - expect_table_row_count_to_be_between: {min_value: 3, severity: warn}  # demo: 8\n"
    assert reps in text  # a soft check that warns on the demo's 8 sales reps, beside the suite's others
    suites.write_text(text.replace(reps, reps + "      - expect_table_row_count_to_be_between: "
                                                "{max_value: 5, severity: warn}\n"))
    app = Metricsctl(root)
    first = app.build(as_of=AS_OF)
    again = app.build(as_of=AS_OF)  # nothing changed
    assert first.expectations is not None and again.expectations is not None
    before = {suite.suite: suite for suite in first.expectations.suites}
    after = {suite.suite: suite for suite in again.expectations.suites}
    assert len(before["stg_sales_reps"].results) == 7  # the whole suite, the new check among its warnings
    assert [(r.expectation, r.kwargs, r.success) for r in before["stg_sales_reps"].failures("warn")] == [
        ("expect_table_row_count_to_be_between", {"max_value": 5}, False)]
    # the same rows: the warned check runs again (and warns again), the six that passed do not
    assert [(r.expectation, r.kwargs, r.success) for r in after["stg_sales_reps"].results] == [
        ("expect_table_row_count_to_be_between", {"max_value": 5}, False)]
    assert again.expectations.failures("warn") and again.success
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        warned = con.execute(f"select unique_id, passed from {STATE_TABLE} "
                             "where unique_id like 'suite:stg_sales_reps%' order by 1").fetchall()
    assert [passed for _, passed in warned] == [False, False] and warned[1][0].startswith("suite:stg_sales_reps#")
    # suites that passed whole run only their freshness checks, those without one not at all
    assert "stg_promotions" not in after
    assert sum(len(s.results) for s in after.values()) < sum(len(s.results) for s in before.values()) / 5


def test_comments_are_taken_out_as_a_regular_expression_would_in_one_pass():
    """The reference: what the regular expression below gives, on every short text of comment characters; and an
    unclosed comment opening repeated 40,000 times (the expression's time grows with its square: 13 s) stays
    text."""
    import random
    import re

    from metricsctl.unchanged import without_comments

    reference = re.compile(r"\{#.*?#\}|/\*.*?\*/|--[^\n]*", re.DOTALL)
    draw = random.Random(7)
    for _ in range(20_000):
        text = "".join(draw.choice("{#}/*-\na ") for _ in range(draw.randint(0, 14)))
        assert without_comments(text) == reference.sub(" ", text), text
    assert without_comments("select now() -- now()\n/* now() */ {# now() #} x") == "select now()  \n    x"
    assert without_comments("{#" * 40_000) == "{#" * 40_000
