"""How a long job tells what it is doing: phases (parse, sources and staging, expectations, metric
models, alerts), the items each finishes, and how long each phase took.

The core reports through `Phases`; what a person sees is a `Reporter` (a live display on a terminal,
plain lines for cron and CI, see metricsctl.output). Phase times are kept for the run record.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol


def stdout_gone() -> None:
    """The reader of standard output went away (`metricsctl build | head`): send what is still printed
    to the null device, so the job goes on to its end (and its exit code) instead of failing mid-way."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor behind sys.stdout (a test's capture): nothing to do
        pass


class Reporter(Protocol):
    def phase_started(self, phase: str, total: int | None) -> None: ...

    def item_done(self, phase: str, item: str, status: str, detail: str) -> None: ...

    def phase_finished(self, phase: str, seconds: float, summary: str) -> None: ...


class Phases:
    """Times the phases of a job and passes what happens to a reporter (none: silent)."""

    def __init__(self, reporter: Reporter | None = None, started: float | None = None) -> None:
        self.reporter = reporter
        self.seconds: dict[str, float] = {}
        self.started = time.perf_counter() if started is None else started  # a time.perf_counter() reading
        self.current: str | None = None
        self._summary = ""

    @contextmanager
    def phase(self, name: str, total: int | None = None, quiet_until_done: bool = False) -> Iterator[None]:
        """Time the `with` body as phase `name` (times of a phase run twice add up).

        `quiet_until_done`: a phase whose failure must be the only thing printed (the parse and checks before
        a build) shows only a transient live line while it runs, and its time once it succeeded.
        """
        outer, self.current, self._summary = self.current, name, ""
        live = bool(getattr(self.reporter, "live", False))
        announce = self.reporter is not None and (live or not quiet_until_done)
        if announce and self.reporter is not None:
            self._tell(self.reporter.phase_started, name, total)
        begin = time.perf_counter()
        failed = True
        try:
            yield
            failed = False
        finally:
            seconds = time.perf_counter() - begin
            self.seconds[name] = self.seconds.get(name, 0.0) + seconds
            if self.reporter is not None and failed and quiet_until_done:
                if announce:
                    abandon = getattr(self.reporter, "phase_abandoned", None)
                    if callable(abandon):
                        self._tell(abandon, name)
            elif self.reporter is not None:
                self._tell(self.reporter.phase_finished, name, seconds, self._summary)
            self.current = outer

    def _tell(self, call: Callable[..., Any], *args: Any) -> None:
        """Pass one event to the reporter; when the reader of the output went away, stop reporting (the job
        itself goes on: a report must never stop a build half-way, nor hang dbt's threads)."""
        try:
            call(*args)
        except (BrokenPipeError, SystemExit):  # rich's console answers a broken pipe with SystemExit
            self.reporter = None
            stdout_gone()

    def item(self, item: str, status: str, detail: str = "") -> None:
        """One thing of the current phase finished: a dbt node, a suite, an alert rule."""
        if self.reporter is not None:
            self._tell(self.reporter.item_done, self.current or "", item, status, detail)

    def summary(self, text: str) -> None:
        """A few words on the current phase's outcome, shown when it finishes (`221 passed, 13 warned`)."""
        self._summary = text

    @property
    def wall_seconds(self) -> float:
        """Seconds since the job started: what the closing summary reports."""
        return time.perf_counter() - self.started

    def node(self, unique_id: str, status: str) -> None:
        """A dbt node finished (the `on_node` callback of metricsctl.runner.run_dbt)."""
        self.item(unique_id, status)
