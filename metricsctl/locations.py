"""Where each metric, semantic model and saved query is written: file and line, for error messages.

dbt's semantic manifest keeps no line numbers, so the project's YAML files are read once more with
node marks. Only the three Semantic Layer sections are indexed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from metricsctl.compiler.collector import collector_paused
from metricsctl.errors import SpecIssue

SECTIONS = ("semantic_models", "metrics", "saved_queries")
DUPLICATE = "duplicate"  # (DUPLICATE, section, name, n): where an element is defined again
MISPLACED_META = "misplaced meta"  # (MISPLACED_META, "metrics", name): a metric's `meta:` outside `config:`
CHILD_SECTIONS = ("measures", "dimensions", "entities", "exports")


@dataclass(frozen=True)
class Location:
    path: str
    line: int


@dataclass
class LocationIndex:
    """(section, name) -> where it is; (section, name, child section, child name) for nested items;
    (section, name, "meta", key) for the keys of an element's `config.meta`."""

    items: dict[tuple[str, ...], Location] = field(default_factory=dict)

    def find(self, *key: str) -> Location | None:
        return self.items.get(key)

    def names(self, section: str) -> list[str]:
        return [k[1] for k in self.items if len(k) == 2 and k[0] == section]

    def problems(self) -> list[SpecIssue]:
        """What dbt reads without a word but not as written: a semantic model, metric or saved query defined
        again after its first definition (at each repeat), and a metric's `meta:` outside its `config:`."""
        kinds = {"semantic_models": "semantic model", "metrics": "metric", "saved_queries": "saved query"}
        issues = []
        for key, where in self.items.items():
            if key[0] == DUPLICATE:
                first = self.items[(key[1], key[2])]
                issues.append(SpecIssue(f"{kinds[key[1]]} '{key[2]}' is defined twice (first at {first.path}:"
                                        f"{first.line}); rename or remove one", where.path, where.line))
            elif key[0] == MISPLACED_META:
                issues.append(SpecIssue(f"{kinds[key[1]]} '{key[2]}': `meta:` beside `type:` is left out of the "
                                        "Semantic Layer (owner, unit, kpi, target and alerts would be lost); move it "
                                        "under `config:` (config: {meta: {...}})", where.path, where.line))
        return issues

    def locate_message(self, message: str) -> Location | None:
        """Best guess of the element a free-text message (e.g. from dbt's validator) is about."""
        # dbt's own wording names the element: "Parsing Error in metric revenue (metrics/sales.yml)"
        for kind, name in re.findall(r"\b(metric|semantic_model|saved_query)\.[A-Za-z0-9_]+\.([A-Za-z_][A-Za-z0-9_]*)",
                                     message, flags=re.IGNORECASE):  # dbt's unique ids: semantic_model.shop.orders
            found = self.items.get(({"metric": "metrics"}.get(kind.lower(), kind.lower() + "s"), name))
            if found is not None:
                return found
        named = re.findall(r"\b(metric|semantic model|semantic_model|saved query)(?: named)? [`'\"]?"
                           r"([A-Za-z_][A-Za-z0-9_]*)", message)
        sections = {"metric": "metrics", "semantic model": "semantic_models", "semantic_model": "semantic_models",
                    "saved query": "saved_queries"}
        children = re.findall(r"\b(measure|dimension|entity|export) [`'\"]?([A-Za-z_][A-Za-z0-9_]*)", message)
        for kind, name in named:
            found = self.items.get((sections[kind], name))
            if found is not None:
                for child_kind, child in children:  # "In semantic model 'orders', measure 'x' ...": at the measure
                    child_key = {"entity": "entities"}.get(child_kind, child_kind + "s")
                    at = self.items.get((sections[kind], name, child_key, child))
                    if at is not None:
                        return at
                return found
        for child in (child for child_kind, child in children if child_kind == "measure"):
            # "for measure orders": measure names are unique in a project (dimension and entity names are not)
            found = next((at for key, at in self.items.items() if len(key) == 4 and key[0] == "semantic_models"
                          and key[2] == "measures" and key[3] == child), None)
            if found is not None:
                return found
        quoted = set(re.findall(r"[`'\"]([A-Za-z_][A-Za-z0-9_]*)[`'\"]", message))
        for section in ("metrics", "saved_queries", "semantic_models"):
            for name in self.names(section):
                if name in quoted:
                    return self.items[(section, name)]
        return None


def what_is_wrong(message: str) -> str:
    """A validation message without dbt-semantic-interfaces' wrapping of a failed check ("An error occurred while
    checking aggregation time dimension for a semantic model - AssertionError: ..."): what is wrong."""
    return re.sub(r"^An error occurred while [^\n]*? - [A-Za-z]*Error: ", "", message)


def yaml_error_issue(exc: Exception, path: str) -> SpecIssue:
    """A YAML syntax error as one line at its file and line."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
    return SpecIssue(f"not valid YAML: {problem}", path, mark.line + 1 if mark is not None else None)


MOST_VALUES = 100_000  # keys and values of one section of metricsctl's own YAML, aliases counted where used


class TooManyValues(yaml.MarkedYAMLError):
    """YAML that holds more values than metricsctl reads, once its aliases are written out in full."""


def check_size(node: yaml.Node | None) -> None:
    """Raise TooManyValues (at the node's line) when `node`, its aliases counted at each place they are used,
    holds more than MOST_VALUES keys and values. An alias of an alias of ... (nine levels of a few bytes) would
    otherwise grow into billions of values when metricsctl reads or quotes it; the walk stops at the limit."""
    if node is None:
        return
    pending: list[yaml.Node] = [node]
    seen = 0
    while pending:
        current = pending.pop()
        seen += 1
        if seen > MOST_VALUES:
            raise TooManyValues(problem=f"more than {MOST_VALUES:,} keys and values once its aliases are written "
                                        "out (aliases of aliases); write the values out, or split the file",
                                problem_mark=node.start_mark)
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                pending += (key, value)
        elif isinstance(current, yaml.SequenceNode):
            pending += current.value


def _mapping_get(node: yaml.Node, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v if isinstance(v, yaml.Node) else None
    return None


def _named_items(node: yaml.Node | None) -> Iterable[tuple[str, yaml.Node]]:
    if not isinstance(node, yaml.SequenceNode):
        return
    for item in node.value:
        name = _mapping_get(item, "name")
        if isinstance(name, yaml.ScalarNode):
            yield str(name.value), item


def yaml_files(project_dir: Path, folders: Iterable[str]) -> list[Path]:
    """Every .yml/.yaml file under the given project folders, in a stable order."""
    files: list[Path] = []
    for folder in folders:
        root = Path(project_dir) / folder
        if root.is_dir():
            files += sorted([*root.rglob("*.yml"), *root.rglob("*.yaml")])
    return files


INDEX_VERSION = "5"  # what an index holds (2: config.meta keys; 3: time spines; 4: repeats; 5: meta)
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser: same marks, ten times faster


def index_yaml_files(project_dir: Path, folders: Iterable[str], cache: Path | None = None) -> LocationIndex:
    """Index every .yml/.yaml file under the given project folders.

    With `cache` (a file under target/), the index is reused while no YAML file changed (same paths,
    sizes and modification times), so a query does not read every YAML file again.
    """
    files = yaml_files(project_dir, folders)
    key = ""
    if cache is not None:
        digest = hashlib.sha256(INDEX_VERSION.encode())
        for path in files:
            stat = path.stat()
            digest.update(f"{path}\0{stat.st_mtime_ns}\0{stat.st_size}\n".encode())
        key = digest.hexdigest()
        cached = _read_cache(cache, key)
        if cached is not None:
            return cached
    with collector_paused():  # YAML nodes and index entries, none of them garbage cycles
        index = _index(project_dir, files)
        if cache is not None:
            _write_cache(cache, key, index)
    return index


def _index(project_dir: Path, files: list[Path]) -> LocationIndex:
    index = LocationIndex()
    for path in files:
        try:
            doc = yaml.compose(path.read_text(encoding="utf-8"), Loader=YAML_LOADER)
        except (yaml.YAMLError, UnicodeDecodeError):
            continue  # dbt reports broken YAML itself, with its own position
        rel = str(path.relative_to(project_dir))
        for section in SECTIONS:
            for name, item in _named_items(_mapping_get(doc, section) if doc else None):
                if _disabled(item):
                    continue  # not in the manifest: neither a first definition nor a repeat
                if (section, name) in index.items:  # dbt keeps one of them silently when both are in one file
                    index.items[(DUPLICATE, section, name, str(len(index.items)))] = Location(
                        rel, item.start_mark.line + 1)
                    continue
                index.items[(section, name)] = Location(rel, item.start_mark.line + 1)
                for child in CHILD_SECTIONS:
                    for child_name, child_item in _named_items(_mapping_get(item, child)):
                        key_ = (section, name, child, child_name)
                        index.items[key_] = Location(rel, child_item.start_mark.line + 1)
                config = _mapping_get(item, "config")
                if section == "metrics":
                    for key_node, value in item.value if isinstance(item, yaml.MappingNode) else []:
                        if isinstance(key_node, yaml.ScalarNode) and key_node.value == "meta" \
                                and isinstance(value, yaml.MappingNode):
                            index.items[(MISPLACED_META, section, name)] = Location(rel, key_node.start_mark.line + 1)
                for meta in (_mapping_get(item, "meta"), _mapping_get(config, "meta") if config else None):
                    if isinstance(meta, yaml.MappingNode):
                        for key_node, _ in meta.value:
                            if isinstance(key_node, yaml.ScalarNode):
                                index.items[(section, name, "meta", str(key_node.value))] = Location(
                                    rel, key_node.start_mark.line + 1)
        for name, item in _named_items(_mapping_get(doc, "models") if doc else None):
            _index_time_spine(index, rel, name, _mapping_get(item, "time_spine"))
    return index


def _disabled(item: yaml.Node) -> bool:
    enabled = _mapping_get(_mapping_get(item, "config") or yaml.MappingNode("", []), "enabled")
    return isinstance(enabled, yaml.ScalarNode) and enabled.value.lower() == "false"


def _index_time_spine(index: LocationIndex, rel: str, model: str, spine: yaml.Node | None) -> None:
    """("time_spines", model, "column", name) -> where a time spine names each of its columns."""
    if not isinstance(spine, yaml.MappingNode):
        return
    named = [_mapping_get(spine, "standard_granularity_column")]
    grains = _mapping_get(spine, "custom_granularities")
    for grain in grains.value if isinstance(grains, yaml.SequenceNode) else []:
        named.append(_mapping_get(grain, "column_name") or _mapping_get(grain, "name"))
    for node in named:
        if isinstance(node, yaml.ScalarNode):
            index.items.setdefault(("time_spines", model, "column", str(node.value)),
                                   Location(rel, node.start_mark.line + 1))


def _read_cache(cache: Path, key: str) -> LocationIndex | None:
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data.get("key") != key:
            return None
        return LocationIndex({tuple(k): Location(str(p), int(n)) for k, p, n in data["items"]})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_cache(cache: Path, key: str, index: LocationIndex) -> None:
    items = [[list(k), loc.path, loc.line] for k, loc in index.items.items()]
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"key": key, "items": items}), encoding="utf-8")
    except OSError:
        pass  # a read-only project still answers, only slower
