"""The demo at scale on DuckDB, PostgreSQL and Spark: the same raw data, the same project, one full build each.

    python bench/engines_bench.py --order-lines 1m --engines duckdb,postgres,spark

`bench/datagen.py` writes the raw tables once (DuckDB); they are loaded as they are into a throwaway
PostgreSQL server (COPY) and a local Spark warehouse (Parquet), then each engine runs
`dbt build --exclude resource_type:seed` on its own copy of the project: staging, marts, their tests and
every generated model (the 7 exports, metric_values, metric_attainment, scorecards, metric_catalog).
Reported: the whole build's wall time and each export's node time, from dbt's run_results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "tests"))
from datagen import parse_count  # noqa: E402
from run_all import copy_project, run_child  # noqa: E402

# DuckDB column types -> PostgreSQL's
PG_TYPES = {"VARCHAR": "text", "DOUBLE": "double precision", "FLOAT": "real", "BIGINT": "bigint",
            "INTEGER": "integer", "DATE": "date", "TIMESTAMP": "timestamp", "BOOLEAN": "boolean",
            "HUGEINT": "numeric", "SMALLINT": "smallint", "TINYINT": "smallint"}

SPARK_LOADER = """
import sys
from pyspark.sql import SparkSession
warehouse, folder = sys.argv[1], sys.argv[2]
spark = (SparkSession.builder.master("local[2]").enableHiveSupport()
         .config("spark.sql.warehouse.dir", warehouse).config("spark.ui.enabled", "false")
         .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse}").getOrCreate())
spark.sql("create database if not exists raw")
for name in sys.argv[3:]:
    spark.sql(f"drop table if exists raw.{name}")
    spark.sql(f"create table raw.{name} using parquet as select * from parquet.`{folder}/{name}.parquet`")
spark.stop()
"""


def raw_tables(db: Path) -> dict[str, list[tuple[str, str]]]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [r[0] for r in con.execute("select table_name from information_schema.tables "
                                           "where table_schema = 'raw' order by 1").fetchall()]
        return {n: [(c, t) for c, t, *_ in con.execute(f"describe raw.{n}").fetchall()] for n in names}
    finally:
        con.close()


def load_postgres(db: Path, env: dict[str, str], work: Path) -> float:
    import duckdb
    import psycopg2

    started = time.perf_counter()
    tables = raw_tables(db)
    con = duckdb.connect(str(db), read_only=True)
    pg = psycopg2.connect(host=env["METRICSCTL_PG_HOST"], port=int(env["METRICSCTL_PG_PORT"]),
                          user=env["METRICSCTL_PG_USER"], dbname=env["METRICSCTL_PG_DATABASE"])
    pg.autocommit = True
    with pg.cursor() as cursor:
        cursor.execute("create schema if not exists raw")
        for name, columns in tables.items():
            csv = work / f"{name}.csv"
            con.execute(f"copy raw.{name} to '{csv}' (header false)")
            definition = ", ".join(f'"{c}" {PG_TYPES.get(t.split("(")[0], "text")}' for c, t in columns)
            cursor.execute(f'drop table if exists raw."{name}"; create table raw."{name}" ({definition})')
            with csv.open() as handle:
                cursor.copy_expert(f'copy raw."{name}" from stdin with (format csv)', handle)
            csv.unlink()
    pg.close()
    con.close()
    return time.perf_counter() - started


def load_spark(db: Path, warehouse: Path, work: Path) -> float:
    import duckdb

    started = time.perf_counter()
    tables = raw_tables(db)
    con = duckdb.connect(str(db), read_only=True)
    folder = work / "parquet"
    folder.mkdir(exist_ok=True)
    for name in tables:
        con.execute(f"copy raw.{name} to '{folder / name}.parquet' (format parquet)")
    con.close()
    subprocess.run([sys.executable, "-c", SPARK_LOADER, str(warehouse), str(folder), *tables], check=True,
                   env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}, capture_output=True)
    return time.perf_counter() - started


def export_names(project: Path) -> list[str]:
    """The generated models that are saved-query exports (their first line names the saved query)."""
    return sorted(p.stem for p in (project / "models" / "metrics").glob("*.sql")
                  if "saved query" in p.read_text().splitlines()[0])


# a node's line in dbt's log: "12 of 158 OK created sql table model main.metric_values .... [OK in 91.39s]"
NODE_LINE = re.compile(r"\d+ of \d+ (OK|ERROR) .*? model [\w.]*?(\w+)\s+\.*\s*\[.*? in ([\d.]+)s\]")
STARTED = re.compile(r"\d+ of \d+ START .*? model [\w.]*?(\w+)\s+\.*\s*\[RUN\]")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
DONE = re.compile(r"^(\d\d):(\d\d):(\d\d)  \d+ of \d+ (?!START)\S+ .*? ([\w.]*?)(\w+)\s+\.*\s*\[")
METRIC_VALUES_AND_AFTER = ("metric_values", "metric_attainment", "scorecards", "metric_catalog")


def logged_models(log: Path) -> tuple[dict[str, tuple[str, float]], list[str]]:
    """Each finished model's status and seconds, and the models still running, from dbt's log (its
    run_results.json is written only when the build ends)."""
    finished: dict[str, tuple[str, float]] = {}
    started: list[str] = []
    for line in ANSI.sub("", log.read_text(errors="replace")).splitlines():
        if match := NODE_LINE.search(line):
            finished[match.group(2)] = (match.group(1), float(match.group(3)))
        elif match := STARTED.search(line):
            started.append(match.group(1))
    return finished, [name for name in started if name not in finished]


def seconds_before_metric_values(log: Path) -> float | None:
    """From dbt's first line to the last node that is not metric_values or built from it: staging, marts,
    their tests and the exports, the part of a build a BI tool waits for."""
    def clock(h: str, m: str, s: str) -> int:
        return int(h) * 3600 + int(m) * 60 + int(s)

    lines = ANSI.sub("", log.read_text(errors="replace")).splitlines()
    first = next((clock(*line[:8].split(":")) for line in lines if re.match(r"\d\d:\d\d:\d\d ", line)), None)
    ends = [clock(*match.group(1, 2, 3)) for line in lines if (match := DONE.match(line))
            and match.group(5) not in METRIC_VALUES_AND_AFTER]
    return float((max(ends) - first) % 86400) if first is not None and ends else None


def build(engine: str, project: Path, logs: Path, env: dict[str, str], limit_minutes: float | None) -> dict[str, Any]:
    dbt = str(Path(sys.executable).parent / "dbt")
    target = [] if engine == "duckdb" else ["--target", engine]
    log = logs / f"build_{engine}.log"
    results_file = project / "target" / "run_results.json"
    results_file.unlink(missing_ok=True)
    started = time.perf_counter()
    with open(log, "w") as out:  # a failed node is a result too: keep the others
        proc = subprocess.Popen([dbt, "build", "--exclude", "resource_type:seed", *target], stdout=out,
                                stderr=subprocess.STDOUT, cwd=project, env=env, start_new_session=True)
        try:
            returncode: int | None = proc.wait(timeout=limit_minutes * 60 if limit_minutes else None)
        except subprocess.TimeoutExpired:  # stop dbt and the engine process it started (Spark's JVM)
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            returncode = None
    seconds = time.perf_counter() - started
    exports = export_names(project)
    logged, running = logged_models(log)
    if returncode is not None and results_file.is_file():
        results = json.loads(results_file.read_text())["results"]
        failed = [r["unique_id"] for r in results if r["status"] not in ("success", "pass")
                  and not r["unique_id"].startswith("saved_query.")]  # saved queries are no-op nodes in dbt Core
        nodes = {r["unique_id"].split(".")[-1]: round(float(r["execution_time"]), 2) for r in results
                 if r["unique_id"].startswith("model.")}
    else:  # stopped at the limit: what finished, from the log; a node still running has no time
        failed = [name for name, (status, _) in logged.items() if status in ("ERROR", "FAIL")]
        nodes = {name: round(s, 2) for name, (status, s) in logged.items() if status == "OK"}
    return {"seconds": round(seconds, 1), "returncode": returncode,
            "stopped_after_minutes": limit_minutes if returncode is None else None, "failed": failed,
            "exports": {e: nodes.get(e) for e in exports},
            "exports_seconds": round(sum(nodes.get(e) or 0 for e in exports), 2),
            "standard_tables": {m: nodes.get(m) for m in ("metric_values", "metric_attainment", "scorecards")},
            "running_when_stopped": running if returncode is None else [],
            "seconds_before_metric_values": seconds_before_metric_values(log)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--order-lines", default="1m")
    parser.add_argument("--engines", default="duckdb,postgres,spark")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "metricsctl-bench-engines")
    parser.add_argument("--limit-minutes", type=float, default=None,
                        help="stop an engine's build after this long and report the nodes that finished")
    parser.add_argument("--out", type=Path, default=None, help="results JSON (default bench/results/engines_<n>.json)")
    args = parser.parse_args()
    lines = parse_count(args.order_lines)
    engines = args.engines.split(",")
    work = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    (work / "logs").mkdir(parents=True)
    logs = work / "logs"
    (work / "source").mkdir()
    raw = work / "source" / "warehouse.duckdb"  # the catalog name the duckdb target's views expect
    started = time.perf_counter()
    run_child([sys.executable, str(BENCH / "datagen.py"), "--order-lines", str(lines), "--db", str(raw)],
              logs / "datagen.log")
    results: dict[str, Any] = {"order_lines": lines, "datagen_seconds": round(time.perf_counter() - started, 1),
                               "started": time.strftime("%Y-%m-%d %H:%M:%S"), "engines": {}}
    server = None
    try:
        for engine in engines:
            project = work / engine
            copy_project(project, None)
            env = {**os.environ, "METRICSCTL_PROJECT_DIR": str(project), "DBT_PROFILES_DIR": str(project),
                   "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
            if engine == "duckdb":
                shutil.copy(raw, project / "warehouse.duckdb")
                load = 0.0
            elif engine == "postgres":
                from engines import PostgresServer

                server = PostgresServer(Path(tempfile.mkdtemp(prefix="metricsctl-bench-pg-")))
                env.update(server.start().env("metricsctl"))
                load = load_postgres(raw, env, work)
            else:
                warehouse = work / "spark-warehouse"
                env.update({"METRICSCTL_SPARK_WAREHOUSE": str(warehouse), "SPARK_LOCAL_IP": "127.0.0.1"})
                load = load_spark(raw, warehouse, work)
            print(f"[{time.strftime('%H:%M:%S')}] {engine}: raw data loaded in {load:.1f} s; building",
                  file=sys.stderr, flush=True)
            measured = build(engine, project, logs, env, args.limit_minutes)
            results["engines"][engine] = {"load_seconds": round(load, 1), **measured}
            print(json.dumps(results["engines"][engine]), file=sys.stderr, flush=True)
    finally:
        if server is not None:
            server.stop()
            shutil.rmtree(server.folder, ignore_errors=True)
    out = args.out or BENCH / "results" / f"engines_{args.order_lines}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
