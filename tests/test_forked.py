"""Models compiled side by side in forked processes (metricsctl/forked.py): the same files as a compile in one
process, on every dialect, and the same errors.

Workers are forked only from a process that runs no other thread, which a test runner's worker is not: each
test that compiles with workers runs its compile in a Python process of its own, and checks that workers
were really used.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from metricsctl import forked
from metricsctl.errors import MetricsctlError


def run_python(code: str, cwd: Path, processes: int | None = None, counted: bool = False) -> dict:
    """Run `code` in a fresh interpreter (no thread but the main one) and return the JSON it printed last;
    `counted`: `forks` holds the number of processes of each compile that used workers."""
    env = {k: v for k, v in os.environ.items() if k != forked.SETTING}
    if processes is not None:
        env[forked.SETTING] = str(processes)
    script = (textwrap.dedent(COUNTING) if counted else "") + textwrap.dedent(code)
    result = subprocess.run([sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


COUNTING = """
    import json, os, sys
    from metricsctl import forked

    forks = []
    run_forked = forked.run_forked

    def counted(tasks, count):
        forks.append(count)
        return run_forked(tasks, count)

    forked.run_forked = counted
    import metricsctl.materialize
    metricsctl.materialize.run_forked = counted
"""


@pytest.fixture
def project(shop_dir: Path, tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    shutil.copytree(shop_dir, root, ignore=shutil.ignore_patterns("*.duckdb", "*.duckdb.wal", "logs"))
    return root


def test_models_compiled_in_processes_are_byte_for_byte_those_compiled_in_one(project: Path):
    result = run_python("""
        from metricsctl.facade import Metricsctl
        from metricsctl.materialize import Materializer

        app = Metricsctl('.')
        texts = {}
        for dialect in ("duckdb", "postgres", "spark"):
            for processes in ("1", "2"):
                os.environ[forked.SETTING] = processes
                models = Materializer(app.spec, app.project, dialect).models()
                texts[f"{dialect}/{processes}"] = {m.name: m.content for m in models}
        print(json.dumps({"forks": forks, "texts": texts}))
    """, project, counted=True)
    assert result["forks"] == [2, 2, 2]  # one compile with two workers per dialect, none for the others
    texts = result["texts"]
    for dialect in ("duckdb", "postgres", "spark"):
        assert len(texts[f"{dialect}/1"]) == 5  # three exports, metric_values, metric_catalog
        assert texts[f"{dialect}/2"] == texts[f"{dialect}/1"], dialect
    assert texts["spark/1"] != texts["duckdb/1"]


def test_an_export_that_fails_in_a_worker_is_reported_as_in_one_process(project: Path):
    """One export's name is refused before any compile, another's query fails while it compiles (in a worker,
    then again in the compiling process): both are reported at their saved queries' lines, as in one process,
    and no model is written."""
    saved = project / "metrics" / "saved_queries.yml"
    text = saved.read_text()
    text = text.replace("""metrics: [revenue, order_total, orders, avg_order_amount, revenue_7d]
      group_by: ["TimeDimension('metric_time', 'day')", "Dimension('order__channel')"]""",
                        """metrics: [revenue, order_total, orders, avg_order_amount]
      group_by: ["Dimension('order__channel')"]""")
    text = text.replace("- name: sales_by_month\n        config", "- name: sales-by-month\n        config")
    saved.write_text(text)
    for generated in (project / "models" / "metrics").glob("*.sql"):
        generated.unlink()
    errors = {processes: run_python("""
        from metricsctl.errors import SpecError
        from metricsctl.facade import Metricsctl

        try:
            Metricsctl('.').compile()
        except SpecError as exc:
            print(json.dumps({"forks": forks, "error": str(exc)}))
    """, project, processes, counted=True) for processes in (1, 2)}
    assert errors[1]["forks"] == [] and errors[2]["forks"] == [2]
    assert errors[2]["error"] == errors[1]["error"]
    problems = sorted(line.strip() for line in errors[2]["error"].splitlines()[1:])
    assert errors[2]["error"].startswith("2 problems in the semantic spec:")
    assert problems[0].startswith("metrics/saved_queries.yml:11: export 'daily_channel_sales' of saved query "
                                  "'daily_channel_sales': an incremental export needs metric_time")
    assert problems[1].startswith("metrics/saved_queries.yml:2: export 'sales-by-month' of saved query "
                                  "'sales_by_month': export 'sales-by-month' is not a valid name")
    assert not list((project / "models" / "metrics").glob("*.sql"))


def test_a_task_that_fails_or_a_worker_that_dies_gives_none_and_the_others_their_results(tmp_path: Path):
    result = run_python("""
        import json, os
        from metricsctl import forked

        def pid():
            return os.getpid()

        def fails():
            raise ValueError("no")

        def dies():
            os._exit(3)

        alive = forked.run_forked([pid, fails, pid, pid], 2)
        killed = forked.run_forked([dies] + [pid] * 6, 2)
        print(json.dumps({"parent": os.getpid(), "alive": alive, "killed": killed}))
    """, tmp_path)
    alive = result["alive"]
    assert alive[1] is None
    assert all(isinstance(p, int) and p != result["parent"] for p in alive[:1] + alive[2:])
    assert result["killed"][0] is None  # the pool broke: what was not sent back is None, nothing hangs
    assert all(p is None or p != result["parent"] for p in result["killed"])


SLOW_TASKS = """
    import os, sys, time
    from pathlib import Path
    from metricsctl import forked

    def slow():
        Path(sys.argv[1], str(os.getpid())).touch()
        time.sleep(300)

    forked.run_forked([slow] * 4, 2)
"""


def gone(pid: int) -> bool:
    """The process ended (a zombie left for its new parent to reap counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return True


@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGINT"])
def test_no_worker_outlives_a_compile_killed_or_interrupted(tmp_path: Path, signal_name: str):
    """A scheduler's SIGKILL of the compiling process, or a Ctrl-C, ends its workers in the middle of their
    models."""
    import signal
    import time

    started = tmp_path / "started"
    started.mkdir()
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(SLOW_TASKS), str(started)], cwd=tmp_path,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(list(started.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = [int(p.name) for p in started.iterdir()]
        assert len(workers) == 2
        process.send_signal(getattr(signal, signal_name))
        _, stderr = process.communicate(timeout=30)  # not the 300 s the tasks sleep
        if signal_name == "SIGINT":
            assert "KeyboardInterrupt" in stderr
        deadline = time.monotonic() + 10
        while not all(gone(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(gone(pid) for pid in workers)
        assert len(list(started.iterdir())) == 2  # no task was started after the signal
    finally:
        process.kill()
        process.wait()


def test_no_worker_is_forked_while_another_thread_runs(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(forked.SETTING, "2")
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert forked.processes(10) == 1
    finally:
        stop.set()
        thread.join()


def test_no_worker_is_forked_while_a_library_runs_threads_of_its_own(tmp_path: Path):
    """DuckDB's threads are not Python's: the operating system's count of the process's threads tells."""
    result = run_python("""
        import json, threading, duckdb
        from metricsctl import forked

        before = forked._threads()
        con = duckdb.connect()
        con.execute("SET threads = 4")
        con.execute("SELECT sum(i) FROM range(10000000) t(i)").fetchall()
        print(json.dumps({"before": before, "python": threading.active_count(), "os": forked._threads(),
                          "processes": forked.processes(10)}))
    """, tmp_path, processes=2)
    assert result["before"] == 1 and result["python"] == 1
    assert result["os"] > 1
    assert result["processes"] == 1


@pytest.mark.parametrize("setting", ["0", "two", "-1", "1.5", "²"])
def test_a_setting_that_is_not_a_number_of_processes_is_refused(monkeypatch: pytest.MonkeyPatch, setting: str):
    monkeypatch.setenv(forked.SETTING, setting)
    with pytest.raises(MetricsctlError, match=f"{forked.SETTING}=.* is not a number of processes: give a whole "
                                              "number from 1"):
        forked.processes(10)


def test_one_process_when_the_setting_says_so_or_there_is_one_task(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(forked, "_forking_is_safe", lambda: True)
    monkeypatch.setenv(forked.SETTING, "1")
    assert forked.processes(10) == 1
    monkeypatch.setenv(forked.SETTING, "4")
    assert forked.processes(1) == 1
    assert forked.processes(3) == 3
    assert forked.processes(10) == 4
