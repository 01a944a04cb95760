"""Time `metricsctl docs generate` on a built project and weigh the site it writes.

    metricsctl build --as-of 2025-07-01          # the demo, once
    python bench/site_bench.py --project-dir . --as-of 2025-07-01 [--repeats 5]

Each run is a fresh process (`metricsctl docs generate`), so the time includes starting Python and
reading the project, as a user sees it; the first run also parses the project when it changed. The
budgets are 10 s and 5 MB for the demo.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_SECONDS = 10.0
BUDGET_BYTES = 5_000_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project-dir", default=".")
    parser.add_argument("--as-of", default=None, help="passed to docs generate")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="metricsctl-site-bench-")) / "site"
    command = [sys.executable, "-m", "metricsctl.cli", "docs", "generate", "--project-dir", args.project_dir,
               "--out", str(out)] + (["--as-of", args.as_of] if args.as_of else [])
    times = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    files = {f.name: f.stat().st_size for f in sorted(out.iterdir())}
    total = sum(files.values())
    print(f"docs generate: median {statistics.median(times):.2f} s (fastest {min(times):.2f} s, "
          f"first {times[0]:.2f} s) over {len(times)} runs; budget {BUDGET_SECONDS:.0f} s")
    print(f"site: {total / 1e6:.2f} MB; budget {BUDGET_BYTES / 1e6:.0f} MB")
    for name, size in files.items():
        print(f"  {name:<20} {size / 1e3:>9.1f} kB")
    return 0 if statistics.median(times) < BUDGET_SECONDS and total < BUDGET_BYTES else 1


if __name__ == "__main__":
    sys.exit(main())
