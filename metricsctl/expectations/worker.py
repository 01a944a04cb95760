"""The suites of a build run in a process of their own, which imports Great Expectations while dbt builds.

Importing Great Expectations takes 2.3-2.6 s of CPU alone (pandas, scipy, altair, ~300 expectation classes). In
the build's own process it competes with dbt's Python for one interpreter, whichever thread does it, and a
nightly build with little to load waits for it. A build therefore starts this process first: it imports Great
Expectations on the machine's other core while the build's process imports dbt, parses the project and builds
the staging, then waits for the one job the build sends it, runs the suites (`runner.run_suites`, the same code
as in the build's process), sends back each suite's outcome as it finishes and the run's results, and exits.

The job and the messages travel as pickles over the process's stdin and a pipe of its own (never over the
command line: a PostgreSQL URL may hold a password). Exiting frees the DuckDB file it read, before dbt writes to
it again. The process is used on DuckDB and PostgreSQL, and only when Great Expectations is not imported in the
build's process already (then running the suites there costs nothing more); Spark's suites read the build's
own Spark session. When the process cannot serve (it ended, or it runs another installation of metricsctl), the
suites run in the build's process, as before.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from metricsctl.errors import WarehouseError

if TYPE_CHECKING:
    from metricsctl.expectations.results import ExpectationRun
    from metricsctl.expectations.spec import Suite
    from metricsctl.since_last_build import Bound

#: the package this process runs, which the worker checks it imports too
PACKAGE = str(Path(__file__).resolve().parents[1])
log = logging.getLogger(__name__)


class SuiteProcess:
    """A process importing Great Expectations from the moment it is created, to run one set of suites."""

    def __init__(self) -> None:
        read, write = os.pipe()
        try:
            self.process = subprocess.Popen([sys.executable, "-m", __name__, str(write), PACKAGE, str(os.getpid())],
                                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, pass_fds=(write,),
                                            close_fds=True)
        except BaseException:
            os.close(read)
            raise
        finally:
            os.close(write)
        self.messages: IO[bytes] = os.fdopen(read, "rb")

    def run(self, suites: Sequence[Suite], url: str, *, as_of: dt.date | None = None,
            on_suite: Callable[[str, str, str], None] | None = None,
            since: Mapping[str, Bound] | None = None) -> ExpectationRun:
        """`runner.run_suites(suites, url, ...)` in the process; in this one when the process cannot serve."""
        from metricsctl.expectations.runner import run_suites

        job = {"suites": list(suites), "url": url, "as_of": as_of, "since": dict(since or {})}
        heard: set[str] = set()

        def hear(suite: str, status: str, detail: str) -> None:
            heard.add(suite)
            if on_suite is not None:
                on_suite(suite, status, detail)

        outcome = self._served(job, hear)
        if outcome is not None:
            return outcome.masked()  # the secrets this process read, which that one never knew
        # the process ended without an answer: the suites it did not report run here, all of them again
        log.debug("the expectations process could not serve (exit code %s); running the suites here",
                  self.process.returncode)
        return run_suites(suites, url, as_of=as_of, on_suite=lambda s, st, d: None if s in heard else hear(s, st, d),
                          since=since)

    def _served(self, job: dict[str, Any], hear: Callable[[str, str, str], None]) -> ExpectationRun | None:
        stdin = self.process.stdin
        assert stdin is not None
        try:
            pickle.dump(job, stdin, protocol=pickle.HIGHEST_PROTOCOL)
            stdin.close()  # the job is whole: the process reads it to its end
        except OSError:  # the process ended
            self.close()
            return None
        try:
            while True:
                try:
                    message = pickle.load(self.messages)
                except (EOFError, pickle.UnpicklingError, OSError):
                    self.close()
                    return None
                kind = message[0]
                if kind == "suite":
                    hear(*message[1:])
                elif kind == "done":
                    self.close()  # its exit frees the DuckDB file before dbt writes to it again
                    return message[1]  # type: ignore[no-any-return]
                elif kind == "error":
                    self.close()
                    raise message[1]
                else:  # "other package": another installation answered
                    self.close()
                    return None
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """End the process and wait for it: one that answered exits by itself, one given no job is stopped."""
        if self.process.poll() is None:
            stdin = self.process.stdin
            if stdin is not None and not stdin.closed:  # no job sent: nothing to wait for
                self.process.kill()
                with contextlib.suppress(OSError):
                    stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.messages.close()


@contextlib.contextmanager
def suites_process(target_type: str, wanted: bool = True) -> Iterator[SuiteProcess | None]:
    """A SuiteProcess for a build on `target_type` when one is worth it and `wanted` (the build has suites),
    else None; ended when the block ends."""
    if not wanted or not worth_a_process(target_type):
        yield None
        return
    try:
        process = SuiteProcess()
    except OSError:  # no process to be had: the suites run in the build's
        log.debug("the expectations process did not start", exc_info=True)
        yield None
        return
    try:
        yield process
    finally:
        process.close()


def worth_a_process(target_type: str) -> bool:
    """Whether a build on `target_type` runs its suites in a SuiteProcess (see the module's docstring)."""
    return target_type in ("duckdb", "postgres") and "great_expectations" not in sys.modules


def _picklable(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # an error of GX's or a driver's that does not survive pickling: its message does
        return WarehouseError(f"{type(exc).__name__}: {exc}")


def _ends_with_its_build(build: int) -> None:
    """A build killed by its scheduler must leave nothing that reads its warehouse: the job it sent names the
    candidate file by its path, where the next build copies its own candidate, which this process would then
    hold locked (dbt's runs of that build fail: "the warehouse is in use"). On Linux the kernel kills this
    process the moment the build's process dies (prctl PR_SET_PDEATHSIG: the build starts it from the thread
    that waits for it); everywhere, the job is not run once the build is gone, nor any suite after it."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    _stop_unless_built_by(build)  # the build may have died before the kernel was told


def _stop_unless_built_by(build: int) -> None:
    if os.getppid() != build:
        os._exit(0)  # reparented: nothing to answer, nothing of the warehouse to touch


def main(argv: Sequence[str]) -> int:
    """The process: import Great Expectations, read the job, run it, answer on the pipe, exit."""
    out = os.fdopen(int(argv[0]), "wb")
    build = int(argv[2]) if len(argv) > 2 else os.getppid()
    _ends_with_its_build(build)
    # Ctrl-C reaches the terminal's whole process group: the build answers it, and this process ends with it
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def send(*message: Any) -> None:
        _stop_unless_built_by(build)
        pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()

    if str(Path(__file__).resolve().parents[1]) != argv[1]:
        send("other package")
        return 0
    from metricsctl.expectations.runner import import_gx, run_suites

    try:
        import_gx()
    except Exception:  # run_suites imports again and reports the failure
        log.debug("importing Great Expectations failed", exc_info=True)
    try:
        job = pickle.load(sys.stdin.buffer)
    except EOFError:  # the build needed no suites
        return 0
    _stop_unless_built_by(build)
    try:
        run = run_suites(job["suites"], job["url"], as_of=job["as_of"], since=job["since"],
                         on_suite=lambda suite, status, detail: send("suite", suite, status, detail))
    except BaseException as exc:
        send("error", _picklable(exc))
        return 0
    send("done", run)
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(code)  # no interpreter teardown: the answer is sent, the files are closed
