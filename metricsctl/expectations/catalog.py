"""The expectation names a suite may use, with their arguments: Great Expectations 1.24's, plus two of ours.

The table is written out (not read from GX at run time) so that a project's expectation YAML is checked
without importing great_expectations (~2 s); tests/test_expectations_spec.py holds it against the installed
GX, so an upgrade that renames or adds a required argument fails there first.
"""

from __future__ import annotations

from typing import Final

ROWS: Final = ("row_condition", "condition_parser")
MAP: Final = ("mostly", *ROWS)
BOUNDS: Final = ("min_value", "max_value", "strict_min", "strict_max")

#: expectation name -> (required arguments, optional arguments), as GX 1.24 declares them
GX_EXPECTATIONS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "expect_column_distinct_values_to_be_in_set": (("column", "value_set"), (*ROWS,)),
    "expect_column_distinct_values_to_contain_set": (("column", "value_set"), (*ROWS,)),
    "expect_column_distinct_values_to_equal_set": (("column", "value_set"), (*ROWS,)),
    "expect_column_kl_divergence_to_be_less_than": (
        ("column",), (*ROWS, "partition_object", "threshold", "internal_weight_holdout", "tail_weight_holdout",
                      "bucketize_data", "min_value", "max_value")),
    "expect_column_max_to_be_between": (("column",), (*ROWS, *BOUNDS)),
    "expect_column_mean_to_be_between": (("column",), (*ROWS, *BOUNDS)),
    "expect_column_median_to_be_between": (("column",), (*ROWS, *BOUNDS)),
    "expect_column_min_to_be_between": (("column",), (*ROWS, *BOUNDS)),
    "expect_column_most_common_value_to_be_in_set": (("column", "value_set"), (*ROWS, "ties_okay")),
    "expect_column_pair_values_a_to_be_greater_than_b": (("column_A", "column_B"), (*MAP, "or_equal", "ignore_row_if")),
    "expect_column_pair_values_to_be_equal": (("column_A", "column_B"), (*MAP, "ignore_row_if")),
    "expect_column_pair_values_to_be_in_set": (("column_A", "column_B", "value_pairs_set"), (*MAP, "ignore_row_if")),
    "expect_column_proportion_of_non_null_values_to_be_between": (("column",), (*ROWS, *BOUNDS)),
    "expect_column_proportion_of_unique_values_to_be_between": (("column",), (*ROWS, *BOUNDS)),
    "expect_column_quantile_values_to_be_between": (("column", "quantile_ranges"), (*ROWS, "allow_relative_error")),
    "expect_column_stdev_to_be_between": (("column",), (*ROWS, *BOUNDS)),
    "expect_column_sum_to_be_between": (("column",), (*ROWS, *BOUNDS)),
    "expect_column_to_exist": (("column",), ("column_index",)),
    "expect_column_type_to_be": (("column", "type_"), ()),
    "expect_column_unique_value_count_to_be_between": (("column",), (*ROWS, *BOUNDS)),
    "expect_column_value_lengths_to_be_between": (("column",), (*MAP, *BOUNDS)),
    "expect_column_value_lengths_to_equal": (("column", "value"), (*MAP,)),
    "expect_column_value_z_scores_to_be_less_than": (("column", "threshold", "double_sided"), (*MAP,)),
    "expect_column_values_to_be_between": (("column",), (*MAP, *BOUNDS)),
    "expect_column_values_to_be_dateutil_parseable": (("column",), (*MAP,)),
    "expect_column_values_to_be_decreasing": (("column",), (*MAP, "strictly")),
    "expect_column_values_to_be_in_set": (("column", "value_set"), (*MAP,)),
    "expect_column_values_to_be_in_type_list": (("column",), (*MAP, "type_list")),
    "expect_column_values_to_be_increasing": (("column",), (*MAP, "strictly")),
    "expect_column_values_to_be_json_parseable": (("column",), (*MAP,)),
    "expect_column_values_to_be_null": (("column",), (*MAP,)),
    "expect_column_values_to_be_of_type": (("column", "type_"), (*MAP,)),
    "expect_column_values_to_be_unique": (("column",), (*MAP,)),
    "expect_column_values_to_match_json_schema": (("column", "json_schema"), (*MAP,)),
    "expect_column_values_to_match_like_pattern": (("column", "like_pattern"), (*MAP, "escape")),
    "expect_column_values_to_match_like_pattern_list": (("column", "like_pattern_list"), (*MAP, "match_on", "escape")),
    "expect_column_values_to_match_regex": (("column",), (*MAP, "regex")),
    "expect_column_values_to_match_regex_list": (("column", "regex_list"), (*MAP, "match_on")),
    "expect_column_values_to_match_strftime_format": (("column", "strftime_format"), (*MAP,)),
    "expect_column_values_to_not_be_in_set": (("column", "value_set"), (*MAP,)),
    "expect_column_values_to_not_be_null": (("column",), (*MAP,)),
    "expect_column_values_to_not_be_outliers": (("column",), (*MAP, "method", "multiplier")),
    "expect_column_values_to_not_match_like_pattern": (("column", "like_pattern"), (*MAP, "escape")),
    "expect_column_values_to_not_match_like_pattern_list": (("column", "like_pattern_list"), (*MAP, "escape")),
    "expect_column_values_to_not_match_regex": (("column", "regex"), (*MAP,)),
    "expect_column_values_to_not_match_regex_list": (("column", "regex_list"), (*MAP,)),
    "expect_compound_columns_to_be_unique": (("column_list",), (*MAP, "ignore_row_if")),
    "expect_multicolumn_sum_to_equal": (("column_list", "sum_total"), (*MAP, "ignore_row_if")),
    "expect_multicolumn_values_to_be_equal": (("column_list",), (*MAP, "ignore_row_if")),
    "expect_select_column_values_to_be_unique_within_record": (("column_list",), (*MAP, "ignore_row_if")),
    "expect_table_column_count_to_be_between": ((), ("min_value", "max_value")),
    "expect_table_column_count_to_equal": (("value",), ()),
    "expect_table_columns_to_match_ordered_list": ((), ("column_list",)),
    "expect_table_columns_to_match_set": ((), ("column_set", "exact_match")),
    "expect_table_row_count_to_be_between": ((), (*BOUNDS, *ROWS)),
    "expect_table_row_count_to_equal": (("value",), (*ROWS,)),
    "expect_table_row_count_to_equal_other_table": (("other_table_name",), (*ROWS,)),
    "unexpected_rows_expectation": (("unexpected_rows_query",), ()),
}

#: freshness: `expect_column_max_to_be_between` with `max_age_days: N` instead of `min_value`; the runner
#: turns it into GX's own expectation with `min_value = as_of - N days`
FRESHNESS = "expect_column_max_to_be_between"
FRESHNESS_ARG = "max_age_days"

#: referential integrity: every non-null `column` value is present in `field` of the relation `to`
#: (dbt's `relationships` test); run as a subclass of GX's UnexpectedRowsExpectation that reads its generated
#: orphan-rows query once (runner.in_relation_class)
REFERENTIAL = "expect_column_values_to_be_in_relation"

#: ours, accepted on every expectation: overrides the suite's severity for this one expectation
SEVERITY_ARG = "severity"
#: arguments every expectation accepts besides its own
COMMON_OPTIONAL: Final = ("description", SEVERITY_ARG)

EXPECTATIONS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    **GX_EXPECTATIONS,
    FRESHNESS: (("column",), (*GX_EXPECTATIONS[FRESHNESS][1], FRESHNESS_ARG)),
    REFERENTIAL: (("column", "to"), ("field",)),
}


def required_args(name: str) -> tuple[str, ...]:
    return EXPECTATIONS[name][0]


def allowed_args(name: str) -> tuple[str, ...]:
    required, optional = EXPECTATIONS[name]
    return (*required, *optional, *COMMON_OPTIONAL)
