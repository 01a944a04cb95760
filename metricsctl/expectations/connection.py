"""Reaching the warehouse the expectations run in: a SQLAlchemy URL from a dbt target, and DuckDB's file lock.

DuckDB allows one writing process per file, and inside one process every connection to a file must
share one configuration: dbt-duckdb's connection (kept open after a run), a metricsctl query connection
and GX's SQLAlchemy engine (duckdb-engine adds its own user agent to the configuration) exclude each other.
So the file is opened only when nothing else holds it, and every way that fails becomes one clear line.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from metricsctl.errors import WarehouseError
from metricsctl.profiles import Target

#: SQLAlchemy driver names -> sqlglot dialects, for the SQL metricsctl writes itself
URL_DIALECTS = {"duckdb": "duckdb", "postgresql": "postgres", "redshift": "redshift", "snowflake": "snowflake",
                "bigquery": "bigquery", "databricks": "databricks", "mssql": "tsql", "mysql": "mysql",
                "sqlite": "sqlite", "trino": "trino", "oracle": "oracle", "clickhouse": "clickhouse"}


def connection_url(target: Target) -> str:
    """The SQLAlchemy URL of a dbt target (duckdb or postgres), as Great Expectations connects to it."""
    from sqlalchemy.engine import URL

    config = target.config
    if target.type == "duckdb":
        path = str(config.get("path", ":memory:"))
        if path == ":memory:":
            raise WarehouseError(f"target '{target.name}' is an in-memory DuckDB database: expectations need "
                                 "the warehouse file dbt built; set `path:` in profiles.yml")
        if not os.path.isabs(path):
            path = os.path.abspath(path)  # dbt resolves a relative path against the working directory
        return URL.create("duckdb", database=path).render_as_string(hide_password=False)
    if target.type in ("postgres", "postgresql"):
        missing = [k for k in ("host", "user") if not config.get(k)]
        dbname = config.get("dbname") or config.get("database")
        if not dbname:
            missing.append("dbname")
        if missing:
            raise WarehouseError(f"target '{target.name}' in profiles.yml lacks {', '.join(missing)}")
        query: dict[str, str] = {}
        for key in ("sslmode", "connect_timeout", "application_name"):
            if config.get(key) not in (None, ""):
                query[key] = str(config[key])
        url = URL.create("postgresql+psycopg2", username=str(config["user"]),
                         password=str(config.get("password", config.get("pass", ""))) or None,
                         host=str(config["host"]), port=int(config.get("port", 5432)), database=str(dbname),
                         query=query)
        return url.render_as_string(hide_password=False)
    raise WarehouseError(f"target '{target.name}' is a {target.type or 'untyped'} warehouse; metricsctl runs "
                         "expectations on duckdb and postgres targets (any other warehouse GX supports: pass "
                         "its SQLAlchemy URL to run_suites)")


def url_dialect(url: str) -> str:
    """The sqlglot dialect of a SQLAlchemy URL (`postgresql+psycopg2://...` -> postgres)."""
    driver = url.split(":", 1)[0].split("+", 1)[0].lower()
    return URL_DIALECTS.get(driver, driver)


def duckdb_path(url: str) -> str | None:
    """The DuckDB file of a duckdb:/// URL; None for other URLs."""
    if not url.lower().startswith("duckdb:"):
        return None
    from sqlalchemy.engine import make_url

    return make_url(url).database or ":memory:"


def release_dbt_duckdb() -> None:
    """Let go of dbt-duckdb's connection, if dbt ran in this process (no dbt import otherwise)."""
    if "dbt.adapters.duckdb" in sys.modules:
        from metricsctl.runner import release_duckdb

        release_duckdb()


def describe_duckdb_error(path: str, exc: BaseException) -> WarehouseError:
    """A DuckDB open failure as one line that says what to do."""
    text = str(exc)
    lowered = text.lower()
    if "lock" in lowered:
        return WarehouseError(f"{path}: the warehouse is in use by another process (a build is probably "
                              "running); try again when it has finished")
    if "different configuration" in lowered:
        return WarehouseError(f"{path}: the warehouse is already open in this process with another "
                              "configuration (dbt-duckdb keeps it open after a run, or a query connection is "
                              "still open); close that connection first (metricsctl.runner.release_duckdb())")
    if "does not exist" in lowered:
        return WarehouseError(f"{path}: the DuckDB warehouse does not exist yet; build it first (`metricsctl build`)")
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return WarehouseError(f"{path}: cannot open the DuckDB warehouse: {first}")


def ensure_duckdb_free(url: str, connect_args: dict[str, Any]) -> None:
    """Open and close the file exactly as GX will (through duckdb-engine), so a held file fails here, clearly."""
    path = duckdb_path(url)
    if path is None:
        return
    release_dbt_duckdb()
    import sqlalchemy

    engine = sqlalchemy.create_engine(url, connect_args=connect_args, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect():
            pass
    except sqlalchemy.exc.DBAPIError as exc:
        raise describe_duckdb_error(path, exc.orig or exc) from None
    finally:
        engine.dispose()


def open_duckdb(path: str, read_only: bool = True) -> Any:
    """A duckdb connection to `path`, or a WarehouseError saying why the file cannot be opened."""
    release_dbt_duckdb()
    import duckdb

    try:
        return duckdb.connect(path, read_only=read_only)
    except duckdb.Error as exc:
        raise describe_duckdb_error(path, exc) from None
