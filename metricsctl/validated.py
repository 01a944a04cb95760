"""Which semantic manifest is known to pass dbt-semantic-interfaces' validation: target/metricsctl_validated.txt.

Validating 1,000 metrics costs about half a second, so it is not repeated for a manifest that passed already.
The stamp holds the key of the manifest that passed (its sha256, with the metricsctl and
dbt-semantic-interfaces releases, as the spec cache's key): any other bytes, or another release of the
rules, are validated again. Two things write it:

- metricsctl, after its own validation passed (spec.Spec.load);
- `dbt parse` run by metricsctl (project.DbtProject.parse): dbt validates the semantic manifest it builds
  with the same validator and the same default rules whenever it parses anything (not when nothing changed,
  nor when the project lacks metrics or semantic models). While dbt runs, its validator is swapped for one
  that keeps each manifest it passed; the stamp is written only when such a manifest, written out as JSON,
  is byte for byte the semantic_manifest.json dbt left in target/, so what metricsctl then loads is exactly
  what passed. In that process the manifest dbt passed is kept too, and Spec.load takes it instead of
  parsing the same bytes again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FILE = "metricsctl_validated.txt"
_KEPT: dict[str, Any] = {}  # key of the manifest's bytes -> the parsed manifest dbt's validator passed


def key(manifest: bytes) -> str:
    """What the stamp says for these manifest bytes validated by the installed rules."""
    from metricsctl import spec_cache

    return spec_cache.cache_key(manifest).decode()


def stamped(stamp: Path, manifest: bytes) -> bool:
    """Whether these manifest bytes passed validation before."""
    try:
        return stamp.read_text(encoding="utf-8") == key(manifest)
    except OSError:
        return False


def stamp(path: Path, manifest: bytes) -> None:
    """Note that these manifest bytes passed; a folder that cannot be written only costs a validation later."""
    with contextlib.suppress(OSError):
        path.write_text(key(manifest), encoding="utf-8")


@contextlib.contextmanager
def dbt_validations() -> Iterator[list[Any]]:
    """While dbt runs in this process: the semantic manifests its validator passed (no errors), in order."""
    import dbt.contracts.graph.semantic_manifest as dbt_semantic
    from dbt_semantic_interfaces.protocols import SemanticManifestT
    from dbt_semantic_interfaces.validations.semantic_manifest_validator import SemanticManifestValidator
    from dbt_semantic_interfaces.validations.validator_helpers import SemanticManifestValidationResults

    from metricsctl.filter_parses import parsed_once

    passed: list[Any] = []
    if dbt_semantic.SemanticManifestValidator is not SemanticManifestValidator:
        yield passed  # not the validator metricsctl runs (dbt changed, or another hook): nothing is known
        return

    class Recording(SemanticManifestValidator[SemanticManifestT]):  # type: ignore[misc]
        def validate_semantic_manifest(self, semantic_manifest: SemanticManifestT,
                                       multi_process: bool = False) -> SemanticManifestValidationResults:
            with parsed_once():
                results = super().validate_semantic_manifest(semantic_manifest, multi_process)
            if not results.errors and self._rules is SemanticManifestValidator.DEFAULT_RULES:
                passed.append(semantic_manifest)
            return results

    dbt_semantic.SemanticManifestValidator = Recording
    try:
        yield passed
    finally:
        dbt_semantic.SemanticManifestValidator = SemanticManifestValidator


def stamp_if_dbt_validated(passed: list[Any], manifest_path: Path, stamp_path: Path) -> bool:
    """After a successful `dbt parse`: stamp target/semantic_manifest.json when it is, byte for byte, the
    manifest dbt's validator last passed. Returns whether it did."""
    if not passed:
        return False
    try:
        written = manifest_path.read_bytes()
    except OSError:
        return False
    if passed[-1].json().encode("utf-8") != written:
        return False
    stamp(stamp_path, written)
    _KEPT.clear()
    _KEPT[key(written)] = passed[-1]
    return True


def take_dbt_manifest(manifest: bytes) -> Any | None:
    """The parsed manifest dbt's validator passed in this process, if it is these bytes (then only once)."""
    return _KEPT.pop(key(manifest), None) if _KEPT else None
