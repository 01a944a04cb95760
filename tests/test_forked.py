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

    try:
        forked.run_forked([slow] * 20, 2)
    except KeyboardInterrupt:  # as the CLI does: one line, exit 130
        print("error: interrupted", file=sys.stderr)
        time.sleep(1)  # what else a command does on its way out: nothing of the pool may be left running
        sys.exit(130)
"""


def with_two_workers_busy(code: str, cwd: Path, tmp_path: Path) -> tuple[subprocess.Popen[str], list[int], Path]:
    """`code` started in a session of its own with two compile processes, once both are in the middle of a
    task (each writes its pid into the folder returned): the process, the workers' pids, that folder."""
    import time

    started = tmp_path / "started"
    started.mkdir()
    env = {k: v for k, v in os.environ.items() if k != forked.SETTING}
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), str(started)], cwd=cwd,
                               env={**env, forked.SETTING: "2"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(list(started.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = [int(p.name) for p in started.iterdir()]
    if len(workers) != 2:
        process.kill()
        process.wait()
    assert len(workers) == 2
    time.sleep(0.3)  # the executor's thread waiting on its workers, as in the middle of a compile
    return process, workers, started


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

    process, workers, started = with_two_workers_busy(SLOW_TASKS, tmp_path, tmp_path)
    try:
        if signal_name == "SIGINT":  # as a terminal sends it: to the whole group, workers included
            os.killpg(process.pid, signal.SIGINT)
        else:  # as a scheduler sends it: to the process it started
            process.send_signal(signal.SIGKILL)
        _, stderr = process.communicate(timeout=30)  # not the 300 s the tasks sleep
        if signal_name == "SIGINT":
            assert (process.returncode, stderr) == (130, "error: interrupted\n")  # and nothing after it
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


@pytest.mark.parametrize("setting", ["0", "two", "-1", "1.5", "²", "1" * 5000])
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


def test_the_cores_are_those_of_the_containers_cpu_quota(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A container allowed 1.5 CPUs on a machine of many cores compiles in 2 processes, not one per core."""
    v2 = tmp_path / "cpu.max"
    monkeypatch.setattr(forked.os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    monkeypatch.setattr(forked, "CPU_QUOTAS", ((str(v2), None),))
    v2.write_text("150000 100000\n")
    assert forked._cores() == 2
    v2.write_text("max 100000\n")
    assert forked._cores() == 64
    quota, period = tmp_path / "cfs_quota_us", tmp_path / "cfs_period_us"
    quota.write_text("300000\n")
    period.write_text("100000\n")
    monkeypatch.setattr(forked, "CPU_QUOTAS", ((str(tmp_path / "absent"), None), (str(quota), str(period))))
    assert forked._cores() == 3
    monkeypatch.delenv(forked.SETTING, raising=False)
    monkeypatch.setattr(forked, "_forking_is_safe", lambda: True)
    assert forked.processes(100) == 3


def test_a_bad_setting_is_the_environments_error_not_a_failing_metric(project: Path,
                                                                      monkeypatch: pytest.MonkeyPatch):
    """Reported at once, as it is: the compile does not first look for a metric that fails to compile."""
    from metricsctl.facade import Metricsctl

    monkeypatch.setenv(forked.SETTING, "all")
    (project / "target" / "metricsctl_models.json").unlink(missing_ok=True)
    app = Metricsctl(project)
    located = []
    monkeypatch.setattr(Metricsctl, "validate", lambda self: located.append(1))
    with pytest.raises(forked.SettingError, match="METRICSCTL_COMPILE_PROCESSES='all' is not a number"):
        app.compile()
    assert located == []


INTERRUPTED_COMPILE = """
    import os, sys, time
    from pathlib import Path
    import metricsctl.materialize as materialize

    compiling, started = os.getpid(), sys.argv[1]
    built = materialize.Materializer._built

    def slowly(self, wanted):
        def slow(want):
            def build():
                if os.getpid() != compiling:
                    Path(started, str(os.getpid())).touch()
                    time.sleep(300)
                return want.build()
            return build
        return built(self, [materialize._Wanted(w.name, w.key, w.digest, slow(w), w.export) for w in wanted])

    materialize.Materializer._built = slowly
    from metricsctl.cli import run

    sys.argv = ["metricsctl", "compile", "--project-dir", "."]
    run()
"""


def test_ctrl_c_in_a_compile_with_workers_is_one_line_and_exit_130(project: Path, tmp_path: Path):
    """`metricsctl compile` of a project dbt parses in full first (its parser keeps a pool of native threads
    after), interrupted as a terminal does, in the whole group: the compile says one line, leaves nothing behind,
    and the executor's own machinery writes nothing more on the way out."""
    import signal

    for kept in ("metricsctl_models.json", "partial_parse.msgpack", "manifest.json"):
        (project / "target" / kept).unlink(missing_ok=True)
    process, workers, _ = with_two_workers_busy(INTERRUPTED_COMPILE, project, tmp_path)
    try:
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert (process.returncode, stderr) == (130, "error: interrupted\n")
    assert all(gone(pid) for pid in workers)
