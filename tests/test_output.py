"""Query results as a person and a program read them: strict JSON, even columns of numbers."""

from __future__ import annotations

import datetime
import io
import json
import re

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


# --- a build's progress and summary ------------------------------------------------------------------
def build_result(statuses: dict[str, str], phases: dict[str, float] | None = None, wall: float | None = None):
    from metricsctl.pipeline import BuildResult
    from metricsctl.runner import DbtRun, NodeResult

    nodes = [NodeResult(uid, status, "", 0.5) for uid, status in statuses.items()]
    return BuildResult(runs=[DbtRun(["build"], all(s in ("success", "pass") for s in statuses.values()), 3.0,
                                    nodes)], phases=phases or {}, wall_seconds=wall)


def test_a_failed_builds_summary_reads_as_english(capsys: pytest.CaptureFixture[str]):
    result = build_result({
        "seed.shop.orders": "success", "model.shop.stg_orders": "error",
        **{f"saved_query.shop.q{i}": "skipped" for i in range(4)},
        "model.shop.sales_by_month": "skipped", "test.shop.unique_orders_order_id": "skipped"})
    output.print_build(result)
    text = capsys.readouterr().out
    assert "saved_querys" not in text and "saved quer" not in text  # dbt Core does nothing with them
    assert "ERROR model.shop.stg_orders: (no message)" in text
    assert "SKIPPED 2 nodes downstream of a failure: sales_by_month, unique_orders_order_id" in text
    assert not [line for line in text.splitlines() if line.strip() in ("SKIPPED", "SKIPPED:")]
    assert text.splitlines()[-1] == "FAILED built 1 seed (1 model failed) in 3.0 s"
    assert output.plural(4, "saved_query") == "4 saved queries" and output.plural(1, "unit_test") == "1 unit test"


def test_a_failed_nodes_message_is_printed_with_the_secrets_masked(capsys: pytest.CaptureFixture[str]):
    # dbt quotes the value it could not convert: here a password a profile's variable gave
    from dataclasses import replace

    from metricsctl.guards import register_secret

    register_secret("Hunter2SuperSecretPw")
    result = build_result({"model.shop.m": "error"})
    run = result.runs[0]
    run.nodes[0] = replace(run.nodes[0], message="Conversion Error: Could not convert string "
                                                 "'Hunter2SuperSecretPw' to INT32")
    output.print_build(result)
    text = capsys.readouterr().out
    assert "Hunter2SuperSecretPw" not in text and "Could not convert string '***' to INT32" in text


def test_the_summary_time_is_the_wall_time_with_each_phase(capsys: pytest.CaptureFixture[str]):
    result = build_result({"model.shop.a": "success"}, {"parse": 9.1, "sources and staging": 12.0,
                                                         "expectations": 17.3}, wall=43.6)
    output.print_build(result)
    assert capsys.readouterr().out.splitlines()[-1] == (
        "OK built 1 model in 43.6 s (parse 9.1 s, sources and staging 12.0 s, expectations 17.3 s)")
    assert result.to_dict()["seconds"] == 43.6 and result.to_dict()["phases"]["expectations"] == 17.3


def test_on_a_terminal_progress_is_live_and_problems_stay_printed():
    from rich.console import Console

    from metricsctl.progress import Phases

    stream = io.StringIO()
    phases = output.build_progress(Console(file=stream, force_terminal=True, width=100))
    assert isinstance(phases.reporter, output.LiveReporter)
    with phases.phase("sources and staging"):
        phases.node("seed.shop.orders", "success")
        phases.node("test.shop.unique_orders_order_id", "fail")
    with phases.phase("expectations", 2):
        phases.item("orders", "pass")
        phases.item("visits", "warn", "1 of 4 failed")
        phases.summary("5 expectations: 4 passed, 1 failed (warn)")
    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", stream.getvalue())  # without the terminal's escapes
    assert "fail test unique_orders_order_id" in text and "warn suite visits (1 of 4 failed)" in text
    assert "sources and staging: " in text and "5 expectations: 4 passed, 1 failed (warn)" in text
    assert "ok seed orders" not in text  # a passing node only moves the live line
    assert list(phases.seconds) == ["sources and staging", "expectations"]
    assert isinstance(output.build_progress(Console(file=io.StringIO())).reporter, output.PlainReporter)
    assert Phases().wall_seconds >= 0


def test_the_open_alerts_table_shows_bracketed_names_and_crops_nothing(capsys: pytest.CaptureFixture[str]):
    from types import SimpleNamespace

    alert = SimpleNamespace(
        severity="critical", rule="store_conversion_collapse_by_store_and_channel", period=datetime.date(2024, 10, 14),
        series_key="store__store_name=Riverside Market Hall, order__channel=online_marketplace_partner",
        value=0.0123, owner="sales-team@example.com",
        message="conversion_rate [store__store_name=Riverside] was 0.01 for the week of 2024-10-14: a drop")
    output.print_open_alerts([alert])
    text = capsys.readouterr().out
    flat = " ".join(text.replace("│", " ").split())
    assert "[store__store_name=Riverside]" in flat  # not swallowed as markup, leaving two spaces
    assert "…" not in text and "0.0123" in text and "2024-10-14" in text
    assert "sales-team@example.com" in flat


def test_a_column_of_numbers_shows_the_same_decimals_on_every_row(capsys: pytest.CaptureFixture[str]):
    result = Result(("store", "revenue", "orders", "conversion", "units"),
                    [("Mill", 71018.0, 12, 0.1234567, 3.0), ("Dock", 42419.3, 7, 0.05, 4.0),
                     ("Quay", None, 1, None, 5.0)])
    output.print_table(result)
    rows = [line.replace("│", " ").split() for line in capsys.readouterr().out.splitlines()[2:]]
    assert rows == [["Mill", "71,018.00", "12", "0.1235", "3"], ["Dock", "42,419.30", "7", "0.0500", "4"],
                    ["Quay", "1", "5"]]


class _Recorder:
    def __init__(self, live: bool) -> None:
        self.live = live
        self.events: list[tuple[str, str]] = []

    def phase_started(self, phase: str, total: int | None) -> None:
        self.events.append(("started", phase))

    def item_done(self, phase: str, item: str, status: str, detail: str) -> None:
        self.events.append(("item", item))

    def phase_finished(self, phase: str, seconds: float, summary: str) -> None:
        self.events.append(("finished", phase))

    def phase_abandoned(self, phase: str) -> None:
        self.events.append(("abandoned", phase))


def test_the_parse_shows_progress_yet_a_failure_is_the_only_line():
    import pytest

    from metricsctl.progress import Phases

    for live, ok_events, failed_events in (
            (False, [("finished", "parse")], []),
            (True, [("started", "parse"), ("finished", "parse")], [("started", "parse"), ("abandoned", "parse")])):
        recorder = _Recorder(live)
        with Phases(recorder).phase("parse", quiet_until_done=True):
            pass
        assert recorder.events == ok_events
        recorder = _Recorder(live)
        with pytest.raises(ValueError), Phases(recorder).phase("parse", quiet_until_done=True):
            raise ValueError("bad spec")
        assert recorder.events == failed_events


def test_expectations_that_could_not_run_for_one_reason_are_one_line(capsys: pytest.CaptureFixture[str]):
    from metricsctl.expectations.results import ExpectationResult, ExpectationRun, SuiteResult

    cast = 'Conversion Error: invalid date field format: "not-a-date" (column opened_date)'
    results = [ExpectationResult("stg_stores", "stg_stores", "expect_column_values_to_not_be_null", {"column": c},
                                 "error", False, error=cast, path="models/expectations.yml", line=line)
               for c, line in (("store_id", 180), ("store_name", 182), ("region", 181))]
    results.append(ExpectationResult("stg_orders", "stg_orders", "expect_column_values_to_be_unique",
                                     {"column": "order_id"}, "error", False, unexpected_count=2,
                                     unexpected_sample=(7, 7), path="models/expectations.yml", line=200))
    suites = tuple(SuiteResult(name, name, f"main.{name}", None, "error", tuple(r for r in results if r.suite == name))
                   for name in ("stg_stores", "stg_orders"))
    output.print_expectations(ExpectationRun("run", datetime.datetime(2025, 7, 1), datetime.date(2025, 7, 1), suites))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"ERROR stg_stores: 3 expectations could not run: {cast} (models/expectations.yml:180-182)"
    assert lines[1].startswith("FAIL stg_orders expect_column_values_to_be_unique(column=order_id): 2 unexpected")
    assert len(lines) == 3  # and the counts


HOSTILE = "\x1b[2J\x1b[31mRED\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\ [bold]x[/bold]"


def test_control_characters_in_values_are_shown_not_sent_to_the_terminal(capsys: pytest.CaptureFixture[str]):
    """A value from the data that clears the screen, recolours it or hides a link behind other words: each
    escape is printed as `\\x1b`, markup as written, and a trailing backslash once."""
    output.print_table(Result(("channel", "path"), [(HOSTILE, "C:\\dir\\")]))
    text = capsys.readouterr().out
    assert "\x1b" not in text
    assert "\\x1b[2J\\x1b[31mRED\\x1b]8;;http://evil.example\\x1b\\link" in text
    assert "[bold]x[/bold]" in text
    assert "C:\\dir\\ " in text and "C:\\dir\\\\" not in text


def test_control_characters_in_build_and_alert_messages_are_shown(capsys: pytest.CaptureFixture[str]):
    from types import SimpleNamespace

    output.warn(f"store {HOSTILE} is late")
    alert = SimpleNamespace(severity="warning", rule="r", period=None, series_key=f"store={HOSTILE}", value=1.0,
                            owner="", message="m")
    output.print_open_alerts([alert])
    captured = capsys.readouterr()
    assert "\x1b" not in captured.out + captured.err
    assert "WARN store \\x1b[2J\\x1b[31mRED" in captured.out
    assert captured.out.count("\\x1b") > 6  # the alert's series too, folded over lines
