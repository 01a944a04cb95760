"""metricsctl: metrics as code, compiled from the dbt Semantic Layer spec through sqlglot."""

__version__ = "0.1.0"
