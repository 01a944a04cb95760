"""The checks of a nightly build, with its bounds and without, on one warehouse: `python bench/nightly_checks.py`.

    python bench/daily_incremental.py --scale 1m --workdir /tmp/daily-1m
    python bench/nightly_checks.py --workdir /tmp/daily-1m [--repeats 3]

Reads the folder bench/daily_incremental.py leaves (`before.duckdb`, the state before the day's load, and
`nightly.duckdb`, the warehouse after the nightly build), puts the nightly warehouse in its project, reads
the bounds a nightly build reads (from the state before), then times, interleaved, `--repeats` times each:

- the expectation suites (Great Expectations) with the bounds (the nightly build's) and without (a full
  refresh's, `metricsctl check`'s);
- the dbt tests of sources, staging and marts (`dbt test`, generated models excluded), the same two ways.

Both ways must find the same on the clean load (nothing failed). Figures go to
bench/results/nightly-checks-<scale>.json and a Markdown summary to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))
from run_all import machine  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="a folder bench/daily_incremental.py left")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
    from metricsctl.expectations import project_suites
    from metricsctl.facade import Metricsctl
    from metricsctl.profiles import Target
    from metricsctl.runner import run_dbt
    from metricsctl.since_last_build import bounds_before_build, dbt_tests_see, suite_bounds

    work = args.workdir.resolve()
    project = work / "project"
    shutil.copyfile(work / "nightly.duckdb", project / "warehouse.duckdb")
    app = Metricsctl(project)
    suites = project_suites(app.project)
    target = app.target
    state_before = work / "state-before" / "warehouse.duckdb"  # the catalog name the manifest's relations use
    state_before.parent.mkdir(exist_ok=True)
    shutil.copyfile(work / "before.duckdb", state_before)
    before = Target(target.profile, target.name, {**target.config, "path": str(state_before)})
    started = time.perf_counter()
    bounds = bounds_before_build(app.project.manifest(), project, suites, before)
    read_seconds = time.perf_counter() - started
    since = suite_bounds(suites, bounds)
    times: dict[str, list[float]] = {k: [] for k in ("suites nightly", "suites whole", "tests nightly", "tests whole")}
    nodes: dict[str, dict[str, float]] = {"tests nightly": {}, "tests whole": {}}
    failures: dict[str, int] = {}
    for _ in range(args.repeats):
        for way, bound in (("nightly", since), ("whole", {})):
            run = app.run_suites(suites, since=bound)
            times[f"suites {way}"].append(run.seconds)
            times.setdefault(f"incremental suites {way}", []).append(
                sum(s.seconds for s in run.suites if s.suite in since))
            failures[f"suites {way}"] = sum(len(s.failures("error")) for s in run.suites)
        for way, tests_bounds in (("nightly", bounds), ("whole", {})):
            with dbt_tests_see(tests_bounds):
                dbt = run_dbt(app.project, ["test", "--exclude", "path:models/metrics"])
            times[f"tests {way}"].append(dbt.seconds)
            failures[f"tests {way}"] = len(dbt.failed)
            for node in dbt.nodes:
                nodes[f"tests {way}"][node.unique_id] = nodes[f"tests {way}"].get(node.unique_id, 0.0) + node.seconds
    median = {k: statistics.median(v) for k, v in times.items()}
    manifest_nodes = app.project.manifest()["nodes"]
    attached = {uid for uid in nodes["tests whole"] if manifest_nodes.get(uid, {}).get("attached_node") in bounds}
    restricted = {k: round(sum(v for uid, v in nodes[k].items() if uid in attached) / args.repeats, 2) for k in nodes}
    result: dict[str, Any] = {
        "workdir": str(work), "repeats": args.repeats, "machine": machine(),
        "bounds": {uid: {c: b.text() for c, b in cols.items()} for uid, cols in bounds.items()},
        "bounds_read_seconds": round(read_seconds, 3),
        "seconds": {k: [round(x, 2) for x in v] for k, v in times.items()},
        "median": {k: round(v, 2) for k, v in median.items()}, "failures": failures,
        "tests_of_incremental_tables_seconds": restricted,
    }
    out = args.out or BENCH / "results" / f"nightly-checks-{work.name}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"## Checks of a nightly build ({work.name}), {args.repeats} runs each, interleaved; median wall\n")
    print("| | nightly (bounds) | whole tables | whole / nightly |\n|---|---|---|---|")
    for part in ("suites", "tests"):
        a, b = median[f"{part} nightly"], median[f"{part} whole"]
        label = "expectation suites (GX)" if part == "suites" else "`dbt test` (sources, staging, marts)"
        print(f"| {label} | {a:.1f} s | {b:.1f} s | {b / a:.1f}x |")
    a, b = median["incremental suites nightly"], median["incremental suites whole"]
    print(f"| the suites of the incremental tables ({len(since)}) | {a:.1f} s | {b:.1f} s | {b / a:.1f}x |")
    print(f"| dbt tests of the incremental tables ({len(attached)}, node sum) | {restricted['tests nightly']:.2f} s | "
          f"{restricted['tests whole']:.2f} s | |")
    print(f"\nBounds read in {read_seconds:.2f} s: {result['bounds']}\nFailures (clean load): {failures}")
    return 0 if not any(failures.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
