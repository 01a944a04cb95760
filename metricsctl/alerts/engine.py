"""One alert run: evaluate the rules, open, re-notify and resolve alerts, deliver the events.

    run = run_alerts(spec, config, warehouse.execute, as_of=datetime(2024, 6, 10))
    sys.exit(run.exit_code(fail_on="critical"))

Every series of a rule is judged in one query (see evaluate.py). An alert is keyed by (rule, series):
it opens once, is sent again only after its rule's cooldown, and sends a last event when it resolves
(its series judged `ok`, or no longer there). `insufficient_history` and `no_data` leave an alert as it
is. A rule whose metric's inputs failed their data-quality checks is not evaluated on stale numbers: it
raises a `stale_data` alert instead, which resolves once the inputs pass again.
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from metricsctl.alerts.channels import Event, RetryPolicy, notifier_for, send_with_retry
from metricsctl.alerts.evaluate import Evaluation, Execute, evaluate_rule
from metricsctl.alerts.rules import SEVERITIES, AlertConfig, Anomaly, Change, Rule, Target
from metricsctl.alerts.state import HISTORY, OUTBOX, OpenAlert, StateStore
from metricsctl.errors import MetricsctlError, WarehouseError
from metricsctl.spec import Spec
from metricsctl.warehouse import Result


@dataclass(frozen=True)
class AlertEvent:
    """An alert opened, re-notified (its cooldown passed while it kept firing) or resolved."""

    event: str  # opened | renotified | resolved
    alert_id: str
    rule: str
    metric: str
    kind: str
    severity: str
    owner: str | None
    series_key: str
    period: date | None
    value: float | None
    expected_low: float | None
    expected_high: float | None
    message: str
    channels: tuple[str, ...]
    at: datetime

    def payload(self) -> Event:
        return {"event": self.event, "alert_id": self.alert_id, "rule": self.rule, "metric": self.metric,
                "kind": self.kind, "severity": self.severity, "owner": self.owner, "series_key": self.series_key,
                "period": self.period.isoformat() if self.period else None, "value": self.value,
                "expected_low": self.expected_low, "expected_high": self.expected_high, "message": self.message,
                "at": self.at.isoformat(sep=" ")}


@dataclass(frozen=True)
class DeliveryFailure:
    channel: str
    error: str  # scrubbed of secrets
    attempts: int
    pending: int  # events kept for the next run


@dataclass(frozen=True)
class RuleFailure:
    rule: str
    error: str


@dataclass
class AlertRun:
    """What a run did; `exit_code()` is what a scheduler wants."""

    as_of: datetime
    dry_run: bool = False
    rules: list[str] = field(default_factory=list)  # evaluated (or raised stale_data)
    series: dict[str, int] = field(default_factory=dict)  # rule -> series judged
    queries: int = 0
    evaluations: list[Evaluation] = field(default_factory=list)
    opened: list[AlertEvent] = field(default_factory=list)
    renotified: list[AlertEvent] = field(default_factory=list)
    resolved: list[AlertEvent] = field(default_factory=list)
    delivered: dict[str, int] = field(default_factory=dict)  # channel -> events delivered
    failures: list[DeliveryFailure] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # rules that raised stale_data
    errors: list[RuleFailure] = field(default_factory=list)
    open_alerts: list[OpenAlert] = field(default_factory=list)
    on_console: set[tuple[str, str]] = field(default_factory=set)  # (rule, series) printed by a console channel

    @property
    def series_count(self) -> int:
        return sum(self.series.values())

    @property
    def insufficient_history(self) -> list[Evaluation]:
        return [e for e in self.evaluations if e.status == "insufficient_history"]

    @property
    def firing(self) -> list[Evaluation]:
        return [e for e in self.evaluations if e.firing]

    def exit_code(self, fail_on: str = "critical") -> int:
        return exit_code(self, fail_on)

    def headline(self) -> str:
        """`as of 2025-03-17: 12 rules, 40 series: 1 opened, 0 re-sent, 0 resolved, 1 open` in one line."""
        day = self.as_of.date().isoformat() if self.as_of.time() == datetime.min.time() else self.as_of.isoformat(
            sep=" ", timespec="minutes")
        rules = f"{len(self.rules)} rule{'s' if len(self.rules) != 1 else ''}"
        return (f"as of {day}: {rules}, {self.series_count} series: {len(self.opened)} opened, "
                f"{len(self.renotified)} re-sent, {len(self.resolved)} resolved, {len(self.open_alerts)} open"
                + (" (dry run: nothing sent or stored)" if self.dry_run else "")
                + ("; no rule found data in the periods it judges: is the data older than that? (--as-of "
                   "judges another date)" if self.rules and not self.series_count else ""))

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly digest (for `--json` and logs); holds no secret."""
        return {
            "as_of": self.as_of.isoformat(sep=" "), "dry_run": self.dry_run, "rules": self.rules,
            "series": self.series, "queries": self.queries,
            "opened": [e.payload() for e in self.opened], "renotified": [e.payload() for e in self.renotified],
            "resolved": [e.payload() for e in self.resolved], "delivered": self.delivered,
            "delivery_failures": [f.__dict__ for f in self.failures], "stale": self.stale,
            "errors": [f.__dict__ for f in self.errors],
            "insufficient_history": [{"rule": e.rule, "series": e.series_key, "training": e.training}
                                     for e in self.insufficient_history],
            "open_alerts": [{"rule": a.rule, "series": a.series_key, "severity": a.severity, "owner": a.owner,
                             "since": a.fired_at.isoformat(sep=" "), "message": a.message} for a in self.open_alerts],
        }


def exit_code(run: AlertRun, fail_on: str = "critical") -> int:
    """0: no open alert at or above `fail_on`; 1: at least one; 2: a rule could not be evaluated."""
    if fail_on not in SEVERITIES:
        raise MetricsctlError(f"fail_on is '{fail_on}'; use one of {', '.join(SEVERITIES)}")
    if run.errors:
        return 2
    floor = SEVERITIES.index(fail_on)
    return 1 if any(SEVERITIES.index(a.severity) >= floor for a in run.open_alerts
                    if a.severity in SEVERITIES) else 0


def connection_executor(connection: Any) -> Execute:
    """An `execute(sql) -> Result` over a DuckDB connection opened read-write by the caller."""
    import duckdb

    def execute(sql: str) -> Result:
        try:
            cursor = connection.execute(sql)
            columns = tuple(d[0] for d in cursor.description or ())
            return Result(columns, cursor.fetchall() if columns else [])
        except duckdb.Error as exc:
            raise WarehouseError(f"the warehouse refused the statement: {exc}") from None

    return execute


# --- messages ----------------------------------------------------------------------------------
def fmt(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-" if value is None else str(value)
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.2f}"


def expected_range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"expected {fmt(low)} to {fmt(high)}"
    if low is not None:
        return f"expected at least {fmt(low)}"
    return f"expected at most {fmt(high)}"


def describe(rule: Rule, e: Evaluation) -> str:
    """What fired, in one sentence a business reader understands."""
    what = rule.metric + (f" [{e.series_key}]" if e.series else "")
    at = e.period.isoformat() if e.period else "-"
    if e.reason == "stale_data":
        return (f"{rule.metric}: its inputs failed their data-quality checks, so alert '{rule.name}' was not "
                "evaluated on stale numbers")
    if rule.kind == "threshold":
        limit = f"above {fmt(e.high)}" if e.high is not None and (e.value or 0) > e.high else f"below {fmt(e.low)}"
        return f"{what} was {fmt(e.value)} for the {rule.grain} of {at}: {limit}"
    if isinstance(rule.params, Change):
        unit = "%" if rule.params.unit == "percent" else ""
        score = f"{e.score:+,.1f}{unit}" if e.score is not None else "-"
        against = "the previous " + rule.grain if rule.params.compare_to == "previous_period" else "a year earlier"
        return (f"{what} changed {score} against {against} ({fmt(e.expected)} -> {fmt(e.value)}, {rule.grain} of "
                f"{at}); {expected_range(e.low, e.high)}")
    if isinstance(rule.params, Anomaly):
        side = "spike" if (e.value or 0) > (e.expected or 0) else "drop"
        earlier = f"{e.period:%A}s" if rule.params.seasonality == "weekday" and e.period else f"{rule.grain}s"
        score = f"{e.score:+.1f}" if e.score is not None else "inf"
        return (f"{what} was {fmt(e.value)} on {at}: a {side}, {expected_range(e.low, e.high)} "
                f"({rule.params.method} score {score} against {e.training} earlier {earlier})")
    if isinstance(rule.params, Target):
        attainment = f"{e.score:.0%}" if e.score is not None else "no actual"
        if rule.params.mode == "pace":
            return (f"{what} is behind pace for the {rule.grain} of {at}: {fmt(e.value)} so far against "
                    f"{fmt(e.expected)} due by now ({attainment})")
        return f"{what} missed its target for the {rule.grain} of {at}: {fmt(e.value)} against {fmt(e.expected)} " \
               f"({attainment})"
    if rule.kind == "freshness":
        if e.period is None:
            return f"{what} has no data at all"
        return (f"{what} is stale: its latest {rule.grain} with data is {at}, {fmt(e.value)} h old (allowed "
                f"{fmt(e.high)} h)")
    return f"{what}: {e.status}"


# --- the run -----------------------------------------------------------------------------------
@dataclass
class _Plan:
    new: list[dict[str, Any]] = field(default_factory=list)
    seen: list[dict[str, Any]] = field(default_factory=list)
    notified: list[dict[str, Any]] = field(default_factory=list)
    closed: list[dict[str, Any]] = field(default_factory=list)
    events: list[AlertEvent] = field(default_factory=list)


def run_alerts(spec: Spec, config: AlertConfig, execute: Execute, *, as_of: datetime | None = None,
               dry_run: bool = False, stale_metrics: Iterable[str] = (), rules: Iterable[str] | None = None,
               dialect: str = "duckdb", schema: str | None = None, retry: RetryPolicy | None = None,
               environ: Mapping[str, str] | None = None, stream: IO[str] | None = None,
               base_dir: Path | None = None, sleep: Callable[[float], None] = time.sleep,
               on_rule: Callable[[str, str, str], None] | None = None) -> AlertRun:
    """Evaluate `rules` (default: all) at `as_of` (default: now), update the state, notify.

    `execute` runs one statement on a read-write connection and returns a Result. `stale_metrics`:
    metrics whose inputs failed their data-quality checks. `dry_run` evaluates and reports what would
    happen, without notifying or writing anything. `schema` holds the state tables (default: the
    connection's current schema). `environ` is where secrets are read (default: os.environ).
    `on_rule(rule, status, detail)` hears each rule as it is judged (status: ok, firing, stale, error).
    """
    as_of = (as_of or datetime.now()).replace(tzinfo=None)
    selected = [config.rule(name) for name in rules] if rules is not None else list(config.rules)
    stale = set(stale_metrics)
    run = AlertRun(as_of, dry_run)
    store = StateStore(execute, schema, dialect)
    if not dry_run:
        refuse_future(as_of)
        store.ensure()
        refuse_rewriting(store.recorded_until(), as_of)
    judged: dict[str, tuple[Rule, list[Evaluation], bool]] = {}
    for rule in selected:
        if rule.metric in stale:
            evaluated = [Evaluation(rule.name, (), "firing", reason="stale_data")]
            run.stale.append(rule.name)
        else:
            try:
                evaluated = evaluate_rule(spec, rule, execute, as_of, dialect)
            except MetricsctlError as exc:
                run.errors.append(RuleFailure(rule.name, str(exc)))
                if on_rule is not None:
                    on_rule(rule.name, "error", str(exc))
                continue
            run.queries += 1
        if on_rule is not None:
            firing = [e for e in evaluated if e.firing]
            on_rule(rule.name, "stale" if rule.metric in stale else "firing" if firing else "ok",
                    f"{len(firing)} of {len(evaluated)} series firing" if firing else f"{len(evaluated)} series")
        judged[rule.name] = (rule, evaluated, rule.metric in stale)
        run.rules.append(rule.name)
        run.series[rule.name] = len(evaluated)
        run.evaluations.extend(evaluated)

    current = store.open_alerts(as_of) if not dry_run or store.exists() else []
    plan = _transitions(judged, current, as_of)
    if rules is None:  # a full run: alerts of rules no longer declared close, silently (nowhere to send them)
        declared = {rule.name for rule in config.rules}
        plan.closed += [_close(a, as_of, None, None) for a in current if a.rule not in declared]
    run.opened = [e for e in plan.events if e.event == "opened"]
    run.renotified = [e for e in plan.events if e.event == "renotified"]
    run.resolved = [e for e in plan.events if e.event == "resolved"]
    closed = {row["alert_id"] for row in plan.closed}
    run.open_alerts = [a for a in current if a.alert_id not in closed] + [_opened(row) for row in plan.new]
    if dry_run:
        return run
    with store.transaction():
        store.insert(HISTORY, plan.new)
        store.update(HISTORY, "alert_id", plan.seen)
        store.update(HISTORY, "alert_id", plan.notified, increments=("notifications",))
        store.update(HISTORY, "alert_id", plan.closed)
        ids = [uuid.uuid4().hex for _ in plan.events]
        store.insert(OUTBOX, [{"event_id": event_id, "alert_id": e.alert_id, "event": e.event, "channel": channel,
                               "created_at": as_of, "payload": json.dumps(e.payload()), "attempts": 0,
                               "last_error": None, "delivered_at": None}
                              for event_id, e in zip(ids, plan.events) for channel in e.channels])
    _deliver(store, config, run, retry or RetryPolicy(), dict(os.environ) if environ is None else environ,
             stream, base_dir, sleep)
    return run


FUTURE_SLACK = timedelta(days=1)  # a scheduler's clock a little ahead, or a timezone apart, is not the future


def refuse_future(as_of: datetime, now: datetime | None = None) -> None:
    """A run that records alert state must not be dated in the future: every run until that date would be
    refused (`refuse_rewriting`), leaving the alerts stuck."""
    now = now or datetime.now()
    if as_of > now + FUTURE_SLACK:
        raise MetricsctlError(
            f"a run as of {as_of.isoformat(sep=' ')} is in the future (now {now:%Y-%m-%d %H:%M}): the alert state it "
            "records would stop every run before that date; add --dry-run to see what the alerts would say")


def refuse_rewriting(recorded: datetime | None, as_of: datetime) -> None:
    """A run that records alert state must not be dated before what later runs recorded."""
    if recorded is not None and recorded > as_of:
        raise MetricsctlError(
            f"alert state is recorded up to {recorded.isoformat(sep=' ')}; a run as of {as_of.isoformat(sep=' ')} "
            "would rewrite what later runs recorded: add --dry-run to see what the alerts were then")


def _transitions(judged: Mapping[str, tuple[Rule, list[Evaluation], bool]], current: list[OpenAlert],
                 as_of: datetime) -> _Plan:
    plan = _Plan()
    open_by_key = {(a.rule, a.series_key): a for a in current}

    def event(kind: str, rule: Rule, alert_id: str, e: Evaluation | None, message: str,
              severity: str | None = None) -> AlertEvent:
        return AlertEvent(kind, alert_id, rule.name, rule.metric, e.reason if e else rule.kind,
                          severity or rule.severity, rule.owner, e.series_key if e else "",
                          e.period if e else None, e.value if e else None, e.low if e else None,
                          e.high if e else None, message, rule.channels, as_of)

    for rule, evaluated, is_stale in judged.values():
        keys_seen = set()
        for e in evaluated:
            keys_seen.add(e.series_key)
            alert = open_by_key.get((rule.name, e.series_key))
            if e.firing:
                message = describe(rule, e)
                if alert is None:
                    alert_id = uuid.uuid4().hex
                    plan.new.append({
                        "alert_id": alert_id, "rule": rule.name, "metric": rule.metric, "kind": e.reason,
                        "grain": rule.grain, "series_key": e.series_key, "series": json.dumps(dict(e.series)),
                        "owner": rule.owner, "severity": rule.severity, "channels": ",".join(rule.channels),
                        "fired_at": as_of, "resolved_at": None, "last_notified_at": as_of, "notifications": 1,
                        "last_evaluated_at": as_of, "period": e.period, "value": e.value, "expected": e.expected,
                        "expected_low": e.low, "expected_high": e.high, "score": e.score, "message": message,
                        "last_period": e.period, "last_value": e.value, "resolved_value": None})
                    plan.events.append(event("opened", rule, alert_id, e, message))
                elif as_of - alert.last_notified_at >= rule.cooldown:
                    plan.notified.append({"alert_id": alert.alert_id, "last_notified_at": as_of, "notifications": 1,
                                          "last_evaluated_at": as_of, "last_period": e.period, "last_value": e.value})
                    plan.events.append(event("renotified", rule, alert.alert_id, e, message, alert.severity))
                else:
                    plan.seen.append({"alert_id": alert.alert_id, "last_evaluated_at": as_of,
                                      "last_period": e.period, "last_value": e.value})
            elif e.status == "ok" and alert is not None:
                plan.closed.append(_close(alert, as_of, e.value, e.period))
                now = f"{fmt(e.value)} for {e.period.isoformat()}" if e.period else fmt(e.value)
                plan.events.append(event("resolved", rule, alert.alert_id, e, f"{alert.message} -> now {now}",
                                         alert.severity))
        if is_stale:
            continue  # stale numbers resolve nothing but a previous stale_data alert, when they are fresh again
        for (name, key), alert in open_by_key.items():
            if name == rule.name and key not in keys_seen:
                plan.closed.append(_close(alert, as_of, None, None))
                gone = "its inputs passed their checks again" if key == "stale_data" else "no longer firing"
                plan.events.append(AlertEvent("resolved", alert.alert_id, rule.name, rule.metric, alert.kind,
                                              alert.severity, rule.owner, key, alert.period, None, None, None,
                                              f"{alert.message} -> {gone}", rule.channels, as_of))
    return plan


def _close(alert: OpenAlert, as_of: datetime, value: float | None, period: date | None) -> dict[str, Any]:
    return {"alert_id": alert.alert_id, "resolved_at": as_of, "resolved_value": value, "last_evaluated_at": as_of,
            "last_period": period or alert.period}


def _opened(row: Mapping[str, Any]) -> OpenAlert:
    return OpenAlert(row["alert_id"], row["rule"], row["metric"], row["kind"], row["series_key"], row["severity"],
                     row["owner"], row["fired_at"], row["last_notified_at"], row["notifications"], row["period"],
                     row["value"], row["message"])


def _deliver(store: StateStore, config: AlertConfig, run: AlertRun, retry: RetryPolicy, environ: Mapping[str, str],
             stream: IO[str] | None, base_dir: Path | None, sleep: Callable[[float], None]) -> None:
    """Send every pending event (this run's and any left by earlier runs), one message per channel."""
    by_channel: dict[str, list[Any]] = {}
    for pending in store.pending():
        by_channel.setdefault(pending.channel, []).append(pending)
    for name, items in by_channel.items():
        channel = config.channels.get(name)
        error: str | None
        if channel is None:
            attempts, error = 0, f"channel '{name}' is no longer declared under alert_channels"
        else:
            attempts, error = send_with_retry(notifier_for(channel, environ, stream, base_dir),
                                              [p.payload for p in items], retry, sleep)
        ids = [p.event_id for p in items]
        if error is None:
            run.delivered[name] = len(items)
            if channel is not None and channel.type == "console":
                run.on_console.update((str(p.payload.get("rule")), str(p.payload.get("series_key") or ""))
                                      for p in items)
        else:
            run.failures.append(DeliveryFailure(name, error, attempts, len(items)))
        store.mark(name, ids, attempts, error, run.as_of if error is None else None)
