"""The semantic manifest is validated once per content: by dbt's parse when metricsctl runs it, else by metricsctl.

`dbt parse` validates the semantic manifest it builds with dbt-semantic-interfaces' validator, the one
metricsctl runs. When metricsctl runs that parse itself and the manifest dbt passed is byte for byte the
target/semantic_manifest.json it then loads, metricsctl does not validate it a second time
(metricsctl/validated.py). These tests count metricsctl's own validations and check that a broken spec is
still reported at its file and line, whether dbt or metricsctl finds the problem.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from metricsctl import spec as spec_module
from metricsctl import spec_cache, validated
from metricsctl.errors import SpecError
from metricsctl.facade import Metricsctl
from tests.conftest import SHOP
from tests.test_spec_errors import edit, line_of


@pytest.fixture
def root(tmp_path: Path, shop_dir: Path) -> Path:
    """The shop project without its parse results (the session's shop_dir sets the warehouse's path)."""
    copy = tmp_path / "shop"
    shutil.copytree(SHOP, copy, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    return copy


@pytest.fixture
def own_validations(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every manifest metricsctl validates itself, in order."""
    seen: list[object] = []
    original = spec_module._validate

    def counting(manifest: object, locations: object) -> None:
        seen.append(manifest)
        original(manifest, locations)  # type: ignore[arg-type]

    monkeypatch.setattr(spec_module, "_validate", counting)
    return seen


def manifest_bytes(root: Path) -> bytes:
    return (root / "target" / "semantic_manifest.json").read_bytes()


def test_the_manifest_dbt_just_validated_is_not_validated_again(root: Path, own_validations: list[object],
                                                                 monkeypatch: pytest.MonkeyPatch):
    parsed: list[str] = []
    monkeypatch.setattr(spec_module, "_parse", lambda text, path: parsed.append(text))
    spec = Metricsctl(root).spec  # runs dbt parse: dbt validates, then metricsctl loads what dbt wrote
    assert own_validations == [] and parsed == []  # neither validated nor parsed a second time
    assert validated.stamped(root / "target" / validated.FILE, manifest_bytes(root))

    # the manifest dbt passed, taken as it is, is the one on disk, as metricsctl parses it
    from dbt_semantic_interfaces.implementations.semantic_manifest import PydanticSemanticManifest

    assert spec.manifest == spec_cache.to_nodes(PydanticSemanticManifest.parse_raw(manifest_bytes(root)))
    assert "revenue_per_order" in spec.metric_names()


def test_a_changed_metric_file_is_validated_again(root: Path, own_validations: list[object],
                                                  monkeypatch: pytest.MonkeyPatch):
    _ = Metricsctl(root).spec
    before = manifest_bytes(root)
    metrics = root / "metrics" / "metrics.yml"
    edit(metrics, "label: Revenue per order", "label: Revenue per placed order")

    # dbt parses the changed file again and validates the new manifest: the stamp follows the new bytes
    assert Metricsctl(root).spec.metric("revenue_per_order").label == "Revenue per placed order"
    after = manifest_bytes(root)
    assert after != before and own_validations == []
    assert validated.stamped(root / "target" / validated.FILE, after)

    # when dbt did not validate it (a parse that validates nothing), metricsctl validates the new bytes itself
    edit(metrics, "label: Revenue per placed order", "label: Revenue per order, placed")
    monkeypatch.setattr(validated, "stamp_if_dbt_validated", lambda *args: False)
    assert Metricsctl(root).spec.metric("revenue_per_order").label == "Revenue per order, placed"
    [checked] = own_validations
    assert next(m for m in checked.metrics if m.name == "revenue_per_order").label == "Revenue per order, placed"
    assert validated.stamped(root / "target" / validated.FILE, manifest_bytes(root))


def test_a_spec_error_keeps_its_file_and_line_after_a_validated_run(root: Path, own_validations: list[object]):
    _ = Metricsctl(root).spec  # validated by dbt and stamped
    metrics = root / "metrics" / "metrics.yml"
    edit(metrics, "{numerator: revenue, denominator: orders}", "{numerator: revenue, denominator: orderz}")
    for _ in range(2):  # the failed parse wrote nothing: the next command meets the same error, not a stale spec
        with pytest.raises(SpecError) as caught:
            _ = Metricsctl(root).spec
        [issue] = caught.value.issues
        assert (issue.path, issue.line) == ("metrics/metrics.yml", line_of(metrics, "denominator: orderz"))
        assert "unknown metric 'orderz'" in issue.message


def test_a_manifest_with_other_bytes_than_the_stamped_one_is_validated(root: Path, own_validations: list[object]):
    _ = Metricsctl(root).spec  # validated by dbt and stamped
    path = root / "target" / "semantic_manifest.json"
    manifest = json.loads(path.read_text())
    revenue = next(m for m in manifest["metrics"] if m["name"] == "revenue")
    for measure in (revenue["type_params"]["measure"], *revenue["type_params"]["input_measures"]):
        measure["name"] = "revenuee"
    path.write_text(json.dumps(manifest))  # the project's files are unchanged, so dbt does not parse again

    with pytest.raises(SpecError) as caught:
        _ = Metricsctl(root).spec
    assert len(own_validations) == 1
    [issue] = caught.value.issues
    metrics = root / "metrics" / "metrics.yml"
    assert (issue.path, issue.line) == ("metrics/metrics.yml", line_of(metrics, "- {name: revenue, label"))
    assert "revenuee" in issue.message
