"""A nightly build of the demo parses the project once, and checks the keys of the headcount days it rewrote.

- Nothing changed since the last build: metricsctl runs no `dbt parse` of its own, and the one parse the
  build needs (the manifest the candidate warehouse is built from) is dbt's partial parse; an edited model
  is parsed again and built as edited.
- fct_headcount_daily's run says from which day it rewrote rows (the new days, and a corrected employee's
  days from the first that changed): its `unique` test reads those days on a nightly build, and still fails
  on a key the run wrote twice on a corrected employee's old day; a full refresh reads every row.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from metricsctl.facade import Metricsctl
from metricsctl.project import DbtProject

AS_OF = dt.date(2025, 7, 1)
UNIQUE = "unique_fct_headcount_daily_headcount_day_id"

pytestmark = pytest.mark.slow


def copy_of(demo_built: Path, root: Path) -> Path:
    shutil.copytree(demo_built, root, ignore=shutil.ignore_patterns(".metricsctl-candidate", "*.lock"))
    return root


def compiled_test(app: Metricsctl, name: str) -> str:
    found = [p for p in app.project.target_dir.rglob(f"{name}.sql") if "compiled" in p.parts]
    return max(found, key=lambda p: p.stat().st_mtime).read_text()


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def test_a_nightly_build_of_an_unchanged_project_parses_it_once_and_partially(
        demo_built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dbt.parser import manifest as dbt_manifest

    root = copy_of(demo_built, tmp_path / "demo")
    assert Metricsctl(root).build(as_of=AS_OF).success  # in a new folder: parsed (the stamp names the paths)

    ours: list[Path] = []
    parsed: list[bool] = []  # each dbt parse: partial (True) or full
    real_parse, real_check = DbtProject.parse, dbt_manifest.ManifestLoader.is_partial_parsable
    monkeypatch.setattr(DbtProject, "parse", lambda self: (ours.append(self.project_dir), real_parse(self))[1])

    def partial(self: Any, manifest: Any) -> tuple[bool, Any]:
        valid, reason = real_check(self, manifest)
        parsed.append(valid)
        return valid, reason

    monkeypatch.setattr(dbt_manifest.ManifestLoader, "is_partial_parsable", partial)
    result = Metricsctl(root).build(as_of=AS_OF)
    assert result.success, result.failed
    assert ours == []  # the bounds the tests read (METRICSCTL_SINCE_LAST_BUILD) are no change to parse
    assert parsed == [True]  # one parse for the two dbt runs, partial: the same profile as the last parse

    # an edited model is parsed again, and the candidate is built from the edited project
    model = root / "models" / "staging" / "stg_stores.sql"
    model.write_text(model.read_text().replace("    store_name,\n", "    store_name,\n    'edited' as edited,\n"))
    result = Metricsctl(root).build(as_of=AS_OF)
    assert result.success, result.failed
    assert ours == [root]
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select distinct edited from stg_stores").fetchall() == [("edited",)]


def test_the_headcount_keys_are_checked_on_the_days_the_run_rewrote(demo_built: Path, tmp_path: Path) -> None:
    root = copy_of(demo_built, tmp_path / "demo")
    warehouse = root / "warehouse.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        first = con.execute("select min(date_day) from fct_headcount_daily where employee_id = 80").fetchone()
    assert first is not None
    # the HR system corrects employee 80's hire date (later): the run rebuilds their days from the first held
    employees = root / "seeds" / "employees.csv"
    rows = _read(employees)
    for row in rows:
        if row["employee_id"] == "80":
            row["hire_date"] = "2024-02-10"
    _write(employees, rows)
    # and the model writes each of employee 80's rows twice (a defect of the kind the test is there for)
    model = root / "models" / "marts" / "fct_headcount_daily.sql"
    text = model.read_text()
    assert text.rstrip().endswith("from employed")
    model.write_text(text.rstrip() + "\nunion all\nselect\n"
                     "    cast(employee_id as {{ dbt.type_string() }}) || '-' || "
                     "{{ date_text('date_day', compact=true) }} as headcount_day_id,\n"
                     "    date_day, employee_id, department_id, fte\nfrom employed\nwhere employee_id = 80\n")

    app = Metricsctl(root)
    result = app.build(as_of=AS_OF)
    # the scoped test reads the days from employee 80's first held day on, a literal
    scoped = compiled_test(app, UNIQUE)
    assert f"\"date_day\" >= cast('{first[0].isoformat()}' as date)" in scoped
    failed = {n.unique_id.split(".")[2]: n for n in result.failed}
    assert UNIQUE in failed, failed
    # one failing key for each day employee 80 is employed, from the corrected hire date to the day before
    # they left (2024-08-12)
    days = (dt.date(2024, 8, 12) - dt.date(2024, 2, 10)).days
    assert f"Got {days} results" in failed[UNIQUE].message

    # a full refresh checks every row: no bound
    refreshed = app.build(as_of=AS_OF, full_refresh=True)
    assert "(1 = 1)" in compiled_test(app, UNIQUE)
    assert f"Got {days} results" in {n.unique_id.split(".")[2]: n.message
                                                      for n in refreshed.failed}[UNIQUE]


def employed_on(employees_csv: Path, day: dt.date) -> int:
    """Employees on the payroll on `day`, counted from the HR seed by hand (hired on or before it, not yet left)."""
    with employees_csv.open(newline="") as f:
        return sum(1 for row in csv.DictReader(f)
                   if dt.date.fromisoformat(row["hire_date"]) <= day
                   and (not row["termination_date"] or dt.date.fromisoformat(row["termination_date"]) > day))


def leaving_in(employees_csv: Path, month: dt.date) -> int:
    """Employees whose leaving date falls in `month`, counted from the HR seed by hand."""
    with employees_csv.open(newline="") as f:
        return sum(1 for row in csv.DictReader(f) if row["termination_date"].startswith(month.isoformat()[:7]))


def test_metric_values_recomputes_the_headcount_from_the_rewritten_days_even_after_a_build_that_left_it_out(
        demo_built: Path, tmp_path: Path) -> None:
    """fct_headcount_daily's runs record the first day they rewrote (fct_headcount_daily_rewrites), and
    fct_employee_movements' the earliest day of the movements they changed; metric_values recomputes the
    headcount and movement metrics from the earliest recorded day, keeps its earlier periods, and empties the
    records. A build whose gate leaves metric_values out leaves the days recorded for the next build."""
    root = copy_of(demo_built, tmp_path / "demo")
    warehouse = root / "warehouse.duckdb"
    record = "select cast(first_day as varchar) from fct_headcount_daily_rewrites order by 1"
    moved = "select cast(first_day as varchar) from fct_employee_movements_rewrites order by 1"
    day = dt.date(2024, 11, 5)
    headcount = f"select value from metric_values where metric_name = 'headcount' and grain = 'day' " \
                f"and period_start = date '{day.isoformat()}'"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(record).fetchall() == []  # the demo's build emptied it
        before = con.execute(headcount).fetchone()
    employees = root / "seeds" / "employees.csv"
    assert before == (employed_on(employees, day),)

    # the HR system moves employee 13's leaving date from 2024-11-22 to 2024-10-31 (their last day: the 30th),
    # and a sales visit lands with an impossible duration: its suite fails, and the gate leaves metric_values out
    rows = _read(employees)
    for row in rows:
        if row["employee_id"] == "13":
            assert row["termination_date"] == "2024-11-22"
            row["termination_date"] = "2024-10-31"
    _write(employees, rows)
    visits = root / "seeds" / "sales_visits.csv"
    good = _read(visits)
    bad = [dict(row) for row in good]
    bad[0]["duration_minutes"] = "999"
    _write(visits, bad)
    held = Metricsctl(root).build(as_of=AS_OF)
    assert not held.success and "metric_values" in " ".join(held.gate.blocked), held.gate
    with duckdb.connect(str(warehouse), read_only=True) as con:
        # fct_headcount_daily was published with the correction, metric_values was not rebuilt: the day stays
        assert con.execute("select max(date_day) from fct_headcount_daily where employee_id = 13").fetchone() \
            == (dt.date(2024, 10, 30),)
        assert con.execute(record).fetchall()[0] == ("2024-10-30",)
        assert con.execute(headcount).fetchone() == before  # stale until the next build
        # fct_employee_movements, rebuilt whole, recorded the earlier of the exit's two days
        assert con.execute(moved).fetchall() == [("2024-10-31",)]
    assert employed_on(employees, day) == before[0] - 1

    # the visit is fixed; marks on periods before the recorded day show what the next build keeps: the HR
    # metrics' earlier days, and the sales metrics' days after it too (their first day is their own lookback's)
    _write(visits, good)
    old = "metric_name = 'headcount' and grain = 'day' and period_start = date '2024-03-05'"
    sales = "metric_name = 'units_sold' and grain = 'day' and period_start = date '2025-01-15'"
    with duckdb.connect(str(warehouse)) as con:
        for mark in (old, sales):
            con.execute(f"update metric_values set value = -1 where {mark}")
    fixed = Metricsctl(root).build(as_of=AS_OF)
    assert fixed.success, [(n.unique_id, n.message) for n in fixed.failed] or fixed.gate
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(headcount).fetchone() == (employed_on(employees, day),)  # employee 13 is gone
        assert con.execute(record).fetchall() == []  # carried into metric_values: emptied
        assert con.execute(moved).fetchall() == []
        for month in (dt.date(2024, 10, 1), dt.date(2024, 11, 1)):  # the exit moved from November to October
            value = con.execute(f"select value from metric_values where metric_name = 'leavers' and grain = "
                                f"'month' and period_start = date '{month.isoformat()}'").fetchone()
            assert (value or (0,))[0] == leaving_in(employees, month)
        for mark in (old, sales):
            assert con.execute(f"select value from metric_values where {mark}").fetchone() == (-1,)  # kept


def test_a_build_that_selects_the_headcount_without_its_record_creates_the_record(
        demo_built: Path, tmp_path: Path) -> None:
    """A warehouse built before fct_headcount_daily_rewrites existed, or a selection that leaves it out: the
    headcount's run creates the record before it writes the day, and metric_values reads no record that is not
    there."""
    root = copy_of(demo_built, tmp_path / "demo")
    warehouse = root / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("drop table fct_headcount_daily_rewrites")
        con.execute("drop table fct_employee_movements_rewrites")
    app = Metricsctl(root)
    alone = app.build(select=("metric_values",), as_of=AS_OF)
    assert alone.success, [(n.unique_id, n.message) for n in alone.failed] or alone.gate

    # employee 13 leaves earlier (2024-10-31, was 2024-11-22); the records are left out of the selection
    employees = root / "seeds" / "employees.csv"
    rows = _read(employees)
    for row in rows:
        if row["employee_id"] == "13":
            row["termination_date"] = "2024-10-31"
    _write(employees, rows)
    day = dt.date(2024, 11, 5)
    result = app.build(select=("+fct_headcount_daily", "+fct_employee_movements", "metric_values"),
                       exclude=("fct_headcount_daily_rewrites", "fct_employee_movements_rewrites"), as_of=AS_OF)
    assert result.success, [(n.unique_id, n.message) for n in result.failed] or result.gate
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for record in ("fct_headcount_daily_rewrites", "fct_employee_movements_rewrites"):
            assert con.execute(f"select count(*) from {record}").fetchone() == (0,)  # created, carried over
        assert con.execute(
            "select value from metric_values where metric_name = 'headcount' and grain = 'day' "
            f"and period_start = date '{day.isoformat()}'").fetchone() == (employed_on(employees, day),)
        assert con.execute(
            "select value from metric_values where metric_name = 'leavers' and grain = 'month' "
            "and period_start = date '2024-10-01'").fetchone() == (leaving_in(employees, dt.date(2024, 10, 1)),)


def visits_in(visits_csv: Path, month: dt.date) -> int:
    """Visits in `month`, counted from the CRM seed by hand: ISO dates, day/month/year, and ISO dates whose day
    and month were swapped (a 13th month)."""
    def day_of(text: str) -> dt.date:
        if "/" in text:
            d, m, y = text.split("/")
            return dt.date(int(y), int(m), int(d))
        y, m, d = text.split("-")
        return dt.date(int(y), int(m), int(d)) if int(m) <= 12 else dt.date(int(y), int(d), int(m))

    with visits_csv.open(newline="") as f:
        return sum(1 for row in csv.DictReader(f) if day_of(row["visit_date"].strip()).replace(day=1) == month)


def test_metric_values_recomputes_the_visits_from_the_earliest_visit_a_run_changed(
        demo_built: Path, tmp_path: Path) -> None:
    """stg_sales_visits is rebuilt whole by each run; its pre-hook records the earliest day of the visits it adds,
    removes or changes (stg_sales_visits_rewrites), comparing the columns the metrics read: a new duration
    records nothing. metric_values recomputes the visit metrics from the recorded day, keeps the periods before
    it as the table holds them, and empties the record."""
    root = copy_of(demo_built, tmp_path / "demo")
    warehouse = root / "warehouse.duckdb"
    record = "select cast(first_day as varchar) from stg_sales_visits_rewrites order by 1"
    visits = root / "seeds" / "sales_visits.csv"
    app = Metricsctl(root)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(record).fetchall() == []  # the demo's build emptied it

    rows = _read(visits)
    rows[1]["duration_minutes"] = "60" if rows[1]["duration_minutes"] != "60" else "45"
    _write(visits, rows)
    assert app.build(select=("+stg_sales_visits",), as_of=AS_OF).success
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(record).fetchall() == []  # no metric reads the duration

    # a visit of September 2024 was typed in the wrong month: it took place on 20 August
    moved = next(row for row in rows if row["visit_date"].startswith("2024-09-1"))
    moved["visit_date"] = "2024-08-20"
    _write(visits, rows)
    assert app.build(select=("+stg_sales_visits",), as_of=AS_OF).success
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(record).fetchall() == [("2024-08-20",)]  # the earlier of its two days

    # marks on periods before the recorded day show what the next build keeps: the visits' earlier months, and
    # the headcount's days after it too (its first day is its own record's)
    old = "metric_name = 'sales_visits' and grain = 'month' and period_start = date '2024-03-01'"
    headcount = "metric_name = 'headcount' and grain = 'day' and period_start = date '2024-12-02'"
    with duckdb.connect(str(warehouse)) as con:
        for mark in (old, headcount):
            con.execute(f"update metric_values set value = -1 where {mark}")
    built = app.build(as_of=AS_OF)
    assert built.success, [(n.unique_id, n.message) for n in built.failed] or built.gate
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(record).fetchall() == []  # carried into metric_values: emptied
        for month in (dt.date(2024, 8, 1), dt.date(2024, 9, 1)):
            assert con.execute("select value from metric_values where metric_name = 'sales_visits' and grain = "
                               f"'month' and period_start = date '{month.isoformat()}'").fetchone() \
                == (visits_in(visits, month),)
        for mark in (old, headcount):
            assert con.execute(f"select value from metric_values where {mark}").fetchone() == (-1,)  # kept


def test_dbt_show_of_the_headcount_outside_a_run_shows_the_rows_a_run_would_write(
        demo_built: Path, tmp_path: Path) -> None:
    """`dbt show` and `dbt compile` run no pre-hook, so no plan table exists there: the model's query reads
    the plan's query instead, and shows the rows an incremental run would write."""
    from dbt.cli.main import dbtRunner

    root = copy_of(demo_built, tmp_path / "demo")
    employees = root / "seeds" / "employees.csv"
    rows = _read(employees)
    for row in rows:
        if row["employee_id"] == "80":  # a corrected hire date: their days are rebuilt from the first held
            row["hire_date"] = "2024-02-10"
    _write(employees, rows)
    project = DbtProject.at(root)
    project.activate()
    loaded = dbtRunner().invoke(project.dbt_args(["build", "--select", "employees", "stg_employees",
                                                  "--exclude", "test_type:data"]))
    assert loaded.success, loaded.exception
    shown = dbtRunner().invoke(project.dbt_args(["show", "--select", "fct_headcount_daily", "--limit", "-1"]))
    assert shown.success, shown.exception
    table = shown.result.results[0].agate_table
    days = sorted(row["date_day"] for row in table.rows)
    assert {row["employee_id"] for row in table.rows} == {80}  # no new day: only the corrected employee
    # from the corrected hire date to the day before they left (2024-08-12), counted by hand
    assert (days[0], days[-1], len(days)) == (dt.date(2024, 2, 10), dt.date(2024, 8, 11),
                                              (dt.date(2024, 8, 12) - dt.date(2024, 2, 10)).days)
