"""Compile time for a big semantic project: 1,000 metrics of every type and 200 saved queries with exports.

    python bench/compile_bench.py [--metrics 1000] [--saved-queries 200] [--mf /path/to/metricflow-venv/bin/mf]

A synthetic dbt project is written to a temp folder: five fact models and two dimensions (customers,
products), each a semantic model with entities, categorical and time dimensions and measures of every
aggregation (sum, count, count_distinct, min, max, average, sum_boolean, median, a semi-additive sum);
metrics are simple (some filtered, some filled), ratio, derived (some with offsets), cumulative (windows,
grain-to-date, all-time) and conversion; each saved query asks for 4-8 of them by a metric_time grain and
up to two dimensions, sometimes filtered, and has one table export.

Timed separately:
- `dbt parse` (dbt's work, not metricsctl's), a full parse in a fresh process;
- metricsctl's own work, in a fresh process (with sqlglot as installed: pure Python, or compiled with the
  `fast` extra; the result says which), as `metricsctl compile` does it once the manifest is up to
  date: load and validate the semantic manifest (Spec.load), render the generated models
  (Materializer.models(): the 200 exports, metric_values, metric_catalog) and write them; then, apart,
  the metric-by-metric check it adds only when a model fails to compile (validation.check_compiles);
- `metricsctl compile` end to end (a new process: imports, manifest freshness check, compile, write),
  once parsing the project first, then with the manifest up to date (that run reads back the models the
  first kept under target/, metricsctl/model_cache.py);
- with --mf: MetricFlow's query compilation of the same saved queries through its Python API
  (MetricFlowEngine.explain, SQL rendered, no warehouse), in MetricFlow's own interpreter
  (bench/mf_explain_time.py); engine set-up is timed apart from the queries.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
FACTS = 5
REGIONS = ("north", "south", "east", "west")

FACT_SQL = """select
    cast(i as integer) as id,
    cast(1 + i % 1000 as integer) as customer_id,
    cast(1 + i % 50 as integer) as product_id,
    cast(date '2024-01-01' + cast(i % 365 as integer) as date) as event_date,
    ['web', 'store', 'phone'][1 + i % 3] as channel,
    ['open', 'done'][1 + i % 2] as status,
    cast(i % 97 as double) as amount,
    cast(1 + i % 5 as integer) as quantity,
    i % 4 = 0 as flag
from range(1000) as t(i)
"""
CUSTOMERS_SQL = """select
    cast(i as integer) as customer_id,
    ['north', 'south', 'east', 'west'][1 + i % 4] as region,
    ['consumer', 'business'][1 + i % 2] as segment,
    cast(date '2023-06-01' + cast(i % 500 as integer) as date) as signup_date
from range(1, 1001) as t(i)
"""
PRODUCTS_SQL = """select cast(i as integer) as product_id, ['a', 'b', 'c'][1 + i % 3] as category,
    'brand_' || (i % 7) as brand
from range(1, 51) as t(i)
"""
SPINE_SQL = """select cast(d as date) as date_day
from range(timestamp '2023-01-01', timestamp '2026-01-01', interval 1 day) as t(d)
"""


def semantic_models() -> list[dict[str, Any]]:
    models: list[dict[str, Any]] = []
    for f in range(1, FACTS + 1):
        p = f"f{f}"
        models.append({
            "name": f"fact_{f}", "model": f"ref('fct_{f}')", "defaults": {"agg_time_dimension": "event_date"},
            "entities": [{"name": f"{p}_row", "type": "primary", "expr": "id"},
                         {"name": "customer", "type": "foreign", "expr": "customer_id"},
                         {"name": "product", "type": "foreign", "expr": "product_id"}],
            "dimensions": [{"name": "event_date", "type": "time", "type_params": {"time_granularity": "day"}},
                           {"name": "channel", "type": "categorical"},
                           {"name": "status", "type": "categorical"}],
            "measures": [
                {"name": f"{p}_amount", "agg": "sum", "expr": "amount"},
                {"name": f"{p}_quantity", "agg": "sum", "expr": "quantity"},
                {"name": f"{p}_net", "agg": "sum", "expr": "amount * quantity"},
                {"name": f"{p}_rows", "agg": "count", "expr": "id"},
                {"name": f"{p}_customers", "agg": "count_distinct", "expr": "customer_id"},
                {"name": f"{p}_max_amount", "agg": "max", "expr": "amount"},
                {"name": f"{p}_min_amount", "agg": "min", "expr": "amount"},
                {"name": f"{p}_avg_amount", "agg": "average", "expr": "amount"},
                {"name": f"{p}_flagged", "agg": "sum_boolean", "expr": "flag"},
                {"name": f"{p}_median_amount", "agg": "median", "expr": "amount"},
                {"name": f"{p}_balance", "agg": "sum", "expr": "amount",
                 "non_additive_dimension": {"name": "event_date", "window_choice": "max"}},
            ],
        })
    models.append({
        "name": "customers", "model": "ref('dim_customers')", "defaults": {"agg_time_dimension": "signup_date"},
        "entities": [{"name": "customer", "type": "primary", "expr": "customer_id"}],
        "dimensions": [{"name": "region", "type": "categorical"}, {"name": "segment", "type": "categorical"},
                       {"name": "signup_date", "type": "time", "type_params": {"time_granularity": "day"}}],
        "measures": [{"name": "new_customers", "agg": "count", "expr": "customer_id"}],
    })
    models.append({
        "name": "products", "model": "ref('dim_products')",
        "entities": [{"name": "product", "type": "primary", "expr": "product_id"}],
        "dimensions": [{"name": "category", "type": "categorical"}, {"name": "brand", "type": "categorical"}],
    })
    return models


MEASURE_KINDS = ("amount", "quantity", "net", "rows", "customers", "max_amount", "min_amount", "avg_amount",
                 "flagged", "median_amount", "balance")
ADDITIVE = ("amount", "quantity", "net", "rows", "flagged")


def metrics_and_queries(n_metrics: int, n_queries: int, rng: random.Random) -> tuple[list[dict[str, Any]],
                                                                                   list[dict[str, Any]]]:
    """Metric definitions (30 % simple, 20 % ratio, 25 % derived, 15 % cumulative, 10 % conversion)."""
    metrics: list[dict[str, Any]] = []
    simple: list[str] = []  # metrics safe as inputs (any fact, any type)
    by_fact: dict[str, int] = {}  # metric -> fact number, for queries over one fact's dimensions
    kinds: dict[str, str] = {}

    def add(metric: dict[str, Any], kind: str, fact: int) -> None:
        metrics.append(metric)
        kinds[metric["name"]] = kind
        by_fact[metric["name"]] = fact

    counts = {"simple": int(n_metrics * 0.30), "ratio": int(n_metrics * 0.20), "derived": int(n_metrics * 0.25),
              "cumulative": int(n_metrics * 0.15)}
    counts["conversion"] = n_metrics - sum(counts.values())
    for i in range(counts["simple"]):
        f = 1 + i % FACTS
        kind = MEASURE_KINDS[i // FACTS % len(MEASURE_KINDS)]
        name = f"s{i:04d}_f{f}_{kind}"
        measure: dict[str, Any] | str = f"f{f}_{kind}"
        metric: dict[str, Any] = {"name": name, "label": name, "type": "simple"}
        if i % 7 == 3:
            metric["filter"] = "{{ Dimension('customer__region') }} = '" + REGIONS[i % 4] + "'"
        elif i % 7 == 5:
            metric["filter"] = "{{ Dimension('" + f"f{f}_row__channel" + "') }} = 'web'"
        if i % 11 == 4 and kind in ADDITIVE:
            measure = {"name": f"f{f}_{kind}", "fill_nulls_with": 0, "join_to_timespine": True}
        metric["type_params"] = {"measure": measure}
        add(metric, "simple", f)
        simple.append(name)
    additive_simple = [m for m in simple if m.rsplit("_", 1)[-1] in ADDITIVE or m.endswith("_rows")]
    for i in range(counts["ratio"]):
        num, den = rng.sample(additive_simple, 2)
        name = f"r{i:04d}"
        numerator: dict[str, Any] | str = num
        if i % 5 == 2:
            numerator = {"name": num, "filter": "{{ Dimension('customer__segment') }} = 'business'",
                         "alias": f"{num}_business"}
        add({"name": name, "label": name, "type": "ratio",
             "type_params": {"numerator": numerator, "denominator": den}}, "ratio", by_fact[num])
    ratios = [m["name"] for m in metrics if kinds[m["name"]] == "ratio"]
    params: dict[str, Any]
    for i in range(counts["derived"]):
        name = f"d{i:04d}"
        if i % 5 == 0:  # an offset: growth against the period before
            base = rng.choice(additive_simple)
            window = rng.choice(["1 month", "1 week", "1 year"])
            params = {"expr": "(cur - prev) / nullif(prev, 0)",
                      "metrics": [{"name": base, "alias": "cur"},
                                  {"name": base, "offset_window": window, "alias": "prev"}]}
        else:
            a, b = rng.sample(simple, 2)
            c = rng.choice(ratios)
            params = {"expr": "in_a * 2 + in_b - in_c", "metrics": [
                {"name": a, "alias": "in_a"}, {"name": b, "alias": "in_b"}, {"name": c, "alias": "in_c"}]}
            base = a
        add({"name": name, "label": name, "type": "derived", "type_params": params}, "derived", by_fact[base])
    for i in range(counts["cumulative"]):
        f = 1 + i % FACTS
        kind = ADDITIVE[i // FACTS % len(ADDITIVE)]
        name = f"c{i:04d}_f{f}_{kind}"
        style = i % 4
        cumulative: dict[str, Any] = (
            {"window": "7 days"} if style == 0 else {"window": "28 days"} if style == 1
            else {"grain_to_date": "month", "period_agg": "last"} if style == 2 else {})
        params = {"measure": f"f{f}_{kind}"}
        if cumulative:
            params["cumulative_type_params"] = cumulative
        add({"name": name, "label": name, "type": "cumulative", "type_params": params}, "cumulative", f)
    for i in range(counts["conversion"]):
        f, g = 1 + i % FACTS, 1 + (i + 1 + i // FACTS) % FACTS
        if g == f:
            g = 1 + f % FACTS
        name = f"v{i:04d}_f{f}_to_f{g}"
        add({"name": name, "label": name, "type": "conversion", "type_params": {"conversion_type_params": {
            "entity": "customer", "calculation": "conversion_rate" if i % 2 == 0 else "conversions",
            "base_measure": {"name": f"f{f}_rows"}, "conversion_measure": {"name": f"f{g}_rows"},
            "window": rng.choice(["7 days", "14 days", "30 days"])}}}, "conversion", f)

    queries: list[dict[str, Any]] = []
    names = [m["name"] for m in metrics]
    for q in range(n_queries):
        pool = [n for n in names if kinds[n] != "conversion"] if q % 4 else names
        chosen = rng.sample(pool, rng.randint(4, 8))
        grain = ("day", "week", "month", "month", "quarter")[q % 5]
        group_by = [f"TimeDimension('metric_time', '{grain}')"]
        if q % 3 == 1:
            group_by.append("Dimension('customer__region')")
        if q % 3 == 2 and not any(kinds[c] == "conversion" for c in chosen):
            group_by += ["Dimension('customer__region')", "Dimension('product__category')"]
        params = {"metrics": chosen, "group_by": group_by}
        if q % 4 == 1:
            params["where"] = ["{{ TimeDimension('metric_time', 'month') }} >= '2024-03-01'"]
        queries.append({"name": f"sq{q:03d}", "query_params": params,
                        "exports": [{"name": f"export_sq{q:03d}", "config": {"export_as": "table"}}]})
    return metrics, queries


def write_project(folder: Path, n_metrics: int, n_queries: int, seed: int = 11) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "models" / "metrics").mkdir(parents=True)
    (folder / "dbt_project.yml").write_text(
        "name: synth\nversion: '1.0'\nconfig-version: 2\nprofile: synth\nmodel-paths: ['models']\n"
        "flags: {send_anonymous_usage_stats: false}\n")
    (folder / "profiles.yml").write_text(
        "synth:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: '{folder / 'synth.duckdb'}'\n      threads: 1\n")
    models = folder / "models"
    for f in range(1, FACTS + 1):
        (models / f"fct_{f}.sql").write_text(FACT_SQL)
    (models / "dim_customers.sql").write_text(CUSTOMERS_SQL)
    (models / "dim_products.sql").write_text(PRODUCTS_SQL)
    (models / "metricflow_time_spine.sql").write_text(SPINE_SQL)
    (models / "time_spine.yml").write_text(yaml.safe_dump({"version": 2, "models": [{
        "name": "metricflow_time_spine", "time_spine": {"standard_granularity_column": "date_day"},
        "columns": [{"name": "date_day", "granularity": "day"}]}]}, sort_keys=False))
    (models / "semantic_models.yml").write_text(yaml.safe_dump({"semantic_models": semantic_models()},
                                                               sort_keys=False))
    metrics, queries = metrics_and_queries(n_metrics, n_queries, random.Random(seed))
    (models / "metrics.yml").write_text(yaml.safe_dump({"metrics": metrics}, sort_keys=False))
    (models / "saved_queries.yml").write_text(yaml.safe_dump({"saved_queries": queries}, sort_keys=False))


METRICSCTL_TIMER = r"""
import json, resource, sys, time
started = time.perf_counter()
from pathlib import Path
from metricsctl.project import DbtProject
from metricsctl.spec import Spec
from metricsctl.validation import check_compiles
from metricsctl.materialize import Materializer
import sqlglot.generator
imported = time.perf_counter()
compiled_sqlglot = not sqlglot.generator.__file__.endswith(".py")  # the `fast` extra: sqlglotc's build
project = DbtProject.at(sys.argv[1])
# metricsctl has not seen the `dbt parse` above: it would parse again inside the render (reading dbt's
# manifest), so it checks the manifest first, untimed
project.semantic_manifest()
# what Metricsctl.compile() does once the semantic manifest is up to date
t0, c0 = time.perf_counter(), time.process_time()
spec = Spec.load(project.semantic_manifest_path, project.locations())
t1, c1 = time.perf_counter(), time.process_time()
materializer = Materializer(spec, project, "duckdb")
models = materializer.models()
t2, c2 = time.perf_counter(), time.process_time()
materializer.write(models)
t3, c3 = time.perf_counter(), time.process_time()
children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the forked compile processes (metricsctl/forked.py)
workers_cpu = children.ru_utime + children.ru_stime
# what it adds when a generated model fails to compile: every metric and saved query alone, located
issues = check_compiles(spec)
t4 = time.perf_counter()
sizes = {m.name: len(m.content) for m in models}
print(json.dumps({"import": imported - started, "load_and_validate": t1 - t0, "render_models": t2 - t1,
                  "write": t3 - t2, "own_total": t3 - t0, "check_compiles": t4 - t3,
                  # CPU seconds of the same steps: what a shared, busy machine does not inflate
                  "load_and_validate_cpu": c1 - c0, "render_models_cpu": c2 - c1, "own_total_cpu": c3 - c0,
                  "workers_cpu": workers_cpu, "sqlglot_compiled": compiled_sqlglot,
                  "issues": [str(i) for i in issues], "models": len(models), "sql_bytes": sum(sizes.values()),
                  "metric_values_bytes": sizes.get("metric_values", 0)}))
"""

RENDER_SPLIT = r"""
import json, sys, time
from metricsctl.project import DbtProject
from metricsctl.spec import Spec
from metricsctl.materialize import Materializer
project = DbtProject.at(sys.argv[1])
spec = Spec.load(project.semantic_manifest_path, project.locations())
materializer = Materializer(spec, project, "duckdb")
t0 = time.perf_counter()
per = []
for saved in spec.manifest.saved_queries:
    for export in saved.exports:
        s = time.perf_counter(); materializer._export(saved, export); per.append(time.perf_counter() - s)
t1 = time.perf_counter()
materializer._metric_values()
t2 = time.perf_counter()
materializer._metric_catalog()
t3 = time.perf_counter()
per.sort()
print(json.dumps({"exports": t1 - t0, "exports_median": per[len(per) // 2], "exports_max": per[-1],
                  "metric_values": t2 - t1, "metric_catalog": t3 - t2}))
"""


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak MB and stdout of a child process."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        out.seek(0)
        text = out.read().decode(errors="replace")
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{text[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", type=int, default=1000)
    parser.add_argument("--saved-queries", type=int, default=200)
    parser.add_argument("--mf", type=Path, default=None, help="MetricFlow's `mf` (its venv's python is used)")
    parser.add_argument("--mf-sample", type=int, default=0, help="explain only this many saved queries with "
                        "MetricFlow and extrapolate (0: all)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    work = (args.workdir or Path(tempfile.mkdtemp(prefix="metricsctl-compile-bench-"))).resolve()
    project = work / "synth"
    write_project(project, args.metrics, args.saved_queries)
    env = {**os.environ, "DBT_PROFILES_DIR": str(project), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
           "METRICSCTL_PROJECT_DIR": str(project)}
    py = sys.executable
    dbt = str(Path(py).parent / "dbt")
    result: dict[str, Any] = {"metrics": args.metrics, "saved_queries": args.saved_queries, "project": str(project)}

    parse_seconds, parse_mb, _ = timed([dbt, "parse", "--no-partial-parse", "--quiet"], project, env)
    result["dbt_parse"] = {"seconds": parse_seconds, "peak_mb": parse_mb}
    manifest = json.loads((project / "target" / "semantic_manifest.json").read_text())
    kinds: dict[str, int] = {}
    for m in manifest["metrics"]:
        kinds[m["type"]] = kinds.get(m["type"], 0) + 1
    result["metric_types"] = kinds

    seconds, peak, text = timed([py, "-c", METRICSCTL_TIMER, str(project)], project, env)
    own = json.loads(text.strip().splitlines()[-1])
    result["metricsctl"] = {**own, "process_seconds": seconds, "peak_mb": peak}
    _, _, text = timed([py, "-c", RENDER_SPLIT, str(project)], project, env)
    result["metricsctl"]["render_split"] = json.loads(text.strip().splitlines()[-1])
    cli = [py, "-c", "from metricsctl.cli import main; main()", "compile", "--project-dir", str(project)]
    # the first run parses the project itself (it has not seen it before), the second finds it unchanged
    first, _, _ = timed(cli, project, env)
    cli_seconds, cli_mb, _ = timed(cli, project, env)
    result["metricsctl"]["cli_compile_seconds_with_parse"] = first
    result["metricsctl"]["cli_compile_seconds"] = cli_seconds
    result["metricsctl"]["cli_compile_peak_mb"] = cli_mb

    if args.mf is not None and args.mf.exists():
        mf_py = str(args.mf.parent / "python")
        command = [mf_py, str(BENCH / "mf_explain_time.py"), str(project / "target" / "semantic_manifest.json")]
        if args.mf_sample:
            command += ["--sample", str(args.mf_sample)]
        seconds, peak, text = timed(command, project, env)
        mf = json.loads(text.strip().splitlines()[-1])
        result["metricflow"] = {**mf, "process_seconds": seconds, "peak_mb": peak}

    m = result["metricsctl"]
    parts = [f"dbt parse {parse_seconds:.1f} s (dbt's work); metricsctl's own work {m['own_total']:.2f} s "
             f"({m['own_total_cpu'] + m['workers_cpu']:.2f} s of CPU: load+validate "
             f"{m['load_and_validate_cpu']:.2f}, render {m['render_models_cpu']:.2f} here and "
             f"{m['workers_cpu']:.2f} in forked compile processes; "
             f"sqlglot {'compiled' if m['sqlglot_compiled'] else 'pure Python'}) "
             f"(load+validate {m['load_and_validate']:.2f}, render {m['models']} models {m['render_models']:.2f} "
             f"[{args.saved_queries} exports {m['render_split']['exports']:.2f}, "
             f"metric_values {m['render_split']['metric_values']:.2f}], "
             f"write {m['write']:.2f}; imports {m['import']:.2f}); `metricsctl compile` end to end "
             f"{m['cli_compile_seconds']:.1f} s with the manifest up to date, "
             f"{m['cli_compile_seconds_with_parse']:.1f} s when it runs dbt parse first; "
             f"{len(m['issues'])} issues (locating them, every metric and saved query compiled alone, would add "
             f"{m['check_compiles']:.2f} s; it runs only when a generated model fails to compile)"]
    if "metricflow" in result:
        f = result["metricflow"]
        parts.append(f"MetricFlow: engine set-up {f['setup']:.2f} s, {f['explained']} saved queries explained in "
                     f"{f['queries']:.2f} s ({f['per_query_median']:.3f} s median each"
                     + (f", extrapolated to {f['extrapolated_queries']:.1f} s for all {f['total']}" if
                        f['explained'] < f['total'] else "") + f"), {f['failed']} failed")
    result["summary"] = "; ".join(parts)
    print(result["summary"])
    out = args.out or (work / "compile_bench.json")
    out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
