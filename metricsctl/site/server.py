"""`metricsctl docs serve`: the generated site and a read-only JSON API, on the standard library's server.

    GET /api/query?metrics=revenue&group_by=metric_time__month&where=...&start_time=..&end_time=..
                  &order_by=..&limit=..       -> what `metricsctl query --json` prints, byte for byte
    GET /api/metrics                          -> the rows of `metric_catalog`
    GET /<file>                               -> a file of the site folder, never one outside it

A bad request (unknown parameter, bad metric, a `where` that is not one boolean over metric items)
answers 400 with `{"error": "..."}` before anything runs; an unknown path 404; any other method 405.

Served on a loopback address (the default), the server answers only requests addressed to a loopback name
(`Host: localhost:8080`, `127.0.0.1:8080`, `[::1]:8080`), and 403 to any other: a web page whose own name
was rebound to 127.0.0.1 (DNS rebinding) would otherwise read the warehouse through the API from the
user's browser. Messages in answers are masked like every other (`guards.mask`).
"""

from __future__ import annotations

import json
import mimetypes
import os
import sys
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from metricsctl.errors import MetricsctlError, WarehouseError
from metricsctl.guards import is_loopback, mask
from metricsctl.site.generate import SITE_FOLDER

if TYPE_CHECKING:
    from metricsctl.facade import Metricsctl

QUERY_PARAMETERS = ("metrics", "group_by", "where", "start_time", "end_time", "order_by", "limit", "saved_query")
SINGLE = ("metrics", "group_by", "start_time", "end_time", "order_by", "limit", "saved_query")


class BadRequest(MetricsctlError):
    """A request the API refuses: answered 400 with the message."""


def query_json(app: Metricsctl, params: dict[str, list[str]]) -> str:
    """The body `metricsctl query --json` prints for the same options."""
    from metricsctl.output import records

    unknown = sorted(set(params) - set(QUERY_PARAMETERS))
    if unknown:
        raise BadRequest(f"unknown parameter {', '.join(unknown)}; use {', '.join(QUERY_PARAMETERS)}")
    for name in SINGLE:
        if len(params.get(name, [])) > 1:
            raise BadRequest(f"parameter {name} given more than once (only where repeats)")

    def one(name: str) -> str | None:
        values = params.get(name)
        return values[0] if values else None

    limit_text = one("limit")
    limit = None
    if limit_text is not None:
        # '²' is a digit to str.isdigit, not to int(); past 18 digits no warehouse takes it
        if not (limit_text.isascii() and limit_text.isdigit() and len(limit_text) <= 18):
            raise BadRequest(f"limit must be a whole number of rows below 10^18, not '{limit_text[:40]}'")
        limit = int(limit_text)
    request = app.request(one("metrics") or "", one("group_by") or "", tuple(params.get("where", [])),
                          one("order_by") or "", limit, one("start_time"), one("end_time"), one("saved_query"))
    return json.dumps(records(app.query(request)), indent=2) + "\n"


def catalog_json(app: Metricsctl) -> str:
    from metricsctl.site.extract import Reader, read_catalog

    warehouse = app.warehouse()
    try:
        rows = list(read_catalog(Reader(warehouse.execute, app.dialect)).values())
    finally:
        warehouse.close()
    return json.dumps(rows, indent=2) + "\n"


def host_allowed(header: str | None, listening_on: str) -> bool:
    """Whether a request whose Host header is `header` may be answered by a server listening on `listening_on`:
    on a loopback address only a loopback name (a request without the header comes from no browser)."""
    if not is_loopback(listening_on) or header is None:
        return True
    try:
        hostname = urlsplit(f"//{header}").hostname
    except ValueError:
        return False
    return is_loopback(hostname)


class SiteServer(ThreadingHTTPServer):
    """Serves `folder` (default: target/metrics-site/) and the API over `app`."""

    daemon_threads = True

    def __init__(self, app: Metricsctl, folder: Path | None = None, host: str = "127.0.0.1", port: int = 8080,
                 quiet: bool = False) -> None:
        self.app = app
        self.folder = (folder if folder is not None else app.project.target_dir / SITE_FOLDER).resolve()
        if not (self.folder / "index.html").is_file():
            raise MetricsctlError(f"{self.folder}: no metric center here; run `metricsctl docs generate` first")
        self.quiet = quiet
        _ = app.spec  # parse once, before requests arrive on several threads
        try:
            super().__init__((host, port), Handler)
        except OSError as exc:
            raise MetricsctlError(f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port") from None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"


class Handler(BaseHTTPRequestHandler):
    server: SiteServer
    server_version = "metricsctl"
    timeout = 30  # seconds a client may stay silent: a connection left open (or fed a byte a minute) holds a thread

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class names it so)
        if not self.server.quiet:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    # --- answers -------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str, head: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, status: int, text: str) -> None:
        self._send(status, text.encode("utf-8"), "application/json; charset=utf-8")

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._json(status, json.dumps({"error": mask(message)}) + "\n")

    def _addressed_here(self) -> bool:
        """False, after answering 403, for a request addressed to another name than this machine's loopback."""
        if host_allowed(self.headers.get("Host"), str(self.server.server_address[0])):
            return True
        self._error(HTTPStatus.FORBIDDEN, "the metric center answers requests to localhost only; to serve it under "
                                          "another name, start it with `metricsctl docs serve --host <address>`")
        return False

    # --- methods -------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 (the base class names it so)
        if self._addressed_here():
            self._get(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        if self._addressed_here():
            self._get(head=True)

    def _refuse(self) -> None:
        if self._addressed_here():
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, "the metric center is read-only: only GET and HEAD")

    do_POST = do_PUT = do_PATCH = do_DELETE = _refuse  # noqa: N815

    def _get(self, head: bool) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        if path == "/api/query":
            self._api(lambda: query_json(self.server.app, parse_qs(parts.query, keep_blank_values=False)))
        elif path == "/api/metrics":
            self._api(lambda: catalog_json(self.server.app))
        elif path.startswith("/api/"):
            self._error(HTTPStatus.NOT_FOUND, f"no API at {path}; there are /api/query and /api/metrics")
        else:
            self._file(path, head)

    def _api(self, answer: Any) -> None:
        try:
            self._json(HTTPStatus.OK, answer())
        except WarehouseError as exc:
            self._error(HTTPStatus.SERVICE_UNAVAILABLE, str(exc))
        except MetricsctlError as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
        except Exception:  # a bug: say so in the answer, keep the traceback in the server's log
            traceback.print_exc()
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "the server failed to answer; see its log")

    def _file(self, path: str, head: bool) -> None:
        target = resolve_file(self.server.folder, path)
        if target is None:
            self._error(HTTPStatus.NOT_FOUND, f"not found: {path}")
            return
        content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type in ("application/javascript", "text/javascript"):
            content_type += "; charset=utf-8"
        self._send(HTTPStatus.OK, target.read_bytes(), content_type, head)


def resolve_file(folder: Path, url_path: str) -> Path | None:
    """The file of `folder` a URL path names, or None when it names nothing there (or anything outside)."""
    relative = unquote(url_path).lstrip("/")
    if "\x00" in relative:
        return None
    candidate = Path(os.path.realpath(folder / relative)) if relative else folder
    if candidate.is_dir():  # its index.html, itself resolved: a link there may point anywhere
        candidate = Path(os.path.realpath(candidate / "index.html"))
    if candidate != folder and folder not in candidate.parents:
        return None
    return candidate if candidate.is_file() else None
