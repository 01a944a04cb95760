"""`metric_values` as a dbt node in two versions' projects, interleaved: `python bench/metric_values_nodes.py`.

    python bench/daily_incremental.py --scale 10m --workdir /tmp/d10
    python bench/nightly_side_by_side.py --workdir /tmp/d10 --baseline /tmp/base
    python bench/metric_values_nodes.py --workdir /tmp/d10 [--runs 3]

Reads the two project copies `bench/nightly_side_by_side.py` leaves (`side-baseline`, `side-this`: each with
the models its version generated and its warehouse after its last nightly build) and runs `dbt run -s
metric_values` in each, A, B, A, B, ..., after one warm-up of each (not counted), three ways: a nightly run
(nothing loaded since: the bounds the data gives), a nightly run after a correction of the headcount recorded
from 2024-03-01 (a day added to `fct_headcount_daily_rewrites`, as a corrected hire date adds it), and a full
refresh. dbt's `execution_time` of the node goes to the JSON file; medians to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import duckdb

BENCH = Path(__file__).resolve().parent
MODES = ("nightly", "after a headcount correction from 2024-03-01", "full refresh")


def node_seconds(project: Path, full_refresh: bool) -> float:
    dbt = str(Path(sys.executable).parent / "dbt")
    args = [dbt, "run", "-s", "metric_values", "--project-dir", str(project), "--profiles-dir", str(project),
            "--quiet"] + (["--full-refresh"] if full_refresh else [])
    env = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="False", METRICSCTL_PROJECT_DIR=str(project))
    subprocess.run(args, check=True, env=env, cwd=project)
    results = json.loads((project / "target" / "run_results.json").read_text())["results"]
    return float(next(r["execution_time"] for r in results if r["unique_id"].endswith(".metric_values")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="a folder bench/nightly_side_by_side.py left")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "metric-values-nodes.json")
    args = parser.parse_args()
    projects = {name: args.workdir.resolve() / f"side-{name}" for name in ("baseline", "this")}
    if not all((p / "warehouse.duckdb").exists() for p in projects.values()):
        raise SystemExit(f"{args.workdir} holds no side-baseline/ and side-this/: run bench/nightly_side_by_side.py")
    seconds: dict[str, dict[str, list[float]]] = {mode: {name: [] for name in projects} for mode in MODES}
    for run in range(-1, args.runs):  # run -1: a warm-up of each
        for mode in MODES:
            for name, project in projects.items():
                warehouse = str(project / "warehouse.duckdb")
                if mode.startswith("after"):
                    with duckdb.connect(warehouse) as con:
                        con.execute("insert into fct_headcount_daily_rewrites values (date '2024-03-01')")
                took = node_seconds(project, full_refresh=mode == "full refresh")
                with duckdb.connect(warehouse, read_only=True) as con:  # the run carried the record over
                    assert con.execute("select count(*) from fct_headcount_daily_rewrites").fetchone() == (0,)
                if run >= 0:
                    seconds[mode][name].append(round(took, 2))
    args.out.write_text(json.dumps({"workdir": str(args.workdir), "seconds": seconds}, indent=2) + "\n")
    print("| `metric_values`, dbt node | baseline | this |\n|---|---|---|")
    for mode, by_version in seconds.items():
        cells = [f"{statistics.median(v):.2f} s ({min(v):.2f}-{max(v):.2f})" for v in by_version.values()]
        print(f"| {mode} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
