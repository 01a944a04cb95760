"""Time candidate SQL shapes for the compiler against its current output, on a warehouse run_all.py built.

    python bench/run_all.py --scale 10m --skip-compile          # leaves /tmp/metricsctl-bench-10m
    python bench/shapes.py --workdir /tmp/metricsctl-bench-10m [--repeats 5]

Each file bench/shapes/<export>.<shape>.sql (or in `--shapes DIR`) is metricsctl's output for that export
with one change, named in its header comment. Every shape runs interleaved with the current output and the
floor, on the same file, `--repeats` times; its rows are checked against the current output's (bench/steps.py compare).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from run_all import ratio, run_child  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="a run_all.py folder (project and sql.json)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default="", help="comma-separated exports to try (default: every shape's)")
    parser.add_argument("--shapes", type=Path, default=BENCH / "shapes",
                        help="the folder of <export>.<shape>.sql files (bench/neobank/shapes for that project)")
    parser.add_argument("--warmup", action="store_true", help="run each export's current SQL once, untimed, first")
    parser.add_argument("--metricflow", action="store_true", help="time MetricFlow's SQL for those exports too")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir.resolve()
    current = json.loads((work / "sql.json").read_text())["variants"]
    shapes: dict[str, dict[str, str]] = {}
    for path in sorted(args.shapes.glob("*.sql")):
        export, shape = path.stem.split(".", 1)
        if args.only and export not in args.only.split(","):
            continue
        shapes.setdefault(shape, {})[export] = path.read_text()
    exports = sorted({e for s in shapes.values() for e in s})
    variants: dict[str, dict[str, str]] = {"metricsctl": {e: current["metricsctl"][e] for e in exports},
                                           "floor": {e: current["floor"][e] for e in exports if e in current["floor"]}}
    if args.metricflow:
        variants["metricflow"] = {e: current["metricflow"][e] for e in exports if e in current.get("metricflow", {})}
    variants.update(shapes)
    sql_file = work / "shapes_sql.json"
    sql_file.write_text(json.dumps({"variants": variants}, indent=2))
    out = work / "shapes_timed.json"
    run_child([sys.executable, str(BENCH / "steps.py"), "time", "--db", str(work / "project" / "warehouse.duckdb"),
               "--sql", str(sql_file), "--repeats", str(args.repeats), "--out", str(out),
               *(["--warmup"] if args.warmup else [])], work / "shapes.log")
    timed: dict[str, Any] = json.loads(out.read_text())
    lines = ["| export | shape | median s | min s | current / shape (median) | current / shape (min) | "
             "shape / floor (min) | same rows |", "|---|---|---|---|---|---|---|---|"]
    for export in exports:
        x = timed["exports"][export]
        for variant in ["metricsctl", "floor", "metricflow", *[s for s in shapes if export in shapes[s]]]:
            if variant not in x["median"]:
                continue
            same = x["same_as_metricsctl"].get(variant)
            lines.append(
                f"| {export} | {'current' if variant == 'metricsctl' else variant} | {x['median'][variant]:.3f} | "
                f"{x['min'][variant]:.3f} | {ratio(x['median']['metricsctl'], x['median'][variant]):.2f} | "
                f"{ratio(x['min']['metricsctl'], x['min'][variant]):.2f} | "
                f"{ratio(x['min'][variant], x['min'].get('floor', 0)):.2f} | "
                f"{'-' if same is None else 'yes' if same['same'] else 'NO'} |")
    if timed.get("errors"):
        lines.append(f"\nErrors: {timed['errors']}")
    text = "\n".join(lines)
    (args.out or (BENCH / "results" / f"shapes-{work.name.removeprefix('metricsctl-bench-')}.md")).write_text(
        text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
