"""Time an anomaly rule's SQL over 10,000 daily series of one year (3.65 million rows) in DuckDB.

    python bench/alerts_bench.py [--series 10000] [--days 365]

The series table is made in DuckDB with range() and hash(): a level per series, a weekend lift and
noise; every 100th series gets a spike on its last day. The rule's query is the one metricsctl runs
(evaluate.anomaly_query), read from that table instead of a compiled metric. The budget is 5 s.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlglot import exp  # noqa: E402

from metricsctl.alerts.evaluate import Source, anomaly_query  # noqa: E402
from metricsctl.alerts.rules import Anomaly, Rule  # noqa: E402

BUDGET_SECONDS = 5.0
FIRST_DAY = date(2024, 1, 1)

SERIES_TABLE = """
create table bench_series as
select
    cast(date '{first}' + cast(d as integer) as date) as day,
    'store_' || s as store,
    (100 + hash(s) % 900)
      * (case when isodow(date '{first}' + cast(d as integer)) >= 6 then 1.5 else 1.0 end)
      * (case when s % 100 = 0 and d = {last} then 3.0 else 1.0 end)
      + (hash(s, d) % 21) - 10 as revenue
from range({series}) as a(s), range({days}) as b(d)
"""


def rule(method: str, seasonality: str, detection: int) -> Rule:
    params = Anomaly(method=method, threshold=4.0, seasonality=seasonality,
                     training_periods=8 if seasonality == "weekday" else 28, min_training=4,
                     detection_periods=detection, direction="both", min_abs_change=0.0, min_rel_change=0.05)
    return Rule(name=f"bench_{method}_{seasonality}", metric="revenue", kind="anomaly", grain="day", params=params,
                dimensions=("store",), channels=("console",))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()

    con = duckdb.connect(":memory:")
    started = time.perf_counter()
    con.execute(SERIES_TABLE.format(first=FIRST_DAY.isoformat(), series=args.series, days=args.days,
                                    last=args.days - 1))
    rows = con.execute("select count(*) from bench_series").fetchone()
    print(f"series table: {rows[0] if rows else 0:,} rows ({args.series:,} series x {args.days} days) "
          f"in {time.perf_counter() - started:.2f} s")

    source = Source(exp.to_table("bench_series"), "day", ("store",), "revenue")
    as_of = datetime.combine(FIRST_DAY + timedelta(days=args.days), datetime.min.time())  # the day after the last
    worst = 0.0
    # (a robust score without seasonality would flag every weekend here: the data has a weekly pattern)
    for method, seasonality, detection in (("zscore", "weekday", 1), ("mad", "weekday", 1), ("zscore", "none", 7)):
        anomaly = rule(method, seasonality, detection)
        assert isinstance(anomaly.params, Anomaly)
        sql = anomaly_query(anomaly, anomaly.params, source, as_of).sql(dialect="duckdb")
        started = time.perf_counter()
        result = con.execute(sql).fetchall()
        seconds = time.perf_counter() - started
        worst = max(worst, seconds)
        firing = sum(1 for row in result if row[-1] == "firing")
        print(f"anomaly {method:6} seasonality={seasonality:7} detection={detection}: {len(result):,} series judged, "
              f"{firing:,} firing, in {seconds:.2f} s")
    verdict = "OK" if worst < BUDGET_SECONDS else "TOO SLOW"
    print(f"{verdict}: slowest rule {worst:.2f} s (budget {BUDGET_SECONDS:.0f} s)")
    return 0 if worst < BUDGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
