"""Where `metric_values`' time goes in a nightly build, metric by metric: `python bench/metric_values_cost.py`.

    python bench/daily_incremental.py --scale 10m --workdir /tmp/daily-10m
    python bench/metric_values_cost.py --workdir /tmp/daily-10m [--since 2025-06-16]

Reads the folder bench/daily_incremental.py leaves (its project and `nightly.duckdb`, the warehouse after the
nightly build) and times, for each metric alone, its query at day, week and month grain as `metric_values`
runs it in a nightly build: from `--since` (the first day the nightly build recomputed: the latest day
with data minus the longest lookback) for the metrics whose semantic models declare `lookback_days`, over
all history for the others. Each metric is timed alone, so metrics that share a scan in `metric_values`
are each charged for it: the figures rank the metrics, they do not add up to the node's time. Figures go
to bench/results/metric-values-cost-<scale>.json and a Markdown summary to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))
from run_all import machine  # noqa: E402

GRAINS = ("day", "week", "month")


def kinds(spec: Any, name: str) -> str:
    """What the metric's inputs do over time: a window, a grain-to-date period, an offset, a balance."""
    from metricsctl.compiler.plan import Planner

    found: set[str] = set()
    for instance in Planner(spec).plan((name,), ()).instances:
        cumulative = instance.cumulative
        if cumulative is not None:
            found.add(f"window {cumulative.window}" if cumulative.window else
                      f"{cumulative.grain_to_date} to date" if cumulative.grain_to_date else "all time")
        if instance.offset is not None:
            found.add(f"offset {instance.offset.window or instance.offset.to_grain}")
        if instance.conversion is not None:
            found.add("conversion")
        if instance.semi_additive is not None:
            found.add("balance")
    return ", ".join(sorted(found))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="a folder bench/daily_incremental.py left")
    parser.add_argument("--since", default="2025-06-16", help="the first day the nightly build recomputed")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    import duckdb
    from sqlglot import exp

    from metricsctl.compiler.dialects import to_sql
    from metricsctl.compiler.query import MetricQuery
    from metricsctl.compiler.render import SqlCompiler, as_date, cast, trunc
    from metricsctl.materialize import Materializer
    from metricsctl.project import DbtProject
    from metricsctl.spec import Spec

    project = DbtProject.at(args.workdir / "project")
    spec = Spec.load(project.semantic_manifest_path, project.locations())
    names = sorted(m.name for m in spec.manifest.metrics)
    # metric -> (days back, records read); a metric reading a record is timed from `--since` too
    bounded = Materializer(spec, project, "duckdb")._bounded_metrics(names)
    lookback = max((days for days, _records in bounded.values()), default=0)
    compiler = SqlCompiler(spec, "duckdb")
    # the nightly warehouse under the name the project's relations carry
    con = duckdb.connect(":memory:")
    con.execute(f"attach '{args.workdir / 'nightly.duckdb'}' as warehouse (read_only)")
    con.execute("use warehouse")
    results: dict[str, Any] = {"machine": machine(), "since": args.since, "lookback_days": lookback, "metrics": {}}
    for name in names:
        seconds = 0.0
        for grain in GRAINS:
            since = None
            if name in bounded:
                day = cast(exp.Literal.string(args.since), "DATE")
                since = day if grain == "day" else as_date(trunc(grain, day))
            sql = to_sql(compiler.compile(MetricQuery((name,), (f"metric_time__{grain}",)), since).expression,
                         "duckdb")
            started = time.perf_counter()
            con.execute(f"SELECT count(*) FROM ({sql})").fetchall()
            seconds += time.perf_counter() - started
        results["metrics"][name] = {"seconds": round(seconds, 3), "bounded": name in bounded,
                                    "kinds": kinds(spec, name)}
        print(f"{name}: {seconds:.2f} s", file=sys.stderr, flush=True)
    con.close()
    results["machine"]["load_average_end"] = os.getloadavg()
    scale = args.workdir.name.rsplit("-", 1)[-1]
    out = args.out or (BENCH / "results" / f"metric-values-cost-{scale}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(summary(results))
    return 0


def summary(r: dict[str, Any]) -> str:
    m = r["machine"]
    ranked = sorted(r["metrics"].items(), key=lambda kv: -kv[1]["seconds"])
    total = sum(v["seconds"] for v in r["metrics"].values())
    out = [f"Load average {', '.join(f'{x:.1f}' for x in m['load_average'])} at start, "
           f"{', '.join(f'{x:.1f}' for x in m['load_average_end'])} at end; commit {m.get('commit')}.",
           f"Each metric alone, day + week + month; {total:.1f} s in all ({len(ranked)} metrics).",
           "", "| metric | what it reads | recomputed | seconds |", "|---|---|---|---|"]
    for name, v in ranked[:15]:
        out.append(f"| {name} | {v['kinds'] or 'rows'} | {'from ' + r['since'] if v['bounded'] else 'in full'} | "
                   f"{v['seconds']:.2f} |")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
