"""What the incremental export's SQL costs with a different predicate or staging, on a run_all.py warehouse.

    python bench/run_all.py --scale 10m --skip-compile        # leaves /tmp/metricsctl-bench-10m
    python bench/incremental_shapes.py --workdir /tmp/metricsctl-bench-10m [--repeats 7]

Variants of factory_kpis_by_line_and_day, each timed as CREATE TEMP TABLE .. AS, interleaved:
- full: the full-refresh SQL;
- incremental: metricsctl's incremental SQL (DATE_TRUNC('DAY', run_date) >= DATE_TRUNC('DAY', <subquery on
  the export's own table> - 14 days));
- raw_column: the same bound, compared with the raw column (run_date >= CAST(<subquery> AS DATE));
- literal: the bound computed before the query and inlined as a DATE literal;
- literal_partitioned: and stg_production_runs deduplicating per (run_id, run_date) instead of run_id, so
  that DuckDB can push the date filter below the window (a temp view; the warehouse is not changed);
- literal_no_dedup: a lower bound: the staging view without its deduplication (NOT the same rows when
  a day holds duplicates; shown for scale only).
Rows of every variant but the last are checked against the incremental SQL's.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

import duckdb

MODEL = "factory_kpis_by_line_and_day"
STAGING = '"warehouse"."main"."stg_production_runs"'
DEDUP = "qualify row_number() over (partition by run_id order by loaded_at desc) = 1"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    work = args.workdir.resolve()
    sql = json.loads((work / "inc_sql.json").read_text())["variants"]
    incremental, full = sql["incremental"][MODEL], sql["full_refresh"][MODEL]
    con = duckdb.connect(str(work / "project" / "warehouse.duckdb"))
    view = (work / "project" / "models" / "staging" / "stg_production_runs.sql").read_text()
    view = view.replace("{{ ref('production_runs') }}", "raw.production_runs")
    if DEDUP not in view:
        raise SystemExit("stg_production_runs no longer deduplicates as this benchmark expects")
    con.execute("create or replace temp view stg_runs_partitioned as "
                + view.replace("partition by run_id order by", "partition by run_id, run_date order by"))
    con.execute("create or replace temp view stg_runs_no_dedup as " + view.replace(DEDUP, ""))
    bound = re.compile(r"DATE_TRUNC\('DAY', src\.run_date\) >= DATE_TRUNC\('DAY', (COALESCE\(.*?CAST\('1900-01-01' "
                       r"AS TIMESTAMP\)\n\))\)", re.S)
    match = bound.search(incremental)
    if match is None:
        raise SystemExit("the incremental predicate changed shape; update bench/incremental_shapes.py")
    row = con.execute(f"select cast({match.group(1)} as date)").fetchone()
    assert row is not None
    since = row[0]
    literal = bound.sub(f"src.run_date >= DATE '{since}'", incremental)
    variants = {
        "full": full,
        "incremental": incremental,
        "raw_column": bound.sub(lambda m: f"src.run_date >= CAST({m.group(1)} AS DATE)", incremental),
        "literal": literal,
        "literal_partitioned": literal.replace(STAGING, "stg_runs_partitioned"),
        "literal_no_dedup": literal.replace(STAGING, "stg_runs_no_dedup"),
    }
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, text in variants.items():
            started = time.perf_counter()
            con.execute(f"create or replace temp table inc__{name} as {text}")
            seconds[name].append(time.perf_counter() - started)
    print(f"since {since}; {args.repeats} runs each\n")
    print("| variant | median s | min s | full / variant (min) | same rows as incremental |")
    print("|---|---|---|---|---|")
    for name in variants:
        same = "-"
        if name not in ("full", "incremental", "literal_no_dedup"):
            diff = con.execute(f"select (select count(*) from (select * from inc__incremental except all "
                               f"select * from inc__{name})) + (select count(*) from (select * from inc__{name} "
                               f"except all select * from inc__incremental))").fetchone()
            same = "yes" if diff and diff[0] == 0 else "NO"
        print(f"| {name} | {statistics.median(seconds[name]):.3f} | {min(seconds[name]):.3f} | "
              f"{min(seconds['full']) / min(seconds[name]):.1f} | {same} |")
    con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
