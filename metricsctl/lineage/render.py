"""Lineage as text: a terminal tree, JSON, Mermaid and Graphviz DOT."""

from __future__ import annotations

import re
from collections.abc import Callable

from metricsctl.errors import QueryError
from metricsctl.jsonable import dumps
from metricsctl.lineage.graph import Edge, Lineage, LineageGraph, Node

FORMATS = ("tree", "json", "mermaid", "dot")

# Edge kinds whose name says nothing a reader needs on a diagram (the node kinds say it already).
QUIET_KINDS = frozenset({"ref", "model", "defines", "measure", "metric", "export", "depends_on", "column", "reads"})


def render(lineage: Lineage, fmt: str = "tree") -> str:
    """`lineage` in one of FORMATS."""
    renderers: dict[str, Callable[[Lineage], str]] = {
        "tree": render_tree, "json": render_json, "mermaid": render_mermaid, "dot": render_dot}
    if fmt not in renderers:
        raise QueryError(f"unknown lineage format '{fmt}'; use one of {', '.join(FORMATS)}")
    return renderers[fmt](lineage)


def edge_text(edge: Edge) -> str:
    """What an edge says on a diagram: `input: offset 1 month`, `numerator`, or nothing."""
    if edge.kind in QUIET_KINDS:
        return one_line(edge.label)
    return f"{edge.kind}: {one_line(edge.label)}" if edge.label else edge.kind


def one_line(text: str) -> str:
    """Text on one line: a multi-line description or SQL expression would break the tree's branches."""
    return " ".join(text.split())


def node_line(node: Node) -> str:
    """`metric:revenue "Revenue" — simple: sum(...) over order_lines`, always on one line."""
    text = node.id
    if node.label and node.label != node.name:
        text += f' "{one_line(node.label)}"'
    if node.detail:
        text += f" — {one_line(node.detail)}"
    return text


# --- tree ------------------------------------------------------------------------------------------
def render_tree(lineage: Lineage) -> str:
    graph = lineage.graph
    lines = [node_line(graph.node(lineage.root))]
    sections = [("up", "upstream (what it reads):"), ("down", "downstream (what reads it):")]
    for direction, title in sections:
        if lineage.direction not in (direction, "both"):
            continue
        upward = direction == "up"
        edges = graph.parents(lineage.root) if upward else graph.children(lineage.root)
        lines.append(title)
        if not edges:
            lines.append("    …" if lineage.root in graph.truncated else "    (nothing)")
        expanded: set[str] = set()
        _branches(graph, lineage.root, upward, "", expanded, {lineage.root}, lines)
    lines += [f"warning: {w}" for w in graph.warnings]
    return "\n".join(lines) + "\n"


def _branches(graph: LineageGraph, node_id: str, upward: bool, prefix: str, expanded: set[str],
              path: set[str], lines: list[str]) -> None:
    edges = graph.parents(node_id) if upward else graph.children(node_id)
    for i, edge in enumerate(edges):
        last = i == len(edges) - 1
        other = edge.source if upward else edge.target
        how = f"{edge.kind}: {one_line(edge.label)}" if edge.label else edge.kind
        more = graph.parents(other) if upward else graph.children(other)
        text = f"{prefix}{'└── ' if last else '├── '}[{how}] {node_line(graph.node(other))}"
        if other in path:
            lines.append(text + " (cycle)")
            continue
        if more and other in expanded:
            lines.append(text + " (see above)")
            continue
        if other in graph.truncated:
            text += " …"
        lines.append(text)
        expanded.add(other)
        _branches(graph, other, upward, prefix + ("    " if last else "│   "), expanded, path | {other}, lines)


# --- JSON ------------------------------------------------------------------------------------------
def render_json(lineage: Lineage) -> str:
    graph = lineage.graph
    document = {
        "root": lineage.root,
        "direction": lineage.direction,
        "depth": lineage.depth,
        "columns": lineage.columns,
        "nodes": [{"id": n.id, "kind": n.kind, "name": n.name, "label": n.label, "detail": n.detail,
                   "path": n.path, "attrs": dict(n.attrs), "truncated": n.id in graph.truncated}
                  for n in graph.nodes.values()],
        "edges": [{"source": e.source, "target": e.target, "kind": e.kind, "label": e.label, "attrs": dict(e.attrs)}
                  for e in graph.edges],
        "warnings": list(graph.warnings),
    }
    return dumps(document) + "\n"


# --- Mermaid ---------------------------------------------------------------------------------------
_MERMAID_SHAPES = {"seed": ('[("', '")]'), "source": ('[("', '")]'), "column": ('["', '"]'),
                   "metric": ('("', '")'), "measure": ('(["', '"])'), "exposure": ('>"', '"]'),
                   "saved_query": ('[/"', '"/]'), "export": ('[["', '"]]')}
_COLORS = {"seed": "#e8f0fe", "source": "#e8f0fe", "model": "#eef7ee", "snapshot": "#eef7ee",
           "export": "#fdf3e1", "semantic_model": "#f3e8fd", "measure": "#f3e8fd", "dimension": "#f3e8fd",
           "metric": "#fde8ec", "saved_query": "#fdf3e1", "exposure": "#fff9c4", "column": "#f5f5f5"}


def mermaid_ids(graph: LineageGraph) -> dict[str, str]:
    """Node id -> a Mermaid-safe identifier (`metric:revenue` -> `metric_revenue`), unique."""
    taken: set[str] = set()
    ids: dict[str, str] = {}
    for node_id in graph.nodes:
        base = re.sub(r"\W", "_", node_id)
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base}_{n}"
        taken.add(candidate)
        ids[node_id] = candidate
    return ids


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def render_mermaid(lineage: Lineage) -> str:
    graph = lineage.graph
    ids = mermaid_ids(graph)
    lines = ["flowchart LR"]
    for node in graph.nodes.values():
        opening, closing = _MERMAID_SHAPES.get(node.kind, ('["', '"]'))
        text = _mermaid_text(node.id) + (f"<br/>{_mermaid_text(node.label)}" if node.label else "")
        lines.append(f"  {ids[node.id]}{opening}{text}{closing}")
    for edge in graph.edges:
        text = edge_text(edge)
        arrow = f'-->|"{_mermaid_text(text)}"|' if text else "-->"
        lines.append(f"  {ids[edge.source]} {arrow} {ids[edge.target]}")
    kinds = sorted({n.kind for n in graph.nodes.values()})
    for kind in kinds:
        members = ",".join(ids[n.id] for n in graph.nodes.values() if n.kind == kind)
        lines.append(f"  classDef {kind} fill:{_COLORS.get(kind, '#ffffff')},stroke:#555")
        lines.append(f"  class {members} {kind}")
    lines.append(f"  style {ids[lineage.root]} stroke-width:3px")
    return "\n".join(lines) + "\n"


# --- Graphviz DOT ----------------------------------------------------------------------------------
_DOT_SHAPES = {"seed": "cylinder", "source": "cylinder", "metric": "ellipse", "measure": "oval",
               "dimension": "oval", "exposure": "house", "saved_query": "parallelogram", "export": "box3d",
               "column": "plaintext"}


def _dot(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render_dot(lineage: Lineage) -> str:
    graph = lineage.graph
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [shape=box, style=filled, fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=10];']
    for node in graph.nodes.values():
        label = node.id + (f"\n{node.label}" if node.label else "")
        attrs = [f"label={_dot(label)}", f"shape={_DOT_SHAPES.get(node.kind, 'box')}",
                 f"fillcolor={_dot(_COLORS.get(node.kind, '#ffffff'))}"]
        if node.id == lineage.root:
            attrs.append("penwidth=3")
        lines.append(f"  {_dot(node.id)} [{', '.join(attrs)}];")
    for edge in graph.edges:
        text = edge_text(edge)
        label = f" [label={_dot(text)}]" if text else ""
        lines.append(f"  {_dot(edge.source)} -> {_dot(edge.target)}{label};")
    lines.append("}")
    return "\n".join(lines) + "\n"
