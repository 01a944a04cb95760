"""Rendering query results: a terminal table, CSV or JSON."""

from __future__ import annotations

import csv
import datetime
import decimal
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from rich.markup import escape as escape_markup

from metricsctl.errors import MetricsctlError
from metricsctl.guards import inside, mask, printable
from metricsctl.jsonable import dumps
from metricsctl.progress import Phases
from metricsctl.warehouse import Result


def escape(text: str) -> str:
    """Text printed within rich's markup: its brackets stay text, its control characters are shown."""
    return escape_markup(printable(text))

# What the warehouse says when a seed's CSV has other columns than its table from the last load.
COLUMNS_CHANGED = re.compile(r"number of columns|has \d+ columns but|does not have a column", re.IGNORECASE)


def plain(value: Any) -> Any:
    """A JSON/CSV-friendly value: dates as ISO strings, decimals as floats."""
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def records(result: Result) -> list[dict[str, Any]]:
    return [{c: plain(v) for c, v in zip(result.columns, row)} for row in result.rows]


def check_output_path(path: Path, suffix: str, protected: Sequence[Path] = (),
                      input_folders: Sequence[Path] = ()) -> Path:
    """Refuse, with one line, an output path that would destroy an input or cannot be written.

    The path must end in `suffix`, lie in a folder that exists and outside `input_folders` (the project's
    seeds), and be either new or an existing text file of that kind: never the warehouse, a folder, a link
    or a binary file.
    """
    shown = str(path)
    if path.suffix.lower() != suffix:
        raise MetricsctlError(f"{shown}: output files must end in {suffix}; choose a name like results{suffix}")
    if not path.parent.is_dir():
        raise MetricsctlError(f"{shown}: the folder {path.parent} does not exist; create it first")
    if any(path.resolve() == p.resolve() for p in protected):
        raise MetricsctlError(f"{shown}: refusing to overwrite the warehouse")
    for folder in input_folders:
        if inside(path.resolve(), folder.resolve()):
            raise MetricsctlError(f"{shown}: {folder} holds the project's seeds, which builds load; write the "
                                  "results outside it")
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise MetricsctlError(f"{shown}: exists and is not a plain file; refusing to overwrite it")
    if path.exists():
        with open(path, "rb") as f:
            head = f.read(4096)
        if b"\0" in head:
            raise MetricsctlError(f"{shown}: exists and is not a {suffix.lstrip('.').upper()} file (it holds binary "
                                  "data); refusing to overwrite it")
    return path


def write_csv(result: Result, path: Path) -> None:
    """Write the rows to a temporary file beside `path`, then move it into place: never half a file."""
    import os
    import tempfile

    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise MetricsctlError(f"{path}: cannot write in {path.parent} ({exc.strerror}); choose a folder you can "
                              "write to") from None
    try:
        # the file's mode as it was, or as a new file's would be (mkstemp makes it readable by its owner alone)
        os.chmod(temporary, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask())
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(result.columns)
            writer.writerows([["" if v is None else plain(v) for v in row] for row in result.rows])
        os.replace(temporary, path)
    except BaseException as exc:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise MetricsctlError(f"{path}: could not be written ({exc.strerror}); nothing was changed") from None
        raise


def _umask() -> int:
    import os

    current = os.umask(0o022)
    os.umask(current)
    return current


def write_json(result: Result, stream: IO[str]) -> None:
    """JSON records; a non-finite value (a division by zero on DuckDB) is `null`, as JSON has no infinity."""
    stream.write(dumps(records(result)) + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date().isoformat()
    if isinstance(value, float):
        return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.2f}"
    return str(plain(value))


def _decimals(values: Sequence[Any]) -> int | None:
    """Decimal places for a column of fractional numbers, the same for every row (None: not such a column).

    Whole numbers show none; amounts two; values under 1 in size (rates, shares) four.
    """
    if any(v is not None and not isinstance(v, (float, decimal.Decimal)) for v in values):
        return None
    numbers = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not numbers:
        return None
    if all(n == int(n) for n in numbers):
        return 0
    return 2 if max(abs(n) for n in numbers) >= 1 else 4


def _number(value: Any, decimals: int | None) -> str:
    if value is None or decimals is None:
        return _cell(value)
    number = float(value)
    return f"{number:,.{decimals}f}" if math.isfinite(number) else str(number)


def print_table(result: Result) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    columns = [[row[i] for row in result.rows] for i in range(len(result.columns))]
    places = [_decimals(values) for values in columns]
    cells = [[printable(_number(v, places[i])) for i, v in enumerate(row)] for row in result.rows]
    widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(result.columns)]
    table = Table(show_edge=False, header_style="bold")
    for name, values in zip(result.columns, columns):
        numeric = any(isinstance(v, (int, float, decimal.Decimal)) and not isinstance(v, bool) for v in values)
        table.add_column(name, justify="right" if numeric else "left", no_wrap=True)
    for row in cells:
        table.add_row(*(Text(cell) for cell in row))  # text, never markup
    # never squeeze numbers into ellipses: the table is as wide as its content
    Console(width=max(80, sum(widths) + 3 * len(widths) + 2)).print(table)
    if not result.rows:
        Console(stderr=True).print("(no rows)")


MARKS = {"success": "[green]ok[/]", "pass": "[green]pass[/]", "ok": "[green]ok[/]", "no-op": "[dim]no-op[/]",
         "skipped": "[yellow]skipped[/]", "warn": "[yellow]warn[/]", "stale": "[yellow]stale[/]",
         "firing": "[bold red]firing[/]"}
QUIET = ("success", "pass", "ok")  # on a terminal these only move the live display
PLURALS = {"saved_query": "saved queries", "analysis": "analyses"}


def plural(count: int, kind: str) -> str:
    """`1 model`, `4 saved queries`, `2 unit tests`."""
    word = kind.replace("_", " ") if count == 1 else PLURALS.get(kind, kind.replace("_", " ") + "s")
    return f"{count} {word}"


def _item_text(phase: str, item: str, status: str, detail: str) -> str:
    """`ok model stg_orders`, `warn suite stg_orders (2 of 9 failed)`, `firing alert defect_spike`."""
    if item.count(".") >= 2 and item.split(".", 1)[0] in ("model", "seed", "test", "snapshot", "unit_test",
                                                          "saved_query", "exposure", "source", "analysis"):
        kind, _, name = item.split(".", 2)
        what = f"{kind.replace('_', ' ')} {name}"
    else:
        what = f"{'suite' if phase == 'expectations' else 'alert' if phase == 'alerts' else ''} {item}".strip()
    mark = MARKS.get(status, f"[bold red]{status}[/]")
    return f"{mark} " + escape(what + (f" ({detail})" if detail else ""))


class PlainReporter:
    """Progress as plain lines, for cron, CI and pipes: each phase, each item, each phase's time."""

    live = False

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console

        self.console = console or Console(highlight=False, soft_wrap=True)

    def phase_started(self, phase: str, total: int | None) -> None:
        unit = {"expectations": "suite", "alerts": "rule"}.get(phase, "item")
        self.console.print(f"{phase}" + (f" ({plural(total, unit)})" if total else "") + " ...")

    def item_done(self, phase: str, item: str, status: str, detail: str) -> None:
        if status != "no-op":
            self.console.print("  " + _item_text(phase, item, status, detail))

    def phase_finished(self, phase: str, seconds: float, summary: str) -> None:
        self.console.print(f"{phase}: {seconds:.1f} s" + (f", {summary}" if summary else ""))


class LiveReporter(PlainReporter):
    """Progress on a terminal: a live line per phase (count, latest item, time); problems stay printed."""

    def __init__(self, console: Any = None) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        super().__init__(console)
        self.progress = Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("[dim]{task.fields[latest]}"),
                                 console=self.console, transient=True)
        self.tasks: list[Any] = []

    def phase_started(self, phase: str, total: int | None) -> None:
        if not self.tasks:
            self.progress.start()
        self.tasks.append(self.progress.add_task(phase, total=total, latest=""))

    def item_done(self, phase: str, item: str, status: str, detail: str) -> None:
        if status == "no-op":
            return
        if self.tasks:
            self.progress.update(self.tasks[-1], advance=1, latest=item.rsplit(".", 1)[-1][:40])
        if status not in QUIET:
            self.progress.console.print("  " + _item_text(phase, item, status, detail))

    live = True

    def phase_abandoned(self, phase: str) -> None:
        """A quiet phase failed: its live line goes away and nothing is printed for it."""
        if self.tasks:
            self.progress.remove_task(self.tasks.pop())
        if not self.tasks:
            self.progress.stop()

    def phase_finished(self, phase: str, seconds: float, summary: str) -> None:
        self.phase_abandoned(phase)
        self.console.print(f"[green]✓[/] {phase}: {seconds:.1f} s" + (f", {summary}" if summary else ""))


def build_progress(console: Any = None, started: float | None = None) -> Phases:
    """A job's progress (build, check): live on a terminal, plain lines otherwise; timed from `started`
    (a time.perf_counter() reading, default: now)."""
    from rich.console import Console

    console = console or Console(highlight=False, soft_wrap=True)
    return Phases(LiveReporter(console) if console.is_terminal else PlainReporter(console), started)


def print_expectations(run: Any) -> None:
    """Failed and errored expectations, then the counts."""
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    # expectations of one relation that could not run for one reason (a relation that cannot be read):
    # one line for all of them
    same_error: dict[tuple[str, str], list[Any]] = {}
    for result in run.results:
        if result.status == "error" and result.error:
            same_error.setdefault((result.relation, result.error), []).append(result)
    printed: set[tuple[str, str]] = set()
    for result in run.results:
        if result.status == "pass":
            continue
        group = same_error.get((result.relation, result.error or ""), [])
        if len(group) > 1:
            if (result.relation, result.error) not in printed:
                printed.add((result.relation, result.error))
                lines = sorted(r.line for r in group if r.line is not None)
                span = f"{lines[0]}-{lines[-1]}" if lines and lines[0] != lines[-1] else f"{lines[0]}" if lines else ""
                where = f" ({result.path}:{span})" if result.path and span else ""
                console.print("[bold red]ERROR[/] " + escape(
                    f"{result.relation}: {len(group)} expectations could not run: {result.error}{where}"))
            continue
        mark = "[bold red]ERROR[/]" if result.status == "error" else (
            "[bold red]FAIL[/]" if result.severity == "error" else "[yellow]WARN[/]")
        where = f" ({result.path}:{result.line})" if result.path else ""
        found = (f": {result.unexpected_count} unexpected, e.g. {list(result.unexpected_sample)[:3]}"
                 if result.unexpected_count else f": observed {result.observed_value}"
                 if result.observed_value is not None else f": {result.error}" if result.error else "")
        console.print(f"{mark} " + escape(f"{result.relation} {result.describe()}{found}{where}"))
    console.print(escape(run.headline()))


def node_message(message: str | None) -> str:
    """dbt's message of a node, on the lines after its name: a failed unit test's diff comes in lines ending
    in CRLF after blank lines, each line indented here under the node."""
    lines = [line.rstrip() for line in (message or "").replace("\r\n", "\n").strip().splitlines()]
    if not lines:
        return "(no message)"
    return lines[0] + "".join(f"\n  {line}" if line else "\n" for line in lines[1:])


def print_build(result: Any) -> None:
    """One line per node that did not simply pass, data quality, stale metrics, then the totals."""
    from rich.console import Console

    console = Console(stderr=False, highlight=False, soft_wrap=True)
    kinds: dict[str, int] = {}  # built, passed or warned
    failed_kinds: dict[str, int] = {}
    failed_nodes = [n for run in result.runs for n in run.failed]
    skipped: list[str] = []
    for node in result.nodes:
        kind = node.unique_id.split(".")[0]
        if node.status == "no-op" or kind == "saved_query":
            continue  # saved queries: dbt Core does nothing with them; their exports are models
        if node.status == "skipped":
            skipped.append(node.unique_id.split(".", 2)[-1])
            continue
        if node.status in ("error", "fail", "runtime error"):
            failed_kinds[kind] = failed_kinds.get(kind, 0) + 1
        else:
            kinds[kind] = kinds.get(kind, 0) + 1
        if node.status not in ("success", "pass"):
            color = "yellow" if node.status == "warn" else "bold red"
            message = mask(node_message(node.message))  # dbt's message may quote a secret
            console.print(f"[{color}]{node.status.upper()}[/] " + escape(f"{node.unique_id}: {message}"))
    if skipped:
        shown = ", ".join(skipped[:8]) + (f" and {len(skipped) - 8} more" if len(skipped) > 8 else "")
        console.print(f"[yellow]SKIPPED[/] {plural(len(skipped), 'node')} downstream of a failure: {escape(shown)}")
    if any(n.unique_id.startswith("seed.") and COLUMNS_CHANGED.search(str(n.message)) for n in failed_nodes):
        console.print("hint: when a seed's columns changed since the last load, reload it with "
                      "`metricsctl build --full-refresh`")
    if result.expectations is not None:
        print_expectations(result.expectations)
    if result.gate is not None:
        for model in result.gate.metric_models:
            reason = escape(f"{model}: {result.gate.reason(model)}")
            console.print(f"[yellow]NOT REBUILT[/] {reason}; readers keep its last published rows")
    if result.restored:
        console.print(f"[yellow]KEPT AS PUBLISHED[/] {plural(len(result.restored), 'relation')} that failed an audit "
                      "or read from one (tables and views alike show their previous rows): "
                      + escape(", ".join(result.restored)))
    for metric, why in sorted(result.stale_metrics.items()):
        console.print(f"[yellow]STALE[/] metric {escape(metric)}: {escape(why)}")
    parts = ", ".join(plural(count, kind) for kind, count in sorted(kinds.items()))
    if failed_kinds:
        parts = (parts or "nothing") + " (" + ", ".join(plural(count, kind) for kind, count in
                                                       sorted(failed_kinds.items())) + " failed)"
    verdict = "[bold green]OK[/]" if result.success else "[bold red]FAILED[/]"
    phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.phases.items())
    unchanged = getattr(result, "unchanged", None)
    console.print(f"{verdict} built {parts or 'nothing'} in {result.seconds:.1f} s"
                  + (f" ({phases})" if phases else "")
                  + (f"; {len(unchanged)} unchanged since the last build, left as they are" if unchanged else ""))


def warn(message: str) -> None:
    """One warning line, as the build prints its other warnings."""
    from rich.console import Console

    Console(highlight=False, soft_wrap=True).print("[yellow]WARN[/] " + escape(message))


def print_alert_run(run: Any) -> None:
    """One line on the run, the alerts still open that a console channel did not just print, then what
    failed (on stderr)."""
    from rich.console import Console

    Console(highlight=False, soft_wrap=True).print(f"alerts {run.headline()}")
    print_open_alerts([a for a in run.open_alerts if (a.rule, a.series_key or "") not in run.on_console],
                      "still open" if run.on_console else None)
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    for failure in run.failures:
        errors.print(f"delivery failed: {failure}")
    for error in run.errors:
        errors.print(f"rule failed: {error}")


def print_open_alerts(alerts: Sequence[Any], title: str | None = None) -> None:
    """The alerts open after a run, most severe first."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    if not alerts:
        return
    rank = {"critical": 0, "warning": 1, "info": 2}
    table = Table(title=title, title_justify="left", show_edge=False, header_style="bold")
    # long names wrap inside their cell: cropped, a column would vanish or leave a gap in the line
    widths = {"severity": 8, "period": 10, "value": 8}
    for name in ("severity", "rule", "series", "period", "value", "owner", "why"):
        table.add_column(name, overflow="fold", min_width=widths.get(name), justify="right" if name == "value"
                         else "left", ratio=2 if name == "why" else 1 if name in ("rule", "series") else None)
    for alert in sorted(alerts, key=lambda a: (rank.get(a.severity, 3), a.rule, a.series_key)):
        cells = (alert.severity, alert.rule, alert.series_key or "(all)",
                 alert.period.isoformat() if alert.period else "", _cell(alert.value), alert.owner or "", alert.message)
        table.add_row(*(Text(printable(str(cell))) for cell in cells))  # `[store=Riverside]` is text, not markup
    Console(width=160).print(table)
