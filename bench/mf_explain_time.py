"""MetricFlow's query compilation time for every saved query of a semantic manifest (no warehouse).

Runs in MetricFlow's own virtual environment, never in metricsctl's:

    /path/to/metricflow-venv/bin/python bench/mf_explain_time.py target/semantic_manifest.json [--sample 50]

The manifest is parsed as `mf` parses it; the engine gets a client that renders DuckDB SQL and executes
nothing. Prints one JSON line: engine set-up seconds, seconds for the explained saved queries (SQL text
rendered), the median per query, and an extrapolation to all saved queries when only a sample ran.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--sample", type=int, default=0, help="explain every n-th saved query up to this many")
    args = parser.parse_args()

    started = time.perf_counter()
    from metricflow.engine.metricflow_engine import MetricFlowEngine, MetricFlowQueryRequest
    from metricflow.protocols.sql_client import SqlEngine
    from metricflow.sql.render.duckdb_renderer import DuckDbSqlPlanRenderer
    from metricflow_semantics.model.dbt_manifest_parser import parse_manifest_from_dbt_generated_manifest
    from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup

    class RenderOnly:
        """A SqlClient that renders DuckDB SQL and refuses to run it."""

        sql_engine_type = SqlEngine.DUCKDB
        sql_plan_renderer = DuckDbSqlPlanRenderer()

        def query(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("explain only")

        def execute(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("explain only")

        def dry_run(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("explain only")

        def close(self) -> None:
            pass

        def render_bind_parameter_key(self, bind_parameter_key: str) -> str:
            return f"${bind_parameter_key}"

    imported = time.perf_counter()
    manifest = parse_manifest_from_dbt_generated_manifest(args.manifest.read_text())
    engine = MetricFlowEngine(semantic_manifest_lookup=SemanticManifestLookup(manifest),
                              sql_client=RenderOnly())  # type: ignore[arg-type]
    ready = time.perf_counter()
    names = [sq.name for sq in manifest.saved_queries]
    chosen = names
    if args.sample and args.sample < len(names):
        step = len(names) / args.sample
        chosen = [names[int(i * step)] for i in range(args.sample)]
    per_query: list[float] = []
    failed: dict[str, str] = {}
    sql_bytes = 0
    for name in chosen:
        t = time.perf_counter()
        try:
            result = engine.explain(MetricFlowQueryRequest.create(saved_query_name=name))
            sql_bytes += len(result.sql_statement.sql)
        except Exception as exc:  # a query MetricFlow refuses is reported, not fatal
            failed[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        per_query.append(time.perf_counter() - t)
    total = sum(per_query)
    print(json.dumps({
        "import": imported - started, "setup": ready - imported, "explained": len(chosen), "total": len(names),
        "queries": total, "per_query_median": statistics.median(per_query) if per_query else 0.0,
        "extrapolated_queries": total / len(chosen) * len(names) if chosen else 0.0,
        "failed": len(failed), "failures": dict(list(failed.items())[:10]), "sql_bytes": sql_bytes,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
