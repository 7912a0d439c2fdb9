"""Serving the Bolt app: HTTP (waitress + Bolt's WSGI adapter, with `/healthz`) or Socket Mode.

Failing to start is the operator's to fix: a port that cannot be bound (`OSError`), an app-level
token Slack rejects (`SlackApiError`) or Slack out of reach leave as an `OperatorError`.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterable
from typing import Any

import waitress
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.errors import SlackApiError
from waitress import wasyncore
from waitress.server import create_server

from bot.core.errors import OperatorError

EVENTS_PATH = "/slack/events"
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _health(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes] | None:
    """Answer /healthz; None for any other path."""
    if environ.get("PATH_INFO", "") != "/healthz":
        return None
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Length", "0")])
        return [b""]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def _not_found(start_response: StartResponse) -> Iterable[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
    return [b"not found"]


# What `GET /metrics` answers: Prometheus text (built by the composition root from the store).
Metrics = Callable[[], bytes]
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _metrics(
    environ: dict[str, Any], start_response: StartResponse, metrics: Metrics | None
) -> Iterable[bytes] | None:
    if (
        metrics is None
        or environ.get("PATH_INFO", "") != "/metrics"
        or environ.get("REQUEST_METHOD") != "GET"
    ):
        return None
    body = metrics()
    start_response("200 OK", [("Content-Type", METRICS_TYPE), ("Content-Length", str(len(body)))])
    return [body]


def health_wsgi(metrics: Metrics | None = None) -> WSGIApp:
    """Only /healthz (and /metrics): what Socket Mode serves over HTTP (events come over the WebSocket)."""

    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        return (
            _health(environ, start_response)
            or _metrics(environ, start_response, metrics)
            or _not_found(start_response)
        )

    return wsgi


MAX_BODY = 1024 * 1024  # Slack's payloads are far smaller; a larger body is not from Slack


def _plain(start_response: StartResponse, status: str, text: str) -> Iterable[bytes]:
    body = text.encode()
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]


def _utf8_body(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes] | None:
    """Read the body once: refuse one that is too large or not UTF-8 (Bolt would fail on it
    silently), else hand Bolt an unread copy."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _plain(start_response, "400 Bad Request", "Content-Length is not a number")
    if length > MAX_BODY:
        return _plain(start_response, "413 Payload Too Large", "the request body is larger than 1 MiB")
    raw = environ["wsgi.input"].read(length) if length else b""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return _plain(start_response, "400 Bad Request", "the request body is not UTF-8 text")
    environ["wsgi.input"] = io.BytesIO(raw)
    return None


def make_wsgi(app: App, metrics: Metrics | None = None) -> WSGIApp:
    """Bolt's WSGI handler behind a tiny router: `GET /healthz` and `GET /metrics` answer before Bolt sees it."""
    bolt = SlackRequestHandler(app)

    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        health = _health(environ, start_response) or _metrics(environ, start_response, metrics)
        if health is not None:
            return health
        if environ.get("PATH_INFO", "") != EVENTS_PATH:
            return _not_found(start_response)
        refused = _utf8_body(environ, start_response)
        if refused is not None:
            return refused
        result: Iterable[bytes] = bolt(environ, start_response)
        return result

    return wsgi


def _unbindable(host: str, port: int, exc: OSError) -> OperatorError:
    return OperatorError(
        f"cannot listen on {host}:{port}: {exc.strerror or exc}",
        "set PORT (and HOST) to an address this process may bind that nothing else listens on",
    )


def serve_http(app: App, port: int, host: str = "0.0.0.0", metrics: Metrics | None = None) -> None:  # noqa: S104 - a server in a container
    """Blocks serving `POST /slack/events` and `GET /healthz`."""
    channels: dict[int, Any] = {}  # waitress's socket map: what to close if binding fails
    try:
        waitress.serve(make_wsgi(app, metrics), map=channels, host=host, port=port, ident="appprofile")
    except OSError as exc:
        wasyncore.close_all(channels)
        raise _unbindable(host, port, exc) from exc


def serve_health(port: int, host: str = "0.0.0.0", metrics: Metrics | None = None) -> Any:  # noqa: S104
    """Serve `GET /healthz` on a daemon thread (Socket Mode has no HTTP server of its own).

    Returns the waitress server: `.effective_port` (when `port` is 0) and `.close()`.
    """
    channels: dict[int, Any] = {}
    try:
        server = create_server(health_wsgi(metrics), map=channels, host=host, port=port, ident="appprofile")
    except OSError as exc:
        wasyncore.close_all(channels)
        raise _unbindable(host, port, exc) from exc
    threading.Thread(target=server.run, name="healthz", daemon=True).start()
    return server


def serve_socket(app: App, app_token: str) -> None:
    """Blocks in Socket Mode (no public URL needed; Slack pushes over a WebSocket)."""
    handler = SocketModeHandler(app, app_token=app_token)
    try:
        handler.start()  # type: ignore[no-untyped-call]  # slack_bolt leaves start() unannotated
    except (SlackApiError, OSError) as exc:
        handler.close()  # type: ignore[no-untyped-call]  # its threads and sockets
        raise _socket_refused(exc) from exc


def _socket_refused(exc: SlackApiError | OSError) -> OperatorError:
    if isinstance(exc, SlackApiError):
        error = exc.response.get("error") if hasattr(exc.response, "get") else None
        return OperatorError(
            f"Slack refused Socket Mode ({error or 'no reason given'})",
            "set SLACK_APP_TOKEN to the app-level token (xapp-…) with connections:write, and "
            "enable Socket Mode in the app's settings",
        )
    return OperatorError(
        f"Slack could not be reached for Socket Mode ({exc.strerror or exc})",
        "check the network path to Slack (proxy, firewall)",
    )
