"""Metric management: owners and KPIs, metric trees, targets and scorecards, and why a metric moved.

- fields: management fields from each metric's `config.meta` (owner, level, unit, direction, kpi, parents)
- tree: a metric's tree (formula inputs, ratio parts, drivers), with values for a period
- attribution: exact Shapley attribution over formulas; additive and mix/rate splits over slices
- explain: why a metric moved between two periods, along the tree and along dimensions
- targets: attainment and scorecard SQL from a targets table; catalog: the catalog's management columns
- lint: a check list for KPIs, each gap with file and line
"""

from __future__ import annotations

from metricsctl.management.attribution import (
    Attribution,
    FormulaNode,
    SliceChange,
    UndefinedAttribution,
    additive_slices,
    attribute,
    evaluate,
    mix_rate,
    parse_formula,
    shapley,
)
from metricsctl.management.catalog import CATALOG_COLUMNS, catalog_fields, catalog_sql
from metricsctl.management.explain import DimensionAttribution, Explanation, explain, render_explanation
from metricsctl.management.fields import DIRECTIONS, LEVELS, MetricFields, management_fields, read_fields
from metricsctl.management.lint import (
    CHECKS,
    LintConfig,
    LintIssue,
    lint,
    load_lint_config,
    metrics_with_targets,
    watched_by_saved_queries,
)
from metricsctl.management.periods import Period, parse_period
from metricsctl.management.targets import (
    ATTAINMENT_COLUMNS,
    SCORECARD_COLUMNS,
    ScorecardConfig,
    attainment,
    attainment_sql,
    load_scorecard_config,
    parse_scorecard_config,
    read_targets,
    render,
    scorecard_sql,
    targets_sql,
)
from metricsctl.management.tree import TreeNode, ValuedNode, metric_tree, parents_of, render_tree, tree

__all__ = [
    "ATTAINMENT_COLUMNS", "CATALOG_COLUMNS", "CHECKS", "DIRECTIONS", "LEVELS", "SCORECARD_COLUMNS", "Attribution",
    "DimensionAttribution", "Explanation", "FormulaNode", "LintConfig", "LintIssue", "MetricFields", "Period",
    "ScorecardConfig", "SliceChange", "TreeNode", "UndefinedAttribution", "ValuedNode", "additive_slices",
    "attainment", "attainment_sql", "attribute", "catalog_fields", "catalog_sql", "evaluate", "explain", "lint",
    "load_lint_config", "load_scorecard_config", "parse_scorecard_config", "management_fields", "metric_tree",
    "metrics_with_targets", "mix_rate", "parents_of", "parse_formula", "parse_period", "read_fields", "read_targets",
    "render", "render_explanation", "render_tree", "scorecard_sql", "shapley", "targets_sql", "tree",
    "watched_by_saved_queries",
]
