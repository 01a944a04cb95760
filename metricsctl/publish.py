"""Write, audit, publish: a build writes a candidate warehouse, and readers only ever see a published one.

On a DuckDB target the candidate is a copy of the warehouse file in a hidden folder beside it
(`.metricsctl-candidate/<same name>`: the same file name keeps the catalog name that views refer to).
dbt builds into the copy (through a copy of the profile whose only change is the `path`), the expectation
suites audit it, and every relation that failed an audit, or is downstream of one, is put back to the rows
the published warehouse holds (tables and views alike; a view comes back as a table of its previous rows
until the next good build replaces it). Then the copy replaces the published file with one atomic rename.

Readers (BI tools, `metricsctl query`) keep reading the published file during the whole build, because the
build never opens it for writing; one that has it open while the rename happens keeps reading the old
file until it reconnects. A build killed at any point leaves the published file as it was. A second build
is refused while one runs (a lock file beside the warehouse).

PostgreSQL and Spark build into candidate schemas beside the published ones and publish those
(metricsctl/publish_schemas.py); any other engine builds in place.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from metricsctl.errors import WarehouseError
from metricsctl.profiles import Target, write_profile_with_path
from metricsctl.project import DbtProject

if TYPE_CHECKING:
    from metricsctl.expectations import Suite
    from metricsctl.runner import DbtRun
    from metricsctl.unchanged import State, Unchanged

    FindUnchanged = Callable[[Target], Unchanged]

CANDIDATE_DIR = ".metricsctl-candidate"
PROFILE_DIR = "metricsctl_candidate_profile"


@dataclass
class Stage:
    """Where a build writes: the candidate (or, in place, the target itself)."""

    project: DbtProject  # dbt pointed at the candidate
    target: Target  # the candidate's target (a copy of the real one with another path)
    live: Path | None = None  # the published DuckDB file
    candidate: Path | None = None  # the copy being built
    restored: list[str] = field(default_factory=list)  # relations put back to their published rows
    manifest: Any = None  # a parsed dbt Manifest whose nodes point at candidate relations (candidate schemas)
    dbt_target_path: Path | None = None  # where dbt writes when it runs from that manifest
    unchanged: Unchanged | None = None  # what the build leaves as it is (metricsctl/unchanged.py)
    state: State | None = None  # the build's state, recorded with what it publishes

    def dbt(self, command: list[str], on_node: Callable[[str, str], None] | None = None) -> DbtRun:
        """`dbt <command>`, writing where this stage writes."""
        from metricsctl.runner import run_dbt

        run = run_dbt(self.project, command, on_node, self.manifest, self.dbt_target_path)
        self.ran(run)
        return run

    def ran(self, run: DbtRun) -> None:
        """Hears each dbt run of the build (a candidate-schema stage publishes only what dbt built)."""

    def audited(self, suites: list[Suite]) -> list[Suite]:
        """The suites, reading the relations this stage writes."""
        return suites

    def restore(self, relations: Sequence[tuple[str, str]]) -> list[str]:
        """Put each (schema, name) relation of the candidate back to the rows the published warehouse holds
        (dropped when it had none). Returns the names restored."""
        if self.candidate is None or not relations:
            return []
        import duckdb

        from metricsctl.runner import release_duckdb

        release_duckdb()
        con = duckdb.connect(":memory:")
        catalog = _catalog_name(self.candidate)
        try:
            con.execute(f"ATTACH {_string(self.candidate)} AS metricsctl_candidate")
            previous = set()
            if self.live is not None and self.live.exists():
                con.execute(f"ATTACH {_string(self.live)} AS {_quote(catalog)} (READ_ONLY)")
                previous = _relations(con, catalog)
            current = _relation_kinds(con, "metricsctl_candidate")
            done: list[str] = []
            for schema, name in relations:
                kind = current.get((schema.lower(), name.lower()))
                target = f"metricsctl_candidate.{_quote(schema)}.{_quote(name)}"
                if kind is not None:
                    con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} {target}")
                if (schema.lower(), name.lower()) in previous:
                    con.execute(f"CREATE SCHEMA IF NOT EXISTS metricsctl_candidate.{_quote(schema)}")
                    con.execute(f"CREATE TABLE {target} AS SELECT * FROM {_quote(catalog)}.{_quote(schema)}."
                                f"{_quote(name)}")
                if kind is not None or (schema.lower(), name.lower()) in previous:
                    done.append(f"{schema}.{name}")
            self.restored += done
            return done
        except duckdb.Error as exc:
            raise WarehouseError(f"{self.candidate}: could not restore the published rows: {exc}") from None
        finally:
            con.close()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _string(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _catalog_name(path: Path) -> str:
    """DuckDB names a file's catalog after the file name up to its first dot."""
    return path.name.split(".")[0]


def _relations(con: Any, catalog: str) -> set[tuple[str, str]]:
    rows = con.execute("SELECT lower(table_schema), lower(table_name) FROM information_schema.tables "
                       "WHERE table_catalog = ?", [catalog]).fetchall()
    return {(str(s), str(n)) for s, n in rows}


def _relation_kinds(con: Any, catalog: str) -> dict[tuple[str, str], str]:
    rows = con.execute("SELECT lower(table_schema), lower(table_name), table_type FROM information_schema.tables "
                       "WHERE table_catalog = ?", [catalog]).fetchall()
    return {(str(s), str(n)): str(t) for s, n, t in rows}


def duckdb_file(target: Target) -> Path | None:
    """The DuckDB file a target writes, or None (another engine, or an in-memory database)."""
    if target.type != "duckdb":
        return None
    path = str(target.config.get("path", ":memory:"))
    if path == ":memory:" or path.startswith("md:"):
        return None
    return Path(os.path.abspath(path))  # dbt resolves a relative path against the working directory


# --- the build lock ---------------------------------------------------------------------------------
class BuildLock:
    """One writer of a published warehouse at a time, across processes (an advisory lock file)."""

    def __init__(self, warehouse: Path) -> None:
        self.path = warehouse.parent / f".{warehouse.name}.lock"
        self.handle: IO[str] | None = None

    def acquire(self) -> None:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise WarehouseError(f"{self.path.parent / self.path.name[1:-5]}: another build (or alert run) is "
                                 "writing this warehouse; try again when it has finished") from None
        self.handle = handle

    def release(self) -> None:
        if self.handle is not None:
            self.handle.close()  # closing the file releases the lock
            self.handle = None


@contextlib.contextmanager
def writer_lock(target: Target) -> Iterator[None]:
    """Hold the warehouse's build lock while writing to the published file (alert state, check results)."""
    path = duckdb_file(target)
    if path is None:
        from metricsctl.publish_schemas import ENGINES, build_lock

        with build_lock(target) if target.type in ENGINES else contextlib.nullcontext():
            yield
        return
    lock = BuildLock(path)
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


# --- the candidate ----------------------------------------------------------------------------------
def _candidate_profile(project: DbtProject, target: Target, candidate: Path) -> Path:
    """The project's profile with only the target's `path` changed (profiles.write_profile_with_path)."""
    return write_profile_with_path(project.resolved_profiles_dir(), target, str(candidate),
                                   project.target_dir / PROFILE_DIR)


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _written_in_background(*paths: Path) -> threading.Thread:
    """Start writing the copied files to disk while the build parses the project and imports dbt.

    A copy first lands in memory; the first commit dbt makes in it (or the publishing, whichever comes first)
    would otherwise wait for the whole file to reach the disk: about a second per gigabyte of warehouse. The
    build joins the thread before it publishes or discards the copy. A failure here is left to the publishing's
    own fsync, which reports it."""
    def work() -> None:
        for path in paths:
            with contextlib.suppress(OSError), open(path, "rb") as f:
                os.fsync(f.fileno())

    thread = threading.Thread(target=work, name="metricsctl-candidate-fsync", daemon=True)
    thread.start()
    return thread


class _Background:
    """`work()` in a thread of its own, started at once; `result()` waits for it and returns or raises what it
    did."""

    def __init__(self, work: Callable[[], Any], name: str, started: list[_Background]) -> None:
        started.append(self)
        self._outcome: list[Any] = []
        self._failure: list[BaseException] = []

        def run() -> None:
            try:
                self._outcome.append(work())
            except BaseException as exc:  # noqa: BLE001 - raised again by result(), in the caller's thread
                self._failure.append(exc)

        self._thread = threading.Thread(target=run, name=name, daemon=True)
        self._thread.start()

    def join(self) -> None:
        self._thread.join()

    def result(self) -> Any:
        self._thread.join()
        if self._failure:
            raise self._failure[0]
        return self._outcome[0]


def _copied(live: Path, candidate: Path, wal: Path, written: list[threading.Thread]) -> None:
    """Copy the published warehouse (and its WAL) to the candidate, and start writing the copy to disk (the
    thread is added to `written`)."""
    if not live.exists():
        return
    shutil.copyfile(live, candidate)
    if Path(f"{live}.wal").exists():
        shutil.copyfile(f"{live}.wal", wal)
    written.append(_written_in_background(candidate, wal))


def _joined(threads: Sequence[threading.Thread | _Background]) -> None:
    for thread in threads:
        thread.join()


@contextlib.contextmanager
def staged(project: DbtProject, target: Target, select: Sequence[str] = (), exclude: Sequence[str] = (),
           full_refresh: bool = False, unchanged: FindUnchanged | None = None) -> Iterator[Stage]:
    """Build into a candidate and publish it when the block ends normally; discard it on an error.

    `select`, `exclude` and `full_refresh` are the build's: a candidate schema holds what they select.
    `unchanged`, given the target to read, says what the build leaves as it is (`stage.unchanged`); the
    block's `stage.state` is recorded with what it publishes."""
    from metricsctl.unchanged import record

    live = duckdb_file(target)
    if live is None:
        from metricsctl.publish_schemas import ENGINES, staged_in_schemas

        if target.type in ENGINES:
            with staged_in_schemas(project, target, select, exclude, full_refresh, unchanged) as stage:
                yield stage  # its state is recorded once the candidates are published, under the build's lock
            return
        stage = Stage(project, target)
        stage.unchanged = unchanged(target) if unchanged is not None else None
        yield stage
        record(target, project.project_dir, stage.state)
        return
    lock = BuildLock(live)
    lock.acquire()
    folder = live.parent / CANDIDATE_DIR
    candidate = folder / live.name
    wal = Path(f"{candidate}.wal")
    background: list[_Background] = []
    written: list[threading.Thread] = []  # the thread writing the copy to disk
    try:
        folder.mkdir(exist_ok=True)
        _remove(candidate, wal)
        # while this thread imports dbt and parses the project, one copies the warehouse to the candidate and
        # another reads the state keys from the published file, which the lock keeps equal to the copy
        copied = _Background(lambda: _copied(live, candidate, wal, written), "metricsctl-candidate-copy", background)
        looked = (_Background(lambda: unchanged(target), "metricsctl-unchanged", background)
                  if unchanged is not None else None)
        profiles = _candidate_profile(project, target, candidate)
        manifest = parsed_manifest(project)
        copied.result()
        stage = Stage(dataclasses.replace(project, profiles_dir=profiles, target=target.name),
                      Target(target.profile, target.name, {**target.config, "path": str(candidate)}), live,
                      candidate, manifest=manifest)
        try:
            stage.unchanged = looked.result() if looked is not None else None
            yield stage
            record(stage.target, project.project_dir, stage.state)  # in the candidate: published with it
        except BaseException:
            _joined(written)
            _discard(candidate, wal)
            raise
        _joined(written)
        _publish(candidate, live)
    finally:
        _joined(background)  # none is left touching the files once the lock is released
        _joined(written)
        shutil.rmtree(project.target_dir / PROFILE_DIR, ignore_errors=True)
        lock.release()


def parsed_manifest(project: DbtProject) -> Any:
    """dbt's parsed Manifest of the project, for the candidate's dbt runs to start from.

    dbt parses the project again whenever the profile differs from the one of its last parse, and the
    candidate's profile differs from the project's in its `path`: each `dbt build` of the candidate would
    parse the whole project, and the next `dbt parse` with the project's profile would do it again. The
    candidate's file has the warehouse's file name, so the catalog, schemas and relation names dbt resolves
    are the same with either profile: the candidate is built from the manifest of a `dbt parse` with the
    project's own profile, which dbt parses partially (only what changed since its last parse)."""
    from metricsctl.publish_schemas import parse

    return parse(project)


def _discard(candidate: Path, wal: Path) -> None:
    from metricsctl.runner import release_duckdb

    release_duckdb()
    _remove(candidate, wal)


def _publish(candidate: Path, live: Path) -> None:
    """Make the candidate the published warehouse in one atomic rename."""
    import duckdb

    from metricsctl.runner import release_duckdb

    release_duckdb()
    if not candidate.exists():
        return  # nothing was built (an empty selection): the published file stays as it is
    try:
        con = duckdb.connect(str(candidate))
        con.execute("CHECKPOINT")  # everything in the file itself: no write-ahead log to carry along
        con.close()
    except duckdb.Error as exc:
        raise WarehouseError(f"{candidate}: the built warehouse cannot be published: {exc}") from None
    with open(candidate, "rb") as f:
        os.fsync(f.fileno())
    _remove(Path(f"{live}.wal"))  # a log of the old file must never be replayed onto the new one
    os.replace(candidate, live)
    directory = os.open(live.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def relations_of(manifest: Mapping[str, Any], unique_ids: Sequence[str]) -> list[tuple[str, str]]:
    """(schema, identifier) of each model, seed, snapshot or source among `unique_ids`."""
    nodes = {**(manifest.get("nodes") or {}), **(manifest.get("sources") or {})}
    found: list[tuple[str, str]] = []
    for uid in unique_ids:
        node = nodes.get(uid)
        if not node or node.get("resource_type") not in ("model", "seed", "snapshot", "source"):
            continue
        if node.get("resource_type") == "model" and (node.get("config") or {}).get("materialized") == "ephemeral":
            continue
        name = node.get("identifier") or node.get("alias") or node.get("name")
        if node.get("schema") and name:
            found.append((str(node["schema"]), str(name)))
    return found
