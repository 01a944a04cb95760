"""Publishing candidate databases on Spark: each table switches to its new files in one metastore change.

Where the files are. Every table a build writes into a candidate database is an external table whose files
lie in a folder of their own, `<published database folder>/__metricsctl_versions/<build>/<table>` (dbt's
`location_root`, which metricsctl sets for the build; a model with a `location_root` of its own gets the
same sub-folders under it). Dropping the candidate database therefore keeps them. Incremental models and
snapshots start from a copy of their published table in that folder.

Publishing a table whose file format and columns (names, types, partition columns) are unchanged is one
metastore change, `ALTER TABLE <published> SET LOCATION '<its new folder>'`, so no table is copied at
publish: a reader resolves the table before the change (and reads the old files) or after it (the new
ones), never a missing table and never a mix. A partitioned table is published without its partitions
listed in the metastore (Spark finds them in the folder), so that one change moves all of them. The folder
a table read before stays until the table's next publish, so a query planned on the old files finishes
on them; older folders, and those a killed build left, go then. The files of a table kept at its published
rows are deleted at once.

A new table is created over its folder. Only a table whose format or columns changed, or that is a view or
a managed table now (written by dbt directly), is put in place otherwise: created under a hidden name over
its new folder and swapped in by two renames (the published relation to `<name>__metricsctl_old`, the new
one to `<name>`). Between those two renames a query naming that table fails with "table not found".

Tables switch one at a time, so a query joining two of them can see one new and one old. Views are
re-created by dbt afterwards (`CREATE OR REPLACE VIEW`, atomic each) and read the new tables by name from
the moment those are in place. A view kept at its published rows first becomes a view over a table of
those rows (`<name>__metricsctl_kept`), so that new tables under it cannot change what it returns.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from metricsctl.errors import WarehouseError
from metricsctl.profiles import Target
from metricsctl.publish_schemas import KEPT, Name, SchemaStage, _has, _kind
from metricsctl.warehouse import quote_identifier

VERSIONS = "__metricsctl_versions"
UNTRACKED = "spark.sql.hive.manageFilesourcePartitions"  # false when created: partitions found in the folder


@dataclass(frozen=True)
class Table:
    """What publishing needs to know of a Spark table."""

    external: bool
    provider: str
    location: str
    columns: tuple[tuple[str, str, bool, bool], ...]  # (name, type, partition column?, bucket column?)
    partitions_in_metastore: bool

    @property
    def partitioned(self) -> bool:
        return any(partition for _, _, partition, _ in self.columns)

    def switchable_to(self, new: Table) -> bool:
        """Whether pointing this (published) table at `new`'s folder publishes `new` exactly."""
        return (self.external and self.provider == new.provider and self.columns == new.columns
                and not self.partitions_in_metastore)


class SparkCatalog:
    """Candidate databases in the session's metastore, published table by table."""

    def __init__(self, target: Target) -> None:
        from metricsctl.warehouse import SparkWarehouse

        self.target = target
        self.warehouse = SparkWarehouse(target.config)
        self.folders: dict[Name, str] = {}  # candidate (schema, name) -> the folder its files are written to
        self.versions: dict[Name, str] = {}  # published (schema, name) -> the folder of its versions

    def _run(self, sql: str) -> list[tuple[Any, ...]]:
        return self.warehouse.execute(sql).rows

    def kinds(self, schema: str) -> dict[str, str]:
        if not self.warehouse.session.catalog.databaseExists(schema):
            return {}
        # SHOW TABLES lists views too; it asks the metastore once (listTables asks once per table)
        views = {str(r[1]).lower() for r in self._run(f"SHOW VIEWS IN {_spark(schema)}") if not r[2]}
        return {str(r[1]).lower(): "view" if str(r[1]).lower() in views else "table"
                for r in self._run(f"SHOW TABLES IN {_spark(schema)}") if not r[2]}

    def prepare(self, stage: SchemaStage) -> None:
        """Put back a table a killed build left renamed (`_swap`), then point every relation of the build at a
        folder of this build's own (dbt's `location_root`)."""
        assert stage.manifest is not None
        for schema in sorted(stage.candidates):
            kinds = self.kinds(schema)
            for hidden in sorted(k for k, kind in kinds.items() if kind == "table" and k.endswith(OLD)):
                name = hidden.removesuffix(OLD)
                if not _has(kinds, name):  # killed between `_swap`'s two renames: readers found no table
                    self._run(f"ALTER TABLE {_spark(schema, hidden)} RENAME TO {_spark(schema, name)}")
            for hidden in sorted(k for k, kind in kinds.items() if kind == "table" and k.endswith(NEW)):
                self._run(f"DROP TABLE IF EXISTS {_spark(schema, hidden)}")  # its files go with its table's sweep
        build = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)
        databases: dict[str, str] = {}
        for uid, (schema, name) in sorted(stage.nodes.items()):
            config = stage.manifest.nodes[uid].config
            if schema not in databases:
                databases[schema] = self._database_folder(schema)
            root = str(config.get("location_root") or databases[schema]).rstrip("/")
            if "'" in root or "\\" in root:  # dbt writes location_root into its SQL as it is
                raise WarehouseError(f"spark target '{self.target.name}': the folder '{root}' of {schema}.{name} "
                                     "holds a quote or a backslash; choose a warehouse folder without them")
            self.versions[(schema, name)] = f"{root}/{VERSIONS}"
            config["location_root"] = f"{root}/{VERSIONS}/{build}"
            self.folders[(stage.candidates[schema], name)] = f"{root}/{VERSIONS}/{build}/{name}"

    def _database_folder(self, schema: str) -> str:
        self._run(f"CREATE DATABASE IF NOT EXISTS {_spark(schema)}")
        info = {str(r[0]): str(r[1]) for r in self._run(f"DESCRIBE DATABASE {_spark(schema)}")}
        return info["Location"]

    def copy_table(self, source: Name, target: Name) -> None:
        self._run(f"CREATE DATABASE IF NOT EXISTS {_spark(target[0])}")
        self._run(f"CREATE TABLE {_spark(*target)} LIKE {_spark(*source)} LOCATION {_string(self.folders[target])}")
        self._run(f"INSERT INTO {_spark(*target)} SELECT * FROM {_spark(*source)}")

    def drop_schema(self, schema: str) -> None:
        self._run(f"DROP DATABASE IF EXISTS {_spark(schema)} CASCADE")

    def discard(self, stage: SchemaStage) -> None:
        """The files this build wrote: nothing of them is published."""
        self._delete_folders(self.folders.values())

    def publish(self, stage: SchemaStage) -> None:
        """Kept views frozen on their rows, then each table switched to its new files, then the views
        re-created by dbt; the files of tables not published are deleted."""
        for schema, name in sorted(stage.kept):
            if _kind(self.kinds(schema), name) == "view" and not _has(self.kinds(schema), name + KEPT):
                self._run(f"CREATE TABLE {_spark(schema, name + KEPT)} AS SELECT * FROM {_spark(schema, name)}")
                self._run(f"CREATE OR REPLACE VIEW {_spark(schema, name)} AS SELECT * FROM "
                          f"{_spark(schema, name + KEPT)}")
        views: list[str] = []
        published: list[Name] = []
        kinds = {schema: self.kinds(schema) for schema in {*stage.candidates, *stage.candidates.values()}}
        for uid, (schema, name) in stage.published():
            new = _kind(kinds[stage.candidates[schema]], name)
            if new == "view":
                views.append(uid)
            elif new == "table":
                self._publish_table(schema, name, stage.candidates[schema], _kind(kinds[schema], name))
                published.append((schema, name))
        for schema, name in published:
            # a reader that looked the table up while it switched may have cached a plan on the old files
            self._run(f"REFRESH TABLE {_spark(schema, name)}")
        if views:
            self._recreate_views(stage, views)
        for schema in sorted(set(stage.candidates.values())):
            self.drop_schema(schema)
        names = {(stage.candidates[schema], name) for schema, name in published}
        # the files of a table kept at its published rows (a view has none)
        self._delete_folders(folder for candidate, folder in self.folders.items() if candidate not in names)

    def _recreate_views(self, stage: SchemaStage, views: list[str]) -> None:
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

    def _publish_table(self, schema: str, name: str, candidate: str, kind: str | None) -> None:
        """The published `name` (a table, a view or none) switched to the candidate table's files."""
        new = self._table(candidate, name)
        if not new.external:  # dbt ignored location_root: its files go with the candidate database
            self._run(f"ALTER TABLE {_spark(candidate, name)} RENAME TO {_spark(candidate, name + '__managed')}")
            self._run(f"CREATE TABLE {_spark(candidate, name)} LIKE {_spark(candidate, name + '__managed')} "
                      f"LOCATION {_string(self.folders[(candidate, name)])}")
            self._run(f"INSERT INTO {_spark(candidate, name)} SELECT * FROM {_spark(candidate, name + '__managed')}")
            new = self._table(candidate, name)
        old = self._table(schema, name) if kind == "table" else None
        if kind is None:
            self._create(_spark(schema, name), _spark(candidate, name), new)
        elif old is not None and old.switchable_to(new):
            self._run(f"ALTER TABLE {_spark(schema, name)} SET LOCATION {_string(new.location)}")
        else:
            self._swap(schema, name, candidate, kind, new)
        self._run(f"DROP TABLE IF EXISTS {_spark(schema, name + KEPT)}")
        keep = {self._qualified(new.location)} | ({self._qualified(old.location)} if old is not None else set())
        self._sweep(self.versions[(schema, name)], name, keep)

    def _swap(self, schema: str, name: str, candidate: str, kind: str, new: Table) -> None:
        """A new published table over `new`'s files, put in place by two renames."""
        hidden, old = name + NEW, name + OLD
        self._run(f"DROP TABLE IF EXISTS {_spark(schema, hidden)}")
        self._create(_spark(schema, hidden), _spark(candidate, name), new)
        if kind == "view":
            self._run(f"DROP VIEW {_spark(schema, name)}")
        elif kind == "table":
            self._run(f"DROP TABLE IF EXISTS {_spark(schema, old)}")
            self._run(f"ALTER TABLE {_spark(schema, name)} RENAME TO {_spark(schema, old)}")
        self._run(f"ALTER TABLE {_spark(schema, hidden)} RENAME TO {_spark(schema, name)}")
        self._run(f"DROP TABLE IF EXISTS {_spark(schema, old)}")  # an external one leaves its files to _sweep

    def _create(self, table: str, like: str, new: Table) -> None:
        """An external table over `new`'s folder, with its columns (and no partitions in the metastore)."""
        location = _string(new.location)
        if not new.partitioned or not re.fullmatch(r"\w+", new.provider):
            self._run(f"CREATE TABLE {table} LIKE {like} LOCATION {location}")
            return
        columns = self.warehouse.session.table(like).schema.toDDL()
        partitions = ", ".join(_spark(c) for c, _, partition, _ in new.columns if partition)
        conf = self.warehouse.session.conf
        previous = str(conf.get(UNTRACKED, "true"))
        conf.set(UNTRACKED, "false")
        try:
            self._run(f"CREATE TABLE {table} ({columns}) USING {new.provider} PARTITIONED BY ({partitions}) "
                      f"LOCATION {location}")
        finally:
            conf.set(UNTRACKED, previous)

    def _table(self, schema: str, name: str) -> Table:
        info: dict[str, str] = {}
        detail = False
        for key, value, *_ in self._run(f"DESCRIBE TABLE EXTENDED {_spark(schema, name)}"):
            detail = detail or key == "# Detailed Table Information"
            if detail:
                info[str(key)] = str(value)
        columns = tuple((c.name.lower(), c.dataType, bool(c.isPartition), bool(c.isBucket))
                        for c in self.warehouse.session.catalog.listColumns(_spark(schema, name)))
        return Table(info.get("Type") == "EXTERNAL", info.get("Provider", "").lower(), info.get("Location", ""),
                     columns, info.get("Partition Provider") == "Catalog")

    # --- folders, through Hadoop's file system (a local folder or a cluster's storage alike) -------------
    def _path(self, uri: str) -> tuple[Any, Any]:
        context = self.warehouse.session.sparkContext
        path = context._jvm.org.apache.hadoop.fs.Path(uri)  # type: ignore[union-attr]
        return path.getFileSystem(context._jsc.hadoopConfiguration()), path  # type: ignore[union-attr]

    def _qualified(self, uri: str) -> str:
        fs, path = self._path(uri)
        return str(fs.makeQualified(path).toString())

    def _delete(self, uri: str) -> None:
        fs, path = self._path(uri)
        fs.delete(path, True)

    def _delete_if_empty(self, uri: str) -> None:
        fs, path = self._path(uri)
        if fs.exists(path) and not fs.listStatus(path):
            fs.delete(path, False)

    def _delete_folders(self, folders: Iterable[str]) -> None:
        """These folders of this build, then this build's folder if nothing is left in it."""
        for folder in sorted(folders):
            self._delete(folder)
        for build in sorted({folder.rsplit("/", 1)[0] for folder in self.folders.values()}):
            self._delete_if_empty(build)

    def _sweep(self, versions: str, name: str, keep: set[str]) -> None:
        """Every folder of `name` among its versions, but those in `keep`; then each build's folder left empty."""
        fs, path = self._path(versions)
        if not fs.exists(path):
            return
        for build in fs.listStatus(path):
            folder = f"{build.getPath().toString()}/{name}"
            if self._qualified(folder) not in keep:
                self._delete(folder)
            self._delete_if_empty(str(build.getPath().toString()))

    def close(self) -> None:
        self.warehouse.close()


OLD = "__metricsctl_old"  # a published table's name while `_swap` puts a new one in its place
NEW = "__metricsctl_new"  # the new one's before it


def _spark(*parts: str) -> str:
    return ".".join(quote_identifier(p, "`") for p in parts)


def _string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


__all__ = ["SparkCatalog"]
