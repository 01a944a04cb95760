"""Query item names as MetricFlow spells them: `metric_time__month`, `order__customer__region`, ...

A name is a `__`-separated path: zero or more entity links, then an element (a dimension, an entity or
`metric_time`), then optionally a time grain or an `extract_<part>` date part.
"""

from __future__ import annotations

from dataclasses import dataclass

SEP = "__"
METRIC_TIME = "metric_time"

# Standard grains, finest first: their order decides "finest common grain" and offset handling.
STANDARD_GRAINS: tuple[str, ...] = ("day", "week", "month", "quarter", "year")
# Finer than a day: answered where the data's time is that fine and no time spine is read.
SUBDAILY_GRAINS: tuple[str, ...] = ("millisecond", "second", "minute", "hour")
DATE_PARTS: tuple[str, ...] = ("year", "quarter", "month", "week", "day", "dow", "doy")


def grain_rank(grain: str) -> int:
    """Position of a grain, finest first (`day` is 0, `hour` -1)."""
    return (*SUBDAILY_GRAINS, *STANDARD_GRAINS).index(grain) - len(SUBDAILY_GRAINS)


@dataclass(frozen=True)
class ItemName:
    """A parsed group-by or filter item, before it is resolved against the semantic graph."""

    element: str
    entity_path: tuple[str, ...] = ()
    grain: str | None = None
    date_part: str | None = None
    # metric_time asked for by another name: a measure's own time dimension (`order__ordered_at`)
    named_as: tuple[str, ...] | None = None

    @property
    def is_metric_time(self) -> bool:
        return self.element == METRIC_TIME and not self.entity_path

    def with_grain(self, grain: str | None) -> ItemName:
        return ItemName(self.element, self.entity_path, grain, self.date_part, self.named_as)

    def column_name(self) -> str:
        """The output column name, as `mf query` names it."""
        parts = list(self.named_as) if self.named_as else [*self.entity_path, self.element]
        if self.date_part:
            parts.append(f"extract_{self.date_part}")
        elif self.grain:
            parts.append(self.grain)
        return SEP.join(parts)

    def __str__(self) -> str:
        return self.column_name()


def parse_item_name(text: str, custom_grains: frozenset[str] = frozenset()) -> ItemName:
    """Split `a__b__c` into entity links, element and grain; the graph decides what each part is."""
    parts = [p for p in text.strip().split(SEP)]
    if not text.strip() or any(not p for p in parts):
        raise ValueError(f"'{text}' is not a valid item name")
    grain: str | None = None
    date_part: str | None = None
    last = parts[-1].lower()
    if len(parts) > 1 and (last in STANDARD_GRAINS or last in SUBDAILY_GRAINS or last in custom_grains):
        grain = last
        parts = parts[:-1]
    elif len(parts) > 1 and last.startswith("extract_") and last[len("extract_"):] in DATE_PARTS:
        date_part = last[len("extract_"):]
        parts = parts[:-1]
    return ItemName(element=parts[-1], entity_path=tuple(parts[:-1]), grain=grain, date_part=date_part)
