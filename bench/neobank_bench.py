"""The neobank benchmark project, end to end in one run: `python bench/neobank_bench.py --rows 5m`.

    python bench/neobank_bench.py --rows 5m --mf /path/to/metricflow-venv/bin/mf --repeats 3
    python bench/neobank_bench.py --rows 200k                     # without MetricFlow's column

A project of a shape the demo lacks (bench/neobank/: rolling 7- and 28-day windows by day over a two-hop
dimension, month and year to date at month grain, a conversion funnel with a 7-day window, a semi-additive
weekly balance, exact percentiles), in a fresh folder (default /tmp/metricsctl-neobank-<rows>):

1. copies bench/neobank and writes its raw tables at `--rows` transactions into the warehouse's `raw`
   schema (bench/neobank/generate_raw.py, deterministic for a `--seed`);
2. `metricsctl build --exclude metric_values --exclude metric_catalog`: parse, compile the five exports,
   dbt build of the staging views, the time spine, their tests and the exports (the standard table of
   every metric by day, week and month is not what this benchmark compares);
3. times each export three ways on the same DuckDB file, interleaved, `--repeats` times after one untimed
   run of metricsctl's (bench/steps.py time --warmup): metricsctl's SQL as dbt compiled it, the
   hand-written floor (bench/neobank/floor/<export>.sql) and, with --mf, MetricFlow's SQL for the same
   saved query (`mf query --saved-query X --explain`); every variant must give metricsctl's rows
   (matched on the group-by columns, values within 1e-9 relative), or the run exits 1. The load average
   is sampled every 5 s while the queries run.

Results go to bench/results/neobank-<rows>.json and a Markdown summary to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH / "neobank"
sys.path.insert(0, str(BENCH))
from datagen import parse_count  # noqa: E402
from run_all import (  # noqa: E402
    compiled_sql,
    copy_project,
    dbt_env,
    exports_table,
    fresh_workdir,
    machine,
    metricflow_sql,
    node_time,
    ratio,
    run_child,
    saved_queries,
)

EXCLUDED = ("metric_values", "metric_catalog")


class LoadSampler:
    """The 1-minute load average every `every` seconds while a block runs."""

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, float]:
        return {"min": min(self.samples), "median": statistics.median(self.samples), "max": max(self.samples),
                "samples": len(self.samples)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="5m", help="transactions: 5m, 200k, ... (other tables in proportion)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mf", type=Path, default=None, help="MetricFlow's `mf` executable (its venv); "
                        "without it the MetricFlow column is skipped")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each query (median and min reported)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None, help="results JSON "
                        "(default bench/results/neobank-<rows>.json)")
    args = parser.parse_args()

    rows = parse_count(args.rows)
    label = args.rows.lower()
    work = (args.workdir or Path(f"/tmp/metricsctl-neobank-{label}")).resolve()
    project = work / "project"
    logs, mf = fresh_workdir(work, args.mf)
    db = project / "warehouse.duckdb"
    py = sys.executable
    results: dict[str, Any] = {"project": "neobank", "rows": rows, "seed": args.seed, "repeats": args.repeats,
                               "machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}

    def say(text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    say(f"project copy and raw data at {rows:,} transactions in {work}")
    copy_project(project, None, PROJECT)
    shutil.rmtree(project / "models" / "metrics", ignore_errors=True)  # compiled afresh below
    counts_file = work / "counts.json"
    gen = run_child([py, str(PROJECT / "generate_raw.py"), "--rows", str(rows), "--seed", str(args.seed),
                     "--db", str(db), "--json", str(counts_file)], logs / "datagen.log")
    results["datagen"] = {"seconds": gen.seconds, "peak_mb": gen.peak_mb,
                          "rows": json.loads(counts_file.read_text())}

    say("metricsctl build (staging, time spine, tests, the exports)")
    env = dbt_env(project)
    build = run_child([py, "-c", "from metricsctl.cli import main; main()", "build", "--project-dir",
                       str(project), *(a for name in EXCLUDED for a in ("--exclude", name))], logs / "build.log",
                      cwd=project, env=env)
    exports_of = saved_queries(project)
    exports = sorted(e for es in exports_of.values() for e in es)
    results["build"] = {"seconds": build.seconds, "peak_mb": build.peak_mb,
                        "export_node_seconds": {e: round(node_time(project, e), 3) for e in exports},
                        "excluded": list(EXCLUDED)}

    variants: dict[str, dict[str, str]] = {"metricsctl": {e: compiled_sql(project, e) for e in exports},
                                           "floor": {e: (PROJECT / "floor" / f"{e}.sql").read_text()
                                                     for e in exports}}
    if mf is not None:
        say("MetricFlow's SQL (mf query --saved-query --explain)")
        by_query, mf_seconds = metricflow_sql(mf, work, sorted(exports_of), logs, PROJECT)
        variants["metricflow"] = {e: by_query[q] for q, es in exports_of.items() for e in es if q in by_query}
        results["metricflow_explain_seconds"] = mf_seconds
    sql_file = work / "sql.json"
    sql_file.write_text(json.dumps({"variants": variants}, indent=2))
    say(f"timing {len(exports)} exports x {len(variants)} variants x {args.repeats}")
    timed_file = work / "timed.json"
    with LoadSampler() as load:
        timing = run_child([py, str(BENCH / "steps.py"), "time", "--db", str(db), "--sql", str(sql_file),
                            "--repeats", str(args.repeats), "--warmup", "--out", str(timed_file)], logs / "time.log")
    results["exports"] = json.loads(timed_file.read_text())
    results["exports"]["child_peak_mb"] = timing.peak_mb
    results["load_average_while_timing"] = load.summary()
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    results["machine"]["load_average_end"] = os.getloadavg()

    out_path = args.out or (BENCH / "results" / f"neobank-{label}.json")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=2, default=str))
    say(f"results in {out_path}")
    print(summary(results))
    differ = [f"{e} ({v})" for e, x in results["exports"]["exports"].items()
              for v, same in x["same_as_metricsctl"].items() if not same["same"]]
    missing = [f"{e} ({v})" for e in exports for v in variants if v not in results["exports"]["exports"][e]["median"]]
    if differ or missing:
        print(f"\nNOT THE SAME ROWS: {', '.join(differ)}; no result: {', '.join(missing) or 'none'}", file=sys.stderr)
        return 1
    return 0


def summary(r: dict[str, Any]) -> str:
    m, load = r["machine"], r["load_average_while_timing"]
    out = [f"## neobank, {r['rows']:,} transactions (seed {r['seed']}), {r['repeats']} timed runs, median",
           f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; DuckDB {m.get('duckdb')}, dbt "
           f"{m.get('dbt')}, sqlglot {m.get('sqlglot')}; commit {m.get('commit')}; load average (1 min) while "
           f"timing: {load['min']:.1f} .. {load['max']:.1f}, median {load['median']:.1f} ({load['samples']} samples)."]
    counts = r["datagen"]["rows"]
    out.append(f"\nData: {sum(counts.values()):,} raw rows in {r['datagen']['seconds']:.1f} s: "
               + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    b = r["build"]
    out.append(f"\n`metricsctl build` (parse, compile, staging views, spine, tests, 5 exports): {b['seconds']:.1f} s, "
               f"peak {b['peak_mb']:.0f} MB; export nodes: "
               + ", ".join(f"{e} {s:.2f} s" for e, s in b["export_node_seconds"].items()))
    out += exports_table(r["exports"])
    e = r["exports"]["exports"]
    totals = {v: sum(x["median"].get(v, 0.0) for x in e.values()) for v in ("metricsctl", "floor", "metricflow")}
    if totals["metricflow"]:
        speedup = ratio(totals["metricflow"], totals["metricsctl"])
        out.append(f"\nMetricFlow's SQL / metricsctl's, total: **{speedup:.1f}x**"
                   " (per export: " + ", ".join(
                       f"{name} {ratio(x['median'].get('metricflow', 0), x['median']['metricsctl']):.1f}x"
                       for name, x in sorted(e.items())) + ").")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
