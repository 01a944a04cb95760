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
from metricsctl.locations import index_yaml_files, yaml_error_issue, yaml_files
from metricsctl.names import ItemName
from metricsctl.spec import Spec, suggest
from metricsctl.yaml_lines import line as line_of
from metricsctl.yaml_lines import load, without_lines

METRIC_TYPES = ("simple", "ratio", "derived", "cumulative", "conversion")


def _name(value: Any) -> str | None:
    """A reference written either as `name` or as `{name: ...}`."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return str(value["name"])
    return None


class _Collector:
    def __init__(self) -> None:
        self.issues: list[SpecIssue] = []

    def add(self, path: str, line: int, message: str) -> None:
        self.issues.append(SpecIssue(message, path, line))


Items = list[tuple[str, dict[str, Any]]]  # (file relative to the project, the element's YAML)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _read_sections(out: _Collector, project_dir: Path, folders: Iterable[str]) -> tuple[Items, Items, Items, set[str]]:
    """The semantic models, metrics and saved queries of every YAML file, and the time spines' custom grains.

    A file that is not UTF-8 text or not valid YAML, and a section that is not a list of mappings, are
    reported here: dbt would stop at the first of them with its position in its own words.
    """
    models: Items = []
    metrics: Items = []
    saved: Items = []
    grains: set[str] = set()
    for file in yaml_files(project_dir, folders):
        rel = str(file.relative_to(project_dir))
        data = file.read_bytes()
        try:
            doc = load(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            out.add(rel, data[:exc.start].count(b"\n") + 1, f"byte 0x{data[exc.start]:02x} is not UTF-8 text; "
                    "save the file as UTF-8")
            continue
        except yaml.YAMLError as exc:
            out.issues.append(yaml_error_issue(exc, rel))
            continue
        if not isinstance(doc, dict):
            continue
        for key, bucket in (("semantic_models", models), ("metrics", metrics), ("saved_queries", saved)):
            section = doc.get(key)
            if section is None:
                continue
            if not isinstance(section, list):
                out.add(rel, line_of(doc, key, 1), f"`{key}:` must be a list (each entry starting with `- name:`)")
                continue
            for item in section:
                if isinstance(item, dict):
                    bucket.append((rel, item))
                else:
                    out.add(rel, line_of(doc, key, 1), f"an entry of `{key}:` is {item!r}, not a mapping with "
                            "a name")
        grains |= _custom_grains(doc)
    return models, metrics, saved, grains


def check_yaml(project_dir: Path, folders: Iterable[str]) -> list[SpecIssue]:
    """Every problem in the Semantic Layer YAML that dbt would stop at one by one: unreadable files, elements
    that do not fit dbt's schema, broken references, reference cycles, unknown filter dimensions."""
    out = _Collector()
    models, metrics, saved, grains = _read_sections(out, project_dir, folders)
    invalid = _check_schemas(out, (("semantic_models", models), ("metrics", metrics), ("saved_queries", saved)))
    metric_names = [str(m.get("name")) for _, m in metrics]
    # an element of the wrong shape is reported once, above; its references are checked when it is mended
    metrics = [(path, m) for path, m in metrics if id(m) not in invalid]
    saved = [(path, q) for path, q in saved if id(q) not in invalid]
    measures: dict[str, dict[str, Any]] = {}
    out.issues.extend(index_yaml_files(project_dir, folders).problems())
    for path, model in models:
        _check_kinds(out, path, model)
        for measure in _list(model.get("measures")):
            if not isinstance(measure, dict):
                continue
            mname = str(measure.get("name"))
            if mname in measures:
                first = measures[mname]["model"]
                where = (f"twice in semantic model '{model.get('name')}'" if first is model else
                         f"in two semantic models ('{first.get('name')}' and '{model.get('name')}')")
                out.add(path, line_of(measure, default=1), f"measure '{mname}' is defined {where}; measure names "
                        "must be unique across the project")
            measures[mname] = {"model": model, **measure}
    for path, metric in metrics:
        _check_metric(out, path, metric, measures, metric_names)
    for path, query in saved:
        params = _dict(query.get("query_params"))
        for name in _list(params.get("metrics")):
            if name not in metric_names:
                out.add(path, line_of(params, default=line_of(query, default=1)),
                        f"saved query '{query.get('name')}' asks for unknown metric '{name}'"
                        f"{suggest(str(name), sorted(set(metric_names)))}")
    _check_cycles(out, metrics)
    _ItemChecker(out, [m for _, m in models], metric_names, frozenset(grains)).check(metrics, saved)
    return out.issues


def _check_schemas(out: _Collector, sections: Iterable[tuple[str, Items]]) -> set[int]:
    """dbt's own schema of each element (names, required keys, types): dbt stops at the first, this reports all.

    Returns the ids of the elements that do not fit.
    """
    import dbt_common.events  # noqa: F401 - dbt's contracts import cleanly only after its events
    from dbt.contracts.graph.unparsed import UnparsedMetric, UnparsedSavedQuery, UnparsedSemanticModel
    from dbt_common.dataclass_schema import ValidationError

    schemas: dict[str, tuple[str, Any]] = {"metrics": ("metric", UnparsedMetric),
                                           "semantic_models": ("semantic model", UnparsedSemanticModel),
                                           "saved_queries": ("saved query", UnparsedSavedQuery)}
    invalid: set[int] = set()
    for section, items in sections:
        what, schema = schemas[section]
        for path, item in items:
            try:
                schema.validate(without_lines(item))
            except ValidationError as exc:
                instance = getattr(exc, "instance", None)
                if isinstance(instance, str) and ("{{" in instance or "{%" in instance):
                    continue  # dbt renders this Jinja before it validates: the rendered value may be right
                invalid.add(id(item))
                at: Any = item
                for step in getattr(exc, "relative_path", ()) or ():
                    inner = at.get(step) if isinstance(at, dict) else (
                        at[step] if isinstance(at, list) and isinstance(step, int) and step < len(at) else None)
                    if not isinstance(inner, (dict, list)):
                        break
                    at = inner
                field = ".".join(str(p) for p in getattr(exc, "relative_path", ()) or ())
                message = " ".join(str(getattr(exc, "message", exc)).split())
                out.add(path, line_of(at, default=line_of(item, default=1)),
                        f"{what} '{item.get('name')}': {field + ': ' if field else ''}{message}")
    return invalid


def _check_kinds(out: _Collector, path: str, model: dict[str, Any]) -> None:
    """The `agg` of each measure and the `type` of each dimension and entity is one dbt knows (dbt stops at the
    first other one, naming neither the file nor the line)."""
    from dbt_semantic_interfaces.type_enums import AggregationType, DimensionType, EntityType

    for section, what, key, kinds in (("measures", "measure", "agg", AggregationType),
                                      ("dimensions", "dimension", "type", DimensionType),
                                      ("entities", "entity", "type", EntityType)):
        known = [kind.value for kind in kinds]
        for element in _list(model.get(section)):
            value = element.get(key) if isinstance(element, dict) else None
            if value is not None and str(value).lower() not in known:
                out.add(path, line_of(element, key, default=1),
                        f"semantic model '{model.get('name')}': {what} '{element.get('name')}': {key} {value!r} is "
                        f"not one of {', '.join(known)}{suggest(str(value).lower(), known)}")


def _metric_inputs(metric: dict[str, Any]) -> list[str]:
    params = _dict(metric.get("type_params"))
    refs = [*_list(params.get("metrics")), params.get("numerator"), params.get("denominator")]
    return [name for name in (_name(ref) for ref in refs) if name]


def _check_cycles(out: _Collector, metrics: list[tuple[str, dict[str, Any]]]) -> None:
    """A derived or ratio metric that reaches itself through its inputs (dbt recurses without end on it)."""
    inputs = {str(m.get("name")): _metric_inputs(m) for _, m in metrics}
    reported: set[frozenset[str]] = set()
    for path, metric in metrics:
        start = str(metric.get("name"))
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        seen: set[str] = set()
        while stack:
            current, trail = stack.pop()
            for nxt in inputs.get(current, []):
                if nxt == start:
                    cycle = frozenset(trail)
                    if cycle not in reported:
                        reported.add(cycle)
                        out.add(path, line_of(metric, default=1),
                                f"metric '{start}' reaches itself through its inputs: "
                                f"{' -> '.join([*trail, start])}; a metric cannot be computed from itself")
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*trail, nxt]))


def _custom_grains(doc: dict[str, Any]) -> set[str]:
    """Custom granularity names of the time spines in one YAML document."""
    names: set[str] = set()
    for model in _list(doc.get("models")):
        spine = model.get("time_spine") if isinstance(model, dict) else None
        if isinstance(spine, dict):
            names |= {str(g.get("name")) for g in _list(spine.get("custom_granularities")) if isinstance(g, dict)}
    return names


class _ItemChecker:
    """Dimensions and entities named by filters and group-bys exist, as far as the YAML alone tells.

    dbt stops at the first broken reference and never reaches the filters, so without this a bad
    filter dimension would show only once every other problem is fixed. A name `entity__dimension`
    needs a semantic model with that entity and that dimension (or entity); joins are the compiler's.
    """

    def __init__(self, out: _Collector, models: list[dict[str, Any]], metric_names: list[str],
                 custom_grains: frozenset[str]) -> None:
        self.out, self.metric_names, self.custom_grains = out, metric_names, custom_grains
        self.elements: dict[str, set[str]] = {}  # entity -> dimensions and entities of its models
        self.canonical: set[str] = set()  # names as MetricFlow spells them: the model's own entity first
        for model in models:
            declared = [e for e in _list(model.get("entities")) if isinstance(e, dict)]
            entities = {str(e.get("name")) for e in declared}
            dimensions = {str(d.get("name")) for d in _list(model.get("dimensions")) if isinstance(d, dict)}
            for entity in entities:
                self.elements.setdefault(entity, set()).update(dimensions | entities)
            for own in (str(e.get("name")) for e in declared if str(e.get("type")).lower() != "foreign"):
                self.canonical |= {f"{own}__{name}" for name in dimensions | entities if name != own}

    def check(self, metrics: list[tuple[str, dict[str, Any]]], saved: list[tuple[str, dict[str, Any]]]) -> None:
        for path, metric in metrics:
            what = f"metric '{metric.get('name')}'"
            params = _dict(metric.get("type_params"))
            refs = [metric, params.get("measure"), params.get("numerator"), params.get("denominator"),
                    *_list(params.get("metrics"))]
            for ref in refs:
                if isinstance(ref, dict):
                    for text in _texts(ref.get("filter")):
                        self.filter(path, line_of(ref, "filter", line_of(metric, default=1)), what, text)
        for path, query in saved:
            what = f"saved query '{query.get('name')}'"
            params = _dict(query.get("query_params"))
            line = line_of(params, default=line_of(query, default=1))
            for text in _texts(params.get("where")):
                self.filter(path, line_of(params, "where", line), what, text)
            for text in _texts(params.get("group_by")):
                self.group_by(path, line_of(params, "group_by", line), what, text)

    def filter(self, path: str, line: int, what: str, text: str) -> None:
        from metricsctl.compiler.filters import parse_filter

        try:
            parsed = parse_filter(text, "duckdb", self.custom_grains)
        except (MetricsctlError, RecursionError):
            return  # the compiler reports a filter it cannot read, once the references are fixed
        for _, item in parsed.items:
            self.item(path, line, what, item, f"filter {text!r}")
        for _, call in parsed.metrics:
            if call.metric not in self.metric_names:
                self.out.add(path, line, f"{what}: filter {text!r} names unknown metric '{call.metric}'"
                             f"{suggest(call.metric, sorted(set(self.metric_names)))}")

    def group_by(self, path: str, line: int, what: str, text: str) -> None:
        from metricsctl.names import parse_item_name
        from metricsctl.saved_queries import group_by_name

        try:
            item = parse_item_name(group_by_name(text, self.custom_grains), self.custom_grains)
        except (MetricsctlError, ValueError):
            return
        self.item(path, line, what, item, f"group-by item {text!r}")

    def item(self, path: str, line: int, what: str, item: ItemName, where: str) -> None:
        if not item.entity_path or "metric_time" in (item.element, *item.entity_path):
            return
        entity = item.entity_path[-1]
        if item.element in self.elements.get(entity, set()):
            return
        known = sorted(self.canonical)
        written = f"{entity}__{item.element}"
        if entity not in self.elements:
            why = f"no semantic model has an entity '{entity}'"
        else:
            why = f"no semantic model with entity '{entity}' has a dimension or entity '{item.element}'"
        self.out.add(path, line, f"{what}: {where} names '{written}', but {why}{suggest(written, known)}")


def _texts(value: Any) -> list[str]:
    """A filter or group-by written as one string or a list of them."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str)]
    return []


def _check_metric(out: _Collector, path: str, metric: dict[str, Any], measures: dict[str, Any],
                  metric_names: list[str]) -> None:
    name = str(metric.get("name"))
    line = line_of(metric, default=1)
    kind = str(metric.get("type", "")).lower()
    if kind not in METRIC_TYPES:
        out.add(path, line, f"metric '{name}' has type '{metric.get('type')}'; use one of "
                + ", ".join(METRIC_TYPES))
        return
    params = _dict(metric.get("type_params"))

    def measure(ref: Any, role: str) -> None:
        measure_name = _name(ref)
        if measure_name is None:
            out.add(path, line_of(params, default=line), f"metric '{name}' needs a {role} (type_params)")
        elif measure_name not in measures:
            out.add(path, line_of(ref, default=line_of(params, default=line)),
                    f"metric '{name}' references unknown {role} '{measure_name}'"
                    f"{suggest(measure_name, sorted(measures))}")

    def metric_ref(ref: Any, role: str) -> None:
        ref_name = _name(ref)
        if ref_name is None:
            out.add(path, line_of(params, default=line), f"metric '{name}' needs a {role} metric (type_params)")
        elif ref_name not in metric_names:
            out.add(path, line_of(ref, default=line_of(params, default=line)), f"metric '{name}' references unknown "
                    f"metric '{ref_name}' as {role}{suggest(ref_name, sorted(set(metric_names)))}")

    if kind in ("simple", "cumulative"):
        measure(params.get("measure"), "measure")
    elif kind == "ratio":
        metric_ref(params.get("numerator"), "numerator")
        metric_ref(params.get("denominator"), "denominator")
    elif kind == "derived":
        inputs = _list(params.get("metrics"))
        names = set()
        for inp in inputs:
            metric_ref(inp, "input")
            if isinstance(inp, dict):
                names.add(str(inp.get("alias") or inp.get("name")))
            elif isinstance(inp, str):
                names.add(inp)
        _check_expression(out, path, line_of(params, default=line), name, str(params.get("expr", "")), names)
    elif kind == "conversion":
        conv = _dict(params.get("conversion_type_params"))
        measure(conv.get("base_measure"), "base measure")
        measure(conv.get("conversion_measure"), "conversion measure")
        entity = conv.get("entity")
        for role in ("base_measure", "conversion_measure"):
            ref = measures.get(_name(conv.get(role)) or "")
            if ref is None or entity is None:
                continue
            entities = [e.get("name") for e in _list(ref["model"].get("entities")) if isinstance(e, dict)]
            if entity not in entities:
                out.add(path, line_of(conv, default=line), f"metric '{name}': entity '{entity}' is not an entity of "
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
    except RecursionError:
        out.add(path, line, f"derived metric '{metric}': expr nests too deeply to read; simplify it")
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
        except RecursionError:
            failed[metric.name] = "its filter or expression nests too deeply to compile; simplify it"
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
        except (MetricsctlError, RecursionError) as exc:
            why = str(exc) if isinstance(exc, MetricsctlError) else "a filter nests too deeply to compile"
            where = spec.locations.find("saved_queries", saved.name)
            issues.append(SpecIssue(f"saved query '{saved.name}': {why}", where.path if where else None,
                                    where.line if where else None))
    return issues
