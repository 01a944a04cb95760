"""`metricsctl build` with each dbt parse it causes recorded: `python bench/parse_count.py OUT.json build ...`.

Every parse dbt runs in the process (metricsctl's own `dbt parse`, and each `dbt build` that is not handed a
parsed manifest) is recorded with its wall and CPU seconds and whether dbt parsed partially; OUT.json gets
them and the process's CPU seconds. Section 2 of BENCHMARKS.md runs it on a `daily_incremental.py` folder:

    cp <folder>/before.duckdb <folder>/project/warehouse.duckdb
    python bench/parse_count.py parses.json build --project-dir <folder>/project --as-of 2025-07-01 \\
        --exclude resource_type:seed
"""

from __future__ import annotations

import json
import resource
import runpy
import sys
import time
from pathlib import Path
from typing import Any


def main() -> None:
    from dbt.parser import manifest as loader

    records: list[dict[str, Any]] = []
    state: dict[str, bool] = {}
    real_load, real_check = loader.ManifestLoader.get_full_manifest, loader.ManifestLoader.is_partial_parsable

    def check(self: Any, manifest: Any) -> Any:
        valid, reason = real_check(self, manifest)
        state["partial"] = valid
        return valid, reason

    def load(*args: Any, **kwargs: Any) -> Any:
        state["partial"] = False
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return real_load(*args, **kwargs)
        finally:
            records.append({"seconds": round(time.perf_counter() - wall, 3),
                            "cpu_seconds": round(time.process_time() - cpu, 3), "partial": state["partial"]})

    loader.ManifestLoader.is_partial_parsable = check  # type: ignore[method-assign]
    loader.ManifestLoader.get_full_manifest = staticmethod(load)  # type: ignore[method-assign, assignment]
    out = Path(sys.argv[1])
    sys.argv = ["metricsctl", *sys.argv[2:]]
    code: object = 0
    try:
        runpy.run_module("metricsctl.cli", run_name="__main__")
    except SystemExit as exc:
        code = exc.code
    finally:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        out.write_text(json.dumps({"parses": records, "process_cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
                                   "exit": code}, indent=1))
    sys.exit(code if isinstance(code, int) else 1)


if __name__ == "__main__":
    main()
