"""Daily sums beside a monthly export, against the export's own incremental SQL (BENCHMARKS.md, section 2).

Run `python bench/daily_incremental.py --scale 10m` at commit 772900d first (that code kept the measures of
`sales_by_month_and_store` by day in `sales_by_month_and_store_daily_sums` and rolled the months up from it). This
script then times, on a copy of the warehouse that run left, interleaved:

- the monthly export's SQL as the code before 772900d writes it (`--old-model`: its DuckDB branch, from
  `git show 772900d~1:models/metrics/sales_by_month_and_store.sql`), nightly (from 2025-05-01) and full;
- the daily sums' nightly and full SQL, and the export's nightly SQL reading them (dbt's compiled SQL, kept by the
  run in `export_sql.json`);

first on the tables as the staging models store them, then with `stg_orders` and `stg_order_lines` rewritten in
time order.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import time
from pathlib import Path

import duckdb

SUMS = "sales_by_month_and_store_daily_sums"
EXPORT = "sales_by_month_and_store"
NIGHTLY_SINCE = "2025-05-01"  # the export's own nightly bound in that run: June's start minus ten days, at May's start


def duckdb_branch(model: str) -> str:
    """The DuckDB branch of a generated model, with its `ref()`s as the compiled SQL names them and its bound."""
    branch = model.split("{% if target.type == 'duckdb' %}", 1)[1].split("{% elif target.type", 1)[0]
    sql = branch[branch.index("WITH "):]
    sql = re.sub(r"\{\{ ref\('(\w+)'\) \}\}", r'"warehouse"."main"."\1"', sql)
    return sql.replace("{{ metricsctl_since }}", NIGHTLY_SINCE)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/metricsctl-daily-10m"))
    parser.add_argument("--old-model", type=Path, required=True, help="the export's model before 772900d")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    copy = args.workdir / "trial.duckdb"
    shutil.copyfile(args.workdir / "project" / "warehouse.duckdb", copy)
    compiled = json.loads((args.workdir / "export_sql.json").read_text())["variants"]
    old = duckdb_branch(args.old_model.read_text())
    queries = {"monthly export as before: nightly": old,
               "monthly export as before: full": old.replace(NIGHTLY_SINCE, "1900-01-01"),
               "daily sums: nightly": compiled["nightly"][SUMS], "daily sums: full": compiled["full_refresh"][SUMS],
               "export from the daily sums: nightly": compiled["nightly"][EXPORT]}
    con = duckdb.connect()
    con.execute(f"ATTACH '{copy}' AS warehouse")
    con.execute("USE warehouse")

    def timed(sql: str) -> list[float]:
        seconds = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            con.execute("CREATE OR REPLACE TEMP TABLE timed AS " + sql)
            seconds.append(time.perf_counter() - start)
        return seconds

    print("| tables | query | median | fastest |\n|---|---|---|---|")
    for stored in ("as stored", "in time order"):
        if stored == "in time order":
            for table in ("stg_orders", "stg_order_lines"):
                con.execute(f"CREATE OR REPLACE TABLE main.{table} AS SELECT * FROM main.{table} ORDER BY ordered_at")
        for name, sql in queries.items():
            seconds = timed(sql)
            print(f"| {stored} | {name} | {statistics.median(seconds) * 1000:.1f} ms | {min(seconds) * 1000:.1f} ms |",
                  flush=True)
    con.close()
    copy.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
