"""Project-level settings of metric management, as top-level keys of YAML files under the model paths.

dbt ignores unknown top-level keys, so `metricsctl_lint:` and `metricsctl_scorecard:` can sit in any
properties file (or a file of their own) without disturbing dbt.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from metricsctl.errors import SpecError, SpecIssue
from metricsctl.locations import YAML_LOADER, TooManyValues, check_size, yaml_files


def _mapping_item(node: yaml.Node, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return k, v
    return None


def find_config(project_dir: str | Path, folders: Iterable[str], key: str) -> tuple[str, Any] | None:
    """(`path:line`, value) of the one top-level `key` in the YAML files under `folders`, or None."""
    root = Path(project_dir)
    found: list[tuple[str, Any]] = []
    for path in yaml_files(root, folders):
        try:
            text = path.read_text(encoding="utf-8")
            if key not in text:
                continue
            node = yaml.compose(text, Loader=YAML_LOADER)
        except (yaml.YAMLError, UnicodeDecodeError):
            continue  # dbt reports broken YAML itself
        item = _mapping_item(node, key) if node is not None else None
        if item is None:
            continue
        key_node, value_node = item
        try:
            check_size(value_node)
        except TooManyValues as exc:
            raise SpecError([SpecIssue(f"{key}: {exc.problem}", str(path.relative_to(root)),
                                       key_node.start_mark.line + 1)]) from None
        found.append((f"{path.relative_to(root)}:{key_node.start_mark.line + 1}",
                      yaml.safe_load(yaml.serialize(value_node))))
    if not found:
        return None
    if len(found) > 1:
        raise SpecError([SpecIssue(f"{key} is defined more than once (also at {found[0][0]}); keep one",
                                   *split_where(found[1][0]))])
    return found[0]


def split_where(where: str) -> tuple[str, int | None]:
    """`path:line` -> (path, line)."""
    path, _, line = where.rpartition(":")
    if not path:
        return where, None
    return path, int(line) if line.isdigit() else None
