"""Alert state in two warehouse tables, written through the caller's read-write connection.

`metricsctl_alert_history`: one row per alert episode, from firing to resolution. An open alert is a
row with `resolved_at` NULL; together the rows are the history a BI tool shows (rule, metric, series,
owner, severity, fired/resolved times, the value and the expected range when it fired).

`metricsctl_alert_outbox`: one row per event (opened, renotified, resolved) and channel. A row stays
pending (`delivered_at` NULL) until its channel took it, so an event is never lost when a channel is
down: a later run delivers it, once.

Where tables take no UPDATE and no transaction (Spark's own tables), a change rewrites the small table
whole (`INSERT OVERWRITE`), and a run's writes are not atomic (compiler/dialects.py: NO_ROW_UPDATES).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlglot import exp

from metricsctl.alerts.evaluate import Execute
from metricsctl.compiler.dialects import updates_rows
from metricsctl.errors import WarehouseError
from metricsctl.guards import mask

HISTORY = "metricsctl_alert_history"
OUTBOX = "metricsctl_alert_outbox"
CHUNK = 500  # rows per INSERT/UPDATE statement

HISTORY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("alert_id", "VARCHAR"), ("rule", "VARCHAR"), ("metric", "VARCHAR"), ("kind", "VARCHAR"), ("grain", "VARCHAR"),
    ("series_key", "VARCHAR"), ("series", "VARCHAR"), ("owner", "VARCHAR"), ("severity", "VARCHAR"),
    ("channels", "VARCHAR"), ("fired_at", "TIMESTAMP"), ("resolved_at", "TIMESTAMP"),
    ("last_notified_at", "TIMESTAMP"), ("notifications", "INTEGER"), ("last_evaluated_at", "TIMESTAMP"),
    ("period", "DATE"), ("value", "DOUBLE"), ("expected", "DOUBLE"), ("expected_low", "DOUBLE"),
    ("expected_high", "DOUBLE"), ("score", "DOUBLE"), ("message", "VARCHAR"), ("last_period", "DATE"),
    ("last_value", "DOUBLE"), ("resolved_value", "DOUBLE"),
)
OUTBOX_COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_id", "VARCHAR"), ("alert_id", "VARCHAR"), ("event", "VARCHAR"), ("channel", "VARCHAR"),
    ("created_at", "TIMESTAMP"), ("payload", "VARCHAR"), ("attempts", "INTEGER"), ("last_error", "VARCHAR"),
    ("delivered_at", "TIMESTAMP"),
)
TYPES = dict(HISTORY_COLUMNS) | dict(OUTBOX_COLUMNS)


@dataclass(frozen=True)
class OpenAlert:
    """An alert that fired and has not resolved yet."""

    alert_id: str
    rule: str
    metric: str
    kind: str
    series_key: str
    severity: str
    owner: str | None
    fired_at: datetime
    last_notified_at: datetime
    notifications: int
    period: date | None
    value: float | None
    message: str


@dataclass(frozen=True)
class Pending:
    """An event not yet delivered to one channel."""

    event_id: str
    alert_id: str
    event: str
    channel: str
    created_at: datetime
    payload: dict[str, Any]
    attempts: int


def literal(value: Any, kind: str) -> exp.Expr:
    """A Python value as a typed SQL literal (strings escaped by sqlglot, never concatenated)."""
    if value is None:
        return exp.cast(exp.null(), kind) if kind != "VARCHAR" else exp.null()
    if kind == "TIMESTAMP":
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), "TIMESTAMP")
    if kind == "DATE":
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    if kind == "DOUBLE" and not math.isfinite(float(value)):
        return exp.cast(exp.null(), kind)  # no value, as in JSON; sqlglot would write `inf` as a column name
    if kind in ("DOUBLE", "INTEGER"):
        return exp.cast(exp.convert(float(value) if kind == "DOUBLE" else int(value)), kind)
    return exp.Literal.string(str(value))


class StateStore:
    """Reads and writes the alert tables in `schema` (created on first use, never in a dry run)."""

    def __init__(self, execute: Execute, schema: str | None = None, dialect: str = "duckdb") -> None:
        self.execute = execute
        self.schema = schema
        self.dialect = dialect

    def table(self, name: str) -> exp.Table:
        return exp.table_(name, db=self.schema) if self.schema else exp.table_(name)

    def run(self, statement: exp.Expr) -> list[tuple[Any, ...]]:
        return self.execute(statement.sql(dialect=self.dialect)).rows

    # --- tables --------------------------------------------------------------------------------
    def ensure(self) -> None:
        if self.schema:
            self.run(exp.Create(this=exp.Table(this=exp.to_identifier(self.schema)), kind="SCHEMA", exists=True))
        for name, columns in ((HISTORY, HISTORY_COLUMNS), (OUTBOX, OUTBOX_COLUMNS)):
            definitions = [exp.ColumnDef(this=exp.to_identifier(c), kind=exp.DataType.build(t)) for c, t in columns]
            self.run(exp.Create(this=exp.Schema(this=self.table(name), expressions=definitions), kind="TABLE",
                                exists=True))

    def exists(self) -> bool:
        if not updates_rows(self.dialect):  # Spark: no information_schema before 4.1; ask for the table
            try:
                self.run(exp.select(exp.Literal.number(1)).from_(self.table(HISTORY)).limit(0))
                return True
            except WarehouseError:
                return False
        conditions = [exp.column("table_name").eq(exp.Literal.string(HISTORY))]
        if self.schema:
            conditions.append(exp.column("table_schema").eq(exp.Literal.string(self.schema)))
        query = exp.select(exp.Count(this=exp.Star())).from_(exp.table_("tables", db="information_schema")).where(
            exp.and_(*conditions))
        return bool(self.run(query)[0][0])

    def transaction(self) -> _Transaction:
        return _Transaction(self)

    # --- reads ---------------------------------------------------------------------------------
    def open_alerts(self, as_of: datetime | None = None) -> list[OpenAlert]:
        """The alerts open now or, with `as_of`, as they stood then: later runs' changes are not seen."""
        names = ("alert_id", "rule", "metric", "kind", "series_key", "severity", "owner", "fired_at",
                 "last_notified_at", "notifications", "period", "value", "message")
        still_open: exp.Expr = exp.column("resolved_at").is_(exp.null())
        if as_of is not None:
            at = literal(as_of, "TIMESTAMP")
            still_open = exp.and_(exp.column("fired_at") <= at,
                                  exp.or_(still_open, exp.column("resolved_at") > at))
        query = exp.select(*names).from_(self.table(HISTORY)).where(still_open)
        alerts = [OpenAlert(*row) for row in self.run(query.order_by("fired_at", "rule", "series_key"))]
        if as_of is None:
            return alerts
        later = [a.alert_id for a in alerts if a.last_notified_at > as_of]
        notified = self._notifications_until(later, as_of)
        return [replace(a, last_notified_at=notified[a.alert_id][0], notifications=notified[a.alert_id][1])
                if a.alert_id in notified else
                replace(a, last_notified_at=a.fired_at, notifications=1) if a.alert_id in later else a
                for a in alerts]

    def _notifications_until(self, alert_ids: Sequence[str], as_of: datetime) -> dict[str, tuple[datetime, int]]:
        """Per alert: its last notification at or before `as_of`, and how many there were, from the outbox."""
        if not alert_ids:
            return {}
        sent = exp.and_(exp.column("alert_id").isin(*[exp.Literal.string(i) for i in alert_ids]),
                        exp.column("event").isin(exp.Literal.string("opened"), exp.Literal.string("renotified")),
                        exp.column("created_at") <= literal(as_of, "TIMESTAMP"))
        query = (exp.select("alert_id", exp.Max(this=exp.column("created_at")),
                            exp.Count(this=exp.Distinct(expressions=[exp.column("event_id")])))
                 .from_(self.table(OUTBOX)).where(sent).group_by("alert_id"))
        return {row[0]: (row[1], int(row[2])) for row in self.run(query)}

    def recorded_until(self) -> datetime | None:
        """The latest moment a run recorded anything about an alert (it fired, was judged or resolved)."""
        latest = exp.Max(this=exp.Greatest(this=exp.column("fired_at"), expressions=[
            exp.Coalesce(this=exp.column("last_evaluated_at"), expressions=[exp.column("fired_at")]),
            exp.Coalesce(this=exp.column("resolved_at"), expressions=[exp.column("fired_at")])]))
        value = self.run(exp.select(latest).from_(self.table(HISTORY)))[0][0]
        return value if isinstance(value, datetime) else None

    def pending(self) -> list[Pending]:
        names = ("event_id", "alert_id", "event", "channel", "created_at", "payload", "attempts")
        query = exp.select(*names).from_(self.table(OUTBOX)).where(exp.column("delivered_at").is_(exp.null()))
        rows = self.run(query.order_by("created_at", "channel", "event_id"))
        return [Pending(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), int(r[6] or 0)) for r in rows]

    def history(self) -> list[dict[str, Any]]:
        result = self.execute(exp.select("*").from_(self.table(HISTORY)).order_by("fired_at", "rule", "series_key")
                              .sql(dialect=self.dialect))
        return [dict(zip(result.columns, row)) for row in result.rows]

    # --- writes --------------------------------------------------------------------------------
    def insert(self, name: str, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        columns = list(rows[0])
        for start in range(0, len(rows), CHUNK):
            values = exp.values([exp.Tuple(expressions=[literal(row[c], TYPES[c]) for c in columns])
                                 for row in rows[start:start + CHUNK]])
            self.run(exp.insert(values, self.table(name), columns=columns))

    def rewrite(self, name: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        """Where rows cannot be updated: read the table, change each row, write the table back whole. The rows
        are written to a table of their own first, a statement at a time, then over the table in one statement:
        a write that fails part way leaves the table as it was."""
        result = self.execute(exp.select("*").from_(self.table(name)).sql(dialect=self.dialect))
        rows = [change(dict(zip(result.columns, row))) for row in result.rows]
        if not rows:  # an empty table stays empty
            return
        columns = HISTORY_COLUMNS if name == HISTORY else OUTBOX_COLUMNS
        staged = self.table(f"{name}__rewritten")
        self.run(exp.Drop(tables=[staged.copy()], kind="TABLE", exists=True))  # left by a rewrite that failed
        self.run(exp.Create(this=exp.Schema(this=staged.copy(), expressions=[
            exp.ColumnDef(this=exp.to_identifier(c), kind=exp.DataType.build(t)) for c, t in columns]), kind="TABLE"))
        for start in range(0, len(rows), CHUNK):
            values = exp.values([exp.Tuple(expressions=[literal(row.get(c), TYPES[c]) for c, _ in columns])
                                 for row in rows[start:start + CHUNK]])
            self.run(exp.Insert(this=staged.copy(), expression=values))
        self.run(exp.Insert(this=self.table(name), expression=exp.select("*").from_(staged.copy()), overwrite=True))
        self.run(exp.Drop(tables=[staged], kind="TABLE", exists=True))

    def update(self, name: str, key: str, rows: Sequence[dict[str, Any]],
               increments: Iterable[str] = ()) -> None:
        """Set each row's columns where `key` matches; `increments` columns are added to instead."""
        if not rows:
            return
        if not updates_rows(self.dialect):
            by_key = {row[key]: row for row in rows}
            added_ = set(increments)

            def change(row: dict[str, Any]) -> dict[str, Any]:
                new = by_key.get(row[key])
                if new is None:
                    return row
                return {**row, **{c: (row.get(c) or 0) + v if c in added_ else v for c, v in new.items() if c != key}}

            self.rewrite(name, change)
            return
        columns = [c for c in rows[0] if c != key]
        added = set(increments)
        for start in range(0, len(rows), CHUNK):
            values = exp.Values(expressions=[exp.Tuple(expressions=[literal(row[c], TYPES[c])
                                                                    for c in (key, *columns)])
                                             for row in rows[start:start + CHUNK]],
                                alias=exp.TableAlias(this=exp.to_identifier("u"),
                                                     columns=[exp.to_identifier(c) for c in (key, *columns)]))
            sets = []
            for c in columns:
                new: exp.Expr = exp.cast(exp.column(c, table="u"), TYPES[c])
                if c in added:
                    new = exp.Coalesce(this=exp.column(c, table=name), expressions=[exp.Literal.number(0)]) + new
                sets.append(exp.EQ(this=exp.column(c), expression=new))
            statement = exp.Update(this=self.table(name), expressions=sets, from_=exp.From(this=values),
                                   where=exp.Where(this=exp.column(key, table=name).eq(exp.column(key, table="u"))))
            self.run(statement)


    def mark(self, channel: str, event_ids: Sequence[str], attempts: int, error: str | None,
             delivered_at: datetime | None) -> None:
        """Record a delivery attempt of these events to `channel`: delivered, or the error met (masked:
        BI tools can read this table)."""
        error = mask(error) if error is not None else None
        if not updates_rows(self.dialect):
            chosen = set(event_ids)

            def change(row: dict[str, Any]) -> dict[str, Any]:
                if row["channel"] != channel or row["event_id"] not in chosen:
                    return row
                return {**row, "attempts": (row.get("attempts") or 0) + attempts, "last_error": error,
                        "delivered_at": delivered_at}

            self.rewrite(OUTBOX, change)
            return
        for start in range(0, len(event_ids), CHUNK):
            chunk = [exp.Literal.string(i) for i in event_ids[start:start + CHUNK]]
            tried = exp.Coalesce(this=exp.column("attempts"), expressions=[exp.Literal.number(0)])
            sets = [exp.EQ(this=exp.column("attempts"), expression=tried + exp.Literal.number(attempts)),
                    exp.EQ(this=exp.column("last_error"), expression=literal(error, "VARCHAR")),
                    exp.EQ(this=exp.column("delivered_at"), expression=literal(delivered_at, "TIMESTAMP"))]
            where = exp.and_(exp.column("channel").eq(exp.Literal.string(channel)), exp.column("event_id").isin(*chunk))
            self.run(exp.Update(this=self.table(OUTBOX), expressions=sets, where=exp.Where(this=where)))


class _Transaction:
    """All state writes of a run land together, or not at all."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def __enter__(self) -> StateStore:
        if updates_rows(self.store.dialect):
            self.store.execute("BEGIN TRANSACTION")
        return self.store

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: Any) -> None:
        if not updates_rows(self.store.dialect):
            return
        if kind is None:
            self.store.execute("COMMIT")
        else:
            try:
                self.store.execute("ROLLBACK")
            except WarehouseError:
                pass
