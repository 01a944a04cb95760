"""Alert runs across time: open once, re-notify after the cooldown, resolve; deliver without losing events.

Each test works on its own copy of the tiny project's warehouse (see test_alerts.py for the series).
The rule watched is Mill's daily revenue under 90: Mill sold 50 on 3 March, 60 on the 4th and 220 on
the 5th, so an alert opens on the 4th, keeps firing on the 5th and resolves on the 6th.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pytest

from metricsctl.alerts import HISTORY, OUTBOX, AlertConfig, RetryPolicy, connection_executor, run_alerts
from metricsctl.alerts.evaluate import Execute
from metricsctl.alerts.rules import parse_alert_config
from metricsctl.spec import Spec
from tests.test_alerts import app, built_project

NO_WAIT = RetryPolicy(attempts=3, base_delay=0.0)
RULE = """
alerts:
  - name: mill_floor
    metric: revenue
    kind: threshold
    grain: day
    dimensions: [store__store_name]
    below: 90
    cooldown: 1d
    severity: warning
"""


@pytest.fixture(scope="module")
def spec() -> Spec:
    return app(built_project()).spec


@pytest.fixture()
def warehouse(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write copy of the built warehouse (same file name: relations are "tiny"."main"...)."""
    copy = tmp_path / "db" / "tiny.duckdb"
    copy.parent.mkdir()
    shutil.copy(built_project() / "tiny.duckdb", copy)
    connection = duckdb.connect(str(copy))
    yield connection
    connection.close()


def config(spec: Spec, channels: str, owners: str = "sales-team: [log]") -> AlertConfig:
    return parse_alert_config([("metrics/alerts.yml", f"alert_channels:\n{channels}\nalert_owners:\n  {owners}\n"
                                                     f"{RULE}")], spec)


LOG = "  - {name: log, type: jsonl, path: alerts.jsonl}"


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_an_alert_opens_once_renotifies_after_its_cooldown_and_resolves(spec: Spec, warehouse: Any, tmp_path: Path):
    cfg = config(spec, LOG)
    execute = connection_executor(warehouse)
    log = tmp_path / "alerts.jsonl"

    def run(as_of: datetime) -> tuple[list[str], list[str], list[str]]:
        result = run_alerts(spec, cfg, execute, as_of=as_of, base_dir=tmp_path, retry=NO_WAIT)
        assert not result.failures and not result.errors
        return ([e.series_key for e in result.opened], [e.series_key for e in result.renotified],
                [e.series_key for e in result.resolved])

    mill = "store__store_name=Mill"
    assert run(datetime(2024, 3, 4)) == ([mill], [], [])  # 50 on the 3rd
    assert run(datetime(2024, 3, 4, 6)) == ([], [], [])  # same day judged, within the cooldown: silent
    assert run(datetime(2024, 3, 5)) == ([], [mill], [])  # 60 on the 4th, 24 h later: once more
    assert run(datetime(2024, 3, 5, 12)) == ([], [], [])
    assert run(datetime(2024, 3, 6)) == ([], [], [mill])  # 220 on the 5th
    assert run(datetime(2024, 3, 6, 6)) == ([], [], [])
    assert [(e["event"], e["period"], e["value"]) for e in lines(log)] == [
        ("opened", "2024-03-03", 50.0), ("renotified", "2024-03-04", 60.0), ("resolved", "2024-03-05", 220.0)]

    history = warehouse.execute(f"select rule, series_key, owner, severity, fired_at, resolved_at, notifications, "
                                f"value, expected_low, resolved_value from {HISTORY}").fetchall()
    assert history == [("mill_floor", mill, "sales-team", "warning", datetime(2024, 3, 4), datetime(2024, 3, 6), 2,
                        50.0, 90.0, 220.0)]
    pending = warehouse.execute(f"select count(*) from {OUTBOX} where delivered_at is null").fetchone()
    assert pending == (0,)


def test_exit_code_follows_open_alerts_at_or_above_fail_on(spec: Spec, warehouse: Any, tmp_path: Path):
    cfg = config(spec, LOG)
    execute = connection_executor(warehouse)
    opened = run_alerts(spec, cfg, execute, as_of=datetime(2024, 3, 4), base_dir=tmp_path)
    assert [(a.rule, a.severity) for a in opened.open_alerts] == [("mill_floor", "warning")]
    assert (opened.exit_code("warning"), opened.exit_code("critical"), opened.exit_code("info")) == (1, 0, 1)
    resolved = run_alerts(spec, cfg, execute, as_of=datetime(2024, 3, 6), base_dir=tmp_path)
    assert (resolved.open_alerts, resolved.exit_code("info")) == ([], 0)


def test_alerts_of_a_rule_taken_out_of_the_yaml_close(spec: Spec, warehouse: Any, tmp_path: Path):
    execute = connection_executor(warehouse)
    run_alerts(spec, config(spec, LOG), execute, as_of=datetime(2024, 3, 4), base_dir=tmp_path)
    other = parse_alert_config([("metrics/alerts.yml", "alert_channels:\n" + LOG + "\nalerts:\n  - {name: fresh, "
                                 "metric: revenue, kind: freshness, max_age: 2d, channels: [log]}\n")], spec)
    run = run_alerts(spec, other, execute, as_of=datetime(2024, 3, 4, 1), base_dir=tmp_path)
    assert run.open_alerts == [] and run.resolved == []  # closed without a message: it has no route any more
    closed = warehouse.execute(f"select rule, resolved_at from {HISTORY}").fetchall()
    assert closed == [("mill_floor", datetime(2024, 3, 4, 1))]


def test_dry_run_changes_nothing_and_notifies_nobody(spec: Spec, warehouse: Any, tmp_path: Path):
    run = run_alerts(spec, config(spec, LOG), connection_executor(warehouse), as_of=datetime(2024, 3, 4),
                     dry_run=True, base_dir=tmp_path)
    assert [e.series_key for e in run.opened] == ["store__store_name=Mill"]
    assert (run.rules, run.series, run.queries) == (["mill_floor"], {"mill_floor": 4}, 1)
    tables = warehouse.execute("select count(*) from information_schema.tables where table_name like "
                               "'metricsctl_alert%'").fetchone()
    assert tables == (0,) and not (tmp_path / "alerts.jsonl").exists()


def test_stale_inputs_raise_stale_data_instead_of_judging_stale_numbers(spec: Spec, warehouse: Any, tmp_path: Path):
    cfg = config(spec, LOG)
    execute = connection_executor(warehouse)
    stale = run_alerts(spec, cfg, execute, as_of=datetime(2024, 3, 4), stale_metrics={"revenue"}, base_dir=tmp_path)
    assert (stale.queries, stale.stale, [(e.kind, e.series_key) for e in stale.opened]) == (
        0, ["mill_floor"], [("stale_data", "stale_data")])
    fresh = run_alerts(spec, cfg, execute, as_of=datetime(2024, 3, 4, 1), base_dir=tmp_path)
    assert [e.series_key for e in fresh.resolved] == ["stale_data"]
    assert [e.series_key for e in fresh.opened] == ["store__store_name=Mill"]


def test_the_console_channel_prints_a_readable_table(spec: Spec, warehouse: Any):
    stream = io.StringIO()
    cfg = config(spec, "  - {name: terminal, type: console}", "sales-team: [terminal]")
    run_alerts(spec, cfg, connection_executor(warehouse), as_of=datetime(2024, 3, 4), stream=stream)
    text = stream.getvalue()
    assert "1 alert event (1 opened)" in text
    assert "mill_floor" in text and "store__store_name=Mill" in text and "warning" in text
    assert "revenue [store__store_name=Mill] was 50 for the day of 2024-03-03: below 90" in text


def test_a_broken_rule_is_reported_and_the_others_still_run(spec: Spec, warehouse: Any, tmp_path: Path):
    text = ("alert_channels:\n" + LOG + "\nalert_owners:\n  sales-team: [log]\n" + RULE +
            "  - {name: no_table, metric: revenue, kind: target, grain: month, targets_table: finance.targets}\n")
    cfg = parse_alert_config([("metrics/alerts.yml", text)], spec)
    run = run_alerts(spec, cfg, connection_executor(warehouse), as_of=datetime(2024, 3, 4), base_dir=tmp_path)
    assert [e.rule for e in run.errors] == ["no_table"]
    assert "metrics/alerts.yml:15: alert 'no_table' could not be evaluated" in run.errors[0].error
    assert [e.rule for e in run.opened] == ["mill_floor"] and run.exit_code() == 2


# --- webhook and email --------------------------------------------------------------------------
class Hook:
    """A local webhook on 127.0.0.1 that answers with the given statuses, then 200."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[tuple[int, dict[str, Any]]] = []
        self.fetched: list[str] = []  # the paths of GET requests (what a followed redirect sends)
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = hook.statuses.pop(0) if hook.statuses else 200
                hook.received.append((status, body))
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                self.end_headers()

            def do_GET(self) -> None:  # noqa: N802
                hook.fetched.append(self.path)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T0/B0/SECRET-TOKEN-42"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Hook:
        self.thread.start()
        return self

    def __exit__(self, *args: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_webhook_gets_a_slack_payload(spec: Spec, warehouse: Any):
    cfg = config(spec, "  - {name: hook, type: webhook, url_env: HOOK_URL}", "sales-team: [hook]")
    with Hook([]) as hook:
        run = run_alerts(spec, cfg, connection_executor(warehouse), as_of=datetime(2024, 3, 4),
                         environ={"HOOK_URL": hook.url})
    assert run.delivered == {"hook": 1}
    ((status, body),) = hook.received
    assert status == 200 and list(body) == ["text"]
    assert "WARNING revenue [store__store_name=Mill] was 50 for the day of 2024-03-03: below 90" in body["text"]


def test_a_value_in_a_slack_message_cannot_mention_the_channel_or_hide_a_link(spec: Spec, warehouse: Any):
    # A store renamed in the source system: Slack reads `<!channel>` as a mention of everyone in the channel and
    # `<url|words>` as a link shown as its words, unless `&`, `<` and `>` are escaped.
    warehouse.execute("UPDATE stores SET store_name = '<!channel> Mill & <https://evil.example|Dashboard>' "
                      "WHERE store_name = 'Mill'")
    cfg = config(spec, "  - {name: hook, type: webhook, url_env: HOOK_URL}", "sales-team: [hook]")
    with Hook([]) as hook:
        run_alerts(spec, cfg, connection_executor(warehouse), as_of=datetime(2024, 3, 4),
                   environ={"HOOK_URL": hook.url})
    ((_, body),) = hook.received
    assert "[store__store_name=&lt;!channel&gt; Mill &amp; &lt;https://evil.example|Dashboard&gt;] was 50" \
        in body["text"]
    assert "<" not in body["text"] and ">" not in body["text"]


def test_a_channel_down_for_one_run_delivers_the_pending_event_exactly_once(spec: Spec, warehouse: Any):
    cfg = config(spec, "  - {name: hook, type: webhook, url_env: HOOK_URL, format: json}", "sales-team: [hook]")
    execute: Execute = connection_executor(warehouse)
    delays: list[float] = []
    with Hook([500, 500, 500]) as hook:
        down = run_alerts(spec, cfg, execute, as_of=datetime(2024, 3, 4), environ={"HOOK_URL": hook.url},
                          retry=RetryPolicy(attempts=3, base_delay=0.01), sleep=delays.append)
        assert [(f.channel, f.attempts, f.pending) for f in down.failures] == [("hook", 3, 1)]
        assert "HTTP 500" in down.failures[0].error
        assert delays == [0.01, 0.02]  # exponential backoff between the three attempts
        # the next run has nothing new to say (within the cooldown) but delivers what is pending
        back = run_alerts(spec, cfg, execute, as_of=datetime(2024, 3, 4, 6), environ={"HOOK_URL": hook.url},
                          retry=NO_WAIT)
        again = run_alerts(spec, cfg, execute, as_of=datetime(2024, 3, 4, 7), environ={"HOOK_URL": hook.url},
                           retry=NO_WAIT)
    assert (back.opened, back.failures, back.delivered) == ([], [], {"hook": 1})
    assert (again.failures, again.delivered) == ([], {})
    assert [status for status, _ in hook.received] == [500, 500, 500, 200]
    delivered = [alert for status, body in hook.received if status == 200 for alert in body["alerts"]]
    assert [(a["event"], a["series_key"], a["at"]) for a in delivered] == [
        ("opened", "store__store_name=Mill", "2024-03-04 00:00:00")]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_webhook_that_redirects_is_not_followed_and_not_counted_as_delivered(spec: Spec, warehouse: Any,
                                                                                 status: int):
    """Followed, a redirect turns the POST into a GET without the alerts (or sends them to another host), and
    the alert counts as delivered though nobody got it."""
    cfg = config(spec, "  - {name: hook, type: webhook, url_env: HOOK_URL}", "sales-team: [hook]")
    with Hook([status] * 3) as hook:
        run = run_alerts(spec, cfg, connection_executor(warehouse), as_of=datetime(2024, 3, 4),
                         environ={"HOOK_URL": hook.url}, retry=NO_WAIT)
    assert run.delivered == {} and hook.fetched == []
    assert f"HTTP {status} (a redirect, not followed" in run.failures[0].error


class Captured:
    """smtplib's clients, replaced: what each was asked to do, and the TLS context each got."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import smtplib

        self.contexts: list[Any] = []
        self.logins: list[str] = []
        captured = self

        class Client:
            def __init__(self, host: str = "", port: int = 0, timeout: float = 0, context: Any = None) -> None:
                if context is not None:
                    captured.contexts.append(context)

            def connect(self, host: str, port: int) -> None:
                pass

            def __enter__(self) -> Client:
                return self

            def __exit__(self, *args: Any) -> None:
                pass

            def starttls(self, context: Any = None) -> None:
                captured.contexts.append(context)

            def login(self, user: str, password: str) -> None:
                captured.logins.append(user)

            def send_message(self, message: Any) -> None:
                pass

        monkeypatch.setattr(smtplib, "SMTP", Client)
        monkeypatch.setattr(smtplib, "SMTP_SSL", Client)


@pytest.mark.parametrize("tls", ["ssl: true", "starttls: true"])
def test_an_email_over_tls_checks_the_servers_certificate_and_name(spec: Spec, warehouse: Any, tls: str,
                                                                   monkeypatch: pytest.MonkeyPatch):
    """Python's SMTP clients take any certificate unless given a context that checks it: the password would go
    to whoever answers."""
    import ssl

    captured = Captured(monkeypatch)
    cfg = config(spec, "  - {name: mail, type: email, host: smtp.example.com, " + tls + ", username_env: U, "
                       "password_env: P, from: metrics@example.com, to: [sales@example.com]}", "sales-team: [mail]")
    run = run_alerts(spec, cfg, connection_executor(warehouse), as_of=datetime(2024, 3, 4),
                     environ={"U": "alerts", "P": "s3cret-pass"}, retry=NO_WAIT)
    assert run.delivered == {"mail": 1}, run.failures
    (context,) = captured.contexts
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert captured.logins == ["alerts"]


def test_a_password_never_goes_to_another_host_without_tls(spec: Spec, warehouse: Any,
                                                           monkeypatch: pytest.MonkeyPatch):
    captured = Captured(monkeypatch)
    cfg = config(spec, "  - {name: mail, type: email, host: smtp.example.com, username_env: U, password_env: P, "
                       "from: metrics@example.com, to: [sales@example.com]}", "sales-team: [mail]")
    run = run_alerts(spec, cfg, connection_executor(warehouse), as_of=datetime(2024, 3, 4),
                     environ={"U": "alerts", "P": "s3cret-pass"}, retry=NO_WAIT)
    assert run.delivered == {} and captured.logins == []
    assert "a password goes to smtp.example.com only over TLS" in run.failures[0].error


class Drip:
    """A server on 127.0.0.1 that reads what it is sent, then answers `first` and one byte more every 0.2 s, each
    within a read's timeout, for 30 s: a channel's timeout per read never runs out."""

    def __init__(self, first: bytes, reads_first: bool) -> None:
        self.first, self.reads_first = first, reads_first
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def serve(self) -> None:
        self.listener.settimeout(0.1)
        while not self.stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                continue
            threading.Thread(target=self.drip, args=(client,), daemon=True).start()

    def drip(self, client: socket.socket) -> None:
        with client:
            try:
                if self.reads_first:
                    client.recv(65536)
                client.sendall(self.first)
                for _ in range(150):
                    if self.stop.wait(0.2):
                        return
                    client.sendall(b"a")
            except OSError:
                return  # the client hung up

    def __enter__(self) -> Drip:
        threading.Thread(target=self.serve, daemon=True).start()
        return self

    def __exit__(self, *args: Any) -> None:
        self.stop.set()
        self.listener.close()


@pytest.mark.parametrize("channel", ["webhook", "email"])
def test_a_server_that_answers_a_byte_at_a_time_holds_the_run_no_longer_than_the_channels_timeout(
        spec: Spec, warehouse: Any, channel: str):
    """Each read gets the channel's timeout, and each byte comes within it: without a deadline for the whole
    exchange the run (and the scheduler's next one) would wait as long as the server likes. The event stays
    pending for the next run."""
    webhook = channel == "webhook"
    with Drip(b"HTTP/1.1 200 OK\r\nX-Slow: " if webhook else b"220 ", reads_first=webhook) as drip:
        line = ("{name: out, type: webhook, url_env: HOOK_URL, timeout: 1}" if webhook else
                "{name: out, type: email, host: 127.0.0.1, port: " + str(drip.port) + ", timeout: 1, "
                "from: metrics@example.com, to: [sales@example.com]}")
        cfg = config(spec, "  - " + line, "sales-team: [out]")
        started = time.monotonic()
        run = run_alerts(spec, cfg, connection_executor(warehouse), as_of=datetime(2024, 3, 4),
                         environ={"HOOK_URL": drip.url}, retry=RetryPolicy(attempts=1))
        waited = time.monotonic() - started
    assert run.delivered == {} and [(f.channel, f.pending) for f in run.failures] == [("out", 1)]
    assert "gave no answer within the channel's timeout (1 s)" in run.failures[0].error
    assert waited < 15  # the server drips for 30 s; the deadline is 1 s


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """A local SMTP server (aiosmtpd) that takes one login and keeps what it receives."""

    def __init__(self, user: str, password: str) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.messages: list[bytes] = []
        self.logins: list[tuple[str, bool]] = []
        inbox = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                inbox.messages.append(envelope.content)
                return "250 OK"

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = data.login.decode() == user and data.password.decode() == password
            inbox.logins.append((data.login.decode(), ok))
            return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, authenticator=authenticate,
                                     auth_require_tls=False)

    def __enter__(self) -> Inbox:
        self.controller.start()
        return self

    def __exit__(self, *args: Any) -> None:
        self.controller.stop()


def mail_channel(port: int) -> str:
    return ("  - {name: mail, type: email, host: 127.0.0.1, port: " + str(port) + ", username_env: SMTP_USER, "
            "password_env: SMTP_PASSWORD, from: metrics@example.com, to: [sales@example.com, boss@example.com]}")


def test_an_email_arrives_over_smtp_with_a_login_from_the_environment(spec: Spec, warehouse: Any):
    with Inbox("alerts", "s3cret-pass") as inbox:
        cfg = config(spec, mail_channel(inbox.port), "sales-team: [mail]")
        run = run_alerts(spec, cfg, connection_executor(warehouse), as_of=datetime(2024, 3, 4),
                         environ={"SMTP_USER": "alerts", "SMTP_PASSWORD": "s3cret-pass"}, retry=NO_WAIT)
    assert run.delivered == {"mail": 1} and inbox.logins == [("alerts", True)]
    (raw,) = inbox.messages
    message = message_from_bytes(raw)
    assert message["To"] == "sales@example.com, boss@example.com"
    assert message["Subject"] == "[metricsctl] 1 alert event (1 opened) - warning"
    body = message.get_payload(decode=True).decode()
    assert "revenue [store__store_name=Mill] was 50" in body and "owner sales-team" in body


def test_secrets_never_appear_in_output_results_or_tables(spec: Spec, warehouse: Any, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]):
    """A webhook whose URL carries a token and a mail server that refuses the password both fail."""
    closed = free_port()  # nobody listens here
    url = f"http://127.0.0.1:{closed}/services/T0/B0/SECRET-TOKEN-42"
    channels = "  - {name: hook, type: webhook, url_env: HOOK_URL}\n  - {name: console, type: console}\n"
    with Inbox("alerts", "the-right-one") as inbox:
        cfg = config(spec, channels + mail_channel(inbox.port), "sales-team: [hook, mail, console]")
        environ = {"HOOK_URL": url, "SMTP_USER": "alerts", "SMTP_PASSWORD": "hunter2-wrong-secret"}
        run = run_alerts(spec, cfg, connection_executor(warehouse), as_of=datetime(2024, 3, 4), environ=environ,
                         retry=NO_WAIT)
    assert sorted(f.channel for f in run.failures) == ["hook", "mail"]
    assert inbox.logins and set(inbox.logins) == {("alerts", False)}  # tried, refused
    tables = warehouse.execute(f"select * from {OUTBOX}").fetchall() + warehouse.execute(
        f"select * from {HISTORY}").fetchall()
    out = capsys.readouterr()
    everything = "\n".join([json.dumps(run.summary()), repr(run), repr(tables), out.out, out.err])
    for secret in ("SECRET-TOKEN-42", "hunter2-wrong-secret", url):
        assert secret not in everything
    assert "could not be reached" in next(f.error for f in run.failures if f.channel == "hook")
    assert "SMTPAuthenticationError" in next(f.error for f in run.failures if f.channel == "mail")


def test_a_missing_secret_is_named_not_guessed(spec: Spec, warehouse: Any):
    cfg = config(spec, "  - {name: hook, type: webhook, url_env: HOOK_URL}", "sales-team: [hook]")
    run = run_alerts(spec, cfg, connection_executor(warehouse), as_of=datetime(2024, 3, 4), environ={},
                     retry=RetryPolicy(attempts=1))
    assert run.failures[0].error == "channel 'hook': environment variable HOOK_URL is not set"
