"""Lineage from source systems to alerts: `metricsctl lineage NODE`.

Build the graph once (`build_graph`), then walk it from a node (`trace`) or follow a node's columns
down to the source columns they read (`trace_columns`), and print the result (`render`).
`lineage_of` does all three steps but the printing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from metricsctl.errors import QueryError
from metricsctl.lineage.build import build_graph
from metricsctl.lineage.columns import trace_columns
from metricsctl.lineage.graph import DIRECTIONS, Attachment, Direction, Edge, Lineage, LineageGraph, Node
from metricsctl.lineage.render import FORMATS, render
from metricsctl.spec import Spec

__all__ = ["DIRECTIONS", "FORMATS", "Attachment", "Direction", "Edge", "Lineage", "LineageGraph", "Node",
           "build_graph", "lineage_of", "render", "trace", "trace_columns"]


def trace(graph: LineageGraph, node: str, direction: Direction = "both", depth: int | None = None) -> Lineage:
    """The lineage around `node` (any form `LineageGraph.resolve` accepts), `depth` steps each way."""
    root = graph.resolve(node)
    return Lineage(root, direction, depth, graph.walk(root, direction, depth))


def lineage_of(spec: Spec, manifest: Mapping[str, Any], node: str, direction: Direction = "both",
               depth: int | None = None, columns: bool = False, dialect: str = "duckdb",
               attachments: Iterable[Attachment] = ()) -> Lineage:
    """`metricsctl lineage NODE [--up|--down] [--depth N] [--columns]` without the printing."""
    graph = build_graph(spec, manifest, attachments, dialect)
    if not columns:
        return trace(graph, node, direction, depth)
    if direction == "down":
        raise QueryError("column lineage goes upstream only, from a metric or model to the source columns it "
                         "reads; leave out the downstream option with --columns")
    return trace_columns(graph, manifest, node, dialect, depth)
