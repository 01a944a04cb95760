"""A metric query, as `mf query` takes it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricQuery:
    metrics: tuple[str, ...]
    group_by: tuple[str, ...] = ()
    where: tuple[str, ...] = ()
    order_by: tuple[str, ...] = ()
    limit: int | None = None
    start_time: str | None = None
    end_time: str | None = None

    @classmethod
    def of(cls, metrics: str | list[str] | tuple[str, ...], group_by: str | list[str] | tuple[str, ...] = (),
           where: str | list[str] | tuple[str, ...] = (), order_by: str | list[str] | tuple[str, ...] = (),
           limit: int | None = None, start_time: str | None = None, end_time: str | None = None,
           ) -> MetricQuery:
        return cls(split_list(metrics), split_list(group_by),
                   (where,) if isinstance(where, str) else tuple(where),
                   split_list(order_by), limit, start_time, end_time)


def split_list(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """`"a, b"` or `["a", "b,c"]` -> `("a", "b", "c")`."""
    parts = [value] if isinstance(value, str) else list(value)
    return tuple(p.strip() for part in parts for p in part.split(",") if p.strip())
