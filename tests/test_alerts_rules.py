"""Alert rules in YAML: the documented schema loads; every mistake is reported with file and line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from metricsctl.alerts.rules import Anomaly, Target, load_alert_config, parse_alert_config
from metricsctl.errors import SpecError
from metricsctl.spec import Spec
from tests.test_alerts import app, built_project


@pytest.fixture(scope="module")
def spec() -> Spec:
    return app(built_project()).spec


def test_the_projects_alert_file_loads_beside_the_metrics_and_dbt_ignores_it(spec: Spec):
    """metrics/alerts.yml sits under model-paths; the build that made `spec` read it without complaint."""
    config = load_alert_config(built_project(), ["models", "metrics"], spec)
    (rule,) = config.rules
    assert (rule.name, rule.metric, rule.kind, rule.dimensions) == (
        "revenue_floor", "revenue", "threshold", ("store__store_name",))
    assert (rule.owner, rule.channels) == ("sales-team", ("terminal",))  # owner from the metric's meta
    assert (rule.path, rule.line) == ("metrics/alerts.yml", 8)


def test_the_documented_example_is_valid(spec: Spec):
    """The example in the rules module's docstring parses as it stands (with the tiny project's names)."""
    import metricsctl.alerts.rules as rules

    doc = rules.__doc__ or ""
    example = doc[doc.index("    # metrics/alerts.yml"):doc.index("Durations")]
    text = "\n".join(line[4:] for line in example.splitlines())
    text = text.replace("orders", "costs").replace("finance.targets", "targets")
    config = parse_alert_config([("metrics/alerts.yml", text)], spec)
    assert [r.kind for r in config.rules] == ["anomaly", "threshold", "change", "target", "target", "freshness"]
    anomaly = config.rules[0]
    assert anomaly.cooldown == timedelta(hours=12)
    assert anomaly.channels == ("sales-slack", "log", "terminal")  # the owner's channels, then the rule's
    assert anomaly.params == Anomaly(method="mad", threshold=3.5, seasonality="weekday", training_periods=8,
                                     min_training=4, detection_periods=1, direction="drop", min_abs_change=100,
                                     min_rel_change=0.1)
    assert config.rules[1].cooldown == timedelta(days=1)  # alert_defaults
    pace = config.rules[4].params
    assert isinstance(pace, Target) and (pace.mode, pace.tolerance, pace.targets_table, pace.higher_is_better) == (
        "pace", 5.0, "targets", True)
    assert config.channels["finance-mail"].get("to") == ("finance@example.com",)


BROKEN = """\
alert_channels:
  - {name: slack, type: webhook, url_env: SLACK_URL}
  - {name: pager, type: sms}
  - {name: mail, type: email, host: smtp.local, from: a@b.c, to: x@y.z, password: hunter2}
alert_owners:
  sales-team: [slak]
alerts:
  - name: typo_metric
    metric: revenu
    kind: threshold
    below: 10
  - name: bad_kind
    metric: revenue
    kind: anomally
  - name: no_bounds
    metric: revenue
    kind: threshold
  - name: bad_dimension
    metric: revenue
    kind: freshness
    max_age: 1d
    dimensions: [store__store_nam]
  - name: bad_duration
    metric: costs
    kind: freshness
    max_age: 2x
    channels: [pagr]
  - name: typo_param
    metric: revenue
    kind: anomaly
    treshold: 4
    severity: urgent
"""


def test_every_mistake_is_reported_at_once_with_file_and_line(spec: Spec, tmp_path: Path):
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "alerts.yml").write_text(BROKEN)
    with pytest.raises(SpecError) as raised:
        load_alert_config(tmp_path, ["metrics"], spec)
    found = [(i.path, i.line, i.message) for i in raised.value.issues]
    expected = [
        (3, "type is 'sms'"),
        (4, "write the secret's environment variable name as 'password_env'"),
        (6, "unknown channel 'slak'; did you mean 'slack'?"),
        (9, "unknown metric 'revenu'; did you mean 'revenue'?"),
        (14, "kind is 'anomally'; use one of threshold, change, anomaly, target, freshness; did you mean "
             "'anomaly'?"),
        (15, "a threshold rule needs `above:` and/or `below:`"),
        (22, "cannot query revenue by store__store_nam"),
        (26, "a freshness rule needs `max_age:` as a duration"),
        (27, "unknown channel 'pagr'"),
        (31, "unknown key 'treshold'; did you mean 'threshold'?"),
        (32, "'severity' is 'urgent'; use one of info, warning, critical"),
    ]
    for line, text in expected:
        assert any(p == "metrics/alerts.yml" and n == line and text in m for p, n, m in found), (line, text, found)
    assert len(found) == len(expected), found
    assert "metrics/alerts.yml:9: alert 'typo_metric' watches unknown metric 'revenu'" in str(raised.value)
    assert str(raised.value).startswith(f"{len(expected)} problems in the alert rules:")


def test_a_rule_with_nowhere_to_go_is_an_error(spec: Spec):
    text = "alerts:\n  - {name: lost, metric: revenue, kind: freshness, max_age: 1d}\n"
    with pytest.raises(SpecError, match=r"a.yml:2: alert 'lost' has nowhere to go: owner 'sales-team' has no "
                                        r"channels under alert_owners"):
        parse_alert_config([("a.yml", text)], spec)


def test_broken_yaml_points_at_its_line(spec: Spec):
    with pytest.raises(SpecError, match=r"a.yml:3: not valid YAML"):
        parse_alert_config([("a.yml", "alerts:\n  - name: x\n   bad: [\n")], spec)
