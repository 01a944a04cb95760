"""CPU seconds of each step of compiling a project, in this process, as `metricsctl compile` runs them.

    python bench/compile_steps.py /path/to/project    # a project compile_bench.py wrote (its synth/ folder)
    python bench/compile_steps.py /path/to/project --after-edit
    python bench/compile_steps.py /path/to/project --after-edit --cold


Prints one JSON line: the imports, loading and validating the semantic manifest (`Spec.load` with
locations, no cache), the 200 exports, `metric_values`, `metric_catalog`, and the whole render
(`Materializer.models()`: the steps named, reading dbt's manifest, and collecting each model's garbage
after it), with the process's peak memory in MB. CPU time (`time.process_time()`), since wall time on a
shared machine depends on what else runs. Where the models are compiled in forked processes
(metricsctl/forked.py; `METRICSCTL_COMPILE_PROCESSES=1` turns them off), the steps named are timed in those
processes and not reported; `workers` is their CPU, `total_with_workers` the whole compile's, and
`render_wall` and `total_wall` the wall seconds of the render and of metricsctl's own work. To compare two
versions, run this script with each version's
interpreter in turn, several times, interleaved (BENCHMARKS.md, section 3). The project's dbt manifest
must be up to date: a stale one is parsed again first, inside the render's time.

`--after-edit` times what `metricsctl compile` does after a metric was edited: it changes the label of
the first metric in the project's YAML (so the semantic manifest's bytes change), runs `dbt parse` as
metricsctl does (in this process; dbt's CPU is reported as `dbt_parse`, apart from the total), then loads
the spec as the CLI does (the stamp of validated manifests and the spec cache under target/, both stale
for the new manifest unless the parse stamped it) and renders with the models kept under target/ by the
run before (a model whose inputs the edit did not touch is read back, metricsctl/model_cache.py), as the
CLI does. Metricsctl's own check after the parse (`stamp_check`, that the manifest dbt validated is the one
it wrote) counts in the total. The first such run on a project fills the cache; time the runs after it.

`--cold` (with `--after-edit`) times a project's first `metricsctl compile`: as above, but with nothing of
metricsctl's kept under target/ (the generated models, the spec, the YAML location index are removed before
the parse), so every model is compiled. dbt's parse, run by metricsctl, validates the manifest, as it does
whenever it parses anything.
"""

from __future__ import annotations

import time

started = time.process_time()

import collections  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
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


def edit_first_label(project: DbtProject) -> None:
    """A new label for the first metric whose YAML has one: the semantic manifest changes, nothing else."""
    for folder in project.paths("model-paths"):
        for path in sorted((project.project_dir / folder).rglob("*.yml")):
            text = path.read_text(encoding="utf-8")
            if not re.search(r"^metrics:", text, re.M):
                continue
            edited, count = re.subn(r"^(\s*label: [^\n]*?)( v\d+)?$", rf"\1 v{time.time_ns()}", text,
                                    count=1, flags=re.M)
            if count:
                path.write_text(edited, encoding="utf-8")
                return
    raise SystemExit(f"{project.project_dir}: no metric with a label to edit")


def main() -> int:
    imported = time.process_time()
    Materializer._export = timed("exports", Materializer._export)  # type: ignore[method-assign]
    Materializer._metric_values = timed("metric_values", Materializer._metric_values)  # type: ignore[method-assign]
    Materializer._metric_catalog = timed("metric_catalog", Materializer._metric_catalog)  # type: ignore[method-assign]
    project = DbtProject.at(sys.argv[1])
    parsed: dict[str, float] = {}
    wall_stamp_check = 0.0
    options: dict[str, Any] = {}
    render_options: dict[str, Any] = {}
    if "--after-edit" in sys.argv[2:]:
        try:
            from metricsctl import validated  # noqa: PLC0415 - absent before this check existed
        except ImportError:
            pass
        else:
            validated.stamp_if_dbt_validated = timed("stamp_check", validated.stamp_if_dbt_validated)  # type: ignore[method-assign]
        edit_first_label(project)
        if "--cold" in sys.argv[2:]:
            for kept in ("metricsctl_models.json", "metricsctl_spec.pickle", "metricsctl_locations.json"):
                (project.target_dir / kept).unlink(missing_ok=True)
        begun = time.process_time()
        project.semantic_manifest()  # runs dbt parse, as `metricsctl compile` does
        parsed["dbt_parse"] = time.process_time() - begun - spent["stamp_check"]
        wall_stamp_check = spent["stamp_check"]  # CPU-bound: its CPU time stands for its wall time
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        parsed["children_before"] = before.ru_utime + before.ru_stime  # dbt's own subprocesses, if any
        options = {"validated_stamp": project.target_dir / "metricsctl_validated.txt",
                   "cache": project.target_dir / "metricsctl_spec.pickle"}
        try:
            from metricsctl.model_cache import MODELS_CACHE_FILE  # noqa: PLC0415 - absent before models were kept
        except ImportError:
            pass
        else:
            render_options = {"cache": project.target_dir / MODELS_CACHE_FILE}
    t0, w0 = time.process_time(), time.perf_counter()
    spec = Spec.load(project.semantic_manifest_path, project.locations(), **options)
    t1, w1 = time.process_time(), time.perf_counter()
    Materializer(spec, project, "duckdb", **render_options).models()
    t2, w2 = time.process_time(), time.perf_counter()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers = children.ru_utime + children.ru_stime - parsed.pop("children_before", 0.0)
    own = t2 - t0 + spent["stamp_check"]
    result = {"import": imported - started, **parsed, "load": t1 - t0, **spent, "render": t2 - t1, "total": own,
              "workers": workers, "total_with_workers": own + workers,
              "render_wall": w2 - w1, "total_wall": w2 - w0 + wall_stamp_check}
    print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                      **{k: round(v, 2) for k, v in result.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
