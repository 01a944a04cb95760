"""`metricsctl lint`: is every KPI managed? A SMART-style check list, each gap at the metric's file:line.

Checks (all on by default), for every metric with `config.meta.kpi: true` (or every metric, with
`scope: all`):

    owner            config.meta.owner is set                       (someone answers for it)
    description      the metric has a description                   (specific: what it counts)
    unit             config.meta.unit is set                        (measurable: in what)
    target           it has a row in the targets table              (achievable: against what)
    time_grain       a saved query grouping by metric_time, or an alert, watches it (time-bound)
    guarded_inputs   every relation its measures read is guarded by expectations
    fields           management fields are valid (level, direction, kpi, parents): every metric's

`target`, and `guarded_inputs` need data from elsewhere (the targets table, the expectations): they
run only when that input is given; `time_grain` always counts saved queries, plus the alerts given.

Configuration: a top-level `metricsctl_lint:` key in any YAML file under the model paths (dbt
ignores unknown top-level keys), or a LintConfig passed directly:

    metricsctl_lint:
      scope: kpis                 # kpis (default) | all
      checks: [owner, unit, target, time_grain]     # a list: only these
      # or a mapping, starting from all of them:   checks: {guarded_inputs: false}
"""

from __future__ import annotations

import csv
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metricsctl.errors import MetricsctlError, SpecError, SpecIssue
from metricsctl.management.config import find_config, split_where
from metricsctl.spec import Spec, suggest

CHECKS: tuple[str, ...] = ("owner", "description", "unit", "target", "time_grain", "guarded_inputs", "fields")
SCOPES = ("kpis", "all")
CONFIG_KEY = "metricsctl_lint"


@dataclass(frozen=True)
class LintConfig:
    checks: frozenset[str] = field(default_factory=lambda: frozenset(CHECKS))
    scope: str = "kpis"
    source: str | None = None  # file:line it was read from


@dataclass(frozen=True)
class LintIssue:
    check: str
    metric: str
    message: str
    path: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.path or "<semantic manifest>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: [{self.check}] {self.message}"

    def as_spec_issue(self) -> SpecIssue:
        return SpecIssue(f"[{self.check}] {self.message}", self.path, self.line)


# --- configuration -----------------------------------------------------------------------------
def parse_lint_config(value: Any, where: str) -> LintConfig:
    """A `metricsctl_lint:` mapping -> LintConfig; `where` (file:line) goes into error messages."""
    issues: list[SpecIssue] = []
    at = split_where(where)

    def issue(message: str) -> None:
        issues.append(SpecIssue(f"{CONFIG_KEY}: {message}", *at))

    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise SpecError([SpecIssue(f"{CONFIG_KEY} must be a mapping with `scope` and `checks`", *at)])
    for key in value:
        if key not in ("scope", "checks"):
            issue(f"unknown key '{key}'{suggest(str(key), ['scope', 'checks'])}; use scope and checks")
    scope = str(value.get("scope", "kpis"))
    if scope not in SCOPES:
        issue(f"scope is '{scope}'; use one of {', '.join(SCOPES)}")
    raw = value.get("checks")
    checks = set(CHECKS)
    if isinstance(raw, list):
        checks = {str(c) for c in raw}
        names = checks
    elif isinstance(raw, dict):
        names = {str(c) for c in raw}
        for name, on in raw.items():
            if not isinstance(on, bool):
                issue(f"checks.{name} is {on!r}; use true or false")
            elif not on:
                checks.discard(str(name))
    elif raw is not None:
        issue("checks must be a list of check names or a mapping of check name -> true/false")
        names = set()
    else:
        names = set()
    for name in sorted(names - set(CHECKS)):
        issue(f"unknown check '{name}'{suggest(name, list(CHECKS))}; the checks are {', '.join(CHECKS)}")
    if issues:
        raise SpecError(issues)
    return LintConfig(frozenset(checks & set(CHECKS)), scope, where)


def load_lint_config(project_dir: str | Path, folders: Iterable[str]) -> LintConfig:
    """The `metricsctl_lint:` block of the YAML files under `folders` (the model paths), or the defaults."""
    found = find_config(project_dir, folders, CONFIG_KEY)
    return LintConfig() if found is None else parse_lint_config(found[1], found[0])


def metrics_with_targets(path: str | Path) -> set[str]:
    """The metric names of a targets seed CSV (its `metric_name` column)."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "metric_name" not in reader.fieldnames:
            raise MetricsctlError(f"{path}: a targets file needs a metric_name column")
        return {row["metric_name"].strip() for row in reader if row.get("metric_name")}


# --- what is watched and what is read ----------------------------------------------------------
def watched_by_saved_queries(spec: Spec) -> set[str]:
    """Metrics of saved queries that group by metric_time (so they have a time grain someone looks at)."""
    from metricsctl.names import parse_item_name
    from metricsctl.saved_queries import saved_query_to_query

    found: set[str] = set()
    for saved in spec.manifest.saved_queries:
        try:
            query = saved_query_to_query(saved, spec.custom_grains)
        except MetricsctlError:
            continue  # validation reports broken saved queries
        if any(parse_item_name(g, spec.custom_grains).is_metric_time for g in query.group_by):
            found.update(query.metrics)
    return found


def relation_names(model: Any) -> set[str]:
    """Every name a semantic model's relation goes by: model, dbt alias, schema.alias, full relation name."""
    relation = model.node_relation
    names = {str(model.name)}
    if relation is not None:
        names |= {str(relation.alias), f"{relation.schema_name}.{relation.alias}"}
        if relation.relation_name:
            names |= {str(relation.relation_name), str(relation.relation_name).replace('"', "").replace("`", "")}
    return names


def input_models(spec: Spec, metric: str) -> list[Any]:
    """The semantic models whose measures a metric aggregates (through its formula, all the way down)."""
    from metricsctl.compiler.plan import Planner

    plan = Planner(spec).plan((metric,), ())
    names: list[str] = []
    for instance in plan.instances:
        names.append(instance.model)
        if instance.conversion is not None:
            names.append(instance.conversion.base_model)
    return [spec.semantic_model(n) for n in dict.fromkeys(names)]


# --- the checks --------------------------------------------------------------------------------
def lint(spec: Spec, config: LintConfig | None = None, targets: Collection[str] | None = None,
         watched: Collection[str] | None = None, guarded: Collection[str] | None = None,
         metrics: Sequence[str] | None = None) -> list[LintIssue]:
    """Every gap of every metric in scope (see the module docstring): field errors first, then by metric.

    - targets: metric names that have a target (None: the `target` check is skipped);
    - watched: metric names alerts watch (added to the saved queries' metrics);
    - guarded: relations guarded by expectations, by any of their names (None: skipped);
    - metrics: lint only these (default: the config's scope).
    """
    from metricsctl.management.fields import read_fields

    config = config or LintConfig()
    fields, field_issues = read_fields(spec)
    if metrics is not None:
        for name in metrics:
            spec.metric(name)  # unknown names fail with a suggestion
        names = list(metrics)
    elif config.scope == "all":
        names = spec.metric_names()
    else:
        names = sorted(n for n, f in fields.items() if f.kpi)
        if not names:  # a checklist that checks nothing must not read as a pass
            where = spec.locations.find("metrics", spec.metric_names()[0]) if spec.metric_names() else None
            return [LintIssue("scope", "", "no metric is a KPI, so the checklist checks nothing: mark the KPIs "
                              "with `config: {meta: {kpi: true}}`, or lint every metric with "
                              "`metricsctl_lint: {scope: all}`", where.path if where else None)]
    checks = set(config.checks)
    if targets is None:
        checks.discard("target")
    if guarded is None:
        checks.discard("guarded_inputs")
    seen = watched_by_saved_queries(spec) | set(watched or ())
    guarded_names = set(guarded or ())
    issues: list[LintIssue] = []
    if "fields" in checks:
        # a bad management field is wrong whatever the scope: every metric's are checked
        for issue in field_issues:
            metric = issue.message.split("'")[1]
            if metrics is None or metric in metrics:
                issues.append(LintIssue("fields", metric, issue.message, issue.path, issue.line))
    for name in names:
        f = fields[name]
        where = spec.locations.find("metrics", name)
        path, line = (where.path, where.line) if where else (None, None)
        what = f"KPI '{name}'" if f.kpi else f"metric '{name}'"

        def add(check: str, message: str, name: str = name, path: str | None = path, line: int | None = line) -> None:
            issues.append(LintIssue(check, name, message, path, line))

        if "owner" in checks and not f.owner:
            add("owner", f"{what} has no owner; add `config: {{meta: {{owner: <person or role>}}}}`")
        if "description" in checks and not f.description:
            add("description", f"{what} has no description; say what it counts and what it leaves out")
        if "unit" in checks and not f.unit:
            add("unit", f"{what} has no unit; add `config: {{meta: {{unit: EUR | orders | ratio | ...}}}}`")
        if "target" in checks and targets is not None and name not in targets:
            add("target", f"{what} has no target; add its rows to the targets table")
        if "time_grain" in checks and name not in seen:
            add("time_grain", f"{what} has no time grain anyone watches: no saved query groups it by metric_time "
                              "and no alert watches it; add one")
        if "guarded_inputs" in checks:
            for model in input_models(spec, name):
                if not relation_names(model) & guarded_names:
                    relation = model.node_relation.alias if model.node_relation is not None else model.name
                    add("guarded_inputs", f"{what} reads '{relation}' (semantic model '{model.name}'), which no "
                                          "expectation suite guards; add expectations for it")
    return issues
