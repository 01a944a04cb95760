"""Which warehouse relation a suite's `relation:` names, resolved through dbt's target/manifest.json.

A suite names a relation the way a dbt user does: a model, seed or snapshot by name (`stg_orders`), a
source as `source_name.table_name` (`raw.orders`), or a node's unique_id. The manifest knows where dbt
put it (database.schema.identifier, after aliases and custom schemas) and which nodes read from it.
Without a manifest a name is taken as a warehouse table, `[[database.]schema.]identifier`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

RELATION_TYPES = ("model", "seed", "snapshot")


@dataclass(frozen=True)
class Relation:
    """A table or view in the warehouse, and the dbt node that builds it (when known)."""

    identifier: str
    schema: str | None = None
    database: str | None = None
    unique_id: str | None = None
    name: str | None = None  # the name the suite used

    def table(self) -> exp.Table:
        """The relation as a sqlglot table, every part quoted."""
        return exp.table_(exp.to_identifier(self.identifier, quoted=True),
                          db=exp.to_identifier(self.schema, quoted=True) if self.schema else None,
                          catalog=exp.to_identifier(self.database, quoted=True) if self.database else None)

    def __str__(self) -> str:
        return ".".join(p for p in (self.database, self.schema, self.identifier) if p)


class RelationResolver:
    """Names -> Relations, from a dbt manifest (or, without one, literally)."""

    def __init__(self, manifest: Mapping[str, Any] | None = None) -> None:
        self.manifest = manifest
        self._by_name: dict[str, list[Mapping[str, Any]]] = {}
        self._by_id: dict[str, Mapping[str, Any]] = {}
        if manifest is None:
            return
        project = str((manifest.get("metadata") or {}).get("project_name") or "")
        nodes = [n for n in (manifest.get("nodes") or {}).values() if n.get("resource_type") in RELATION_TYPES]
        # the root project's node first, so that a name shared with a package's model means ours
        nodes.sort(key=lambda n: (n.get("package_name") != project, str(n.get("unique_id"))))
        for node in nodes:
            self._by_name.setdefault(str(node["name"]), []).append(node)
            self._by_id[str(node["unique_id"])] = node
        for source in (manifest.get("sources") or {}).values():
            self._by_name.setdefault(f"{source['source_name']}.{source['name']}", []).append(source)
            self._by_id[str(source["unique_id"])] = source

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def resolve(self, name: str) -> Relation:
        """The relation `name` refers to; raises LookupError with a message naming the fix."""
        if self.manifest is None:
            parts = name.split(".")
            if not 1 <= len(parts) <= 3 or not all(parts):
                raise LookupError(f"'{name}' is not a relation name (expected [[database.]schema.]table)")
            identifier, schema, database = ([*reversed(parts), None, None])[:3]
            return Relation(str(identifier), schema, database, None, name)
        node = self._by_id.get(name)
        if node is None:
            candidates = self._by_name.get(name, [])
            if not candidates:
                close = difflib.get_close_matches(name, self.names(), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise LookupError(f"unknown relation '{name}'{hint}: not a model, seed, snapshot or "
                                  "source (source_name.table_name) in dbt's manifest")
            node = _pick(candidates)
        if (node.get("config") or {}).get("materialized") == "ephemeral":
            raise LookupError(f"'{name}' is an ephemeral model: it has no table or view in the warehouse "
                              "to check; put the expectations on a model it reads or one that reads it")
        identifier = node.get("identifier") if node.get("resource_type") == "source" else node.get("alias")
        return Relation(str(identifier or node["name"]), _str_or_none(node.get("schema")),
                        _str_or_none(node.get("database")), str(node["unique_id"]), name)


def _pick(candidates: list[Mapping[str, Any]]) -> Mapping[str, Any]:
    """Among nodes of one name, the root project's latest version."""
    first = candidates[0]
    same_package = [n for n in candidates if n.get("package_name") == first.get("package_name")]
    latest = [n for n in same_package if n.get("version") is None or n.get("version") == n.get("latest_version")]
    return (latest or same_package)[0]


def _str_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
