"""Every benchmark of the demo company at one scale, in one run: `python bench/run_all.py --scale 1m`.

    python bench/run_all.py --scale 1m  --mf /path/to/metricflow-venv/bin/mf
    python bench/run_all.py --scale 10m --mf /path/to/metricflow-venv/bin/mf
    python bench/run_all.py --scale 1m  --skip-compile          # without the 1,000-metric compile benchmark

What it does, in a fresh folder (default /tmp/metricsctl-bench-<scale>):

1. copies the demo project (dbt_project.yml, profiles.yml, models/, metrics/, macros/, seeds/) and writes
   the raw tables at the scale straight into the warehouse's `raw` schema (bench/datagen.py);
2. `metricsctl compile`, then `dbt build --exclude resource_type:seed` of the staging and mart models with
   their tests, then of the export models (generated models that are not exports are left out);
3. times each export three ways on the same DuckDB file, interleaved, `--repeats` times: metricsctl's
   compiled SQL (dbt's target/compiled), the hand-written floor (bench/floor/<export>.sql) and, with
   --mf, MetricFlow's SQL for the same saved query (`mf query --saved-query X --explain`); checks that
   the floor and MetricFlow give metricsctl's rows and counts the base-table scans in each plan;
4. each export of each variant once more, alone in a process, for its peak memory;
5. the incremental export (factory_kpis_by_line_and_day): holds back the last day's load of production
   runs, builds, appends that day, times the incremental run against a full refresh (dbt, and the SQL
   alone) and checks the two tables are identical;
6. bench/compile_bench.py (1,000 metrics, 200 saved queries), unless --skip-compile.

Figures go to bench/results/<scale>.json and a summary in Markdown to stdout. MetricFlow stays outside:
it runs from its own virtual environment through its `mf` executable and is never imported here.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "models", "metrics", "macros", "seeds")
INCREMENTAL_EXPORT = "factory_kpis_by_line_and_day"
INCREMENTAL_STAGING = "stg_production_runs"
VARIANTS = ("metricsctl", "floor", "metricflow")

sys.path.insert(0, str(BENCH))
from datagen import parse_count  # noqa: E402


@dataclass
class Child:
    command: list[str]
    seconds: float
    peak_mb: float
    returncode: int
    log: Path

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def run_child(command: list[str], log: Path, cwd: Path | None = None, env: dict[str, str] | None = None,
              check: bool = True) -> Child:
    """Run a process to its end; its wall time and peak resident memory (ru_maxrss of that child only)."""
    started = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    child = Child(command, time.perf_counter() - started, usage.ru_maxrss / 1024, proc.returncode, log)
    if check and child.returncode != 0:
        raise SystemExit(f"failed ({child.returncode}): {' '.join(command)}\n{child.tail()}")
    return child


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), 0)
    versions = {}
    for module in ("duckdb", "sqlglot", "dbt.version"):
        try:
            mod = __import__(module, fromlist=["__version__"])
            versions[module.split(".")[0]] = str(getattr(mod, "__version__", getattr(mod, "installed", "")))
        except ImportError:
            pass
    git = ["git", "-C", str(ROOT)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    changed = subprocess.run([*git, "status", "--porcelain", "--", "metricsctl", "metrics", "models"],
                             capture_output=True, text=True).stdout.splitlines()
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem / 1024 / 1024, 1),
            "python": platform.python_version(), "platform": platform.platform(), **versions,
            "commit": commit, "uncommitted_files": len(changed), "load_average": os.getloadavg()}


def copy_project(target: Path, memory_limit: str | None, source: Path = ROOT) -> None:
    """The dbt project at `source` (the demo by default) without its warehouse, target/ or logs."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in PROJECT_FILES:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, target / name)
        elif path.exists():
            shutil.copy2(path, target / name)
    if memory_limit:  # dbt-duckdb passes `settings` to DuckDB
        profile = (target / "profiles.yml").read_text()
        profile = profile.replace("      threads: 2", f"      threads: 2\n      settings:\n        memory_limit: "
                                  f"'{memory_limit}'")
        (target / "profiles.yml").write_text(profile)


def dbt_env(project: Path) -> dict[str, str]:
    return {**os.environ, "METRICSCTL_PROJECT_DIR": str(project), "DBT_PROFILES_DIR": str(project),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}


def node_times(project: Path, top: int = 12) -> list[tuple[str, float]]:
    results = json.loads((project / "target" / "run_results.json").read_text())["results"]
    rows = sorted(((r["unique_id"], float(r["execution_time"])) for r in results), key=lambda x: -x[1])
    return [(uid.split(".", 2)[-1], round(sec, 2)) for uid, sec in rows[:top]]


def node_time(project: Path, name: str) -> float:
    """The model's execution time (a saved query of the same name is a no-op node of its own)."""
    results = json.loads((project / "target" / "run_results.json").read_text())["results"]
    return next(float(r["execution_time"]) for r in results
                if r["unique_id"].startswith("model.") and r["unique_id"].endswith(f".{name}"))


def compiled_sql(project: Path, model: str) -> str:
    matches = glob.glob(str(project / "target" / "compiled" / "*" / "models" / "metrics" / f"{model}.sql"))
    if not matches:
        raise SystemExit(f"no compiled SQL for {model} under {project / 'target' / 'compiled'}")
    text = Path(matches[0]).read_text()
    return "\n".join(line for line in text.splitlines() if not line.startswith("--")).strip()


def saved_queries(project: Path) -> dict[str, list[str]]:
    """saved query -> its export names, from dbt's semantic manifest."""
    manifest = json.loads((project / "target" / "semantic_manifest.json").read_text())
    return {sq["name"]: [e["name"] for e in sq.get("exports") or []] for sq in manifest.get("saved_queries", [])}


def metricflow_sql(mf: Path, work: Path, names: list[str], logs: Path,
                   source: Path = ROOT) -> tuple[dict[str, str], dict[str, float]]:
    """`mf query --saved-query X --explain` for each saved query, on a copy of the project without data."""
    project = work / "mf" / "project"
    copy_project(project, None, source)
    env = dbt_env(project)
    run_child([str(mf.parent / "dbt"), "parse", "--quiet"], logs / "mf_dbt_parse.log", cwd=project, env=env)
    sql: dict[str, str] = {}
    seconds: dict[str, float] = {}
    for name in names:
        child = run_child([str(mf), "query", "--saved-query", name, "--explain"], logs / f"mf_{name}.log",
                          cwd=project, env=env, check=False)
        seconds[name] = child.seconds
        text = child.log.read_text(errors="replace")
        marker = text.find("🔎 SQL")
        if child.returncode != 0 or marker < 0:
            print(f"  MetricFlow could not explain {name}:\n{child.tail(8)}", file=sys.stderr)
            continue
        body = text[marker:].split("\n", 1)[1]
        sql[name] = re.sub(r"\x1b\[[0-9;]*m", "", body).strip()
    return sql, seconds


def fresh_workdir(work: Path, mf: Path | None) -> tuple[Path, Path | None]:
    """Empty `work` and make its logs folder; return that folder and MetricFlow's `mf` if it exists (a
    warning, and None, when one was given and is missing: the MetricFlow columns are skipped)."""
    if work.exists():
        shutil.rmtree(work)
    logs = work / "logs"
    logs.mkdir(parents=True)
    if mf is not None and not mf.exists():
        print(f"MetricFlow not found at {mf}: its columns are skipped", file=sys.stderr)
        return logs, None
    return logs, mf


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


# --- the run -------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="1m", help="order lines: 1m, 10m, 250k, ... (other facts in proportion)")
    parser.add_argument("--mf", type=Path, default=None, help="MetricFlow's `mf` executable (its venv); "
                        "without it the MetricFlow columns are skipped")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each query (median and min reported)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--memory-limit", default=None, help="DuckDB memory_limit for every step (e.g. 1.5GB); "
                        "default: DuckDB's own (80 %% of RAM)")
    parser.add_argument("--skip-compile", action="store_true", help="skip the 1,000-metric compile benchmark")
    parser.add_argument("--out", type=Path, default=None, help="results JSON (default bench/results/<scale>.json)")
    args = parser.parse_args()

    lines = parse_count(args.scale)
    label = args.scale.lower() + (f"-mem{args.memory_limit}" if args.memory_limit else "")
    work = (args.workdir or Path(f"/tmp/metricsctl-bench-{label}")).resolve()
    project = work / "project"
    logs, mf = fresh_workdir(work, args.mf)
    db = project / "warehouse.duckdb"
    py = sys.executable
    results: dict[str, Any] = {"scale": args.scale, "order_lines": lines, "repeats": args.repeats,
                               "memory_limit": args.memory_limit, "machine": machine(),
                               "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    limit_args = ["--memory-limit", args.memory_limit] if args.memory_limit else []

    def say(text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    # 1. the project and its raw data
    say(f"project copy and raw data at {lines:,} order lines in {work}")
    copy_project(project, args.memory_limit)
    counts_file = work / "counts.json"
    gen = run_child([py, str(BENCH / "datagen.py"), "--order-lines", str(lines), "--db", str(db),
                     "--json", str(counts_file)], logs / "datagen.log")
    results["datagen"] = {"seconds": gen.seconds, "peak_mb": gen.peak_mb,
                          "rows": json.loads(counts_file.read_text())}

    # 2. compile, build
    say("metricsctl compile")
    env = dbt_env(project)
    compile_child = run_child([py, "-c", "from metricsctl.cli import main; main()", "compile", "--project-dir",
                               str(project)], logs / "compile.log", cwd=project, env=env)
    exports_of = saved_queries(project)
    exports = sorted(e for es in exports_of.values() for e in es)
    generated = sorted(p.stem for p in (project / "models" / "metrics").glob("*.sql"))
    others = [g for g in generated if g not in exports]
    dbt = str(Path(py).parent / "dbt")
    say("dbt build: staging, marts and their tests")
    build_a = run_child([dbt, "build", "--exclude", "resource_type:seed", *exports, *others],
                        logs / "build_models.log", cwd=project, env=env)
    top_a = node_times(project)
    say("dbt build: the exports")
    build_b = run_child([dbt, "build", "--select", *exports], logs / "build_exports.log", cwd=project, env=env)
    export_nodes = {e: round(node_time(project, e), 3) for e in exports}
    results["build"] = {
        "metricsctl_compile_seconds": compile_child.seconds,
        "models_and_tests": {"seconds": build_a.seconds, "peak_mb": build_a.peak_mb, "slowest_nodes": top_a},
        "exports": {"seconds": build_b.seconds, "peak_mb": build_b.peak_mb, "node_seconds": export_nodes},
        "excluded_generated_models": others,
    }

    # 3. the three variants of every export
    variants: dict[str, dict[str, str]] = {"metricsctl": {e: compiled_sql(project, e) for e in exports},
                                           "floor": {}}
    for e in exports:
        floor = BENCH / "floor" / f"{e}.sql"
        if floor.exists():
            variants["floor"][e] = floor.read_text()
        else:
            print(f"no floor SQL for export {e} (bench/floor/{e}.sql)", file=sys.stderr)
    if mf is not None:
        say("MetricFlow's SQL (mf query --saved-query --explain)")
        by_query, mf_seconds = metricflow_sql(mf, work, sorted(exports_of), logs)
        variants["metricflow"] = {e: by_query[q] for q, es in exports_of.items() for e in es if q in by_query}
        results["metricflow_explain_seconds"] = mf_seconds
    sql_file = work / "sql.json"
    sql_file.write_text(json.dumps({"variants": variants}, indent=2))
    say(f"timing {len(exports)} exports x {len(variants)} variants x {args.repeats}")
    timed_file = work / "timed.json"
    timing = run_child([py, str(BENCH / "steps.py"), "time", "--db", str(db), "--sql", str(sql_file),
                        "--repeats", str(args.repeats), "--out", str(timed_file), *limit_args],
                       logs / "time.log")
    results["exports"] = json.loads(timed_file.read_text())
    results["exports"]["child_peak_mb"] = timing.peak_mb

    # 4. each export of each variant alone, in a process of its own: its peak memory
    results["variant_pass"] = {}
    for variant in variants:
        say(f"each export of {variant} alone, for memory")
        entry: dict[str, Any] = {"seconds": 0.0, "peak_mb": 0.0, "queries": {}, "export_peak_mb": {}}
        for export in sorted(variants[variant]):
            out = work / f"pass_{variant}_{export}.json"
            child = run_child([py, str(BENCH / "steps.py"), "pass", "--db", str(db), "--sql", str(sql_file),
                               "--variant", variant, "--export", export, "--out", str(out), *limit_args],
                              logs / f"pass_{variant}_{export}.log")
            entry["seconds"] += child.seconds
            entry["peak_mb"] = max(entry["peak_mb"], child.peak_mb)
            entry["export_peak_mb"][export] = round(child.peak_mb)
            entry["queries"].update(json.loads(out.read_text())["seconds"])
        results["variant_pass"][variant] = entry

    # 5. incremental export
    if INCREMENTAL_EXPORT in exports:
        say("incremental: hold back the last day's load, build, append it, incremental vs full refresh")
        results["incremental"] = incremental(py, dbt, project, db, work, logs, env, args.repeats, limit_args)

    # 6. compile benchmark
    if not args.skip_compile:
        say("compile benchmark: 1,000 metrics, 200 saved queries")
        out = work / "compile_bench.json"
        command = [py, str(BENCH / "compile_bench.py"), "--out", str(out), "--workdir", str(work / "compile")]
        if mf is not None:
            command += ["--mf", str(mf)]
        run_child(command, logs / "compile_bench.log")
        results["compile"] = json.loads(out.read_text())

    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    results["machine"]["load_average_end"] = os.getloadavg()
    out_path = args.out or (BENCH / "results" / f"{label}.json")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=2, default=str))
    say(f"results in {out_path}")
    print(summary(results))
    return 0


def incremental(py: str, dbt: str, project: Path, db: Path, work: Path, logs: Path, env: dict[str, str],
                repeats: int, limit_args: list[str]) -> dict[str, Any]:
    steps = [py, str(BENCH / "steps.py")]

    def step(name: str, *extra: str) -> dict[str, Any]:
        out = work / f"inc_{name}.json"
        run_child([*steps, name, "--db", str(db), "--out", str(out), *extra, *limit_args], logs / f"inc_{name}.log")
        return dict(json.loads(out.read_text()))

    model = INCREMENTAL_EXPORT
    held = step("holdback")
    # the export with its incremental staging (a table, so it reads the appended runs only when rebuilt)
    selected = ["--select", INCREMENTAL_STAGING, model]
    run_child([dbt, "run", *selected, "--full-refresh"], logs / "inc_before.log", cwd=project, env=env)
    appended = step("append")
    inc = run_child([dbt, "run", *selected], logs / "inc_run.log", cwd=project, env=env)
    inc_node = node_time(project, model)
    incremental_sql = compiled_sql(project, model)
    step("snapshot", "--table", model, "--as", "bench_incremental_result")
    full = run_child([dbt, "run", *selected, "--full-refresh"], logs / "inc_full.log", cwd=project, env=env)
    full_node = node_time(project, model)
    full_sql = compiled_sql(project, model)
    same = step("compare", "--left", "bench_incremental_result", "--right", model)
    # the SQL alone, without dbt: the incremental SELECT reads the (full-refresh) table for its start
    sql_file = work / "inc_sql.json"
    sql_file.write_text(json.dumps({"variants": {"incremental": {model: incremental_sql},
                                                 "full_refresh": {model: full_sql}}}))
    out = work / "inc_time.json"
    run_child([*steps, "time", "--db", str(db), "--sql", str(sql_file), "--repeats", str(max(repeats, 5)),
               "--out", str(out), *limit_args], logs / "inc_time.log")
    timed = json.loads(out.read_text())["exports"][model]
    return {
        "held_back": held, "appended": appended,
        "dbt_incremental": {"seconds": inc.seconds, "node_seconds": inc_node, "peak_mb": inc.peak_mb},
        "dbt_full_refresh": {"seconds": full.seconds, "node_seconds": full_node, "peak_mb": full.peak_mb},
        "same_rows": same,
        "sql_median": timed["median"], "sql_seconds": timed["seconds"], "sql_rows": timed["rows"],
    }


# --- the summary ---------------------------------------------------------------------------------------
def summary(r: dict[str, Any]) -> str:
    out: list[str] = []
    m = r["machine"]
    out.append(f"## {r['scale']} order lines ({r['order_lines']:,}), {r['repeats']} timed runs, median")
    out.append(f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; load average "
               f"{', '.join(f'{x:.1f}' for x in m['load_average'])} at start, "
               f"{', '.join(f'{x:.1f}' for x in m.get('load_average_end', []))} at end; DuckDB {m.get('duckdb')}, "
               f"dbt {m.get('dbt')}, sqlglot {m.get('sqlglot')}; DuckDB memory_limit {r['memory_limit'] or 'default'}; "
               f"commit {m.get('commit')} with {m.get('uncommitted_files')} uncommitted files in metricsctl/, "
               f"metrics/, models/.")
    rows = r["datagen"]["rows"]
    out.append(f"\nData: {sum(rows.values()):,} raw rows in {r['datagen']['seconds']:.1f} s "
               f"(peak {r['datagen']['peak_mb']:.0f} MB): " + ", ".join(f"{k} {v:,}" for k, v in rows.items()
                                                                         if v >= 1000))
    b = r["build"]
    out.append(f"\nBuild: metricsctl compile {b['metricsctl_compile_seconds']:.1f} s; dbt build of staging, marts "
               f"and tests {b['models_and_tests']['seconds']:.1f} s (peak {b['models_and_tests']['peak_mb']:.0f} MB); "
               f"dbt build of the exports {b['exports']['seconds']:.1f} s (peak {b['exports']['peak_mb']:.0f} MB).")
    out += exports_table(r["exports"])
    out.append("\nPeak memory, each export alone in a process (MB): " + "; ".join(
        f"{k}: " + ", ".join(f"{e} {mb}" for e, mb in v["export_peak_mb"].items())
        for k, v in r["variant_pass"].items()))
    inc = r.get("incremental")
    if inc:
        med = inc["sql_median"]
        same = inc["same_rows"]
        out.append(
            f"\nIncremental ({INCREMENTAL_EXPORT}): appended {inc['appended']['rows']:,} rows (load of "
            f"{inc['appended']['load_day']}, run days {inc['appended']['first_run_day']} .. "
            f"{inc['appended']['last_run_day']}); dbt run {inc['dbt_incremental']['seconds']:.2f} s "
            f"(node {inc['dbt_incremental']['node_seconds']:.2f} s) vs full refresh "
            f"{inc['dbt_full_refresh']['seconds']:.2f} s (node {inc['dbt_full_refresh']['node_seconds']:.2f} s): "
            f"{ratio(inc['dbt_full_refresh']['node_seconds'], inc['dbt_incremental']['node_seconds']):.1f}x on the "
            f"node; SQL alone {med.get('incremental', 0):.3f} s vs {med.get('full_refresh', 0):.3f} s: "
            f"{ratio(med.get('full_refresh', 0), med.get('incremental', 0)):.1f}x; same rows: "
            f"{'yes' if same['same'] else 'NO'} ({same['left_rows']:,} rows, "
            f"{same['rows_not_bit_identical']} not bit-identical).")
    c = r.get("compile")
    if c:
        out.append(f"\nCompile ({c['metrics']:,} metrics, {c['saved_queries']} saved queries): " + c["summary"])
    return "\n".join(out)


def exports_table(e: dict[str, Any]) -> list[str]:
    """Markdown lines: each export's median seconds per variant, the ratios, same rows and scans; totals."""
    out: list[str] = []
    names = [v for v in VARIANTS if any(v in x["median"] for x in e["exports"].values())]
    out.append("\n| export | " + " | ".join(f"{n} s" for n in names) + " | metricsctl / floor | "
               + ("metricsctl / MetricFlow | " if "metricflow" in names else "") + "same rows | scans (metricsctl; "
               + "floor; MetricFlow) |")
    out.append("|---" * (len(names) + 5 - ("metricflow" not in names)) + "|")
    totals = dict.fromkeys(names, 0.0)
    for export, x in sorted(e["exports"].items()):
        med = x["median"]
        for n in names:
            totals[n] += med.get(n, 0.0)
        same = ", ".join(f"{k}: {'yes' if v['same'] else 'NO'}" for k, v in x["same_as_metricsctl"].items())
        scans = "; ".join(scan_text(x["scans"].get(n, {})) for n in names)
        cells = [f"{med[n]:.2f}" if n in med else "-" for n in names]
        line = f"| {export} | " + " | ".join(cells) + f" | {ratio(med.get('metricsctl', 0), med.get('floor', 0)):.2f}"
        if "metricflow" in names:
            line += f" | {ratio(med.get('metricsctl', 0), med.get('metricflow', 0)):.2f}"
        out.append(line + f" | {same} | {scans} |")
    line = "| **total** | " + " | ".join(f"**{totals[n]:.2f}**" for n in names)
    line += f" | **{ratio(totals['metricsctl'], totals.get('floor', 0)):.2f}**"
    if "metricflow" in names:
        line += f" | **{ratio(totals['metricsctl'], totals['metricflow']):.2f}**"
    out.append(line + " | | |")
    mins = {n: sum(x["min"].get(n, 0.0) for x in e["exports"].values()) for n in names}
    out.append("\nTotals of the fastest runs (min): " + ", ".join(f"{n} {mins[n]:.2f} s" for n in names)
               + f"; metricsctl / floor {ratio(mins['metricsctl'], mins.get('floor', 0)):.2f}"
               + (f", metricsctl / MetricFlow {ratio(mins['metricsctl'], mins['metricflow']):.2f}"
                  if "metricflow" in names else "") + ".")
    if e.get("errors"):
        out.append(f"\nErrors: {e['errors']}")
    return out


def scan_text(scans: dict[str, int]) -> str:
    return " ".join(f"{t.split('.')[-1]}x{n}" for t, n in scans.items() if n > 1) or "all x1"


if __name__ == "__main__":
    sys.exit(main())
