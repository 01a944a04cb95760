"""Seed files checked before dbt reads them: an empty, ragged or binary CSV is named with its line.

dbt fails on such files with messages that do not say what is wrong (an empty file gives
"StopIteration", a binary one a codec error without a file name), or pads short rows silently.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from metricsctl.errors import IssuesError, SpecIssue

MAX_ROWS_SHOWN = 3  # per file: the first ragged rows, then a count of the others


class SeedError(IssuesError):
    """One or more seed files dbt cannot load as they are."""

    subject = "the seeds"


def seed_files(project_dir: Path, folders: Iterable[str]) -> list[Path]:
    files: list[Path] = []
    for folder in folders:
        root = project_dir / folder
        if root.is_dir():
            files += sorted(root.rglob("*.csv"))
    return files


def check_seeds(project_dir: Path, folders: Iterable[str]) -> list[SpecIssue]:
    """Every problem of every seed CSV under `folders` (paths relative to the project)."""
    issues: list[SpecIssue] = []
    for file in seed_files(project_dir, folders):
        issues += check_seed(file, str(file.relative_to(project_dir)))
    return issues


def check_seed(file: Path, name: str) -> list[SpecIssue]:
    """The problems of one seed file: empty, not UTF-8 text, no usable header, rows of the wrong width."""
    data = file.read_bytes()
    if not data.strip():
        return [SpecIssue("the file is empty; a seed needs a header line naming its columns (and rows below it), "
                          "or delete the file", name)]
    if b"\x00" in data:
        line = data[:data.index(b"\x00")].count(b"\n") + 1
        return [SpecIssue("the file holds NUL bytes: it is binary, not a CSV text file; export it again as CSV",
                          name, line)]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        return [SpecIssue(f"byte 0x{data[exc.start]:02x} is not UTF-8 text; save the file as UTF-8 CSV", name, line)]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
        rows = [(reader.line_num, len(row)) for row in reader if row]
    except csv.Error as exc:
        return [SpecIssue(f"not a readable CSV file: {exc}", name, reader.line_num)]
    issues: list[SpecIssue] = []
    blank = [i + 1 for i, column in enumerate(header) if not column.strip()]
    if blank:
        issues.append(SpecIssue(f"the header line has no name for column {', '.join(map(str, blank))}; name every "
                                "column", name, 1))
    seen: set[str] = set()
    for column in header:
        if column.strip() and column.strip().lower() in seen:
            issues.append(SpecIssue(f"the header names column '{column.strip()}' twice; rename one", name, 1))
        seen.add(column.strip().lower())
    ragged = [(line, width) for line, width in rows if width != len(header)]
    for line, width in ragged[:MAX_ROWS_SHOWN]:
        issues.append(SpecIssue(f"this row has {width} value{'s' if width != 1 else ''}, the header has "
                                f"{len(header)} columns; every row needs one value per column", name, line))
    if len(ragged) > MAX_ROWS_SHOWN:
        issues.append(SpecIssue(f"{len(ragged) - MAX_ROWS_SHOWN} more rows have the wrong number of values", name))
    return issues


def ensure_seeds_load(project_dir: Path, folders: Iterable[str]) -> None:
    """Raise SeedError naming every seed problem, before dbt meets them one at a time."""
    issues = check_seeds(project_dir, folders)
    if issues:
        raise SeedError(issues)
