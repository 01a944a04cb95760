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
    with employees.open(newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if row["employee_id"] == "80":
            row["hire_date"] = "2024-02-10"
    with employees.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
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
