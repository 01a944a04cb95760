"""Where a floor query's time goes: each of its CTEs timed alone, on a warehouse run_all.py built.

    python bench/floor_pieces.py --workdir /tmp/metricsctl-bench-10m --export company_kpis_by_month

Each CTE of bench/floor/<export>.sql is timed as `WITH <every CTE> SELECT * FROM <that CTE>` (the CTEs it
reads included), interleaved with the whole query, `--repeats` times; medians with the fastest run in brackets.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

import duckdb

BENCH = Path(__file__).resolve().parent


def pieces(sql: str) -> tuple[str, list[str]]:
    """The floor's WITH clause (without `with`) and the names of its CTEs, in order."""
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    head = body.split("with", 1)[1]
    ctes = head[:head.rindex("\nselect ")]
    names = re.findall(r"^\s*(?:\),\s*)?(\w+) as (?:materialized )?\(", ctes, flags=re.M | re.I)
    return ctes, names


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="a run_all.py folder")
    parser.add_argument("--export", required=True)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    sql = (BENCH / "floor" / f"{args.export}.sql").read_text()
    ctes, names = pieces(sql)
    queries = {"(whole query)": sql, **{name: f"with {ctes}\nselect * from {name}" for name in names}}
    seconds: dict[str, list[float]] = {name: [] for name in queries}
    con = duckdb.connect(str(args.workdir / "project" / "warehouse.duckdb"), read_only=True)
    for _ in range(args.repeats):
        for name, query in queries.items():
            started = time.perf_counter()
            con.execute(f"create or replace temp table piece as {query}")
            seconds[name].append(time.perf_counter() - started)
    lines = [f"{args.export} (floor), each CTE alone with the CTEs it reads, {args.repeats} interleaved runs",
             "", "| CTE | median s | min s |", "|---|---|---|"]
    lines += [f"| {name} | {statistics.median(s):.3f} | {min(s):.3f} |" for name, s in seconds.items()]
    text = "\n".join(lines)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
