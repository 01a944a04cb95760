"""Which rows an expectation validates in a nightly build, so that it still means what it says.

A suite with `rows_since_last_build: loaded_at`, on a relation a nightly build extends incrementally, is
validated in three batches (metricsctl/since_last_build.py reads the bound before the build):

- row by row (not null, between, in set, regex, pairs, and referential integrity): the rows loaded since
  the last build. Each row passes or fails on its own, and a row the build did not write is the row an
  earlier build validated;
- uniqueness (`expect_column_values_to_be_unique`, `expect_compound_columns_to_be_unique`): every row
  sharing the key (the first column of a compound key) with a row loaded since the last build, so a new
  row that repeats an old row's key is caught, whether or not the build's merge deleted the old one;
- everything else on the whole table: row counts and freshness keep their meaning, aggregates (mean,
  sum, distinct values, quantiles) and expectations over the order of rows (increasing, z-scores,
  outliers) are statements about the table, not about a day's rows. These read a column or two, once.

Without a bound (a full refresh, a first build, `metricsctl check`, a relation that is not incremental on
this target) every expectation validates the whole table.
"""

from __future__ import annotations

from typing import Literal

from sqlglot import exp

from metricsctl.expectations.catalog import GX_EXPECTATIONS, REFERENTIAL
from metricsctl.expectations.relations import Relation
from metricsctl.expectations.spec import ExpectationSpec
from metricsctl.since_last_build import Bound

Batch = Literal["whole", "rows", "keys"]

#: row-wise by GX's own kind (a map expectation takes `mostly`), but a statement about several rows
NOT_ROW_BY_ROW = frozenset({
    "expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique",
    "expect_column_values_to_be_increasing", "expect_column_values_to_be_decreasing",
    "expect_column_value_z_scores_to_be_less_than", "expect_column_values_to_not_be_outliers",
})
ROW_BY_ROW = frozenset({REFERENTIAL, *(name for name, (_, optional) in GX_EXPECTATIONS.items()
                                       if "mostly" in optional and name not in NOT_ROW_BY_ROW)})
UNIQUENESS = {"expect_column_values_to_be_unique": "column", "expect_compound_columns_to_be_unique": "column_list"}


def batch_of(spec: ExpectationSpec) -> Batch:
    """Which rows `spec` validates when its suite has a bound."""
    if spec.name in ROW_BY_ROW:
        return "rows"
    return "keys" if spec.name in UNIQUENESS else "whole"


def key_of(spec: ExpectationSpec) -> str:
    """The column whose values a uniqueness expectation's batch shares with the new rows."""
    value = spec.kwargs[UNIQUENESS[spec.name]]
    return str(value[0] if isinstance(value, list) else value)


def batch_query(relation: Relation, batch: Batch, bound: Bound | None, dialect: str, key: str | None = None) -> str:
    """SELECT the rows of `relation` that `batch` validates (all of them without a bound)."""
    query = exp.select("*").from_(relation.table())
    if bound is None or batch == "whole":
        return query.sql(dialect)
    if batch == "rows":
        return query.where(bound.condition()).sql(dialect)
    assert key is not None
    keys = exp.select(exp.column(key, quoted=True)).from_(relation.table()).where(bound.condition())
    return query.where(exp.In(this=exp.column(key, quoted=True), query=exp.Subquery(this=keys))).sql(dialect)
