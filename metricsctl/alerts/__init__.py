"""Alerts on metrics: rules in YAML beside the metrics, judged in SQL, routed to their owners.

    config = load_alert_config(project_dir, model_paths, spec)
    run = run_alerts(spec, config, execute, as_of=datetime(2024, 6, 10), dry_run=False)
    run.exit_code(fail_on="critical")

See rules.py for the YAML schema, evaluate.py for the SQL of each rule kind, state.py for the
warehouse tables, channels.py for the notifiers and engine.py for the run.
"""

from __future__ import annotations

from metricsctl.alerts.channels import RetryPolicy
from metricsctl.alerts.engine import (
    AlertEvent,
    AlertRun,
    DeliveryFailure,
    RuleFailure,
    connection_executor,
    exit_code,
    run_alerts,
)
from metricsctl.alerts.evaluate import Evaluation, evaluate_rule, rule_query
from metricsctl.alerts.rules import AlertConfig, Channel, Rule, load_alert_config, parse_alert_config
from metricsctl.alerts.state import HISTORY, OUTBOX, OpenAlert, StateStore

__all__ = [
    "HISTORY", "OUTBOX", "AlertConfig", "AlertEvent", "AlertRun", "Channel", "DeliveryFailure", "Evaluation",
    "OpenAlert", "RetryPolicy", "Rule", "RuleFailure", "StateStore", "connection_executor", "evaluate_rule",
    "exit_code", "load_alert_config", "parse_alert_config", "rule_query", "run_alerts",
]
