"""Publishing candidate schemas on PostgreSQL: every relation moved into place in one transaction.

Each published relation moves to `<target schema>__retired` and its candidate moves into its place
(`ALTER ... SET SCHEMA`). A view follows the relations it reads by identity, not by name: a candidate view
moved into place reads the candidate tables moved with it, and a view kept at its published rows keeps
reading the tables it read before. Readers see every old relation until the commit and every new one after
it; a query running at the commit finishes on the old ones first. Retired relations that no relation of the
project still reads are dropped in the same transaction (with the views of one's own built on them, as dbt
itself does when it replaces a table). A second build is refused by an advisory lock on the target schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from metricsctl.errors import WarehouseError
from metricsctl.profiles import Target
from metricsctl.publish_schemas import NAME_LIMIT, RELATION_TYPES, RETIRED, Name, SchemaStage
from metricsctl.warehouse import first_line, quote_identifier


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

    def prepare(self, stage: SchemaStage) -> None:
        """Nothing to prepare: candidate schemas hold their relations' data."""

    def discard(self, stage: SchemaStage) -> None:
        """Nothing beyond the candidate schemas to discard."""

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


__all__ = ["PostgresCatalog", "PostgresLock"]
