"""Query results as a person and a program read them: strict JSON, even columns of numbers."""

from __future__ import annotations

import datetime
import io
import json

import pytest

from metricsctl import output
from metricsctl.jsonable import dumps
from metricsctl.warehouse import Result


def strict_loads(text: str) -> object:
    """json.loads refusing the `Infinity` and `NaN` that no other JSON parser accepts."""
    def refuse(name: str) -> object:
        raise ValueError(f"not JSON: {name}")
    return json.loads(text, parse_constant=refuse)


def test_json_records_write_null_for_a_division_by_zero():
    # On DuckDB a derived metric divided by a zero-filled metric is +inf; 0/0 is NaN.
    result = Result(("metric_time__day", "revenue_per_new_customer"),
                    [(datetime.date(2024, 1, 1), 12.5), (datetime.date(2024, 1, 2), float("inf")),
                     (datetime.date(2024, 1, 3), float("nan"))])
    stream = io.StringIO()
    output.write_json(result, stream)
    assert strict_loads(stream.getvalue()) == [
        {"metric_time__day": "2024-01-01", "revenue_per_new_customer": 12.5},
        {"metric_time__day": "2024-01-02", "revenue_per_new_customer": None},
        {"metric_time__day": "2024-01-03", "revenue_per_new_customer": None}]


def test_run_records_and_summaries_are_strict_json():
    assert strict_loads(dumps({"value": float("-inf"), "nested": [float("nan"), 1.0]})) == {
        "value": None, "nested": [None, 1.0]}
    with pytest.raises(ValueError):
        strict_loads('{"x": Infinity}')
