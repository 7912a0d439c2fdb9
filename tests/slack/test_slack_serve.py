"""The WSGI wrapper: /healthz answers before Bolt; other paths are not Bolt's business. These
tests are about the HTTP layer, so they use real HTTP (`http_url`, `slack_http`)."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from bot.slack import serve
from tests.rig import SlackDriver


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        with err:  # an HTTPError holds the response (and its socket) until closed
            return err.code, err.read().decode()


def test_healthz(http_url: str) -> None:
    assert _get(http_url + "/healthz") == (200, "ok")


@pytest.mark.parametrize("path", ["/", "/slack/event", "/healthz/x"])
def test_other_paths_are_404(http_url: str, path: str) -> None:
    assert _get(http_url + path)[0] == 404


def test_healthz_takes_no_posts(http_url: str) -> None:
    req = urllib.request.Request(http_url + "/healthz", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=5)
    info.value.close()
    assert info.value.code == 405


def test_in_process_dispatch_answers_as_the_http_layer_does(
    slack: SlackDriver, slack_http: SlackDriver
) -> None:
    # What the other tests rely on: a signed request dispatched in-process gets what the same
    # request gets through waitress's WSGI layer and Bolt's adapter (acks and refusals alike).
    for text in ("lsit", "use"):
        direct, over_http = slack.command(text), slack_http.command(text)
        assert direct.status == over_http.status == 200
        assert direct.json() == over_http.json() and direct.json()["response_type"] == "ephemeral"
    raw = "command=%2Fappprofile&text=help"
    forged = {**slack.sign(raw), "X-Slack-Signature": "v0=" + "0" * 64}
    assert slack.post(raw, forged).status == slack_http.post(raw, forged).status == 401


def test_serve_health_runs_beside_socket_mode() -> None:
    server = serve.serve_health(0, host="127.0.0.1")
    try:
        url = f"http://127.0.0.1:{server.effective_port}"
        assert _get(url + "/healthz") == (200, "ok")
        assert _get(url + "/slack/events")[0] == 404
    finally:
        server.close()


def test_the_socket_mode_health_port_serves_metrics_too() -> None:
    server = serve.serve_health(0, host="127.0.0.1", metrics=lambda: b"appprofile_runs_total 3.0\n")
    try:
        url = f"http://127.0.0.1:{server.effective_port}"
        assert _get(url + "/metrics") == (200, "appprofile_runs_total 3.0\n")
        assert _get(url + "/healthz") == (200, "ok")
    finally:
        server.close()
