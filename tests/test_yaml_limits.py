"""metricsctl's own YAML (alert rules, expectation suites, the lint and scorecard settings) is data of a size
metricsctl bounds: aliases of aliases, a few hundred bytes that would grow into billions of values when read or
quoted, and nesting deeper than Python reads, are each refused at their file and line, at once.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from metricsctl import yaml_lines
from metricsctl.alerts.rules import parse_alert_config
from metricsctl.errors import SpecError
from metricsctl.expectations import ExpectationSpecError, load_suites
from metricsctl.locations import MOST_VALUES
from metricsctl.management.lint import load_lint_config
from tests.test_expectations_spec import MANIFEST


def laughs(depth: int) -> str:
    """Anchors a0..a<depth>, each a list of nine aliases of the one before: a<depth> stands for 9**(depth + 1)
    values in a file of a few hundred bytes."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, depth + 1)]
    return "\n".join(lines) + "\n"


def quickly(action):  # noqa: ANN001, ANN201 - any call
    """`action()`'s result, checking it took a moment, not the minutes (and gigabytes) of the values written
    out."""
    started = time.perf_counter()
    try:
        return action()
    finally:
        assert time.perf_counter() - started < 5


def test_the_bomb_is_what_it_says():
    """The fixture: small text, and more values than metricsctl reads once written out."""
    text = laughs(8)
    assert len(text) < 500
    assert 9 ** 9 > MOST_VALUES


def test_aliases_of_aliases_in_alert_rules_are_refused_at_their_file(tmp_path: Path):
    text = laughs(8) + "alerts:\n  - name: flood\n    metric: revenue\n    dimensions: *a8\n"
    with pytest.raises(SpecError) as raised:
        quickly(lambda: parse_alert_config([("metrics/alerts.yml", text)], spec=None))  # type: ignore[arg-type]
    (issue,) = raised.value.issues
    assert issue.path == "metrics/alerts.yml" and issue.line == 1
    assert f"more than {MOST_VALUES:,} keys and values once its aliases are written out" in issue.message


def test_an_expectation_suite_with_aliases_of_aliases_is_refused_at_its_file(tmp_path: Path):
    models = tmp_path / "models"
    models.mkdir()
    (models / "suites.yml").write_text(laughs(8) + "expectations:\n  - relation: stg_orders\n"
                                       "    expectations:\n      - expect_column_values_to_be_in_set:\n"
                                       "          {column: status, value_set: *a8}\n")
    with pytest.raises(ExpectationSpecError) as raised:
        quickly(lambda: load_suites(tmp_path, ["models"], MANIFEST))
    (issue,) = raised.value.issues
    assert (issue.path, issue.line) == ("models/suites.yml", 11)  # the section's first suite
    assert "aliases of aliases" in issue.message


def test_the_lint_settings_with_aliases_of_aliases_are_refused_at_their_line(tmp_path: Path):
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "lint.yml").write_text(laughs(8) + "metricsctl_lint:\n  scope: *a8\n")
    with pytest.raises(SpecError) as raised:
        quickly(lambda: load_lint_config(tmp_path, ["metrics"]))
    (issue,) = raised.value.issues
    assert (issue.path, issue.line) == ("metrics/lint.yml", 10)
    assert issue.message.startswith("metricsctl_lint: more than")


def test_aliases_used_a_reasonable_number_of_times_still_read():
    text = "defaults: &defaults {owner: finance, channels: [terminal]}\n" + "".join(
        f"rule_{i}: *defaults\n" for i in range(500))
    loaded = yaml_lines.load(text)
    assert yaml_lines.fields(loaded["rule_499"]) == {"owner": "finance", "channels": ["terminal"]}


def test_nesting_deeper_than_python_reads_is_a_yaml_error_not_a_recursion_error():
    text = "alert_defaults:\n  cooldown: " + "[" * 400 + "]" * 400 + "\n"
    with pytest.raises(yaml.YAMLError, match="nested too deeply to read"):
        yaml_lines.load(text)
    issues = None
    try:
        parse_alert_config([("metrics/alerts.yml", text)], spec=None)  # type: ignore[arg-type]
    except SpecError as error:
        issues = error.issues
    assert issues is not None and issues[0].path == "metrics/alerts.yml"
    assert "nested too deeply to read" in issues[0].message
