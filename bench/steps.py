"""Benchmark steps that work on the warehouse file, each run in a process of its own by run_all.py.

A step in its own process lets run_all read that step's peak memory (os.wait4) and keeps the DuckDB file
free for the dbt processes in between. Every step reads its inputs from a JSON file and writes a JSON file:

    python bench/steps.py time     --db W --sql S.json --repeats 3 [--warmup] --out R.json   # interleaved
    python bench/steps.py pass     --db W --sql S.json --variant floor [--export E] --out R.json  # for memory
    python bench/steps.py holdback --db W --out R.json    # take the last day's load of production runs out
    python bench/steps.py append   --db W --out R.json    # load that day
    python bench/steps.py snapshot --db W --table T --as T2 --out R.json
    python bench/steps.py compare  --db W --left T --right T2 --out R.json

S.json is {"variants": {variant: {export: sql}}}. Each query is timed as `CREATE TEMP TABLE .. AS <sql>`,
which is what a table export costs (a view export costs the same on every read).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb

TOLERANCE = 1e-9  # relative; sums of doubles in another order differ in the last bits
# absolute, for values that are a small difference of large sums (a growth rate of 0.03%: the last bits of two
# sums of millions, divided by their difference): the same floor as the engine comparisons' (tests/engines.py)
ABSOLUTE_TOLERANCE = 1e-9


def connect(db: Path, memory_limit: str | None) -> duckdb.DuckDBPyConnection:
    config = {"memory_limit": memory_limit} if memory_limit else {}
    return duckdb.connect(str(db), config=config)


def temp_name(variant: str, export: str) -> str:
    return f"bench__{variant}__{export}"


def run_query(con: duckdb.DuckDBPyConnection, name: str, sql: str) -> float:
    started = time.perf_counter()
    con.execute(f'create or replace temp table "{name}" as {sql}')
    return time.perf_counter() - started


def scans(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, int]:
    """Base tables read by the physical plan, with how many times each is scanned."""
    plan = json.loads(con.execute(f"explain (format json) {sql}").fetchall()[0][1])
    found: Counter[str] = Counter()

    def walk(node: dict[str, Any]) -> None:
        info = node.get("extra_info") or {}
        if "SCAN" in str(node.get("name", "")) and isinstance(info, dict) and info.get("Table"):
            found[str(info["Table"]).split(".")[-2] + "." + str(info["Table"]).split(".")[-1]] += 1
        for child in node.get("children", []):
            walk(child)

    for root in plan if isinstance(plan, list) else [plan]:
        walk(root)
    return dict(sorted(found.items()))


def columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    rows = con.execute(f'select column_name, column_type from (describe "{table}")').fetchall()
    return [(str(n), str(t)) for n, t in rows]


def is_key(name: str) -> bool:
    """Group-by columns: metric_time__<grain> and entity__dimension; metrics have no double underscore."""
    return name.startswith("metric_time") or "__" in name


def compare(con: duckdb.DuckDBPyConnection, left: str, right: str) -> dict[str, Any]:
    """Rows of two tables matched on their group-by columns; metrics equal within TOLERANCE (relative)."""
    lcols, rcols = dict(columns(con, left)), dict(columns(con, right))
    common = [c for c in lcols if c in rcols]
    keys = [c for c in common if is_key(c)]
    metrics = [c for c in common if not is_key(c)]

    def side(table: str, types: dict[str, str]) -> str:
        parts = ["1 as __present"]
        for k in keys:
            kind = types[k].upper()
            value = f'cast("{k}" as date)' if kind.startswith(("DATE", "TIMESTAMP")) else f'"{k}"'
            parts.append(f'cast({value} as varchar) as "{k}"')
        parts += [f'cast("{m}" as double) as "{m}"' for m in metrics]
        return f'select {", ".join(parts)} from "{table}"'

    on = " and ".join(f'l."{k}" is not distinct from r."{k}"' for k in keys) or "true"
    same = [f'coalesce(l."{m}" = r."{m}" or abs(l."{m}" - r."{m}") <= {TOLERANCE} * greatest(abs(l."{m}"), '
            f'abs(r."{m}"), 1e-12), l."{m}" is null and r."{m}" is null)' for m in metrics]
    differing = [f'count(*) filter (where l.__present and r.__present and not ({s})) as "{m}"'
                 for m, s in zip(metrics, same)]
    sql = (f"with l as ({side(left, lcols)}), r as ({side(right, rcols)}) "
           f"select count(*) filter (where r.__present is null), count(*) filter (where l.__present is null)"
           f"{''.join(', ' + d for d in differing)} from l full join r on {on}")
    row = con.execute(sql).fetchone()
    assert row is not None
    left_rows = con.execute(f'select count(*) from "{left}"').fetchone()
    right_rows = con.execute(f'select count(*) from "{right}"').fetchone()
    differ = {m: int(v) for m, v in zip(metrics, row[2:]) if v}
    result = {
        "left_rows": int(left_rows[0]) if left_rows else 0, "right_rows": int(right_rows[0]) if right_rows else 0,
        "only_left": int(row[0]), "only_right": int(row[1]), "differing_values": differ,
        "columns_only_left": [c for c in lcols if c not in rcols],
        "columns_only_right": [c for c in rcols if c not in lcols],
    }
    result["same"] = (not result["only_left"] and not result["only_right"] and not differ
                      and result["left_rows"] == result["right_rows"]
                      and not result["columns_only_left"] and not result["columns_only_right"])
    return result


FLOATING = ("DOUBLE", "FLOAT", "REAL")


def compare_catalogs(con: duckdb.DuckDBPyConnection, left: str, right: str,
                     skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every relation of two attached catalogs (but those whose name starts with one of `skip`): the same
    relations, and in each the same rows. Rows are matched on their columns that are not floating-point (which
    must tell them apart), and floating-point values are equal within TOLERANCE (relative) or ABSOLUTE_TOLERANCE:
    a sum over the same rows stored in another order differs in the last bits. `bit_identical`: the same rows to
    the last bit."""

    def relations(catalog: str) -> set[tuple[str, str]]:
        rows = con.execute("select table_schema, table_name from information_schema.tables where table_catalog = ?",
                           [catalog]).fetchall()
        return {(str(s), str(n)) for s, n in rows if not str(n).startswith(skip)}

    ours, theirs = relations(left), relations(right)
    result: dict[str, Any] = {"only_left": sorted(".".join(x) for x in ours - theirs),
                              "only_right": sorted(".".join(x) for x in theirs - ours), "tables": {}, "differing": []}
    for schema, name in sorted(ours & theirs):
        typed = [(str(c), str(t).upper()) for c, t in con.execute(
            "select column_name, data_type from information_schema.columns where table_catalog = ? and "
            "table_schema = ? and table_name = ? order by ordinal_position", [right, schema, name]).fetchall()]
        keys = [f'"{c}"' for c, t in typed if not t.startswith(FLOATING)]
        values = [f'"{c}"' for c, t in typed if t.startswith(FLOATING)]
        listed = ", ".join(keys + values)  # by name: the column order may differ
        a, b = f'{left}."{schema}"."{name}"', f'{right}."{schema}"."{name}"'
        row = con.execute(
            f"select (select count(*) from {a}), (select count(*) from {b}), (select count(*) from (select {listed} "
            f"from {a} except all select {listed} from {b}))").fetchone()
        assert row is not None
        entry: dict[str, Any] = {"rows": row[0], "right_rows": row[1], "bit_identical": row[0] == row[1] and not row[2],
                                 "differing_rows": 0}
        if not entry["bit_identical"]:
            entry["differing_rows"] = _differing_rows(con, a, b, keys, values, row[2])
        result["tables"][f"{schema}.{name}"] = entry
        if entry["differing_rows"] or row[0] != row[1]:
            result["differing"].append(f"{schema}.{name}")
    result["same"] = not (result["differing"] or result["only_left"] or result["only_right"])
    return result


def _differing_rows(con: duckdb.DuckDBPyConnection, a: str, b: str, keys: list[str], values: list[str],
                    exact: int) -> int:
    """Rows of `a` and `b` that differ beyond TOLERANCE, matched on `keys` (`exact`, the rows of `a` not in `b`
    to the last bit, when the keys do not tell rows apart or there is nothing to tolerate)."""
    if not values or not keys:
        return exact
    grouped = ", ".join(keys)
    for side in (a, b):
        repeated = con.execute(f"select count(*) from (select {grouped} from {side} group by {grouped} "
                               "having count(*) > 1)").fetchone()
        if repeated is None or repeated[0]:
            return exact
    on = " and ".join(f"l.{k} is not distinct from r.{k}" for k in keys)
    same = " and ".join(f"coalesce(l.{v} = r.{v} or abs(l.{v} - r.{v}) <= greatest({TOLERANCE} * greatest(abs(l.{v}), "
                        f"abs(r.{v})), {ABSOLUTE_TOLERANCE}), l.{v} is null and r.{v} is null)" for v in values)
    row = con.execute(f"select count(*) from (select *, 1 as __l from {a}) l full join (select *, 1 as __r from {b}) "
                      f"r on {on} where l.__l is null or r.__r is null or not ({same})").fetchone()
    return int(row[0]) if row else exact


# --- steps ---------------------------------------------------------------------------------------------
def step_time(args: argparse.Namespace) -> dict[str, Any]:
    """Every export in every variant, `repeats` times, variants interleaved; then compare with metricsctl."""
    variants: dict[str, dict[str, str]] = json.loads(Path(args.sql).read_text())["variants"]
    names = list(variants)
    exports = sorted({e for v in variants.values() for e in v})
    con = connect(args.db, args.memory_limit)
    seconds: dict[str, dict[str, list[float]]] = {e: {v: [] for v in names if e in variants[v]} for e in exports}
    errors: dict[str, dict[str, str]] = {}
    for export in exports if args.warmup else ():  # untimed: the first query of a file pays for reading it in
        first = next(v for v in names if export in variants[v])
        try:
            run_query(con, temp_name(first, export), variants[first][export])
        except duckdb.Error:
            pass  # reported by the timed runs
    for repeat in range(args.repeats):
        for export in exports:
            order = names[repeat % len(names):] + names[:repeat % len(names)]  # nobody always runs first
            for variant in order:
                sql = variants[variant].get(export)
                if sql is None or variant in errors.get(export, {}):
                    continue
                try:
                    seconds[export][variant].append(run_query(con, temp_name(variant, export), sql))
                except duckdb.Error as exc:
                    errors.setdefault(export, {})[variant] = str(exc).splitlines()[0]
                    seconds[export].pop(variant, None)
    result: dict[str, Any] = {"exports": {}, "errors": errors}
    for export in exports:
        entry: dict[str, Any] = {"seconds": seconds[export], "median": {}, "min": {}, "rows": {}, "scans": {},
                                 "same_as_metricsctl": {}}
        for variant, values in seconds[export].items():
            entry["median"][variant] = statistics.median(values)
            entry["min"][variant] = min(values)
            count = con.execute(f'select count(*) from "{temp_name(variant, export)}"').fetchone()
            entry["rows"][variant] = int(count[0]) if count else 0
            entry["scans"][variant] = scans(con, variants[variant][export])
        if "metricsctl" in seconds[export]:
            for variant in seconds[export]:
                if variant != "metricsctl":
                    entry["same_as_metricsctl"][variant] = compare(
                        con, temp_name("metricsctl", export), temp_name(variant, export))
        result["exports"][export] = entry
    con.close()
    return result


def step_pass(args: argparse.Namespace) -> dict[str, Any]:
    """One pass over every export of one variant: this process's peak memory is that variant's."""
    queries: dict[str, str] = json.loads(Path(args.sql).read_text())["variants"][args.variant]
    if args.export:
        queries = {args.export: queries[args.export]}
    con = connect(args.db, args.memory_limit)
    seconds = {}
    for export, sql in sorted(queries.items()):
        try:
            seconds[export] = run_query(con, temp_name(args.variant, export), sql)
        except duckdb.Error as exc:
            seconds[export] = float("nan")
            print(f"{args.variant} {export}: {exc}", file=sys.stderr)
    con.close()
    return {"variant": args.variant, "seconds": seconds}


def last_run_day(con: duckdb.DuckDBPyConnection) -> str:
    row = con.execute("select max(run_date) from raw.production_runs").fetchone()
    assert row is not None
    return str(row[0])


def step_holdback(args: argparse.Namespace) -> dict[str, Any]:
    """Take out of raw.production_runs every row loaded after the last run day (kept in raw.bench_held_back).

    The next load, the morning after the last run day, brings that day's runs and the late uploads of
    earlier days that happen to land on the same morning; later loads are left out of both builds.
    """
    con = connect(args.db, args.memory_limit)
    last = last_run_day(con)
    con.execute("create or replace table raw.bench_held_back as select * from raw.production_runs "
                f"where cast(loaded_at as date) > date '{last}'")
    con.execute(f"delete from raw.production_runs where cast(loaded_at as date) > date '{last}'")
    held = con.execute("select count(*) from raw.bench_held_back").fetchone()
    kept = con.execute("select count(*) from raw.production_runs").fetchone()
    con.close()
    return {"last_run_day": last, "held_back": held[0] if held else 0, "kept": kept[0] if kept else 0}


def step_append(args: argparse.Namespace) -> dict[str, Any]:
    """Load one day: the held-back rows loaded on the morning after the last run day."""
    con = connect(args.db, args.memory_limit)
    row = con.execute("select min(cast(loaded_at as date)) from raw.bench_held_back").fetchone()
    assert row is not None
    day = str(row[0])
    con.execute("insert into raw.production_runs select * from raw.bench_held_back "
                f"where cast(loaded_at as date) = date '{day}'")
    appended = con.execute("select count(*), count(distinct run_date), min(run_date), max(run_date) "
                           f"from raw.bench_held_back where cast(loaded_at as date) = date '{day}'").fetchone()
    con.close()
    assert appended is not None
    return {"load_day": day, "rows": appended[0], "run_days": appended[1], "first_run_day": str(appended[2]),
            "last_run_day": str(appended[3])}


def step_snapshot(args: argparse.Namespace) -> dict[str, Any]:
    con = connect(args.db, args.memory_limit)
    con.execute(f'create or replace table "{args.as_}" as select * from "{args.table}"')
    con.close()
    return {"table": args.as_}


def step_compare(args: argparse.Namespace) -> dict[str, Any]:
    con = connect(args.db, args.memory_limit)
    result = compare(con, args.left, args.right)
    identical = con.execute(
        f'select (select count(*) from (select * from "{args.left}" except all select * from "{args.right}")) '
        f'+ (select count(*) from (select * from "{args.right}" except all select * from "{args.left}"))'
    ).fetchone()
    con.close()
    result["rows_not_bit_identical"] = int(identical[0]) if identical else -1
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    for name in ("time", "pass", "holdback", "append", "snapshot", "compare"):
        p = sub.add_parser(name)
        p.add_argument("--db", type=Path, required=True)
        p.add_argument("--out", type=Path, required=True)
        p.add_argument("--memory-limit", default=None)
        if name in ("time", "pass"):
            p.add_argument("--sql", type=Path, required=True)
        if name == "time":
            p.add_argument("--repeats", type=int, default=3)
            p.add_argument("--warmup", action="store_true",
                           help="run each export's first variant once, untimed, before the timed runs")
        if name == "pass":
            p.add_argument("--variant", required=True)
            p.add_argument("--export", default=None, help="only this export (default: all of them)")
        if name == "snapshot":
            p.add_argument("--table", required=True)
            p.add_argument("--as", dest="as_", required=True)
        if name == "compare":
            p.add_argument("--left", required=True)
            p.add_argument("--right", required=True)
    args = parser.parse_args()
    steps = {"time": step_time, "pass": step_pass, "holdback": step_holdback, "append": step_append,
             "snapshot": step_snapshot, "compare": step_compare}
    result = steps[args.step](args)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
