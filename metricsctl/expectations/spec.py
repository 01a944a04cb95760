"""Expectation suites as declared in the project's YAML, checked with file and line before anything runs.

A suite sits in any .yml under the model or seed paths, next to the sources and models it guards, under a
top-level `expectations:` key (dbt 1.11 ignores top-level keys it does not know):

    expectations:
      - suite: orders_raw            # optional; default: the relation's name
        relation: stg_orders         # a dbt model/seed/snapshot name, `source_name.table`, or a unique_id
        severity: error              # error (default): a failure keeps downstream metrics from building
                                     # warn: reported only
        rows_since_last_build: loaded_at  # optional, on an incremental model: a nightly build validates
                                     # the rows loaded since the last build (expectations/batches.py)
        expectations:
          - expect_column_values_to_not_be_null: {column: order_id}
          - expect_column_values_to_be_unique: {column: order_id}
          - expect_column_values_to_be_between: {column: amount, min_value: 0, max_value: 10000}
          - expect_column_values_to_be_in_set: {column: status, value_set: [placed, shipped]}
          - expect_table_row_count_to_be_between: {min_value: 100}
          # freshness: the latest order_date is at most 3 days before the run's as_of date
          - expect_column_max_to_be_between: {column: order_date, max_age_days: 3}
          # referential integrity: every non-null customer_id is a customer_id of stg_customers
          - expect_column_values_to_be_in_relation: {column: customer_id, to: stg_customers, field: customer_id}
          - expect_column_values_to_match_regex: {column: email, regex: '@', severity: warn}

Expectation names and arguments are Great Expectations' own (see catalog.py); `severity` on one
expectation overrides its suite's.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import yaml

from metricsctl.errors import SpecError, SpecIssue
from metricsctl.expectations.catalog import (
    EXPECTATIONS,
    FRESHNESS,
    FRESHNESS_ARG,
    REFERENTIAL,
    SEVERITY_ARG,
    allowed_args,
    required_args,
)
from metricsctl.expectations.relations import Relation, RelationResolver
from metricsctl.locations import YAML_LOADER, TooManyValues, check_size, yaml_error_issue

Severity = Literal["error", "warn"]
SEVERITIES: tuple[Severity, ...] = ("error", "warn")
SECTION = "expectations"
SINCE_KEY = "rows_since_last_build"
SUITE_KEYS = ("suite", "relation", "severity", "description", SINCE_KEY, "expectations")
COLUMN_ARGS = ("column", "column_A", "column_B")


class ExpectationSpecError(SpecError):
    """Problems in the project's expectation suites (a SpecError: every issue, with file and line)."""

    subject = "the expectation suites"


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation of a suite: a GX expectation name and its arguments as written."""

    name: str
    kwargs: dict[str, Any] = field(hash=False)
    severity: Severity
    path: str
    line: int
    to: Relation | None = None  # the parent relation of a referential-integrity expectation

    def columns(self) -> list[str]:
        """The columns of the suite's relation this expectation reads (for an early, clear error)."""
        names = [self.kwargs[k] for k in COLUMN_ARGS if isinstance(self.kwargs.get(k), str)]
        listed = self.kwargs.get("column_list")
        if isinstance(listed, list):
            names += [c for c in listed if isinstance(c, str)]
        return names

    def describe(self) -> str:
        """`expect_column_values_to_be_unique(column=order_id)`, for messages."""
        args = ", ".join(f"{k}={short_value(v)}" for k, v in self.kwargs.items() if k != "description")
        return f"{self.name}({args})"


@dataclass(frozen=True)
class Suite:
    """Expectations on one relation, with the severity of their failures."""

    name: str
    relation: Relation
    severity: Severity
    expectations: tuple[ExpectationSpec, ...]
    path: str
    line: int
    description: str | None = None
    rows_since: str | None = None  # the load column: a nightly build validates the rows since the last build


def load_suites(project_dir: str | Path, folders: Iterable[str],
                manifest: Mapping[str, Any] | None = None) -> list[Suite]:
    """Every suite in the .yml/.yaml files under the project's `folders` (its model and seed paths).

    Relations are resolved through `manifest` (dbt's target/manifest.json as a dict); without one a
    relation is taken as a warehouse table name. Raises SpecError with every problem found.
    """
    root = Path(project_dir)
    resolver = RelationResolver(manifest)
    files: list[Path] = []
    for folder in folders:
        base = root / folder
        if base.is_dir():
            files += sorted([*base.rglob("*.yml"), *base.rglob("*.yaml")])
    suites: list[Suite] = []
    issues: list[SpecIssue] = []
    for path in files:
        try:
            rel = str(path.relative_to(root))
        except ValueError:
            rel = str(path)
        found, problems = parse_suites(path.read_text(encoding="utf-8"), rel, resolver)
        suites += found
        issues += problems
    issues += _duplicate_names(suites)
    if issues:
        raise ExpectationSpecError(issues)
    return suites


def suites_from_yaml(text: str, path: str = "<string>", manifest: Mapping[str, Any] | None = None) -> list[Suite]:
    """The suites of one YAML text; raises SpecError with every problem found."""
    suites, issues = parse_suites(text, path, RelationResolver(manifest))
    issues += _duplicate_names(suites)
    if issues:
        raise ExpectationSpecError(issues)
    return suites


def parse_suites(text: str, path: str, resolver: RelationResolver) -> tuple[list[Suite], list[SpecIssue]]:
    """The suites of one file and the problems found in it (none raised)."""
    if SECTION not in text:
        return [], []  # no suites here: skip parsing the file at all
    try:
        doc = yaml.compose(text, Loader=YAML_LOADER)
    except yaml.YAMLError as exc:
        if not re.search(rf"^{SECTION}\s*:", text, re.MULTILINE):
            return [], []  # not ours: dbt reports its own broken YAML
        return [], [yaml_error_issue(exc, path)]
    section = _get(doc, SECTION)
    if section is None:
        return [], []
    try:
        check_size(section)
    except TooManyValues as exc:
        return [], [yaml_error_issue(exc, path)]
    parser = _Parser(path, resolver)
    if not isinstance(section, yaml.SequenceNode):
        parser.issue(section, f"`{SECTION}:` must be a list of suites (each with `relation:` and `expectations:`)")
        return [], parser.issues
    suites = [s for s in (parser.suite(item) for item in section.value) if s is not None]
    return suites, parser.issues


class _Parser:
    def __init__(self, path: str, resolver: RelationResolver) -> None:
        self.path = path
        self.resolver = resolver
        self.issues: list[SpecIssue] = []

    def issue(self, node: yaml.Node, message: str) -> None:
        self.issues.append(SpecIssue(message, self.path, node.start_mark.line + 1))

    def suite(self, node: yaml.Node) -> Suite | None:
        if not isinstance(node, yaml.MappingNode):
            self.issue(node, "each suite must be a mapping with `relation:` and `expectations:`")
            return None
        before = len(self.issues)
        for key_node, _ in node.value:
            key = str(key_node.value)
            if key not in SUITE_KEYS:
                self.issue(key_node, f"unknown suite key `{key}`{_did_you_mean(key, SUITE_KEYS)}; "
                                     f"a suite has: {', '.join(SUITE_KEYS)}")
        relation_node = _get(node, "relation")
        relation: Relation | None = None
        if relation_node is None:
            self.issue(node, "suite has no `relation:`; name the dbt model, seed or source it checks")
        elif not _is_text(relation_node):
            self.issue(relation_node, "`relation:` must be a name such as stg_orders or raw.orders")
        else:
            relation = self._resolve(relation_node)
        name_node = _get(node, "suite")
        name = None
        if name_node is not None:
            if _is_text(name_node):
                name = str(name_node.value)
            else:
                self.issue(name_node, "`suite:` must be a name")
        severity = self._severity(_get(node, "severity"), "error")
        rows_since = self._rows_since(_get(node, SINCE_KEY), relation)
        description_node = _get(node, "description")
        description = str(description_node.value) if isinstance(description_node, yaml.ScalarNode) else None
        items = _get(node, "expectations")
        specs: list[ExpectationSpec] = []
        if items is None:
            self.issue(node, "suite has no `expectations:`; list at least one, e.g. "
                             "`- expect_column_values_to_not_be_null: {column: id}`")
        elif not isinstance(items, yaml.SequenceNode) or not items.value:
            self.issue(items, "`expectations:` must be a non-empty list of `- expect_...: {arguments}`")
        else:
            specs = [s for s in (self.expectation(item, severity) for item in items.value) if s is not None]
        if relation is None or len(self.issues) > before:
            return None
        return Suite(name or relation.name or str(relation), relation, severity, tuple(specs), self.path,
                     node.start_mark.line + 1, description, rows_since)

    def _rows_since(self, node: yaml.Node | None, relation: Relation | None) -> str | None:
        """The suite's load column: a column name, on a model (whose builds write its rows)."""
        if node is None:
            return None
        if not (_is_text(node) and re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", str(node.value))):
            self.issue(node, f"`{SINCE_KEY}:` names the relation's load column, e.g. `{SINCE_KEY}: loaded_at` "
                             "(a timestamp, date or whole number a build's new rows are told by)")
            return None
        if relation is not None and relation.unique_id and not relation.unique_id.startswith("model."):
            kind = relation.unique_id.split(".")[0]
            self.issue(node, f"`{SINCE_KEY}:` is for an incremental model, whose builds write its rows; "
                             f"{relation.name} is a {kind} that a build does not write, so every row is validated: "
                             f"remove `{SINCE_KEY}:` here")
            return None
        return str(node.value)

    def _resolve(self, node: yaml.Node) -> Relation | None:
        try:
            return self.resolver.resolve(str(node.value))
        except LookupError as exc:
            self.issue(node, str(exc.args[0]))
            return None

    def _severity(self, node: yaml.Node | None, default: Severity) -> Severity:
        if node is None:
            return default
        value = node.value if isinstance(node, yaml.ScalarNode) else None
        if value not in SEVERITIES:
            hint = " (GX's critical/warning/info are not used here)" if value in ("critical", "warning", "info") else ""
            self.issue(node, f"severity must be `error` or `warn`, not `{value}`{hint}")
            return default
        return cast(Severity, value)

    def expectation(self, node: yaml.Node, suite_severity: Severity) -> ExpectationSpec | None:
        line = node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode):
            name_node, args_node = node, None
        elif isinstance(node, yaml.MappingNode) and len(node.value) == 1:
            name_node, args_node = node.value[0]
        else:
            self.issue(node, "each expectation is one `expect_...: {arguments}` item")
            return None
        name = str(name_node.value)
        if name not in EXPECTATIONS:
            self.issue(name_node, f"unknown expectation `{name}`{_did_you_mean(_snake(name), EXPECTATIONS)}")
            return None
        if args_node is None or (isinstance(args_node, yaml.ScalarNode) and args_node.tag.endswith(":null")):
            kwargs: dict[str, Any] = {}
        elif isinstance(args_node, yaml.MappingNode):
            kwargs = {str(k.value): _value(v) for k, v in args_node.value}
        else:
            self.issue(args_node, f"the arguments of `{name}` must be a mapping, e.g. {{column: id}}")
            return None
        before = len(self.issues)
        arg_nodes = {str(k.value): k for k, _ in args_node.value} if isinstance(args_node, yaml.MappingNode) else {}
        allowed = allowed_args(name)
        for arg in kwargs:
            if arg not in allowed:
                self.issue(arg_nodes[arg], f"`{name}` has no argument `{arg}`{_did_you_mean(arg, allowed)}; "
                                           f"it takes: {', '.join(allowed)}")
        missing = [a for a in required_args(name) if a not in kwargs]
        if missing:
            self.issue(name_node, f"`{name}` needs {', '.join(f'`{m}`' for m in missing)}")
        severity = self._severity(_get(args_node, SEVERITY_ARG), suite_severity)
        kwargs.pop(SEVERITY_ARG, None)
        self._check_values(name, kwargs, arg_nodes, name_node)
        to = None
        if name == REFERENTIAL and isinstance(kwargs.get("to"), str):
            to = self._resolve(_get(args_node, "to") or name_node)
        if len(self.issues) > before:
            return None
        return ExpectationSpec(name, kwargs, severity, self.path, line, to)

    def _check_values(self, name: str, kwargs: dict[str, Any], nodes: dict[str, yaml.Node],
                      name_node: yaml.Node) -> None:
        def at(arg: str) -> yaml.Node:
            return nodes.get(arg, name_node)

        for arg in (*COLUMN_ARGS, "to", "field"):
            if arg in kwargs and not (isinstance(kwargs[arg], str) and kwargs[arg]):
                self.issue(at(arg), f"`{arg}` must be a name, not {kwargs[arg]!r}")
        for arg in ("value_set", "column_list", "column_set"):
            if arg in kwargs and not isinstance(kwargs[arg], list):
                self.issue(at(arg), f"`{arg}` must be a list, e.g. [a, b]")
        parser = kwargs.get("condition_parser")
        if "condition_parser" in kwargs and parser not in ("great_expectations", "great_expectations__experimental__"):
            # GX's other parsers (pandas, spark) evaluate the condition as code; the warehouse path needs none
            self.issue(at("condition_parser"), f"`condition_parser` must be great_expectations (a row_condition "
                                               f"such as 'col(\"status\")==\"paid\"'), not {parser!r}")
        mostly = kwargs.get("mostly")
        if mostly is not None and not (isinstance(mostly, (int, float)) and not isinstance(mostly, bool)
                                       and 0 <= mostly <= 1):
            self.issue(at("mostly"), f"`mostly` must be a fraction between 0 and 1, not {mostly!r}")
        if name == FRESHNESS and FRESHNESS_ARG in kwargs:
            days = kwargs[FRESHNESS_ARG]
            if isinstance(days, bool) or not isinstance(days, int) or days < 0:
                self.issue(at(FRESHNESS_ARG), f"`{FRESHNESS_ARG}` must be a whole number of days >= 0, "
                                              f"not {days!r}")
            if "min_value" in kwargs:
                self.issue(at("min_value"), f"give either `{FRESHNESS_ARG}` (relative to the run's as_of "
                                            "date) or `min_value`, not both")


def _get(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return cast(yaml.Node, v)
    return None


def _is_text(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag.endswith(":str") and bool(node.value)


def _value(node: yaml.Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _snake(name: str) -> str:
    """ExpectColumnValuesToBeUnique (GX's class name) -> expect_column_values_to_be_unique."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower() if name[:1].isupper() else name


def _did_you_mean(name: str, options: Iterable[str]) -> str:
    options = list(options)
    if name in options:
        return f" (did you mean `{name}`?)"
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


def short_value(value: Any) -> str:
    """A value for a one-line message, cut at 40 characters."""
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _duplicate_names(suites: list[Suite]) -> list[SpecIssue]:
    seen: dict[str, Suite] = {}
    issues = []
    for suite in suites:
        first = seen.setdefault(suite.name, suite)
        if first is not suite:
            issues.append(SpecIssue(f"suite `{suite.name}` is also defined at {first.path}:{first.line}; "
                                    "give one of them another `suite:` name", suite.path, suite.line))
    return issues
