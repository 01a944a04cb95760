"""Great Expectations guards the inputs: a bad load never reaches a metric table.

Suites are declared in YAML next to the models they guard (spec.py has the format), run with Great
Expectations as SQL in the warehouse (runner.py), reported per expectation and stored in a table
(results.py), and the dbt nodes downstream of a failed `error` suite are kept from building (gating.py).

    suites = load_suites(project_dir, [*model_paths, *seed_paths], read_manifest(target_dir))
    run = run_suites(suites, connection_url(target), as_of=date.today())
    write_results(duckdb_file, run)
    stale = gate_run(manifest, run, metrics_dir="models/metrics")
    # dbt build --exclude *stale.selectors ; report stale.reason(uid) for uid in stale.metric_models

Nothing here imports great_expectations until suites are run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from metricsctl.expectations.connection import connection_url
from metricsctl.expectations.gating import Gate, downstream, gate, gate_run
from metricsctl.expectations.relations import Relation, RelationResolver
from metricsctl.expectations.results import (
    RESULTS_TABLE,
    ExpectationResult,
    ExpectationRun,
    SuiteResult,
    write_results,
)
from metricsctl.expectations.spec import (
    ExpectationSpec,
    ExpectationSpecError,
    Suite,
    load_suites,
    suites_from_yaml,
)
from metricsctl.project import read_manifest

if TYPE_CHECKING:
    from metricsctl.profiles import Target
    from metricsctl.project import DbtProject
    from metricsctl.since_last_build import Bound


def run_suites(suites: list[Suite], url: str, *, as_of: dt.date | None = None, run_id: str | None = None,
               spark: Any = None, on_suite: Callable[[str, str, str], None] | None = None,
               since: Mapping[str, Bound] | None = None, lanes: int | None = None) -> ExpectationRun:
    """Run the suites in the warehouse at `url`, or in a Spark session (see runner.run_suites); imports GX on
    first use. `since` (suite name -> bound): a nightly build's suites validate the rows it wrote; `lanes`: how
    many suites are validated at a time on a SQL warehouse."""
    from metricsctl.expectations.runner import run_suites as run

    return run(suites, url, as_of=as_of, run_id=run_id, spark=spark, on_suite=on_suite, since=since, lanes=lanes)


def project_suites(project: DbtProject) -> list[Suite]:
    """Every suite under the project's model and seed paths, resolved through target/manifest.json."""
    manifest = project.manifest()
    return load_suites(project.project_dir, [*project.paths("model-paths"), *project.paths("seed-paths")],
                       manifest)


def check_project(project: DbtProject, target: Target, *, as_of: dt.date | None = None,
                  run_id: str | None = None) -> ExpectationRun:
    """Load the project's suites and run them in the target's warehouse (dbt's DuckDB must be released)."""
    return run_suites(project_suites(project), connection_url(target), as_of=as_of, run_id=run_id)


__all__ = [
    "RESULTS_TABLE", "ExpectationResult", "ExpectationRun", "ExpectationSpec", "ExpectationSpecError", "Gate",
    "Relation", "RelationResolver", "Suite", "SuiteResult", "check_project", "connection_url", "downstream",
    "gate", "gate_run", "load_suites", "project_suites", "read_manifest", "run_suites", "suites_from_yaml",
    "write_results",
]
