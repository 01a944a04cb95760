"""Alert rules, channels and owners: declared in YAML beside the metrics, validated, then frozen.

dbt ignores unknown top-level keys in a properties file, so the alert configuration lives in any
.yml/.yaml file under the project's model-paths, under four top-level keys of its own:

    # metrics/alerts.yml
    alert_defaults:
      cooldown: 1d                 # re-notify an alert that keeps firing at most once a day
      targets_table: finance.targets
      channels: [terminal]         # where a rule goes when neither it nor its owner names a channel

    alert_channels:
      - {name: terminal, type: console}
      - name: sales-slack
        type: webhook
        url_env: SLACK_WEBHOOK_URL  # secrets are only ever environment variable names
        format: slack               # slack: {"text": ...}; json: {"alerts": [...]}
      - name: finance-mail
        type: email
        host: smtp.example.com
        port: 587
        starttls: true
        username_env: SMTP_USER
        password_env: SMTP_PASSWORD
        from: metrics@example.com
        to: [finance@example.com]
      - {name: log, type: jsonl, path: target/alerts.jsonl}

    alert_owners:                   # owner -> channels
      sales-team: [sales-slack, log]
      finance: [finance-mail]

    alerts:
      - name: revenue_by_store_anomaly
        metric: revenue
        kind: anomaly               # threshold | change | anomaly | target | freshness
        grain: day                  # day | week | month
        dimensions: [store__store_name]   # one alert per store
        severity: warning           # info | warning | critical
        owner: sales-team           # default: the metric's config.meta.owner
        channels: [terminal]        # added to the owner's channels
        cooldown: 12h
        method: mad                 # zscore | mad (median / MAD, robust)
        threshold: 3.5
        seasonality: weekday        # at day grain: compare with the same weekday only (default)
        training_periods: 8         # 8 same weekdays before the detection window
        min_training: 4             # fewer points: status insufficient_history, no alert
        detection_periods: 1        # the latest complete periods, never part of training
        direction: drop             # spike | drop | both
        min_abs_change: 100         # ignore deviations smaller than 100 ...
        min_rel_change: 0.1         # ... or smaller than 10 % of the expected value
      - {name: revenue_floor, metric: revenue, kind: threshold, grain: day, below: 1000}
      - name: orders_week_over_week
        metric: orders
        kind: change
        grain: week
        compare_to: previous_period # or same_period_last_year
        unit: percent               # or absolute
        below: -20                  # fire when the change is under -20 % ...
        above: 50                   # ... or over +50 %
      - {name: revenue_target, metric: revenue, kind: target, grain: month, mode: end, severity: critical}
      - {name: revenue_pace, metric: revenue, kind: target, grain: month, mode: pace, tolerance: 5}
      - {name: revenue_fresh, metric: revenue, kind: freshness, grain: day, max_age: 36h}

Durations (cooldown, max_age) are written as a number and a unit: `30m`, `6h`, `1d`, `2w` (or `0`).

Semantics worth knowing:
- A rule's route is its owner's channels, then its own `channels:`; with neither, alert_defaults.channels.
- Only periods that ended by the run's `as_of` are judged (pace to target: the days before `as_of`).
- A series with no value in the period judged is not judged (a metric with `fill_nulls_with: 0` and
  `join_to_timespine: true` makes those periods zeros; such a metric always looks fresh, so point a
  freshness rule at the unfilled metric).
- same_period_last_year is 364 days back at day grain (the same weekday), 52 weeks, or 12 months.
- Targets come from a table with columns metric_name, period_grain, period_start, org_unit,
  target_value, weight; org_unit 'company' is the whole company (a rule without dimension), other
  org units are the values of the rule's one dimension. Which way is better comes from the metric's
  `config.meta.direction` (higher, the default, or lower). `tolerance` is in percent of the target;
  `weight` is carried into the alert.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from metricsctl.errors import MetricsctlError, SpecError, SpecIssue
from metricsctl.guards import name_problem
from metricsctl.locations import yaml_error_issue, yaml_files
from metricsctl.spec import Spec, suggest
from metricsctl.yaml_lines import fields, load
from metricsctl.yaml_lines import line as line_of

if TYPE_CHECKING:
    from metricsctl.lineage.graph import Attachment
    from metricsctl.management.targets import ScorecardConfig

KINDS = ("threshold", "change", "anomaly", "target", "freshness")
SEVERITIES = ("info", "warning", "critical")
GRAINS = ("day", "week", "month")
CHANNEL_TYPES = ("console", "webhook", "email", "jsonl")
SECTIONS = ("alert_defaults", "alert_channels", "alert_owners", "alerts")

COMMON_KEYS = ("name", "description", "metric", "kind", "grain", "dimensions", "filter", "severity", "owner",
               "channels", "cooldown")
KIND_KEYS: dict[str, tuple[str, ...]] = {
    "threshold": ("above", "below"),
    "change": ("compare_to", "unit", "above", "below"),
    "anomaly": ("method", "threshold", "seasonality", "training_periods", "min_training", "detection_periods",
                "direction", "min_abs_change", "min_rel_change"),
    "target": ("mode", "targets_table", "target_metric", "tolerance"),
    "freshness": ("max_age",),
}
CHANNEL_KEYS: dict[str, tuple[str, ...]] = {
    "console": (),
    "webhook": ("url_env", "format", "timeout"),
    "email": ("host", "port", "starttls", "ssl", "username", "username_env", "password_env", "from", "to",
              "subject_prefix", "timeout"),
    "jsonl": ("path",),
}
REQUIRED_CHANNEL_KEYS: dict[str, tuple[str, ...]] = {
    "console": (), "webhook": ("url_env",), "email": ("host", "from", "to"), "jsonl": ("path",)}
DEFAULT_KEYS = ("cooldown", "targets_table", "channels")
DEFAULT_COOLDOWN = timedelta(days=1)
DEFAULT_TARGETS_TABLE = "targets"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d|w)\s*$")
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$")


# --- the frozen configuration -------------------------------------------------------------------
@dataclass(frozen=True)
class Threshold:
    above: float | None
    below: float | None


@dataclass(frozen=True)
class Change:
    compare_to: str  # previous_period | same_period_last_year
    unit: str  # percent | absolute
    above: float | None
    below: float | None


@dataclass(frozen=True)
class Anomaly:
    method: str  # zscore | mad
    threshold: float
    seasonality: str  # weekday | none
    training_periods: int
    min_training: int
    detection_periods: int
    direction: str  # spike | drop | both
    min_abs_change: float
    min_rel_change: float


@dataclass(frozen=True)
class Target:
    mode: str  # end | pace
    targets_table: str
    target_metric: str  # metric_name in the targets table
    tolerance: float  # percent of the target allowed to be missed
    higher_is_better: bool
    # the targets' column naming each row's org unit kind, and the kind the rule's dimension holds (from
    # `metricsctl_scorecard:`), so a store and a team of the same name never share a target
    kind_column: str | None = None
    org_unit_kind: str | None = None


@dataclass(frozen=True)
class Freshness:
    max_age: timedelta


Params = Threshold | Change | Anomaly | Target | Freshness


@dataclass(frozen=True)
class Channel:
    name: str
    type: str  # console | webhook | email | jsonl
    settings: tuple[tuple[str, Any], ...] = ()
    path: str | None = None
    line: int | None = None

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.settings).get(key, default)


@dataclass(frozen=True)
class Rule:
    name: str
    metric: str
    kind: str
    grain: str
    params: Params
    dimensions: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()
    severity: str = "warning"
    owner: str | None = None
    channels: tuple[str, ...] = ()  # the resolved route: owner's channels, then the rule's own
    cooldown: timedelta = DEFAULT_COOLDOWN
    description: str = ""
    path: str | None = None
    line: int | None = None

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.path else f"rule '{self.name}'"

    def attachment(self) -> Attachment:
        """The rule as a lineage node: watching its metric, and reading the dimensions it slices and
        filters by (so a change to the model a dimension comes from reaches the rule)."""
        from metricsctl.lineage.graph import Attachment

        # a target rule reads the targets table too (`finance.targets` is the relation `targets`)
        reads = (self.params.targets_table.split(".")[-1],) if isinstance(self.params, Target) else ()
        return Attachment(f"alert:{self.name}", (f"metric:{self.metric}",),
                          label=f"{self.kind}, {self.grain}, {self.severity}", path=self.where,
                          edge_kind="watched by", metrics=(self.metric,), dimensions=self.dimensions,
                          filters=self.filters, reads=reads)


@dataclass(frozen=True)
class AlertConfig:
    rules: tuple[Rule, ...] = ()
    channels: Mapping[str, Channel] = field(default_factory=dict)
    owners: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def rule(self, name: str) -> Rule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise MetricsctlError(f"unknown alert rule '{name}'{suggest(name, [r.name for r in self.rules])}")


class AlertSpecError(SpecError):
    """Problems in the project's alert rules and channels (a SpecError: every issue, with file and line)."""

    subject = "the alert rules"

def parse_duration(value: Any) -> timedelta | None:
    """`30m`, `6h`, `1d`, `2w` or `0`; None when it is not a duration."""
    if value == 0 or value == "0":
        return timedelta(0)
    match = _DURATION.match(str(value)) if isinstance(value, str) else None
    if not match:
        return None
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


class _Reader:
    """Reads one file's alert sections, adding an issue for every problem found."""

    def __init__(self, issues: list[SpecIssue], path: str) -> None:
        self.issues = issues
        self.path = path

    def add(self, line: int | None, message: str) -> None:
        self.issues.append(SpecIssue(message, self.path, line))

    def unknown_keys(self, item: dict[str, Any], allowed: Iterable[str], what: str) -> None:
        known = list(allowed)
        for key in fields(item):
            if key not in known:
                self.add(line_of(item, str(key)), f"{what}: unknown key '{key}'{suggest(str(key), known)}; "
                         f"allowed keys: {', '.join(known)}")

    def number(self, item: dict[str, Any], key: str, what: str, default: float | None = None,
               minimum: float | None = None) -> float | None:
        value = item.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.add(line_of(item, key), f"{what}: '{key}' must be a number, not {value!r}")
            return default
        if minimum is not None and value < minimum:
            self.add(line_of(item, key), f"{what}: '{key}' must be at least {minimum}, not {value}")
            return default
        return float(value)

    def integer(self, item: dict[str, Any], key: str, what: str, default: int, minimum: int) -> int:
        value = item.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.add(line_of(item, key), f"{what}: '{key}' must be a whole number of at least {minimum}, "
                     f"not {value!r}")
            return default
        return int(value)

    def choice(self, item: dict[str, Any], key: str, what: str, choices: tuple[str, ...], default: str) -> str:
        value = item.get(key, default)
        if value not in choices:
            self.add(line_of(item, key), f"{what}: '{key}' is {value!r}; use one of {', '.join(choices)}"
                     f"{suggest(str(value), list(choices))}")
            return default
        return str(value)

    def names(self, item: dict[str, Any], key: str, what: str) -> tuple[str, ...]:
        value = item.get(key) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.add(line_of(item, key), f"{what}: '{key}' must be a list of names")
            return ()
        return tuple(value)


# --- loading ------------------------------------------------------------------------------------
@dataclass
class _Raw:
    defaults: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    channels: list[tuple[str, Any]] = field(default_factory=list)
    owners: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    rules: list[tuple[str, Any]] = field(default_factory=list)


def alert_files(project_dir: Path, folders: Iterable[str]) -> list[Path]:
    """The YAML files under the given project folders that hold any alert section."""
    found = []
    for path in yaml_files(project_dir, folders):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if any(re.search(rf"^{section}\s*:", text, re.MULTILINE) for section in SECTIONS):
            found.append(path)
    return found


def load_alert_config(project_dir: str | Path, folders: Iterable[str], spec: Spec) -> AlertConfig:
    """Every alert section under the project's model paths, validated against the spec.

    Raises SpecError listing every problem (file and line) at once.
    """
    from metricsctl.management.targets import load_scorecard_config

    root = Path(project_dir)
    folders = list(folders)
    documents = []
    for path in alert_files(root, folders):
        documents.append((str(path.relative_to(root)), path.read_text(encoding="utf-8")))
    return parse_alert_config(documents, spec, load_scorecard_config(root, folders) if documents else None)


def parse_alert_config(documents: Iterable[tuple[str, str]], spec: Spec,
                       scorecard: ScorecardConfig | None = None) -> AlertConfig:
    """`documents`: (path to show in messages, YAML text) pairs; `scorecard` tells target rules which org
    unit kind each dimension holds."""
    issues: list[SpecIssue] = []
    raw = _Raw()
    for path, text in documents:
        try:
            doc = load(text)
        except yaml.YAMLError as exc:
            issues.append(yaml_error_issue(exc, path))
            continue
        if not isinstance(doc, dict):
            continue
        reader = _Reader(issues, path)
        for section, bucket in (("alert_channels", raw.channels), ("alerts", raw.rules)):
            items = doc.get(section)
            if items is None:
                continue
            if not isinstance(items, list):
                reader.add(line_of(doc, section), f"'{section}' must be a list")
                continue
            bucket.extend((path, item) for item in items)
        for section, dict_bucket in (("alert_defaults", raw.defaults), ("alert_owners", raw.owners)):
            value = doc.get(section)
            if value is None:
                continue
            if not isinstance(value, dict):
                reader.add(line_of(doc, section), f"'{section}' must be a mapping")
                continue
            dict_bucket.append((path, value))
    config = _Builder(spec, issues, scorecard).build(raw)
    if issues:
        raise AlertSpecError(issues)
    return config


class _Builder:
    def __init__(self, spec: Spec, issues: list[SpecIssue], scorecard: ScorecardConfig | None = None) -> None:
        self.spec = spec
        self.issues = issues
        self.scorecard = scorecard

    def build(self, raw: _Raw) -> AlertConfig:
        cooldown, targets_table = DEFAULT_COOLDOWN, DEFAULT_TARGETS_TABLE
        default_channels: tuple[str, ...] = ()
        channel_refs: list[tuple[_Reader, int | None, str, str]] = []  # (reader, line, name, who)
        for path, item in raw.defaults:
            r = _Reader(self.issues, path)
            r.unknown_keys(item, DEFAULT_KEYS, "alert_defaults")
            if "cooldown" in item:
                parsed = parse_duration(item["cooldown"])
                if parsed is None:
                    r.add(line_of(item, "cooldown"), f"alert_defaults: cooldown {item['cooldown']!r} is not a "
                          "duration; write e.g. 30m, 6h, 1d or 2w")
                else:
                    cooldown = parsed
            if "targets_table" in item:
                targets_table = self.table_name(r, item, "alert_defaults") or targets_table
            default_channels = r.names(item, "channels", "alert_defaults") or default_channels
            channel_refs += [(r, line_of(item, "channels"), c, "alert_defaults") for c in default_channels]

        channels: dict[str, Channel] = {}
        for path, item in raw.channels:
            channel = self.channel(_Reader(self.issues, path), item, channels)
            if channel is not None:
                channels[channel.name] = channel

        owners: dict[str, tuple[str, ...]] = {}
        for path, mapping in raw.owners:
            r = _Reader(self.issues, path)
            for owner, value in fields(mapping).items():
                line = line_of(mapping, str(owner))
                if owner in owners:
                    r.add(line, f"alert owner '{owner}' is declared twice; keep one")
                names = [value] if isinstance(value, str) else value
                if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                    r.add(line, f"alert owner '{owner}': give a list of channel names, e.g. {owner}: [slack]")
                    continue
                owners[str(owner)] = tuple(names)
                channel_refs += [(r, line, n, f"alert owner '{owner}'") for n in names]

        for r, line, name, who in channel_refs:
            if name not in channels:
                r.add(line, f"{who} names unknown channel '{name}'{suggest(name, sorted(channels))}; "
                      "declare it under alert_channels")

        rules: list[Rule] = []
        seen: set[str] = set()
        for path, item in raw.rules:
            rule = self.rule(_Reader(self.issues, path), item, channels, owners, default_channels, cooldown,
                             targets_table, seen)
            if rule is not None:
                rules.append(rule)
        return AlertConfig(tuple(rules), channels, owners)

    def table_name(self, r: _Reader, item: dict[str, Any], what: str) -> str | None:
        value = item.get("targets_table")
        if not isinstance(value, str) or not _TABLE_NAME.match(value):
            r.add(line_of(item, "targets_table"), f"{what}: targets_table {value!r} is not a table name; write "
                  "`table`, `schema.table` or `database.schema.table`")
            return None
        return value

    def channel(self, r: _Reader, item: Any, known: dict[str, Channel]) -> Channel | None:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            r.add(line_of(item), "each alert channel needs a `name` (and a `type`)")
            return None
        name = str(item["name"])
        what = f"alert channel '{name}'"
        problem = name_problem(name, "alert channel")
        if problem:
            r.add(line_of(item, "name"), problem)
        if name in known:
            r.add(line_of(item), f"{what} is declared twice; keep one")
        kind = item.get("type")
        if kind not in CHANNEL_TYPES:
            r.add(line_of(item, "type"), f"{what}: type is {kind!r}; use one of {', '.join(CHANNEL_TYPES)}"
                  f"{suggest(str(kind), list(CHANNEL_TYPES))}")
            return None
        r.unknown_keys({k: v for k, v in item.items() if k not in ("url", "password")},
                       ("name", "type", *CHANNEL_KEYS[kind]), what)
        for key in REQUIRED_CHANNEL_KEYS[kind]:
            if item.get(key) in (None, "", []):
                r.add(line_of(item), f"{what}: a {kind} channel needs `{key}`")
        for key in ("url_env", "username_env", "password_env"):
            if key in item and not (isinstance(item[key], str) and _ENV_NAME.match(item[key])):
                r.add(line_of(item, key), f"{what}: '{key}' names an environment variable (e.g. "
                      f"{key.replace('_env', '').upper()}_SECRET); secrets are never written in the YAML")
        for key in ("url", "password"):
            if key in item:
                r.add(line_of(item, key), f"{what}: write the secret's environment variable name as '{key}_env', "
                      f"never the secret itself")
        if kind == "jsonl" and isinstance(item.get("path"), str):
            from pathlib import PurePath

            path = PurePath(item["path"])
            if path.is_absolute() or ".." in path.parts:
                r.add(line_of(item, "path"), f"{what}: path {item['path']!r} must be relative and inside the "
                      "project (e.g. target/alerts.jsonl); metricsctl writes nowhere else")
        if kind == "webhook" and item.get("format", "slack") not in ("slack", "json"):
            r.add(line_of(item, "format"), f"{what}: format is {item.get('format')!r}; use slack or json")
        if kind == "email":
            to = item.get("to")
            if isinstance(to, str):
                item = {**item, "to": [to]}
            elif to is not None and not (isinstance(to, list) and all(isinstance(t, str) for t in to)):
                r.add(line_of(item, "to"), f"{what}: 'to' must be an address or a list of addresses")
            if "port" in item and (isinstance(item["port"], bool) or not isinstance(item["port"], int)):
                r.add(line_of(item, "port"), f"{what}: port must be a number")
        settings = tuple((str(k), tuple(v) if isinstance(v, list) else v) for k, v in fields(item).items()
                         if k not in ("name", "type"))
        return Channel(name, str(kind), settings, r.path, line_of(item))

    def rule(self, r: _Reader, item: Any, channels: dict[str, Channel], owners: dict[str, tuple[str, ...]],
             default_channels: tuple[str, ...], cooldown: timedelta, targets_table: str,
             seen: set[str]) -> Rule | None:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            r.add(line_of(item), "each alert rule needs a `name`")
            return None
        name = str(item["name"])
        what = f"alert '{name}'"
        line = line_of(item)
        problem = name_problem(name, "alert rule")
        if problem:
            r.add(line_of(item, "name"), problem)
        if name in seen:
            r.add(line, f"{what} is declared twice; rule names must be unique")
        seen.add(name)
        count = len(self.issues)

        kind = item.get("kind")
        if kind not in KINDS:
            r.add(line_of(item, "kind"), f"{what}: kind is {kind!r}; use one of {', '.join(KINDS)}"
                  f"{suggest(str(kind), list(KINDS))}")
            kind = None
        r.unknown_keys(item, (*COMMON_KEYS, *(KIND_KEYS[kind] if kind else
                                              [k for keys in KIND_KEYS.values() for k in keys])), what)
        metric_name = item.get("metric")
        metric = None
        if not isinstance(metric_name, str):
            r.add(line, f"{what} needs `metric: <metric name>`")
        elif metric_name not in self.spec.metric_names():
            r.add(line_of(item, "metric"), f"{what} watches unknown metric '{metric_name}'"
                  f"{suggest(metric_name, self.spec.metric_names())}")
        else:
            metric = self.spec.metric(metric_name)
        grain = r.choice(item, "grain", what, GRAINS, "day")
        severity = r.choice(item, "severity", what, SEVERITIES, "warning")
        dimensions = r.names(item, "dimensions", what)
        for dim in dimensions:
            if dim.startswith("metric_time"):
                r.add(line_of(item, "dimensions"), f"{what}: '{dim}' is the time axis; set `grain:` instead")
        filters = item.get("filter") or ()
        filters = (filters,) if isinstance(filters, str) else filters
        if not isinstance(filters, (list, tuple)) or not all(isinstance(f, str) for f in filters):
            r.add(line_of(item, "filter"), f"{what}: filter must be a where template or a list of them")
            filters = ()
        meta = dict(getattr(getattr(metric, "config", None), "meta", None) or {}) if metric is not None else {}
        owner = item.get("owner", meta.get("owner"))
        owner = str(owner) if owner is not None else None
        own_channels = r.names(item, "channels", what)
        for channel in own_channels:
            if channel not in channels:
                r.add(line_of(item, "channels"), f"{what} names unknown channel '{channel}'"
                      f"{suggest(channel, sorted(channels))}; declare it under alert_channels")
        route = tuple(dict.fromkeys([*owners.get(owner or "", ()), *own_channels])) or default_channels
        if not route and (metric is not None or owner is not None):
            why = (f"owner '{owner}' has no channels under alert_owners" if owner else "it has no owner (set "
                   "`owner:` or the metric's config.meta.owner)")
            r.add(line, f"{what} has nowhere to go: {why}, and it names no `channels:`")
        rule_cooldown = cooldown
        if "cooldown" in item:
            parsed = parse_duration(item["cooldown"])
            if parsed is None:
                r.add(line_of(item, "cooldown"), f"{what}: cooldown {item['cooldown']!r} is not a duration; "
                      "write e.g. 30m, 6h, 1d or 2w")
            else:
                rule_cooldown = parsed
        params = self.params(r, item, what, kind, grain, dimensions, meta, targets_table, metric_name)
        if metric is not None and len(self.issues) == count:
            self.check_query(r, item, what, str(metric_name), grain, dimensions, tuple(filters))
        if params is None or len(self.issues) > count:
            return None
        assert isinstance(metric_name, str) and kind is not None
        return Rule(name=name, metric=metric_name, kind=kind, grain=grain, params=params, dimensions=dimensions,
                    filters=tuple(filters), severity=severity, owner=owner, channels=route, cooldown=rule_cooldown,
                    description=str(item.get("description") or ""), path=r.path, line=line)

    def params(self, r: _Reader, item: dict[str, Any], what: str, kind: str | None, grain: str,
               dimensions: tuple[str, ...], meta: dict[str, Any], targets_table: str,
               metric_name: Any) -> Params | None:
        if kind == "threshold":
            above, below = r.number(item, "above", what), r.number(item, "below", what)
            if above is None and below is None:
                r.add(line_of(item), f"{what}: a threshold rule needs `above:` and/or `below:`")
            return Threshold(above, below)
        if kind == "change":
            above, below = r.number(item, "above", what), r.number(item, "below", what)
            if above is None and below is None:
                r.add(line_of(item), f"{what}: a change rule needs `above:` (a rise) and/or `below:` (a fall, "
                      "negative)")
            return Change(r.choice(item, "compare_to", what, ("previous_period", "same_period_last_year"),
                                   "previous_period"),
                          r.choice(item, "unit", what, ("percent", "absolute"), "percent"), above, below)
        if kind == "anomaly":
            seasonality = r.choice(item, "seasonality", what, ("weekday", "none"),
                                   "weekday" if grain == "day" else "none")
            if seasonality == "weekday" and grain != "day":
                r.add(line_of(item, "seasonality"), f"{what}: weekday seasonality needs grain: day")
            default_training = {"day": 8 if seasonality == "weekday" else 28, "week": 12, "month": 12}[grain]
            training = r.integer(item, "training_periods", what, default_training, 2)
            min_training = r.integer(item, "min_training", what, max(3, (training + 1) // 2), 2)
            if min_training > training:
                r.add(line_of(item, "min_training"), f"{what}: min_training ({min_training}) is more than "
                      f"training_periods ({training})")
            return Anomaly(method=r.choice(item, "method", what, ("zscore", "mad"), "zscore"),
                           threshold=r.number(item, "threshold", what, 3.0, 0.0) or 3.0,
                           seasonality=seasonality, training_periods=training, min_training=min_training,
                           detection_periods=r.integer(item, "detection_periods", what, 1, 1),
                           direction=r.choice(item, "direction", what, ("spike", "drop", "both"), "both"),
                           min_abs_change=r.number(item, "min_abs_change", what, 0.0, 0.0) or 0.0,
                           min_rel_change=r.number(item, "min_rel_change", what, 0.0, 0.0) or 0.0)
        if kind == "target":
            mode = r.choice(item, "mode", what, ("end", "pace"), "end")
            if mode == "pace" and grain == "day":
                r.add(line_of(item, "mode"), f"{what}: pace to target needs grain: week or month")
            if len(dimensions) > 1:
                r.add(line_of(item, "dimensions"), f"{what}: targets are set per org_unit, so a target rule "
                      "takes at most one dimension (the one whose values are the org units)")
            table = self.table_name(r, item, what) if "targets_table" in item else targets_table
            direction = str(meta.get("direction", "higher")).lower()
            if direction not in ("higher", "lower"):
                where = self.spec.locations.find("metrics", str(metric_name))
                self.issues.append(SpecIssue(f"metric '{metric_name}': config.meta.direction is {direction!r}; "
                                             "use higher or lower (which is better)",
                                             where.path if where else None, where.line if where else None))
            target_metric = item.get("target_metric", metric_name)
            if not isinstance(target_metric, str):
                r.add(line_of(item, "target_metric"), f"{what}: target_metric must be a name")
            card = self.scorecard
            kinds = {by: kind for kind, by in card.org_units.items()} if card and card.kind_column else {}
            return Target(mode, table or targets_table, str(target_metric),
                          r.number(item, "tolerance", what, 0.0, 0.0) or 0.0, direction != "lower",
                          card.kind_column if card and dimensions and dimensions[0] in kinds else None,
                          kinds.get(dimensions[0]) if dimensions else None)
        if kind == "freshness":
            max_age = parse_duration(item.get("max_age"))
            if max_age is None:
                r.add(line_of(item, "max_age") or line_of(item), f"{what}: a freshness rule needs `max_age:` as a "
                      "duration, e.g. 36h or 2d")
                return None
            return Freshness(max_age)
        return None

    def check_query(self, r: _Reader, item: dict[str, Any], what: str, metric: str, grain: str,
                    dimensions: tuple[str, ...], filters: tuple[str, ...]) -> None:
        """The rule's metric query must compile: unknown dimensions and bad filters are caught here."""
        from metricsctl.compiler.query import MetricQuery
        from metricsctl.compiler.render import SqlCompiler

        try:
            SqlCompiler(self.spec).compile(MetricQuery.of(metric, [f"metric_time__{grain}", *dimensions], filters))
        except MetricsctlError as exc:
            key = "dimensions" if dimensions else "filter" if filters else "metric"
            r.add(line_of(item, key), f"{what}: cannot query {metric} by {', '.join(dimensions) or grain}: {exc}")
        except RecursionError:
            r.add(line_of(item, "filter") or line_of(item), f"{what}: its filter nests too deeply to compile; "
                  "simplify it")
