"""Running dbt in-process, and letting go of the warehouse afterwards."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metricsctl.errors import DbtError, WarehouseError
from metricsctl.project import DbtProject, quiet_dbt_environment, raise_if_interrupted


@dataclass(frozen=True)
class NodeResult:
    unique_id: str
    status: str
    message: str
    seconds: float
    rows: int | None = None


@dataclass
class DbtRun:
    command: list[str]
    success: bool
    seconds: float
    nodes: list[NodeResult] = field(default_factory=list)

    @property
    def failed(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.status in ("error", "fail", "runtime error")]


def release_duckdb() -> None:
    """dbt-duckdb keeps its database open after `invoke`; close it so other clients can open the file."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:
        return
    env = DuckDBConnectionManager._ENV
    if env is not None:
        try:
            env.close()
        finally:
            DuckDBConnectionManager._ENV = None


def run_dbt(project: DbtProject, command: list[str],
            on_node: Callable[[str, str], None] | None = None, manifest: Any = None,
            target_path: Path | None = None) -> DbtRun:
    """`dbt <command>` on the project, silent; `on_node(unique_id, status)` hears each finished node.

    With `manifest` (a parsed dbt Manifest) dbt runs from it instead of parsing the project, and
    `target_path` keeps what it writes (compiled SQL, run_results.json) out of the project's target/. Such a
    run leaves manifest.json and semantic_manifest.json as the parse wrote them: dbt would write both again
    after every run (together 0.3-0.9 s of an idle nightly build of the demo, side by side), only adding the
    compiled code of the nodes it ran, which readers of the manifest render themselves (lineage/columns.py).
    Node results are returned; an error of dbt itself is raised as DbtError, a locked warehouse as
    WarehouseError.
    """
    quiet_dbt_environment()
    project.activate()
    from dbt.cli.main import dbtRunner

    from metricsctl.since_last_build import hear

    errors: list[str] = []
    raised: list[BaseException] = []

    def collect(event: Any) -> None:
        try:
            if event.info.name == "NodeFinished" and on_node is not None:
                info = event.data.node_info
                on_node(str(info.unique_id), str(info.node_status))
            elif event.info.name in ("JinjaLogDebug", "JinjaLogInfo"):
                hear(str(event.info.msg))  # a model may say which rows it rewrote (since_last_build.py)
            elif event.info.level == "error" and event.info.msg:
                errors.append(str(event.info.msg))
        except BaseException as exc:  # noqa: BLE001 - raised once dbt returns: in its worker threads it hangs dbt
            raised.append(exc)

    started = time.perf_counter()
    try:
        extra = ["--target-path", str(target_path)] if target_path is not None else []
        extra.append("--no-use-colors")  # a failed unit test's diff comes as text, not terminal escapes
        if manifest is not None:
            extra.append("--no-write-json")  # run_results.json is written below, the manifests are the parse's
        result = dbtRunner(manifest=manifest, callbacks=[collect]).invoke(
            project.dbt_args([*command, *extra, "--log-level", "none"]))
        if manifest is not None and hasattr(result.result, "write"):
            result.result.write(str((target_path or project.target_dir) / "run_results.json"))
    finally:
        release_duckdb()
    if raised:
        raise raised[0]
    seconds = time.perf_counter() - started
    raise_if_interrupted(result)  # dbt cancelled its queries
    if result.exception is not None:
        text = str(result.exception)
        if "lock" in text.lower():
            raise WarehouseError("the warehouse is in use by another process (another build or a "
                                 "query is running); try again when it has finished")
        raise DbtError(f"dbt {command[0]} failed: {text}")
    nodes: list[NodeResult] = []
    for r in getattr(result.result, "results", None) or []:
        rows = (r.adapter_response or {}).get("rows_affected") if hasattr(r, "adapter_response") else None
        nodes.append(NodeResult(r.node.unique_id, str(getattr(r.status, "value", r.status)),
                                str(r.message or ""), float(r.execution_time or 0.0),
                                int(rows) if isinstance(rows, int) else None))
    if not result.success and not nodes and errors:
        raise DbtError(f"dbt {command[0]} failed: {errors[-1]}")
    return DbtRun(command, bool(result.success), seconds, nodes)
