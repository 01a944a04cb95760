"""What a run of the expectation suites found: per expectation, per suite, per run; as JSON and as a table."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlglot import exp

from metricsctl.expectations.spec import Severity, short_value
from metricsctl.guards import mask
from metricsctl.jsonable import jsonable as to_json

if TYPE_CHECKING:
    from metricsctl.warehouse import Warehouse

Status = Literal["pass", "fail", "error"]
RESULTS_TABLE = "expectation_results"
SAMPLE_SIZE = 10
UNREADABLE = "cannot read relation"  # how the error of an expectation whose relation cannot be read begins
INSERT_CHUNK = 500

#: the columns of the results table, in order
RESULT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("run_id", "VARCHAR"),
    ("run_at", "TIMESTAMP"),  # UTC
    ("suite", "VARCHAR"),
    ("relation", "VARCHAR"),
    ("expectation", "VARCHAR"),
    ("success", "BOOLEAN"),
    ("unexpected_count", "BIGINT"),
    ("unexpected_sample", "VARCHAR"),  # JSON list
    ("error", "VARCHAR"),
    ("severity", "VARCHAR"),
    ("kwargs", "VARCHAR"),  # JSON object, the arguments as written
    ("observed_value", "VARCHAR"),  # JSON
)


@dataclass(frozen=True)
class ExpectationResult:
    """One expectation on one relation: did it hold, and if not, how many rows broke it and which.

    `success` is True only when GX evaluated the expectation and it held; an expectation GX could not
    evaluate (unknown column, SQL error) has `error` set and `success` False.
    """

    suite: str
    relation: str
    expectation: str
    kwargs: dict[str, Any] = field(hash=False)
    severity: Severity
    success: bool
    unexpected_count: int | None = None
    unexpected_sample: tuple[Any, ...] = ()
    observed_value: Any = None
    error: str | None = None
    path: str | None = None
    line: int | None = None

    @property
    def status(self) -> Status:
        if self.error is not None:
            return "error"
        return "pass" if self.success else "fail"

    def describe(self) -> str:
        """`expect_column_values_to_be_unique(column=order_id)`."""
        args = ", ".join(f"{k}={short_value(v)}" for k, v in self.kwargs.items() if k != "description")
        return f"{self.expectation}({args})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite, "relation": self.relation, "expectation": self.expectation,
            "kwargs": jsonable(self.kwargs), "severity": self.severity, "status": self.status,
            "success": self.success, "unexpected_count": self.unexpected_count,
            "unexpected_sample": jsonable(list(self.unexpected_sample)),
            "observed_value": jsonable(self.observed_value), "error": self.error,
            "where": f"{self.path}:{self.line}" if self.path else None,
        }


@dataclass(frozen=True)
class SuiteResult:
    """A suite's results on its relation."""

    suite: str
    relation: str  # as the suite names it
    warehouse_relation: str  # database.schema.identifier
    unique_id: str | None  # the dbt node, when resolved through the manifest
    severity: Severity
    results: tuple[ExpectationResult, ...]
    seconds: float = 0.0
    rows_since: str | None = None  # a nightly build's row-by-row checks read `loaded_at >= ...` (batches.py)

    @property
    def success(self) -> bool:
        return all(r.success for r in self.results)

    def failures(self, severity: Severity | None = None) -> list[ExpectationResult]:
        return [r for r in self.results if not r.success and (severity is None or r.severity == severity)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite, "relation": self.relation, "warehouse_relation": self.warehouse_relation,
            "unique_id": self.unique_id, "severity": self.severity, "success": self.success,
            "seconds": round(self.seconds, 3), "rows_since": self.rows_since,
            "results": [r.to_dict() for r in self.results],
        }


@dataclass(frozen=True)
class ExpectationRun:
    """Every suite checked in one run. `ok` is False when any `error`-severity expectation failed."""

    run_id: str
    run_at: dt.datetime  # UTC, naive
    as_of: dt.date
    suites: tuple[SuiteResult, ...]
    seconds: float = 0.0

    @property
    def results(self) -> list[ExpectationResult]:
        return [r for s in self.suites for r in s.results]

    def masked(self) -> ExpectationRun:
        """The run with every secret read in this process masked in what came from the warehouse: samples of
        failing values, observed values and errors (a query may read a row holding one)."""
        return dataclasses.replace(self, suites=tuple(
            dataclasses.replace(suite, results=tuple(_masked(result) for result in suite.results))
            for suite in self.suites))

    @property
    def ok(self) -> bool:
        return not self.failures("error")

    def failures(self, severity: Severity | None = None) -> list[ExpectationResult]:
        return [r for s in self.suites for r in s.failures(severity)]

    def failed_relations(self, severity: Severity = "error") -> dict[str, list[str]]:
        """Relation (dbt unique_id, or the name when unresolved) -> its failed expectations, described."""
        failed: dict[str, list[str]] = {}
        for suite in self.suites:
            for result in suite.failures(severity):
                key = suite.unique_id or suite.relation
                failed.setdefault(key, []).append(result.describe())
        return failed

    def counts(self) -> dict[str, int]:
        statuses = [r.status for r in self.results]
        return {"expectations": len(statuses), "passed": statuses.count("pass"),
                "failed": statuses.count("fail"), "errors": statuses.count("error"),
                "failed_error_severity": len(self.failures("error")),
                "failed_warn_severity": len(self.failures("warn"))}

    def headline(self) -> str:
        """`234 expectations: 221 passed, 13 failed (warn)` in a few words."""
        results = self.results
        parts = [f"{sum(r.status == 'pass' for r in results)} passed"]
        for count, text in ((sum(r.status == "fail" and r.severity == "error" for r in results), "failed (error)"),
                            (sum(r.status == "fail" and r.severity == "warn" for r in results), "failed (warn)"),
                            (sum(r.status == "error" for r in results), "could not run")):
            if count:
                parts.append(f"{count} {text}")  # each expectation counted once: the parts add up to the total
        return f"{len(results)} expectations: {', '.join(parts)}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary of the run."""
        return {"run_id": self.run_id, "run_at": self.run_at.isoformat(), "as_of": self.as_of.isoformat(),
                "ok": self.ok, "seconds": round(self.seconds, 3), "counts": self.counts(),
                "suites": [s.to_dict() for s in self.suites]}


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def jsonable(value: Any) -> Any:
    """Warehouse values as JSON values; a non-finite observed value is kept as its text (`inf`)."""
    return to_json(value, str)


def _json(value: Any) -> str:
    return json.dumps(jsonable(value), sort_keys=False)


def _table(name: str, schema: str | None) -> exp.Table:
    return exp.table_(exp.to_identifier(name, quoted=True),
                      db=exp.to_identifier(schema, quoted=True) if schema else None)


def create_table_sql(table: str = RESULTS_TABLE, schema: str | None = None, dialect: str = "duckdb") -> str:
    """CREATE TABLE IF NOT EXISTS for the results table."""
    columns = [exp.ColumnDef(this=exp.to_identifier(name), kind=exp.DataType.build(kind))
               for name, kind in RESULT_COLUMNS]
    create = exp.Create(this=exp.Schema(this=_table(table, schema), expressions=columns), kind="TABLE",
                        exists=True)
    return create.sql(dialect)


def insert_sql(table: str = RESULTS_TABLE, schema: str | None = None, dialect: str = "duckdb",
               rows: int = 1) -> str:
    """A parameterized INSERT of `rows` results rows (`?` placeholders, in RESULT_COLUMNS order)."""
    values = [exp.Tuple(expressions=[exp.Placeholder() for _ in RESULT_COLUMNS]) for _ in range(rows)]
    insert = exp.Insert(
        this=exp.Schema(this=_table(table, schema),
                        expressions=[exp.to_identifier(name) for name, _ in RESULT_COLUMNS]),
        expression=exp.Values(expressions=values))
    return insert.sql(dialect)


def result_rows(run: ExpectationRun) -> list[tuple[Any, ...]]:
    """The run as rows of the results table."""
    rows = []
    for suite in run.suites:
        for r in suite.results:
            rows.append((run.run_id, run.run_at, r.suite, suite.warehouse_relation, r.describe(), r.success,
                         r.unexpected_count, _json(list(r.unexpected_sample)), r.error, r.severity,
                         _json(r.kwargs), _json(r.observed_value)))
    return rows


def write_results(database: str | Path | Any, run: ExpectationRun, table: str = RESULTS_TABLE,
                  schema: str | None = None) -> int:
    """Append the run to the DuckDB table `table` (created if needed); returns the number of rows written.

    `database` is the DuckDB file (opened read-write, only when no other connection holds it; release
    dbt's first with metricsctl.runner.release_duckdb()) or an open duckdb connection.
    """
    rows = result_rows(run)
    if isinstance(database, (str, Path)):
        from metricsctl.expectations.connection import open_duckdb

        connection = open_duckdb(str(database), read_only=False)
        try:
            _write(connection, rows, table, schema)
        finally:
            connection.close()
    else:
        _write(database, rows, table, schema)
    return len(rows)


def _write(connection: Any, rows: Sequence[tuple[Any, ...]], table: str, schema: str | None) -> None:
    if schema:
        connection.execute(exp.Create(this=exp.Table(this=exp.to_identifier(schema, quoted=True)),
                                      kind="SCHEMA", exists=True).sql("duckdb"))
    connection.execute(create_table_sql(table, schema))
    # one multi-row INSERT per chunk: DuckDB's executemany costs ~4 ms a row
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start:start + INSERT_CHUNK]
        connection.execute(insert_sql(table, schema, rows=len(chunk)), [v for row in chunk for v in row])


def _literal(value: Any, kind: str) -> exp.Expr:
    if value is None:
        return exp.cast(exp.Null(), kind)
    if isinstance(value, (dt.datetime, dt.date)):
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ") if isinstance(value, dt.datetime)
                                           else value.isoformat()), kind)
    return exp.cast(exp.convert(value), kind)


def store_results(warehouse: Warehouse, run: ExpectationRun, schema: str | None = None,
                  table: str = RESULTS_TABLE) -> int:
    """Append the run to the results table in any warehouse (created if needed), through its own client."""
    rows = result_rows(run)
    warehouse.execute(create_table_sql(table, schema, warehouse.dialect))
    for start in range(0, len(rows), INSERT_CHUNK):
        values = [exp.Tuple(expressions=[_literal(v, kind) for v, (_, kind) in zip(row, RESULT_COLUMNS)])
                  for row in rows[start:start + INSERT_CHUNK]]
        insert = exp.Insert(this=exp.Schema(this=_table(table, schema), expressions=[
            exp.to_identifier(name) for name, _ in RESULT_COLUMNS]), expression=exp.Values(expressions=values))
        warehouse.execute(insert.sql(warehouse.dialect))
    return len(rows)


def _masked(result: ExpectationResult) -> ExpectationResult:
    def hidden(value: Any) -> Any:
        if isinstance(value, str):
            return mask(value)
        if isinstance(value, dict):  # a row of an unexpected rows query
            return {k: hidden(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(hidden(v) for v in value)
        return value

    return dataclasses.replace(result, unexpected_sample=tuple(hidden(v) for v in result.unexpected_sample),
                               observed_value=hidden(result.observed_value), error=hidden(result.error))
