"""CPU seconds of each step of compiling a project, in this process, as `metricsctl compile` runs them.

    python bench/compile_steps.py /path/to/project    # a project compile_bench.py wrote (its synth/ folder)

Prints one JSON line: the imports, loading and validating the semantic manifest (`Spec.load` with
locations, no cache), the 200 exports, `metric_values`, `metric_catalog`, and the whole render
(`Materializer.models()`: the steps named, reading dbt's manifest, and collecting each model's garbage
after it), with the process's peak memory in MB. CPU time (`time.process_time()`), since wall time on a
shared machine depends on what else runs. To compare two versions, run this script with each version's
interpreter in turn, several times, interleaved (BENCHMARKS.md, section 3). The project's dbt manifest
must be up to date: a stale one is parsed again first, inside the render's time.
"""

from __future__ import annotations

import time

started = time.process_time()

import collections  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

from metricsctl.materialize import Materializer  # noqa: E402
from metricsctl.project import DbtProject  # noqa: E402
from metricsctl.spec import Spec  # noqa: E402

spent: collections.Counter[str] = collections.Counter()


def timed(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        begun = time.process_time()
        try:
            return method(*args, **kwargs)
        finally:
            spent[name] += time.process_time() - begun

    return wrapper


def main() -> int:
    imported = time.process_time()
    Materializer._export = timed("exports", Materializer._export)  # type: ignore[method-assign]
    Materializer._metric_values = timed("metric_values", Materializer._metric_values)  # type: ignore[method-assign]
    Materializer._metric_catalog = timed("metric_catalog", Materializer._metric_catalog)  # type: ignore[method-assign]
    project = DbtProject.at(sys.argv[1])
    t0 = time.process_time()
    spec = Spec.load(project.semantic_manifest_path, project.locations())
    t1 = time.process_time()
    Materializer(spec, project, "duckdb").models()
    t2 = time.process_time()
    result = {"import": imported - started, "load": t1 - t0, **spent, "render": t2 - t1, "total": t2 - t0}
    print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                      **{k: round(v, 2) for k, v in result.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
