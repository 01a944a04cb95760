"""What changed in the definitions between two specs, field by field, and what breaks consumers.

Each metric, semantic model element (measure, dimension, entity), saved query and export is reduced to
named fields, each with a canonical form (SQL re-rendered by sqlglot, filters with their Jinja items
resolved, lists sorted where order does not matter) and a readable text. Two sides differ in a field
when the canonical forms differ: reformatting a filter or an expression is no change.

A field is *breaking* when it changes what an existing name means to its consumers (a metric's type,
inputs, expression, filter, offsets or window; a measure's aggregation or expression), *presentational*
when it changes only how a name is shown (label, description, meta). Everything else changes values
without changing meaning (a dimension's expression, nulls filled with zero, the model a semantic
model reads): it is carried downstream and shown in the value diff, but does not block a merge.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from metricsctl.errors import MetricsctlError
from metricsctl.spec import Spec

PRESENTATION = frozenset({"label", "description", "meta", "time_granularity"})
METRIC_BREAKING = frozenset({"type", "measure", "inputs", "expr", "filter", "offsets", "window"})
MEASURE_BREAKING = frozenset({"agg", "expr", "agg_params", "agg_time_dimension", "non_additive_dimension"})
STATUSES = ("added", "removed", "changed")


@dataclass(frozen=True)
class Value:
    """One field of one side: `key` is compared, `text` is shown."""

    key: str
    text: str


@dataclass(frozen=True)
class FieldChange:
    field: str
    base: str | None  # the readable text on each side; None when the field is absent there
    head: str | None
    breaking: bool = False

    @property
    def presentational(self) -> bool:
        return self.field in PRESENTATION

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "base": self.base, "head": self.head, "breaking": self.breaking}


@dataclass(frozen=True)
class Change:
    """One named thing that differs between base and head."""

    kind: str  # metric, semantic_model, measure, dimension, entity, saved_query, export
    name: str  # a metric's name; `model.measure` for elements of a semantic model
    status: str  # added, removed, changed
    fields: tuple[FieldChange, ...] = ()
    note: str = ""  # e.g. "renamed to x", "columns removed: a, b"
    path: str | None = None  # where it is written (head's file, base's when removed)
    breaking_status: bool = False  # removal (or a renamed relation) breaks consumers by itself
    node: str | None = None  # the lineage node, when it is not `<kind>:<name>`

    @property
    def breaking(self) -> bool:
        return self.breaking_status or any(f.breaking for f in self.fields)

    @property
    def changes_values(self) -> bool:
        """Added, removed, or a field other than label, description and meta changed."""
        return self.status != "changed" or any(not f.presentational for f in self.fields)

    @property
    def node_id(self) -> str:
        """The lineage graph node that stands for it (an entity is drawn as its semantic model)."""
        if self.node:
            return self.node
        if self.kind == "entity":
            return f"semantic_model:{self.name.split('.', 1)[0]}"
        return f"{self.kind}:{self.name}"

    @property
    def title(self) -> str:
        kind = self.kind.replace("_", " ")
        return f"{kind} `{self.name}`"

    @property
    def summary(self) -> str:
        """`filter changed`, `removed`, `expr and agg changed`."""
        if self.status != "changed":
            return self.status + (f" ({self.note})" if self.note else "")
        names = [f.field for f in self.fields]
        text = (", ".join(names[:-1]) + " and " + names[-1]) if len(names) > 1 else (names[0] if names else "")
        return f"{text} changed" + (f" ({self.note})" if self.note else "")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "status": self.status, "breaking": self.breaking,
                "note": self.note, "path": self.path, "fields": [f.to_dict() for f in self.fields]}


@dataclass(frozen=True)
class SemanticDiff:
    metrics: tuple[Change, ...] = ()
    semantic_models: tuple[Change, ...] = ()  # semantic_model, measure, dimension, entity changes
    saved_queries: tuple[Change, ...] = ()  # saved_query and export changes
    dbt_nodes: tuple[Change, ...] = ()  # hand-written models, seeds and snapshots whose files changed

    @property
    def changes(self) -> tuple[Change, ...]:
        return (*self.metrics, *self.semantic_models, *self.saved_queries, *self.dbt_nodes)

    @property
    def empty(self) -> bool:
        return not self.changes

    def to_dict(self) -> dict[str, Any]:
        return {"metrics": [c.to_dict() for c in self.metrics],
                "semantic_models": [c.to_dict() for c in self.semantic_models],
                "saved_queries": [c.to_dict() for c in self.saved_queries],
                "dbt_nodes": [c.to_dict() for c in self.dbt_nodes]}


@dataclass(frozen=True)
class Side:
    """One side's spec, with what the semantic manifest alone does not say."""

    spec: Spec
    dialect: str = "duckdb"
    model_refs: Mapping[str, str] = field(default_factory=dict)  # semantic model -> `ref('orders')`
    export_columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # export -> its columns
    saved_query_meta: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # dbt's config.meta


def side(spec: Spec, manifest: Mapping[str, Any] | None = None, dialect: str = "duckdb") -> Side:
    """A Side: semantic models' refs from dbt's manifest, export columns from compiling each saved query."""
    from metricsctl.compiler.render import SqlCompiler
    from metricsctl.saved_queries import saved_query_to_query

    refs = {str(n.get("name")): str(n.get("model") or "")
            for n in ((manifest or {}).get("semantic_models") or {}).values() if n.get("model")}
    meta = {str(n.get("name")): (n.get("config") or {}).get("meta") or {}
            for n in ((manifest or {}).get("saved_queries") or {}).values()}
    columns: dict[str, tuple[str, ...]] = {}
    compiler = SqlCompiler(spec, dialect)
    for saved in spec.manifest.saved_queries:
        try:
            compiled = compiler.compile(saved_query_to_query(saved, spec.custom_grains))
        except MetricsctlError:
            continue  # an export that does not compile has no columns to compare (validation reports it)
        for export in saved.exports:
            columns[export.name] = tuple(compiled.columns)
    return Side(spec, dialect, refs, columns, meta)


# --- canonical forms ---------------------------------------------------------------------------------
def _v(x: Any) -> str:
    return str(getattr(x, "value", x))


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def canonical_sql(text: str, dialect: str) -> str:
    """`quantity*unit_price` and `quantity * unit_price` are the same expression."""
    import sqlglot

    try:
        parsed = [e for e in sqlglot.parse(text, read=dialect) if e is not None]
    except sqlglot.errors.SqlglotError:
        return _squash(text)
    return parsed[0].sql(dialect=dialect) if len(parsed) == 1 else _squash(text)


def canonical_filter(template: str, dialect: str, custom_grains: frozenset[str] = frozenset()) -> str:
    """A where filter with its Jinja items resolved: `{{ Dimension('order__channel') }}='x'` spelled one way."""
    from sqlglot import exp

    from metricsctl.compiler.filters import parse_filter

    try:
        parsed = parse_filter(template, dialect, custom_grains)
    except MetricsctlError:
        return _squash(template)
    names: dict[str, exp.Expr] = {key: exp.column(f"item:{item.column_name()}", quoted=True)
                                  for key, item in parsed.items}
    for key, call in parsed.metrics:
        names[key] = exp.Anonymous(this="Metric", expressions=[exp.Literal.string(call.metric),
                                                               *map(exp.Literal.string, call.group_by)])

    def swap(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and not node.table and node.name in names:
            return names[node.name].copy()
        return node

    return parsed.expression.copy().transform(swap).sql(dialect=dialect)


class _Norm:
    def __init__(self, spec: Spec, dialect: str) -> None:
        self.dialect = dialect
        self.grains = spec.custom_grains

    def sql(self, text: str | None) -> Value:
        if text is None:
            return Value("", "")
        return Value(canonical_sql(str(text), self.dialect), str(text))

    def filters(self, scoped: Iterable[tuple[str, Any]]) -> Value:
        """Filters of a metric and of its inputs, each `scope: template`; ANDed, so their order is free."""
        keys, texts = [], []
        for scope, where in scoped:
            for f in (where.where_filters if where is not None else []):
                template = str(f.where_sql_template)
                prefix = f"{scope}: " if scope else ""
                keys.append(prefix + canonical_filter(template, self.dialect, self.grains))
                texts.append(prefix + template)
        return Value("\n".join(sorted(keys)), "\n".join(texts))


def _text(value: Any) -> Value:
    text = "" if value is None else str(value)
    return Value(text, text)


def _meta(config: Any) -> Value:
    meta = (getattr(config, "meta", None) if config is not None else None) or {}
    text = json.dumps(meta, sort_keys=True, default=str) if meta else ""
    return Value(text, text)


def _window(window: Any) -> str:
    if window is None:
        return ""
    count = int(window.count)
    grain = _v(window.granularity)
    return f"{count} {grain}{'' if count == 1 or grain.endswith('s') else 's'}"


def _input_name(item: Any) -> str:
    return f"{item.name} as {item.alias}" if item.alias else str(item.name)


# --- metrics -----------------------------------------------------------------------------------------
def metric_fields(metric: Any, norm: _Norm) -> dict[str, Value]:
    """Every field of a metric that can change, in reading order."""
    params = metric.type_params
    kind = _v(metric.type)
    fields: dict[str, Value] = {"type": _text(kind)}
    scoped: list[tuple[str, Any]] = [("", metric.filter)]
    if kind in ("simple", "cumulative"):
        measure = params.measure
        fields["measure"] = _text(measure.name if measure else None)
        if measure is not None:
            scoped.append((f"measure {measure.name}", measure.filter))
            nulls = [f"fill_nulls_with {measure.fill_nulls_with}" if measure.fill_nulls_with is not None else "",
                     "join_to_timespine" if measure.join_to_timespine else ""]
            fields["nulls"] = _text(", ".join(p for p in nulls if p))
        if kind == "cumulative":
            cp = params.cumulative_type_params
            window = (cp.window if cp else None) or params.window
            to_date = (cp.grain_to_date if cp else None) or params.grain_to_date
            text = f"window {_window(window)}" if window else f"{_v(to_date)} to date" if to_date else "all time"
            period_agg = _v(cp.period_agg) if cp is not None and cp.period_agg is not None else "first"
            fields["window"] = _text(text + (f", period_agg {period_agg}" if period_agg != "first" else ""))
    elif kind == "ratio":
        parts = [f"numerator: {_input_name(params.numerator)}", f"denominator: {_input_name(params.denominator)}"]
        fields["inputs"] = _text("; ".join(parts))
        scoped += [(f"numerator {params.numerator.name}", params.numerator.filter),
                   (f"denominator {params.denominator.name}", params.denominator.filter)]
    elif kind == "derived":
        fields["inputs"] = _text(", ".join(_input_name(m) for m in params.metrics))
        fields["expr"] = norm.sql(params.expr)
        offsets = []
        for item in params.metrics:
            if item.offset_window:
                offsets.append(f"{item.alias or item.name}: {_window(item.offset_window)} earlier")
            if item.offset_to_grain:
                offsets.append(f"{item.alias or item.name}: at the start of the {_v(item.offset_to_grain)}")
            scoped.append((f"input {item.alias or item.name}", item.filter))
        fields["offsets"] = _text("; ".join(offsets))
    elif kind == "conversion":
        cp = params.conversion_type_params
        same = ", ".join(f"{p.base_property} = {p.conversion_property}" for p in cp.constant_properties or [])
        parts = [f"base: {cp.base_measure.name}", f"conversion: {cp.conversion_measure.name}",
                 f"entity: {cp.entity}", f"calculation: {_v(cp.calculation)}"]
        fields["inputs"] = _text("; ".join(parts + ([f"same {same}"] if same else [])))
        fields["window"] = _text(f"within {_window(cp.window)}" if cp.window else "")
        scoped += [(f"base {cp.base_measure.name}", cp.base_measure.filter),
                   (f"conversion {cp.conversion_measure.name}", cp.conversion_measure.filter)]
    fields["filter"] = norm.filters(scoped)
    grain = getattr(metric, "time_granularity", None)
    fields["time_granularity"] = _text(_v(grain) if grain else None)
    fields["label"] = _text(metric.label)
    fields["description"] = _text(metric.description)
    fields["meta"] = _meta(metric.config)
    return fields


def compare(base: Mapping[str, Value], head: Mapping[str, Value],
            breaking: frozenset[str] = frozenset()) -> tuple[FieldChange, ...]:
    """The fields whose canonical forms differ, in head's order (then base's)."""
    changes = []
    for name in [*head, *[k for k in base if k not in head]]:
        b, h = base.get(name), head.get(name)
        if (b.key if b else "") == (h.key if h else ""):
            continue
        changes.append(FieldChange(name, b.text if b else None, h.text if h else None, name in breaking))
    return tuple(changes)


def _where(spec: Spec, *key: str) -> str | None:
    found = spec.locations.find(*key)
    return f"{found.path}:{found.line}" if found else None


def diff_metrics(base: Side, head: Side) -> tuple[Change, ...]:
    bnorm, hnorm = _Norm(base.spec, base.dialect), _Norm(head.spec, head.dialect)
    before = {m.name: metric_fields(m, bnorm) for m in base.spec.manifest.metrics}
    after = {m.name: metric_fields(m, hnorm) for m in head.spec.manifest.metrics}
    changes: dict[str, Change] = {}
    for name in sorted(set(before) | set(after)):
        where = _where(head.spec if name in after else base.spec, "metrics", name)
        if name not in after:
            changes[name] = Change("metric", name, "removed", path=where, breaking_status=True)
        elif name not in before:
            changes[name] = Change("metric", name, "added", path=where)
        else:
            fields = compare(before[name], after[name], METRIC_BREAKING)
            if fields:
                changes[name] = Change("metric", name, "changed", fields, path=where)
    # a metric removed and one added with the same definition: a rename
    def definition(fields: Mapping[str, Value]) -> tuple[str, ...]:
        return tuple(v.key for k, v in fields.items() if k not in PRESENTATION)

    removed = [c.name for c in changes.values() if c.status == "removed"]
    added = [c.name for c in changes.values() if c.status == "added"]
    for old in removed:
        same = [new for new in added if definition(after[new]) == definition(before[old])]
        if len(same) == 1:
            new = same[0]
            added.remove(new)
            changes[old] = Change("metric", old, "removed", note=f"renamed to `{new}`", path=changes[old].path,
                                  breaking_status=True)
            changes[new] = Change("metric", new, "added", note=f"renamed from `{old}`", path=changes[new].path)
    return tuple(changes[n] for n in sorted(changes))


# --- semantic models ---------------------------------------------------------------------------------
def _dimension_text(model: Any, name: str | None, norm: _Norm) -> Value:
    """A time or window dimension as a measure sees it: its name, and its expression when it has one."""
    if not name:
        return Value("", "")
    dim = next((d for d in model.dimensions if d.name == name), None)
    expr = norm.sql(dim.expr) if dim is not None and dim.expr else None
    grain = _v(dim.type_params.time_granularity) if dim is not None and dim.type_params else ""
    text = f"{name} = {expr.text}" if expr else str(name)
    return Value(f"{name}|{expr.key if expr else ''}|{grain}", text)


def measure_fields(model: Any, measure: Any, norm: _Norm) -> dict[str, Value]:
    default = model.defaults.agg_time_dimension if model.defaults else None
    fields = {"agg": _text(_v(measure.agg)), "expr": norm.sql(measure.expr or measure.name)}
    params = measure.agg_params
    if params is not None:
        shown = {k: v for k, v in json.loads(params.json()).items() if v is not None}
        fields["agg_params"] = _text(json.dumps(shown, sort_keys=True) if shown else None)
    fields["agg_time_dimension"] = _dimension_text(model, measure.agg_time_dimension or default, norm)
    window = measure.non_additive_dimension
    if window is not None:
        dim = _dimension_text(model, window.name, norm)
        groups = f" per {', '.join(window.window_groupings)}" if window.window_groupings else ""
        text = f"{_v(window.window_choice)} of {dim.text}{groups}"
        fields["non_additive_dimension"] = Value(f"{_v(window.window_choice)}|{dim.key}|{groups}", text)
    fields["label"] = _text(measure.label)
    fields["description"] = _text(measure.description)
    fields["meta"] = _meta(measure.config)
    return fields


def dimension_fields(dim: Any, norm: _Norm) -> dict[str, Value]:
    fields = {"type": _text(_v(dim.type)), "expr": norm.sql(dim.expr or dim.name)}
    params = dim.type_params
    if params is not None:
        fields["time_granularity"] = _text(_v(params.time_granularity) if params.time_granularity else None)
        validity = getattr(params, "validity_params", None)
        fields["validity"] = _text(json.dumps(json.loads(validity.json()), sort_keys=True) if validity else None)
    fields["label"] = _text(dim.label)
    fields["description"] = _text(dim.description)
    fields["meta"] = _meta(dim.config)
    return fields


def entity_fields(entity: Any, norm: _Norm) -> dict[str, Value]:
    return {"type": _text(_v(entity.type)), "expr": norm.sql(entity.expr or entity.name),
            "role": _text(entity.role), "label": _text(entity.label), "description": _text(entity.description),
            "meta": _meta(entity.config)}


def model_fields(model: Any, refs: Mapping[str, str]) -> dict[str, Value]:
    relation = model.node_relation
    ref = refs.get(model.name) or f"{relation.schema_name}.{relation.alias}"
    default = model.defaults.agg_time_dimension if model.defaults else None
    return {"ref": _text(ref), "primary_entity": _text(model.primary_entity),
            "agg_time_dimension": _text(default), "label": _text(model.label),
            "description": _text(model.description), "meta": _meta(model.config)}


def _element_fields(kind: str, model: Any, item: Any, norm: _Norm) -> dict[str, Value]:
    if kind == "measure":
        return measure_fields(model, item, norm)
    return dimension_fields(item, norm) if kind == "dimension" else entity_fields(item, norm)


# element kind -> (section under the semantic model, breaking fields, whether removing one breaks consumers)
_ELEMENTS: tuple[tuple[str, str, frozenset[str], bool], ...] = (
    ("measure", "measures", MEASURE_BREAKING, False),
    ("dimension", "dimensions", frozenset(), True),
    ("entity", "entities", frozenset(), True),
)


def diff_semantic_models(base: Side, head: Side) -> tuple[Change, ...]:
    bnorm, hnorm = _Norm(base.spec, base.dialect), _Norm(head.spec, head.dialect)
    before = {m.name: m for m in base.spec.semantic_models}
    after = {m.name: m for m in head.spec.semantic_models}
    changes: list[Change] = []
    for name in sorted(set(before) | set(after)):
        spec = head.spec if name in after else base.spec
        where = _where(spec, "semantic_models", name)
        if name not in after or name not in before:
            changes.append(Change("semantic_model", name, "removed" if name not in after else "added", path=where))
            continue
        old, new = before[name], after[name]
        fields = compare(model_fields(old, base.model_refs), model_fields(new, head.model_refs))
        if fields:
            changes.append(Change("semantic_model", name, "changed", fields, path=where))
        for kind, section, breaking, removal_breaks in _ELEMENTS:
            olds = {e.name: e for e in getattr(old, section)}
            news = {e.name: e for e in getattr(new, section)}
            for element in sorted(set(olds) | set(news)):
                full = f"{name}.{element}"
                spec = head.spec if element in news else base.spec
                path = _where(spec, "semantic_models", name, section, element) or where
                if element not in news:
                    changes.append(Change(kind, full, "removed", path=path, breaking_status=removal_breaks))
                    continue
                if element not in olds:
                    changes.append(Change(kind, full, "added", path=path))
                    continue
                diffs = compare(_element_fields(kind, old, olds[element], bnorm),
                                _element_fields(kind, new, news[element], hnorm), breaking)
                if diffs:
                    changes.append(Change(kind, full, "changed", diffs, path=path))
    return tuple(changes)


# --- saved queries and exports -----------------------------------------------------------------------
def _list(items: Iterable[str]) -> Value:
    values = list(items)
    return Value("\n".join(values), ", ".join(values))


def saved_query_fields(saved: Any, side: Side) -> dict[str, Value]:
    from metricsctl.saved_queries import group_by_name

    norm = _Norm(side.spec, side.dialect)
    params = saved.query_params
    grains = side.spec.custom_grains

    def item(text: str) -> str:
        try:
            return group_by_name(text, grains)
        except MetricsctlError:
            return _squash(text)

    return {"metrics": _list(sorted(params.metrics)),
            "group_by": _list(sorted(item(g) for g in params.group_by)),
            "where": norm.filters([("", params.where)]),
            "order_by": _list(item(o) for o in (getattr(params, "order_by", None) or ())),
            "limit": _text(getattr(params, "limit", None)),
            "label": _text(saved.label), "description": _text(saved.description),
            "meta": _text(json.dumps(side.saved_query_meta[saved.name], sort_keys=True, default=str)
                          if side.saved_query_meta.get(saved.name) else None)}


def _removed_items(change: FieldChange) -> list[str]:
    before = [s.strip() for s in (change.base or "").split(",") if s.strip()]
    after = {s.strip() for s in (change.head or "").split(",") if s.strip()}
    return [s for s in before if s not in after]


def export_fields(export: Any, columns: tuple[str, ...] | None) -> dict[str, Value]:
    config = export.config
    schema = getattr(config, "schema_name", None) if config is not None else None
    alias = (getattr(config, "alias", None) if config is not None else None) or export.name
    fields = {"relation": _text(f"{schema}.{alias}" if schema else alias),
              "export_as": _text(_v(config.export_as) if config is not None and config.export_as else "table")}
    if columns is not None:
        fields["columns"] = Value("\n".join(columns), ", ".join(columns))
    return fields


def diff_saved_queries(base: Side, head: Side) -> tuple[Change, ...]:
    before = {q.name: q for q in base.spec.manifest.saved_queries}
    after = {q.name: q for q in head.spec.manifest.saved_queries}
    changes: list[Change] = []
    for name in sorted(set(before) | set(after)):
        where = _where(head.spec if name in after else base.spec, "saved_queries", name)
        if name not in after:
            changes.append(Change("saved_query", name, "removed", path=where, breaking_status=True))
        elif name not in before:
            changes.append(Change("saved_query", name, "added", path=where))
        else:
            fields = []
            for f in compare(saved_query_fields(before[name], base), saved_query_fields(after[name], head),
                             frozenset({"where"})):
                removed = _removed_items(f) if f.field in ("metrics", "group_by") else []
                fields.append(FieldChange(f.field, f.base, f.head, f.breaking or bool(removed)))
            if fields:
                changes.append(Change("saved_query", name, "changed", tuple(fields), path=where))
    old_exports = {e.name: (q, e) for q in base.spec.manifest.saved_queries for e in q.exports}
    new_exports = {e.name: (q, e) for q in head.spec.manifest.saved_queries for e in q.exports}
    for name in sorted(set(old_exports) | set(new_exports)):
        spec, (saved, _) = (head.spec, new_exports[name]) if name in new_exports else (base.spec, old_exports[name])
        where = _where(spec, "saved_queries", saved.name)
        if name not in new_exports:
            changes.append(Change("export", name, "removed", path=where, breaking_status=True))
            continue
        if name not in old_exports:
            changes.append(Change("export", name, "added", path=where))
            continue
        old = export_fields(old_exports[name][1], base.export_columns.get(name))
        new = export_fields(new_exports[name][1], head.export_columns.get(name))
        if "columns" not in old or "columns" not in new:
            old.pop("columns", None)
            new.pop("columns", None)
        fields, notes = [], []
        for f in compare(old, new, frozenset({"relation"})):
            if f.field == "columns":
                gone = _removed_items(f)
                came = [c for c in (f.head or "").split(", ") if c and c not in (f.base or "").split(", ")]
                notes += ([f"columns removed: {', '.join(gone)}"] if gone else []) + (
                    [f"columns added: {', '.join(came)}"] if came else [])
                f = FieldChange(f.field, f.base, f.head, bool(gone))
            fields.append(f)
        if fields:
            changes.append(Change("export", name, "changed", tuple(fields), "; ".join(notes), where))
    return tuple(changes)


# --- dbt's own nodes ---------------------------------------------------------------------------------
DBT_KINDS = ("model", "seed", "snapshot")


def _dbt_nodes(manifest: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Hand-written models, seeds and snapshots by lineage id (`model:stg_orders`); generated ones are left
    to the SQL diff."""
    from metricsctl.materialize import MARKER

    nodes = {}
    for item in (manifest.get("nodes") or {}).values():
        kind = str(item.get("resource_type"))
        if kind not in DBT_KINDS or str(item.get("raw_code") or "").startswith(MARKER):
            continue
        name = str(item["name"]) + (f".v{item['version']}" if item.get("version") is not None else "")
        nodes[f"{kind}:{name}"] = item
    return nodes


def _node_fields(item: Mapping[str, Any]) -> dict[str, Value]:
    checksum = str((item.get("checksum") or {}).get("checksum") or "")
    config = item.get("config") or {}
    shown = {k: config.get(k) for k in ("materialized", "column_types", "enabled") if config.get(k) is not None}
    fields = {"data" if item.get("resource_type") == "seed" else "sql": Value(checksum, f"sha256 {checksum[:12]}"),
              "config": _text(json.dumps(shown, sort_keys=True, default=str) if shown else None)}
    return fields


def diff_dbt_nodes(base: Mapping[str, Any], head: Mapping[str, Any]) -> tuple[Change, ...]:
    """Models, seeds and snapshots whose file or configuration changed, from the two dbt manifests."""
    before, after = _dbt_nodes(base), _dbt_nodes(head)
    changes = []
    for node_id in sorted(set(before) | set(after)):
        kind, name = node_id.split(":", 1)
        item = after.get(node_id) or before[node_id]
        path = item.get("original_file_path")
        if node_id not in after or node_id not in before:
            changes.append(Change(kind, name, "removed" if node_id not in after else "added", path=path,
                                  node=node_id))
            continue
        fields = compare(_node_fields(before[node_id]), _node_fields(after[node_id]))
        if fields:
            changes.append(Change(kind, name, "changed", fields, path=path, node=node_id))
    return tuple(changes)


def diff_specs(base: Side, head: Side, base_manifest: Mapping[str, Any] | None = None,
               head_manifest: Mapping[str, Any] | None = None) -> SemanticDiff:
    """Every metric, semantic model element, saved query and export that differs between the sides, and,
    given both dbt manifests, every hand-written model, seed and snapshot whose file changed."""
    nodes = diff_dbt_nodes(base_manifest, head_manifest) if base_manifest and head_manifest else ()
    return SemanticDiff(diff_metrics(base, head), diff_semantic_models(base, head), diff_saved_queries(base, head),
                        nodes)
