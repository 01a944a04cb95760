"""Warehouses that answer queries: a Protocol and its implementations (DuckDB, PostgreSQL, Spark).

Each opens the warehouse a dbt target points at with that engine's own client, so a query, an expectation
suite or an alert rule runs where dbt built the tables. Everything engine-specific about connecting lives
here; what differs in SQL lives in compiler/dialects.py and the project's dispatched macros.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from metricsctl.errors import WarehouseError
from metricsctl.profiles import Target


@dataclass(frozen=True)
class Result:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


class Warehouse(Protocol):
    dialect: str

    def execute(self, sql: str) -> Result: ...

    def close(self) -> None: ...


# adapter type -> the pip extra that installs its dbt adapter and client
EXTRAS = {"postgres": "postgres", "spark": "spark"}


def missing_adapter(adapter: str, package: str) -> WarehouseError:
    extra = EXTRAS.get(adapter)
    fix = (f"pip install 'metricsctl[{extra}]'" if extra else f"pip install dbt-{adapter}")
    return WarehouseError(f"the {adapter} warehouse needs {package}, which is not installed: {fix}")


class PostgresWarehouse:
    """A PostgreSQL database, through psycopg2 (the client dbt-postgres uses)."""

    dialect = "postgres"

    def __init__(self, config: dict[str, Any], read_only: bool = True) -> None:
        try:
            import psycopg2
        except ImportError:
            raise missing_adapter("postgres", "psycopg2") from None
        self.host = str(config.get("host", "localhost"))
        self.port = int(config.get("port", 5432))
        # unqualified names (alert rules' tables, the state tables) resolve in the target's schema, as in dbt
        # JIT-compiling a wide metric query (dozens of CTEs) costs PostgreSQL more than running it
        options = "-c TimeZone=UTC -c jit=off"
        if config.get("schema"):
            options += f" -c search_path={quote_identifier(str(config['schema']))},public"
        try:
            self.connection = psycopg2.connect(
                host=self.host, port=self.port, user=config.get("user"), password=config.get("password") or None,
                dbname=config.get("dbname") or config.get("database"), connect_timeout=int(config.get(
                    "connect_timeout", 10)), options=options)
        except psycopg2.OperationalError as exc:
            raise unreachable("PostgreSQL", self.host, self.port, exc) from None
        self.connection.set_session(readonly=read_only, autocommit=True)

    def execute(self, sql: str) -> Result:
        import psycopg2

        try:
            with self.connection.cursor() as cursor:
                cursor.execute(sql)
                if cursor.description is None:
                    return Result((), [])
                return Result(tuple(d[0] for d in cursor.description), [tuple(r) for r in cursor.fetchall()])
        except psycopg2.Error as exc:
            raise WarehouseError(f"the warehouse refused the query: {first_line(exc)}") from None

    def close(self) -> None:
        self.connection.close()


class SparkWarehouse:
    """Spark SQL through a pyspark session with the target's settings (dbt-spark's `session` method).

    In the process that built the tables it reuses dbt's session; in another, it opens the same
    warehouse folder and metastore (`spark.sql.warehouse.dir`, `derby.system.home`).
    """

    dialect = "spark"

    def __init__(self, config: dict[str, Any]) -> None:
        method = str(config.get("method", "session"))
        if method != "session":
            raise WarehouseError(f"spark target with method '{method}': metricsctl answers queries on Spark through "
                                 "a session (method: session); for a Thrift server or Databricks use --explain "
                                 "--dialect spark, or a databricks target")
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise missing_adapter("spark", "pyspark") from None
        builder = SparkSession.builder.enableHiveSupport()
        for key, value in (config.get("server_side_parameters") or {}).items():
            builder = builder.config(str(key), str(value))
        try:
            self.session = builder.getOrCreate()
        except Exception as exc:  # the JVM could not start (no Java, a bad setting): one line
            raise WarehouseError(f"cannot start a Spark session: {first_line(exc)}") from None
        if config.get("schema"):  # unqualified names resolve in the target's schema, as in dbt
            schema = quote_identifier(str(config["schema"]), "`")
            self.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            self.execute(f"USE {schema}")

    def execute(self, sql: str) -> Result:
        try:
            frame = self.session.sql(sql)
            rows = frame.collect()
        except Exception as exc:  # pyspark raises AnalysisException and friends, all with the message
            raise WarehouseError(f"the warehouse refused the query: {first_line(exc)}") from None
        return Result(tuple(frame.columns), [tuple(row) for row in rows])

    def close(self) -> None:
        pass  # the session is the process's: dbt and later queries share it


def quote_identifier(name: str, quote: str = '"') -> str:
    return quote + name.replace(quote, quote * 2) + quote


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def unreachable(engine: str, host: str, port: int, exc: BaseException) -> WarehouseError:
    return WarehouseError(f"cannot connect to {engine} at {host}:{port}: {first_line(exc)} "
                          "(is the server running, and are host, port and credentials in profiles.yml right?)")


class DuckDBWarehouse:
    """A DuckDB file (or `:memory:`), opened read-only for queries unless asked otherwise."""

    dialect = "duckdb"

    def __init__(self, path: str, read_only: bool = True) -> None:
        import duckdb

        self.path = path
        try:
            if path != ":memory:" and read_only and not Path(path).exists():
                raise WarehouseError(f"{path}: the DuckDB warehouse does not exist yet; build it first "
                                     "(`metricsctl build`)")
            self.connection = duckdb.connect(path, read_only=read_only and path != ":memory:")
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise WarehouseError(f"{path}: the warehouse is in use by another process (a build is "
                                     "probably running); try again when it has finished") from None
            raise WarehouseError(f"{path}: cannot open the DuckDB warehouse: {exc}") from None

    def execute(self, sql: str) -> Result:
        import duckdb

        try:
            cursor = self.connection.execute(sql)
            columns = tuple(d[0] for d in cursor.description or ())
            return Result(columns, cursor.fetchall())
        except duckdb.Error as exc:
            raise WarehouseError(f"the warehouse refused the query: {exc}") from None

    def close(self) -> None:
        self.connection.close()


#: dbt adapters published by dbt Labs or their warehouse's vendor: a `type:` outside this list is not sent to pip,
#: since a misspelt one could name a package anyone may publish
KNOWN_ADAPTERS = ("athena", "bigquery", "databricks", "duckdb", "fabric", "postgres", "redshift", "snowflake",
                  "spark", "sqlserver", "trino")


def ensure_adapter(target: Target, profiles: Path | None = None) -> None:
    """A target whose dbt adapter (or engine client) is not installed: one line naming the pip extra, or, for a
    type no known adapter has, the installed ones and the closest."""
    import difflib
    import importlib.util

    module = f"dbt.adapters.{target.type}"
    try:
        found = importlib.util.find_spec(module) is not None
    except (ModuleNotFoundError, ValueError):
        found = False
    if not found and target.type not in KNOWN_ADAPTERS:
        installed = installed_adapters()
        close = difflib.get_close_matches(target.type, [*installed, *KNOWN_ADAPTERS], n=1)
        where = f"{profiles}: " if profiles is not None else ""
        raise WarehouseError(f"{where}target '{target.name}' has type {target.type!r}, which no dbt adapter "
                             f"provides{f'; did you mean {close[0]!r}?' if close else ''} (installed: "
                             f"{', '.join(installed) or 'none'})")
    if not found:
        raise missing_adapter(target.type, f"dbt-{target.type}")
    if target.type == "spark" and str(target.config.get("method", "session")) == "session" \
            and importlib.util.find_spec("pyspark") is None:
        raise missing_adapter("spark", "pyspark")


def installed_adapters() -> list[str]:
    """The dbt adapters installed here: the packages under `dbt.adapters` with a `__version__` of their own (dbt's
    own base packages have none)."""
    import importlib.util
    import pkgutil

    try:
        spec = importlib.util.find_spec("dbt.adapters")
    except ModuleNotFoundError:
        return []
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    return sorted(m.name for m in pkgutil.iter_modules(folders)
                  if m.ispkg and any((Path(f) / m.name / "__version__.py").is_file() for f in folders))


def release_duckdb_if_loaded() -> None:
    """Let go of dbt-duckdb's connection, if dbt ran in this process (no dbt import otherwise)."""
    import sys

    if "dbt.adapters.duckdb" in sys.modules:
        from metricsctl.runner import release_duckdb

        release_duckdb()


def ensure_reachable(target: Target) -> None:
    """Fail fast, with one line, when the target's server does not answer (before anything is changed)."""
    if target.type == "postgres":
        PostgresWarehouse(target.config).close()


def connect(target: Target, project_dir: Path, read_only: bool = True) -> Warehouse:
    """Open the warehouse a dbt target points at (read-write when asked: alert state, results)."""
    if target.type == "duckdb":
        path = str(target.config.get("path", ":memory:"))
        if path != ":memory:" and not os.path.isabs(path):
            path = os.path.abspath(path)  # dbt resolves a relative path against the working directory
        return DuckDBWarehouse(path, read_only=read_only)
    if target.type == "postgres":
        return PostgresWarehouse(target.config, read_only=read_only)
    if target.type == "spark":
        return SparkWarehouse(target.config)
    raise WarehouseError(f"target '{target.name}' is a {target.type} warehouse; metricsctl answers queries on "
                         "duckdb, postgres and spark targets (use --explain to get the SQL for any dialect)")
