"""A diff as Markdown for a pull-request comment, or as JSON for machines."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from metricsctl.diff.errors import DiffError
from metricsctl.diff.result import DiffResult
from metricsctl.diff.semantic import Change
from metricsctl.diff.values import ValueDiff
from metricsctl.jsonable import dumps

FORMATS = ("markdown", "json")
COLLAPSE_LINES = 40  # a diff longer than this is folded into <details>
MAX_REASONS = 3
FOLD_VALUE_ITEMS = 5  # more metrics and exports than this with moved values: their tables are folded
MAX_SQL_LINES = 300  # a generated model's diff is cut here in Markdown (a PR comment holds 65,536 characters)
TINY = 1e-9  # below this a number is floating-point noise (a sum minus itself): shown as 0
PLURALS = {"saved_query": "saved queries", "alert": "alerts"}


def render(result: DiffResult, fmt: str = "markdown") -> str:
    if fmt == "markdown":
        return render_markdown(result)
    if fmt == "json":
        return render_json(result)
    raise DiffError(f"unknown diff format '{fmt}'; use one of {', '.join(FORMATS)}")


def render_json(result: DiffResult) -> str:
    return dumps(result.to_dict()) + "\n"


# --- Markdown helpers ------------------------------------------------------------------------------
def _cell(text: object) -> str:
    """Text safe inside a table cell."""
    return str(text).replace("|", "\\|").replace("\n", "<br>")


def _longest_backticks(text: str) -> int:
    return max((len(run) for run in re.findall("`+", text)), default=0)


def _code(text: str) -> str:
    """`text` as inline code, with more backticks around it than any run in it: a name or value can't end it."""
    ticks = "`" * (_longest_backticks(text) + 1)
    pad = " " if "`" in text else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _table(header: list[str], rows: Iterable[list[str]], right: Iterable[int] = ()) -> list[str]:
    aligned = set(right)
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if i in aligned else "---" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _fence(body: str, language: str = "diff") -> list[str]:
    """`body` as a fenced block whose fence is longer than any run of backticks in it: a line of the body (a
    description of the compared revision, say) can't close it and write markdown of its own into the review."""
    fence = "`" * max(3, _longest_backticks(body) + 1)
    return [f"{fence}{language}", body, fence]


def _folded(summary: str, body: list[str], fold: bool, title: str | None = None) -> list[str]:
    """`body` under <details> when `fold`, else under `title` (default: the summary) or nothing ("")."""
    if not fold:
        heading = summary if title is None else title
        return [*([heading, ""] if heading else []), *body, ""]
    return ["<details>", f"<summary>{summary}</summary>", "", *body, "", "</details>", ""]


def number(value: float | str | None) -> str:
    """`1,234.5`, `0.1235`, `12`, or `∅` for no value."""
    if value is None:
        return "∅"
    if isinstance(value, str):
        return value
    if abs(value) < TINY:
        return "0"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.4g}"


def difference(base: float | str | None, head: float | str | None) -> str:
    if not isinstance(base, float) or not isinstance(head, float):
        return ""
    delta = head - base
    sign = "+" if delta > 0 else "−" if delta < 0 else ""
    text = sign + number(abs(delta))
    if abs(base) >= TINY:
        text += f" ({sign}{abs(delta / base) * 100:.1f}%)"
    return text


def _where(path: str | None) -> str:
    return f" ({_code(path)})" if path else ""


# --- sections --------------------------------------------------------------------------------------
def _header(result: DiffResult) -> list[str]:
    lines = ["## metricsctl diff", "",
             f"**base** {result.base.describe()} → **head** {result.head.describe()}", ""]
    if result.is_breaking:
        count = len(result.breaking)
        lines += [f"> ❌ **{count} breaking change{'s' if count != 1 else ''}**: consumers of the names below "
                  "will see them gone or meaning something else. Merge once they are ready "
                  "(`metricsctl diff --allow-breaking` exits 0).", ""]
    else:
        lines += ["> ✅ **No breaking changes.**", ""]
    if result.semantic.empty and not result.sql:
        lines += ["No metric, semantic model, saved query, model or seed changed.", ""]
    return lines


def _breaking(result: DiffResult) -> list[str]:
    if not result.breaking:
        return []
    lines = ["### Breaking changes", ""]
    lines += [f"- {b.text}{_where(b.path)}" for b in result.breaking]
    return [*lines, ""]


def _change_rows(changes: Iterable[Change]) -> list[list[str]]:
    rows = []
    for c in changes:
        rows.append([c.kind.replace("_", " "), _code(c.name), c.summary, "**yes**" if c.breaking else "",
                     _code(c.path) if c.path else ""])
    return rows


def _field_diff(changes: Iterable[Change]) -> str:
    blocks = []
    for c in changes:
        if c.status != "changed":
            continue
        lines = [f"@@ {c.kind.replace('_', ' ')} {c.name}" + (f"  ({c.path})" if c.path else "") + " @@"]
        for f in c.fields:
            for sign, text in (("-", f.base), ("+", f.head)):
                parts = (text or "").split("\n") if text else ["(none)"]
                lines += [f"{sign} {f.field}: {parts[0]}", *[f"{sign} {' ' * len(f.field)}  {p}" for p in parts[1:]]]
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def _definitions(result: DiffResult) -> list[str]:
    semantic = result.semantic
    if semantic.empty:
        return []
    lines = ["### Definition changes", ""]
    header = ["kind", "name", "change", "breaking", "defined at"]
    groups = [("Metrics", semantic.metrics), ("Semantic models", semantic.semantic_models),
              ("Saved queries and exports", semantic.saved_queries), ("Models and seeds", semantic.dbt_nodes)]
    for title, changes in groups:
        if not changes:
            continue
        lines += [f"#### {title}", "", *_table(header, _change_rows(changes)), ""]
    detail = _field_diff(c for c in semantic.changes if c.kind not in ("model", "seed", "snapshot"))
    if detail:
        count = detail.count("\n") + 1
        lines += _folded("Field by field", _fence(detail), count > COLLAPSE_LINES, title="")
    return lines


def _downstream(result: DiffResult) -> list[str]:
    if not result.downstream:
        return []
    rows = []
    for item in result.downstream:
        reasons = list(item.reasons)
        shown = "; ".join(reasons[:MAX_REASONS]) + (f"; and {len(reasons) - MAX_REASONS} more"
                                                     if len(reasons) > MAX_REASONS else "")
        rows.append([item.kind.replace("_", " "), _code(item.name), item.status, shown])
    kinds: dict[str, int] = {}
    for item in result.downstream:
        kinds[item.kind] = kinds.get(item.kind, 0) + 1
    counts = ", ".join(f"{n} {k.replace('_', ' ') if n == 1 else PLURALS.get(k, k.replace('_', ' ') + 's')}"
                       for k, n in kinds.items())
    table = _table(["kind", "name", "status", "because"], rows)
    return ["### Downstream", "", f"What the changes reach: {counts}.", "",
            *_folded(f"{len(rows)} affected", table, len(rows) > COLLAPSE_LINES, title="")]


def _sql(result: DiffResult) -> list[str]:
    if not result.sql:
        return []
    lines = ["### Generated SQL", "", "What `metricsctl compile` writes differently to the generated models "
             "(and committed generated files that changed on their own):", ""]
    for model in result.sql:
        status = f"{model.status} in the committed file only" if model.committed else model.status
        summary = f"<code>{model.path}</code> {status} (+{model.added} −{model.removed})"
        diff_lines = model.diff.split("\n")
        shown = diff_lines[:MAX_SQL_LINES]
        if len(diff_lines) > MAX_SQL_LINES:
            shown.append(f"… {len(diff_lines) - MAX_SQL_LINES} more lines: run `metricsctl compile` and `git diff`")
        body = _fence("\n".join(shown))
        long = len(diff_lines) > COLLAPSE_LINES
        lines += _folded(summary, body, long, title=f"`{model.path}` {status} (+{model.added} −{model.removed})")
    return lines


def _value_table(item: ValueDiff) -> list[str]:
    if item.kind == "metric":
        header = [*item.key_columns, "base", "head", "difference"]
        rows = [[*r.key, number(r.base), number(r.head), difference(r.base, r.head)] for r in item.rows]
    else:
        header = [*item.key_columns, "column", "base", "head", "difference"]
        rows = [[*r.key, _code(r.column), number(r.base), number(r.head), difference(r.base, r.head)]
                for r in item.rows]
    width = len(header)
    return _table(header, rows, right=range(width - 3, width))


def _largest(item: ValueDiff) -> str:
    """The largest relative move among the rows shown: `+65.2%` (or the largest absolute one)."""
    moves = [(r.head - r.base, r.base) for r in item.rows if isinstance(r.base, float) and isinstance(r.head, float)]
    if not moves:
        return ""
    delta, base = max(moves, key=lambda m: abs(m[0] / m[1]) if abs(m[1]) >= TINY else abs(m[0]))
    return difference(base, base + delta)


def _values(result: DiffResult) -> list[str]:
    title = f"### Values by {result.grain}"
    if result.values is None:
        return [title, "", f"Not compared: {result.values_skipped}.", ""] if result.values_skipped else []
    lines = [title, ""]
    if result.builds:
        built = ", ".join(f"{b.side} in {b.seconds:.1f} s" + ("" if b.success else " (with failures)")
                          for b in result.builds)
        lines += [f"Both sides built on the project's data in throw-away warehouses ({built}); only what "
                  "differs is shown.", ""]
    changed = [v for v in result.values if v.changed]
    unchanged = [v for v in result.values if not v.changed]
    if changed:
        rows = [[v.kind, _code(v.name), "not compared" if v.error else f"{v.differing} of {v.compared}",
                 _largest(v)] for v in changed]
        lines += [*_table(["kind", "name", f"{result.grain}s or cells that differ", "largest move shown"], rows), ""]
    details: list[str] = []
    for item in changed:
        unit = f"{result.grain}s" if item.kind == "metric" else "cells"
        heading = f"#### {item.kind} `{item.name}`"
        if item.error:
            details += [heading, "", f"Not compared: {item.error}", ""]
            continue
        details += [f"{heading}: {item.differing} of {item.compared} {unit} differ", "", *_value_table(item), ""]
        if item.differing > len(item.rows):
            details += [f"_… and {item.differing - len(item.rows)} more; raise `--max-rows` to see them._", ""]
    if details:
        lines += _folded(f"Row by row ({len(changed)} items)", details, len(changed) > FOLD_VALUE_ITEMS, title="")
    if unchanged:
        names = ", ".join(f"{v.kind} `{v.name}`" for v in unchanged)
        lines += [f"Unchanged: {names}.", ""]
    return lines


def _footer(result: DiffResult) -> list[str]:
    lines = [f"- {html.escape(note, quote=False)}" for note in result.notes]  # a name cannot close <details>
    total = result.seconds.get("total")
    if lines:
        lines = ["<details>", "<summary>Notes</summary>", "", *lines, "", "</details>", ""]
    if total is not None:
        lines.append(f"<sub>`metricsctl diff` in {total:.1f} s</sub>")
    return lines


def render_markdown(result: DiffResult) -> str:
    lines = [*_header(result), *_breaking(result), *_definitions(result), *_downstream(result), *_sql(result),
             *_values(result), *_footer(result)]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"
