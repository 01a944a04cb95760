"""The value diff: the same metrics and exports, read from the base's and the head's throw-away warehouses.

Each affected metric is queried by `metric_time__<grain>` on each side (compiled with that side's own
spec), each affected export's table is read on each side, and only the cells that differ are kept:
at most `max_rows` per metric or export, with the count of all that differ.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from metricsctl.errors import MetricsctlError

if TYPE_CHECKING:
    from metricsctl.diff.snapshot import Snapshot
    from metricsctl.warehouse import Warehouse

Key = tuple[str, ...]
Rows = Mapping[Key, Mapping[str, Any]]  # key -> column -> value


@dataclass(frozen=True)
class ValueRow:
    key: Key  # the formatted key: a period, or an export's group-by values
    column: str  # the metric (or export column) whose value differs
    base: float | str | None  # None: no row or NULL on that side
    head: float | str | None

    @property
    def difference(self) -> float | None:
        if isinstance(self.base, float) and isinstance(self.head, float):
            return self.head - self.base
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"key": list(self.key), "column": self.column, "base": self.base, "head": self.head,
                "difference": self.difference}


@dataclass(frozen=True)
class ValueDiff:
    kind: str  # metric or export
    name: str
    key_columns: tuple[str, ...]
    rows: tuple[ValueRow, ...]  # the first `max_rows` differences, by key
    differing: int  # every cell that differs
    compared: int  # every cell compared
    error: str | None = None  # why it could not be compared (a query failed on one side)

    @property
    def changed(self) -> bool:
        return self.differing > 0 or self.error is not None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "key_columns": list(self.key_columns),
                "differing": self.differing, "compared": self.compared, "error": self.error,
                "rows": [r.to_dict() for r in self.rows]}


def cell(value: Any) -> float | str | None:
    """A warehouse value as the diff shows it: numbers as floats, dates as ISO text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float, Decimal)):
        number = float(value)
        return None if math.isnan(number) else number
    return key_text(value)


def key_text(value: Any) -> str:
    """`2024-01-01` for a midnight timestamp, ISO for other times, `NULL` for a missing key."""
    if value is None:
        return "NULL"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() and value.tzinfo is None else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def same(a: float | str | None, b: float | str | None, rel: float = 1e-9, abs_tol: float = 1e-9) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=rel, abs_tol=abs_tol)
    return a == b


def index_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], keys: Sequence[str]) -> dict[Key, dict[str, Any]]:
    """Rows keyed by their key columns' values; the other columns by name."""
    position = {c: i for i, c in enumerate(columns)}
    indexed: dict[Key, dict[str, Any]] = {}
    for row in rows:
        key = tuple(key_text(row[position[k]]) for k in keys)
        indexed[key] = {c: cell(row[i]) for c, i in position.items() if c not in keys}
    return indexed


def compare_rows(kind: str, name: str, key_columns: Sequence[str], columns: Sequence[str], base: Rows, head: Rows,
                 max_rows: int) -> ValueDiff:
    """The cells of `columns` that differ between the two sides, keyed alike; a key on one side only differs too."""
    differences: list[ValueRow] = []
    compared = 0
    for key in sorted(set(base) | set(head)):
        for column in columns:
            b = base.get(key, {}).get(column)
            h = head.get(key, {}).get(column)
            compared += 1
            if not same(b, h):
                differences.append(ValueRow(key, column, b, h))
    return ValueDiff(kind, name, tuple(key_columns), tuple(differences[:max(max_rows, 0)]), len(differences),
                     compared)


# --- reading both warehouses -------------------------------------------------------------------------
def value_diffs(base: Snapshot, head: Snapshot, metrics: Sequence[str], exports: Sequence[str],
                grain: str = "month", max_rows: int = 20) -> tuple[ValueDiff, ...]:
    """Each metric by `metric_time__<grain>`, and each export's table, compared between the built sides."""
    from metricsctl.runner import release_duckdb
    from metricsctl.warehouse import DuckDBWarehouse

    if base.warehouse is None or head.warehouse is None:
        raise ValueError("both sides need a DuckDB warehouse")
    release_duckdb()
    time_column = f"metric_time__{grain}"
    opened = [DuckDBWarehouse(str(base.warehouse)), DuckDBWarehouse(str(head.warehouse))]
    diffs: list[ValueDiff] = []
    try:
        for metric in metrics:
            try:
                sides = [_metric_rows(s, w, metric, time_column) for s, w in zip((base, head), opened)]
            except MetricsctlError as exc:
                diffs.append(ValueDiff("metric", metric, (time_column,), (), 0, 0, str(exc)))
                continue
            diffs.append(compare_rows("metric", metric, (time_column,), (metric,), sides[0], sides[1], max_rows))
        both = set(base.side.spec.metric_names()) & set(head.side.spec.metric_names())
        for export in exports:
            columns = [c for c in head.side.export_columns.get(export, ())
                       if c in base.side.export_columns.get(export, ())]
            keys = [c for c in columns if c not in both]
            values = [c for c in columns if c in both]
            try:
                sides = [_table_rows(s, w, export, keys) for s, w in zip((base, head), opened)]
            except MetricsctlError as exc:
                diffs.append(ValueDiff("export", export, tuple(keys), (), 0, 0, str(exc)))
                continue
            diffs.append(compare_rows("export", export, keys, values, sides[0], sides[1], max_rows))
    finally:
        for warehouse in opened:
            warehouse.close()
    return tuple(diffs)


def _metric_rows(snapshot: Snapshot, warehouse: Warehouse, metric: str, time_column: str) -> Rows:
    from metricsctl.compiler.query import MetricQuery

    compiled = snapshot.app.compile_query(MetricQuery((metric,), (time_column,)))
    result = warehouse.execute(compiled.sql())
    return index_rows(result.columns, result.rows, (time_column,))


def _table_rows(snapshot: Snapshot, warehouse: Warehouse, export: str, keys: Sequence[str]) -> Rows:
    from sqlglot import exp

    relation = snapshot.relation(export)
    if relation is None:
        raise MetricsctlError(f"the {snapshot.name} build has no model '{export}'")
    dialect = snapshot.app.dialect
    result = warehouse.execute(exp.select("*").from_(exp.to_table(relation, dialect=dialect)).sql(dialect=dialect))
    missing = [k for k in keys if k not in result.columns]
    if missing:
        raise MetricsctlError(f"the {snapshot.name} table {relation} has no column {', '.join(missing)}")
    return index_rows(result.columns, result.rows, keys)
