"""How cost grows with the work: exports, the full build and compile at several sizes: `python bench/scaling.py`.

    python bench/scaling.py --scales 100k,1m,10m --metrics 1000,5000 --mf /path/to/metricflow-venv/bin/mf
    python bench/scaling.py --table-only        # the table again, from bench/results/scaling/*.json

For each scale (order lines; the other facts in proportion, bench/datagen.py):

1. bench/run_all.py --skip-compile: the exports timed interleaved against the hand-written floor (and
   MetricFlow's SQL with --mf), each variant's peak memory, and `dbt build` of staging and marts with
   their tests (results in bench/results/scaling/data-<scale>.json);
2. in the project run_all left, `metricsctl build --full-refresh` end to end, in a process of its own:
   every model, the expectations and dbt's tests, the way a scheduler runs it (seeds excluded: the raw
   tables are datagen's), with the time of each phase from target/metricsctl_run.json.

For each metric count N: bench/compile_bench.py --metrics N --saved-queries N/5 (the synthetic project
of section 3: metricsctl's own work in a fresh process, and dbt's parse apart;
bench/results/scaling/compile-<N>.json).

The Markdown table goes to stdout and bench/results/scaling/scaling.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results" / "scaling"
sys.path.insert(0, str(BENCH))
from datagen import parse_count  # noqa: E402
from run_all import dbt_env, run_child  # noqa: E402

PHASES = ("parse", "sources and staging", "expectations", "metric models")  # metricsctl_run.json's
AS_OF = "2025-07-01"  # the day after datagen's last day: freshness is judged against it


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def data_run(scale: str, mf: Path | None, repeats: int, workdir: Path) -> None:
    """run_all.py at one scale, then a full `metricsctl build` of the project it left."""
    work = workdir / f"data-{scale}"
    out = RESULTS / f"data-{scale}.json"
    command = [sys.executable, str(BENCH / "run_all.py"), "--scale", scale, "--skip-compile", "--repeats",
               str(repeats), "--workdir", str(work), "--out", str(out)]
    if mf is not None:
        command += ["--mf", str(mf)]
    say(f"{scale}: bench/run_all.py")
    log = workdir / f"run_all-{scale}.log"
    run_child(command, log)
    project = work / "project"
    say(f"{scale}: metricsctl build --full-refresh")
    # `-m`, not `-c`: under `python -c` pyspark (imported by Great Expectations) takes the run for its doctests
    child = run_child([sys.executable, "-m", "metricsctl.cli", "build", "--project-dir", str(project), "--as-of",
                       AS_OF, "--exclude", "resource_type:seed", "--full-refresh"],
                      work / "logs" / "metricsctl_build.log", cwd=project, env=dbt_env(project), check=False)
    record = json.loads((project / "target" / "metricsctl_run.json").read_text())
    build = record.get("build", record)
    result = json.loads(out.read_text())
    result["metricsctl_build"] = {"returncode": child.returncode, "wall_seconds": round(child.seconds, 2),
                                  "peak_mb": round(child.peak_mb), "success": build.get("success"),
                                  "phases": build.get("phases")}
    out.write_text(json.dumps(result, indent=2))
    if child.returncode != 0:
        raise SystemExit(f"{scale}: metricsctl build failed ({child.returncode})\n{child.tail()}")


def compile_run(metrics: int, mf: Path | None, workdir: Path) -> None:
    saved = max(1, metrics // 5)
    command = [sys.executable, str(BENCH / "compile_bench.py"), "--metrics", str(metrics), "--saved-queries",
               str(saved), "--workdir", str(workdir / f"compile-{metrics}"), "--out",
               str(RESULTS / f"compile-{metrics}.json")]
    if mf is not None:
        command += ["--mf", str(mf), "--mf-sample", "40"]
    say(f"compile: {metrics:,} metrics, {saved:,} saved queries")
    run_child(command, workdir / f"compile-{metrics}.log")


def _exports(result: dict[str, Any]) -> dict[str, float]:
    """Total seconds of each variant's exports: the median of each export's interleaved runs, summed."""
    totals: dict[str, float] = {}
    for times in result["exports"]["exports"].values():
        for variant, runs in times["seconds"].items():
            ordered = sorted(runs)
            totals[variant] = totals.get(variant, 0.0) + ordered[len(ordered) // 2]
    return totals


def _largest(peaks: dict[str, Any]) -> str:
    """The export that needs the most memory under metricsctl: its peak, and the floor's for the same export."""
    ours = peaks["metricsctl"]["export_peak_mb"]
    export = max(ours, key=ours.get)
    floor = peaks["floor"]["export_peak_mb"].get(export)
    return f"`{export}` {ours[export]:,} / {floor:,} MB ({ours[export] / floor:.2f}x)" if floor else "-"


def table() -> str:
    data = sorted((json.loads(p.read_text()) for p in RESULTS.glob("data-*.json")), key=lambda r: r["order_lines"])
    compiles = sorted((json.loads(p.read_text()) for p in RESULTS.glob("compile-*.json")), key=lambda r: r["metrics"])
    out = ["| order lines | exports: metricsctl | floor | MetricFlow | metricsctl / floor | MetricFlow / metricsctl "
           "| largest export's peak memory (metricsctl / floor) | dbt build, staging + marts + tests "
           "| `metricsctl build --full-refresh` "
           "| its phases: parse / sources and staging / expectations / metric models |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in data:
        e = _exports(r)
        mf = e.get("metricflow")
        peaks = r["variant_pass"]
        build = r.get("metricsctl_build", {})
        phases = build.get("phases") or {}
        split = " / ".join(f"{phases[k]:.1f}" for k in PHASES if k in phases)
        out.append(
            f"| {r['order_lines']:,} | {e['metricsctl']:.2f} s | {e['floor']:.2f} s | "
            + (f"{mf:.2f} s" if mf else "-") + f" | {e['metricsctl'] / e['floor']:.2f}x | "
            + (f"{mf / e['metricsctl']:.2f}x" if mf else "-")
            + f" | {_largest(peaks)}"
            + f" | {r['build']['models_and_tests']['seconds']:.1f} s"
            + (f" | {build['wall_seconds']:.1f} s" if build else " | -")
            + (f" | {split} s |" if split else " | - |"))
    if compiles:
        out += ["", "| metrics / saved queries | metricsctl's own work (CPU) | load and validate | render | "
                "`metricsctl compile`, manifest up to date | dbt parse (dbt's work) | peak memory |",
                "|---|---|---|---|---|---|---|"]
        for c in compiles:
            m = c["metricsctl"]
            out.append(f"| {c['metrics']:,} / {c['saved_queries']:,} | {m['own_total_cpu']:.2f} s | "
                       f"{m['load_and_validate_cpu']:.2f} s | {m['render_models_cpu']:.2f} s | "
                       f"{m['cli_compile_seconds']:.1f} s | {c['dbt_parse']['seconds']:.1f} s | "
                       f"{m['cli_compile_peak_mb']:.0f} MB |")
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="100k,1m,10m", help="order lines, comma-separated ('' for none)")
    parser.add_argument("--metrics", default="1000,5000", help="metric counts to compile ('' for none)")
    parser.add_argument("--mf", type=Path, default=None, help="MetricFlow's `mf` executable (its venv)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/metricsctl-scaling"))
    parser.add_argument("--table-only", action="store_true", help="only write the table from earlier results")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if not args.table_only:
        args.workdir.mkdir(parents=True, exist_ok=True)
        mf = args.mf if args.mf is not None and args.mf.exists() else None
        for scale in filter(None, args.scales.split(",")):
            parse_count(scale)  # a clear error for a bad scale before anything runs
            data_run(scale, mf, args.repeats, args.workdir.resolve())
        for count in filter(None, args.metrics.split(",")):
            compile_run(int(count), mf, args.workdir.resolve())
    text = table()
    (RESULTS / "scaling.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
