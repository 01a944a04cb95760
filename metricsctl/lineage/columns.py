"""Column-level lineage: a metric through its measures' expressions and the models' SQL to source columns.

Each dbt model's SQL (dbt's `compiled_code`, or its `raw_code` rendered here when the manifest holds
no compiled code) goes through `sqlglot.lineage`; the leaves are columns of the relations it reads,
which are traced on through their own SQL until a seed, a source or a relation without SQL. The
columns of each relation come from dbt's catalog.json when there is one, a seed's CSV header, the
model's own SQL, or the columns documented in YAML.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.lineage import Node as SqlNode
from sqlglot.lineage import lineage as sql_lineage

from metricsctl.errors import QueryError
from metricsctl.guards import SECRET_KEYS
from metricsctl.lineage.graph import Edge, Lineage, LineageGraph, Node

SEMANTIC_KINDS = ("metric", "measure", "dimension")
TABLE_KINDS = ("seed", "source", "model", "snapshot", "export")


def trace_columns(graph: LineageGraph, manifest: Mapping[str, Any], node: str, dialect: str = "duckdb",
                  depth: int | None = None) -> Lineage:
    """Upstream column lineage of `node` (a metric, measure, dimension, or a seed/source/model/export)."""
    root = graph.resolve(node)
    return ColumnTracer(graph, manifest, dialect).trace(root, depth)


def _column_names(sql: str, dialect: str) -> list[str]:
    """The columns an expression such as `quantity * net_unit_price` reads."""
    try:
        parsed = sqlglot.parse_one(sql, read=dialect)
    except SqlglotError as exc:
        raise QueryError(f"cannot parse the expression {sql!r}: {exc}") from None
    return list(dict.fromkeys(c.name for c in parsed.find_all(exp.Column)))


class ColumnTracer:
    """Traces columns upstream through dbt models; each model's SQL is analysed once."""

    def __init__(self, graph: LineageGraph, manifest: Mapping[str, Any], dialect: str = "duckdb") -> None:
        self.graph = graph
        self.manifest = manifest
        self.dialect = dialect
        by_dbt_id = {n.attrs["dbt_id"]: n.id for n in graph.nodes.values() if n.attrs.get("dbt_id")}
        self.items: dict[str, dict[str, Any]] = {}  # node id -> manifest entry (nodes and sources)
        self.node_ids: dict[str, str] = {}  # dbt unique id -> node id
        for section in ("nodes", "sources"):
            for uid, item in (manifest.get(section) or {}).items():
                if uid in by_dbt_id:
                    self.items[by_dbt_id[uid]] = item
                    self.node_ids[uid] = by_dbt_id[uid]
        self.catalog = self._catalog()
        self._schemas: dict[str, list[str] | None] = {}
        self._lineages: dict[str, dict[str, SqlNode] | None] = {}
        self.out = LineageGraph()

    # --- the entry point -----------------------------------------------------------------------
    def trace(self, root: str, depth: int | None = None) -> Lineage:
        node = self.graph.node(root)
        if node.kind in SEMANTIC_KINDS:
            self._semantic(root)
        elif node.kind in TABLE_KINDS:
            self.out.add_node(node)
            for column in self._schema(root) or []:
                self._column(root, column)
            if not self._schema(root):
                self.out.warnings.append(f"{root}: its columns are unknown; run `dbt compile` or `dbt docs generate`")
        else:
            raise QueryError(f"column lineage starts from a metric, measure, dimension, seed, source, model or "
                             f"export, not a {node.kind.replace('_', ' ')} ({root})")
        out = self.out
        if node.kind in TABLE_KINDS:  # a table's columns hang from the table
            for column_node in [n for n in out.nodes.values() if n.attrs.get("table") == root]:
                out.add_edge(Edge(column_node.id, root, "column"))
        result = out.walk(root, "up", depth)
        result.warnings = list(dict.fromkeys(out.warnings))
        return Lineage(root, "up", depth, result, columns=True)

    def _semantic(self, root: str) -> None:
        """Metrics, measures and dimensions above the root, then the columns each measure and dimension reads."""
        semantic = self.graph.walk(root, "up")
        for node in semantic.nodes.values():
            if node.kind in SEMANTIC_KINDS:
                self.out.add_node(node)
        for edge in semantic.edges:
            if edge.source in self.out.nodes and edge.target in self.out.nodes:
                self.out.add_edge(edge)
        for edge in semantic.edges:  # the keys of the joins that reach a filter's or group-by's dimension
            if edge.target in self.out.nodes and edge.attrs.get("joins"):
                for pair in edge.attrs["joins"].split(";"):
                    for side in pair.split("="):
                        model_name, _, expr = side.partition(".")
                        key_table = self._semantic_table(model_name)
                        if key_table is None:
                            continue
                        for column in self._expr_columns(self.graph.node(edge.target), expr):
                            self.out.add_edge(Edge(self._column(key_table, column), edge.target, "join"))
        for edge in semantic.edges:  # the entity key a conversion metric matches base and conversion events on
            if edge.target in self.out.nodes and edge.attrs.get("entity_key"):
                model_name, _, expr = edge.attrs["entity_key"].partition(".")
                key_table = self._semantic_table(model_name)
                if key_table is None:
                    continue
                for column in self._expr_columns(self.graph.node(edge.target), expr):
                    self.out.add_edge(Edge(self._column(key_table, column), edge.target, "entity"))
        for item in list(self.out.nodes.values()):
            if item.kind not in ("measure", "dimension"):
                continue
            table = self._semantic_table(item.id.split(":", 1)[1].split(".", 1)[0])
            if table is None:
                continue
            roles = [("value", "expr"), ("time", "time"), ("window", "window")] if item.kind == "measure" else [
                ("dimension", "expr")]
            for role, attr in roles:
                if item.attrs.get(attr):
                    for column in self._expr_columns(item, item.attrs[attr]):
                        self.out.add_edge(Edge(self._column(table, column), item.id, role))

    def _expr_columns(self, node: Node, expr: str) -> list[str]:
        try:
            return _column_names(expr, self.dialect)
        except QueryError as exc:
            self.out.warnings.append(f"{node.id}: {exc}")
            return []

    def _semantic_table(self, model_name: str) -> str | None:
        """The dbt node a semantic model reads."""
        for edge in self.graph.parents(f"semantic_model:{model_name}"):
            if edge.kind == "model":
                return edge.source
        self.out.warnings.append(f"semantic_model:{model_name}: no dbt model found for it in the manifest")
        return None

    # --- columns -------------------------------------------------------------------------------
    def _column(self, table: str, column: str) -> str:
        """The id of `table.column`, traced upstream through the table's SQL (once)."""
        schema = self._schema(table) or []
        column = next((c for c in schema if c.lower() == column.lower()), column)
        column_id = f"{table}.{column}"
        if column_id in self.out.nodes:
            return column_id
        table_node = self.graph.nodes.get(table)
        table_name = table_node.name if table_node else table.split(":", 1)[-1]
        sql_node = (self._lineage(table) or {}).get(column.lower())
        detail = _expression_text(sql_node, column, self.dialect) if sql_node is not None else ""
        self.out.add_node(Node(column_id, "column", f"{table_name}.{column}", "", detail, None,
                               {"table": table, "column": column}))
        if sql_node is None:
            if self._lineage(table) is not None:
                self.out.warnings.append(f"{table}: has no column '{column}'")
            return column_id
        parents = [self.node_ids[p] for p in ((self.items.get(table) or {}).get("depends_on") or {}).get("nodes", [])
                   if p in self.node_ids]
        for leaf in sql_node.walk():
            # a relation, not a table function such as range(...)
            if not isinstance(leaf.expression, exp.Table) or not isinstance(leaf.expression.this, exp.Identifier):
                continue
            upstream = self._table_id(leaf.expression, parents)
            name = leaf.name.split(".")[-1]
            if upstream is None:
                relation = leaf.expression.sql(dialect=self.dialect)
                upstream_id = f"relation:{relation}.{name}"
                self.out.add_node(Node(upstream_id, "column", f"{relation}.{name}", "", "", None,
                                       {"table": relation, "column": name}))
            else:
                upstream_id = self._column(upstream, name)
            self.out.add_edge(Edge(upstream_id, column_id, "column"))
        return column_id

    def _table_id(self, table: exp.Table, parents: list[str]) -> str | None:
        """The node of a relation named in SQL (database, schema and name, as far as given): one of the
        model's parents if one matches, else the one node in the project that does."""
        want = [p.lower() for p in (table.catalog, table.db, table.name)]
        for pool in (parents, list(self.items)):
            found: list[str] = []
            for node_id in pool:
                item = self.items[node_id]
                have = [str(item.get("database") or "").lower(), str(item.get("schema") or "").lower(),
                        str(item.get("alias") or item.get("identifier") or item.get("name") or "").lower()]
                if all(w == h for w, h in zip(want, have) if w):
                    found.append(node_id)
            if len(found) == 1:
                return found[0]
        return None

    # --- what each relation holds --------------------------------------------------------------
    def _catalog(self) -> dict[str, list[str]]:
        """dbt's catalog.json (after `dbt docs generate`): unique id -> column names."""
        root = self.manifest.get("metadata", {}).get("project_root") or ""
        for item in (self.manifest.get("nodes") or {}).values():
            root = root or item.get("root_path") or ""
        if not root:
            return {}
        path = Path(root) / "target" / "catalog.json"
        if not path.is_file():
            return {}
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return {}
        columns: dict[str, list[str]] = {}
        for section in ("nodes", "sources"):
            for uid, entry in (loaded.get(section) or {}).items():
                ordered = sorted((entry.get("columns") or {}).values(), key=lambda c: c.get("index", 0))
                columns[uid] = [str(c["name"]) for c in ordered]
        return columns

    def _schema(self, table: str) -> list[str] | None:
        if table not in self._schemas:
            self._schemas[table] = None  # a cycle reads as unknown columns
            self._schemas[table] = self._find_schema(table)
        return self._schemas[table]

    def _find_schema(self, table: str) -> list[str] | None:
        item = self.items.get(table)
        if item is None:
            return None
        uid = str(item.get("unique_id") or "")
        if self.catalog.get(uid):
            return self.catalog[uid]
        if item.get("resource_type") == "seed":
            path = Path(str(item.get("root_path") or "")) / str(item.get("original_file_path") or "")
            if path.is_file():
                with open(path, newline="", encoding="utf-8") as f:
                    header = next(csv.reader(f), None)
                if header:
                    return [h.strip() for h in header]
        found = self._lineage(table)
        if found is not None:
            return list(found)
        documented = [str(c.get("name") or k) for k, c in (item.get("columns") or {}).items()]
        return documented or None

    def _lineage(self, table: str) -> dict[str, SqlNode] | None:
        """Output column (lower case) -> sqlglot's lineage of it through the table's SQL; None without SQL."""
        if table in self._lineages:
            return self._lineages[table]
        self._lineages[table] = None
        item = self.items.get(table)
        if item is None or item.get("resource_type") not in ("model", "snapshot"):
            return None
        sql = self._sql(table, item)
        if sql is None:
            return None
        schema: dict[str, dict[str, dict[str, dict[str, str]]]] = {}
        for parent in (item.get("depends_on") or {}).get("nodes") or []:
            parent_id = self.node_ids.get(parent)
            parent_item = self.items.get(parent_id) if parent_id else None
            columns = self._schema(parent_id) if parent_id else None
            if parent_item is None or not columns:
                continue
            name = str(parent_item.get("alias") or parent_item.get("identifier") or parent_item.get("name"))
            schema.setdefault(str(parent_item.get("database") or ""), {}).setdefault(
                str(parent_item.get("schema") or ""), {})[name] = {c: "text" for c in columns}
        try:
            found = sql_lineage(None, sql, schema=schema, dialect=self.dialect)
        except (SqlglotError, ValueError, KeyError) as exc:
            self.out.warnings.append(f"{table}: cannot follow its columns through its SQL: {exc}")
            return None
        self._lineages[table] = {name.lower(): node for name, node in found.items()}
        return self._lineages[table]

    def _sql(self, table: str, item: Mapping[str, Any]) -> str | None:
        compiled = item.get("compiled_code")
        if compiled:
            return str(compiled)
        try:
            return render_raw_sql(self.manifest, item)
        except Exception as exc:  # a macro only dbt knows: say how to get dbt's own rendering
            self.out.warnings.append(f"{table}: the manifest holds no compiled SQL and its raw SQL cannot be "
                                     f"rendered without dbt ({exc}); run `dbt compile` first")
            return None


def _expression_text(node: SqlNode, column: str, dialect: str) -> str:
    """How a model computes a column, when it does more than pass a column of the same name through."""
    expression = node.expression
    inner = expression.this if isinstance(expression, exp.Alias) else expression
    if isinstance(inner, exp.Column) and inner.name.lower() == column.lower():
        return ""
    if isinstance(inner, exp.Table):
        return ""
    bare = inner.transform(lambda n: exp.column(n.name) if isinstance(n, exp.Column) else n)
    return str(bare.sql(dialect=dialect))


def render_raw_sql(manifest: Mapping[str, Any], item: Mapping[str, Any]) -> str:
    """A model's raw SQL with `ref`, `source`, `config`, `var`, `env_var`, `this` and `is_incremental`
    rendered the way dbt would for a full build; any other macro raises."""
    import jinja2
    import jinja2.sandbox

    nodes = [n for n in (manifest.get("nodes") or {}).values() if n.get("relation_name")]
    sources = list((manifest.get("sources") or {}).values())

    def ref(*args: str, **kwargs: Any) -> str:
        name = args[-1]
        package = args[0] if len(args) > 1 else None
        version = kwargs.get("v", kwargs.get("version"))
        for node in nodes:
            if node.get("name") == name and (package is None or node.get("package_name") == package) and (
                    version is None or str(node.get("version")) == str(version)):
                return str(node["relation_name"])
        raise ValueError(f"ref('{name}') names no node in the manifest")

    def source(source_name: str, table_name: str) -> str:
        for entry in sources:
            if entry.get("source_name") == source_name and entry.get("name") == table_name:
                return str(entry["relation_name"])
        raise ValueError(f"source('{source_name}', '{table_name}') names no source in the manifest")

    def var(name: str, default: Any = None) -> Any:
        if default is None:
            raise ValueError(f"var('{name}') has no default")
        return default

    def env_var(name: str, default: str | None = None) -> str:
        if name.startswith("DBT_ENV_SECRET") or SECRET_KEYS.search(name):  # dbt refuses these in models too
            raise ValueError(f"env_var('{name}') names a secret, which a model's SQL does not hold")
        value = os.environ.get(name, default)
        if value is None:
            raise ValueError(f"env_var('{name}') is not set")
        return value

    # a model's SQL may come from a branch under review: render it sandboxed, with dbt's few names only
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
    env.globals = {}
    template = env.from_string(str(item.get("raw_code") or ""))
    return template.render(ref=ref, source=source, var=var, env_var=env_var, config=lambda *a, **k: "",
                           is_incremental=lambda: False, this=str(item.get("relation_name") or ""))
