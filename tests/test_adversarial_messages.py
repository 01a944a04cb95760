"""Careless and hostile input gets one line naming the culprit, exit code 2 and no traceback.

Each test feeds a copy of the shop project (or the alerts' tiny project) one kind of bad input: a
metric that reaches itself, a read-only project, impossible time ranges, invalid names, empty and
malformed seeds, management fields of the wrong type, filters nested too deeply, and a defect of
metricsctl itself. `--debug`, before or after the command, shows the traceback. The last tests
check that `alerts --as-of D` sees the alert state as it stood at D.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from metricsctl.alerts import connection_executor, run_alerts
from metricsctl.cli import main
from metricsctl.errors import MetricsctlError
from metricsctl.facade import Metricsctl
from metricsctl.management.catalog import catalog_fields
from tests.conftest import SHOP
from tests.test_alerts_delivery import LOG, config
from tests.test_alerts_delivery import spec as spec  # noqa: F401 - fixtures: the tiny project's spec
from tests.test_alerts_delivery import warehouse as warehouse  # noqa: F401 - and a copy of its warehouse


def project_copy(tmp_path: Path) -> Path:
    """The shop project without parse results, its warehouse a file of its own (never built here)."""
    root = tmp_path / "shop"
    shutil.copytree(SHOP, root, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    (root / "profiles.yml").write_text((root / "profiles.yml").read_text().replace(
        "{{ env_var('METRICSCTL_SHOP_DB', 'shop.duckdb') }}", str(root / "shop.duckdb")))
    return root


def append_metrics(root: Path, text: str) -> Path:
    path = root / "metrics" / "metrics.yml"
    path.write_text(path.read_text().rstrip("\n") + "\n" + text)
    return path


def line_of(path: Path, fragment: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if fragment in line)


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def one_error_line(result: Result) -> str:
    """The run failed with exit code 2 and said why in one line, without a traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


# --- the semantic spec ---------------------------------------------------------------------------
def test_a_derived_metric_cycle_names_the_cycle_at_its_line(tmp_path: Path):
    root = project_copy(tmp_path)
    metrics = append_metrics(root, """\
  - name: cyc_a
    label: A
    type: derived
    type_params: {expr: cyc_b + 1, metrics: [cyc_b]}
  - name: cyc_b
    label: B
    type: derived
    type_params: {expr: cyc_a + 1, metrics: [cyc_a]}
""")
    line = one_error_line(cli("query", "--project-dir", str(root), "--metrics", "orders", "--explain"))
    assert line == (f"error: metrics/metrics.yml:{line_of(metrics, '- name: cyc_a')}: metric 'cyc_a' reaches itself "
                    "through its inputs: cyc_a -> cyc_b -> cyc_a; a metric cannot be computed from itself")


def test_an_invalid_metric_name_is_reported_at_its_own_line_in_plain_words(tmp_path: Path):
    root = project_copy(tmp_path)
    metrics = append_metrics(root, """\
  - name: Bad-Metric
    label: Bad
    type: simple
    type_params: {measure: revenue}
  - name: also bad
    label: Also bad
    type: simple
    type_params: {measure: revenue}
""")
    result = cli("query", "--project-dir", str(root), "--metrics", "orders", "--explain")
    assert result.exit_code == 2 and "FilePath(" not in result.output and "Traceback" not in result.output
    assert "2 problems in the semantic spec" in result.output  # dbt stops at the first; both are reported
    assert (f"metrics/metrics.yml:{line_of(metrics, '- name: Bad-Metric')}: metric 'Bad-Metric': The metric name "
            "'Bad-Metric' is invalid") in result.output
    assert f"metrics/metrics.yml:{line_of(metrics, '- name: also bad')}: metric 'also bad'" in result.output


def test_a_metric_without_a_required_key_is_located_at_the_metric(tmp_path: Path):
    root = project_copy(tmp_path)
    metrics = append_metrics(root, "  - {name: unlabelled, type: simple, type_params: {measure: revenue}}\n")
    line = one_error_line(cli("query", "--project-dir", str(root), "--metrics", "orders", "--explain"))
    assert line == (f"error: metrics/metrics.yml:{line_of(metrics, 'name: unlabelled')}: metric 'unlabelled': "
                    "'label' is a required property")


@pytest.mark.parametrize("text, line, message", [
    ("metrics:\n  - name: x\n    label: [unclosed\n", 4, "not valid YAML: expected ',' or ']'"),
    ("metrics:\n  name: x\n", 1, "`metrics:` must be a list"),
    ("metrics:\n  - just_a_string\n", 1, "an entry of `metrics:` is 'just_a_string', not a mapping"),
    ("metrics:\n  - {name: x, label: X, type: simple, type_params: [revenue]}\n", 2,
     "metric 'x': type_params: ['revenue'] is not of type 'object'"),
    ("saved_queries:\n  - {name: sq, query_params: {metrics: revenue}}\n", 2,
     "saved query 'sq': query_params.metrics: 'revenue' is not of type 'array'"),
    ("semantic_models:\n  - name: sm2\n    model: ref('nowhere')\n    entities: [{name: foo, type: primary}]\n", 2,
     "depends on a node named 'nowhere' which was not found"),
])
def test_yaml_of_the_wrong_shape_is_one_line_at_its_file_and_line(tmp_path: Path, text: str, line: int,
                                                                  message: str):
    root = project_copy(tmp_path)
    (root / "metrics" / "extra.yml").write_text(text)
    reported = one_error_line(cli("query", "--project-dir", str(root), "--metrics", "orders", "--explain"))
    assert reported.startswith(f"error: metrics/extra.yml:{line}: ") and message in reported


def test_a_yaml_file_that_is_not_text_is_named(tmp_path: Path):
    root = project_copy(tmp_path)
    (root / "metrics" / "extra.yml").write_bytes(b"metrics:\n  - name: \xff\xfe\n")
    line = one_error_line(cli("query", "--project-dir", str(root), "--metrics", "orders", "--explain"))
    assert line == "error: metrics/extra.yml:2: byte 0xff is not UTF-8 text; save the file as UTF-8"


@pytest.mark.parametrize("name", ["dbt_project.yml", "profiles.yml"])
def test_a_broken_project_or_profile_file_is_one_line_at_its_line(tmp_path: Path, name: str):
    root = project_copy(tmp_path)
    (root / name).write_text("name: shop\nprofile: [unclosed\n")
    line = one_error_line(cli("query", "--project-dir", str(root), "--metrics", "orders", "--explain"))
    assert line.startswith(f"error: {root / name}:3: not valid YAML: ") and "expected ',' or ']'" in line


@pytest.mark.parametrize("text, message", [
    ('{"metrics": []}', "not a semantic manifest: semantic_models: field required; project_configuration: field "
                        "required"),
    ("\x00 not json", "not a semantic manifest: Expecting value: line 1 column 1 (char 0)"),
])
def test_a_file_that_is_not_a_semantic_manifest_is_one_line(tmp_path: Path, text: str, message: str):
    manifest = tmp_path / "semantic_manifest.json"
    manifest.write_text(text)
    line = one_error_line(cli("query", "--semantic-manifest", str(manifest), "--project-dir", str(tmp_path),
                              "--metrics", "orders", "--explain"))
    assert line == f"error: {manifest}: {message}"


def read_only_run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """metricsctl in a child process that sees `root` read-only (for root, through a read-only bind mount)."""
    command = [sys.executable, "-m", "metricsctl.cli", *args]
    if os.geteuid() != 0:
        for path in [root, *root.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
        return subprocess.run(command, capture_output=True, text=True, timeout=300)
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare to make a folder read-only for root")
    script = f'mount --bind -o ro "{root}" "{root}" && exec "$@"'
    run = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", *command], capture_output=True, text=True,
                         timeout=300)
    if "mount:" in run.stderr or "unshare:" in run.stderr:
        pytest.skip(f"cannot mount read-only here: {run.stderr.strip()}")
    return run


def test_a_read_only_project_says_which_file_could_not_be_written(tmp_path: Path, shop_dir: Path):
    root = tmp_path / "shop"
    shutil.copytree(shop_dir, root, ignore=shutil.ignore_patterns("*.duckdb"))
    (root / "metrics" / "metrics.yml").touch()  # the spec changed: dbt must parse again, into target/
    try:
        run = read_only_run(root, "query", "--project-dir", str(root), "--metrics", "orders", "--explain")
    finally:
        for path in [root, *root.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and "<semantic manifest>" not in run.stderr
    [line] = run.stderr.strip().splitlines()
    assert line.startswith(f"error: {root}/") and "Read-only file system" in line
    assert "make the project writable" in line


# --- queries ---------------------------------------------------------------------------------------
def test_a_start_time_after_the_end_time_is_refused(shop_dir: Path):
    line = one_error_line(cli("query", "--project-dir", str(shop_dir), "--metrics", "orders",
                              "--start-time", "2024-06-01", "--end-time", "2024-03-01"))
    assert line == "error: --start-time 2024-06-01 is after --end-time 2024-03-01; swap them, or drop one"


@pytest.mark.parametrize("option", ["--start-time", "--end-time"])
def test_a_date_that_does_not_exist_is_refused_before_the_warehouse_sees_it(shop_dir: Path, option: str):
    line = one_error_line(cli("query", "--project-dir", str(shop_dir), "--metrics", "orders", "--explain",
                              option, "2025-13-01"))
    assert line.startswith(f"error: {option} '2025-13-01' is not a date; write an ISO date such as 2025-03-01")


def test_a_filter_nested_60_deep_is_one_line_naming_it(shop_dir: Path):
    deep = "(" * 60 + "{{ Dimension('order__channel') }} = 'online'" + ")" * 60
    for extra in ([], ["--explain"]):
        line = one_error_line(cli("query", "--project-dir", str(shop_dir), "--metrics", "orders", "--where", deep,
                                  *extra))
        assert line.startswith("error: filter \"((((") and "nests parentheses 60 deep" in line


def test_a_metric_filter_nested_too_deeply_is_reported_at_the_metric(tmp_path: Path):
    root = project_copy(tmp_path)
    deep = "(" * 60 + "{{ Dimension('order__channel') }} = 'online'" + ")" * 60
    metrics = append_metrics(root, f"""\
  - name: deep_revenue
    label: Deep
    type: simple
    type_params: {{measure: revenue}}
    filter: "{deep}"
""")
    line = one_error_line(cli("compile", "--project-dir", str(root)))
    assert line.startswith(f"error: metrics/metrics.yml:{line_of(metrics, '- name: deep_revenue')}: metric "
                           "'deep_revenue': ") and "nests parentheses 60 deep" in line


def test_a_derived_expression_nested_300_deep_is_reported_at_the_metric(tmp_path: Path):
    """Past what Python's parser stack holds: compiling it exhausts the recursion limit, caught where it is."""
    root = project_copy(tmp_path)
    deep = "(" * 300 + "revenue" + ")" * 300
    metrics = append_metrics(root, f"""\
  - name: deep_expr
    label: Deep
    type: derived
    type_params: {{expr: "{deep} + 0", metrics: [revenue]}}
""")
    line = one_error_line(cli("compile", "--project-dir", str(root)))
    assert line == (f"error: metrics/metrics.yml:{line_of(metrics, '- name: deep_expr')}: metric 'deep_expr': its "
                    "filter or expression nests too deeply to compile; simplify it")
    line = one_error_line(cli("query", "--project-dir", str(root), "--metrics", "deep_expr", "--explain"))
    assert line == ("error: metrics deep_expr: a filter or expression of their definitions nests too deeply to "
                    "compile; simplify it")


def test_an_alert_rule_with_a_filter_nested_too_deeply_is_reported_at_the_rule(tmp_path: Path):
    root = project_copy(tmp_path)
    deep = "(" * 60 + "{{ Dimension('store__region') }} = 'north'" + ")" * 60
    (root / "metrics" / "watch.yml").write_text(
        "alert_defaults: {channels: [terminal]}\nalert_channels:\n  - {name: terminal, type: console}\n"
        f"alerts:\n  - name: deep\n    metric: revenue\n    kind: threshold\n    below: 1\n    filter: \"{deep}\"\n")
    line = one_error_line(cli("alerts", "--project-dir", str(root), "--dry-run", "--as-of", "2024-03-04"))
    assert line.startswith("error: metrics/watch.yml:9: alert 'deep': ") and "nests parentheses 60 deep" in line


# --- seeds ---------------------------------------------------------------------------------------
def test_an_empty_seed_is_named_before_dbt_runs(tmp_path: Path):
    root = project_copy(tmp_path)
    (root / "seeds" / "stores.csv").write_text("")
    line = one_error_line(cli("build", "--project-dir", str(root)))
    assert line.startswith("error: seeds/stores.csv: the file is empty; a seed needs a header line")
    assert not (root / "shop.duckdb").exists()  # refused before anything was built


def test_ragged_rows_are_named_with_their_lines(tmp_path: Path):
    root = project_copy(tmp_path)
    (root / "seeds" / "stores.csv").write_text("store_id,store_name,region\n1,Mill\n2,Dock,south\n3,Quay,north,x\n")
    result = cli("build", "--project-dir", str(root))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "seeds/stores.csv:2: this row has 2 values, the header has 3 columns" in result.output
    assert "seeds/stores.csv:4: this row has 4 values, the header has 3 columns" in result.output
    assert "seeds/stores.csv:3" not in result.output


def test_a_binary_seed_is_named_even_when_dbt_cannot_parse_the_project(tmp_path: Path):
    root = project_copy(tmp_path)
    (root / "seeds" / "visits.csv").write_bytes(b"visit_id,amount\n1,\xfc\xfd\xfe\n")
    line = one_error_line(cli("query", "--project-dir", str(root), "--metrics", "orders", "--explain"))
    assert line == "error: seeds/visits.csv:2: byte 0xfc is not UTF-8 text; save the file as UTF-8 CSV"


# --- management fields ---------------------------------------------------------------------------
def test_a_list_of_owners_is_refused_at_its_line_and_never_lands_in_the_catalog(tmp_path: Path):
    root = project_copy(tmp_path)
    metrics = append_metrics(root, """\
  - name: shared_revenue
    label: Shared revenue
    description: Revenue, answered for by two people.
    type: simple
    type_params: {measure: revenue}
    config:
      meta:
        owner: [alice, bob]
        unit: {currency: EUR}
        kpi: true
""")
    result = cli("lint", "--project-dir", str(root))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert (f"metrics/metrics.yml:{line_of(metrics, 'owner: [alice, bob]')}: [fields] metric 'shared_revenue': "
            "config.meta.owner is a list (['alice', 'bob']); a metric has one accountable owner") in result.output
    assert f"metrics/metrics.yml:{line_of(metrics, 'unit: {currency')}: [fields]" in result.output
    row = next(r for r in catalog_fields(Metricsctl(root).spec) if r.metric_name == "shared_revenue")
    assert (row.owner, row.unit) == (None, None)


# --- the command line's last line of defence -----------------------------------------------------
def test_an_unexpected_error_is_one_line_and_debug_after_the_command_shows_it(shop_dir: Path,
                                                                              monkeypatch: pytest.MonkeyPatch):
    def broken(self: Metricsctl, query: Any) -> Any:
        raise KeyError("metric_time")

    monkeypatch.setattr(Metricsctl, "query", broken)
    args = ["query", "--project-dir", str(shop_dir), "--metrics", "orders"]
    line = one_error_line(cli(*args))
    assert line == "internal error: KeyError: 'metric_time'; rerun with --debug to see the traceback"
    for debug in (["--debug", *args], [*args, "--debug"]):
        shown = cli(*debug)
        assert shown.exit_code == 2 and "Traceback" in shown.output and "KeyError" in shown.output


def test_debug_is_accepted_after_every_command():
    import click

    def commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
        found: list[tuple[str, click.Command]] = []
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                found += commands(command, f"{prefix}{name} ")
            else:
                found.append((prefix + name, command))
        return found

    for name, command in commands(main):  # type: ignore[arg-type]
        assert "--debug" in [opt for param in command.params for opt in param.opts], name


def test_a_recursion_error_anywhere_is_one_line(shop_dir: Path, monkeypatch: pytest.MonkeyPatch):
    def recurse(self: Metricsctl, *args: Any) -> Any:
        return recurse(self)

    monkeypatch.setattr(Metricsctl, "lint", recurse)
    line = one_error_line(cli("lint", "--project-dir", str(shop_dir)))
    assert line.startswith("error: the input is nested too deeply to process")


# --- alerts as of a date -------------------------------------------------------------------------
MILL = "store__store_name=Mill"


def test_a_dry_run_before_a_later_run_does_not_see_its_alert(spec: Any, warehouse: Any, tmp_path: Path):
    """Mill's 60 on 4 March opens the alert in a run as of the 5th; as of the 3rd (judging 2 March, about
    200) nothing was open, so nothing resolves."""
    execute = connection_executor(warehouse)
    cfg = config(spec, LOG)
    later = run_alerts(spec, cfg, execute, as_of=datetime(2024, 3, 5), base_dir=tmp_path)
    assert [e.series_key for e in later.opened] == [MILL]
    before = run_alerts(spec, cfg, execute, as_of=datetime(2024, 3, 3), dry_run=True, base_dir=tmp_path)
    assert (before.opened, before.renotified, before.resolved, before.open_alerts) == ([], [], [], [])


def test_a_dry_run_between_two_runs_sees_the_alert_open_as_it_was(spec: Any, warehouse: Any, tmp_path: Path):
    """Opened as of the 4th (50 on the 3rd), re-sent as of the 5th (60 on the 4th), resolved as of the 6th
    (220 on the 5th). As of the 4th at noon it was open and sent once; as of the 5th, sent twice."""
    execute = connection_executor(warehouse)
    cfg = config(spec, LOG)
    for day in (4, 5, 6):
        run_alerts(spec, cfg, execute, as_of=datetime(2024, 3, day), base_dir=tmp_path)
    noon = run_alerts(spec, cfg, execute, as_of=datetime(2024, 3, 4, 12), dry_run=True, base_dir=tmp_path)
    assert (noon.opened, noon.resolved, noon.renotified) == ([], [], [])  # within the one-day cooldown
    assert [(a.series_key, a.last_notified_at, a.notifications) for a in noon.open_alerts] == [
        (MILL, datetime(2024, 3, 4), 1)]
    fifth = run_alerts(spec, cfg, execute, as_of=datetime(2024, 3, 5, 12), dry_run=True, base_dir=tmp_path)
    assert (fifth.opened, fifth.resolved, fifth.renotified) == ([], [], [])
    assert [(a.series_key, a.last_notified_at, a.notifications) for a in fifth.open_alerts] == [
        (MILL, datetime(2024, 3, 5), 2)]


def test_a_real_run_dated_before_the_recorded_state_is_refused(spec: Any, warehouse: Any, tmp_path: Path):
    execute = connection_executor(warehouse)
    cfg = config(spec, LOG)
    run_alerts(spec, cfg, execute, as_of=datetime(2024, 3, 5), base_dir=tmp_path)
    with pytest.raises(MetricsctlError, match="alert state is recorded up to 2024-03-05 00:00:00; a run as of "
                                              "2024-03-04 00:00:00 would rewrite"):
        run_alerts(spec, cfg, execute, as_of=datetime(2024, 3, 4), base_dir=tmp_path)
    again = run_alerts(spec, cfg, execute, as_of=datetime(2024, 3, 5), base_dir=tmp_path)  # the same date: fine
    assert [a.series_key for a in again.open_alerts] == [MILL]


def test_a_real_run_dated_in_the_future_is_refused(spec: Any, warehouse: Any, tmp_path: Path):
    """It would record state that stops every run until that date; a dry run may look ahead."""
    from datetime import timedelta

    from metricsctl.alerts.engine import refuse_future

    execute = connection_executor(warehouse)
    cfg = config(spec, LOG)
    later = datetime.now() + timedelta(days=30)
    with pytest.raises(MetricsctlError, match=r"a run as of .* is in the future .*: the alert state it records "
                                              r"would stop every run before that date; add --dry-run"):
        run_alerts(spec, cfg, execute, as_of=later, base_dir=tmp_path)
    assert run_alerts(spec, cfg, execute, as_of=later, dry_run=True, base_dir=tmp_path).dry_run
    refuse_future(datetime(2024, 3, 5, 12), now=datetime(2024, 3, 5))  # a clock hours ahead is no future
    again = run_alerts(spec, cfg, execute, as_of=datetime(2024, 3, 5), base_dir=tmp_path)  # nothing was recorded
    assert [a.series_key for a in again.open_alerts] == [MILL]


def test_a_build_whose_alerts_would_rewrite_recorded_state_is_refused_before_building(tmp_path: Path):
    from tests.test_alerts import built_project

    root = tmp_path / "tiny"
    shutil.copytree(built_project(), root)
    (root / "profiles.yml").write_text((root / "profiles.yml").read_text().replace(
        str(built_project() / "tiny.duckdb"), str(root / "tiny.duckdb")))
    run = Metricsctl(root).alerts(datetime(2024, 3, 5))  # revenue_floor opens: Mill sold 60 on the 4th
    assert MILL in [e.series_key for e in run.opened]
    before = (root / "tiny.duckdb").stat().st_mtime_ns
    line = one_error_line(cli("build", "--alerts", "--as-of", "2024-03-04", "--project-dir", str(root)))
    assert line == ("error: alert state is recorded up to 2024-03-05 00:00:00; a run as of 2024-03-04 00:00:00 "
                    "would rewrite what later runs recorded: add --dry-run to see what the alerts were then")
    assert (root / "tiny.duckdb").stat().st_mtime_ns == before  # nothing was built


def test_the_full_refresh_hint_shows_only_when_a_seeds_columns_changed(tmp_path: Path):
    root = project_copy(tmp_path)
    assert cli("build", "--project-dir", str(root)).exit_code == 0
    orders = root / "seeds" / "orders.csv"
    original = orders.read_text()
    header, first, *rest = original.splitlines()
    promo = header.split(",").index("is_promo")
    values = first.split(",")
    values[promo] = "maybe"  # a value that is no boolean: the hint would send the user the wrong way
    orders.write_text("\n".join([header, ",".join(values), *rest]) + "\n")
    bad_value = cli("build", "--project-dir", str(root))
    assert bad_value.exit_code == 1 and "seed.shop.orders" in bad_value.output
    assert "--full-refresh" not in bad_value.output
    orders.write_text(original)
    stores = root / "seeds" / "stores.csv"
    lines = stores.read_text().splitlines()
    stores.write_text("\n".join([lines[0] + ",opened_on", *(line + ",2020-01-01" for line in lines[1:])]) + "\n")
    new_column = cli("build", "--project-dir", str(root))
    assert new_column.exit_code == 1
    assert "hint: when a seed's columns changed since the last load, reload it with `metricsctl build " \
           "--full-refresh`" in new_column.output


@pytest.mark.parametrize(("key", "column"), [
    ("column_name", "fiscal_quarter"),
    ("standard_granularity_column", "date_day"),
])
def test_a_time_spine_column_that_is_not_a_name_is_refused_at_its_line(tmp_path: Path, key: str, column: str):
    """A time spine's columns become column names in the SQL of every query that steps along it: text that is
    not a plain name would run as SQL."""
    root = project_copy(tmp_path)
    spine = root / "models" / "time_spine.yml"
    injected = "date_day::varchar || (select content from read_text('/etc/hostname'))"
    text = spine.read_text()
    assert f"{key}: {column}\n" in text and f"      - name: {column}\n" in text
    head, tail = text.replace(f"{key}: {column}\n", f'{key}: "{injected}"\n', 1).split("    columns:\n", 1)
    spine.write_text(head + "    columns:\n" + tail.replace(f"- name: {column}\n", f'- name: "{injected}"\n', 1))
    for command in (["compile"], ["query", "--metrics", "revenue", "--group-by", "metric_time__fiscal_quarter"]):
        line = one_error_line(cli(*command, "--project-dir", str(root)))
        assert line.startswith(f"error: models/time_spine.yml:{line_of(spine, key + ':')}: time spine "
                               "'metricflow_time_spine': column "), line
        assert "is not a valid name" in line and "(it becomes a column name in SQL)" in line
    assert not (root / "models" / "metrics").exists()


@pytest.mark.parametrize("repeated", [("metric",), ("saved query",), ("metric", "saved query")])
def test_a_metric_or_saved_query_defined_twice_in_one_file_is_refused_at_the_repeat(tmp_path: Path,
                                                                                     repeated: tuple[str, ...]):
    """dbt keeps one of two same-named elements of one file without a word (a metric), or stops at the first
    (a saved query); whichever it keeps, queries and exports would silently answer with the other's definition."""
    root = project_copy(tmp_path)
    metrics, saved = root / "metrics" / "metrics.yml", root / "metrics" / "saved_queries.yml"
    text = saved.read_text()
    if "metric" in repeated:
        append_metrics(root, "  - {name: revenue, label: Revenue too, type: simple, "
                             "type_params: {measure: quantity}}\n")
    if "saved query" in repeated:
        query = text[text.index("  - name: sales_by_month\n"):text.index("  - name: daily_channel")]
        saved.write_text(text + query.replace("      - name: sales_by_month\n", "      - name: sales_by_month_2\n"))
    expected = {
        "metric": f"metrics/metrics.yml:{line_of(metrics, 'label: Revenue too') if 'metric' in repeated else 0}: "
                  "metric 'revenue' is defined twice (first at "
                  f"metrics/metrics.yml:{line_of(metrics, '{name: revenue,')}); rename or remove one",
        "saved query": f"metrics/saved_queries.yml:{len(text.splitlines()) + 1}: saved query 'sales_by_month' is "
                       f"defined twice (first at metrics/saved_queries.yml:{line_of(saved, '- name: sales_by_month')})"
                       "; rename or remove one",
    }
    for command in (["compile"], ["query", "--metrics", "revenue", "--group-by", "metric_time__month"]):
        result = cli(*command, "--project-dir", str(root))
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
        for what in repeated:
            assert expected[what] in result.output
    assert not (root / "models" / "metrics").exists()


def test_a_misspelt_warehouse_type_names_the_profile_and_the_installed_adapters_not_a_package_to_install(
        tmp_path: Path):
    """`pip install dbt-duckbd` would install whatever anyone published under that name."""
    root = project_copy(tmp_path)
    profiles = root / "profiles.yml"
    profiles.write_text(profiles.read_text().replace("type: duckdb", "type: duckbd", 1))
    line = one_error_line(cli("query", "--project-dir", str(root), "--metrics", "revenue", "--explain"))
    assert line.startswith(f"error: {profiles}: target 'dev' has type 'duckbd', which no dbt adapter provides; "
                           "did you mean 'duckdb'? (installed: duckdb")  # then postgres and spark, with their extras
    assert "pip install" not in line


def test_a_metrics_meta_outside_its_config_is_refused_at_its_line(tmp_path: Path):
    """dbt keeps a metric's `meta:` beside `type:` on its own node but not in the Semantic Layer: the owner, unit
    and KPI flag would be lost without a word (the catalog blank, the lint passing)."""
    root = project_copy(tmp_path)
    metrics = append_metrics(root, "  - name: revenue_owned\n    label: Owned\n    type: simple\n"
                                   "    type_params: {measure: revenue}\n    meta: {owner: sales, unit: EUR}\n")
    line = one_error_line(cli("query", "--project-dir", str(root), "--metrics", "revenue_owned", "--explain"))
    assert line == (f"error: metrics/metrics.yml:{line_of(metrics, 'meta: {owner: sales')}: metric 'revenue_owned': "
                    "`meta:` beside `type:` is left out of the Semantic Layer (owner, unit, kpi, target and alerts "
                    "would be lost); move it under `config:` (config: {meta: {...}})")
    metrics.write_text(metrics.read_text().replace("    meta: {owner: sales", "    config: {meta: {owner: sales")
                       .replace("unit: EUR}\n", "unit: EUR}}\n"))
    assert cli("query", "--project-dir", str(root), "--metrics", "revenue_owned", "--explain").exit_code == 0


def test_a_deleted_generated_model_or_a_renamed_time_spine_is_compiled_anew(tmp_path: Path):
    """dbt parses metricsctl's own models with the project; one deleted (another refers to it) or a time spine
    renamed (they read it) failed the parse that `metricsctl compile` needs to write them again."""
    root = project_copy(tmp_path)
    assert cli("compile", "--project-dir", str(root)).exit_code == 0
    generated = root / "models" / "metrics"
    catalog = (generated / "metric_catalog.sql").read_text()
    assert "ref('metric_values')" in catalog
    (generated / "metric_values.sql").unlink()
    result = cli("compile", "--project-dir", str(root))
    assert result.exit_code == 0, result.output
    assert (generated / "metric_values.sql").is_file() and (generated / "metric_catalog.sql").read_text() == catalog
    for name in ("time_spine.yml", "metricflow_time_spine.sql", "metricflow_time_spine_hour.sql"):
        path = root / "models" / name
        path.write_text(path.read_text().replace("name: metricflow_time_spine\n", "name: my_spine\n")
                        .replace("ref('metricflow_time_spine')", "ref('my_spine')"))
    (root / "models" / "metricflow_time_spine.sql").rename(root / "models" / "my_spine.sql")
    result = cli("compile", "--project-dir", str(root))
    assert result.exit_code == 0, result.output
    assert "ref('my_spine')" in (generated / "metric_values.sql").read_text()
    assert not list((root / "target").glob("metricsctl_generated_set_aside/*"))


def test_a_misspelt_aggregation_or_type_is_named_at_its_line_with_the_fix(tmp_path: Path):
    """dbt stops at the first enum it cannot read, in its own words and at no line: every one is named here."""
    root = project_copy(tmp_path)
    models = root / "metrics" / "semantic_models.yml"
    text = models.read_text()
    text = text.replace("      - name: orders\n        agg: sum\n", "      - name: orders\n        agg: summ\n", 1)
    text = text.replace("      - name: channel\n        type: categorical\n",
                        "      - name: channel\n        type: categorial\n", 1)
    text = text.replace("      - name: order\n        type: primary\n",
                        "      - name: order\n        type: primery\n", 1)
    models.write_text(text)
    result = cli("compile", "--project-dir", str(root))
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert (f"metrics/semantic_models.yml:{line_of(models, 'agg: summ')}: semantic model 'orders': measure 'orders': "
            "agg 'summ' is not one of sum, min, max, count_distinct, sum_boolean, average, percentile, median, "
            "count; did you mean 'sum'") in result.output
    assert (f"metrics/semantic_models.yml:{line_of(models, 'type: categorial')}: semantic model 'orders': dimension "
            "'channel': type 'categorial' is not one of categorical, time; did you mean 'categorical'?"
            ) in result.output
    assert (f"metrics/semantic_models.yml:{line_of(models, 'type: primery')}: semantic model 'orders': entity 'order': "
            "type 'primery' is not one of foreign, natural, primary, unique; did you mean 'primary'?") in result.output
    assert "dbt_project.yml" not in result.output


def test_a_dbt_message_without_a_place_is_located_by_the_value_it_quotes(tmp_path: Path):
    """dbt reports a window it cannot read once per place, naming neither: each is located where it is written."""
    root = project_copy(tmp_path)
    metrics = root / "metrics" / "metrics.yml"
    metrics.write_text(metrics.read_text().replace("offset_window: 7 days,", "offset_window: 7 dayz,"))
    places = [n for n, line in enumerate(metrics.read_text().splitlines(), 1) if "7 dayz" in line]
    assert len(places) == 2
    result = cli("compile", "--project-dir", str(root))
    assert result.exit_code == 2 and "<semantic manifest>" not in result.output, result.output
    for line in places:
        assert f"metrics/metrics.yml:{line}: Invalid time granularity 'dayz' in window: '7 dayz'" in result.output


def test_a_disabled_definition_beside_an_enabled_one_is_not_a_repeat(tmp_path: Path):
    root = project_copy(tmp_path)
    append_metrics(root, "  - {name: revenue, label: Old revenue, type: simple, type_params: {measure: quantity}, "
                         "config: {enabled: false}}\n")
    assert cli("query", "--project-dir", str(root), "--metrics", "revenue", "--explain").exit_code == 0


@pytest.mark.parametrize(("setting", "said"), [
    ("threads: two", "at path ['threads']: 'two' is not of type 'integer'"),
    ("threads: 1\n      extensions: parquet", "'parquet' is not valid"),
])
def test_a_bad_profile_setting_is_named_at_its_line_in_profiles_yml(tmp_path: Path, setting: str, said: str):
    """dbt reports the profile's problems without a file: they are profiles.yml's, not dbt_project.yml's."""
    root = project_copy(tmp_path)
    profiles = root / "profiles.yml"
    profiles.write_text(profiles.read_text().replace("threads: 1", setting, 1))
    key = setting.split("\n")[-1].strip().split(":")[0]
    line = one_error_line(cli("compile", "--project-dir", str(root), "--profiles-dir", str(root)))
    assert line.startswith(f"error: profiles.yml:{line_of(profiles, key + ':')}: the profile, target 'dev': "), line
    assert said in line and "dbt_project.yml" not in line


def test_a_measure_without_an_aggregation_time_dimension_is_named_at_its_line(tmp_path: Path):
    """A semantic model's `defaults: agg_time_dimension` removed: the measures left without one are named at their
    line, with what to set, without the validator's wrapping (`AssertionError`)."""
    root = project_copy(tmp_path)
    path = root / "metrics" / "semantic_models.yml"
    text = path.read_text()
    path.write_text(text.replace("    defaults:\n      agg_time_dimension: ordered_at\n", "", 1))
    assert path.read_text() != text
    lines = path.read_text().splitlines()
    measure = next(n for n, text in enumerate(lines, 1) if text.strip() == "- name: orders"
                   and n > lines.index("    measures:"))  # the measure, not its semantic model of the same name
    line = one_error_line(cli("compile", "--project-dir", str(root), "--profiles-dir", str(root)))
    assert line.startswith(f"error: metrics/semantic_models.yml:{measure}: "
                           "Aggregation time dimension for measure orders is not set"), line
    assert "AssertionError" not in line and "An error occurred" not in line
