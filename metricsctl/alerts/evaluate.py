"""Each alert rule as one SQL query over all of its series, built as sqlglot expressions.

The metric is read through the compiler (`metric_time__<grain>` plus the rule's dimensions), wrapped as
a subquery; `series` renames its columns to `period, k0..kN, value`. Every rule kind then answers with
the same columns, one row per series:

    period, k0..kN, value, expected, low, high, score, n, weight, status

`status` is `firing`, `ok`, `insufficient_history` (too little to judge) or `no_data` (no value in the
period judged). Only periods that ended by `as_of` count, except for pace to target, which judges the
period in progress with the data of the days before `as_of`.
"""

from __future__ import annotations

import calendar
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlglot import exp

from metricsctl.alerts.rules import Anomaly, Change, Freshness, Rule, Target, Threshold
from metricsctl.compiler.dialects import date_part, percentile, to_sql
from metricsctl.errors import MetricsctlError, QueryError
from metricsctl.spec import Spec
from metricsctl.warehouse import Result

STATUSES = ("firing", "ok", "insufficient_history", "no_data")
MAD_TO_SIGMA = 1.4826  # a normal distribution's standard deviation is 1.4826 times its MAD
Execute = Callable[[str], Result]


# --- periods -----------------------------------------------------------------------------------
def period_start(day: date, grain: str) -> date:
    """The start of the period holding `day`, as DATE_TRUNC has it (weeks start on Monday)."""
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    raise ValueError(f"unsupported grain {grain!r}")


def add_periods(start: date, grain: str, count: int) -> date:
    if grain == "day":
        return start + timedelta(days=count)
    if grain == "week":
        return start + timedelta(weeks=count)
    months = start.year * 12 + start.month - 1 + count
    year, month = divmod(months, 12)
    return date(year, month + 1, min(start.day, calendar.monthrange(year, month + 1)[1]))


def last_complete_period(as_of: datetime, grain: str) -> date:
    """The latest period that ended by `as_of`."""
    return add_periods(period_start(as_of.date(), grain), grain, -1)


def latest_started_period(as_of: datetime, grain: str) -> date:
    """The latest period that began before `as_of` (data of later periods cannot exist yet at as_of)."""
    return period_start((as_of - timedelta(microseconds=1)).date(), grain)


# --- results -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Evaluation:
    """One series of one rule, judged."""

    rule: str
    series: tuple[tuple[str, str | None], ...]  # (dimension, value) pairs; () for the whole metric
    status: str
    period: date | None = None
    value: float | None = None
    expected: float | None = None
    low: float | None = None
    high: float | None = None
    score: float | None = None
    training: int | None = None
    weight: float | None = None
    reason: str = ""  # the rule's kind, or stale_data

    @property
    def series_key(self) -> str:
        if self.reason == "stale_data":
            return "stale_data"
        return ", ".join(f"{k}={series_value(v)}" for k, v in self.series)

    @property
    def firing(self) -> bool:
        return self.status == "firing"


# --- sql helpers -------------------------------------------------------------------------------
def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=False)


def series_value(value: str | None) -> str:
    """A dimension's value in a series key: as it is, `null` for NULL, and quoted (JSON) where it could be read
    otherwise: the text 'null', or text holding the key's own separators, so that no two series share a key."""
    if value is None:
        return "null"
    if value == "null" or ", " in value or "=" in value or value != value.strip() or value.startswith('"'):
        return json.dumps(value, ensure_ascii=False)
    return value


def day_literal(value: date) -> exp.Expr:
    return exp.cast(exp.Literal.string(value.isoformat()), "DATE")


def timestamp_literal(value: datetime) -> exp.Expr:
    return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), "TIMESTAMP")


def num(value: float | None) -> exp.Expr:
    return exp.null() if value is None or not math.isfinite(float(value)) else exp.convert(float(value))


def text(value: str) -> exp.Expr:
    return exp.Literal.string(value)


def keys(count: int, table: str | None = None) -> list[exp.Column]:
    return [col(f"k{i}", table) for i in range(count)]


def keys_match(count: int, left: str, right: str) -> exp.Expr:
    conditions: list[exp.Expr] = [exp.NullSafeEQ(this=a, expression=b)
                                  for a, b in zip(keys(count, left), keys(count, right))]
    return exp.and_(*conditions) if conditions else exp.true()


def status_case(*branches: tuple[exp.Expr, str], default: str = "ok") -> exp.Expr:
    case = exp.case()
    for condition, status in branches:
        case = case.when(condition, text(status))
    return case.else_(text(default))


def alias(value: exp.Expr, name: str) -> exp.Expr:
    return exp.alias_(value, name, quoted=False)


def output(period: exp.Expr, key_columns: list[exp.Expr], value: exp.Expr, *, expected: exp.Expr | None = None,
           low: exp.Expr | None = None, high: exp.Expr | None = None, score: exp.Expr | None = None,
           n: exp.Expr | None = None, weight: exp.Expr | None = None, status: exp.Expr) -> list[exp.Expr]:
    """The columns every rule query answers with, in order."""
    null = exp.null
    return [alias(period, "period"), *[alias(k, f"k{i}") for i, k in enumerate(key_columns)],
            alias(value, "value"), alias(expected or null(), "expected"), alias(low or null(), "low"),
            alias(high or null(), "high"), alias(score or null(), "score"), alias(n or null(), "n"),
            alias(weight or null(), "weight"), alias(status, "status")]


@dataclass(frozen=True)
class Source:
    """Rows of a metric by period and series keys: a compiled metric query, or any table."""

    expression: exp.Expr
    period: str
    keys: tuple[str, ...]
    value: str

    def series(self, start: date | None, end: date | None, dialect: str = "duckdb",
               only: tuple[date, ...] = ()) -> exp.Select:
        """`period, k0..kN, value` for the periods from `start` to `end` (inclusive; or `only` these periods),
        non-null values only."""
        source = self.expression.copy()
        if isinstance(source, exp.Table):
            table: exp.Expr = source if source.alias else exp.alias_(source, "m", table=True)
            table_name = source.alias or "m"
        else:
            table = exp.Subquery(this=source, alias=exp.TableAlias(this=exp.to_identifier("m")))
            table_name = "m"
        period = exp.cast(exp.column(self.period, table=table_name, quoted=True), "DATE")
        conditions: list[exp.Expr] = [exp.column(self.value, table=table_name, quoted=True).is_(exp.null()).not_()]
        if start is not None:
            conditions.append(period.copy() >= day_literal(start))
        if end is not None:
            conditions.append(period.copy() <= day_literal(end))
        if only:
            conditions.append(period.copy().isin(*[day_literal(d) for d in only]))
        select = exp.select(alias(period, "period"),
                            *[alias(exp.column(k, table=table_name, quoted=True), f"k{i}")
                              for i, k in enumerate(self.keys)],
                            alias(exp.cast(exp.column(self.value, table=table_name, quoted=True), "DOUBLE"), "value"))
        return select.from_(table).where(exp.and_(*conditions))


def metric_source(spec: Spec, rule: Rule, dialect: str = "duckdb", start: date | None = None,
                  end: date | None = None, where: tuple[str, ...] = ()) -> Source:
    """The rule's metric by `metric_time__<grain>` and its dimensions, compiled for the warehouse."""
    from metricsctl.compiler.query import MetricQuery
    from metricsctl.compiler.render import SqlCompiler

    query = MetricQuery.of(rule.metric, [f"metric_time__{rule.grain}", *rule.dimensions], (*rule.filters, *where),
                           start_time=start.isoformat() if start else None, end_time=end.isoformat() if end else None)
    compiled = SqlCompiler(spec, dialect).compile(query)
    columns = compiled.columns
    return Source(compiled.expression, columns[0], tuple(columns[1:-1]), columns[-1])


# --- the rule kinds ----------------------------------------------------------------------------
def with_ctes(final: exp.Select, ctes: list[tuple[str, exp.Expr]]) -> exp.Select:
    for name, body in ctes:
        final = final.with_(name, as_=body)
    return final


def threshold_query(rule: Rule, params: Threshold, source: Source, as_of: datetime,
                    dialect: str = "duckdb") -> exp.Select:
    last = last_complete_period(as_of, rule.grain)
    n = len(source.keys)
    value = col("value")
    breaches: list[exp.Expr] = [value > num(params.above)] if params.above is not None else []
    breaches += [value < num(params.below)] if params.below is not None else []
    final = exp.select(*output(col("period"), list(keys(n)), value, low=num(params.below), high=num(params.above),
                               status=status_case((exp.or_(*breaches), "firing"))))
    return with_ctes(final.from_("series"), [("series", source.series(last, last, dialect))])


def change_query(rule: Rule, params: Change, source: Source, as_of: datetime, dialect: str = "duckdb") -> exp.Select:
    last = last_complete_period(as_of, rule.grain)
    if params.compare_to == "previous_period":
        base_period = add_periods(last, rule.grain, -1)
    else:  # the same weekday a year ago at day grain, the same week number, the same month
        base_period = add_periods(last, rule.grain, {"day": -364, "week": -52, "month": -12}[rule.grain])
    n = len(source.keys)

    def at(period: date) -> exp.Expr:
        return exp.Max(this=exp.case().when(col("period").eq(day_literal(period)), col("value")))

    paired = exp.select(*keys(n), alias(at(last), "value"), alias(at(base_period), "base")).from_("series")
    if n:
        paired = paired.group_by(*keys(n))
    value, base = col("value"), col("base")
    percent = params.unit == "percent"
    scale: exp.Expr = exp.Abs(this=base) / 100 if percent else exp.Literal.number(1)
    change = exp.paren(value - base) / exp.paren(scale.copy()) if percent else value - base
    breaches: list[exp.Expr] = [change.copy() > num(params.above)] if params.above is not None else []
    breaches += [change.copy() < num(params.below)] if params.below is not None else []

    def bound(limit: float | None) -> exp.Expr | None:
        return None if limit is None else base.copy() + scale.copy() * num(limit)

    no_base: exp.Expr = base.is_(exp.null())
    if percent:
        no_base = exp.or_(no_base, base.eq(0))
    status = status_case((value.is_(exp.null()), "no_data"), (no_base, "insufficient_history"),
                         (exp.or_(*breaches), "firing"))
    final = exp.select(*output(day_literal(last), list(keys(n)), value, expected=base, low=bound(params.below),
                               high=bound(params.above), score=change, status=status)).from_("paired")
    series = source.series(base_period, last, dialect, only=(last, base_period))
    return with_ctes(final, [("series", series), ("paired", paired)])


def anomaly_query(rule: Rule, params: Anomaly, source: Source, as_of: datetime,
                  dialect: str = "duckdb") -> exp.Select:
    """Score the detection window against the trailing training window that precedes it.

    With weekday seasonality (daily grain) each day is compared with the same weekday only: the training
    window then spans `training_periods` weeks, and the statistics are kept per series and weekday.
    """
    last = last_complete_period(as_of, rule.grain)
    window_start = add_periods(last, rule.grain, 1 - params.detection_periods)
    seasonal = params.seasonality == "weekday"
    train_start = (window_start - timedelta(weeks=params.training_periods) if seasonal
                   else add_periods(window_start, rule.grain, -params.training_periods))
    n = len(source.keys)
    slot: exp.Expr = date_part("dow", col("period"), dialect) if seasonal else exp.Literal.number(0)
    period, value = col("period"), col("value")
    train = exp.select(*keys(n), alias(slot.copy(), "slot"), value).from_("series").where(period < day_literal(
        window_start))
    detect = exp.select(period, *keys(n), alias(slot.copy(), "slot"), value).from_("series").where(
        period >= day_literal(window_start))
    group = [*keys(n), col("slot")]
    stats = exp.select(*group, alias(exp.Count(this=exp.Star()), "n"), alias(exp.Avg(this=value), "mean"),
                       alias(exp.func("stddev_samp", value), "sd"),
                       alias(percentile(value, 0.5, False, dialect), "med"),
                       alias(exp.Min(this=value.copy()), "lowest")).from_("train").group_by(*group)
    on = exp.and_(keys_match(n, "d", "s"), col("slot", "d").eq(col("slot", "s")))
    ctes: list[tuple[str, exp.Expr]] = [("series", source.series(train_start, last, dialect)), ("train", train),
                                        ("detect", detect), ("stats", stats)]
    scored = exp.select(col("period", "d"), *keys(n, "d"), col("value", "d"), col("n", "s")).from_(
        exp.alias_(exp.to_table("detect"), "d", table=True)).join(
        exp.alias_(exp.to_table("stats"), "s", table=True), on=on, join_type="LEFT")
    if params.method == "zscore":
        center: exp.Expr = col("mean", "s")
        scale: exp.Expr = col("sd", "s")
    else:
        distance = exp.Abs(this=col("value", "t") - col("med", "s"))
        spread = exp.select(*keys(n, "t"), col("slot", "t"), alias(percentile(distance, 0.5, False, dialect), "mad"))
        spread = spread.from_(exp.alias_(exp.to_table("train"), "t", table=True)).join(
            exp.alias_(exp.to_table("stats"), "s", table=True),
            on=exp.and_(keys_match(n, "t", "s"), col("slot", "t").eq(col("slot", "s")))).group_by(
            *keys(n, "t"), col("slot", "t"))
        ctes.append(("spread", spread))
        scored = scored.join(exp.alias_(exp.to_table("spread"), "p", table=True),
                             on=exp.and_(keys_match(n, "d", "p"), col("slot", "d").eq(col("slot", "p"))),
                             join_type="LEFT")
        center, scale = col("med", "s"), num(MAD_TO_SIGMA) * col("mad", "p")
    scored = scored.select(alias(center, "center"), alias(scale, "scale"), col("lowest", "s"), append=True)
    ctes.append(("scored", scored))

    center, scale, value = col("center"), col("scale"), col("value")
    threshold = num(params.threshold)
    # a series that never went below zero (a count, a rate) gets no band below zero: `expected -0.10 to
    # 0.13` for a rate reads as nonsense, and no value of such a series could fall under it anyway
    below_zero = center.copy() - threshold.copy() * scale.copy()
    low = exp.case().when(exp.and_(col("lowest") >= exp.Literal.number(0), below_zero < exp.Literal.number(0)),
                          exp.Literal.number(0)).else_(below_zero.copy())
    high = center + threshold.copy() * scale.copy()
    deviation = value - center.copy()
    outside = {"spike": value.copy() > high.copy(), "drop": value.copy() < low.copy(),
               "both": exp.or_(value.copy() > high.copy(), value.copy() < low.copy())}[params.direction]
    large = exp.and_(exp.Abs(this=deviation.copy()) >= num(params.min_abs_change),
                     exp.Abs(this=deviation.copy()) >= num(params.min_rel_change) * exp.Abs(this=center.copy()))
    status = status_case((exp.Coalesce(this=col("n"), expressions=[exp.Literal.number(0)])
                          < exp.Literal.number(params.min_training), "insufficient_history"),
                         (exp.and_(outside, large), "firing"))
    score = exp.case().when(scale.copy() > 0, exp.paren(deviation.copy()) / scale.copy())
    final = exp.select(*output(col("period"), list(keys(n)), value.copy(), expected=center.copy(), low=low,
                               high=high, score=score, n=col("n"), status=status)).from_("scored")
    if params.detection_periods > 1:  # one row per series: a firing period first, else the latest
        order = exp.Order(expressions=[exp.Ordered(this=exp.paren(status.copy().eq(text("firing"))), desc=True),
                                       exp.Ordered(this=col("period"), desc=True)])
        rank = exp.Window(this=exp.RowNumber(), partition_by=list(keys(n)), order=order)
        final = final.qualify(rank.eq(1))
    return with_ctes(final, ctes)


def target_period(rule: Rule, params: Target, as_of: datetime) -> tuple[date, float]:
    """The period judged and the share of its target due by then (1 at period end)."""
    if params.mode == "end":
        return last_complete_period(as_of, rule.grain), 1.0
    current = period_start(as_of.date(), rule.grain)
    days = (add_periods(current, rule.grain, 1) - current).days
    return current, (as_of.date() - current).days / days


def target_query(rule: Rule, params: Target, source: Source, as_of: datetime, targets: exp.Expr,
                 dialect: str = "duckdb") -> exp.Select:
    """Actual against the targets table's row for the period and org unit ('company' without dimension)."""
    period, share = target_period(rule, params, as_of)
    n = len(source.keys)
    # read as the scorecards and `tree` read the table: the grain as written, the org unit as text (a
    # spreadsheet of store numbers lands as integers)
    org_unit = exp.cast(col("org_unit"), "VARCHAR")
    conditions = [col("metric_name").eq(text(params.target_metric)),
                  exp.cast(col("period_grain"), "VARCHAR").eq(text(rule.grain)),
                  exp.cast(col("period_start"), "DATE").eq(day_literal(period)),
                  org_unit.eq(text("company")) if n == 0 else org_unit.neq(text("company"))]
    if n and params.kind_column and params.org_unit_kind:
        conditions.append(exp.cast(col(params.kind_column), "VARCHAR").eq(text(params.org_unit_kind)))
    wanted = exp.select(alias(org_unit.copy(), "org_unit"),
                        alias(exp.Max(this=exp.cast(col("target_value"), "DOUBLE")), "target"),
                        alias(exp.Max(this=exp.cast(col("weight"), "DOUBLE")), "weight")).from_(
        targets).where(exp.and_(*conditions)).group_by(org_unit.copy())
    actual = exp.select(alias(exp.cast(col("k0"), "VARCHAR") if n else text("company"), "org_unit"), col("value"))
    actual = actual.from_("series")
    expected = col("target", "t") * num(share)
    value = col("value", "a")
    tolerance = num(params.tolerance / 100)
    # the tolerance is a share of the target's size: a budgeted loss of -100 is met down to -105 at 5 %
    margin = exp.Abs(this=expected.copy()) * tolerance
    if params.higher_is_better:
        low, high = expected.copy() - margin, None
        missed: exp.Expr = value.copy() < low.copy()
    else:
        low, high = None, expected.copy() + margin
        missed = value.copy() > high.copy()
    score = exp.case().when(expected.copy().neq(0), value.copy() / expected.copy())
    status = status_case((exp.or_(value.copy().is_(exp.null()), missed), "firing"))
    final = exp.select(*output(day_literal(period), [col("org_unit", "t")] if n else [], value, expected=expected,
                               low=low, high=high, score=score, weight=col("weight", "t"), status=status))
    final = final.from_(exp.alias_(exp.to_table("wanted"), "t", table=True)).join(
        exp.alias_(exp.to_table("actual"), "a", table=True), on=col("org_unit", "a").eq(col("org_unit", "t")),
        join_type="LEFT")
    return with_ctes(final, [("series", source.series(period, period, dialect)), ("wanted", wanted),
                             ("actual", actual)])


def freshness_query(rule: Rule, params: Freshness, source: Source, as_of: datetime,
                    dialect: str = "duckdb") -> exp.Select:
    """Hours from the end of each series' latest period with a value to `as_of`, against `max_age`."""
    current = latest_started_period(as_of, rule.grain)
    n = len(source.keys)
    latest = exp.select(alias(exp.Max(this=col("period")), "period"), *keys(n)).from_("series")
    if n:
        latest = latest.group_by(*keys(n))
    period_end = exp.cast(exp.Add(this=col("period"), expression=exp.Interval(
        this=exp.Literal.string("1"), unit=exp.var(rule.grain.upper()))), "TIMESTAMP")
    age = exp.DateDiff(this=timestamp_literal(as_of), expression=period_end, unit=exp.var("MINUTE")) / 60.0
    limit = num(params.max_age.total_seconds() / 3600)
    status = status_case((exp.or_(col("period").is_(exp.null()), age.copy() > limit), "firing"))
    final = exp.select(*output(col("period"), list(keys(n)), age, high=limit, status=status)).from_("latest")
    return with_ctes(final, [("series", source.series(None, current, dialect)), ("latest", latest)])


# --- one rule ----------------------------------------------------------------------------------
def scan_range(rule: Rule, as_of: datetime) -> tuple[date | None, date | None]:
    """The periods a rule reads, so that the metric query scans no more than that."""
    params = rule.params
    last = last_complete_period(as_of, rule.grain)
    if isinstance(params, Threshold):
        return last, last
    if isinstance(params, Change):
        back = 1 if params.compare_to == "previous_period" else {"day": 364, "week": 52, "month": 12}[rule.grain]
        return add_periods(last, rule.grain, -back), last
    if isinstance(params, Anomaly):
        window_start = add_periods(last, rule.grain, 1 - params.detection_periods)
        if params.seasonality == "weekday":
            return window_start - timedelta(weeks=params.training_periods), last
        return add_periods(window_start, rule.grain, -params.training_periods), last
    if isinstance(params, Target):
        period, _ = target_period(rule, params, as_of)
        return period, period
    return None, latest_started_period(as_of, rule.grain)


def source_for(spec: Spec, rule: Rule, as_of: datetime, dialect: str = "duckdb") -> Source:
    start, end = scan_range(rule, as_of)
    where: tuple[str, ...] = ()
    if isinstance(rule.params, Target) and rule.params.mode == "pace":
        # the days of the period before as_of only, so that a run for a past as_of is reproducible
        where = (f"{{{{ TimeDimension('metric_time', 'day') }}}} < '{as_of.date().isoformat()}'",)
    return metric_source(spec, rule, dialect, start, end, where)


def kind_query(rule: Rule, source: Source, as_of: datetime, dialect: str = "duckdb") -> exp.Select | None:
    """The rule's query over any source of (period, keys, value) rows; None when there is nothing to judge."""
    params = rule.params
    if isinstance(params, Threshold):
        return threshold_query(rule, params, source, as_of, dialect)
    if isinstance(params, Change):
        return change_query(rule, params, source, as_of, dialect)
    if isinstance(params, Anomaly):
        return anomaly_query(rule, params, source, as_of, dialect)
    if isinstance(params, Target):
        if target_period(rule, params, as_of)[1] <= 0:
            return None  # the first day of a period: nothing is due yet
        table = exp.to_table(params.targets_table, dialect=dialect)
        return target_query(rule, params, source, as_of, table, dialect)
    if isinstance(params, Freshness):
        return freshness_query(rule, params, source, as_of, dialect)
    raise AssertionError(f"unhandled rule kind {rule.kind}")


def rule_query(spec: Spec, rule: Rule, as_of: datetime, dialect: str = "duckdb") -> exp.Select | None:
    """The one query that judges every series of `rule` at `as_of`."""
    return kind_query(rule, source_for(spec, rule, as_of, dialect), as_of, dialect)


def evaluations(rule: Rule, dimensions: tuple[str, ...], result: Result) -> list[Evaluation]:
    """Rows of a rule query as Evaluations."""
    index = {name: i for i, name in enumerate(result.columns)}

    def get(row: tuple[Any, ...], name: str) -> Any:
        return row[index[name]]

    def number(value: Any) -> float | None:  # NaN and infinity (a division by zero on DuckDB) are no value
        return None if value is None or not math.isfinite(float(value)) else float(value)

    out = []
    for row in result.rows:
        series = tuple((dim, None if get(row, f"k{i}") is None else str(get(row, f"k{i}")))
                       for i, dim in enumerate(dimensions))
        period = get(row, "period")
        if isinstance(period, datetime):
            period = period.date()
        n = get(row, "n")
        out.append(Evaluation(rule.name, series, str(get(row, "status")), period, number(get(row, "value")),
                              number(get(row, "expected")), number(get(row, "low")), number(get(row, "high")),
                              number(get(row, "score")), None if n is None else int(n), number(get(row, "weight")),
                              rule.kind))
    return out


def evaluate_rule(spec: Spec, rule: Rule, execute: Execute, as_of: datetime,
                  dialect: str = "duckdb") -> list[Evaluation]:
    """Every series of `rule`, judged in one query."""
    try:
        query = rule_query(spec, rule, as_of, dialect)
        if query is None:
            return []
        result = execute(to_sql(query, dialect))
    except MetricsctlError as exc:
        raise QueryError(f"{rule.where}: alert '{rule.name}' could not be evaluated: {exc}") from None
    except RecursionError:
        raise QueryError(f"{rule.where}: alert '{rule.name}' could not be evaluated: its query nests too deeply "
                         "to compile; simplify its filter") from None
    return evaluations(rule, rule.dimensions, result)
