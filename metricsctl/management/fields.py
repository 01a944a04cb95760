"""Management fields of a metric, read from its `config.meta` in the metric YAML.

    metrics:
      - name: revenue
        description: Net revenue of order lines.
        type: derived
        ...
        config:
          meta:
            owner: head_of_sales        # a person or role
            level: company              # company | department | team | individual
            unit: EUR                   # free text: EUR, orders, ratio, %, ...
            direction: higher           # higher (default) | lower: which way is better
            kpi: true                   # on scorecards, and checked by `metricsctl lint`
            parents: [gross_profit]     # metrics this one drives without being in their formula

A conversion (or a converted count) may also say what one conversion is worth, so that the metric
center's funnels show the money each step loses as well as the people:

            conversion_value: average_order_value   # a metric: the value of one conversion

Formula relations (a derived metric's inputs, a ratio's numerator and denominator) are tree edges
already; `parents` is only for the others. `owner` is one person or role, never a list: one owner
answers for a metric, and `alert_owners` routes a role to everyone who should hear of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from metricsctl.errors import SpecError, SpecIssue
from metricsctl.spec import Spec, suggest

LEVELS: tuple[str, ...] = ("company", "department", "team", "individual")
DIRECTIONS: tuple[str, ...] = ("higher", "lower")
_DIRECTION_ALIASES = {"higher": "higher", "higher_is_better": "higher", "up": "higher",
                      "lower": "lower", "lower_is_better": "lower", "down": "lower"}
KEYS: tuple[str, ...] = ("owner", "level", "unit", "direction", "kpi", "parents", "conversion_value")
# Fields that hold one text, and what to write instead of anything else.
TEXT_FIELDS: dict[str, str] = {
    "owner": "a metric has one accountable owner: name one person or role (alert_owners routes a role to "
             "everyone who should hear of it)",
    "level": f"write one of {', '.join(LEVELS)}",
    "unit": "write one unit as text, e.g. EUR, orders or ratio",
    "direction": "write higher or lower",
    "conversion_value": "name one metric: what one conversion is worth, e.g. average_order_value",
}


@dataclass(frozen=True)
class MetricFields:
    """What a metric is for and who answers for it; absent fields are None (direction defaults to higher)."""

    name: str
    label: str | None = None
    description: str | None = None
    owner: str | None = None
    level: str | None = None
    unit: str | None = None
    direction: str = "higher"
    kpi: bool = False
    parents: tuple[str, ...] = ()
    conversion_value: str | None = None

    @property
    def lower_is_better(self) -> bool:
        return self.direction == "lower"


def metric_meta(metric: Any) -> dict[str, Any]:
    """A metric's `config.meta` (empty when absent)."""
    config = getattr(metric, "config", None)
    meta = getattr(config, "meta", None) if config is not None else None
    return dict(meta) if isinstance(meta, dict) else {}


def _kind(value: Any) -> str:
    return {list: "a list", dict: "a mapping", bool: "true/false"}.get(type(value), f"a {type(value).__name__}")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def read_fields(spec: Spec) -> tuple[dict[str, MetricFields], list[SpecIssue]]:
    """Every metric's management fields, and the problems found in them (each at the metric's file:line).

    A field with a bad value is reported and left at its default, so the rest stays usable.
    """
    names = spec.metric_names()
    fields: dict[str, MetricFields] = {}
    issues: list[SpecIssue] = []
    for metric in spec.manifest.metrics:
        meta = metric_meta(metric)
        where = spec.locations.find("metrics", metric.name)

        path, line = (where.path, where.line) if where else (None, None)

        def issue(message: str, name: str = metric.name, path: str | None = path, line: int | None = line,
                  key: str | None = None) -> None:
            at = spec.locations.find("metrics", name, "meta", key) if key else None
            issues.append(SpecIssue(f"metric '{name}': {message}", at.path if at else path, at.line if at else line))

        for key, why in TEXT_FIELDS.items():
            value = meta.get(key)
            if isinstance(value, bool) or (value is not None and not isinstance(value, (str, int, float))):
                issue(f"config.meta.{key} is {_kind(value)} ({value!r}); {why}", key=key)
                meta[key] = None
        level = _text(meta.get("level"))
        if level is not None and level not in LEVELS:
            issue(f"config.meta.level is '{level}'; use one of {', '.join(LEVELS)}", key="level")
            level = None
        direction = "higher"
        raw_direction = _text(meta.get("direction"))
        if raw_direction is not None:
            if raw_direction.lower() in _DIRECTION_ALIASES:
                direction = _DIRECTION_ALIASES[raw_direction.lower()]
            else:
                issue(f"config.meta.direction is '{raw_direction}'; use 'higher' (higher is better) or 'lower'",
                      key="direction")
        kpi = meta.get("kpi", False)
        if not isinstance(kpi, bool):
            issue(f"config.meta.kpi is {kpi!r}; use true or false", key="kpi")
            kpi = False
        raw_parents = meta.get("parents", [])
        if isinstance(raw_parents, str):
            raw_parents = [raw_parents]
        parents: list[str] = []
        if not isinstance(raw_parents, list):
            issue("config.meta.parents must be a list of metric names", key="parents")
        else:
            for parent in raw_parents:
                parent_name = str(parent)
                if parent_name not in names:
                    issue(f"config.meta.parents names unknown metric '{parent_name}'{suggest(parent_name, names)}",
                          key="parents")
                elif parent_name == metric.name:
                    issue("config.meta.parents names the metric itself", key="parents")
                elif parent_name not in parents:
                    parents.append(parent_name)
        conversion_value = _text(meta.get("conversion_value"))
        if conversion_value is not None and conversion_value not in names:
            issue(f"config.meta.conversion_value names unknown metric '{conversion_value}'"
                  f"{suggest(conversion_value, names)}", key="conversion_value")
            conversion_value = None
        elif conversion_value == metric.name:
            issue("config.meta.conversion_value names the metric itself; name the metric that gives what one "
                  "conversion is worth, e.g. average_order_value", key="conversion_value")
            conversion_value = None
        fields[metric.name] = MetricFields(
            name=metric.name, label=_text(metric.label), description=_text(metric.description),
            owner=_text(meta.get("owner")), level=level, unit=_text(meta.get("unit")), direction=direction,
            kpi=kpi, parents=tuple(parents), conversion_value=conversion_value)
    issues.extend(_driver_cycles(spec, fields))
    return fields, issues


def management_fields(spec: Spec) -> dict[str, MetricFields]:
    """Every metric's management fields; raises SpecError listing every bad field."""
    fields, issues = read_fields(spec)
    if issues:
        raise SpecError(issues)
    return fields


def _driver_cycles(spec: Spec, fields: dict[str, MetricFields]) -> list[SpecIssue]:
    """`parents` that lead back to the metric itself (through other `parents` or formulas)."""
    from metricsctl.management.tree import formula_children

    children: dict[str, set[str]] = {name: set(formula_children(spec, name)) for name in fields}
    for name, f in fields.items():
        for parent in f.parents:
            children.setdefault(parent, set()).add(name)
    issues: list[SpecIssue] = []
    for name, f in fields.items():
        for parent in f.parents:
            # the edge parent -> name closes a cycle when name already reaches parent
            seen: set[str] = set()
            stack = [c for c in children.get(name, set())]
            while stack:
                current = stack.pop()
                if current == parent:
                    where = spec.locations.find("metrics", name)
                    issues.append(SpecIssue(
                        f"metric '{name}': config.meta.parents names '{parent}', which is already below "
                        f"'{name}' in the metric tree (a cycle); remove one of the two relations",
                        where.path if where else None, where.line if where else None))
                    break
                if current not in seen:
                    seen.add(current)
                    stack.extend(children.get(current, set()))
    return issues
