"""Write, audit, publish on PostgreSQL and Spark: a build writes candidate schemas beside the published ones.

dbt parses the project as usual (target/manifest.json keeps the published names). metricsctl then points
every model, seed and snapshot the build selects at a candidate schema, `<schema>__candidate`, in the
parsed manifest dbt runs from, so `ref()`, `{{ this }}` and dbt's tests read and write the candidates.
Incremental models and snapshots start from a copy of their published table. The expectation suites
audit the candidates; a relation that failed an audit or a dbt test, or was built from one, is not
published: readers keep its published rows. Relations outside the build (sources, metricsctl's own
tables: expectation results, alert state and history) are never moved.

How each engine puts what passed in place:
- PostgreSQL (metricsctl/publish_postgres.py) moves every relation into place in one transaction:
  readers see every old relation until the commit and every new one after it.
- Spark (metricsctl/publish_spark.py) has no transaction across tables: it writes each candidate table's
  files into a folder of their own, then points the published table at them with one metastore change
  (`ALTER TABLE ... SET LOCATION`), table by table: a reader never meets a missing table (but for a
  table whose columns changed: that one is swapped in by two renames).

A second build of the same target is refused while one runs: a PostgreSQL advisory lock on the target
schema, a lock file beside Spark's warehouse folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from metricsctl import settings
from metricsctl.errors import DbtError, WarehouseError
from metricsctl.profiles import Target
from metricsctl.project import DbtProject, quiet_dbt_environment, raise_if_interrupted
from metricsctl.publish import BuildLock, Stage
from metricsctl.unchanged import record
from metricsctl.warehouse import first_line, quote_identifier

if TYPE_CHECKING:
    from metricsctl.expectations import Relation, Suite
    from metricsctl.publish import FindUnchanged
    from metricsctl.runner import DbtRun

ENGINES = ("postgres", "spark")
CANDIDATE = "__candidate"
RETIRED = "__retired"
KEPT = "__metricsctl_kept"
NAME_LIMIT = {"postgres": 63}  # PostgreSQL truncates longer identifiers
RELATION_TYPES = ("model", "seed", "snapshot")

Name = tuple[str, str]  # (schema, identifier) as dbt's manifest writes them


def candidate_schema(schema: str, engine: str) -> str:
    name = schema + CANDIDATE
    limit = NAME_LIMIT.get(engine)
    if limit is not None and len(name) > limit:
        raise WarehouseError(f"schema '{schema}': its candidate schema '{name}' is longer than {engine}'s "
                             f"{limit} characters; use a schema name of at most {limit - len(CANDIDATE)}")
    return name


class Catalog(Protocol):
    """What publishing needs of an engine."""

    def kinds(self, schema: str) -> dict[str, str]:
        """identifier -> 'table' or 'view', for the relations of `schema` (empty when it does not exist)."""

    def prepare(self, stage: SchemaStage) -> None:
        """Ready the engine for a build into `stage`'s candidates (before anything is written)."""

    def copy_table(self, source: Name, target: Name) -> None: ...

    def drop_schema(self, schema: str) -> None: ...

    def discard(self, stage: SchemaStage) -> None:
        """Remove what a failed build wrote besides its candidate schemas."""

    def publish(self, stage: SchemaStage) -> None: ...

    def close(self) -> None: ...


@dataclass
class SchemaStage(Stage):
    """A build into candidate schemas; `publish` puts what passed its audit in place."""

    catalog: Catalog | None = None
    live_project: DbtProject | None = None  # dbt on the published names (Spark re-creates views through it)
    nodes: dict[str, Name] = field(default_factory=dict)  # unique_id -> its published (schema, identifier)
    candidates: dict[str, str] = field(default_factory=dict)  # published schema -> its candidate schema
    fqns: dict[str, str] = field(default_factory=dict)  # unique_id -> dbt's `fqn:` selector
    built: set[str] = field(default_factory=set)  # unique_ids dbt built in the candidates
    kept: set[Name] = field(default_factory=set)  # published relations that stay as they are

    def ran(self, run: DbtRun) -> None:
        self.built |= {n.unique_id for n in run.nodes if n.status == "success" and n.unique_id in self.nodes}
        self.built -= {n.unique_id for n in run.failed}

    def audited(self, suites: list[Suite]) -> list[Suite]:
        return [dataclasses.replace(
            suite, relation=self._candidate(suite.relation),
            expectations=tuple(dataclasses.replace(e, to=self._candidate(e.to)) if e.to else e
                               for e in suite.expectations)) for suite in suites]

    def _candidate(self, relation: Relation) -> Relation:
        if relation.unique_id not in self.built or relation.schema is None:
            return relation  # a source, or a relation outside the build or not built yet: read where it is
        return dataclasses.replace(relation, schema=self.candidates[relation.schema])

    def restore(self, relations: Sequence[tuple[str, str]]) -> list[str]:
        """Keep each (schema, identifier) relation at its published rows: its candidate is not published."""
        assert self.catalog is not None
        done: list[str] = []
        for schema, name in relations:
            if (schema, name) not in self.nodes.values():
                continue  # not written by this build: nothing to keep
            self.kept.add((schema, name))
            if _has(self.catalog.kinds(schema), name) or _has(self.catalog.kinds(self.candidates[schema]), name):
                done.append(f"{schema}.{name}")
        self.restored += done
        return done

    def published(self) -> list[tuple[str, Name]]:
        """(unique_id, published name) of each relation to publish: built, and not kept."""
        return [(uid, name) for uid, name in sorted(self.nodes.items())
                if uid in self.built and name not in self.kept]


def _has(kinds: dict[str, str], name: str) -> bool:
    return name in kinds or name.lower() in kinds


def _kind(kinds: dict[str, str], name: str) -> str | None:
    return kinds.get(name, kinds.get(name.lower()))


# --- the stage ----------------------------------------------------------------------------------------
@contextlib.contextmanager
def staged_in_schemas(project: DbtProject, target: Target, select: Sequence[str] = (), exclude: Sequence[str] = (),
                      full_refresh: bool = False, unchanged: FindUnchanged | None = None) -> Iterator[Stage]:
    """Build into candidate schemas and publish them when the block ends normally; drop them on an error.
    What `unchanged` finds the build leaves as it is gets no candidate: it is read where it is published."""
    with build_lock(target):
        catalog = _catalog(target)
        try:
            stage = _stage(project, target, catalog, select, exclude, unchanged)
            for schema in sorted(set(stage.candidates.values())):
                catalog.drop_schema(schema)  # what a killed build left behind
            catalog.prepare(stage)
            if not full_refresh:
                _copy_incremental(stage, catalog)
            try:
                yield stage
            except BaseException:
                with contextlib.suppress(Exception):
                    for schema in sorted(set(stage.candidates.values())):
                        catalog.drop_schema(schema)
                    catalog.discard(stage)
                raise
            catalog.publish(stage)
            # the state of what was published, before the lock goes: no build between the two reads a state
            # older than the tables
            record(target, project.project_dir, stage.state)
        finally:
            catalog.close()


def _catalog(target: Target) -> Catalog:
    if target.type == "postgres":
        from metricsctl.publish_postgres import PostgresCatalog

        return PostgresCatalog(target)
    from metricsctl.publish_spark import SparkCatalog

    return SparkCatalog(target)


def _stage(project: DbtProject, target: Target, catalog: Catalog, select: Sequence[str],
           exclude: Sequence[str], unchanged: FindUnchanged | None = None) -> SchemaStage:
    """The parsed manifest with every relation the build selects pointed at its candidate schema."""
    manifest = parse(project)
    found = unchanged(target) if unchanged is not None else None
    selected = _selected(project, manifest, select, [*exclude, *(found.selectors if found else ())])
    records = _records_written(manifest, selected)
    if records:
        selected += records
        if found is not None:  # built, so that what their hooks write is published with the rest
            found = found.building({uid: "fqn:" + ".".join(manifest.nodes[uid].fqn) for uid in records})
    stage = SchemaStage(project, target, manifest=manifest, catalog=catalog, live_project=project,
                        dbt_target_path=project.target_dir / "metricsctl_candidate", unchanged=found)
    for uid in selected:
        node = manifest.nodes.get(uid)
        if node is None or node.resource_type.value not in RELATION_TYPES or not node.schema:
            continue
        if getattr(node.config, "materialized", None) == "ephemeral":
            continue
        live = str(node.schema)
        candidate = stage.candidates.setdefault(live, candidate_schema(live, target.type))
        stage.nodes[uid] = (live, str(node.alias or node.identifier or node.name))
        stage.fqns[uid] = "fqn:" + ".".join(node.fqn)
        node.schema = candidate
        if node.relation_name:
            node.relation_name = _renamed(str(node.relation_name), live, candidate, target.type)
    return stage


def _renamed(relation_name: str, schema: str, candidate: str, engine: str) -> str:
    quote = "`" if engine == "spark" else '"'
    quoted = quote_identifier(schema, quote)
    if quoted + "." in relation_name:
        return relation_name.replace(quoted + ".", quote_identifier(candidate, quote) + ".", 1)
    return relation_name.replace(schema + ".", candidate + ".", 1)


def parse(project: DbtProject) -> Any:
    """dbt's parsed Manifest of the project. target/manifest.json is written as usual, unless it is the one
    of the project as it is now (then writing it again, about a second for a large project, changes nothing)."""
    quiet_dbt_environment()
    project.activate()
    from dbt.cli.main import dbtRunner

    written = ["--no-write-json"] if project.parsed_as_is() else []
    result = dbtRunner().invoke(project.dbt_args(["parse", "--log-level", "none", *written]))
    raise_if_interrupted(result)
    if result.exception is not None or not result.success or result.result is None:
        raise DbtError(f"dbt parse failed: {first_line(result.exception or ValueError('no manifest'))}")
    return result.result


def _selected(project: DbtProject, manifest: Any, select: Sequence[str], exclude: Sequence[str]) -> list[str]:
    """The unique_ids of the models, seeds and snapshots the build's --select/--exclude pick."""
    from dbt.cli.main import dbtRunner

    args = ["ls", "--resource-type", "model", "--resource-type", "seed", "--resource-type", "snapshot",
            "--output", "json", "--output-keys", "unique_id", "--log-level", "none", "--quiet"]
    if select:
        args += ["--select", *select]
    if exclude:
        args += ["--exclude", *exclude]
    result = dbtRunner(manifest=manifest).invoke(project.dbt_args(args))
    raise_if_interrupted(result)
    if result.exception is not None or not result.success:
        raise DbtError(f"dbt ls failed: {first_line(result.exception or ValueError('no nodes'))}")
    return [str(json.loads(line)["unique_id"]) for line in result.result or []]


def _copy_incremental(stage: SchemaStage, catalog: Catalog) -> None:
    """Incremental models and snapshots build on their published rows: copy them into the candidate. So does a
    table behind a semantic model that keeps a `rewritten_record`, where `metric_values` reads records (tables
    take DELETE): its run compares its new rows with the table as it stands to record the days it rewrites
    (the demo's `record_changed_rows`), which in the candidate would otherwise be no table at all."""
    from metricsctl.compiler.dialects import updates_rows

    assert stage.manifest is not None
    recorded = _recorded_tables(stage.manifest) if updates_rows(stage.target.type) else set()
    for uid, (schema, name) in sorted(stage.nodes.items()):
        node = stage.manifest.nodes[uid]
        if node.resource_type.value != "snapshot" and getattr(node.config, "materialized", None) != "incremental" \
                and uid not in recorded:
            continue
        if _kind(catalog.kinds(schema), name) == "table":
            catalog.copy_table((schema, name), (stage.candidates[schema], name))


def _records_written(manifest: Any, selected: Sequence[str]) -> list[str]:
    """The `rewritten_record` models the build leaves out (nothing of theirs changed) that a selected model
    writes: `metric_values` empties them in its post-hook, a recorded table's run adds its days in its
    pre-hook. Their writes must land in their candidates, published with the rest or not at all: in the
    published tables they would stay when the build is stopped, and `metric_values` would never recompute
    the days it emptied."""
    names: set[str] = set()
    for semantic_model in manifest.semantic_models.values():
        record = settings.of_object(semantic_model.config).get("rewritten_record")
        if isinstance(record, str):
            names.add(record)
    project = manifest.metadata.project_name
    records = {uid for uid, node in manifest.nodes.items() if node.resource_type.value == "model"
               and node.name in names and node.package_name == project}
    chosen = set(selected)
    writers = chosen & ({uid for uid, node in manifest.nodes.items()
                         if records & set(getattr(node.depends_on, "nodes", ()))} | _recorded_tables(manifest))
    return sorted(records - chosen) if writers else []


def _recorded_tables(manifest: Any) -> set[str]:
    """The unique_ids of the models behind semantic models that name a `rewritten_record`."""
    found: set[str] = set()
    for semantic_model in manifest.semantic_models.values():
        if settings.of_object(semantic_model.config).get("rewritten_record"):
            found.update(semantic_model.depends_on.nodes)
    return found


# --- the build lock ------------------------------------------------------------------------------------
@contextlib.contextmanager
def build_lock(target: Target) -> Iterator[None]:
    """One writer of a target at a time: an advisory lock on PostgreSQL, a lock file beside Spark's warehouse."""
    if target.type == "postgres":
        from metricsctl.publish_postgres import PostgresLock

        lock = PostgresLock(target)
        try:
            yield
        finally:
            lock.release()
        return
    folder = (target.config.get("server_side_parameters") or {}).get("spark.sql.warehouse.dir", "spark-warehouse")
    file_lock = BuildLock(Path(os.path.abspath(str(folder))))
    file_lock.acquire()
    try:
        yield
    finally:
        file_lock.release()


__all__ = ["ENGINES", "SchemaStage", "build_lock", "staged_in_schemas"]
