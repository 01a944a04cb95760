"""Reporting periods: `2024`, `2024-Q1`, `2024-03`, `2024-W10` (ISO week) and `2024-03-05`."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from metricsctl.errors import QueryError
from metricsctl.names import STANDARD_GRAINS

_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def add_months(day: datetime.date, months: int) -> datetime.date:
    """`day` moved by whole months, the day of month clipped to the target month's length."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (datetime.date(year + (month == 12), month % 12 + 1, 1) - datetime.timedelta(days=1)).day
    return datetime.date(year, month, min(day.day, last))


def truncate(day: datetime.date, grain: str) -> datetime.date:
    """The first day of the period at `grain` holding `day` (weeks start on Monday, as DATE_TRUNC does)."""
    if grain == "day":
        return day
    if grain == "week":
        return day - datetime.timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return datetime.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    if grain == "year":
        return datetime.date(day.year, 1, 1)
    raise QueryError(f"unknown period grain '{grain}'; use one of {', '.join(STANDARD_GRAINS)}")


def shift(day: datetime.date, count: int, grain: str) -> datetime.date:
    """`day` plus `count` units of `grain` (negative: earlier)."""
    if grain == "day":
        return day + datetime.timedelta(days=count)
    if grain == "week":
        return day + datetime.timedelta(days=7 * count)
    if grain in _MONTHS:
        return add_months(day, count * _MONTHS[grain])
    raise QueryError(f"unknown period grain '{grain}'; use one of {', '.join(STANDARD_GRAINS)}")


@dataclass(frozen=True, order=True)
class Period:
    """One period at a standard grain, named by its first day."""

    grain: str
    start: datetime.date

    def __post_init__(self) -> None:
        if truncate(self.start, self.grain) != self.start:
            raise QueryError(f"{self.start.isoformat()} is not the first day of a {self.grain}")

    def previous(self, count: int = 1) -> Period:
        return Period(self.grain, shift(self.start, -count, self.grain))

    @property
    def metric_time(self) -> str:
        """The group-by name that gives values at this period's grain."""
        return f"metric_time__{self.grain}"

    @property
    def label(self) -> str:
        d = self.start
        if self.grain == "year":
            return f"{d.year}"
        if self.grain == "quarter":
            return f"{d.year}-Q{(d.month - 1) // 3 + 1}"
        if self.grain == "month":
            return f"{d.year}-{d.month:02d}"
        if self.grain == "week":
            year, week, _ = d.isocalendar()
            return f"{year}-W{week:02d}"
        return d.isoformat()

    def __str__(self) -> str:
        return self.label


_FORMATS: tuple[tuple[str, str], ...] = (
    (r"(\d{4})", "year"),
    (r"(\d{4})-[Qq]([1-4])", "quarter"),
    (r"(\d{4})-(\d{1,2})", "month"),
    (r"(\d{4})-[Ww](\d{1,2})", "week"),
    (r"(\d{4})-(\d{1,2})-(\d{1,2})", "day"),
)


def parse_period(text: str, grain: str | None = None) -> Period:
    """`2024-03` -> March 2024; with `grain`, a date is truncated to it (`2024-03-05`, week -> 2024-03-04)."""
    value = text.strip()
    if grain is not None and grain not in STANDARD_GRAINS:
        raise QueryError(f"unknown grain '{grain}'; use one of {', '.join(STANDARD_GRAINS)}")
    for pattern, kind in _FORMATS:
        match = re.fullmatch(pattern, value)
        if not match:
            continue
        parts = [int(p) for p in match.groups()]
        try:
            if kind == "year":
                start = datetime.date(parts[0], 1, 1)
            elif kind == "quarter":
                start = datetime.date(parts[0], 3 * parts[1] - 2, 1)
            elif kind == "month":
                start = datetime.date(parts[0], parts[1], 1)
            elif kind == "week":
                start = datetime.date.fromisocalendar(parts[0], parts[1], 1)
            else:
                start = datetime.date(parts[0], parts[1], parts[2])
        except ValueError as exc:
            raise QueryError(f"'{text}' is not a valid period: {exc}") from None
        target = grain or kind
        if STANDARD_GRAINS.index(target) < STANDARD_GRAINS.index(kind):
            raise QueryError(f"'{text}' names a {kind}, which is coarser than the grain '{target}'; "
                             f"give a {target} (e.g. {Period(target, truncate(start, target)).label})")
        return Period(target, truncate(start, target))
    raise QueryError(f"'{text}' is not a period; write 2024, 2024-Q1, 2024-03, 2024-W10 or 2024-03-05")
