"""What a build leaves under target/ for dbt's other readers: the parse's manifests as they were, and the results
of its last dbt run in run_results.json (where dbt writes them: beside the candidate schemas' compiled SQL on
PostgreSQL and Spark).

dbt writes manifest.json and semantic_manifest.json again after every run; a build's runs start from the
manifest the parse wrote and leave both files alone.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.test_expectations_process import shop_with_suites
from tests.test_materialize import ENGINES
from tests.test_publish_engines import NEW_ORDER, append


@pytest.mark.parametrize("target", ENGINES)
def test_a_build_leaves_the_parsed_manifests_and_writes_its_run_results(
        target: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if target != "dev":
        request.getfixturevalue(f"{target}_env")  # its server or session folder
    app = shop_with_suites(tmp_path, target, "artifacts")
    only = ("+sales_by_month", "visits", "customers")  # one export, and the seeds the suites read
    assert app.build(as_of=dt.date(2024, 7, 2), select=only).success
    append(app.project.project_dir, "orders", NEW_ORDER)  # a new order: the export is built again
    assert app.build(as_of=dt.date(2024, 7, 2), select=only).success
    target_dir = app.project.target_dir
    results = target_dir / ("run_results.json" if target == "dev" else "metricsctl_candidate/run_results.json")
    ran = json.loads(results.read_text())
    # the last dbt run of the build: its metric models, here the one export selected
    assert [(r["unique_id"], r["status"]) for r in ran["results"]
            if r["unique_id"].startswith("model.")] == [("model.shop.sales_by_month", "success")]
    # the manifest of the parse (the orders' file changed): the export's node holds no compiled code, as the
    # manifest of the run that built it would (on Spark, the views are made again after publishing, by a run of
    # their own, which writes its manifest as dbt does)
    nodes = json.loads((target_dir / "manifest.json").read_text())["nodes"]
    assert "compiled_code" not in nodes["model.shop.sales_by_month"]

    manifests = [target_dir / "manifest.json", target_dir / "semantic_manifest.json"]
    before = [(path.read_bytes(), path.stat().st_mtime_ns) for path in manifests]
    assert app.build(as_of=dt.date(2024, 7, 2), select=only).success  # nothing changed: nothing parsed
    assert [(path.read_bytes(), path.stat().st_mtime_ns) for path in manifests] == before
