"""Where alerts go: the console, a webhook (Slack or any JSON endpoint), email over SMTP, a JSON-lines file.

Secrets (a webhook URL, SMTP credentials) are read from environment variables when a message is sent
and never printed: every error message is scrubbed of them before it leaves this module. A failing
send is retried with exponential backoff; what still fails is reported to the caller, which keeps the
events pending.
"""

from __future__ import annotations

import http.client
import json
import smtplib
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from ssl import create_default_context as default_tls
from typing import IO, Any, Protocol

from metricsctl.alerts.rules import Channel
from metricsctl.guards import inside, is_loopback, mask, register_secret

Event = dict[str, Any]  # an event payload, as stored in the outbox
SEVERITY_MARKS = {"critical": "CRITICAL", "warning": "WARNING", "info": "INFO"}


class DeliveryError(Exception):
    """A channel did not take the events; the message holds no secret."""


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` tries per channel and run, waiting base_delay, 2 x base_delay, ... (at most max_delay)."""

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        return float(min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


class Notifier(Protocol):
    channel: Channel

    def send(self, events: Sequence[Event]) -> None: ...


def headline(event: Event) -> str:
    """One line for one event: what happened, to which series, and why."""
    if event["event"] == "resolved":
        return f"RESOLVED {event['message']}"
    again = " (still firing)" if event["event"] == "renotified" else ""
    return f"{SEVERITY_MARKS.get(event['severity'], event['severity'].upper())} {event['message']}{again}"


def summary(events: Sequence[Event]) -> str:
    counts: dict[str, int] = {}
    for event in events:
        counts[event["event"]] = counts.get(event["event"], 0) + 1
    parts = ", ".join(f"{n} {name}" for name, n in counts.items())
    return f"metricsctl: {len(events)} alert event{'s' if len(events) != 1 else ''} ({parts})"


def plain_text(events: Sequence[Event]) -> str:
    lines = [summary(events), ""]
    for event in events:
        lines.append(f"- {headline(event)}")
        lines.append(f"  rule {event['rule']} · owner {event.get('owner') or '-'} · alert {event['alert_id']}")
    return "\n".join(lines) + "\n"


def slack_text(text: str) -> str:
    """`text` as Slack shows it verbatim: `&`, `<` and `>` escaped as Slack's formatting reference asks, so that a
    value in an alert (a store's name, an owner) cannot mention `<!channel>` or a user, or show a link under
    other words (`<https://...|text>`)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Secrets:
    """Environment lookups that remember what they returned, to scrub it from any message."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.values: list[str] = []

    def get(self, channel: Channel, key: str, required: bool = True) -> str | None:
        name = channel.get(key)
        if name is None:
            return None
        value = self.environ.get(str(name))
        if not value:
            if required:
                raise DeliveryError(f"channel '{channel.name}': environment variable {name} is not set")
            return None
        if key != "username_env":  # a user name identifies; the URL and the password are the secrets
            self.values.append(value)
            register_secret(value)
        return value

    def scrub(self, message: str) -> str:
        """`message` without the secrets, whole or in pieces (an invalid URL's path quoted in an error)."""
        return mask(mask(message, set(self.values)))


class ConsoleNotifier:
    def __init__(self, channel: Channel, stream: IO[str] | None = None) -> None:
        self.channel = channel
        self.stream = stream

    def send(self, events: Sequence[Event]) -> None:
        from rich.console import Console
        from rich.table import Table

        from metricsctl.output import escape

        table = Table(title=summary(events), show_edge=False, header_style="bold", title_justify="left")
        for name in ("event", "severity", "rule", "series", "message"):
            table.add_column(name, overflow="fold")
        styles = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
        for event in events:
            severity = event["severity"]
            table.add_row(event["event"], f"[{styles[severity]}]{severity}[/]" if severity in styles
                          else escape(severity), escape(event["rule"]), escape(event.get("series_key") or "-"),
                          escape(event["message"]))
        Console(file=self.stream or sys.stdout, width=160, highlight=False).print(table)


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer of its own (urllib raises it as an HTTPError): a webhook's POST would otherwise
    become a GET without its body, to whatever host the answer names, and count as delivered."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _KeptConnections:
    """An HTTP(S) handler that keeps the connections it opens, for `_deadline` to shut."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections: list[http.client.HTTPConnection] = []

    def do_open(self, http_class: Any, req: urllib.request.Request, **kwargs: Any) -> http.client.HTTPResponse:
        def connection(host: str, **options: Any) -> http.client.HTTPConnection:
            made: http.client.HTTPConnection = http_class(host, **options)
            self.connections.append(made)
            return made

        return super().do_open(connection, req, **kwargs)  # type: ignore[misc, no-any-return]


class _KeptHTTP(_KeptConnections, urllib.request.HTTPHandler):
    pass


class _KeptHTTPS(_KeptConnections, urllib.request.HTTPSHandler):
    pass


class _Late(Exception):
    """The exchange outlasted the channel's timeout and was cut (`_deadline`)."""


@contextmanager
def _deadline(seconds: float, sockets: Callable[[], Iterable[socket.socket | None]]) -> Iterator[None]:
    """Once `seconds` have passed, every socket `sockets()` gives (then, or later in the block) is shut, so that a
    read fails at once, and the block raises `_Late` instead of whatever the cut exchange raised or seemed to
    answer (a header cut short reads as the last one). A channel's `timeout` bounds each read, and a server that
    answers a byte at a time, each within it, would otherwise hold the run (and the scheduler's next one) for as
    long as it likes."""
    done, expired = threading.Event(), threading.Event()

    def watch() -> None:
        if done.wait(seconds):
            return
        expired.set()
        while True:  # a socket opened after the deadline (a slow name lookup) is shut as soon as it exists
            for sock in sockets():
                if sock is not None:
                    try:  # the plain socket's shutdown: a TLS socket's own would unwrap it under its reader
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)
                    except OSError:
                        pass
            if done.wait(0.05):
                return

    watcher = threading.Thread(target=watch, name="metricsctl-alert-deadline", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        if expired.is_set():
            raise _Late


class WebhookNotifier:
    def __init__(self, channel: Channel, environ: Mapping[str, str]) -> None:
        self.channel = channel
        self.secrets = _Secrets(environ)

    def body(self, events: Sequence[Event]) -> dict[str, Any]:
        if self.channel.get("format", "slack") == "slack":
            return {"text": slack_text(plain_text(events))}
        return {"summary": summary(events), "alerts": list(events)}

    def send(self, events: Sequence[Event]) -> None:
        url = self.secrets.get(self.channel, "url_env")
        assert url is not None
        if not url.startswith(("http://", "https://")) or any(c.isspace() or ord(c) < 32 for c in url):
            raise DeliveryError(f"channel '{self.channel.name}': the URL in {self.channel.get('url_env')} is not "
                                "a valid http(s) URL (it must not contain spaces or control characters)")
        request = urllib.request.Request(url, data=json.dumps(self.body(events)).encode("utf-8"), method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "User-Agent": "metricsctl-alerts"})
        timeout = float(self.channel.get("timeout", 10))
        handlers = (_KeptHTTP(), _KeptHTTPS())
        try:
            # the status is the answer: the body is not read, so a server that sends it slowly holds no run; the
            # whole exchange (connecting, the status line, the headers) within the timeout
            with _deadline(timeout, lambda: [c.sock for h in handlers for c in h.connections]), \
                    urllib.request.build_opener(_RefuseRedirects, *handlers).open(request, timeout=timeout):
                pass
        except _Late:
            raise DeliveryError(f"channel '{self.channel.name}': the webhook gave no answer within the channel's "
                                f"timeout ({timeout:g} s)") from None
        except urllib.error.HTTPError as exc:
            moved = " (a redirect, not followed: the POST would reach another URL, or none; set the URL it " \
                    "points to)" if 300 <= exc.code < 400 else ""
            raise DeliveryError(f"channel '{self.channel.name}': the webhook answered HTTP {exc.code}{moved}") \
                from None
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(self.secrets.scrub(f"channel '{self.channel.name}': the webhook could not be "
                                                   f"reached: {reason}")) from None


class EmailNotifier:
    def __init__(self, channel: Channel, environ: Mapping[str, str]) -> None:
        self.channel = channel
        self.secrets = _Secrets(environ)

    def message(self, events: Sequence[Event]) -> EmailMessage:
        message = EmailMessage()
        prefix = str(self.channel.get("subject_prefix", "[metricsctl]"))
        worst = next((s for s in ("critical", "warning", "info")
                      if any(e["severity"] == s and e["event"] != "resolved" for e in events)), None)
        subject = summary(events).removeprefix("metricsctl: ")
        message["Subject"] = f"{prefix} {subject}" + (f" - {worst}" if worst else "")
        message["From"] = str(self.channel.get("from"))
        message["To"] = ", ".join(self.channel.get("to") or ())
        message.set_content(plain_text(events))
        return message

    def send(self, events: Sequence[Event]) -> None:
        host = str(self.channel.get("host"))
        ssl = bool(self.channel.get("ssl", False))
        starttls = bool(self.channel.get("starttls", False))
        port = int(self.channel.get("port", 465 if ssl else 587 if starttls else 25))
        username = self.channel.get("username") or self.secrets.get(self.channel, "username_env")
        password = self.secrets.get(self.channel, "password_env")
        timeout = float(self.channel.get("timeout", 10))
        if password is not None and not (ssl or starttls) and not is_loopback(host):
            raise DeliveryError(f"channel '{self.channel.name}': a password goes to {host} only over TLS; set "
                                "ssl: true (port 465) or starttls: true (port 587)")
        verified = default_tls()  # the server's certificate and name checked, as a browser checks them
        # made unconnected, so that the deadline covers the greeting too: the whole conversation within the timeout
        smtp = smtplib.SMTP_SSL(timeout=timeout, context=verified) if ssl else smtplib.SMTP(timeout=timeout)
        # the name TLS checks the certificate against, as the constructor sets it when it connects
        smtp._host = host  # type: ignore[attr-defined]
        try:
            with _deadline(timeout, lambda: [getattr(smtp, "sock", None)]), smtp:
                smtp.connect(host, port)
                if starttls:
                    smtp.starttls(context=verified)
                if password is not None:
                    smtp.login(str(username or ""), password)
                smtp.send_message(self.message(events))
        except _Late:
            raise DeliveryError(f"channel '{self.channel.name}': SMTP {host}:{port} gave no answer within the "
                                f"channel's timeout ({timeout:g} s)") from None
        except (smtplib.SMTPException, OSError, ValueError) as exc:
            raise DeliveryError(self.secrets.scrub(f"channel '{self.channel.name}': SMTP {host}:{port} failed: "
                                                   f"{type(exc).__name__}: {exc}")) from None


class JsonlNotifier:
    def __init__(self, channel: Channel, base_dir: Path | None = None) -> None:
        self.channel = channel
        path = Path(str(channel.get("path")))
        self.base_dir = base_dir
        self.path = path if path.is_absolute() or base_dir is None else base_dir / path

    def send(self, events: Sequence[Event]) -> None:
        if self.base_dir is not None and not inside(self.path, self.base_dir):
            raise DeliveryError(f"channel '{self.channel.name}': {self.path} is outside the project; "
                                "metricsctl writes nowhere else")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                for event in events:
                    f.write(json.dumps(event, sort_keys=True) + "\n")
        except OSError as exc:
            raise DeliveryError(f"channel '{self.channel.name}': cannot append to {self.path}: "
                                f"{exc.strerror or exc}") from None


def notifier_for(channel: Channel, environ: Mapping[str, str], stream: IO[str] | None = None,
                 base_dir: Path | None = None) -> Notifier:
    if channel.type == "console":
        return ConsoleNotifier(channel, stream)
    if channel.type == "webhook":
        return WebhookNotifier(channel, environ)
    if channel.type == "email":
        return EmailNotifier(channel, environ)
    if channel.type == "jsonl":
        return JsonlNotifier(channel, base_dir)
    raise AssertionError(f"unhandled channel type {channel.type}")


def send_with_retry(notifier: Notifier, events: Sequence[Event], policy: RetryPolicy,
                    sleep: Callable[[float], None] = time.sleep) -> tuple[int, str | None]:
    """(attempts made, the last error or None when delivered)."""
    error: str | None = None
    for attempt in range(1, max(1, policy.attempts) + 1):
        try:
            notifier.send(events)
            return attempt, None
        except DeliveryError as exc:
            error = str(exc)
        except Exception as exc:  # a notifier's own bug must not lose the events either
            scrub = getattr(getattr(notifier, "secrets", None), "scrub", None)
            error = f"channel '{notifier.channel.name}': {type(exc).__name__}"
            if callable(scrub):
                error = str(scrub(f"{error}: {exc}"))
        if attempt < policy.attempts:
            sleep(policy.delay(attempt))
    return max(1, policy.attempts), error
