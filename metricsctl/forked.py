"""Independent pieces of work run side by side in forked processes, when the machine has cores to spare.

Compiling a large project is CPU-bound Python (sqlglot builds and writes each model's SQL), and the models do
not depend on one another: with two cores the 200 exports and `metric_values` of a 1,000-metric project take
about half the time (bench/compile_steps.py, BENCHMARKS.md section 3). Each worker is forked from this process,
so it holds the loaded spec as it is, with nothing pickled on the way in; only the results come back.

Processes are used only where forking is safe and pays:
- on Linux (macOS system libraries do not survive a fork; Windows has none);
- when this process runs no other Python thread: a lock another thread holds at the fork (the logging
  module's, an import's) stays held in the child for ever, so a scheduler that imported metricsctl in a
  threaded process, `docs serve` or a build's live display compiles in one process. Threads a library runs
  natively (dbt's parser keeps a pool of them after a parse, DuckDB one per open database) are left behind
  in the child: it runs only Python (metricsctl's compiler and sqlglot) and glibc's malloc, which a fork
  keeps usable, never those libraries, and it ends with `os._exit`, finalizing nothing of theirs;
- with at least two tasks and two usable cores, or as many processes as `METRICSCTL_COMPILE_PROCESSES` says
  (`1`: never fork).

A task that fails in a worker, and every task of a worker that dies, gives `None`: the caller runs those
again in its own process, where an error is raised as it would be without workers, with its own type and
message. So workers change how long a compile takes, never what it gives or how it fails.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from metricsctl.compiler.collector import collector_paused
from metricsctl.errors import MetricsctlError

if TYPE_CHECKING:
    from concurrent.futures import Future

T = TypeVar("T")
SETTING = "METRICSCTL_COMPILE_PROCESSES"
MOST = 8  # each worker holds its own models' garbage: memory grows with the processes
CPU_QUOTAS = (("/sys/fs/cgroup/cpu.max", None),  # cgroup v2: "<quota> <period>" or "max <period>"
              ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us"))  # v1
_PR_SET_PDEATHSIG = 1  # prctl(2): the signal this process gets when its parent ends
_TASKS: Sequence[Callable[[], object]] = ()  # what the forked workers run, by index: inherited, never pickled


def processes(tasks: int) -> int:
    """How many processes to run `tasks` pieces of work in: 1 unless forking is safe here and there are
    cores (or the setting) for more. A setting that is not a whole number from 1 is refused."""
    setting = os.environ.get(SETTING, "").strip()
    if setting:
        if not (setting.isascii() and setting.isdigit() and len(setting) <= 3 and int(setting) >= 1):
            raise SettingError(f"{SETTING}={setting[:40]!r} is not a number of processes: give a whole number "
                               "from 1 to 999 (1 compiles in this process alone)")
        wanted = int(setting)
    else:
        wanted = min(_cores(), MOST)
    if wanted < 2 or tasks < 2 or not _forking_is_safe():
        return 1
    return min(wanted, tasks)


class SettingError(MetricsctlError):
    """The environment asks for something that is not a number of processes: the environment's mistake, not
    the project's."""


def _cores() -> int:
    """The cores this process may use: those it may run on, within the CPU quota of its container (cgroup v2's
    `cpu.max`, or v1's `cpu.cfs_quota_us`), which a machine's core count does not show."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    for quota_file, period_file in CPU_QUOTAS:
        try:
            with open(quota_file, encoding="ascii") as f:
                fields = f.read().split()
            if period_file is not None:
                with open(period_file, encoding="ascii") as f:
                    fields += f.read().split()
            quota, period = int(fields[0]), int(fields[1])  # "max" (no quota) or -1 leave the cores as they are
        except (OSError, ValueError, IndexError):
            continue
        if quota > 0 and period > 0:
            cores = min(cores, max(1, -(-quota // period)))
        break
    return cores


def _forking_is_safe() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "fork") and threading.active_count() == 1


def _started(parent: int) -> None:
    """In each worker: Ctrl-C is the compiling process's to handle, and the worker dies with that process
    however it ends (a scheduler's SIGKILL included), so that no worker outlives it."""
    import ctypes
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a command's own handler (cli.py) is the compiling process's
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # no prctl: the check below still covers a parent gone before here
        pass
    if os.getppid() != parent:
        os._exit(1)


def _run(index: int) -> object:
    try:
        with collector_paused():
            return _TASKS[index]()
    except Exception:  # noqa: BLE001 - run again by the caller, which raises it as it would alone
        return None


def run_forked(tasks: Sequence[Callable[[], T]], count: int) -> list[T | None]:
    """Each task's result, the tasks run by `count` forked processes in the order given (put the longest
    first); `None` for a task that raised or was lost with its worker. This process only waits; interrupted
    (Ctrl-C), it stops its workers and lets the interruption go on."""
    import multiprocessing  # here: a compile with no worker, and every other verb, does without them
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    global _TASKS
    results: list[T | None] = [None] * len(tasks)
    _TASKS = tasks
    futures: dict[Future[object], int] = {}
    pool = ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context("fork"),
                               initializer=_started, initargs=(os.getpid(),))
    try:
        for index in range(len(tasks)):
            futures[pool.submit(_run, index)] = index
        for future in as_completed(futures):
            results[futures[future]] = future.result()  # type: ignore[assignment]
    except BrokenProcessPool:  # a worker died (killed, out of memory): what was sent back is kept
        for future, index in futures.items():
            if future.done() and not future.cancelled() and future.exception() is None:
                results[index] = future.result()  # type: ignore[assignment]
    except BaseException:  # the executor keeps its processes by pid; none may go on compiling
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.kill()
        pool.shutdown(wait=True, cancel_futures=True)  # at once: its workers are gone, its thread ends with them
        raise
    finally:
        _TASKS = ()
    pool.shutdown(wait=True)
    return results
