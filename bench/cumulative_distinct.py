"""A cumulative distinct count before and after its compiler change, side by side: the demo's `customers_to_date`.

    python bench/cumulative_distinct.py                                  # 1M order lines, as in BENCHMARKS.md
    python bench/cumulative_distinct.py --order-lines 200k --repeats 3
    python bench/cumulative_distinct.py --workdir /tmp/metricsctl-bench-1m     # a run_all.py folder, built

`customers_to_date` counts the distinct customers who ordered up to each day. Up to commit f67f483 the
compiler joined every order row to every later day of the time spine and counted distinct customers per
day; since then a distinct count accumulated from a fixed start is read from the day each value first
appears, counted per day and summed. This script:

1. builds the demo's warehouse at `--order-lines` (bench/datagen.py, then `dbt run` of the staging and mart
   models), unless `--workdir` holds one already (`<workdir>/project/warehouse.duckdb`, as run_all.py leaves);
2. writes the SQL of `metricsctl query --metrics customers_to_date --group-by metric_time__day --explain`
   twice: from metricsctl's source at `--before` (default f67f483^, taken out with `git archive`) and from
   this tree;
3. times the two on the same DuckDB file, interleaved, `--repeats` times (bench/steps.py time) and checks
   that they give the same rows.

The result goes to bench/results/cumulative_distinct_<order lines>.json (`seconds` of each run per variant,
`rows`, `same_rows`) and a line to stdout.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
from datagen import parse_count  # noqa: E402
from query_latency import check_tree, run  # noqa: E402
from run_all import copy_project, dbt_env, run_child  # noqa: E402

QUERY = ["query", "--metrics", "customers_to_date", "--group-by", "metric_time__day", "--explain"]


def build_warehouse(work: Path, order_lines: int) -> Path:
    """The demo project in `work`/project with its raw tables, staging views and marts (no metric models)."""
    project = work / "project"
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    copy_project(project, None)
    run_child([sys.executable, str(BENCH / "datagen.py"), "--order-lines", str(order_lines),
               "--db", str(project / "warehouse.duckdb")], logs / "datagen.log")
    dbt = str(Path(sys.executable).parent / "dbt")
    run_child([dbt, "run", "--exclude", "path:models/metrics"], logs / "dbt_run.log", cwd=project,
              env=dbt_env(project))
    return project


def explain(tree: Path, project: Path) -> str:
    """The query's SQL as the metricsctl source under `tree` compiles it for the project."""
    _, _, out, err = run(tree, project, [*QUERY, "--project-dir", str(project)])
    if "SELECT" not in out:
        raise SystemExit(f"metricsctl from {tree} did not explain the query:\n{err[-2000:]}")
    return out.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--order-lines", default="1m", help="order lines of the warehouse built (default 1m)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="folder with project/warehouse.duckdb built, or where to build it "
                             "(default /tmp/metricsctl-cumulative-distinct-<order lines>)")
    parser.add_argument("--before", default="f67f483^", help="the commit whose compiler is 'old'")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    lines = parse_count(args.order_lines)
    work = (args.workdir or Path(f"/tmp/metricsctl-cumulative-distinct-{args.order_lines.lower()}")).resolve()
    project = work / "project"
    if not (project / "warehouse.duckdb").exists():
        print(f"building the demo at {lines:,} order lines in {work}", file=sys.stderr)
        project = build_warehouse(work, lines)

    with tempfile.TemporaryDirectory(prefix="metricsctl-before-") as old_tree:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before, "metricsctl"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", old_tree], input=archive, check=True)
        check_tree(Path(old_tree))
        old_sql = explain(Path(old_tree), project)
    new_sql = explain(ROOT, project)
    sql_file = work / "cumulative_distinct_sql.json"
    # steps.py compares every variant's rows with the one named metricsctl: the current compiler's
    sql_file.write_text(json.dumps({"variants": {"metricsctl": {"customers_to_date": new_sql},
                                                 "old": {"customers_to_date": old_sql}}}, indent=2))
    timed_file = work / "cumulative_distinct_timed.json"
    run_child([sys.executable, str(BENCH / "steps.py"), "time", "--db", str(project / "warehouse.duckdb"),
               "--sql", str(sql_file), "--repeats", str(args.repeats), "--out", str(timed_file)],
              work / "cumulative_distinct.log")
    timed = json.loads(timed_file.read_text())
    if timed["errors"]:
        raise SystemExit(f"a query failed: {timed['errors']}")
    entry = timed["exports"]["customers_to_date"]
    result = {"query": f"customers_to_date by metric_time__day, {args.order_lines} order lines, DuckDB",
              "before": args.before, "measured": time.strftime("%Y-%m-%d %H:%M:%S"),
              "seconds": {"old": entry["seconds"]["old"], "new": entry["seconds"]["metricsctl"]},
              "rows": entry["rows"]["metricsctl"], "same_rows": entry["same_as_metricsctl"]["old"]["same"]}
    out = args.out or (BENCH / "results" / f"cumulative_distinct_{args.order_lines.lower()}.json")
    out.write_text(json.dumps(result, indent=1) + "\n")
    old, new = result["seconds"]["old"], result["seconds"]["new"]
    print(f"customers_to_date by day, {lines:,} order lines: before {' / '.join(f'{s:.2f}' for s in old)} s, "
          f"now {' / '.join(f'{s:.2f}' for s in new)} s; {result['rows']:,} rows, "
          f"{'the same' if result['same_rows'] else 'NOT the same'}; {out}")
    return 0 if result["same_rows"] else 1


if __name__ == "__main__":
    sys.exit(main())
