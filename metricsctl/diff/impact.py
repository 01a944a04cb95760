"""What a change reaches downstream, and which changes break consumers.

Downstream is read off the lineage graphs: every change that can move values (anything but a label,
description or meta) is walked down the head's graph, and down the base's too, so that what reads a
removed metric (an alert, an export, a dashboard) is found in the graph where it still exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from metricsctl.diff.semantic import Change, SemanticDiff
from metricsctl.lineage.graph import Attachment, LineageGraph
from metricsctl.spec import Spec

# Kinds a user consumes; the upstream kinds (seeds, measures, dimensions) are never reached downstream.
DOWNSTREAM_KINDS = ("metric", "saved_query", "export", "model", "exposure", "alert")
HIDDEN_KINDS = frozenset({"seed", "source", "snapshot", "semantic_model", "measure", "dimension", "column"})


@dataclass(frozen=True)
class Affected:
    """A node downstream of some change, and the changes that reach it."""

    kind: str  # metric, saved_query, export, model, exposure, alert, ...
    name: str
    status: str  # affected, added (only in head), removed (only in base)
    reasons: tuple[str, ...]  # `metric `x`: filter changed`, nearest first
    path: str | None = None
    detail: str = ""

    @property
    def title(self) -> str:
        return f"{self.kind.replace('_', ' ')} `{self.name}`"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "status": self.status, "reasons": list(self.reasons),
                "path": self.path, "detail": self.detail}


@dataclass(frozen=True)
class Breaking:
    """One change that breaks a consumer, said the way a reviewer needs to read it."""

    kind: str
    name: str
    what: str
    path: str | None = None

    @property
    def text(self) -> str:
        return f"{self.kind.replace('_', ' ')} `{self.name}`: {self.what}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "what": self.what, "path": self.path}


def lineage_graph(spec: Spec, manifest: Mapping[str, Any], attachments: Iterable[Attachment] = (),
                  dialect: str = "duckdb") -> LineageGraph:
    """The project's lineage graph."""
    from metricsctl.lineage import build_graph

    return build_graph(spec, manifest, attachments, dialect)


def reason(change: Change) -> str:
    return f"{change.title}: {change.summary}"


def downstream(semantic: SemanticDiff, base: LineageGraph, head: LineageGraph) -> tuple[Affected, ...]:
    """Every consumer-facing node a value-moving change reaches, in head or (for removed things) base."""
    reached: dict[str, list[str]] = {}
    found_in: dict[str, LineageGraph] = {}
    for change in semantic.changes:
        if not change.changes_values:
            continue
        why = reason(change)
        for graph in (head, base):
            if change.node_id not in graph.nodes:
                continue
            for node_id, node in graph.walk(change.node_id, "down").nodes.items():
                if node.kind in HIDDEN_KINDS:
                    continue
                reasons = reached.setdefault(node_id, [])
                if why not in reasons:
                    reasons.append(why)
                found_in.setdefault(node_id, graph)
    affected = []
    for node_id, reasons in reached.items():
        node = found_in[node_id].node(node_id)
        status = "removed" if node_id not in head.nodes else "added" if node_id not in base.nodes else "affected"
        affected.append(Affected(node.kind, node.name, status, tuple(reasons), node.path, node.detail))
    order = {kind: i for i, kind in enumerate(DOWNSTREAM_KINDS)}
    return tuple(sorted(affected, key=lambda a: (order.get(a.kind, len(order)), a.kind, a.name)))


def _readers(graph: LineageGraph, node_id: str, kind: str = "metric") -> list[str]:
    if node_id not in graph.nodes:
        return []
    return sorted({graph.node(e.target).name for e in graph.children(node_id) if graph.node(e.target).kind == kind})


def breaking_changes(semantic: SemanticDiff, base: LineageGraph, head: LineageGraph) -> tuple[Breaking, ...]:
    """The changes that break a consumer: removals, renames, and definitions whose meaning changed."""
    found: list[Breaking] = []
    for change in semantic.changes:
        if not change.breaking:
            continue
        fields = [f.field for f in change.fields if f.breaking]
        if change.status == "removed":
            what = {"metric": "removed", "dimension": "removed: queries that group or filter by it fail",
                    "entity": "removed: queries that join or group through it fail",
                    "export": "removed: its table or view is no longer built",
                    "saved_query": "removed"}.get(change.kind, "removed")
            if change.note:
                what = change.note if what == "removed" else f"{what} ({change.note})"
            if change.kind == "metric" and change.node_id in base.nodes:
                readers = sorted({f"{n.kind.replace('_', ' ')} `{n.name}`"
                                  for n in base.walk(change.node_id, "down", 1).nodes.values()
                                  if n.kind in ("metric", "saved_query", "alert") and n.id != change.node_id})
                if readers:
                    what += f"; read by {', '.join(readers)}"
        elif change.kind == "measure":
            metrics = _readers(head, change.node_id) or _readers(base, change.node_id)
            what = f"{_and(fields)} changed"
            if metrics:
                what += f", which changes the metric{'s' if len(metrics) > 1 else ''} " + ", ".join(
                    f"`{m}`" for m in metrics)
        elif change.kind == "export":
            parts = []
            for f in change.fields:
                if f.field == "relation" and f.breaking:
                    parts.append(f"moves from `{f.base}` to `{f.head}`")
            parts += [n for n in change.note.split("; ") if n.startswith("columns removed")]
            what = "; ".join(parts) or f"{_and(fields)} changed"
        elif change.kind == "saved_query":
            details = []
            for f in change.fields:
                if not f.breaking:
                    continue
                if f.field in ("metrics", "group_by"):
                    if _readers(head, change.node_id, "export"):
                        continue  # its exports say which columns went
                    gone = [s for s in (f.base or "").split(", ") if s not in (f.head or "").split(", ")]
                    details.append(f"{f.field} removed: {', '.join(gone)}")
                else:
                    details.append(f"{f.field} changed")
            if not details:
                continue
            what = "; ".join(details)
        else:
            what = f"{_and(fields)} changed"
        found.append(Breaking(change.kind, change.name, what, change.path))
    return tuple(found)


def _and(names: list[str]) -> str:
    return (", ".join(names[:-1]) + " and " + names[-1]) if len(names) > 1 else (names[0] if names else "")
