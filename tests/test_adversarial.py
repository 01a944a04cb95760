"""Hostile and careless input: what a filter can do, where metricsctl writes, secrets, failed builds.

Filters arrive from BI tools, bots and CI parameters; names and descriptions from YAML under review. Each
test here feeds a kind of hostile input and checks that nothing runs, nothing is written where it should
not be, no secret leaves, and readers only ever see audited rows. The corpora are lists so that new
attacks are one line each.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from sqlglot import exp

from metricsctl.alerts.channels import DeliveryError, WebhookNotifier
from metricsctl.alerts.rules import Channel
from metricsctl.cli import main
from metricsctl.compiler.filters import equality_filter, parse_filter
from metricsctl.errors import DbtError, MetricsctlError, QueryError
from metricsctl.facade import Metricsctl
from metricsctl.guards import escape_jinja, identifier_problem, mask
from metricsctl.publish import BuildLock
from metricsctl.saved_queries import group_by_name
from tests.test_build_gating import SUITES
from tests.test_materialize import make_project, table

# --- filters are data, never code ------------------------------------------------------------------
TEMPLATE_ESCAPES = [
    "{{ cycler.__init__.__globals__.os.system('touch PWNED') }} = 0",
    "{{ lipsum.__globals__.os.popen('id').read() }} = 1",
    "{{ joiner.__init__.__globals__['os'].system('touch PWNED') }} = 0",
    "{{ Dimension('order__channel').__class__.__mro__[1].__subclasses__() }} = 1",
    "{{ Dimension('order__channel').__init__.__globals__ }} = 1",
    "{{ Dimension.__globals__ }} = 1",
    "{{ Dimension(''.join(['order__', 'channel'])) }} = 'x'",
    "{{ Dimension('order__channel' ~ 'x') }} = 'x'",
    "{{ Dimension(name) }} = 'x'",
    "{{ Dimension('order__channel', **kw) }} = 'x'",
    "{{ Dimension('order__channel') | attr('__class__') }} = 1",
    "{{ Dimension('order__channel')['x'] }} = 1",
    "{{ (lambda: 1)() }} = 1",
    "{{ __import__('os').system('touch PWNED') }} = 0",
    "{{ config.__class__ }} = 1",
    "{% set x = 1 %}{{ Dimension('order__channel') }} = 'a'",
    "{% for i in range(99999999) %}x{% endfor %} = 1",
    "{# comment #}{{ Dimension('order__channel') }} = 'a'",
    "{{ Dimension('order__channel') }} = 'a' {{",
    "{{ Dimension('order__channel').grain('month').__class__ }} = 1",
    "{{ Dimension('order__channel').upper() }} = 'A'",
]

SQL_ESCAPES = [
    "{{ Dimension('order__channel') }} = 'a'; DROP TABLE orders",
    "{{ Dimension('order__channel') }} = 'a'; COPY orders TO '/tmp/x.csv'",
    "{{ Dimension('order__channel') }} IN (SELECT channel FROM orders)",
    "{{ Dimension('order__channel') }} = read_text('/etc/passwd')",
    "{{ Dimension('order__channel') }} = getenv('HOME')",
    "{{ Dimension('order__channel') }} = (SELECT current_setting('home_directory'))",
    "EXISTS (SELECT 1 FROM orders)",
    "{{ Dimension('order__channel') }} = 'a' OR amount > 0",
    "{{ Dimension('order__channel') }} = 'a' UNION SELECT * FROM customers",
    "1 = 1",  # no item at all still is one boolean expression: allowed below, only checked to parse
]


@pytest.mark.parametrize("template", TEMPLATE_ESCAPES)
def test_a_template_escape_is_refused_and_runs_nothing(template: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(QueryError) as caught:
        parse_filter(template, "duckdb")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("template", SQL_ESCAPES[:-1])
def test_sql_beyond_one_boolean_over_items_is_refused(template: str):
    with pytest.raises(QueryError):
        parse_filter(template, "duckdb")


# sqlglot reads the quoted unit of a date function and an interval's text as SQL words, which Spark, Snowflake
# and BigQuery write unquoted: a "unit" holding SQL ran there (reading a table no metric reads), and an interval's
# text beyond its amount and unit was dropped without a word
DAY = "{{ TimeDimension('metric_time', 'day') }}"
TEXTS_READ_AS_WORDS = [
    f"date_diff('day, current_date, current_date) = 0 and (select max(salary) from hr.payroll) > 100000 or "
    f"date_diff(day', {DAY}, {DAY}) = 0",
    f"date_trunc('month) or 1 = 1 or date_trunc(month', {DAY}) = {DAY}",
    f"{DAY} >= current_date - interval '7 days; drop table orders'",
    f"{DAY} - interval '1 day) or (select 1' > current_date",
]


@pytest.mark.parametrize("template", TEXTS_READ_AS_WORDS)
def test_a_quoted_unit_or_interval_that_holds_more_is_refused(template: str):
    with pytest.raises(QueryError) as caught:
        parse_filter(template, "duckdb")
    assert "write a unit ('day')" in str(caught.value) or "write one word there" in str(caught.value)


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "spark", "snowflake", "bigquery", "trino"])
def test_date_units_and_intervals_still_read_and_stay_words_in_every_dialect(dialect: str):
    parsed = parse_filter(f"date_diff('day', {DAY}, current_date) <= 30 AND date_trunc('month', {DAY}) >= "
                          f"date '2024-01-01' AND {DAY} >= current_date - interval '7 days' AND "
                          f"extract(year from {DAY}) = 2024", "duckdb")
    written = parsed.expression.sql(dialect)
    assert "SELECT" not in written.upper() and ";" not in written
    assert {var.name for var in parsed.expression.find_all(exp.Var)} == {"DAY", "MONTH", "DAYS", "YEAR"}


# `tree --org-unit store=NAME` narrows the metric to NAME by a filter written in the target's dialect: on Spark,
# BigQuery and Snowflake a backslash escapes inside a string, so doubling the quotes alone let a name end it
ORG_UNIT_NAMES = ["\\' OR 1=1 --", "O'Hare", "back\\", "x' or '1'='1", "{ not an item }"]


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "spark", "snowflake", "bigquery", "trino"])
@pytest.mark.parametrize("name", ORG_UNIT_NAMES)
def test_an_org_unit_name_stays_one_string_in_every_dialect(dialect: str, name: str):
    parsed = parse_filter(equality_filter("store__store_name", name, dialect), dialect)
    assert isinstance(parsed.expression, exp.EQ)
    literal = parsed.expression.expression
    assert isinstance(literal, exp.Literal) and literal.is_string and literal.this == name
    assert [str(item) for _, item in parsed.items] == ["store__store_name"]


def test_an_org_unit_name_that_a_filter_would_read_as_an_item_is_refused():
    with pytest.raises(QueryError, match="reads as an item or a statement even inside quotes"):
        equality_filter("store__store_name", "{{ Dimension('customer__segment') }}", "duckdb")


def test_plain_filters_still_read_as_metricflow_writes_them():
    parsed = parse_filter("{{ TimeDimension('metric_time', 'month') }} >= '2024-01-01' AND "
                          "{{ Dimension('order__channel') }} IN ('online', 'store') AND "
                          "{{ Dimension('customer__signup_date').grain('month') }} IS NOT NULL AND "
                          "{{ Entity('customer') }} <> 3 AND {{ Metric('revenue', group_by=['customer']) }} > 10",
                          "duckdb")
    assert [str(item) for _, item in parsed.items] == [
        "metric_time__month", "order__channel", "customer__signup_date__month", "customer"]
    assert [call.metric for _, call in parsed.metrics] == ["revenue"]
    assert group_by_name("TimeDimension('metric_time', 'week')") == "metric_time__week"
    assert group_by_name("Dimension('customer__region')") == "customer__region"


@pytest.mark.parametrize("text", [
    "Dimension('a').__class__", "__import__('os')", "Dimension(open('/etc/passwd').read())",
    "Metric('revenue')", "Dimension('a'); Dimension('b')"])
def test_a_group_by_item_is_read_as_data_too(text: str):
    with pytest.raises(QueryError):
        group_by_name(text)


def test_deep_nesting_and_huge_filters_are_one_line_not_a_traceback():
    for template in ["(" * 60 + "{{ Dimension('order__channel') }} = 'a'" + ")" * 60,
                     "{{ Dimension('order__channel') }} = 'a'" + " AND 1 = 1" * 5000,
                     "{{ Dimension(" + "[" * 200 + "'a'" + "]" * 200 + ") }} = 1"]:
        with pytest.raises(QueryError) as caught:
            parse_filter(template, "duckdb")
        assert len(str(caught.value)) < 600


def test_the_cli_refuses_a_code_running_filter_before_anything_runs(shop_dir: Path, tmp_path: Path):
    marker = tmp_path / "PWNED"
    result = subprocess.run(
        [sys.executable, "-m", "metricsctl.cli", "query", "--project-dir", str(shop_dir), "--metrics", "revenue",
         "--group-by", "metric_time__month",
         "--where", f"{{{{ cycler.__init__.__globals__.os.system('touch {marker}') }}}} = 0"],
        capture_output=True, text=True, env={**os.environ, "METRICSCTL_SHOP_DB": str(shop_dir / "shop.duckdb")})
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr and not marker.exists()


# --- text placed in generated models never runs as Jinja -------------------------------------------
def test_jinja_in_spec_text_is_escaped_in_generated_sql():
    assert escape_jinja("select '{{ env_var(\"X\") }}', '{% do x %}', '{# c #}'") == (
        "select '{{ '{{' }} env_var(\"X\") }}', '{{ '{%' }} do x %}', '{{ '{#' }} c #}'")
    assert escape_jinja("select 1") == "select 1"


# --- names become files and relations only when they are identifiers ------------------------------
@pytest.mark.parametrize("name", ["../../../escaped_export", "a/b", "x\n{{ evil }}", "drop table x;", "",
                                  "a" * 64, "1starts_with_digit", "naïve", "semi;colon", ".hidden"])
def test_unsafe_names_are_not_identifiers(name: str):
    assert identifier_problem(name, "export") is not None


@pytest.mark.parametrize("field,value", [("name", "../../../escaped_export"), ("alias", "../escaped"),
                                         ("schema", "main; drop table orders")])
def test_an_export_name_cannot_reach_outside_the_project(tmp_path: Path, field: str, value: str):
    root = make_project(tmp_path)
    spec = root / "metrics" / "saved_queries.yml"
    original = spec.read_text()
    target = "      - name: sales_by_month\n        config: {export_as: table}"
    assert target in original
    if field == "name":
        changed = target.replace("name: sales_by_month", f"name: '{value}'")
    else:
        changed = target.replace("{export_as: table}", f"{{export_as: table, {field}: '{value}'}}")
    spec.write_text(original.replace(target, changed))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.sql"))
    result = CliRunner().invoke(main, ["compile", "--project-dir", str(root)])
    assert result.exit_code == 2, result.output
    assert "is not a valid name" in result.output and "saved_queries.yml:" in result.output
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.sql"))
    assert after == before
    assert not (tmp_path.parent / "escaped_export.sql").exists()


@pytest.mark.parametrize(("config", "message"), [
    # DuckDB folds the case of names, quoted or not, and so does a case-insensitive file system
    ("{name: Metric_Values, config: {export_as: table}}",
     "saved_queries.yml:2: 'Metric_Values' and 'metric_values' differ only in case"),
    ("{name: sales_monthly, config: {export_as: table, alias: metric_values}}",
     "saved_queries.yml:2: 'sales_monthly' and 'metric_values' would both build the relation 'metric_values' in "
     "the target's schema"),
    # the export reported is the later one, at its saved query's line
    ("{name: conversion_copy, config: {export_as: table, alias: CONVERSION_BY_SOURCE}}",
     "saved_queries.yml:24: 'conversion_by_source' and 'conversion_copy' would both build the relation "
     "'conversion_by_source'"),
    ("{name: sales_by_month, config: {export_as: view}}", "saved_queries.yml:2: two exports are named "
                                                          "'sales_by_month'"),
])
def test_an_export_cannot_build_over_another_model(tmp_path: Path, config: str, message: str):
    result = compile_with_export(tmp_path, config)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not list(tmp_path.rglob("Metric_Values.sql"))


def test_an_export_may_share_a_name_with_a_relation_of_another_schema(tmp_path: Path):
    result = compile_with_export(tmp_path, "{name: sales_monthly, config: {export_as: table, alias: metric_values, "
                                           "schema: exports}}")
    assert result.exit_code == 0, result.output


def compile_with_export(tmp_path: Path, config: str) -> Any:
    """`metricsctl compile` of the shop project with one more export, of its saved query `sales_by_month`."""
    root = make_project(tmp_path)
    spec = root / "metrics" / "saved_queries.yml"
    target = "      - name: sales_by_month\n        config: {export_as: table}\n"
    spec.write_text(spec.read_text().replace(target, target + f"      - {config}\n"))
    return CliRunner().invoke(main, ["compile", "--project-dir", str(root)])


def test_alert_rule_and_channel_names_are_identifiers(tmp_path: Path):
    root = make_project(tmp_path)
    (root / "metrics" / "alerts.yml").write_text(
        "alert_channels:\n  - {name: 'log/../x', type: jsonl, path: /tmp/escape.jsonl}\n"
        "alerts:\n  - {name: 'bad name', metric: revenue, kind: threshold, grain: month, above: 1}\n")
    result = CliRunner().invoke(main, ["alerts", "--project-dir", str(root), "--dry-run"])
    assert result.exit_code == 2
    assert "alert channel 'log/../x' is not a valid name" in result.output
    assert "alert rule 'bad name' is not a valid name" in result.output
    assert "must be relative and inside the project" in result.output
    assert "alerts.yml:2" in result.output


# --- outputs never destroy inputs ------------------------------------------------------------------
def test_csv_output_refuses_to_clobber_the_warehouse_or_a_binary_file(shop_dir: Path, tmp_path: Path):
    warehouse = shop_dir / "shop.duckdb"
    size = warehouse.stat().st_size
    binary = tmp_path / "data.csv"
    binary.write_bytes(b"DUCK\0\0\0binary")
    cases = {
        str(warehouse): "must end in .csv",
        str(tmp_path / "missing" / "out.csv"): "does not exist",
        str(binary): "not a CSV file",
        str(tmp_path): "is a directory",
    }
    for path, message in cases.items():
        result = CliRunner().invoke(main, ["query", "--project-dir", str(shop_dir), "--metrics", "revenue",
                                           "--csv", path])
        assert result.exit_code == 2, (path, result.output)
        assert message in result.output and "Traceback" not in result.output
    assert warehouse.stat().st_size == size and binary.read_bytes() == b"DUCK\0\0\0binary"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from information_schema.tables").fetchone()[0] > 5


def test_csv_output_renamed_to_csv_still_cannot_be_the_warehouse(tmp_path: Path):
    from metricsctl.output import check_output_path

    warehouse = tmp_path / "warehouse.csv"
    warehouse.write_text("a,b\n")
    with pytest.raises(MetricsctlError, match="refusing to overwrite the warehouse"):
        check_output_path(warehouse, ".csv", [warehouse])
    link = tmp_path / "link.csv"
    link.symlink_to(warehouse)
    with pytest.raises(MetricsctlError, match="not a plain file"):
        check_output_path(link, ".csv")


def test_csv_output_never_writes_over_the_projects_seeds(shop_dir: Path):
    seeds = sorted((shop_dir / "seeds").glob("*.csv"))
    before = {path: path.read_bytes() for path in seeds}
    for path in (seeds[0], shop_dir / "seeds" / "new_results.csv"):
        result = CliRunner().invoke(main, ["query", "--project-dir", str(shop_dir), "--metrics", "revenue",
                                           "--csv", str(path)])
        assert result.exit_code == 2, result.output
        assert "holds the project's seeds, which builds load; write the results outside it" in result.output
    assert {path: path.read_bytes() for path in seeds} == before
    assert not (shop_dir / "seeds" / "new_results.csv").exists()


def test_csv_output_keeps_the_files_mode_and_names_a_folder_it_cannot_write(tmp_path: Path):
    import os

    from metricsctl.output import write_csv
    from metricsctl.warehouse import Result

    rows = Result(("a",), [(1,)])
    kept = tmp_path / "shared.csv"
    kept.write_text("old\n")
    kept.chmod(0o644)
    write_csv(rows, kept)
    assert kept.read_text() == "a\n1\n" and kept.stat().st_mode & 0o777 == 0o644
    new = tmp_path / "new.csv"
    old_umask = os.umask(0o027)
    try:
        write_csv(rows, new)
    finally:
        os.umask(old_umask)
    assert new.stat().st_mode & 0o777 == 0o640  # as any new file, not readable by its owner alone
    with pytest.raises(MetricsctlError, match=r"/proc/out.csv: cannot write in /proc \(.+\); choose a folder you "
                                              r"can write to"):
        write_csv(rows, Path("/proc/out.csv"))  # a folder no one writes files into, root included


# --- secrets never leave ---------------------------------------------------------------------------
def test_a_secret_is_masked_whole_and_in_pieces():
    secret = "https://hooks.example.com/services/T000/B000/XXXXsecretTOKEN"
    assert mask(f"cannot reach {secret}!", {secret}) == "cannot reach ***!"
    path_only = "URL can't contain control characters. '/services/T000/B000/XXXXsecretTOKEN' (found ' ')"
    assert "secretTOKEN" not in mask(path_only, {secret}) and "T000" not in mask(path_only, {secret})
    assert mask("nothing to hide here", {secret}) == "nothing to hide here"
    assert mask("password=hunter2hunter2;", {"hunter2hunter2"}) == "password=***;"


def test_a_webhook_url_with_a_space_does_not_leak_its_token():
    token = "T0KEN-abc123-very-secret"
    channel = Channel("hook", "webhook", (("url_env", "HOOK_URL"),), None, None)
    notifier = WebhookNotifier(channel, {"HOOK_URL": f"https://hooks.example.com/services/{token} x"})
    with pytest.raises(DeliveryError) as caught:
        notifier.send([{"event": "opened", "severity": "warning", "message": "m", "rule": "r", "alert_id": "a"}])
    assert token not in str(caught.value) and "very-secret" not in str(caught.value)
    assert "HOOK_URL" in str(caught.value)


def test_a_profile_password_never_reaches_an_error_message(tmp_path: Path):
    root = make_project(tmp_path)
    (root / "profiles.yml").write_text(
        "shop:\n  target: pg\n  outputs:\n    pg:\n      type: postgres\n      host: 127.0.0.1\n"
        "      port: 1\n      user: u\n      password: \"{{ env_var('SHOP_PG_PASSWORD') }}\"\n"
        "      dbname: d\n      schema: s\n      threads: 1\n")
    secret = "pg-pass-Zq81-secret"
    result = subprocess.run([sys.executable, "-m", "metricsctl.cli", "query", "--project-dir", str(root),
                             "--metrics", "revenue", "--debug"],
                            capture_output=True, text=True, env={**os.environ, "SHOP_PG_PASSWORD": secret})
    assert result.returncode == 2
    assert secret not in result.stdout + result.stderr.split("Traceback")[0]


@pytest.mark.parametrize("path", ["md:analytics?motherduck_token={{ env_var('SHOP_TOKEN') }}",
                                  "{{ env_var('SHOP_DB_PATH') }}?motherduck_token=Zq81secretvalue"])
def test_a_token_in_a_duckdb_path_never_reaches_an_error_message(tmp_path: Path, path: str):
    # MotherDuck's form of a DuckDB path holds a token: by a secret-named variable, or written in the query string
    root = make_project(tmp_path)
    (root / "profiles.yml").write_text(
        f"shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: \"{path}\"\n")
    result = subprocess.run([sys.executable, "-m", "metricsctl.cli", "query", "--project-dir", str(root),
                             "--metrics", "revenue"], capture_output=True, text=True,
                            env={**os.environ, "SHOP_TOKEN": "Zq81secretvalue", "SHOP_DB_PATH": "md:analytics"})
    assert result.returncode != 0 and "does not exist yet" in result.stderr
    assert "Zq81secretvalue" not in result.stdout + result.stderr and "***" in result.stderr


def test_a_short_password_of_a_webhook_url_is_masked_where_a_message_quotes_it_alone():
    secret = "https://ops:pw7Xq@hooks.example.invalid/services/T0"
    message = "the webhook could not be reached: nonnumeric port: 'pw7Xq@hooks.example.invalid'"
    assert mask(message, {secret}) == "the webhook could not be reached: nonnumeric port: '***@hooks.example.invalid'"


def test_column_lineage_never_renders_a_secret_variable(tmp_path: Path):
    # metricsctl renders a model's SQL itself for column lineage: a branch dbt's parse skips still runs there
    root = make_project(tmp_path)
    (root / "models" / "leak_probe.sql").write_text(
        "select '{% if model is not defined %}{{ env_var(\"DBT_ENV_SECRET_PG_PASSWORD\") }}{% endif %}' as note, "
        "'{{ env_var(\"SHOP_REGION\", \"eu\") }}' as region")
    env = {**os.environ, "DBT_ENV_SECRET_PG_PASSWORD": "Sup3rS3cretDbtValue", "SHOP_REGION": "north"}
    result = subprocess.run([sys.executable, "-m", "metricsctl.cli", "lineage", "model:leak_probe", "--columns",
                             "--project-dir", str(root)], capture_output=True, text=True, env=env)
    assert "Sup3rS3cretDbtValue" not in result.stdout + result.stderr


# --- write, audit, publish -------------------------------------------------------------------------
@pytest.fixture()
def gated(tmp_path: Path) -> Path:
    root = make_project(tmp_path)
    (root / "models" / "expectations.yml").write_text(SUITES)
    assert Metricsctl(root).build(as_of=dt.date(2024, 7, 2)).success
    return root


def poison_visits(root: Path) -> None:
    visits = root / "seeds" / "visits.csv"
    rows = list(csv.reader(visits.open()))
    rows.append([rows[1][0], rows[1][1], "2024-06-30", "store"])  # a duplicate visit id
    rows.append([str(len(rows) + 1000), "999", "2024-06-30", "online"])  # an unknown customer
    with visits.open("w", newline="") as f:
        csv.writer(f).writerows(rows)


def test_after_a_failed_audit_every_relation_a_reader_sees_holds_its_previous_rows(gated: Path):
    # conversion_by_source is a view over the visits seed: without the audit step it would show the new rows
    readable = {name: table(gated, f"select * from {name} order by all")
                for name in ("conversion_by_source", "visits", "metric_values")}
    poison_visits(gated)
    result = CliRunner().invoke(main, ["build", "--project-dir", str(gated), "--as-of", "2024-07-02"])
    assert result.exit_code == 1, result.output
    for name, before in readable.items():
        pd.testing.assert_frame_equal(table(gated, f"select * from {name} order by all"), before, obj=name)
    assert "KEPT AS PUBLISHED" in result.output and "conversion_by_source" in result.output
    record = json.loads((gated / "target" / "metricsctl_run.json").read_text())
    assert {"main.conversion_by_source", "main.visits"} <= set(record["restored_relations"])
    # the audit results themselves are published
    assert table(gated, "select count(*) as n from expectation_results where not success").n[0] >= 2


def test_readers_keep_reading_while_a_build_runs_and_a_second_build_is_refused(gated: Path):
    warehouse = gated / "shop.duckdb"
    published = int(table(gated, "select count(*) as n from sales_by_month").n[0])
    answers: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                with duckdb.connect(str(warehouse), read_only=True) as con:
                    answers.append(con.execute("select count(*) from sales_by_month").fetchone()[0])
            except duckdb.Error as exc:
                errors.append(str(exc))
            time.sleep(0.05)

    build = subprocess.Popen([sys.executable, "-m", "metricsctl.cli", "build", "--project-dir", str(gated),
                              "--as-of", "2024-07-02"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reader = threading.Thread(target=read)
    reader.start()
    candidate = gated / ".metricsctl-candidate" / "shop.duckdb"
    deadline = time.monotonic() + 120
    while not candidate.exists() and build.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # the first build holds the lock once its candidate exists
    second = subprocess.run([sys.executable, "-m", "metricsctl.cli", "build", "--project-dir", str(gated)],
                            capture_output=True, text=True)
    out, err = build.communicate(timeout=300)
    stop.set()
    reader.join()
    assert build.returncode == 0, out + err
    assert second.returncode == 2 and "another build" in second.stderr, second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    assert not errors, errors[:3]
    assert len(answers) > 5 and set(answers) == {published}


def test_a_build_lock_held_elsewhere_refuses_the_build_with_one_line(gated: Path):
    lock = BuildLock(gated / "shop.duckdb")
    lock.acquire()
    try:
        result = subprocess.run([sys.executable, "-m", "metricsctl.cli", "build", "--project-dir", str(gated)],
                                capture_output=True, text=True)
    finally:
        lock.release()
    assert result.returncode == 2
    assert "another build" in result.stderr and "Traceback" not in result.stderr


def test_a_build_killed_at_any_point_leaves_the_published_warehouse_intact(gated: Path):
    before = table(gated, "select * from sales_by_month order by all")
    orders = gated / "seeds" / "orders.csv"
    with orders.open("a", newline="") as f:
        csv.writer(f).writerow([99999, 3, 1, "2024-06-30", "store", "false", 100.0])
    for delay in (0.5, 3.0, 6.0):
        build = subprocess.Popen([sys.executable, "-m", "metricsctl.cli", "build", "--project-dir", str(gated)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        build.kill()
        build.wait()
        after = table(gated, "select * from sales_by_month order by all")
        june = pd.Timestamp("2024-06-01")
        changed = after[after.metric_time__month == june].orders.iloc[0]
        # either the old warehouse, or (when the kill came after the publish) the new one: never a mix
        if changed == before[before.metric_time__month == june].orders.iloc[0]:
            pd.testing.assert_frame_equal(after, before)
    assert Metricsctl(gated).build(as_of=dt.date(2024, 7, 2)).success


def test_ctrl_c_at_any_point_of_a_build_is_one_line_exit_130_and_the_published_warehouse(gated: Path):
    """Ctrl-C reaches the terminal's whole process group: the build and its suites' process alike. Wherever it
    lands (dbt's parse, its runs, the suites), the build says so in one line, exits 130, and readers see the
    published warehouse, old or new, never a mix."""
    import signal

    before = table(gated, "select * from sales_by_month order by all")
    orders = gated / "seeds" / "orders.csv"
    with orders.open("a", newline="") as f:
        csv.writer(f).writerow([99999, 3, 1, "2024-06-30", "store", "false", 100.0])
    interrupted = 0
    for delay in (0.0, 2.0, 4.0):  # seconds after the build said it started: parsing, building, checking
        build = subprocess.Popen([sys.executable, "-m", "metricsctl.cli", "build", "--project-dir", str(gated)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        assert build.stdout is not None
        first = build.stdout.readline()  # the parse phase's line: the command is running
        time.sleep(delay)
        os.killpg(build.pid, signal.SIGINT)
        out, err = build.communicate(timeout=120)
        out = first + out
        if build.returncode == 0:
            continue  # it had finished
        interrupted += 1
        assert build.returncode == 130, (out, err)
        assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err, (out, err)
        assert err.strip().splitlines()[-1] == ("error: interrupted; what the build had not published is discarded, "
                                                "and the warehouse keeps its last published tables"), err
        after = table(gated, "select * from sales_by_month order by all")
        june = pd.Timestamp("2024-06-01")
        if after[after.metric_time__month == june].orders.iloc[0] == before[
                before.metric_time__month == june].orders.iloc[0]:
            pd.testing.assert_frame_equal(after, before)
    assert interrupted  # a build takes seconds here: as it starts, it is parsing
    assert Metricsctl(gated).build(as_of=dt.date(2024, 7, 2)).success


@pytest.mark.parametrize("written", ["manifest.json", "semantic_manifest.json"])
def test_a_dbt_file_cut_short_by_a_killed_build_is_parsed_again(gated: Path, written: str):
    """A build killed while dbt writes target/*.json leaves the file cut short; the next command must
    not trip over it (nor trust the parse stamp written before), but parse the project again."""
    path = gated / "target" / written
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    assert Metricsctl(gated).build(as_of=dt.date(2024, 7, 2)).success
    assert json.loads(path.read_text(encoding="utf-8"))["metrics"]  # written whole again
    path.write_bytes(whole[: len(whole) // 3])
    assert Metricsctl(gated).lineage("revenue", "up")
    # cut just after a closing brace (of an object, or of `{{ ref(...) }}` in a model's code): the file
    # ends as a whole one does, and only reading it shows it is not
    whole = path.read_bytes()
    path.write_bytes(whole[: whole.index(b"}", len(whole) // 2) + 1])
    assert Metricsctl(gated).lineage("revenue", "up")
    assert json.loads(path.read_text(encoding="utf-8"))["metrics"]


def test_a_crash_just_before_the_publish_leaves_the_published_warehouse_and_the_next_build_works(
        gated: Path, monkeypatch: pytest.MonkeyPatch):
    before = table(gated, "select * from sales_by_month order by all")
    orders = gated / "seeds" / "orders.csv"
    with orders.open("a", newline="") as f:
        csv.writer(f).writerow([99999, 3, 1, "2024-06-30", "store", "false", 100.0])

    def crash(*args: object) -> None:
        raise KeyboardInterrupt  # as if the process died between the audit and the rename

    monkeypatch.setattr("metricsctl.publish.os.replace", crash)
    with pytest.raises(KeyboardInterrupt):
        Metricsctl(gated).build(as_of=dt.date(2024, 7, 2))
    pd.testing.assert_frame_equal(table(gated, "select * from sales_by_month order by all"), before)
    monkeypatch.undo()
    assert Metricsctl(gated).build(as_of=dt.date(2024, 7, 2)).success
    after = table(gated, "select * from sales_by_month order by all")
    june = after.metric_time__month == pd.Timestamp("2024-06-01")
    assert after[june].orders.iloc[0] == before[june].orders.iloc[0] + 1


def test_jinja_in_a_description_lands_in_the_catalog_as_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # dbt renders the YAML itself, so `{{ '{{' }}` reaches the semantic manifest as a literal `{{`; the generated
    # metric_catalog model must keep it text when dbt renders the model in turn
    root = make_project(tmp_path)
    metrics = root / "metrics" / "metrics.yml"
    text = "Revenue of order lines whose order was placed online (a filter through a join)."
    written = "Online revenue {{ '{{' }} env_var('SHOP_SECRET') }} {{ '{%' }} do x %} {{ '{#' }} y #}"
    meant = "Online revenue {{ env_var('SHOP_SECRET') }} {% do x %} {# y #}"
    source = metrics.read_text()
    assert text in source
    metrics.write_text(source.replace(text, '"' + written + '"'))
    monkeypatch.setenv("SHOP_SECRET", "the-secret-value")
    assert Metricsctl(root).build().success
    described = table(root, "select description from metric_catalog where description like 'Online revenue%'")
    assert list(described.description) == [meant]


def test_text_shaped_like_metricsctls_own_placeholders_lands_in_the_catalog_as_text(tmp_path: Path):
    """The generated SQL holds placeholders for dbt's `ref()`, `this` and a nightly's first day until it is
    written. A description that names one (as they were once spelt, or as another process spells them) stays
    text: it must not become a dependency on another model, the model's own relation name or a Jinja variable."""
    from metricsctl import materialize

    other = "0123456789" if materialize.THIS != "__0123456789_this__" else "9876543210"
    root = make_project(tmp_path)
    metrics = root / "metrics" / "metrics.yml"
    text = "Revenue of order lines whose order was placed online (a filter through a join)."
    meant = (f"see __metricsctl_model_no_such_model__, __metricsctl_this__, __metricsctl_ref_0__, "
             f"__metricsctl_since__, __{other}_model_customers__, __{other}_this__, __{other}_since__")
    source = metrics.read_text()
    assert text in source
    metrics.write_text(source.replace(text, '"' + meant + '"'))
    assert Metricsctl(root).build().success
    described = table(root, "select description from metric_catalog where description like 'see %'")
    assert list(described.description) == [meant]


def test_an_expectation_row_condition_is_never_evaluated_as_code(tmp_path: Path):
    from metricsctl.errors import SpecError
    from metricsctl.expectations import load_suites

    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "expectations.yml").write_text(
        "expectations:\n  - relation: main.orders\n    expectations:\n"
        "      - expect_column_values_to_not_be_null:\n          column: id\n"
        "          row_condition: \"__import__('os').system('touch PWNED')\"\n          condition_parser: pandas\n")
    with pytest.raises(SpecError, match=r"expectations.yml:7: `condition_parser` must be great_expectations"):
        load_suites(tmp_path, ["models"])


def test_a_short_secret_is_masked_only_where_it_stands_alone():
    assert mask("could not log in with pass4 at host", {"pass4"}) == "could not log in with *** at host"
    assert mask("metrics/pass4.yml:3: rule r", {"pass4"}) == "metrics/pass4.yml:3: rule r"


def test_a_webhook_url_is_masked_but_its_host_stays_readable():
    secret = "http://127.0.0.1:9/hooks/T123/very-secret-token"
    assert mask(f"cannot reach {secret}", {secret}) == "cannot reach ***"
    assert mask("connection refused by 127.0.0.1:9", {secret}) == "connection refused by 127.0.0.1:9"
    assert "very-secret" not in mask("bad path /hooks/T123/very-secret-token x", {secret})


def test_a_build_whose_reader_goes_away_still_builds_and_publishes(gated: Path):
    # `metricsctl build | head -2` in a scheduler: the reader closes the pipe after two lines. The build must
    # neither hang (a failed write inside dbt's worker threads used to stop them) nor stop half-way.
    poison_visits(gated)  # new rows, so that a publish is visible; the suites fail, as they should
    (gated / "models" / "expectations.yml").write_text(SUITES.replace("severity: error", "severity: warn"))
    before = int(table(gated, "select count(*) as n from visits").n[0])
    build = subprocess.Popen([sys.executable, "-m", "metricsctl.cli", "build", "--project-dir", str(gated),
                              "--as-of", "2024-07-02"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert build.stdout is not None
    first = [build.stdout.readline() for _ in range(2)]
    build.stdout.close()  # what `head -2` does
    try:
        build.wait(timeout=300)
    finally:
        build.kill()
    assert all(first), first
    assert build.returncode == 0, build.stderr.read() if build.stderr else ""
    assert int(table(gated, "select count(*) as n from visits").n[0]) == before + 2


def test_a_parse_that_fails_while_the_warehouse_is_copied_leaves_no_work_behind(gated: Path,
                                                                               monkeypatch: pytest.MonkeyPatch):
    """dbt parses the project while one thread copies the warehouse and another reads what is unchanged in it. When
    the parse fails, the build waits for both before it lets the warehouse go: the error is the parse's, the
    published tables are as they were, no thread of the build is left, and the next build runs."""
    before = table(gated, "select * from sales_by_month order by all")
    copying = threading.Event()
    copy = shutil.copyfile

    def slow_copy(source: object, destination: object) -> object:
        copying.set()
        time.sleep(0.5)  # the parse fails while the copy is still under way
        return copy(source, destination)

    def failed_parse(project: object) -> None:
        assert copying.wait(10)
        raise DbtError("dbt parse failed: a model has a syntax error")

    monkeypatch.setattr("metricsctl.publish.shutil.copyfile", slow_copy)
    monkeypatch.setattr("metricsctl.publish.parsed_manifest", failed_parse)
    with pytest.raises(DbtError, match="syntax error"):
        Metricsctl(gated).build(as_of=dt.date(2024, 7, 2))
    assert not [t.name for t in threading.enumerate() if t.name.startswith("metricsctl-")]
    pd.testing.assert_frame_equal(table(gated, "select * from sales_by_month order by all"), before)
    monkeypatch.undo()
    assert Metricsctl(gated).build(as_of=dt.date(2024, 7, 2)).success


# --- an expectation's own SQL reads tables, never files ------------------------------------------------
ROW_QUERY_ESCAPES = [
    "SELECT content FROM read_text('/etc/hostname')",
    "SELECT * FROM '/etc/hostname'",
    'SELECT * FROM "/etc/hostname"',
    "SELECT * FROM {batch} WHERE amount > (SELECT COUNT(*) FROM read_csv('/etc/passwd'))",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT getenv('HOME') FROM {batch}",
    "SELECT * FROM {batch} WHERE 1 = (SELECT COUNT(*) FROM duckdb_settings())",
    "SELECT * FROM {batch}; DROP TABLE orders",
    "DELETE FROM orders",
    "COPY (SELECT 1) TO '/tmp/x.csv'",
    "",
]


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "spark"])
def test_an_unexpected_rows_query_is_one_select_over_named_tables(dialect: str):
    from metricsctl.expectations.row_queries import row_query_problem

    for query in ROW_QUERY_ESCAPES:
        assert row_query_problem(query, dialect), query
    assert row_query_problem("SELECT * FROM text.`/etc/passwd`", "spark")
    for query in ["SELECT * FROM {batch} WHERE amount < 0",
                  "SELECT o.* FROM {batch} AS o LEFT JOIN main.customers AS c ON o.customer_id = c.customer_id "
                  "WHERE c.customer_id IS NULL",
                  "SELECT order_date, COUNT(*) FROM {batch} GROUP BY order_date HAVING COUNT(*) > 1",
                  "WITH x AS (SELECT order_id, amount, LAG(amount) OVER (PARTITION BY customer_id ORDER BY order_id) "
                  "AS previous FROM {batch}) SELECT * FROM x WHERE previous > amount * 10"]:
        assert row_query_problem(query, dialect) is None, query


def test_an_unexpected_rows_query_that_reads_a_file_is_refused_at_its_line(tmp_path: Path):
    """The query never reaches the warehouse: the suite is refused with the file and line of the expectation.
    Were it to get there, the suites' DuckDB connection allows no file access either."""
    from metricsctl.expectations import ExpectationSpecError, run_suites, suites_from_yaml

    secret = tmp_path / "secret.txt"
    secret.write_text("the-secret-value")
    warehouse = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(warehouse)).execute("CREATE TABLE orders AS SELECT 1 AS order_id").close()
    yaml_text = ("expectations:\n  - relation: main.orders\n    expectations:\n"
                 f"      - unexpected_rows_expectation:\n          unexpected_rows_query: "
                 f"\"SELECT content FROM read_text('{secret}')\"\n")
    with pytest.raises(ExpectationSpecError) as raised:
        run_suites(suites_from_yaml(yaml_text, "models/expectations.yml"), f"duckdb:///{warehouse}",
                   as_of=dt.date(2024, 1, 1))
    [issue] = raised.value.issues
    assert (issue.path, issue.line) == ("models/expectations.yml", 4)
    assert "`unexpected_rows_query` reads `READ_TEXT(" in issue.message and "the-secret-value" not in issue.message
    allowed = yaml_text.replace(f"SELECT content FROM read_text('{secret}')",
                                "SELECT * FROM {batch} WHERE order_id < 0")
    run = run_suites(suites_from_yaml(allowed, "models/expectations.yml"), f"duckdb:///{warehouse}",
                     as_of=dt.date(2024, 1, 1))
    assert [r.status for s in run.suites for r in s.results] == ["pass"]


def test_the_suites_duckdb_connection_reads_no_file_even_if_a_query_got_past_the_check(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from metricsctl.expectations import run_suites, runner, suites_from_yaml

    secret = tmp_path / "secret.txt"
    secret.write_text("the-secret-value")
    warehouse = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(warehouse)).execute("CREATE TABLE orders AS SELECT 1 AS order_id").close()
    monkeypatch.setattr(runner, "row_query_problem", lambda query, dialect: None)
    run = run_suites(suites_from_yaml(
        "expectations:\n  - relation: main.orders\n    expectations:\n      - unexpected_rows_expectation:\n"
        f"          unexpected_rows_query: \"SELECT content FROM read_text('{secret}')\"\n", "models/x.yml"),
        f"duckdb:///{warehouse}", as_of=dt.date(2024, 1, 1))
    [result] = [r for s in run.suites for r in s.results]
    assert result.status == "error" and "file system operations are disabled" in (result.error or "")
    assert "the-secret-value" not in json.dumps([r.__dict__ for s in run.suites for r in s.results], default=str)


def test_a_secret_in_a_failing_row_is_masked_in_the_results_and_their_table(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch):
    """A row may hold a value that is also a secret this process read (a token pasted into a notes column, or a
    query that reads one): the samples of failing values, in the build's output, the results table and the
    metric center, show it masked."""
    from metricsctl import guards
    from metricsctl.expectations import run_suites, suites_from_yaml, write_results

    monkeypatch.setattr(guards, "_SECRETS", set())
    guards.register_secret("AKIAsupersecretS3keyvalue")
    warehouse = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(warehouse)).execute(
        "CREATE TABLE orders AS SELECT * FROM (VALUES (1, 'paid'), (2, 'AKIAsupersecretS3keyvalue')) t(id, status)"
    ).close()
    run = run_suites(suites_from_yaml(
        "expectations:\n  - relation: main.orders\n    expectations:\n"
        "      - expect_column_values_to_be_in_set: {column: status, value_set: [paid]}\n"
        "      - unexpected_rows_expectation:\n"
        "          unexpected_rows_query: \"SELECT id, status FROM {batch} WHERE status <> 'paid'\"\n",
        "models/x.yml"), f"duckdb:///{warehouse}", as_of=dt.date(2024, 1, 1))
    in_set, rows = run.results
    assert in_set.unexpected_sample == ("***",)
    assert rows.unexpected_count == 1 and rows.unexpected_sample == ({"id": 2, "status": "***"},)
    results = tmp_path / "results.duckdb"
    assert write_results(str(results), run) == 2
    with duckdb.connect(str(results), read_only=True) as con:
        stored = json.dumps(con.execute("SELECT * FROM expectation_results").fetchall(), default=str)
    assert "AKIA" not in stored and "***" in stored


def test_the_profile_a_diff_builds_with_holds_no_rendered_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`metricsctl diff` builds each side in a copy with a profile of its own: the user's, with only the
    warehouse path changed, its env_var() calls as written."""
    from metricsctl.diff.snapshot import _profile

    project = tmp_path / "project"
    project.mkdir()
    (project / "dbt_project.yml").write_text("name: shop\nprofile: shop\n")
    (project / "profiles.yml").write_text(
        "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: shop.duckdb\n"
        "      api_key: \"{{ env_var('DBT_ENV_SECRET_S3KEY') }}\"\n")
    monkeypatch.setenv("DBT_ENV_SECRET_S3KEY", "AKIAsupersecretS3keyvalue")
    folder, target, warehouse = _profile(project, project, tmp_path / "work", None, None)
    written = folder / "profiles.yml"
    assert target == "dev" and warehouse == tmp_path / "work" / "shop.duckdb"
    output = yaml.safe_load(written.read_text())["shop"]["outputs"]["dev"]
    assert "AKIA" not in written.read_text() and output["api_key"] == "{{ env_var('DBT_ENV_SECRET_S3KEY') }}"
    assert output["path"] == str(warehouse) and written.stat().st_mode & 0o077 == 0
