"""Alert rules judged in SQL: each kind against values worked out by hand on small daily series.

A tiny dbt project of its own (one sales seed over five stores, a stores seed, a targets table as
finance lands it, a time spine, two metrics) is built once for the module. The stores' series are
written below so that each rule kind has a case to fire, one to stay quiet and one to refuse:

- Harbor: 100 a day, 400 on Sundays (weekday seasonality);
- Mill:   200 a day, then 50 on Sunday 2024-03-03 (a drop), 60 the next day, 220 after;
- Dock:   1000 or 1001 a day, 1010 on 2024-03-03 (tiny in absolute terms);
- Quay:   300 a day since 2024-02-20 (too little history for a weekday model);
- Old:    150 a day until 2024-02-28, then nothing (a stale feed).

"Now" is Monday 2024-03-04 00:00 unless a test says otherwise, so the latest complete day is Sunday
2024-03-03, the latest complete week 26 Feb - 3 Mar, the latest complete month February 2024.
Expected values come from pandas or `statistics` over the rows written here, never from metricsctl.
"""

from __future__ import annotations

import atexit
import csv
import os
import shutil
import statistics
import tempfile
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from metricsctl.alerts.evaluate import Evaluation, evaluate_rule, rule_query
from metricsctl.alerts.rules import AlertConfig, parse_alert_config
from metricsctl.facade import Metricsctl
from metricsctl.spec import Spec
from metricsctl.warehouse import DuckDBWarehouse, Result

AS_OF = datetime(2024, 3, 4)
STORES = {1: ("Harbor", "north"), 2: ("Mill", "south"), 3: ("Dock", "north"), 4: ("Quay", "south"),
          5: ("Old", "north")}
FIRST_DAY = {"Harbor": date(2023, 1, 1), "Mill": date(2023, 1, 1), "Dock": date(2023, 6, 1),
             "Quay": date(2024, 2, 20), "Old": date(2023, 1, 1)}
LAST_DAY = {"Old": date(2024, 2, 28)}
END = date(2024, 3, 6)
SPECIAL = {("Mill", date(2024, 3, 3)): 50.0, ("Mill", date(2024, 3, 4)): 60.0, ("Mill", date(2024, 3, 5)): 220.0,
           ("Dock", date(2024, 3, 3)): 1010.0}
TARGETS = [  # metric_name, period_grain, period_start, org_unit, target_value, weight
    ("revenue", "month", "2024-02-01", "Harbor", 4000, 1.0),
    ("revenue", "month", "2024-02-01", "Mill", 6000, 2.0),
    ("revenue", "month", "2024-02-01", "Dock", 30000, 1.0),
    ("revenue", "month", "2024-02-01", "Quay", 2000, 0.5),
    ("revenue", "month", "2024-02-01", "company", 45000, 1.0),
    ("revenue", "month", "2024-03-01", "Harbor", 4000, 1.0),
    ("revenue", "month", "2024-03-01", "Mill", 6200, 2.0),
    ("revenue", "week", "2024-02-26", "Mill", 99999, 1.0),  # another grain: never read by monthly rules
    ("costs", "month", "2024-02-01", "company", 20000, 1.0),
]

SEMANTIC_MODELS = """
semantic_models:
  - name: sales
    model: ref('sales')
    defaults: {agg_time_dimension: sold_on}
    entities:
      - {name: sale, type: primary, expr: sale_id}
      - {name: store, type: foreign, expr: store_id}
    dimensions:
      - {name: sold_on, type: time, type_params: {time_granularity: day}}
    measures:
      - {name: revenue, agg: sum, expr: amount}
      - {name: cost, agg: sum, expr: cost}
  - name: stores
    model: ref('stores')
    entities:
      - {name: store, type: primary, expr: store_id}
    dimensions:
      - {name: store_name, type: categorical}
      - {name: region, type: categorical}

metrics:
  - name: revenue
    label: Revenue
    type: simple
    type_params: {measure: revenue}
    config: {meta: {owner: sales-team, direction: higher}}
  - name: costs
    label: Costs
    type: simple
    type_params: {measure: cost}
    config: {meta: {owner: finance, direction: lower}}
"""

# dbt ignores these top-level keys: the project builds with them in place
PROJECT_ALERTS = """
alert_channels:
  - {name: terminal, type: console}
alert_owners:
  sales-team: [terminal]
  finance: [terminal]
alerts:
  - {name: revenue_floor, metric: revenue, kind: threshold, grain: day, dimensions: [store__store_name], below: 150}
"""


def noise(day: date) -> int:
    """-5..5, not periodic over a week, so that weekday series vary too."""
    n = day.toordinal()
    return (n * n) % 11 - 5


def amount(store: str, day: date) -> float:
    if (store, day) in SPECIAL:
        return SPECIAL[(store, day)]
    if store == "Harbor":
        return (400 if day.weekday() == 6 else 100) + noise(day)
    if store == "Mill":
        return 200 + noise(day)
    if store == "Dock":
        return 1000 + day.toordinal() % 2
    if store == "Quay":
        return 300 + noise(day)
    return 150 + noise(day)


def sales_rows() -> list[dict[str, object]]:
    rows = []
    for store_id, (store, _) in STORES.items():
        day = FIRST_DAY[store]
        while day <= LAST_DAY.get(store, END):
            value = amount(store, day)
            rows.append({"sale_id": len(rows) + 1, "sold_on": day, "store_id": store_id, "store": store,
                         "amount": value, "cost": round(value * 0.6, 2)})
            day += timedelta(days=1)
    return rows


SALES = pd.DataFrame(sales_rows())
SALES["sold_on"] = pd.to_datetime(SALES["sold_on"])


def write_project(root: Path) -> Path:
    """The tiny alerts project under `root`, with a DuckDB file of its own."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "dbt_project.yml").write_text(
        "name: tiny\nversion: '1.0.0'\nconfig-version: 2\nprofile: tiny\nmodel-paths: [models, metrics]\n"
        "seed-paths: [seeds]\ntest-paths: [data_tests]\nflags: {send_anonymous_usage_stats: false}\n")
    (root / "profiles.yml").write_text(
        f"tiny:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: '{root / 'tiny.duckdb'}'\n"
        "      threads: 1\n")
    for folder in ("models", "metrics", "seeds"):
        (root / folder).mkdir(exist_ok=True)
    (root / "models" / "metricflow_time_spine.sql").write_text(
        "select cast(d as date) as date_day\n"
        "from range(timestamp '2022-01-01', timestamp '2025-01-01', interval 1 day) as t(d)\n")
    (root / "models" / "time_spine.yml").write_text(
        "models:\n  - name: metricflow_time_spine\n    time_spine:\n      standard_granularity_column: date_day\n"
        "    columns:\n      - name: date_day\n        granularity: day\n")
    (root / "metrics" / "semantic_models.yml").write_text(SEMANTIC_MODELS)
    (root / "metrics" / "alerts.yml").write_text(PROJECT_ALERTS)
    with open(root / "seeds" / "sales.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["sale_id", "sold_on", "store_id", "amount", "cost"])
        for row in sales_rows():
            writer.writerow([row["sale_id"], row["sold_on"], row["store_id"], row["amount"], row["cost"]])
    with open(root / "seeds" / "stores.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["store_id", "store_name", "region"])
        writer.writerows([(i, name, region) for i, (name, region) in STORES.items()])
    with open(root / "seeds" / "targets.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["metric_name", "period_grain", "period_start", "org_unit", "target_value", "weight"])
        writer.writerows(TARGETS)
    return root


_BUILT: dict[str, Path] = {}


def app(root: Path) -> Metricsctl:
    """Metricsctl on the tiny project, without leaving METRICSCTL_PROJECT_DIR set for other tests' projects."""
    before = os.environ.get("METRICSCTL_PROJECT_DIR")
    try:
        return Metricsctl(root)
    finally:
        if before is None:
            os.environ.pop("METRICSCTL_PROJECT_DIR", None)


def built_project() -> Path:
    """The tiny project, built once per test process and shared by the alert test modules."""
    if "root" not in _BUILT:
        base = Path(tempfile.mkdtemp(prefix="metricsctl-alerts-"))
        atexit.register(shutil.rmtree, base, True)
        root = write_project(base / "tiny")
        run = app(root).build()
        assert run.success, run.failed
        _BUILT["root"] = root
    return _BUILT["root"]


@pytest.fixture(scope="module")
def project() -> Path:
    return built_project()


@pytest.fixture(scope="module")
def spec(project: Path) -> Spec:
    return app(project).spec


class Counting:
    """A read-only warehouse that counts the statements it runs."""

    def __init__(self, path: Path) -> None:
        self.warehouse = DuckDBWarehouse(str(path))
        self.statements: list[str] = []

    def __call__(self, sql: str) -> Result:
        self.statements.append(sql)
        return self.warehouse.execute(sql)


@pytest.fixture()
def execute(project: Path) -> Iterator[Counting]:
    counting = Counting(project / "tiny.duckdb")
    yield counting
    counting.warehouse.close()


def rules(spec: Spec, text: str) -> AlertConfig:
    header = "alert_channels:\n  - {name: terminal, type: console}\nalert_defaults: {channels: [terminal]}\n"
    return parse_alert_config([("metrics/alerts.yml", header + text)], spec)


def judge(spec: Spec, execute: Counting, text: str, as_of: datetime = AS_OF) -> dict[str, Evaluation]:
    """The one rule in `text`, evaluated: store name (or '') -> evaluation."""
    (rule,) = rules(spec, text).rules
    return {dict(e.series).get(rule.dimensions[0]) if rule.dimensions else "": e
            for e in evaluate_rule(spec, rule, execute, as_of)}


def daily(store: str) -> pd.Series:
    frame = SALES[SALES["store"] == store]
    return frame.set_index(frame["sold_on"].dt.date)["amount"]


def sundays_before(day: date, count: int) -> list[date]:
    return [day - timedelta(weeks=k) for k in range(count, 0, -1)]


# --- anomaly ------------------------------------------------------------------------------------
ANOMALY = """
alerts:
  - name: store_anomaly
    metric: revenue
    kind: anomaly
    grain: day
    dimensions: [store__store_name]
    training_periods: 8
    min_training: 4
    min_abs_change: 50
"""


def test_weekday_anomaly_compares_each_day_with_the_same_weekday(spec: Spec, execute: Counting):
    """Mill's 50 on a Sunday is judged against its 8 previous Sundays: a drop far outside 3 sigma."""
    got = judge(spec, execute, ANOMALY)
    training = [daily("Mill")[d] for d in sundays_before(date(2024, 3, 3), 8)]
    mean, sd = statistics.mean(training), statistics.stdev(training)
    mill = got["Mill"]
    assert (mill.status, mill.period, mill.value, mill.training) == ("firing", date(2024, 3, 3), 50.0, 8)
    assert mill.expected == pytest.approx(mean)
    assert (mill.low, mill.high) == (pytest.approx(mean - 3 * sd), pytest.approx(mean + 3 * sd))
    assert mill.score == pytest.approx((50 - mean) / sd)
    # Harbor's Sunday peak is its normal Sunday: quiet
    harbor_sundays = [daily("Harbor")[d] for d in sundays_before(date(2024, 3, 3), 8)]
    assert got["Harbor"].status == "ok"
    assert got["Harbor"].expected == pytest.approx(statistics.mean(harbor_sundays))


def test_a_series_too_short_to_train_says_so_instead_of_alerting(spec: Spec, execute: Counting):
    """Quay opened on 20 February: one earlier Sunday, fewer than min_training 4."""
    quay = judge(spec, execute, ANOMALY)["Quay"]
    assert (quay.status, quay.training, quay.value) == ("insufficient_history", 1, daily("Quay")[date(2024, 3, 3)])


def test_small_changes_below_the_floor_are_ignored(spec: Spec, execute: Counting):
    """Dock's 1010 against 1000-1001 is many sigmas away but only 10 in absolute terms."""
    assert judge(spec, execute, ANOMALY)["Dock"].status == "ok"
    no_floor = judge(spec, execute, ANOMALY.replace("min_abs_change: 50", "min_abs_change: 0"))
    assert no_floor["Dock"].status == "firing"
    relative = judge(spec, execute, ANOMALY.replace("min_abs_change: 50", "min_rel_change: 0.05"))
    assert (relative["Dock"].status, relative["Mill"].status) == ("ok", "firing")  # 1 % vs 75 %


def test_direction_spike_ignores_drops(spec: Spec, execute: Counting):
    got = judge(spec, execute, ANOMALY + "    direction: spike\n")
    assert got["Mill"].status == "ok"


def test_without_seasonality_a_robust_score_flags_the_sunday_peak(spec: Spec, execute: Counting):
    """Median/MAD over the 28 days before a 3-day detection window, which training never includes."""
    text = """
alerts:
  - name: robust
    metric: revenue
    kind: anomaly
    grain: day
    dimensions: [store__store_name]
    method: mad
    seasonality: none
    training_periods: 28
    detection_periods: 3
    threshold: 3.5
"""
    got = judge(spec, execute, text)
    window_start = date(2024, 3, 1)
    training = [daily("Harbor")[window_start - timedelta(days=k)] for k in range(1, 29)]
    median = statistics.median(training)
    mad = statistics.median([abs(v - median) for v in training])
    harbor = got["Harbor"]
    assert (harbor.status, harbor.period, harbor.training) == ("firing", date(2024, 3, 3), 28)
    assert harbor.expected == pytest.approx(median)
    assert harbor.high == pytest.approx(median + 3.5 * 1.4826 * mad)
    assert harbor.score == pytest.approx((daily("Harbor")[date(2024, 3, 3)] - median) / (1.4826 * mad))
    assert got["Mill"].period == date(2024, 3, 3)  # the firing day of the window, not merely the latest
    assert got["Quay"].status == "insufficient_history"  # 10 days < min_training 14


def test_every_series_of_a_rule_is_judged_in_one_query(spec: Spec, execute: Counting):
    got = judge(spec, execute, ANOMALY)
    assert set(got) == {"Harbor", "Mill", "Dock", "Quay"}  # Old has no value on the day judged
    assert len(execute.statements) == 1


# --- threshold and change -----------------------------------------------------------------------
THRESHOLD = """
alerts:
  - {name: floor, metric: revenue, kind: threshold, grain: day, dimensions: [store__store_name], below: 90,
     above: 1005}
"""


def test_threshold_fires_above_and_below(spec: Spec, execute: Counting):
    got = judge(spec, execute, THRESHOLD)
    assert {store: e.status for store, e in got.items()} == {
        "Harbor": "ok", "Mill": "firing", "Dock": "firing", "Quay": "ok"}
    assert (got["Mill"].value, got["Mill"].low, got["Mill"].high) == (50.0, 90.0, 1005.0)


def test_only_periods_that_ended_by_as_of_count(spec: Spec, execute: Counting):
    """At noon on 4 March the 4th is still running: the 3rd is judged. A day later, the 4th."""
    noon = judge(spec, execute, THRESHOLD, as_of=datetime(2024, 3, 4, 12))
    assert (noon["Mill"].period, noon["Mill"].value) == (date(2024, 3, 3), 50.0)
    next_day = judge(spec, execute, THRESHOLD, as_of=datetime(2024, 3, 5))
    assert (next_day["Mill"].period, next_day["Mill"].value) == (date(2024, 3, 4), 60.0)


def test_a_filter_narrows_the_series(spec: Spec, execute: Counting):
    south = "above: 1005,\n     filter: \"{{ Dimension('store__region') }} = 'south'\"}"
    text = THRESHOLD.replace("above: 1005}", south)
    assert set(judge(spec, execute, text)) == {"Mill", "Quay"}


def test_change_against_the_previous_week_in_percent(spec: Spec, execute: Counting):
    """Week of 26 Feb against week of 19 Feb; Old stopped on the 28th: -56 %."""
    got = judge(spec, execute, """
alerts:
  - {name: weekly, metric: revenue, kind: change, grain: week, dimensions: [store__store_name], below: -20,
     above: 50}
""")
    weeks = SALES.assign(week=SALES["sold_on"].dt.to_period("W-SUN").dt.start_time.dt.date)
    sums = weeks.groupby(["store", "week"])["amount"].sum()
    for store in ("Harbor", "Mill", "Dock", "Quay", "Old"):
        now, before = sums[(store, date(2024, 2, 26))], sums[(store, date(2024, 2, 19))]
        change = (now - before) / before * 100
        e = got[store]
        assert (e.value, e.expected, e.period) == (now, before, date(2024, 2, 26))
        assert e.score == pytest.approx(change)
        assert (e.low, e.high) == (pytest.approx(before * 0.8), pytest.approx(before * 1.5))
        assert e.status == ("firing" if change < -20 or change > 50 else "ok"), store
    assert got["Old"].status == "firing"


def test_change_against_the_same_month_last_year_in_absolute_terms(spec: Spec, execute: Counting):
    got = judge(spec, execute, """
alerts:
  - {name: yoy, metric: revenue, kind: change, grain: month, compare_to: same_period_last_year, unit: absolute,
     below: -1000}
""")[""]
    feb_2024 = SALES[(SALES["sold_on"] >= "2024-02-01") & (SALES["sold_on"] < "2024-03-01")]["amount"].sum()
    feb_2023 = SALES[(SALES["sold_on"] >= "2023-02-01") & (SALES["sold_on"] < "2023-03-01")]["amount"].sum()
    assert (got.value, got.expected, got.period) == (feb_2024, feb_2023, date(2024, 2, 1))
    assert got.score == pytest.approx(feb_2024 - feb_2023)
    assert (got.status, got.low) == ("ok", feb_2023 - 1000)


def test_an_anomaly_band_never_goes_below_zero_for_a_series_that_never_did(spec: Spec, execute: Counting):
    """Harbor without weekday seasonality: 100 a day and 400 on Sundays make 3 sigma reach below zero."""
    got = judge(spec, execute, """
alerts:
  - {name: flat, metric: revenue, kind: anomaly, grain: day, dimensions: [store__store_name], seasonality: none,
     training_periods: 28}
""")
    training = [daily("Harbor")[date(2024, 3, 3) - timedelta(days=k)] for k in range(1, 29)]
    mean, sd = statistics.mean(training), statistics.stdev(training)
    assert mean - 3 * sd < 0 <= min(training)
    harbor = got["Harbor"]
    assert (harbor.low, harbor.high) == (0, pytest.approx(mean + 3 * sd))
    assert harbor.expected == pytest.approx(mean)


# --- targets ------------------------------------------------------------------------------------
def month_actual(store: str | None, start: str, end: str, column: str = "amount") -> float:
    rows = SALES[(SALES["sold_on"] >= start) & (SALES["sold_on"] < end)]
    if store is not None:
        rows = rows[rows["store"] == store]
    return float(rows[column].sum())


def test_target_miss_at_period_end_per_store(spec: Spec, execute: Counting):
    got = judge(spec, execute, """
alerts:
  - {name: monthly_target, metric: revenue, kind: target, grain: month, dimensions: [store__store_name],
     targets_table: main.targets}
""")
    targets = {unit: (value, weight) for metric, grain, start, unit, value, weight in TARGETS
               if metric == "revenue" and grain == "month" and start == "2024-02-01" and unit != "company"}
    assert set(got) == set(targets)  # org units with a target; Old has none
    for store, (target, weight) in targets.items():
        actual = month_actual(store, "2024-02-01", "2024-03-01")
        e = got[store]
        assert (e.value, e.expected, e.weight) == (pytest.approx(actual), target, weight)
        assert e.status == ("firing" if actual < target else "ok"), store
    assert {s for s, e in got.items() if e.firing} == {"Mill", "Dock"}


def test_a_target_rule_matches_org_units_by_kind_as_well_as_name(spec: Spec, project: Path, tmp_path: Path):
    """A team named like a store ('Mill') has a target of its own: the store's rule never reads it."""
    import duckdb

    from metricsctl.management.targets import ScorecardConfig

    copy = tmp_path / "tiny.duckdb"  # the catalog keeps its name
    shutil.copy(project / "tiny.duckdb", copy)
    con = duckdb.connect(str(copy))
    con.execute("create table targets_typed as select *, 'store' as org_unit_type from main.targets")
    con.execute("insert into targets_typed values ('revenue', 'month', '2024-02-01', 'Mill', 1, 1.0, 'team')")
    con.close()
    text = ("alert_channels:\n  - {name: terminal, type: console}\nalert_defaults: {channels: [terminal]}\n"
            "alerts:\n  - {name: t, metric: revenue, kind: target, grain: month, dimensions: [store__store_name],"
            " targets_table: main.targets_typed}\n")
    scorecard = ScorecardConfig(org_units={"store": "store__store_name"}, kind_column="org_unit_type")
    (rule,) = parse_alert_config([("metrics/alerts.yml", text)], spec, scorecard).rules
    counting = Counting(copy)
    try:
        got = {dict(e.series)["store__store_name"]: e for e in evaluate_rule(spec, rule, counting, AS_OF)}
    finally:
        counting.warehouse.close()
    assert got["Mill"].expected == 6000  # the store's target, not the team's 1
    assert got["Mill"].firing == (month_actual("Mill", "2024-02-01", "2024-03-01") < 6000)


def test_the_tolerance_of_a_negative_target_is_a_share_of_its_size(spec: Spec, project: Path, tmp_path: Path):
    """A budgeted loss of -100 with 5 % tolerance is met down to -105 (a share of -100 itself would be -95,
    firing on an actual of -99 that beat the target)."""
    import duckdb

    copy = tmp_path / "tiny.duckdb"
    shutil.copy(project / "tiny.duckdb", copy)
    con = duckdb.connect(str(copy))
    con.execute("create table targets_negative as select * from main.targets where false")
    con.execute("insert into targets_negative values ('revenue', 'month', '2024-02-01', 'company', -100, 1.0), "
                "('costs', 'month', '2024-02-01', 'company', -100, 1.0)")
    con.close()
    counting = Counting(copy)
    try:  # revenue: higher is better, a floor; costs: lower is better (config.meta.direction), a ceiling
        for metric, bound, limit in (("revenue", "low", -105), ("costs", "high", -95)):
            text = (f"alerts:\n  - {{name: t, metric: {metric}, kind: target, grain: month, "
                    "targets_table: main.targets_negative, tolerance: 5}\n")
            (rule,) = rules(spec, text).rules
            (e,) = evaluate_rule(spec, rule, counting, AS_OF)
            assert getattr(e, bound) == pytest.approx(limit), metric
    finally:
        counting.warehouse.close()


def test_a_targets_table_of_store_numbers_is_read_as_the_scorecards_read_it(spec: Spec, project: Path,
                                                                            tmp_path: Path):
    """A spreadsheet holding only store numbers lands with an integer org_unit: the company rule finds no company
    row there, as the scorecards do, instead of failing on the comparison with 'company'."""
    import duckdb

    copy = tmp_path / "tiny.duckdb"
    shutil.copy(project / "tiny.duckdb", copy)
    con = duckdb.connect(str(copy))
    con.execute("create table targets_numbered (metric_name varchar, period_grain varchar, period_start date, "
                "org_unit integer, target_value double, weight double)")
    con.execute("insert into targets_numbered values ('revenue', 'month', '2024-02-01', 1, 4000, 1)")
    con.close()
    counting = Counting(copy)
    try:
        text = ("alerts:\n  - {name: t, metric: revenue, kind: target, grain: month, "
                "targets_table: main.targets_numbered}\n")
        (rule,) = rules(spec, text).rules
        assert evaluate_rule(spec, rule, counting, AS_OF) == []  # no target for the company: nothing to judge
    finally:
        counting.warehouse.close()


def test_a_value_that_is_no_number_is_no_value_and_stops_nothing(spec: Spec):
    """NaN and infinity (a ratio whose denominator is zero, on DuckDB) become no value: the message, the state
    tables' SQL and the JSON payloads all take it (each of them stopped the whole run before)."""
    import dataclasses
    import json
    import math

    from metricsctl.alerts.engine import describe
    from metricsctl.alerts.evaluate import evaluations, series_value
    from metricsctl.alerts.state import literal

    (rule,) = rules(spec, THRESHOLD).rules
    columns = ("k0", "period", "status", "value", "expected", "low", "high", "score", "n", "weight")
    rows = [(store, date(2024, 3, 3), "firing", value, None, 90.0, 1005.0, value, 7, None)
            for store, value in (("Harbor", math.nan), ("Mill", math.inf), ("Dock", -math.inf))]
    judged = evaluations(rule, ("store__store_name",), Result(columns, rows))
    assert [(e.value, e.score) for e in judged] == [(None, None)] * 3
    for e in judged:
        assert "was - for the day of 2024-03-03" in describe(rule, e)
        json.dumps(dataclasses.asdict(e), allow_nan=False, default=str)  # strict JSON: no NaN token
    assert literal(math.nan, "DOUBLE").sql() == "CAST(NULL AS DOUBLE)"
    assert literal(math.inf, "DOUBLE").sql() == "CAST(NULL AS DOUBLE)"
    assert series_value(None) != series_value("null")  # a NULL store and a store named 'null' are two series
    assert series_value("a, b=c") == '"a, b=c"' and series_value("Harbor") == "Harbor"


def test_company_target_and_a_metric_where_lower_is_better(spec: Spec, execute: Counting):
    company = judge(spec, execute, "alerts:\n  - {name: t, metric: revenue, kind: target, grain: month}\n")[""]
    assert company.value == pytest.approx(month_actual(None, "2024-02-01", "2024-03-01"))
    assert (company.expected, company.status) == (45000, "ok")
    budget = "alerts:\n  - {name: c, metric: costs, kind: target, grain: month, tolerance: 5}\n"
    costs = judge(spec, execute, budget)[""]
    actual = month_actual(None, "2024-02-01", "2024-03-01", "cost")
    assert actual > 20000 * 1.05  # over budget: costs are better lower
    assert (costs.value, costs.high, costs.low, costs.status) == (pytest.approx(actual), pytest.approx(21000), None,
                                                                   "firing")


def test_pace_to_target_inside_the_month(spec: Spec, execute: Counting):
    """On 4 March, 3 of 31 days are done: 3/31 of the target is due, from the data of 1-3 March only."""
    got = judge(spec, execute, """
alerts:
  - {name: pace, metric: revenue, kind: target, grain: month, mode: pace, dimensions: [store__store_name]}
""")
    for store, target in (("Mill", 6200), ("Harbor", 4000)):
        actual = month_actual(store, "2024-03-01", "2024-03-04")
        e = got[store]
        assert (e.period, e.value) == (date(2024, 3, 1), pytest.approx(actual))
        assert e.expected == pytest.approx(target * 3 / 31)
        assert e.status == ("firing" if actual < target * 3 / 31 else "ok")
    assert (got["Mill"].status, got["Harbor"].status) == ("firing", "ok")


# --- freshness ----------------------------------------------------------------------------------
def test_a_stale_series_is_an_alert(spec: Spec, execute: Counting):
    """Old's latest day is 28 Feb, which ended 96 hours before 4 March 00:00."""
    got = judge(spec, execute, """
alerts:
  - {name: fresh, metric: revenue, kind: freshness, grain: day, dimensions: [store__store_name], max_age: 36h}
""")
    assert (got["Old"].status, got["Old"].period, got["Old"].value, got["Old"].high) == (
        "firing", date(2024, 2, 28), 96.0, 36.0)
    assert {s for s, e in got.items() if e.status == "ok"} == {"Harbor", "Mill", "Dock", "Quay"}
    later = judge(spec, execute, """
alerts:
  - {name: fresh, metric: revenue, kind: freshness, grain: day, max_age: 2d}
""", as_of=datetime(2024, 3, 10))[""]
    assert (later.status, later.period, later.value) == ("firing", END, 24.0 * 3)


def test_rule_query_is_a_sqlglot_expression_over_the_compiled_metric(spec: Spec):
    (rule,) = rules(spec, ANOMALY).rules
    sql = rule_query(spec, rule, AS_OF).sql(dialect="duckdb")  # type: ignore[union-attr]
    assert '"tiny"."main"."sales"' in sql and "STDDEV_SAMP" in sql


def test_the_alerts_command_prints_each_alert_once(project: Path, tmp_path: Path):
    """The console channel announces what opened; the table after it holds only what it did not show."""
    from click.testing import CliRunner

    from metricsctl.cli import main

    copy = tmp_path / "tiny"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("target", "logs"))
    (copy / "profiles.yml").write_text((copy / "profiles.yml").read_text().replace(str(project), str(copy)))
    args = ["alerts", "--project-dir", str(copy), "--as-of", "2024-03-04"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output  # warning is below --fail-on critical
    rows = [line for line in first.output.splitlines() if "revenue_floor" in line]
    assert len(rows) == 1 and "store__store_name=Mill" in rows[0], first.output
    assert "alerts as of 2024-03-04: 1 rule, 4 series: 1 opened, 0 re-sent, 0 resolved, 1 open" in first.output
    again = CliRunner().invoke(main, args)  # inside the cooldown: nothing sent, the open alert listed once
    rows = [line for line in again.output.splitlines() if "revenue_floor" in line]
    assert len(rows) == 1 and "store__store_name=Mill" in rows[0], again.output
    assert "0 opened, 0 re-sent, 0 resolved, 1 open" in again.output


def test_a_run_that_finds_no_data_says_so(spec: Spec, execute: Counting):
    """Judged long after the data ends (as a build without --as-of judges the demo), no series is found."""
    from metricsctl.alerts.engine import run_alerts

    config = rules(spec, "alerts:\n  - {name: floor, metric: revenue, kind: threshold, grain: month, below: 1}\n")
    run = run_alerts(spec, config, execute, as_of=datetime(2030, 1, 1), dry_run=True)
    assert run.series_count == 0
    assert run.headline().startswith("as of 2030-01-01: 1 rule, 0 series: 0 opened")
    assert "no rule found data in the periods it judges" in run.headline()
