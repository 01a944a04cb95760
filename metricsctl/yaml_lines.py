"""YAML read with the line of every mapping and of each of its keys, for messages that name the line to fix.

Each mapping read by `load` carries its own line under `LINE` and its keys' lines under `KEY_LINES`;
`without_lines` gives the YAML back as a plain reader (dbt) sees it.
"""

from __future__ import annotations

from typing import Any, overload

import yaml

from metricsctl.locations import check_size

LINE = "__line__"
KEY_LINES = "__key_lines__"


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader whose mappings keep their line under `LINE`, and each key's under `KEY_LINES`."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping[LINE] = node.start_mark.line + 1
    mapping[KEY_LINES] = {str(key.value): key.start_mark.line + 1 for key, _ in node.value
                          if isinstance(key, yaml.ScalarNode)}
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load(text: str) -> Any:
    """The YAML document in `text`, its mappings marked with their lines; raises yaml.YAMLError, also for a
    document nested deeper than Python reads, or holding more values than metricsctl reads (check_size)."""
    loader = _LineLoader(text)
    try:
        node = loader.get_single_node()
        check_size(node)
        return loader.construct_document(node) if node is not None else None
    except RecursionError:
        raise yaml.YAMLError("nested too deeply to read; flatten the most deeply nested value") from None
    finally:
        loader.dispose()


@overload
def line(item: Any, key: str | None, default: int) -> int: ...
@overload
def line(item: Any, key: str | None = None, *, default: int) -> int: ...
@overload
def line(item: Any, key: str | None = None, default: None = None) -> int | None: ...
def line(item: Any, key: str | None = None, default: int | None = None) -> int | None:
    """The line where `key` is written in the mapping `item`, else where `item` starts, else `default`."""
    if not isinstance(item, dict):
        return default
    lines = item.get(KEY_LINES)
    if key is not None and isinstance(lines, dict) and key in lines:
        return int(lines[key])
    return int(item[LINE]) if LINE in item else default


def fields(item: dict[str, Any]) -> dict[str, Any]:
    """A mapping's own keys, without the line marks."""
    return {k: v for k, v in item.items() if k not in (LINE, KEY_LINES)}


def without_lines(value: Any) -> Any:
    """The YAML as dbt reads it: every mapping without the line marks, at every depth."""
    if isinstance(value, dict):
        return {k: without_lines(v) for k, v in fields(value).items()}
    if isinstance(value, list):
        return [without_lines(v) for v in value]
    return value
