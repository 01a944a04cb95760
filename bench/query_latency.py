"""Query latency: `metricsctl query` and `metricsctl --help` as a user runs them, each in a fresh process.

    python bench/query_latency.py                                   # this tree, on the demo built here
    python bench/query_latency.py --baseline /tmp/metricsctl-main   # and another checkout, side by side
    python bench/query_latency.py --runs 21 --project-dir /path/to/built/project

The project must be built (`metricsctl build`) and its manifest up to date: one warm-up query per tree
checks that (a query that has to run `dbt parse` first is not what is measured) and that every tree
answers with the same rows. The children may write bytecode (`__pycache__`) whatever
PYTHONDONTWRITEBYTECODE says, as an installed metricsctl runs: compiling metricsctl's sources on every
run would add about 0.1 s that no user pays. Then, `--runs` times, interleaved so that the machine's load falls on every
tree alike, each tree runs in a fresh interpreter, its own source first on PYTHONPATH:

- `metricsctl query --metrics revenue --group-by metric_time__month` (a one-metric monthly query), and
- `metricsctl --help`,

timing each one's wall clock and its CPU time (user + system, from the kernel's accounting of the child):
on a machine shared with other work the wall time stretches with the load, the CPU time far less.

Separately, `--import-runs` more queries per tree run under `python -X importtime`: the median of the
top-level imports' cumulative time is the import time, and the median of its share of each such run's
wall time the import share (importtime's own bookkeeping slows imports down, so the share is taken of
the same run), with the dbt, pydantic and dbt-semantic-interfaces modules such a query loaded.

Figures go to bench/results/<name>.json and a Markdown summary to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Runs `metricsctl.cli` from the source tree PYTHONPATH names, as the `metricsctl` script would, even where
# the working directory holds another tree (`python -c` puts it first on sys.path) or an editable install
# of metricsctl is present (its import hook comes before PYTHONPATH): every tree is started the same way.
LAUNCH = ("import sys, runpy; sys.path.remove(''); sys.meta_path[:] = [f for f in sys.meta_path "
          "if not getattr(f, '__module__', '').startswith('__editable__')]; "
          "runpy.run_module('metricsctl.cli', run_name='__main__')")
QUERY = ["query", "--metrics", "revenue", "--group-by", "metric_time__month"]
HELP = ["--help"]


def run(tree: Path, project: Path, args: list[str],
        python_flags: tuple[str, ...] = ()) -> tuple[float, float, str, str]:
    """Wall seconds, CPU seconds (user + system), stdout and stderr of `metricsctl ARGS` from `tree`'s
    source, in a fresh process. CPU time is what a machine shared with other work inflates least."""
    env = {**os.environ, "PYTHONPATH": str(tree), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed metricsctl runs from cached bytecode
    command = [sys.executable, *python_flags, "-c", LAUNCH, *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} (from {tree}) exited {done.returncode}: {done.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu, done.stdout, done.stderr


def check_tree(tree: Path) -> None:
    """The tree's metricsctl is the one a process started with PYTHONPATH=tree imports."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    code = LAUNCH.split("runpy.run_module")[0] + "import metricsctl; print(metricsctl.__file__)"
    found = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                           check=True).stdout.strip()
    if not Path(found).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"{tree}: another metricsctl is imported first ({found})")


def imports(stderr: str) -> tuple[float, list[str]]:
    """(seconds spent in top-level imports, every module imported) from `-X importtime` output."""
    total = 0
    names = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        names.append(name.strip())
        if not name.startswith("  "):  # nested imports are inside their importer's cumulative time
            total += int(cumulative)
    return total / 1e6, names


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 4), "min": round(min(values), 4),
            "max": round(max(values), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project-dir", type=Path, default=ROOT, help="A built dbt project (default: the demo here).")
    parser.add_argument("--baseline", type=Path, action="append", default=[],
                        help="Another checkout of metricsctl to measure beside this one (repeatable).")
    parser.add_argument("--runs", type=int, default=15, help="Fresh processes per tree and command.")
    parser.add_argument("--import-runs", type=int, default=5, help="Extra query processes under -X importtime.")
    parser.add_argument("--name", default="query_latency", help="Results go to bench/results/<name>.json.")
    options = parser.parse_args()

    project = options.project_dir.resolve()
    trees = {"this tree": ROOT, **{f"baseline {p}": p.resolve() for p in options.baseline}}
    answers: dict[str, str] = {}
    for label, tree in trees.items():
        check_tree(tree)
        run(tree, project, QUERY)  # a first query may parse the project or write caches: not measured
        answers[label] = run(tree, project, QUERY)[2]
    if len(set(answers.values())) != 1:
        raise SystemExit("the trees answer the query differently:\n" + "\n".join(
            f"--- {label}\n{text}" for label, text in answers.items()))

    walls: dict[str, dict[str, list[float]]] = {label: {"query": [], "help": []} for label in trees}
    cpus: dict[str, dict[str, list[float]]] = {label: {"query": [], "help": []} for label in trees}
    for _ in range(options.runs):
        for label, tree in trees.items():
            for command, args in (("query", QUERY), ("help", HELP)):
                wall, cpu, _, _ = run(tree, project, args)
                walls[label][command].append(wall)
                cpus[label][command].append(cpu)
    imported: dict[str, list[float]] = {label: [] for label in trees}
    shares: dict[str, list[float]] = {label: [] for label in trees}
    modules: dict[str, list[str]] = {}
    for _ in range(options.import_runs):
        for label, tree in trees.items():
            wall, _, _, stderr = run(tree, project, QUERY, ("-X", "importtime"))
            seconds, names = imports(stderr)
            imported[label].append(seconds)
            shares[label].append(seconds / wall)  # -X importtime slows imports down: a share of its own run
            modules[label] = names

    results: dict[str, Any] = {
        "command": " ".join(["metricsctl", *QUERY]), "project": str(project), "runs": options.runs,
        "import_runs": options.import_runs, "python": platform.python_version(), "machine": platform.machine(),
        "cpus": os.cpu_count(), "load_average": os.getloadavg(), "trees": {}}
    for label, tree in trees.items():
        query = summary(walls[label]["query"])
        import_seconds = statistics.median(imported[label])
        results["trees"][label] = {
            "path": str(tree), "query_wall": query, "help_wall": summary(walls[label]["help"]),
            "query_cpu": summary(cpus[label]["query"]), "help_cpu": summary(cpus[label]["help"]),
            "query_imports": round(import_seconds, 4), "import_share": round(statistics.median(shares[label]), 3),
            "dbt_modules": sorted(n for n in modules[label] if n == "dbt" or n.startswith("dbt.")),
            "pydantic_modules": len([n for n in modules[label] if n.split(".")[0] in ("pydantic", "pydantic_core")]),
            "dbt_semantic_interfaces_modules": len([n for n in modules[label]
                                                    if n.startswith("dbt_semantic_interfaces")])}
    out = ROOT / "bench" / "results" / f"{options.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")

    print(f"`metricsctl {' '.join(QUERY)}` and `metricsctl --help`, {options.runs} fresh processes each "
          f"(load average at the end {results['load_average'][0]:.1f} on {os.cpu_count()} CPUs)\n")
    print("| tree | query wall, median (min) | query CPU, median (min) | imports (share) "
          "| --help wall, median (min) | --help CPU, median | dbt / pydantic / DSI modules |")
    print("|---|---|---|---|---|---|---|")
    for label, row in results["trees"].items():
        print(f"| {label} | {row['query_wall']['median']:.3f} s ({row['query_wall']['min']:.3f}) "
              f"| {row['query_cpu']['median']:.3f} s ({row['query_cpu']['min']:.3f}) "
              f"| {row['query_imports']:.3f} s ({row['import_share']:.0%}) "
              f"| {row['help_wall']['median']:.3f} s ({row['help_wall']['min']:.3f}) "
              f"| {row['help_cpu']['median']:.3f} s | {len(row['dbt_modules'])} / {row['pydantic_modules']} / "
              f"{row['dbt_semantic_interfaces_modules']} |")
    print(f"\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
