"""Spec checks that report every problem at once, each with its file and line.

dbt stops at the first broken reference it meets, so when `dbt parse` fails the project's YAML is
checked here for all broken references together. After a successful parse, every metric and saved
query is compiled once, so that a filter naming an unknown dimension is caught before a build.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlglot
import yaml
from sqlglot import exp

from metricsctl.errors import MetricsctlError, SpecIssue
from metricsctl.locations import yaml_files
from metricsctl.spec import Spec, suggest

METRIC_TYPES = ("simple", "ratio", "derived", "cumulative", "conversion")
LINE = "__line__"


class _LineLoader(yaml.SafeLoader):
    """Keeps the line of every mapping under the key `__line__`."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping[LINE] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _name(value: Any) -> str | None:
    """A reference written either as `name` or as `{name: ...}`."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return str(value["name"])
    return None


def _line(value: Any, default: int) -> int:
    return int(value[LINE]) if isinstance(value, dict) and LINE in value else default


class _Collector:
    def __init__(self) -> None:
        self.issues: list[SpecIssue] = []

    def add(self, path: str, line: int, message: str) -> None:
        self.issues.append(SpecIssue(message, path, line))


def check_yaml(project_dir: Path, folders: Iterable[str]) -> list[SpecIssue]:
    """Broken references between semantic models, measures, metrics and saved queries."""
    models: list[tuple[str, dict[str, Any]]] = []
    metrics: list[tuple[str, dict[str, Any]]] = []
    saved: list[tuple[str, dict[str, Any]]] = []
    for file in yaml_files(project_dir, folders):
        try:
            doc = yaml.load(file.read_text(encoding="utf-8"), Loader=_LineLoader)  # noqa: S506
        except (yaml.YAMLError, UnicodeDecodeError):
            continue
        if not isinstance(doc, dict):
            continue
        rel = str(file.relative_to(project_dir))
        for key, bucket in (("semantic_models", models), ("metrics", metrics), ("saved_queries", saved)):
            for item in doc.get(key) or []:
                if isinstance(item, dict):
                    bucket.append((rel, item))
    out = _Collector()
    measures: dict[str, dict[str, Any]] = {}
    seen_models: set[str] = set()
    for path, model in models:
        name = str(model.get("name"))
        if name in seen_models:
            out.add(path, _line(model, 1), f"semantic model '{name}' is defined twice; rename one")
        seen_models.add(name)
        for measure in model.get("measures") or []:
            if not isinstance(measure, dict):
                continue
            mname = str(measure.get("name"))
            if mname in measures:
                out.add(path, _line(measure, 1), f"measure '{mname}' is defined in two semantic models; "
                        "measure names must be unique across the project")
            measures[mname] = {"model": model, **measure}
    metric_names = [str(m.get("name")) for _, m in metrics]
    seen_metrics: set[str] = set()
    for path, metric in metrics:
        _check_metric(out, path, metric, measures, metric_names, seen_metrics)
    for path, query in saved:
        params = query.get("query_params") or {}
        for name in params.get("metrics") or []:
            if name not in metric_names:
                out.add(path, _line(params, _line(query, 1)),
                        f"saved query '{query.get('name')}' asks for unknown metric '{name}'"
                        f"{suggest(str(name), sorted(set(metric_names)))}")
    return out.issues


def _check_metric(out: _Collector, path: str, metric: dict[str, Any], measures: dict[str, Any],
                  metric_names: list[str], seen: set[str]) -> None:
    name = str(metric.get("name"))
    line = _line(metric, 1)
    if name in seen:
        out.add(path, line, f"metric '{name}' is defined twice; rename one")
    seen.add(name)
    kind = str(metric.get("type", "")).lower()
    if kind not in METRIC_TYPES:
        out.add(path, line, f"metric '{name}' has type '{metric.get('type')}'; use one of "
                + ", ".join(METRIC_TYPES))
        return
    params = metric.get("type_params") or {}

    def measure(ref: Any, role: str) -> None:
        measure_name = _name(ref)
        if measure_name is None:
            out.add(path, _line(params, line), f"metric '{name}' needs a {role} (type_params)")
        elif measure_name not in measures:
            out.add(path, _line(ref, _line(params, line)), f"metric '{name}' references unknown {role} "
                    f"'{measure_name}'{suggest(measure_name, sorted(measures))}")

    def metric_ref(ref: Any, role: str) -> None:
        ref_name = _name(ref)
        if ref_name is None:
            out.add(path, _line(params, line), f"metric '{name}' needs a {role} metric (type_params)")
        elif ref_name not in metric_names:
            out.add(path, _line(ref, _line(params, line)), f"metric '{name}' references unknown metric "
                    f"'{ref_name}' as {role}{suggest(ref_name, sorted(set(metric_names)))}")

    if kind in ("simple", "cumulative"):
        measure(params.get("measure"), "measure")
    elif kind == "ratio":
        metric_ref(params.get("numerator"), "numerator")
        metric_ref(params.get("denominator"), "denominator")
    elif kind == "derived":
        inputs = params.get("metrics") or []
        names = set()
        for inp in inputs:
            metric_ref(inp, "input")
            if isinstance(inp, dict):
                names.add(str(inp.get("alias") or inp.get("name")))
            elif isinstance(inp, str):
                names.add(inp)
        _check_expression(out, path, _line(params, line), name, str(params.get("expr", "")), names)
    elif kind == "conversion":
        conv = params.get("conversion_type_params") or {}
        measure(conv.get("base_measure"), "base measure")
        measure(conv.get("conversion_measure"), "conversion measure")
        entity = conv.get("entity")
        for role in ("base_measure", "conversion_measure"):
            ref = measures.get(_name(conv.get(role)) or "")
            if ref is None or entity is None:
                continue
            entities = [e.get("name") for e in ref["model"].get("entities") or [] if isinstance(e, dict)]
            if entity not in entities:
                out.add(path, _line(conv, line), f"metric '{name}': entity '{entity}' is not an entity of "
                        f"semantic model '{ref['model'].get('name')}' (of its {role.replace('_', ' ')})")


def _check_expression(out: _Collector, path: str, line: int, metric: str, expr: str, inputs: set[str]) -> None:
    if not expr.strip():
        out.add(path, line, f"derived metric '{metric}' needs type_params.expr")
        return
    try:
        parsed = sqlglot.parse_one(expr)
    except sqlglot.errors.ParseError as exc:
        out.add(path, line, f"derived metric '{metric}': expr {expr!r} is not valid SQL "
                f"({exc.errors[0]['description']})")
        return
    for column in parsed.find_all(exp.Column):
        if column.name not in inputs:
            out.add(path, line, f"derived metric '{metric}': expr uses '{column.name}', which is not one of "
                    f"its input metrics or aliases{suggest(column.name, sorted(inputs))}")


def check_compiles(spec: Spec) -> list[SpecIssue]:
    """Compile every metric (by day) and every saved query; each failure located at its definition."""
    from metricsctl.compiler.query import MetricQuery
    from metricsctl.compiler.render import SqlCompiler
    from metricsctl.saved_queries import saved_query_to_query

    compiler = SqlCompiler(spec)
    issues: list[SpecIssue] = []
    failed: dict[str, str] = {}
    for metric in spec.manifest.metrics:
        try:
            compiler.compile(MetricQuery((metric.name,), ("metric_time__day",)))
        except MetricsctlError as exc:
            failed[metric.name] = str(exc)
    for metric in spec.manifest.metrics:
        if metric.name not in failed:
            continue
        inputs = {m.name for m in metric.type_params.metrics or []}
        inputs |= {m.name for m in (metric.type_params.numerator, metric.type_params.denominator) if m}
        if inputs & set(failed):
            continue  # reported where it starts: at the failing input
        where = spec.locations.find("metrics", metric.name)
        issues.append(SpecIssue(f"metric '{metric.name}': {failed[metric.name]}", where.path if where else None,
                                where.line if where else None))
    for saved in spec.manifest.saved_queries:
        try:
            compiler.compile(saved_query_to_query(saved, spec.custom_grains))
        except MetricsctlError as exc:
            where = spec.locations.find("saved_queries", saved.name)
            issues.append(SpecIssue(f"saved query '{saved.name}': {exc}", where.path if where else None,
                                    where.line if where else None))
    return issues
