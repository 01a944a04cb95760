"""A nightly `metricsctl build` after one day's load, against a full refresh: `python bench/daily_incremental.py`.

    python bench/daily_incremental.py --scale 10m [--repeats 5] [--workdir /tmp/metricsctl-daily-10m]

What it does, in a fresh folder:

1. copies the demo project and writes the raw tables at the scale into its warehouse (bench/datagen.py);
2. splits the large facts by load: the state before is every row loaded before the morning of the last
   day (LOAD_START); the day's load is every row loaded from then until the next morning (LOAD_END):
   that day's orders and, the morning after, its production runs, with the late rows of earlier days that
   land in between (orders 2-9 days late, runs 3-12); rows loaded later are left out of every build.
   Order lines and attributions go with their order; store traffic, campaign spend and inventory
   balances of the last day are that day's load, with the rows of one store, campaign or product in 50
   (its id a multiple of 50) for the five days before it, sent late;
3. `metricsctl build` of the state before (the first build: everything from scratch), then the day's
   load is appended and two builds are timed on the same data: the nightly `metricsctl build`, and
   `metricsctl build --full-refresh` (each in a process of its own, from the state before: the warehouse
   file is copied back in between, and written to disk before the build starts);
   A second nightly build follows the first with nothing loaded in between: what a nightly build costs
   before it reads any data (dbt's and Great Expectations' fixed costs, and the checks of whole tables);
   then `--builds` - 1 more pairs of a nightly build and a full refresh, interleaved, each from the state
   before: the ratio is of the medians (the first pair's are in `nightly` and `full_refresh`);
4. every table and view the two builds leave (the raw tables, staging, marts, exports, metric_values,
   scorecards) is compared row for row: the same rows, value for value (metricsctl's own run tables,
   expectation results and alert state, are left out: they record the run);
5. the SQL of each incremental export, as dbt compiled it in the nightly run (its bound a constant), is
   timed against its full-refresh SQL, interleaved, `--repeats` times, on the warehouse after the load;
   with them, the nightly SQL with its bounds moved past the data's end (`nothing`): it reads no row, so its
   time is what the engine spends on such a query before any data (planning, the scans' setup, writing the
   table), which no bound removes; and the nightly SQL with its bounds where a record of the last day the
   data reached would put them (`last_day_known`: that day minus the export's lookback, at the start of its
   period, where a monthly table tells only the latest month), with the query that would record that day
   (`recording`: the latest time in each source the SQL reads, from the same bound).

Seeds are not loaded (`--exclude resource_type:seed`): the raw tables are datagen's. Figures go to
bench/results/daily-<scale>.json and a Markdown summary to stdout.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import re
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from datagen import parse_count  # noqa: E402
from run_all import copy_project, dbt_env, machine, ratio, run_child  # noqa: E402
from steps import compare_catalogs  # noqa: E402

LAST_DAY = "2025-06-30"  # the last day of datagen's data
LOAD_START = "2025-06-30 06:30:00"  # the morning the day's load starts: the runs of the 29th have landed
LOAD_END = "2025-07-01 06:30:00"  # the next morning: the 30th's orders (that evening) and runs (06:15) are in
AS_OF = "2025-07-01"
EXCLUDE = ["--exclude", "resource_type:seed"]
OWN_TABLES = ("expectation_results", "metricsctl_")  # what a build records about itself

# (table, how a row's load is told): the load time of the row or of its order, or the row's own date
BY_LOAD_TIME = ("orders", "production_runs")
BY_ORDER = ("order_lines", "attributed_orders")
BY_DATE = {"store_traffic": ("traffic_date", "store_id"), "campaign_spend": ("spend_date", "campaign_id"),
           "inventory_balances": ("balance_date", "product_id")}
NO_DATA_SINCE = "2999-12-31"  # a first day to rebuild after every row of the data
LATE_DAYS, LATE_ONE_IN = 5, 50  # the rows of one id in 50, for the 5 days before the last, land with the day's load


def split_loads(db: Path) -> dict[str, Any]:
    """Keep the state before in raw.*, the day's load in raw.bench_load_*; drop what lands later."""
    import duckdb

    con = duckdb.connect(str(db))
    counts: dict[str, Any] = {}
    for table in BY_LOAD_TIME:
        loaded = "cast(loaded_at as timestamp)"
        con.execute(f"create or replace table raw.bench_load_{table} as select * from raw.{table} "
                    f"where {loaded} >= timestamp '{LOAD_START}' and {loaded} < timestamp '{LOAD_END}'")
        con.execute(f"delete from raw.{table} where {loaded} >= timestamp '{LOAD_START}'")
        late = con.execute(f"select count(*), count(*) filter (where cast(run_day as date) < date '{LAST_DAY}'), "
                           f"min(run_day) from (select {'ordered_at' if table == 'orders' else 'run_date'} as "
                           f"run_day from raw.bench_load_{table})").fetchone()
        assert late is not None
        counts[table] = {"rows": late[0], "late_rows": late[1], "earliest_day": str(late[2])}
    for table in BY_ORDER:
        con.execute(f"create or replace table raw.bench_load_{table} as select * from raw.{table} "
                    "where order_id in (select order_id from raw.bench_load_orders)")
        con.execute(f"delete from raw.{table} where order_id not in (select order_id from raw.orders)")
        row = con.execute(f"select count(*) from raw.bench_load_{table}").fetchone()
        counts[table] = {"rows": row[0] if row else 0}
    for table, (day, key) in BY_DATE.items():
        loaded = (f"(cast({day} as date) >= date '{LAST_DAY}' or (cast({day} as date) >= date '{LAST_DAY}' - "
                  f"{LATE_DAYS} and {key} % {LATE_ONE_IN} = 0))")
        con.execute(f"create or replace table raw.bench_load_{table} as select * from raw.{table} where {loaded}")
        con.execute(f"delete from raw.{table} where {loaded}")
        late = con.execute(f"select count(*), count(*) filter (where cast({day} as date) < date '{LAST_DAY}'), "
                           f"min({day}) from raw.bench_load_{table}").fetchone()
        assert late is not None
        counts[table] = {"rows": late[0], "late_rows": late[1], "earliest_day": str(late[2])}
    con.close()
    return counts


def append_load(db: Path) -> None:
    import duckdb

    con = duckdb.connect(str(db))
    for table in (*BY_LOAD_TIME, *BY_ORDER, *BY_DATE):
        con.execute(f"insert into raw.{table} select * from raw.bench_load_{table}")
        con.execute(f"drop table raw.bench_load_{table}")
    con.close()


def compare_warehouses(left: Path, right: Path) -> dict[str, Any]:
    """Every relation of the two files: the same relations, each with the same rows (steps.compare_catalogs)."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        con.execute(f"attach '{left}' as nightly (read_only)")
        con.execute(f"attach '{right}' as refreshed (read_only)")
        return compare_catalogs(con, "nightly", "refreshed", OWN_TABLES)
    finally:
        con.close()


def compiled_exports(project: Path, names: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in names:
        matches = glob.glob(str(project / "target" / "compiled" / "*" / "models" / "metrics" / f"{name}.sql"))
        if matches:
            text = Path(matches[0]).read_text()
            found[name] = "\n".join(line for line in text.splitlines() if not line.startswith("--")).strip()
    return found


def past_the_data(sql: str) -> str:
    """A nightly export's SQL with every first day to rebuild (the constants its sources' times are compared
    with, `>= CAST('2025-06-16' AS DATE)`) moved after the data's end: the same query, reading no row."""
    bounds = set(re.findall(r">= CAST\('(\d{4}-\d{2}-\d{2})' AS DATE\)", sql))
    if not bounds:
        raise SystemExit(f"no bound found in a nightly export's SQL:\n{sql[:2000]}")
    return re.sub("|".join(sorted(bounds)), NO_DATA_SINCE, sql)


def bounded_reads(sql: str) -> list[tuple[str, str, str]]:
    """(table, time column, bound) of each source a nightly export's SQL reads by a bound
    (`FROM <table> AS src ... src.<time> >= CAST('<day>' AS DATE)`)."""
    reads = sorted({(re.findall(r"FROM (\S+) AS src\b", sql[:bounded.start()])[-1], bounded.group(1), bounded.group(2))
                    for bounded in re.finditer(r"src\.(\w+) >= CAST\('(\d{4}-\d{2}-\d{2})' AS DATE\)", sql)})
    if not reads:
        raise SystemExit(f"no bounded read found in a nightly export's SQL:\n{sql[:2000]}")
    return reads


def recorded_day(db: Path, sql: str) -> str:
    """The day a record would hold: the latest day in the sources the export reads, as the last run left them
    (`db`, the state before the nightly build)."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{db}' AS warehouse (READ_ONLY)")  # the catalog the compiled SQL names
        query = " UNION ALL ".join(f"SELECT MAX(CAST({time} AS DATE)) FROM {table}"
                                   for table, time, _ in bounded_reads(sql))
        days = [row[0] for row in con.execute(query).fetchall() if row[0] is not None]
    finally:
        con.close()
    return max(days).isoformat()


def last_day_known(sql: str, model: str, day: str) -> str:
    """A nightly export's SQL with its bounds where a record of the last day its data reached at the last run
    (`day`) would put them: that day minus the export's lookback (as its model's bound query has it,
    attribution windows included), at the start of its period. The model itself reads only the start of the
    latest period holding data, minus the lookback."""
    found = re.search(r"DATE_TRUNC\('(\w+)', CAST\(MAX\(\w+\) AS TIMESTAMP\) - INTERVAL '(\d+)' DAY\)", model)
    if not found:
        raise SystemExit(f"no bound query found in an incremental export's model:\n{model[:2000]}")
    grain, days = found.group(1).lower(), int(found.group(2))
    first = datetime.date.fromisoformat(day) - datetime.timedelta(days=days)
    start = {"day": first, "week": first - datetime.timedelta(days=first.weekday()), "month": first.replace(day=1),
             "quarter": first.replace(month=(first.month - 1) // 3 * 3 + 1, day=1),
             "year": first.replace(month=1, day=1)}[grain]
    return re.sub("|".join(sorted({bound for _, _, bound in bounded_reads(sql)})), start.isoformat(), sql)


def recording(sql: str) -> str:
    """The query a record of an export's last day would run after it: the latest day in each source its
    nightly SQL reads, from the same bound."""
    return " UNION ALL ".join(f"SELECT MAX({time}) FROM {table} WHERE {time} >= CAST('{bound}' AS DATE)"
                              for table, time, bound in bounded_reads(sql))


def incremental_exports(project: Path) -> list[str]:
    names = []
    for path in sorted((project / "models" / "metrics").glob("*.sql")):
        if "materialized='incremental'" in path.read_text().split("\n", 2)[1]:
            names.append(path.stem)
    return names


def run_record(project: Path) -> dict[str, Any]:
    """Phase times and where dbt's time went, from target/metricsctl_run.json."""
    record = json.loads((project / "target" / "metricsctl_run.json").read_text())
    build = record.get("build", record)
    groups: dict[str, float] = {}
    top: list[tuple[str, float]] = []
    for node in build.get("nodes", []):
        uid, seconds = str(node["unique_id"]), float(node["seconds"])
        kind = uid.split(".")[0]
        name = uid.split(".")[-1] if kind != "test" else uid.split(".")[2]
        group = kind if kind != "model" else ("generated models" if _is_generated(project, name) else "models")
        groups[group] = groups.get(group, 0.0) + seconds
        top.append((name, seconds))
    top.sort(key=lambda x: -x[1])
    return {"success": build.get("success"), "seconds": build.get("seconds"), "phases": build.get("phases"),
            "node_seconds_by_kind": {k: round(v, 2) for k, v in groups.items()},
            "slowest_nodes": [(n, round(s, 2)) for n, s in top[:12]],
            "node_seconds": {n: round(s, 3) for n, s in top}}


def _is_generated(project: Path, name: str) -> bool:
    return (project / "models" / "metrics" / f"{name}.sql").exists()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="10m", help="order lines: 1m, 10m, 250k, ...")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each export's SQL")
    parser.add_argument("--builds", type=int, default=3,
                        help="nightly builds and full refreshes, each from the state before (median)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None,
                        help="results JSON (default bench/results/daily-<scale>.json)")
    args = parser.parse_args()

    lines = parse_count(args.scale)
    work = (args.workdir or Path(f"/tmp/metricsctl-daily-{args.scale.lower()}")).resolve()
    project, logs = work / "project", work / "logs"
    if work.exists():
        shutil.rmtree(work)
    logs.mkdir(parents=True)
    db = project / "warehouse.duckdb"
    before = work / "before.duckdb"
    py = sys.executable
    env = dbt_env(project)
    # `-m`, not `-c`: under `python -c` pyspark (imported by Great Expectations) takes the run for its doctests
    # and exits with 0 when pyarrow is missing
    metricsctl = [py, "-m", "metricsctl.cli"]
    results: dict[str, Any] = {"scale": args.scale, "order_lines": lines, "repeats": args.repeats,
                               "machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}

    def say(text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    def build(name: str, *extra: str) -> dict[str, Any]:
        # the files this script just copied reach the disk first: a build's own fsyncs (ext4 commits its journal
        # with every file's dirty pages) would otherwise wait for gigabytes the script wrote, not the build
        os.sync()
        child = run_child([*metricsctl, "build", "--project-dir", str(project), "--as-of", AS_OF, *EXCLUDE, *extra],
                          logs / f"{name}.log", cwd=project, env=env, check=False)
        if child.returncode != 0:
            raise SystemExit(f"{name}: metricsctl build failed ({child.returncode})\n{child.tail()}")
        return {"wall_seconds": round(child.seconds, 2), "peak_mb": round(child.peak_mb), **run_record(project)}

    say(f"project copy and raw data at {lines:,} order lines in {work}")
    copy_project(project, None)
    run_child([py, str(BENCH / "datagen.py"), "--order-lines", str(lines), "--db", str(db)], logs / "datagen.log")
    results["load"] = split_loads(db)
    say(f"the day's load: {json.dumps(results['load'])}")

    say("first build of the state before the load (everything from scratch)")
    results["first_build"] = build("first_build")
    shutil.copyfile(db, before)
    append_load(before)  # the state before, with the day's load landed in its raw tables

    say("nightly build after the day's load")
    shutil.copyfile(before, db)
    results["nightly"] = build("nightly")
    nightly_file = work / "nightly.duckdb"
    shutil.copyfile(db, nightly_file)
    exports = incremental_exports(project)
    nightly_sql = compiled_exports(project, exports)

    say("a second nightly build with nothing loaded since the first: what a nightly build costs before any data")
    results["idle_nightly"] = build("idle_nightly")

    say("full refresh after the day's load")
    shutil.copyfile(before, db)
    results["full_refresh"] = build("full_refresh", "--full-refresh")
    full_sql = compiled_exports(project, exports)

    walls = {"nightly": [results["nightly"]["wall_seconds"]], "full_refresh": [results["full_refresh"]["wall_seconds"]]}
    for run in range(2, args.builds + 1):  # interleaved, each from the state before, on the same machine
        for name, extra in (("nightly", ()), ("full_refresh", ("--full-refresh",))):
            say(f"{name.replace('_', ' ')} {run} of {args.builds}")
            shutil.copyfile(before, db)
            walls[name].append(build(f"{name}_{run}", *extra)["wall_seconds"])
    results["builds"] = {name: {"wall_seconds": w, "median": statistics.median(w)} for name, w in walls.items()}

    say("every relation: nightly vs full refresh")
    results["same"] = compare_warehouses(nightly_file, db)

    say(f"the SQL of {len(exports)} incremental exports, nightly vs full refresh, {args.repeats} runs each")
    sql_file = work / "export_sql.json"
    nothing_sql = {name: past_the_data(sql) for name, sql in nightly_sql.items()}
    known_sql = {name: last_day_known(sql, (project / "models" / "metrics" / f"{name}.sql").read_text(),
                                      recorded_day(before, sql)) for name, sql in nightly_sql.items()}
    recording_sql = {name: recording(sql) for name, sql in known_sql.items()}
    sql_file.write_text(json.dumps({"variants": {"nightly": nightly_sql, "full_refresh": full_sql,
                                                 "nothing": nothing_sql, "last_day_known": known_sql,
                                                 "recording": recording_sql}}, indent=2))
    timed_file = work / "export_timed.json"
    run_child([py, str(BENCH / "steps.py"), "time", "--db", str(db), "--sql", str(sql_file), "--repeats",
               str(args.repeats), "--warmup", "--out", str(timed_file)], logs / "export_time.log")
    timed = json.loads(timed_file.read_text())
    results["export_sql"] = {e: {"median": x["median"], "min": x["min"], "rows": x["rows"]}
                             for e, x in timed["exports"].items()}
    results["export_sql_errors"] = timed.get("errors")

    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    results["machine"]["load_average_end"] = os.getloadavg()
    out = args.out or (BENCH / "results" / f"daily-{args.scale.lower()}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    say(f"results in {out}")
    print(summary(results))
    return 0


def summary(r: dict[str, Any]) -> str:
    m = r["machine"]
    load = []
    for table, v in r["load"].items():
        late = f" ({v['late_rows']:,} late, from {v['earliest_day']})" if "late_rows" in v else ""
        load.append(f"{table} {v['rows']:,}{late}")
    out = [f"## Nightly build at {r['scale']} order lines ({r['order_lines']:,})",
           f"Load average {', '.join(f'{x:.1f}' for x in m['load_average'])} at start, "
           f"{', '.join(f'{x:.1f}' for x in m.get('load_average_end', []))} at end; commit {m.get('commit')} "
           f"({m.get('uncommitted_files')} uncommitted files).",
           "\nThe day's load: " + ", ".join(load)]
    nightly, full, first = r["nightly"], r["full_refresh"], r["first_build"]
    out.append("\n| | nightly build | full refresh | full / nightly |")
    out.append("|---|---|---|---|")
    builds = r.get("builds")
    if builds:
        a, b = builds["nightly"], builds["full_refresh"]
        out.append(f"| `metricsctl build`, wall (a process), median of {len(a['wall_seconds'])} interleaved | "
                   f"{a['median']:.1f} s ({', '.join(f'{x:.1f}' for x in a['wall_seconds'])}) | "
                   f"{b['median']:.1f} s ({', '.join(f'{x:.1f}' for x in b['wall_seconds'])}) | "
                   f"**{ratio(b['median'], a['median']):.1f}x** |")
    wall = ratio(full["wall_seconds"], nightly["wall_seconds"])
    out.append(f"| `metricsctl build`, wall (a process){', the first' if builds else ''} | "
               f"{nightly['wall_seconds']:.1f} s | {full['wall_seconds']:.1f} s | **{wall:.1f}x** |")
    for phase in full.get("phases") or {}:
        a, b = (nightly.get("phases") or {}).get(phase, 0.0), full["phases"][phase]
        out.append(f"| phase: {phase} | {a:.1f} s | {b:.1f} s | {ratio(b, a):.1f}x |")
    for kind in sorted(full["node_seconds_by_kind"]):
        a, b = nightly["node_seconds_by_kind"].get(kind, 0.0), full["node_seconds_by_kind"][kind]
        out.append(f"| dbt nodes: {kind} (sum) | {a:.1f} s | {b:.1f} s | {ratio(b, a):.1f}x |")
    out.append(f"\nFirst build (before the load, from scratch): {first['wall_seconds']:.1f} s.")
    idle = r.get("idle_nightly")
    if idle:
        out.append(f"A nightly build with nothing loaded since the last: {idle['wall_seconds']:.1f} s (phases "
                   + ", ".join(f"{k} {v:.1f} s" for k, v in (idle.get("phases") or {}).items())
                   + f"); slowest nodes {idle['slowest_nodes'][:6]}.")
    out.append(f"Slowest nodes, nightly: {nightly['slowest_nodes']}")
    out.append(f"Slowest nodes, full refresh: {full['slowest_nodes']}")
    same = r["same"]
    problems = [f"differing: {', '.join(same['differing'])}"] if same["differing"] else []
    only = same["only_left"] + same["only_right"]
    problems += [f"only in one: {', '.join(only)}"] if only else []
    exact = sum(1 for t in same["tables"].values() if t["bit_identical"])
    out.append(f"\nSame rows in every relation: {'yes' if same['same'] else 'NO'} ({len(same['tables'])} "
               f"relations, {exact} of them to the last bit; floating-point values within 1e-9 relative"
               f"{'; ' + '; '.join(problems) if problems else ''}).")
    out.append("\n| incremental export | nightly SQL | full-refresh SQL | ratio (median) | rows | the nightly SQL "
               "reading nothing | ratio above that | the data's last day known: SQL | ratio | rows | recording "
               "that day |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for export, x in sorted(r["export_sql"].items()):
        med, low, rows = x["median"], x["min"], x["rows"]
        nightly_s, full_s, none_s = (med.get(v, 0.0) for v in ("nightly", "full_refresh", "nothing"))
        above = ratio(full_s - none_s, nightly_s - none_s) if none_s else 0.0
        out.append(f"| {export} | {nightly_s:.3f} s ({low.get('nightly', 0):.3f}) | "
                   f"{full_s:.3f} s ({low.get('full_refresh', 0):.3f}) | "
                   f"**{ratio(full_s, nightly_s):.1f}x** | "
                   f"{rows.get('nightly', 0):,} / {rows.get('full_refresh', 0):,} | "
                   + (f"{none_s:.3f} s ({low.get('nothing', 0):.3f}) | {above:.1f}x |" if none_s else "- | - |")
                   + (f" {med['last_day_known']:.3f} s | {ratio(full_s, med['last_day_known']):.1f}x | "
                      f"{rows.get('last_day_known', 0):,} | {med.get('recording', 0.0):.4f} s |"
                      if med.get("last_day_known") else " - | - | - | - |"))
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
