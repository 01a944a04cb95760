"""The lineage graph of a project, from dbt's manifest.json and the semantic spec.

dbt's manifest gives the physical part (seeds, sources, models, snapshots, exposures and how they
ref each other, and which model each semantic model reads); the spec gives the semantic part
(measures, metrics and every input they read, the dimensions their filters use, saved queries and
their exports). Models that metricsctl generates are drawn from what they were generated from: an
export from its saved query, `metric_values` and `metric_catalog` from every metric.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from metricsctl.errors import MetricsctlError, QueryError
from metricsctl.lineage.graph import Attachment, Edge, LineageGraph, Node
from metricsctl.names import METRIC_TIME, parse_item_name
from metricsctl.spec import Spec

PHYSICAL_KINDS = ("seed", "model", "snapshot")


def build_graph(spec: Spec, manifest: Mapping[str, Any], attachments: Iterable[Attachment] = (),
                dialect: str = "duckdb") -> LineageGraph:
    """Every node of the project and every edge between them; `attachments` hang on at the end."""
    builder = _Builder(spec, manifest, dialect)
    builder.build()
    attachments = list(attachments)
    builder.graph.attach(attachments)
    for item in attachments:
        builder.items_read(item.id, item.metrics, item.dimensions, item.filters)
    add_constant_properties(builder.graph, spec)
    return builder.graph


def add_constant_properties(graph: LineageGraph, spec: Spec) -> None:
    """What a conversion metric's constant properties read.

    `constant_properties: [{base_property: source, conversion_property: channel}]` matches a base event
    to a conversion only when the two dimensions agree: changing either changes the metric.
    """
    for metric in spec.manifest.metrics:
        params = metric.type_params.conversion_type_params
        target = f"metric:{metric.name}"
        if params is None or target not in graph.nodes:
            continue
        for prop in params.constant_properties or []:
            for measure, name in ((params.base_measure.name, prop.base_property),
                                  (params.conversion_measure.name, prop.conversion_property)):
                model = spec.measure(measure).model
                dim = next((d for d in model.dimensions if d.name == name), None)
                if dim is None:
                    continue  # an entity: drawn already through the model
                node_id = f"dimension:{model.name}.{name}"
                graph.add_node(Node(node_id, "dimension", name, str(dim.label or ""),
                                    f"{getattr(dim.type, 'value', dim.type)}: {dim.expr or dim.name}"))
                if f"semantic_model:{model.name}" in graph.nodes:
                    graph.add_edge(Edge(f"semantic_model:{model.name}", node_id, "defines"))
                graph.add_edge(Edge(node_id, target, "constant_property",
                                    f"{prop.base_property} = {prop.conversion_property}"))


def window_text(window: Any) -> str:
    """`{count: 7, granularity: day}` -> `7 days`."""
    count = int(window.count)
    grain = str(getattr(window.granularity, "value", window.granularity))
    return f"{count} {grain}{'' if count == 1 or grain.endswith('s') else 's'}"


def _value(x: Any) -> str:
    return str(getattr(x, "value", x))


def _where_templates(where: Any) -> list[str]:
    if where is None:
        return []
    return [str(f.where_sql_template) for f in where.where_filters]


class _Builder:
    def __init__(self, spec: Spec, manifest: Mapping[str, Any], dialect: str) -> None:
        from metricsctl.graph import SemanticGraph

        self.spec = spec
        self.manifest = manifest
        self.dialect = dialect
        self.graph = LineageGraph()
        self.semantic = SemanticGraph(spec)
        self.dbt_ids: dict[str, str] = {}  # dbt unique id -> node id
        self.exports = {e.name: s.name for s in spec.manifest.saved_queries for e in s.exports}

    def build(self) -> None:
        self._physical()
        self._semantic_models()
        for metric in self.spec.manifest.metrics:
            self._metric_node(metric)
        for metric in self.spec.manifest.metrics:
            self._metric_inputs(metric)
        self._saved_queries()
        self._physical_edges()
        self._generated_models()

    # --- helpers -------------------------------------------------------------------------------
    def _where(self, section: str, *names: str) -> str | None:
        found = self.spec.locations.find(section, *names)
        return f"{found.path}:{found.line}" if found else None

    def _dbt_uid(self, section: str, name: str) -> str | None:
        for uid, item in (self.manifest.get(section) or {}).items():
            if item.get("name") == name:
                return str(uid)
        return None

    def _edge(self, source: str, target: str, kind: str, label: str = "", **attrs: str) -> None:
        self.graph.add_edge(Edge(source, target, kind, label, {k: v for k, v in attrs.items() if v}))

    # --- dbt's part ----------------------------------------------------------------------------
    def _physical(self) -> None:
        from metricsctl.materialize import MARKER

        for uid, item in (self.manifest.get("sources") or {}).items():
            name = f"{item['source_name']}.{item['name']}"
            self._add_dbt(uid, Node(f"source:{name}", "source", name, str(item.get("label") or ""),
                                    str(item.get("relation_name") or ""), item.get("original_file_path"),
                                    {"dbt_id": uid}))
        for uid, item in (self.manifest.get("nodes") or {}).items():
            kind = str(item.get("resource_type"))
            if kind not in PHYSICAL_KINDS:
                continue
            name = str(item["name"]) + (f".v{item['version']}" if item.get("version") is not None else "")
            generated = str(item.get("raw_code") or "").startswith(MARKER)
            attrs = {"dbt_id": uid, "relation": str(item.get("relation_name") or "")}
            config = item.get("config") or {}
            detail = str(config.get("materialized") or "") if kind != "seed" else ""
            if kind == "model" and name in self.exports:
                kind = "export"
                detail = f"export of saved query '{self.exports[name]}', {detail}"
            if generated:
                attrs["generated"] = "true"
            self._add_dbt(uid, Node(f"{kind}:{name}", kind, name, "", detail, item.get("original_file_path"), attrs))
        for uid, item in (self.manifest.get("exposures") or {}).items():
            owner = item.get("owner") or {}
            detail = ", ".join(p for p in (str(item.get("type") or ""), str(owner.get("name") or ""),
                                           str(item.get("url") or "")) if p and p != "None")
            self._add_dbt(uid, Node(f"exposure:{item['name']}", "exposure", str(item["name"]),
                                    str(item.get("label") or ""), detail, item.get("original_file_path"),
                                    {"dbt_id": uid, "type": str(item.get("type") or "")}))

    def _physical_edges(self) -> None:
        """dbt's refs; generated models are drawn from their spec instead (see _generated_models)."""
        for section in ("nodes", "exposures"):
            for uid, item in (self.manifest.get(section) or {}).items():
                target = self.dbt_ids.get(uid)
                if target is None or self.graph.node(target).attrs.get("generated"):
                    continue
                for parent in (item.get("depends_on") or {}).get("nodes") or []:
                    source = self.dbt_ids.get(parent)
                    if source is not None:
                        self._edge(source, target, "depends_on" if section == "exposures" else "ref")

    def _add_dbt(self, uid: str, node: Node) -> None:
        self.graph.add_node(node)
        self.dbt_ids[uid] = node.id

    def _relation_node(self, relation: str) -> str | None:
        """The dbt node (not the semantic model) that builds a warehouse relation."""
        for node in self.graph.nodes.values():
            if relation and node.kind in (*PHYSICAL_KINDS, "export") and node.attrs.get("relation") == relation:
                return node.id
        return None

    # --- the semantic part ---------------------------------------------------------------------
    def _semantic_models(self) -> None:
        for model in self.spec.semantic_models:
            uid = self._dbt_uid("semantic_models", model.name)
            node_id = f"semantic_model:{model.name}"
            self.graph.add_node(Node(node_id, "semantic_model", model.name, str(model.label or ""),
                                     str(model.description or ""), self._where("semantic_models", model.name),
                                     {"dbt_id": uid or "", "relation": str(model.node_relation.relation_name)}))
            if uid is not None:
                self.dbt_ids[uid] = node_id
            parents = [self.dbt_ids[p] for p in ((self.manifest.get("semantic_models") or {}).get(uid) or {})
                       .get("depends_on", {}).get("nodes", []) if p in self.dbt_ids]
            if not parents:
                found = self._relation_node(str(model.node_relation.relation_name))
                parents = [found] if found else []
            for parent in parents:
                self._edge(parent, node_id, "model")
            for measure in model.measures:
                measure_id = f"measure:{model.name}.{measure.name}"
                agg = _value(measure.agg)
                attrs = {"agg": agg, "expr": str(measure.expr or measure.name)}
                default_time = model.defaults.agg_time_dimension if model.defaults else None
                time_name = measure.agg_time_dimension or default_time
                window = measure.non_additive_dimension.name if measure.non_additive_dimension else None
                for role, dim_name in (("time", time_name), ("window", window)):
                    dim = next((d for d in model.dimensions if d.name == dim_name), None)
                    if dim is not None:
                        attrs[role] = str(dim.expr or dim.name)
                self.graph.add_node(Node(measure_id, "measure", measure.name, str(measure.label or ""),
                                         f"{agg}({measure.expr or measure.name})",
                                         self._where("semantic_models", model.name, "measures", measure.name),
                                         attrs))
                self._edge(node_id, measure_id, "defines")

    def _measure_id(self, name: str) -> str:
        ref = self.spec.measure(name)
        return f"measure:{ref.model.name}.{ref.measure.name}"

    def _dimension_id(self, model_name: str, name: str) -> str:
        node_id = f"dimension:{model_name}.{name}"
        if node_id not in self.graph.nodes:
            model = self.semantic.models[model_name]
            dim = next(d for d in model.dimensions if d.name == name)
            self.graph.add_node(Node(node_id, "dimension", name, str(dim.label or ""),
                                     f"{_value(dim.type)}: {dim.expr or dim.name}",
                                     self._where("semantic_models", model_name, "dimensions", name),
                                     {"expr": str(dim.expr or dim.name), "type": _value(dim.type)}))
            self._edge(f"semantic_model:{model_name}", node_id, "defines")
        return node_id

    def _metric_node(self, metric: Any) -> None:
        from metricsctl.materialize import formula

        kind = _value(metric.type)
        try:
            text = formula(self.spec, metric)
        except MetricsctlError:
            text = ""
        uid = self._dbt_uid("metrics", metric.name)
        meta = (metric.config.meta if metric.config else None) or {}
        attrs = {"type": kind, "dbt_id": uid or ""}
        attrs.update({k: str(meta[k]) for k in ("owner", "unit") if meta.get(k) is not None})
        node = Node(f"metric:{metric.name}", "metric", metric.name, str(metric.label or ""),
                    f"{kind}: {text}" if text else kind, self._where("metrics", metric.name), attrs)
        self.graph.add_node(node)
        if uid is not None:
            self.dbt_ids[uid] = node.id

    def _measure_models(self, metric_name: str, seen: frozenset[str] = frozenset()) -> list[str]:
        """The semantic models whose measures a metric reads, through every input."""
        if metric_name in seen:
            return []
        metric = self.spec.metric(metric_name)
        params = metric.type_params
        kind = _value(metric.type)
        if kind in ("simple", "cumulative"):
            names = [params.measure.name] if params.measure else [m.name for m in params.input_measures]
        elif kind == "conversion":
            cp = params.conversion_type_params
            names = [cp.base_measure.name, cp.conversion_measure.name]
        else:
            inputs = [params.numerator, params.denominator] if kind == "ratio" else list(params.metrics)
            models: list[str] = []
            for item in inputs:
                models += [m for m in self._measure_models(item.name, seen | {metric_name}) if m not in models]
            return models
        return list(dict.fromkeys(self.spec.measure(n).model.name for n in names))

    def _metric_inputs(self, metric: Any) -> None:
        target = f"metric:{metric.name}"
        params = metric.type_params
        kind = _value(metric.type)
        spine = self._time_spine()
        if kind in ("simple", "cumulative"):
            measure = params.measure
            label = ""
            if kind == "cumulative":
                cp = params.cumulative_type_params
                window = (cp.window if cp else None) or params.window
                to_date = (cp.grain_to_date if cp else None) or params.grain_to_date
                label = (f"window {window_text(window)}" if window
                         else f"{_value(to_date)} to date" if to_date else "all time")
            if measure.fill_nulls_with is not None:
                label = ", ".join(p for p in (label, f"nulls as {measure.fill_nulls_with}") if p)
            self._edge(self._measure_id(measure.name), target, "measure", label)
            self._filters(target, measure.filter, [self.spec.measure(measure.name).model.name], "measure filter")
            if spine and (kind == "cumulative" or measure.join_to_timespine):
                self._edge(spine, target, "time_spine")
        elif kind == "ratio":
            for role, item in (("numerator", params.numerator), ("denominator", params.denominator)):
                label = f"as {item.alias}" if item.alias else ""
                self._edge(f"metric:{item.name}", target, role, label, alias=str(item.alias or ""))
                self._filters(target, item.filter, self._measure_models(item.name), f"{role} filter")
        elif kind == "derived":
            for item in params.metrics:
                parts = []
                attrs: dict[str, str] = {"alias": str(item.alias or "")}
                if item.offset_window:
                    attrs["offset_window"] = window_text(item.offset_window)
                    parts.append(f"offset {attrs['offset_window']}")
                if item.offset_to_grain:
                    attrs["offset_to_grain"] = _value(item.offset_to_grain)
                    parts.append(f"offset to the start of the {attrs['offset_to_grain']}")
                if item.alias:
                    parts.append(f"as {item.alias}")
                self._edge(f"metric:{item.name}", target, "input", ", ".join(parts), **attrs)
                self._filters(target, item.filter, self._measure_models(item.name), "input filter")
                if spine and (item.offset_window or item.offset_to_grain):
                    self._edge(spine, target, "time_spine")
        elif kind == "conversion":
            cp = params.conversion_type_params
            window = f", within {window_text(cp.window)}" if cp.window else ""
            same = ", ".join(f"{p.base_property} = {p.conversion_property}" for p in cp.constant_properties or [])
            for role, measure in (("base", cp.base_measure), ("conversion", cp.conversion_measure)):
                label = f"by {cp.entity}{window}" + (f", same {same}" if same else "")
                model = self.spec.measure(measure.name).model
                entity = next((e for e in model.entities if e.name == cp.entity), None)
                key = f"{model.name}.{entity.expr or entity.name}" if entity is not None else ""
                # the entity key both sides are matched on: a column the metric reads (column lineage)
                self._edge(self._measure_id(measure.name), target, role, label, entity=str(cp.entity),
                           entity_key=key)
                self._filters(target, measure.filter, [self.spec.measure(measure.name).model.name],
                              f"{role} filter")
        self._filters(target, metric.filter, self._measure_models(metric.name), "")

    def _time_spine(self) -> str | None:
        try:
            relation = self.spec.time_spine.relation
        except QueryError:
            return None
        return self._relation_node(relation)

    def _filters(self, target: str, where: Any, models: list[str], role: str) -> None:
        """Edges from whatever a where filter reads (dimensions, joined models, metrics) to `target`."""
        self._filter_templates(target, _where_templates(where), models, role)

    def _filter_templates(self, target: str, templates: Iterable[str], models: list[str], role: str) -> None:
        from metricsctl.compiler.filters import parse_filter

        for template in templates:
            try:
                parsed = parse_filter(template, self.dialect, self.spec.custom_grains)
            except QueryError as exc:
                self.graph.warnings.append(f"{target}: {exc}")
                continue
            for _, item in parsed.items:
                self._item(target, item, models, "filter", role, template)
            for _, call in parsed.metrics:
                by = f" by {', '.join(call.group_by)}" if call.group_by else ""
                if f"metric:{call.metric}" in self.graph.nodes:
                    why = f" ({role})" if role else ""
                    self._edge(f"metric:{call.metric}", target, "filter", f"Metric({call.metric}{by}){why}",
                               where=template)

    def _item(self, target: str, item: Any, models: list[str], kind: str, role: str, where: str = "") -> None:
        """An item (`order__customer__region`) read by `target`, resolved from the models it scans."""
        if item.is_metric_time:
            return
        resolved = []
        errors = []
        for model in models:
            try:
                resolved.append((model, self.semantic.resolve(model, item)))
            except QueryError as exc:
                errors.append(str(exc))
        if not resolved:
            self.graph.warnings.append(f"{target}: {errors[0] if errors else f'cannot resolve {item}'}")
            return
        name = item.column_name()
        why = f" ({role})" if role else ""
        for model, found in resolved:
            path = " -> ".join([model, *(f"{s.model} (on {s.entity})" for s in found.joins)])
            keys, left = [], model
            for step in found.joins:  # model.column=model.column, for column lineage
                keys.append(f"{left}.{step.left_expr}={step.model}.{step.right_expr}")
                left = step.model
            joins = ";".join(keys)
            for step in found.joins:
                if step.model != found.model or found.kind == "entity":
                    self._edge(f"semantic_model:{step.model}", target, "join", f"on {step.entity} for {name}{why}",
                               join_path=path, joins=joins)
            if found.kind in ("dimension", "time_dimension"):
                self._edge(self._dimension_id(found.model, item.element), target, kind, f"{name}{why}",
                           join_path=path if found.joins else "", joins=joins, where=where)

    def _saved_queries(self) -> None:
        for saved in self.spec.manifest.saved_queries:
            node_id = f"saved_query:{saved.name}"
            uid = self._dbt_uid("saved_queries", saved.name)
            self.graph.add_node(Node(node_id, "saved_query", saved.name, str(saved.label or ""),
                                     str(saved.description or ""), self._where("saved_queries", saved.name),
                                     {"dbt_id": uid or ""}))
            if uid is not None:
                self.dbt_ids[uid] = node_id
            params = saved.query_params
            models: list[str] = []
            for name in params.metrics:
                self._edge(f"metric:{name}", node_id, "metric")
                models += [m for m in self._measure_models(name) if m not in models]
            self._group_by(node_id, params.group_by, models)
            self._filters(node_id, params.where, models, "")
            for export in saved.exports:
                export_id = f"export:{export.name}"
                if export_id not in self.graph.nodes:  # not generated yet: no dbt model of that name
                    self.graph.add_node(Node(export_id, "export", export.name, "",
                                             f"export of saved query '{saved.name}', not generated yet "
                                             "(run `metricsctl compile`)", self._where("saved_queries", saved.name),
                                             {"status": "not generated"}))
                config = export.config
                self._edge(node_id, export_id, "export", _value(config.export_as) if config else "")

    def _group_by(self, target: str, names: Iterable[str], models: list[str]) -> None:
        """Edges from the dimensions `target` groups by (and the models joined to reach them)."""
        from metricsctl.saved_queries import group_by_name

        for name in names:
            try:
                item = parse_item_name(group_by_name(name, self.spec.custom_grains), self.spec.custom_grains)
            except (QueryError, ValueError) as exc:
                self.graph.warnings.append(f"{target}: group-by {name!r}: {exc}")
                continue
            if item.element != METRIC_TIME:
                self._item(target, item, models, "group_by", "")

    def items_read(self, target: str, metrics: Iterable[str], dimensions: Iterable[str],
                   filters: Iterable[str]) -> None:
        """What a node hung on later (an alert rule) slices and filters `metrics` by, as for a saved query."""
        models: list[str] = []
        for name in metrics:
            if f"metric:{name}" in self.graph.nodes:
                models += [m for m in self._measure_models(name) if m not in models]
        if models:
            self._group_by(target, dimensions, models)
            self._filter_templates(target, filters, models, "")

    def _generated_models(self) -> None:
        """`metric_values` and `metric_catalog` are generated from every metric."""
        metrics = [f"metric:{m.name}" for m in self.spec.manifest.metrics]
        for node in list(self.graph.nodes.values()):
            if node.kind == "model" and node.attrs.get("generated"):
                for metric in metrics:
                    self._edge(metric, node.id, "metric")
