"""Two versions of metricsctl, the same nightly build, interleaved: `python bench/nightly_side_by_side.py`.

    python bench/nightly_side_by_side.py --workdir /tmp/metricsctl-daily-10m --baseline /path/to/other/checkout
        [--runs 3] [--out bench/results/nightly-side-by-side.json]

`--workdir` is a folder `bench/daily_incremental.py` left behind: its `before.duckdb` holds the state before
the day's load with the load landed, and its `project` the demo as the benchmark built it. Each version gets
a copy of that project (its own target/ and caches, so neither reads what the other parsed or compiled) and,
before each of its runs, a fresh copy of `before.duckdb`; then one nightly `metricsctl build` runs, A, B,
A, B, ... in processes of their own, after one warm-up build of each (not counted). The baseline is the
`metricsctl` package of another checkout, put first on the import path of its processes (`git worktree
add /tmp/base <commit>` makes one); the other version is this checkout's. Wall time, peak memory and the
build's phases (target/metricsctl_run.json) of each run go to the JSON file; medians to stdout.
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
sys.path.insert(0, str(BENCH))
from daily_incremental import AS_OF, EXCLUDE, run_record  # noqa: E402
from run_all import ROOT, dbt_env, machine, run_child  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="a folder bench/daily_incremental.py left")
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout of metricsctl")
    parser.add_argument("--runs", type=int, default=3, help="nightly builds of each version")
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "nightly-side-by-side.json")
    args = parser.parse_args()
    work, baseline = args.workdir.resolve(), args.baseline.resolve()
    before = work / "before.duckdb"
    if not before.exists() or not (work / "project").is_dir():
        raise SystemExit(f"{work} holds no before.duckdb and project/: run bench/daily_incremental.py first")
    if not (baseline / "metricsctl" / "__init__.py").exists():
        raise SystemExit(f"{baseline} is no checkout of metricsctl (no metricsctl/__init__.py)")
    versions = {"baseline": baseline, "this": ROOT}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in versions}
    results: dict[str, Any] = {"workdir": str(work), "baseline": str(baseline), "machine": machine(),
                               "started": time.strftime("%Y-%m-%d %H:%M:%S"), "runs": runs}
    for name in versions:
        project = work / f"side-{name}"
        if project.exists():
            shutil.rmtree(project)
        shutil.copytree(work / "project", project, ignore=shutil.ignore_patterns("*.duckdb", "*.wal", "logs"))
        (project / "logs").mkdir(exist_ok=True)
    for run in range(-1, args.runs):  # run -1: a warm-up of each version (its caches, dbt's partial parse)
        for name, source in versions.items():
            project = work / f"side-{name}"
            shutil.copyfile(before, project / "warehouse.duckdb")
            env = {**dbt_env(project), "PYTHONPATH": str(source)}
            load = os.getloadavg()[0]
            child = run_child([sys.executable, "-m", "metricsctl.cli", "build", "--project-dir", str(project),
                               "--as-of", AS_OF, *EXCLUDE], project / "logs" / f"nightly-{run}.log", cwd=project,
                              env=env, check=False)
            if child.returncode != 0:
                raise SystemExit(f"{name}, run {run}: metricsctl build failed ({child.returncode})\n{child.tail()}")
            print(f"[{time.strftime('%H:%M:%S')}] {name} run {run}: {child.seconds:.1f} s, load {load:.1f}",
                  file=sys.stderr, flush=True)
            if run < 0:
                continue
            record = run_record(project)
            runs[name].append({"wall_seconds": round(child.seconds, 2), "peak_mb": round(child.peak_mb),
                               "load_average": round(load, 2), "phases": record["phases"],
                               "node_seconds_by_kind": record["node_seconds_by_kind"],
                               "slowest_nodes": record["slowest_nodes"]})
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str))
    print(summary(runs))
    return 0


def summary(runs: dict[str, list[dict[str, Any]]]) -> str:
    """Medians (with the range) of wall time and of each phase, one column per version."""
    names = list(runs)
    phases = list(dict.fromkeys(p for name in names for r in runs[name] for p in (r["phases"] or {})))

    def cell(values: list[float]) -> str:
        return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})" if values else "-"

    lines = [f"| nightly build | {' | '.join(names)} |", "|---|" + "---|" * len(names),
             "| wall, s | " + " | ".join(cell([r["wall_seconds"] for r in runs[n]]) for n in names) + " |"]
    for phase in phases:
        lines.append(f"| phase: {phase}, s | " + " | ".join(
            cell([float(r["phases"][phase]) for r in runs[n] if phase in (r["phases"] or {})]) for n in names) + " |")
    lines.append("| load average at start | " + " | ".join(
        ", ".join(str(r["load_average"]) for r in runs[n]) for n in names) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
