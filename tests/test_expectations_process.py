"""The suites of a build in a process of their own, which imports Great Expectations while dbt builds.

First the process alone, on the DuckDB warehouse of tests/test_expectations_runner.py: it finds each defect with
the counts worked out there by hand, reports each suite as it finishes, raises a spec error with its file and
line, hands the suites back to the caller's process when it has ended, and is stopped at once when no job comes.
Then builds of the shop project with two suites: on DuckDB and PostgreSQL their suites run in the process, on
Spark in the build's own process (they read its Spark session); and a `metricsctl build` never imports Great
Expectations itself.
"""

from __future__ import annotations

import csv
import datetime as dt
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from metricsctl.expectations import ExpectationRun, ExpectationSpecError, suites_from_yaml
from metricsctl.expectations import worker as worker_module
from metricsctl.expectations.worker import SuiteProcess, suites_process
from metricsctl.facade import Metricsctl
from tests.test_build_gating import SUITES
from tests.test_expectations_runner import AS_OF, DEFECTS, SUITE, build_warehouse, key, suites
from tests.test_materialize import ENGINES, make_project
from tests.test_publish_engines import shop_on


def shop_with_suites(folder: Path, target: str, schema: str = "process") -> Metricsctl:
    """The shop project with the two suites of tests/test_build_gating.py, in the schema `<schema>_<target>` of
    `target` (a test's own: the PostgreSQL server and the Spark warehouse serve the whole session)."""
    if target != "dev":
        return shop_on(folder / "shop", target, f"{schema}_{target}")
    root = make_project(folder)
    (root / "models" / "expectations.yml").write_text(SUITES)
    return Metricsctl(root)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("process") / "warehouse.duckdb"
    build_warehouse(path)
    return path


def test_the_process_finds_each_defect_and_reports_each_suite_as_it_finishes(warehouse: Path) -> None:
    heard: list[tuple[str, str, str]] = []
    process = SuiteProcess()
    try:
        run = process.run(suites("".join(SUITE.format(variant=v) for v in ["clean", *DEFECTS])),
                          f"duckdb:///{warehouse}", as_of=AS_OF, on_suite=lambda *told: heard.append(told))
    finally:
        process.close()
    assert isinstance(run, ExpectationRun) and run.as_of == AS_OF
    assert process.process.returncode == 0
    by_suite = {s.suite: s for s in run.suites}
    assert [r.expectation for r in by_suite["clean"].results if not r.success] == []
    for variant, (_sql, broken, count, sample, _observed) in DEFECTS.items():
        [failed] = [r for r in by_suite[variant].results if not r.success]
        assert (key(failed.expectation, failed.kwargs), failed.unexpected_count) == (broken, count), variant
        assert set(failed.unexpected_sample) == sample
    told = {name: status for name, status, _detail in heard}  # as each finishes, two suites at a time
    assert len(heard) == len(told) and told == {"clean": "pass", **{variant: "fail" for variant in DEFECTS}}


def test_arguments_gx_rejects_come_back_as_a_spec_error_with_file_and_line() -> None:
    process = SuiteProcess()
    with pytest.raises(ExpectationSpecError) as raised:
        process.run(suites_from_yaml("""
expectations:
  - relation: raw.orders
    expectations:
      - expect_table_row_count_to_be_between: {min_value: lots}
""", "models/x.yml"), "duckdb:////nowhere/warehouse.duckdb", as_of=AS_OF)
    [issue] = raised.value.issues
    assert (issue.path, issue.line) == ("models/x.yml", 5) and "min_value" in issue.message


def test_suites_the_process_cannot_run_run_in_the_callers_process(warehouse: Path) -> None:
    process = SuiteProcess()
    process.process.kill()
    process.process.wait()
    run = process.run(suites(SUITE.format(variant="duplicate")), f"duckdb:///{warehouse}", as_of=AS_OF)
    [failed] = [r for r in run.suites[0].results if not r.success]
    assert (key(failed.expectation, failed.kwargs), failed.unexpected_count) == DEFECTS["duplicate"][1:3]


def test_a_process_given_no_job_is_stopped_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A build that needs no suite does not wait for the import (2.5-5 s) to end."""
    monkeypatch.setattr(worker_module, "worth_a_process", lambda kind: True)
    started = time.perf_counter()
    with suites_process("duckdb") as process:
        assert process is not None
    assert process.process.returncode is not None and process.process.returncode < 0  # stopped, not finished
    assert time.perf_counter() - started < 2


BUILD_KILLED_AFTER_ITS_JOB = """
import pickle, sys, time
from metricsctl.expectations.worker import SuiteProcess
from tests.test_expectations_runner import AS_OF, SUITE, suites
process = SuiteProcess()
print(process.process.pid, flush=True)
job = {"suites": suites(SUITE.format(variant="duplicate")), "url": "duckdb:///" + sys.argv[1], "as_of": AS_OF,
       "since": {}}
pickle.dump(job, process.process.stdin)
process.process.stdin.close()
print("sent", flush=True)
time.sleep(120)
"""


def _running(pid: int) -> bool:
    """Whether the process runs (a zombie no longer does: its parent died, and nothing may reap it here)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's parent-death signal is Linux's")
def test_a_killed_builds_suites_process_dies_with_it_before_it_opens_the_warehouse(warehouse: Path) -> None:
    """A build killed by its scheduler right after it sent its job: the process, still importing Great
    Expectations (2.5-5 s), would then run that job on the file its path names, which the next build has
    replaced with its own candidate, and hold it locked. It dies with the build instead."""
    build = subprocess.Popen([sys.executable, "-c", BUILD_KILLED_AFTER_ITS_JOB, str(warehouse)],
                             stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])
    assert build.stdout is not None
    pid = int(build.stdout.readline())
    assert build.stdout.readline().strip() == "sent"
    build.kill()
    build.wait()
    deadline = time.monotonic() + 1.5
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(pid)


def test_a_build_without_suites_or_on_spark_starts_no_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "great_expectations", raising=False)
    for target, wanted in (("duckdb", False), ("spark", True)):
        with suites_process(target, wanted) as process:
            assert process is None


@pytest.mark.parametrize("target", ENGINES)
def test_a_build_runs_its_suites_in_a_process_of_their_own_but_on_spark(
        target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Great Expectations is imported in this test process already, which alone keeps the suites here; the
    test lets the build choose as a fresh process would."""
    if target != "dev":
        request.getfixturevalue(f"{target}_env")  # its server or session folder
    monkeypatch.setattr(worker_module, "worth_a_process", lambda kind: kind in ("duckdb", "postgres"))
    runs: list[int] = []
    served = SuiteProcess.run

    def spy(self: SuiteProcess, *args: Any, **kwargs: Any) -> ExpectationRun:
        runs.append(self.process.pid)
        return served(self, *args, **kwargs)

    monkeypatch.setattr(SuiteProcess, "run", spy)
    app = shop_with_suites(tmp_path, target)
    result = app.build(as_of=dt.date(2024, 7, 2), select=("visits", "orders", "customers"))  # the seeds the suites read
    assert result.success, result.to_dict()
    assert result.expectations is not None
    # the two suites of tests/test_build_gating.py: 4 expectations on the visits, 1 on the orders, all holding
    assert sorted((s.suite, len(s.results), s.success) for s in result.expectations.suites) == [
        ("orders", 1, True), ("visits", 4, True)]
    assert all(r.status == "pass" for r in result.expectations.results)
    assert len(runs) == (0 if target == "spark" else 1)


@pytest.mark.parametrize("target", ENGINES)
def test_orphan_visits_fail_their_suite_with_their_count_and_values_on_every_engine(
        target: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Three new visits of customers 997 and 998, whom the customers seed does not hold: the visits suite's
    referential expectation fails on each engine with 3 rows and the values 997 and 998; the rest holds."""
    if target != "dev":
        request.getfixturevalue(f"{target}_env")
    app = shop_with_suites(tmp_path, target, "orphans")
    visits = app.project.project_dir / "seeds" / "visits.csv"
    rows = list(csv.reader(visits.open()))
    first = max(int(row[0]) for row in rows[1:]) + 1
    rows += [[str(first + i), customer, "2024-06-30", "online"] for i, customer in enumerate(("997", "998", "998"))]
    with visits.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    result = app.build(as_of=dt.date(2024, 7, 2), select=("visits", "orders", "customers"))
    assert result.expectations is not None
    failed = [(r.suite, r.expectation, r.unexpected_count, sorted(int(v) for v in r.unexpected_sample))
              for r in result.expectations.results if not r.success]
    assert failed == [("visits", "expect_column_values_to_be_in_relation", 3, [997, 998])]
    assert all(r.error is None for r in result.expectations.results)


def test_metricsctl_build_leaves_great_expectations_to_the_suites_process(tmp_path: Path) -> None:
    """The build's process never imports it: its suites ran, and passed, in their own."""
    root = shop_with_suites(tmp_path, "dev").project.project_dir
    driver = ("import atexit, runpy, sys\n"
              "atexit.register(lambda: print('imported:', 'great_expectations' in sys.modules))\n"
              "sys.argv = ['metricsctl', 'build', '--project-dir', sys.argv[1], '--as-of', '2024-07-02']\n"
              "runpy.run_module('metricsctl.cli', run_name='__main__')\n")
    (tmp_path / "driver.py").write_text(driver)
    done = subprocess.run([sys.executable, str(tmp_path / "driver.py"), str(root)], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 expectations: 5 passed" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "imported: False"


def test_a_build_with_no_suite_left_to_run_stops_its_process_before_dbt_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the same rows a suite that passed, with no freshness check, has nothing to run again."""
    from metricsctl.publish import Stage

    monkeypatch.setattr(worker_module, "worth_a_process", lambda kind: True)
    started: list[SuiteProcess] = []
    create = SuiteProcess.__init__

    def spy(self: SuiteProcess) -> None:
        create(self)
        started.append(self)

    monkeypatch.setattr(SuiteProcess, "__init__", spy)
    running_when_dbt_ran: list[bool] = []
    run_dbt = Stage.dbt

    def dbt(self: Stage, *args: Any, **kwargs: Any) -> Any:
        running_when_dbt_ran.append(started[-1].process.poll() is None)
        return run_dbt(self, *args, **kwargs)

    monkeypatch.setattr(Stage, "dbt", dbt)
    root = make_project(tmp_path)
    (root / "models" / "expectations.yml").write_text(SUITES.split("  - relation: orders")[0])  # visits alone
    app = Metricsctl(root)
    only = ("visits", "customers")
    for _ in range(2):  # the seeds are loaded, then their rows are known: the second build records the suite
        first = app.build(as_of=dt.date(2024, 7, 2), select=only)
        assert first.success and first.expectations is not None and len(first.expectations.results) == 4
    assert [p.process.returncode for p in started] == [0, 0]  # each ran the suite, answered and exited
    running_when_dbt_ran.clear()
    again = app.build(as_of=dt.date(2024, 7, 2), select=only)
    assert again.success and again.expectations is None  # no suite ran
    assert len(started) == 3 and running_when_dbt_ran == [False]
    assert started[2].process.returncode is not None and started[2].process.returncode < 0
