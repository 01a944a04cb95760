"""The loaded, validated semantic manifest, kept under target/ so that a command need not parse it again.

dbt-semantic-interfaces parses a semantic manifest into pydantic models, and importing those models alone
costs about a third of a second. metricsctl reads the spec only through attributes, so once a manifest is
parsed and validated it becomes a tree of plain `Node` objects (the same attribute names and values, the
library's own enums), and that tree is pickled under target/. The next command whose semantic_manifest.json
has the same bytes reads the tree back without importing pydantic at all.

The cache is never trusted blindly: its first line is a key (the manifest's sha256, metricsctl's version,
the cache format and the dbt-semantic-interfaces release that parsed it); a file with another key, or one
that does not unpickle into a tree of `Node`s, is ignored and written again. Unpickling admits only
`Node` and the library's enums, so a tampered file cannot run code. Writes go through a temporary file
and `os.replace`, so a reader never sees half a cache.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import io
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import metricsctl

CACHE_FILE = "metricsctl_spec.pickle"
FORMAT = "1"  # raise when the tree's shape changes
_ENUM_MODULES = "dbt_semantic_interfaces.type_enums."


class Node:
    """One object of a semantic manifest (a metric, a measure, a filter...) with the attributes
    dbt-semantic-interfaces gives it, compared and hashed by value as the library's models are."""

    _kind: str  # the library's class name (PydanticMetric, PydanticMeasure...), for repr

    def __init__(self, kind: str, fields: dict[str, Any]) -> None:
        self.__dict__.update(fields)
        self.__dict__["_kind"] = kind

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Node) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash(_frozen(self))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items() if k != "_kind")
        return f"{self._kind}({fields})"

    def json(self) -> str:
        """The object as JSON, as pydantic's `.json()` writes it (enums as their values)."""
        return json.dumps(_plain(self))


def _plain(value: Any) -> Any:
    if isinstance(value, Node):
        return {k: _plain(v) for k, v in value.__dict__.items() if k != "_kind"}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value.value if isinstance(value, enum.Enum) else value


def _frozen(value: Any) -> Any:
    if isinstance(value, Node):
        return tuple((k, _frozen(v)) for k, v in value.__dict__.items())
    if isinstance(value, dict):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


def to_nodes(value: Any) -> Any:
    """A pydantic model of dbt-semantic-interfaces (and everything in it) as `Node`s; other values as they are."""
    fields = getattr(type(value), "__fields__", None)
    if isinstance(fields, dict):
        return Node(type(value).__name__, {name: to_nodes(getattr(value, name)) for name in fields})
    if isinstance(value, list):
        return [to_nodes(v) for v in value]
    if isinstance(value, tuple):
        return tuple(to_nodes(v) for v in value)
    if isinstance(value, dict):
        return {k: to_nodes(v) for k, v in value.items()}
    return value


def cache_key(manifest_bytes: bytes) -> bytes:
    """What a cached tree must have been made from: these manifest bytes, by this metricsctl and library."""
    digest = hashlib.sha256(manifest_bytes).hexdigest()
    return f"{digest} metricsctl={metricsctl.__version__} format={FORMAT} dsi={_library_release()}".encode()


def _library_release() -> str:
    """The installed dbt-semantic-interfaces release, from its dist-info folder's name (importlib.metadata
    would cost more than the whole cache saves on a small project)."""
    import importlib.util

    found = importlib.util.find_spec("dbt_semantic_interfaces")
    origin = found.origin if found is not None else None
    if not origin:
        return "missing"
    package = Path(origin).parent
    infos = sorted(p.name for p in package.parent.glob("dbt_semantic_interfaces-*.dist-info"))
    if infos:
        return infos[-1].removesuffix(".dist-info").split("-", 1)[1]
    return str(package.stat().st_mtime_ns)  # not installed from a wheel: any change to the folder counts


def read(path: Path, key: bytes) -> Node | None:
    """The tree cached at `path` for `key`; None when there is none, it was made from something else, or it
    is damaged in any way."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    header, newline, body = data.partition(b"\n")
    if not newline or header != key:
        return None
    try:
        tree = _NodeUnpickler(io.BytesIO(body)).load()
    except Exception:  # noqa: BLE001 - a damaged cache is rebuilt, whatever is wrong with it
        return None
    return tree if isinstance(tree, Node) else None


def write(path: Path, key: bytes, tree: Node) -> None:
    """Cache `tree` at `path` atomically; a folder that cannot be written only costs the next command time."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(key + b"\n")
                pickle.dump(tree, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.chmod(temporary, 0o644)  # as readable as the manifest it stands for (mkstemp makes it 0600)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


class _NodeUnpickler(pickle.Unpickler):
    """Admits only `Node` and dbt-semantic-interfaces' enums: a cache file is data, never code."""

    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name == "Node":
            return Node
        if module.startswith(_ENUM_MODULES) and "." not in name:
            found = super().find_class(module, name)
            if isinstance(found, type) and issubclass(found, enum.Enum):
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a cached spec")
