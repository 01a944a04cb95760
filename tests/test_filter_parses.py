"""A `where` filter's text is parsed once per validation, however many of dbt-semantic-interfaces' rules
read it (metricsctl/filter_parses.py); what each rule learns, and every error, stay as they were."""

from __future__ import annotations

import threading

import pytest
from dbt_semantic_interfaces.parsing.text_input.ti_processor import ObjectBuilderTextProcessor
from dbt_semantic_interfaces.parsing.where_filter.jinja_object_parser import JinjaObjectParser
from dbt_semantic_interfaces.parsing.where_filter.parameter_set_factory import QueryItemLocation

from metricsctl.filter_parses import parsed_once

FILTER = "{{ Dimension('customer__region') }} = 'EMEA' and {{ TimeDimension('metric_time', 'month') }} > '2024-01-01'"


@pytest.fixture()
def templates_compiled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each text dbt-semantic-interfaces compiles as a Jinja template, in order."""
    compiled: list[str] = []
    original = ObjectBuilderTextProcessor.collect_descriptions_from_template

    def recording(self: ObjectBuilderTextProcessor, jinja_template: str, *args: object, **kwargs: object) -> object:
        compiled.append(jinja_template)
        return original(self, jinja_template, *args, **kwargs)

    monkeypatch.setattr(ObjectBuilderTextProcessor, "collect_descriptions_from_template", recording)
    return compiled


def parameter_sets(template: str) -> object:
    return JinjaObjectParser.parse_call_parameter_sets(template, custom_granularity_names=(),
                                                       query_item_location=QueryItemLocation.NON_ORDER_BY)


def test_a_filter_read_three_times_is_compiled_once_and_read_alike(templates_compiled: list[str]):
    alone = parameter_sets(FILTER)
    assert templates_compiled == [FILTER]
    with parsed_once():
        read = [parameter_sets(FILTER) for _ in range(3)]
        order_by = JinjaObjectParser.parse_call_parameter_sets(  # other methods allowed: parsed apart
            "{{ Dimension('customer__region') }}", custom_granularity_names=(),
            query_item_location=QueryItemLocation.ORDER_BY)
    assert templates_compiled == [FILTER, FILTER, "{{ Dimension('customer__region') }}"]
    assert read == [alone, alone, alone]
    assert [d.dimension_reference.element_name for d in alone.dimension_call_parameter_sets] == ["region"]
    assert [t.time_granularity_name for t in alone.time_dimension_call_parameter_sets] == ["month"]
    assert order_by.dimension_call_parameter_sets


def test_a_filter_that_does_not_parse_fails_at_each_reading(templates_compiled: list[str]):
    broken = "{{ Dimension('customer__region') }} = 'EMEA' and {{ Dimension( }}"
    with parsed_once():
        for _ in range(2):
            with pytest.raises(Exception, match="Error while parsing Jinja template"):
                parameter_sets(broken)
    assert templates_compiled == [broken, broken]


def test_the_parser_is_restored_when_the_last_open_block_ends(templates_compiled: list[str]):
    own = JinjaObjectParser.__dict__["parse_item_descriptions"]
    entered, release = threading.Event(), threading.Event()

    def other_block() -> None:
        with parsed_once():
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=other_block)
    thread.start()
    entered.wait(10)
    with parsed_once():
        parameter_sets(FILTER)
    assert JinjaObjectParser.__dict__["parse_item_descriptions"] is not own  # the other thread's block is open
    parameter_sets(FILTER)
    release.set()
    thread.join(10)
    assert JinjaObjectParser.__dict__["parse_item_descriptions"] is own
    parameter_sets(FILTER)
    assert templates_compiled == [FILTER, FILTER]  # once in the blocks, once after them
