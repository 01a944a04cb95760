"""`metricsctl init`: a new metrics project that builds right away, or metricsctl's files added to a dbt project.

A new project gets a DuckDB profile, a small orders seed, a time spine, one semantic model with its
metrics and a saved query, an expectation suite and alert rules, each file commented. In a folder that
holds a dbt project already, only what metricsctl adds is written (a time spine when there is none,
commented expectation and alert files); no existing file is ever overwritten.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from metricsctl.errors import MetricsctlError
from metricsctl.guards import inside

NAME = re.compile(r"[a-z_][a-z0-9_]*")  # whole: fullmatch
SAMPLE_START = dt.date(2025, 1, 1)
SAMPLE_DAYS = 120

DBT_PROJECT = """\
# A dbt project with metrics: `metricsctl build` parses it, compiles the metrics into models/metrics/,
# builds the seed and every model, checks the expectations, then builds the metric tables.
name: {name}
version: "0.1.0"
config-version: 2
profile: {name}

model-paths: ["models", "metrics"]   # metrics/ holds the semantic models, metrics and saved queries
seed-paths: ["seeds"]
test-paths: ["tests"]

flags:
  send_anonymous_usage_stats: false

seeds:
  {name}:
    orders:
      +column_types: {{ordered_at: date}}
"""

PROFILES = """\
# The warehouse: one DuckDB file in the project folder (change `path`, or add a target for your warehouse).
{name}:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{{{{ env_var('METRICSCTL_PROJECT_DIR', '.') }}}}/warehouse.duckdb"
      threads: 2
"""

TIME_SPINE_SQL = """\
-- One row per day: cumulative metrics, offsets and zero-filled metrics join to it. Cover your data.
select cast(d as date) as date_day
from range(timestamp '2020-01-01', timestamp '2031-01-01', interval 1 day) as t(d)
"""

TIME_SPINE_YML = """\
# The time spine MetricFlow and metricsctl need (one row per day, in metricflow_time_spine.sql).
models:
  - name: metricflow_time_spine
    description: One row per day.
    time_spine:
      standard_granularity_column: date_day
    columns:
      - name: date_day
        granularity: day
"""

METRICS = """\
# The dbt Semantic Layer spec: a semantic model over the orders seed, its metrics and a saved query.
# Query them with `metricsctl query --metrics revenue,orders --group-by metric_time__month`.
semantic_models:
  - name: orders
    description: One row per order.
    model: ref('orders')
    defaults:
      agg_time_dimension: ordered_at
    entities:
      - {name: order, type: primary, expr: order_id}
      - {name: customer, type: foreign, expr: customer_id}
    dimensions:
      - name: ordered_at
        type: time
        type_params: {time_granularity: day}
      - {name: channel, type: categorical}
    measures:
      - {name: order_count, agg: sum, expr: "1"}
      - {name: revenue, agg: sum, expr: amount}
      - {name: customers, agg: count_distinct, expr: customer_id}

metrics:
  - name: orders
    label: Orders
    description: Orders placed.
    type: simple
    type_params: {measure: order_count}
    config: {meta: {owner: sales, unit: orders}}
  - name: revenue
    label: Revenue
    description: Order amounts, before refunds.
    type: simple
    type_params: {measure: revenue}
    config: {meta: {owner: sales, unit: EUR, kpi: true}}   # kpi: `metricsctl lint` checks its management
  - name: average_order_value
    label: Average order value
    description: Revenue per order.
    type: ratio
    type_params: {numerator: revenue, denominator: orders}
    config: {meta: {owner: sales, unit: EUR, kpi: true}}
  - name: revenue_mtd
    label: Revenue, month to date
    description: Revenue from the first of the month to each day.
    type: cumulative
    type_params: {measure: revenue, cumulative_type_params: {grain_to_date: month}}
    config: {meta: {owner: sales, unit: EUR}}

saved_queries:
  # its export becomes the table `sales_by_month` (a generated model in models/metrics/)
  - name: sales_by_month
    description: Monthly sales by channel, for the BI tool.
    query_params:
      metrics: [revenue, orders, average_order_value]
      group_by: ["TimeDimension('metric_time', 'month')", "Dimension('order__channel')"]
    exports:
      - name: sales_by_month
        config: {export_as: table}
"""

EXPECTATIONS = """\
# Great Expectations suites, run in the warehouse after the seed is loaded and before the metric tables
# are built. severity: error keeps the metric tables downstream at their last good state; warn reports.
expectations:
  - relation: orders
    severity: error
    expectations:
      - expect_column_values_to_be_unique: {column: order_id}
      - expect_column_values_to_not_be_null: {column: customer_id}
      - expect_column_values_to_be_between: {column: amount, min_value: 0, max_value: 10000}
      - expect_column_values_to_be_in_set: {column: channel, value_set: [online, store]}
      # freshness, judged against today unless `--as-of` is given: a week-old feed only warns
      # - expect_column_max_to_be_between: {column: ordered_at, max_age_days: 7, severity: warn}
"""

ALERTS = """\
# Alert rules (`metricsctl alerts`, or `metricsctl build --alerts`); secrets only from environment variables.
alert_channels:
  - {name: terminal, type: console}
  # - {name: team_chat, type: webhook, url_env: TEAM_CHAT_WEBHOOK_URL}

alert_defaults:
  channels: [terminal]

alerts:
  - name: daily_revenue_floor
    description: A day with almost no revenue in a channel.
    metric: revenue
    kind: threshold
    grain: day
    dimensions: [order__channel]
    below: 50
    severity: warning
  - name: revenue_anomaly
    description: A week's revenue far from its usual weeks.
    metric: revenue
    kind: anomaly
    grain: week
    training_periods: 8
    min_training: 4
    severity: critical
"""


@dataclass
class InitResult:
    project_dir: Path
    created: list[str] = field(default_factory=list)  # paths relative to the project
    kept: list[str] = field(default_factory=list)  # files that existed and were left as they were
    existing_project: bool = False


def sample_orders(days: int = SAMPLE_DAYS, start: dt.date = SAMPLE_START) -> str:
    """A deterministic orders CSV: a few orders a day, online and in store, with a weekly rhythm."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["order_id", "customer_id", "ordered_at", "channel", "amount"])
    order = 0
    for n in range(days):
        day = start + dt.timedelta(days=n)
        for _ in range(2 + (n * 7) % 5 + (2 if day.weekday() >= 5 else 0)):
            order += 1
            writer.writerow([order, 1 + (order * 37) % 60, day.isoformat(), "online" if (order + n) % 3 else "store",
                             f"{20 + (order * 53) % 180}.{(order * 7) % 100:02d}"])
    return out.getvalue()


def _has_time_spine(project_dir: Path) -> bool:
    """Whether a YAML file of the project configures a time spine already."""
    skip = {"target", "dbt_packages", "logs", ".venv"}
    for path in project_dir.rglob("*.y*ml"):
        if skip & set(path.relative_to(project_dir).parts):
            continue
        try:
            if re.search(r"^\s*time_spine:", path.read_text(encoding="utf-8"), flags=re.M):
                return True
        except (OSError, UnicodeDecodeError):
            continue
    return False


def init_project(project_dir: str | Path, name: str | None = None) -> InitResult:
    """Scaffold a metrics project in `project_dir` (or add metricsctl's files to the dbt project there)."""
    root = Path(project_dir).resolve()
    if root.exists() and not root.is_dir():
        raise MetricsctlError(f"{root}: not a folder")
    result = InitResult(root, existing_project=(root / "dbt_project.yml").is_file())
    if result.existing_project:
        files = {"metrics/expectations.yml": _commented(EXPECTATIONS), "metrics/alerts.yml": _commented(ALERTS)}
        if not _has_time_spine(root):
            files["models/metricflow_time_spine.sql"] = TIME_SPINE_SQL
            files["models/time_spine.yml"] = TIME_SPINE_YML
    else:
        name = name or re.sub(r"[^a-z0-9_]", "_", root.name.lower()).strip("_") or "metrics"
        if name[0].isdigit():
            name = f"metrics_{name}"
        if not NAME.fullmatch(name):
            raise MetricsctlError(f"project name '{name}' must be lower-case letters, digits and _, starting "
                                  "with a letter (dbt's rule); pass --name")
        files = {
            "dbt_project.yml": DBT_PROJECT.format(name=name),
            "profiles.yml": PROFILES.format(name=name),
            "seeds/orders.csv": sample_orders(),
            "models/metricflow_time_spine.sql": TIME_SPINE_SQL,
            "models/time_spine.yml": TIME_SPINE_YML,
            "metrics/orders.yml": METRICS,
            "metrics/expectations.yml": EXPECTATIONS,
            "metrics/alerts.yml": ALERTS,
            ".gitignore": "target/\nlogs/\n*.duckdb\n*.duckdb.wal\n",
        }
    # where each file lands, links followed: inside the folder, or nothing is written (a cloned folder may hold a
    # link, dangling or to a folder, that points elsewhere)
    targets = {relative: (root / relative).resolve() for relative in files}
    outside = [relative for relative, target in targets.items() if not inside(target, root)]
    if outside:
        raise MetricsctlError(f"{root / outside[0]}: a link to {targets[outside[0]]}, outside {root}; metricsctl "
                              "init writes no file through a link that leaves the folder: remove the link, or init "
                              "elsewhere")
    for relative, target in targets.items():  # a folder a file goes into must be a folder, or nothing is written
        parent = next((p for p in target.parents if inside(p, root) and p.exists() and not p.is_dir()), None)
        if parent is not None:
            raise MetricsctlError(f"{parent}: a file where metricsctl init puts the folder of {relative}; move it "
                                  "away, or init elsewhere")
    for relative, text in files.items():
        target = targets[relative]
        if target.exists() or (root / relative).exists():
            result.kept.append(relative)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        # created, never opened through a link put there since the check, nor over a file that appeared
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(text)
        result.created.append(relative)
    return result


def _commented(text: str) -> str:
    """An example file for an existing project: every line commented out (its models are not ours to name)."""
    header, _, body = text.partition("\n")
    lines = [line if not line.strip() or line.lstrip().startswith("#") else f"# {line}" for line in body.splitlines()]
    return "\n".join([header, "# An example: point it at your own models and metrics, then uncomment.", *lines]) + "\n"
