"""Write, audit, publish on PostgreSQL and Spark: a build writes candidate schemas beside the published ones.

dbt parses the project as usual (target/manifest.json keeps the published names). metricsctl then points
every model, seed and snapshot the build selects at a candidate schema, `<schema>__candidate`, in the
parsed manifest dbt runs from, so `ref()`, `{{ this }}` and dbt's tests read and write the candidates.
Incremental models and snapshots start from a copy of their published table. The expectation suites
audit the candidates; a relation that failed an audit or a dbt test, or was built from one, is not
published: readers keep its published rows. Relations outside the build (sources, metricsctl's own
tables: expectation results, alert state and history) are never moved.

PostgreSQL publishes in one transaction (its DDL is transactional): each published relation moves to
`<target schema>__retired` and its candidate moves into its place (`ALTER ... SET SCHEMA`). A view follows
the relations it reads by identity, not by name: a candidate view moved into place reads the candidate
tables moved with it, and a view kept at its published rows keeps reading the tables it read before.
Readers see every old relation until the commit and every new one after it; a query running at the
commit finishes on the old ones first. Retired relations that no relation of the project still reads are
dropped in the same transaction (with the views of one's own built on them, as dbt itself does when it
replaces a table).

Spark (a local session, no transaction across tables) publishes relation by relation: each table is
copied into the published database under a hidden name, then swapped in by two renames (the published
table to `<name>__metricsctl_old`, the copy to `<name>`); between those two renames a query naming that
table fails with "table not found". Tables switch one at a time; views are re-created afterwards by dbt
(`CREATE OR REPLACE VIEW`, atomic each) and read the new tables by name from the moment those are in
place. A view kept at its published rows first becomes a view over a table of those rows
(`<name>__metricsctl_kept`), so that new tables under it cannot change what it returns.

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

from metricsctl.errors import DbtError, WarehouseError
from metricsctl.profiles import Target
from metricsctl.project import DbtProject, quiet_dbt_environment
from metricsctl.publish import BuildLock, Stage
from metricsctl.warehouse import first_line, quote_identifier

if TYPE_CHECKING:
    from metricsctl.expectations import Relation, Suite
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

    def copy_table(self, source: Name, target: Name) -> None: ...

    def drop_schema(self, schema: str) -> None: ...

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
                      full_refresh: bool = False) -> Iterator[Stage]:
    """Build into candidate schemas and publish them when the block ends normally; drop them on an error."""
    with build_lock(target):
        catalog: Catalog = PostgresCatalog(target) if target.type == "postgres" else SparkCatalog(target)
        try:
            stage = _stage(project, target, catalog, select, exclude)
            for schema in sorted(set(stage.candidates.values())):
                catalog.drop_schema(schema)  # what a killed build left behind
            if not full_refresh:
                _copy_incremental(stage, catalog)
            try:
                yield stage
            except BaseException:
                with contextlib.suppress(Exception):
                    for schema in sorted(set(stage.candidates.values())):
                        catalog.drop_schema(schema)
                raise
            catalog.publish(stage)
        finally:
            catalog.close()


def _stage(project: DbtProject, target: Target, catalog: Catalog, select: Sequence[str],
           exclude: Sequence[str]) -> SchemaStage:
    """The parsed manifest with every relation the build selects pointed at its candidate schema."""
    manifest = _parse(project)
    selected = _selected(project, manifest, select, exclude)
    stage = SchemaStage(project, target, manifest=manifest, catalog=catalog, live_project=project,
                        dbt_target_path=project.target_dir / "metricsctl_candidate")
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


def _parse(project: DbtProject) -> Any:
    """dbt's parsed Manifest of the project (target/manifest.json is written as usual)."""
    quiet_dbt_environment()
    project.activate()
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(project.dbt_args(["parse", "--log-level", "none"]))
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
    if result.exception is not None or not result.success:
        raise DbtError(f"dbt ls failed: {first_line(result.exception or ValueError('no nodes'))}")
    return [str(json.loads(line)["unique_id"]) for line in result.result or []]


def _copy_incremental(stage: SchemaStage, catalog: Catalog) -> None:
    """Incremental models and snapshots build on their published rows: copy them into the candidate."""
    assert stage.manifest is not None
    for uid, (schema, name) in sorted(stage.nodes.items()):
        node = stage.manifest.nodes[uid]
        if node.resource_type.value != "snapshot" and getattr(node.config, "materialized", None) != "incremental":
            continue
        if _kind(catalog.kinds(schema), name) == "table":
            catalog.copy_table((schema, name), (stage.candidates[schema], name))


# --- the build lock ------------------------------------------------------------------------------------
@contextlib.contextmanager
def build_lock(target: Target) -> Iterator[None]:
    """One writer of a target at a time: an advisory lock on PostgreSQL, a lock file beside Spark's warehouse."""
    if target.type == "postgres":
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


class PostgresLock:
    """A session advisory lock on the target's schema, held by a connection of its own."""

    def __init__(self, target: Target) -> None:
        from metricsctl.warehouse import PostgresWarehouse

        schema = str(target.config.get("schema", "public"))
        self.warehouse = PostgresWarehouse(target.config, read_only=False)
        held = self.warehouse.execute(
            f"SELECT pg_try_advisory_lock(hashtext('metricsctl build'), hashtext({_literal(schema)}))").rows[0][0]
        if not held:
            self.warehouse.close()
            raise WarehouseError(f"postgres target '{target.name}' (schema {schema}): another build (or alert run) "
                                 "is writing it; try again when it has finished")

    def release(self) -> None:
        self.warehouse.close()  # closing the session releases its advisory locks


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --- PostgreSQL -----------------------------------------------------------------------------------------
PG_KINDS = {"r": "TABLE", "p": "TABLE", "f": "FOREIGN TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW"}

# the relations that project relations in `roots` read, through views, at any depth
PG_NEEDED = """
WITH RECURSIVE needed(oid) AS (
    SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE (n.nspname, c.relname) IN (SELECT * FROM unnest(%s::text[], %s::text[]))
    UNION
    SELECT d.refobjid FROM needed
      JOIN pg_rewrite r ON r.ev_class = needed.oid
      JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                      AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> needed.oid
)
SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'f', 'v', 'm') AND c.oid NOT IN (SELECT oid FROM needed)
 ORDER BY c.relkind = 'v' DESC, c.relname
"""


class PostgresCatalog:
    """Candidate schemas in the target's database, published in one transaction."""

    def __init__(self, target: Target) -> None:
        from metricsctl.warehouse import PostgresWarehouse

        self.target = target
        self.warehouse = PostgresWarehouse(target.config, read_only=False)
        self.connection = self.warehouse.connection
        # the target's own schema holds metricsctl's tables (audit results) from the first build on
        self._run(f"CREATE SCHEMA IF NOT EXISTS {_pg(str(target.config.get('schema', 'public')))}")

    def _run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        import psycopg2

        try:
            with self.connection.cursor() as cursor:
                cursor.execute(sql, list(params) or None)
                return list(cursor.fetchall()) if cursor.description is not None else []
        except psycopg2.Error as exc:
            raise WarehouseError(f"postgres target '{self.target.name}': {first_line(exc)}") from None

    def _relations(self, schema: str) -> dict[str, tuple[str, int]]:
        rows = self._run("SELECT c.relname, c.relkind, c.oid FROM pg_class c JOIN pg_namespace n "
                         "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'f', 'v', 'm')",
                         [schema])
        return {str(name): (PG_KINDS[str(kind)], int(oid)) for name, kind, oid in rows}

    def kinds(self, schema: str) -> dict[str, str]:
        return {name: "view" if "VIEW" in kind else "table" for name, (kind, _) in self._relations(schema).items()}

    def copy_table(self, source: Name, target: Name) -> None:
        self._run(f"CREATE SCHEMA IF NOT EXISTS {_pg(target[0])}")
        self._run(f"CREATE TABLE {_pg(*target)} (LIKE {_pg(*source)} INCLUDING ALL)")
        self._run(f"INSERT INTO {_pg(*target)} SELECT * FROM {_pg(*source)}")

    def drop_schema(self, schema: str) -> None:
        self._run(f"DROP SCHEMA IF EXISTS {_pg(schema)} CASCADE")

    def publish(self, stage: SchemaStage) -> None:
        """Every relation to publish moved into place, in one transaction."""
        retired = candidate_retired(str(self.target.config.get("schema", "public")))
        self.connection.autocommit = False
        try:
            self._run(f"CREATE SCHEMA IF NOT EXISTS {_pg(retired)}")
            for _, (schema, name) in stage.published():
                candidate = stage.candidates[schema]
                new = self._relations(candidate).get(name)
                if new is None:
                    continue  # dbt reported it built, but it is not there (a no-op): keep the published one
                self._run(f"CREATE SCHEMA IF NOT EXISTS {_pg(schema)}")
                old = self._relations(schema).get(name)
                if old is not None:
                    hidden = f"r{old[1]}"  # its oid: unique among retired relations
                    self._run(f"ALTER {old[0]} {_pg(schema, name)} RENAME TO {_pg(hidden)}")
                    self._run(f"ALTER {old[0]} {_pg(schema, hidden)} SET SCHEMA {_pg(retired)}")
                self._run(f"ALTER {new[0]} {_pg(candidate, name)} SET SCHEMA {_pg(schema)}")
            roots = sorted(set(stage.nodes.values()) | self._project_relations(stage))
            for name, kind in self._run(PG_NEEDED, [[s for s, _ in roots], [n for _, n in roots], retired]):
                self._run(f"DROP {PG_KINDS[str(kind)]} IF EXISTS {_pg(retired, str(name))} CASCADE")
            for schema in sorted(set(stage.candidates.values())):
                self._run(f"DROP SCHEMA IF EXISTS {_pg(schema)} CASCADE")
            if not self._relations(retired):
                self._run(f"DROP SCHEMA {_pg(retired)}")
            self.connection.commit()
        except BaseException:
            self.connection.rollback()
            raise
        finally:
            self.connection.autocommit = True

    def _project_relations(self, stage: SchemaStage) -> set[Name]:
        """Every model, seed and snapshot of the project, built this time or not."""
        assert stage.manifest is not None
        found: set[Name] = set()
        for uid, node in stage.manifest.nodes.items():
            if node.resource_type.value in RELATION_TYPES and node.schema:
                found.add(stage.nodes.get(uid, (str(node.schema), str(node.alias or node.name))))
        return found

    def close(self) -> None:
        self.warehouse.close()


def candidate_retired(schema: str) -> str:
    name = schema + RETIRED
    if len(name) > NAME_LIMIT["postgres"]:
        raise WarehouseError(f"schema '{schema}': its retired schema '{name}' is longer than postgres's 63 "
                             f"characters; use a schema name of at most {63 - len(RETIRED)}")
    return name


def _pg(*parts: str) -> str:
    return ".".join(quote_identifier(p) for p in parts)


# --- Spark ------------------------------------------------------------------------------------------------
class SparkCatalog:
    """Candidate databases in the session's metastore, published relation by relation."""

    def __init__(self, target: Target) -> None:
        from metricsctl.warehouse import SparkWarehouse

        self.target = target
        self.warehouse = SparkWarehouse(target.config)

    def _run(self, sql: str) -> list[tuple[Any, ...]]:
        return self.warehouse.execute(sql).rows

    def kinds(self, schema: str) -> dict[str, str]:
        if not self.warehouse.session.catalog.databaseExists(schema):
            return {}
        # SHOW TABLES lists views too; it asks the metastore once (listTables asks once per table)
        views = {str(r[1]).lower() for r in self._run(f"SHOW VIEWS IN {_spark(schema)}") if not r[2]}
        return {str(r[1]).lower(): "view" if str(r[1]).lower() in views else "table"
                for r in self._run(f"SHOW TABLES IN {_spark(schema)}") if not r[2]}

    def copy_table(self, source: Name, target: Name) -> None:
        self._run(f"CREATE DATABASE IF NOT EXISTS {_spark(target[0])}")
        self._run(f"CREATE TABLE {_spark(*target)} LIKE {_spark(*source)}")
        self._run(f"INSERT INTO {_spark(*target)} SELECT * FROM {_spark(*source)}")

    def drop_schema(self, schema: str) -> None:
        self._run(f"DROP DATABASE IF EXISTS {_spark(schema)} CASCADE")

    def publish(self, stage: SchemaStage) -> None:
        """Kept views frozen on their rows, then each table swapped in, then the views re-created by dbt."""
        for schema, name in sorted(stage.kept):
            if _kind(self.kinds(schema), name) == "view" and not _has(self.kinds(schema), name + KEPT):
                self._run(f"CREATE TABLE {_spark(schema, name + KEPT)} AS SELECT * FROM {_spark(schema, name)}")
                self._run(f"CREATE OR REPLACE VIEW {_spark(schema, name)} AS SELECT * FROM "
                          f"{_spark(schema, name + KEPT)}")
        views: list[str] = []
        kinds = {schema: self.kinds(schema) for schema in {*stage.candidates, *stage.candidates.values()}}
        for uid, (schema, name) in stage.published():
            new = _kind(kinds[stage.candidates[schema]], name)
            if new == "view":
                views.append(uid)
            elif new == "table":
                self._swap_table(schema, name, stage.candidates[schema], _kind(kinds[schema], name))
        if views:
            assert stage.live_project is not None
            from metricsctl.runner import run_dbt

            run = run_dbt(stage.live_project, ["run", "--select", *[stage.fqns[uid] for uid in views]])
            if not run.success:
                failed = ", ".join(n.unique_id for n in run.failed) or "dbt run"
                raise WarehouseError(f"spark target '{self.target.name}': the audited tables are published, but "
                                     f"re-creating their views failed ({failed}); run the build again")
            for uid in views:
                schema, name = stage.nodes[uid]
                self._run(f"DROP TABLE IF EXISTS {_spark(schema, name + KEPT)}")
        for schema in sorted(set(stage.candidates.values())):
            self.drop_schema(schema)

    def _swap_table(self, schema: str, name: str, candidate: str, kind: str | None) -> None:
        """The candidate table copied beside the published `name` (a table, a view or none), then renamed in."""
        new, old = name + "__metricsctl_new", name + "__metricsctl_old"
        self._run(f"CREATE DATABASE IF NOT EXISTS {_spark(schema)}")
        self._run(f"DROP TABLE IF EXISTS {_spark(schema, new)}")
        self._run(f"CREATE TABLE {_spark(schema, new)} LIKE {_spark(candidate, name)}")
        self._run(f"INSERT INTO {_spark(schema, new)} SELECT * FROM {_spark(candidate, name)}")
        if kind == "view":
            self._run(f"DROP VIEW {_spark(schema, name)}")
        elif kind == "table":
            self._run(f"DROP TABLE IF EXISTS {_spark(schema, old)}")
            self._run(f"ALTER TABLE {_spark(schema, name)} RENAME TO {_spark(schema, old)}")
        self._run(f"ALTER TABLE {_spark(schema, new)} RENAME TO {_spark(schema, name)}")
        self._run(f"DROP TABLE IF EXISTS {_spark(schema, old)}")
        self._run(f"DROP TABLE IF EXISTS {_spark(schema, name + KEPT)}")

    def close(self) -> None:
        self.warehouse.close()


def _spark(*parts: str) -> str:
    return ".".join(quote_identifier(p, "`") for p in parts)


__all__ = ["ENGINES", "SchemaStage", "build_lock", "staged_in_schemas"]
