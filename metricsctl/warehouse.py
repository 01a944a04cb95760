"""Warehouses that answer queries: a Protocol and its DuckDB implementation."""

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


class DuckDBWarehouse:
    """A DuckDB file (or `:memory:`), opened read-only for queries unless asked otherwise."""

    dialect = "duckdb"

    def __init__(self, path: str, read_only: bool = True) -> None:
        import duckdb

        self.path = path
        try:
            if path != ":memory:" and read_only and not Path(path).exists():
                raise WarehouseError(f"{path}: the DuckDB warehouse does not exist yet; build it first "
                                     "(`dbt build`, or `metricsctl build` on the demo)")
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


def connect(target: Target, project_dir: Path) -> Warehouse:
    """Open the warehouse a dbt target points at."""
    if target.type == "duckdb":
        path = str(target.config.get("path", ":memory:"))
        if path != ":memory:" and not os.path.isabs(path):
            path = os.path.abspath(path)  # dbt resolves a relative path against the working directory
        return DuckDBWarehouse(path)
    raise WarehouseError(f"target '{target.name}' is a {target.type} warehouse; metricsctl answers "
                         "queries on DuckDB targets for now (use --explain to get the SQL for any dialect)")
