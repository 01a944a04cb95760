"""The lineage graph: nodes with readable ids, edges that point the way data flows, and walks over them.

A node id is `<kind>:<name>`: `seed:orders`, `source:raw.orders`, `model:stg_orders`,
`semantic_model:orders`, `measure:orders.revenue`, `dimension:customers.region`, `metric:revenue`,
`saved_query:sales_by_month`, `export:sales_by_month`, `exposure:sales_dashboard`; column nodes add the
column to their table's id (`seed:order_lines.quantity`). An edge goes from what is read to what reads it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from metricsctl.errors import QueryError

Direction = Literal["up", "down", "both"]
DIRECTIONS: tuple[Direction, ...] = ("up", "down", "both")

# A bare name that several nodes share means the metric, when there is one: what people ask about most.
PREFERRED_KIND = "metric"


@dataclass(frozen=True)
class Node:
    id: str
    kind: str  # seed, source, model, snapshot, semantic_model, measure, dimension, metric, saved_query,
    # export, exposure, column, or the kind of an attached node (e.g. expectation_suite, alert)
    name: str  # what a user types: `revenue`, `order_lines.quantity`
    label: str = ""  # the human name (a metric's label, an exposure's label)
    detail: str = ""  # one line: a formula, an aggregation, a materialization
    path: str | None = None  # where it is defined, `metrics/sales.yml:12`
    attrs: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Edge:
    source: str  # upstream: what is read
    target: str  # downstream: what reads it
    kind: str  # how: model, measure, numerator, denominator, input, base, conversion, filter, join, ...
    label: str = ""  # the detail a reader needs: `offset 1 month`, `via order`
    attrs: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.source, self.target, self.kind, self.label)


@dataclass(frozen=True)
class Attachment:
    """A node another module owns (an expectation suite, an alert rule), hung onto the graph.

    `id` is `<kind>:<name>` (e.g. `expectation_suite:orders`, `alert:revenue_drop`); `upstream` lists the
    ids of the nodes it reads, in any form `LineageGraph.resolve` accepts.
    """

    id: str
    upstream: tuple[str, ...]
    label: str = ""
    detail: str = ""
    path: str | None = None
    edge_kind: str = "reads"
    # what it slices and filters its metrics by, as a saved query does: `dimensions` are group-by names
    # (`order__customer__region`), `filters` Jinja where filters; their semantic models are upstream too
    metrics: tuple[str, ...] = ()
    dimensions: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()  # further upstream nodes it reads (edge kind "reads"), e.g. a targets table


class LineageGraph:
    """Nodes and edges, indexed both ways."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self._edges: dict[tuple[str, str, str, str], Edge] = {}
        self._in: dict[str, list[Edge]] = {}
        self._out: dict[str, list[Edge]] = {}
        self.warnings: list[str] = []
        self.truncated: set[str] = set()  # nodes a depth-limited walk stopped at, with more beyond

    # --- building ------------------------------------------------------------------------------
    def add_node(self, node: Node) -> Node:
        """Add `node`, or return the node already there under its id."""
        return self.nodes.setdefault(node.id, node)

    def add_edge(self, edge: Edge) -> None:
        for end in (edge.source, edge.target):
            if end not in self.nodes:
                raise KeyError(f"edge {edge.source} -> {edge.target}: no node '{end}'")
        if edge.source == edge.target or edge.key in self._edges:
            return
        self._edges[edge.key] = edge
        self._out.setdefault(edge.source, []).append(edge)
        self._in.setdefault(edge.target, []).append(edge)

    def attach(self, attachments: Iterable[Attachment]) -> None:
        """Hang nodes of other modules onto the graph; an upstream that does not exist becomes a warning."""
        for item in attachments:
            kind, sep, name = item.id.partition(":")
            if not sep or not kind or not name:
                raise ValueError(f"attachment id '{item.id}' must be written kind:name")
            self.add_node(Node(item.id, kind, name, item.label, item.detail, item.path))
            edges = [*((u, item.edge_kind) for u in item.upstream), *((u, "reads") for u in item.reads)]
            for upstream, edge_kind in edges:
                try:
                    source = self._relation(upstream) if edge_kind == "reads" else self.resolve(upstream)
                except QueryError as exc:
                    self.warnings.append(f"{item.id} reads {upstream}, which is not in the project: {exc}")
                    continue
                self.add_edge(Edge(source, item.id, edge_kind))

    def _relation(self, name: str) -> str:
        """The warehouse relation a bare name means (a model, then a seed, snapshot or source), not a
        suite or a metric of the same name."""
        for kind in ("model", "seed", "snapshot", "source"):
            if f"{kind}:{name}" in self.nodes:
                return f"{kind}:{name}"
        return self.resolve(name)

    # --- reading -------------------------------------------------------------------------------
    @property
    def edges(self) -> list[Edge]:
        return list(self._edges.values())

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]

    def parents(self, node_id: str) -> list[Edge]:
        """Edges into `node_id` (what it reads)."""
        return list(self._in.get(node_id, ()))

    def children(self, node_id: str) -> list[Edge]:
        """Edges out of `node_id` (what reads it)."""
        return list(self._out.get(node_id, ()))

    def resolve(self, text: str) -> str:
        """The node id a user means: a full id, a dbt unique id, or a bare name (a metric first).

        Raises QueryError listing the candidates when a name is ambiguous, or suggesting names when
        nothing matches.
        """
        text = text.strip()
        if text in self.nodes:
            return text
        by_dbt_id = [n.id for n in self.nodes.values() if n.attrs.get("dbt_id") == text]
        if len(by_dbt_id) == 1:
            return by_dbt_id[0]
        kind, sep, name = text.partition(":")
        if sep:
            pool = [n for n in self.nodes.values() if n.kind == kind]
            if not pool:
                kinds = ", ".join(sorted({n.kind for n in self.nodes.values()}))
                raise QueryError(f"'{text}': there is no node of kind '{kind}'; kinds are {kinds}")
            # `measure:revenue` and `dimension:region` without their semantic model
            in_kind = [n.id for n in pool if n.name == name or n.id.split(":", 1)[1].split(".")[-1] == name]
            if len(in_kind) == 1:
                return in_kind[0]
            if len(in_kind) > 1:
                raise QueryError(f"'{text}' is ambiguous: it names " + ", ".join(sorted(in_kind))
                                 + "; write one of them in full")
            raise QueryError(f"no {kind} '{name}' in the lineage graph"
                             + _suggest(name, [n.name for n in pool], kind + ":"))
        matches = [n for n in self.nodes.values() if n.name == text or n.id.split(":", 1)[1] == text]
        preferred = [n for n in matches if n.kind == PREFERRED_KIND]
        if len(preferred) == 1:
            return preferred[0].id
        if len(matches) == 1:
            return matches[0].id
        if matches:
            raise QueryError(f"'{text}' is ambiguous: it names " + ", ".join(sorted(n.id for n in matches))
                             + "; write one of them in full")
        close = difflib.get_close_matches(text, sorted({n.name for n in self.nodes.values()}), n=5, cutoff=0.6)
        ordered = sorted(self.nodes.values(), key=lambda n: (n.kind != PREFERRED_KIND, n.id))
        ids = [n.id for name in close for n in ordered if n.name == name][:5]
        hint = ("; did you mean " + ", ".join(f"'{i}'" for i in ids) + "?") if ids else (
            "; write kind:name, e.g. metric:revenue or model:stg_orders")
        raise QueryError(f"no node named '{text}' in the lineage graph{hint}")

    # --- walking -------------------------------------------------------------------------------
    def walk(self, root: str, direction: Direction, depth: int | None = None) -> LineageGraph:
        """The part of the graph `depth` steps (None: any number) up, down or both ways from `root`."""
        if direction not in DIRECTIONS:
            raise QueryError(f"direction must be one of {', '.join(DIRECTIONS)}, not '{direction}'")
        if depth is not None and depth < 0:
            raise QueryError(f"depth must be 0 or more, not {depth}")
        sub = LineageGraph()
        sub.warnings = list(self.warnings)
        sub.add_node(self.nodes[root])
        if direction in ("up", "both"):
            self._walk_into(sub, root, depth, upward=True)
        if direction in ("down", "both"):
            self._walk_into(sub, root, depth, upward=False)
        return sub

    def _walk_into(self, sub: LineageGraph, root: str, depth: int | None, upward: bool) -> None:
        seen = {root}
        frontier = [root]
        step = 0
        while frontier and (depth is None or step < depth):
            step += 1
            following: list[str] = []
            for current in frontier:
                for edge in (self.parents(current) if upward else self.children(current)):
                    other = edge.source if upward else edge.target
                    sub.add_node(self.nodes[other])
                    sub.add_edge(edge)
                    if other not in seen:
                        seen.add(other)
                        following.append(other)
            frontier = following
        for current in frontier:  # stopped by the depth: say where there is more
            if self.parents(current) if upward else self.children(current):
                sub.truncated.add(current)


def _suggest(name: str, candidates: list[str], prefix: str) -> str:
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=5, cutoff=0.6)
    if close:
        return "; did you mean " + ", ".join(f"'{prefix}{c}'" for c in close) + "?"
    return ""


@dataclass(frozen=True)
class Lineage:
    """What `metricsctl lineage NODE` shows: the part of the graph around one node."""

    root: str
    direction: Direction
    depth: int | None
    graph: LineageGraph
    columns: bool = False
