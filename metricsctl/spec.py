"""The semantic spec, loaded from a semantic manifest with dbt-semantic-interfaces and indexed.

`Spec` is read-only after loading: lookups by name for semantic models, measures, metrics, saved
queries and the time spine, plus the location index used to point errors at files and lines. Its
manifest is a tree of plain objects with dbt-semantic-interfaces' attribute names (spec_cache.Node),
not the library's pydantic models, so a spec read back from target/ needs no pydantic.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from metricsctl.errors import LocatedSpecError, QueryError, SpecError, SpecIssue
from metricsctl.guards import identifier_problem
from metricsctl.locations import LocationIndex, what_is_wrong

Manifest = Any  # spec_cache.Node trees of dbt_semantic_interfaces' models, read through attributes (untyped)


@dataclass(frozen=True)
class TimeSpine:
    relation: str
    day_column: str  # the spine's standard-granularity column (a day, or an hour, ... for finer spines)
    custom_grains: dict[str, str]  # custom granularity name -> column
    grain: str = "day"  # the granularity of `day_column`


@dataclass(frozen=True)
class MeasureRef:
    """A measure together with the semantic model that defines it."""

    model: Any
    measure: Any

    @property
    def agg_time_dimension(self) -> str:
        name = self.measure.agg_time_dimension or (
            self.model.defaults.agg_time_dimension if self.model.defaults else None)
        if not name:
            raise QueryError(
                f"measure '{self.measure.name}' of semantic model '{self.model.name}' has no "
                "agg_time_dimension; set defaults.agg_time_dimension on the semantic model")
        return str(name)


@dataclass(frozen=True)
class Spec:
    manifest: Manifest
    locations: LocationIndex = field(default_factory=LocationIndex)

    # --- loading -------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path, locations: LocationIndex | None = None,
             validate: bool = True, validated_stamp: Path | None = None, cache: Path | None = None) -> Spec:
        """Load and validate a semantic manifest. With `validated_stamp` (a file under target/), a manifest
        that passed validation before (same content hash, metricsctl/validated.py) is not validated again.
        With `cache` (a file under target/), the loaded spec is read from there when it was made from the
        same manifest, and written there otherwise (see metricsctl/spec_cache.py)."""
        from metricsctl import spec_cache, validated
        from metricsctl.compiler.collector import collector_paused

        path = Path(path)
        if not path.is_file():
            raise SpecError([SpecIssue("semantic manifest not found; run `dbt parse` or pass "
                                       "--project-dir", str(path))])
        problems = locations.problems() if locations is not None else []
        if problems:  # what dbt read without a word but not as written (LocationIndex.problems)
            raise LocatedSpecError(problems)
        data = path.read_bytes()
        kept = validated.take_dbt_manifest(data) if validate and validated_stamp is not None else None
        key = spec_cache.cache_key(data) if cache is not None and validate else None
        if cache is not None and key is not None:
            cached = spec_cache.read(cache, key)
            if cached is not None:
                return cls(cached, locations or LocationIndex())
        with collector_paused():  # pydantic's models and the validation's objects, traversed once
            manifest = kept if kept is not None else _parse(data.decode("utf-8"), path)
            if validate and (validated_stamp is None or not validated.stamped(validated_stamp, data)):
                _validate(manifest, locations or LocationIndex())
                if validated_stamp is not None:
                    validated.stamp(validated_stamp, data)
            tree = spec_cache.to_nodes(manifest)
        if cache is not None and key is not None:
            spec_cache.write(cache, key, tree)
        return cls(tree, locations or LocationIndex())

    # --- lookups -------------------------------------------------------------------------------
    @property
    def semantic_models(self) -> list[Any]:
        return list(self.manifest.semantic_models)

    @cached_property
    def _metrics(self) -> dict[str, Any]:
        return {m.name: m for m in self.manifest.metrics}

    @cached_property
    def _measures(self) -> dict[str, MeasureRef]:
        found: dict[str, MeasureRef] = {}
        for model in self.manifest.semantic_models:
            for measure in model.measures:
                found.setdefault(measure.name, MeasureRef(model, measure))
        return found

    def metric(self, name: str) -> Any:
        found = self._metrics.get(name)
        if found is None:
            raise QueryError(f"unknown metric '{name}'{suggest(name, self.metric_names())}")
        return found

    def metric_names(self) -> list[str]:
        return sorted(m.name for m in self.manifest.metrics)

    def saved_query(self, name: str) -> Any:
        for query in self.manifest.saved_queries:
            if query.name == name:
                return query
        names = sorted(q.name for q in self.manifest.saved_queries)
        raise QueryError(f"unknown saved query '{name}'{suggest(name, names)}")

    def measure(self, name: str) -> MeasureRef:
        found = self._measures.get(name)
        if found is None:
            raise QueryError(f"unknown measure '{name}'")
        return found

    def semantic_model(self, name: str) -> Any:
        for model in self.manifest.semantic_models:
            if model.name == name:
                return model
        raise QueryError(f"unknown semantic model '{name}'")

    @cached_property
    def time_spines(self) -> dict[str, TimeSpine]:
        """The project's time spines by the granularity of their standard column (`day`, `hour`, ...)."""
        config = self.manifest.project_configuration
        spines: dict[str, TimeSpine] = {}
        for spine in config.time_spines:
            grain = str(spine.primary_column.time_granularity.value).lower()
            spines.setdefault(grain, TimeSpine(
                relation=spine.node_relation.relation_name,
                day_column=spine.primary_column.name,
                custom_grains={c.name: (c.column_name or c.name) for c in spine.custom_granularities},
                grain=grain))
        for legacy in config.time_spine_table_configurations:
            grain = str(getattr(legacy.grain, "value", legacy.grain)).lower()
            spines.setdefault(grain, TimeSpine(relation=legacy.location, day_column=legacy.column_name,
                                               custom_grains={}, grain=grain))
        self._check_spine_columns(config)
        return spines

    def _check_spine_columns(self, config: Any) -> None:
        """A time spine's columns become column names in every query that steps along it: plain identifiers."""
        issues = []
        for spine in config.time_spines:
            model = str(spine.node_relation.alias)
            columns = [spine.primary_column.name, *(c.column_name or c.name for c in spine.custom_granularities)]
            for column in columns:
                problem = identifier_problem(column, f"time spine '{model}': column", "a column name in SQL")
                if problem:
                    where = self.locations.find("time_spines", model, "column", str(column))
                    issues.append(SpecIssue(problem, where.path if where else None, where.line if where else None))
        for legacy in config.time_spine_table_configurations:
            problem = identifier_problem(legacy.column_name, f"time spine {legacy.location}: column",
                                         "a column name in SQL")
            if problem:
                issues.append(SpecIssue(problem))
        if issues:
            raise LocatedSpecError(issues)

    @property
    def time_spine(self) -> TimeSpine:
        """The time spine by day, which windows, offsets and custom granularities step along."""
        spine = self.time_spines.get("day")
        if spine is None:
            raise QueryError("the project has no time spine at day grain; add a model with "
                             "`time_spine: {standard_granularity_column: date_day}` (see dbt's docs)")
        return spine

    @cached_property
    def custom_grains(self) -> frozenset[str]:
        try:
            return frozenset(self.time_spine.custom_grains)
        except QueryError:
            return frozenset()


def _parse(text: str, path: Path) -> Any:
    """dbt-semantic-interfaces' pydantic model of the manifest; a file that is not one names its first problems."""
    from dbt_semantic_interfaces.implementations.semantic_manifest import PydanticSemanticManifest

    try:
        return PydanticSemanticManifest.parse_raw(text)
    except Exception as exc:  # pydantic's errors carry the field path, which is what a user needs
        raise SpecError([SpecIssue(f"not a semantic manifest: {_manifest_problem(exc)}", str(path))]) from exc


def _validate(manifest: Any, locations: LocationIndex) -> None:
    """dbt-semantic-interfaces' validation of the parsed manifest; every error reported at once."""
    from dbt_semantic_interfaces.implementations.semantic_manifest import PydanticSemanticManifest
    from dbt_semantic_interfaces.validations.semantic_manifest_validator import (
        SemanticManifestValidator,
    )

    from metricsctl.filter_parses import parsed_once

    with parsed_once():  # each filter's text parsed once, not once per rule that reads it
        results = SemanticManifestValidator[PydanticSemanticManifest]().validate_semantic_manifest(manifest)
    issues = []
    for error in results.errors:
        context = getattr(error, "context", None)
        name = getattr(context, "object_name", None) if context else None
        kind = getattr(context, "object_type", "") if context else ""
        section = {"metric": "metrics", "semantic model": "semantic_models",
                   "saved query": "saved_queries"}.get(str(kind).lower().replace("_", " "), "")
        where = locations.find(section, str(name)) if name else None
        where = where or locations.locate_message(error.message)
        issues.append(SpecIssue(what_is_wrong(error.message), where.path if where else None,
                                where.line if where else None))
    if issues:
        raise SpecError(issues)


def _manifest_problem(exc: Exception) -> str:
    """pydantic's multi-line report as one line: the first few fields and what is wrong with each."""
    errors = getattr(exc, "errors", None)
    found = errors() if callable(errors) else []
    if not found:
        return " ".join(str(exc).split())
    parts = []
    for error in found[:3]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "__root__")
        message = " ".join(str(error.get("msg", "")).split())
        parts.append(f"{where}: {message}" if where else message)
    more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
    return "; ".join(parts) + more


def suggest(name: str, candidates: list[str]) -> str:
    """`; did you mean 'x', 'y'?` or nothing."""
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    if close:
        return "; did you mean " + ", ".join(f"'{c}'" for c in close) + "?"
    return ""
