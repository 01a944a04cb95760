"""A conversion's attribution by a hash join on the entity and the window's bucket (DuckDB).

Each conversion event is attributed to the latest base event of the same entity on or before its day, and
counts when that event is within the window. An ASOF JOIN finds that event by sorting both sides by entity and
day. With a window of a fixed number of days `w` the days are cut into buckets of `w` days,
`DATE_DIFF('DAY', DATE '1970-01-01', day) // w`: a base event within the window of a conversion (`conversion
day - w < base day <= conversion day`) is in the conversion's bucket or the one before it (every bucket is at
least `w` days wide, the one around 1970-01-01 wider as `//` truncates). So each conversion event is paired,
by an equi-join, with the base events of its entity in those two buckets, the pairs outside the window are
dropped, and the latest base event is kept per conversion event (numbered for that):

    WITH orders_keyed AS (SELECT c.*, DATE_DIFF('DAY', DATE '1970-01-01', c.__day) // 14 - s.__shift AS __bucket
                          FROM (SELECT *, ROW_NUMBER() OVER () AS __conversion_id FROM orders_converting) AS c
                          CROSS JOIN (VALUES (0), (1)) AS s(__shift)),
         orders_attributed AS (SELECT visits_base_events.metric_time__month, orders_keyed.__value
                               FROM orders_keyed JOIN visits_base_events
                                 ON visits_base_events.__entity = orders_keyed.__entity
                                 AND DATE_DIFF('DAY', DATE '1970-01-01', visits_base_events.__day) // 14
                                     = orders_keyed.__bucket
                               WHERE visits_base_events.__day <= orders_keyed.__day
                                 AND visits_base_events.__day > orders_keyed.__day - INTERVAL '14' DAY
                               QUALIFY ROW_NUMBER() OVER (PARTITION BY orders_keyed.__conversion_id
                                                          ORDER BY visits_base_events.__day DESC) = 1)

A hash join reads each side once and sorts nothing but the few pairs of one conversion event: where the
conversion events are few beside the base events (the neobank's 20,000 plan upgrades and 500,000 app sessions) the
export is 1.7x faster than with the ASOF JOIN, which sorts every base event; where they are many (the demo's 2.2M
orders and 1M visits) as fast (BENCHMARKS.md, section 6). Ties are the ASOF JOIN's: the base events come to it one
per entity, day and constant properties where a group-by value could differ between them
(`one_base_event_per_day`), and interchangeable otherwise.
"""

from __future__ import annotations

from sqlglot import exp

from metricsctl.compiler.plan import Window

EPOCH = "1970-01-01"
DAYS_PER_UNIT = {"day": 1, "week": 7}


def window_days(window: Window | None) -> int | None:
    """The window as a whole number of days (a window in days or weeks), else None (months vary in length)."""
    if window is None or window.grain not in DAYS_PER_UNIT or window.count < 1:
        return None
    return window.count * DAYS_PER_UNIT[window.grain]


def bucket(day: exp.Expr, days: int) -> exp.Expr:
    """The `days`-wide bucket of a DATE: whole days since 1970-01-01, divided by `days`."""
    since = exp.DateDiff(this=day, expression=exp.Cast(this=exp.Literal.string(EPOCH), to=exp.DataType.build("DATE")),
                         unit=exp.var("DAY"))
    return exp.IntDiv(this=since, expression=exp.Literal.number(days))


def keyed(events: str, days: int) -> exp.Select:
    """The conversion events `events`, numbered, each twice: with its day's bucket and the bucket before."""
    numbered = exp.Select(expressions=[exp.Star(), exp.alias_(exp.Window(this=exp.RowNumber()), "__conversion_id")]
                          ).from_(exp.Table(this=exp.to_identifier(events)), copy=False)
    shifts = exp.Values(expressions=[exp.Tuple(expressions=[exp.Literal.number(n)]) for n in (0, 1)],
                        alias=exp.TableAlias(this=exp.to_identifier("s"), columns=[exp.to_identifier("__shift")]))
    event_bucket = exp.Sub(this=bucket(exp.column("__day", "c"), days), expression=exp.column("__shift", "s"))
    return exp.Select(expressions=[exp.Column(this=exp.Star(), table=exp.to_identifier("c")),
                                   exp.alias_(event_bucket, "__bucket")]).from_(
        exp.Subquery(this=numbered, alias=exp.TableAlias(this=exp.to_identifier("c"))), copy=False).join(
        exp.Join(this=shifts, kind="CROSS"), copy=False)  # a Join as such: a join type as text is parsed each time


def attributed(events: str, base: str, projections: list[exp.Expr], on: list[exp.Expr], window: exp.Expr,
               days: int) -> exp.Select:
    """The pairs of a keyed conversion event and a base event of its entity (`on`: entity and constant
    properties) in its bucket, within `window`, the latest base event kept per conversion event."""
    same_bucket = exp.EQ(this=bucket(exp.column("__day", base), days), expression=exp.column("__bucket", events))
    latest = exp.Window(this=exp.RowNumber(), partition_by=[exp.column("__conversion_id", events)],
                        order=exp.Order(expressions=[exp.Ordered(this=exp.column("__day", base), desc=True)]))
    return exp.Select(expressions=projections).from_(exp.Table(this=exp.to_identifier(events)), copy=False).join(
        exp.Join(this=exp.Table(this=exp.to_identifier(base)), on=exp.and_(*on, same_bucket, copy=False),
                 kind="INNER"), copy=False).where(window, copy=False).qualify(
        exp.EQ(this=latest, expression=exp.Literal.number(1)), copy=False)
