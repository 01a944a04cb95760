"""A metric query, as `mf query` takes it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from metricsctl.errors import QueryError


@dataclass(frozen=True)
class MetricQuery:
    metrics: tuple[str, ...]
    group_by: tuple[str, ...] = ()
    where: tuple[str, ...] = ()
    order_by: tuple[str, ...] = ()
    limit: int | None = None
    start_time: str | None = None
    end_time: str | None = None
    # as `mf query` reads a query: a dimension named by a shorter entity path than its join takes is read through
    # the one path that fits, and its column named by that path (`customer__region` -> `order__customer__region`)
    shorter_paths: bool = False

    def __post_init__(self) -> None:
        start = parse_time(self.start_time, "--start-time")
        end = parse_time(self.end_time, "--end-time")
        if start is not None and end is not None and start > end:
            raise QueryError(f"--start-time {self.start_time} is after --end-time {self.end_time}; "
                             "swap them, or drop one")

    @classmethod
    def of(cls, metrics: str | list[str] | tuple[str, ...], group_by: str | list[str] | tuple[str, ...] = (),
           where: str | list[str] | tuple[str, ...] = (), order_by: str | list[str] | tuple[str, ...] = (),
           limit: int | None = None, start_time: str | None = None, end_time: str | None = None,
           shorter_paths: bool = False) -> MetricQuery:
        return cls(split_list(metrics), split_list(group_by),
                   (where,) if isinstance(where, str) else tuple(where),
                   split_list(order_by), limit, start_time, end_time, shorter_paths)

    def with_default_order(self) -> MetricQuery:
        """Sorted by its group-by items, in their order, when it names no order: a `--limit` then keeps
        the same rows on every run, and a table reads in time order."""
        if self.order_by or not self.group_by:
            return self
        return replace(self, order_by=self.group_by)


def split_list(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """`"a, b"` or `["a", "b,c"]` -> `("a", "b", "c")`."""
    parts = [value] if isinstance(value, str) else list(value)
    return tuple(p.strip() for part in parts for p in part.split(",") if p.strip())


def parse_time(text: str | None, option: str) -> datetime | None:
    """An ISO date or timestamp (`2025-03-01`, `2025-03-01T12:00`), checked before it reaches SQL."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise QueryError(f"{option} '{text}' is not a date; write an ISO date such as 2025-03-01 "
                         "(or a timestamp such as 2025-03-01T12:00:00)") from None
    return value.replace(tzinfo=None)


def too_deep(query: MetricQuery) -> str:
    """What to say when compiling `query` exhausted Python's recursion limit (filters are bounded before)."""
    return (f"metrics {', '.join(query.metrics)}: a filter or expression of their definitions nests too deeply "
            "to compile; simplify it")
