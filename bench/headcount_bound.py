"""What bounding the headcount metrics of `metric_values` by the day `fct_headcount_daily` rewrites would save.

    python bench/daily_incremental.py --scale 10m --workdir /tmp/d10
    python bench/headcount_bound.py --workdir /tmp/d10

Times `headcount`, `fte` and `attrition_rate` at day, week and month, compiled as `metric_values` compiles
them, on the warehouse after the nightly build (`nightly.duckdb`): over all history (as a nightly build
computes them now), from the day the nightly run of `fct_headcount_daily` rewrote from (the table's last day
before the load) and from an early correction's first day; three interleaved passes, medians to stdout.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import duckdb
from sqlglot import exp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from metricsctl.compiler.dialects import to_sql  # noqa: E402
from metricsctl.compiler.query import MetricQuery  # noqa: E402
from metricsctl.compiler.render import SqlCompiler, as_date, cast, trunc  # noqa: E402
from metricsctl.project import DbtProject  # noqa: E402
from metricsctl.spec import Spec  # noqa: E402

NAMES = ("headcount", "fte", "attrition_rate")
GRAINS = ("day", "week", "month")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="a folder bench/daily_incremental.py left")
    parser.add_argument("--rewritten", default="2025-06-29", help="the first day the nightly run rewrote")
    parser.add_argument("--corrected", default="2024-01-15", help="an early correction's first day")
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    project = DbtProject.at(args.workdir / "project")
    spec = Spec.load(project.semantic_manifest_path, project.locations())
    compiler = SqlCompiler(spec, "duckdb")

    def queries(since_day: str | None) -> list[str]:
        out = []
        for grain in GRAINS:
            since = None
            if since_day:
                day = cast(exp.Literal.string(since_day), "DATE")
                since = day if grain == "day" else as_date(trunc(grain, day))
            out.append(to_sql(compiler.compile(MetricQuery(NAMES, (f"metric_time__{grain}",)), since).expression,
                              "duckdb"))
        return out

    variants = {"all history": queries(None), f"from {args.rewritten}": queries(args.rewritten),
                f"from {args.corrected}": queries(args.corrected)}
    con = duckdb.connect(":memory:")
    con.execute(f"attach '{args.workdir / 'nightly.duckdb'}' as warehouse (read_only)")
    con.execute("use warehouse")
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.passes):
        for name, sqls in variants.items():
            started = time.perf_counter()
            for sql in sqls:
                con.execute(f"SELECT count(*) FROM ({sql})").fetchall()
            times[name].append(time.perf_counter() - started)
    print("| headcount, fte, attrition_rate at day, week, month | seconds (median) | passes |")
    print("|---|---|---|")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.2f} | {', '.join(f'{v:.2f}' for v in values)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
