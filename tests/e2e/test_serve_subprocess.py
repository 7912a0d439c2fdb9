"""The real `appprofile serve` process, HTTP mode, signed Slack requests, fake Slack + emulator + SQLite.

Covers the issue's end-to-end path (create → deploy → progress → outputs) and the crash test:
SIGKILL mid-deploy, start again, the run finishes and the same Slack message is updated.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.kube import SimCluster
from sandbox.slack_api import Call, FakeSlack
from tests.e2e.bot_process import SECRET, TOKEN, BotProcess
from tests.rig import SlackDriver

pytestmark = pytest.mark.slow
EXAMPLE = (Path(__file__).resolve().parents[2] / "profiles" / "examples" / "counter-app.yaml").read_text()
CONFIG = "clusters:\n  dev-cluster: {context: dev}\n"
CHANNEL = "C111"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack().start()
    yield server
    server.stop()


def sim(ready_after: float) -> SimCluster:
    return SimCluster(controllers=True, ready_after=ready_after).start()


def text_of(call: Call) -> str:
    return json.dumps(call.params, ensure_ascii=False)


def progress_updates(fake: FakeSlack, ts: str) -> list[Call]:
    return [c for c in fake.calls_to("chat.update") if c.params.get("ts") == ts]


def run_deploy(fake: FakeSlack, driver: SlackDriver) -> str:
    """Create the example and deploy it; return the progress message's ts."""
    since = len(fake.calls)
    assert driver.command(f"create ```{EXAMPLE}```").status == 200
    fake.wait_for(
        "chat.postMessage", lambda c: "counter-app" in text_of(c) and "1.0.0" in text_of(c), 15, since=since
    )
    since = len(fake.calls)
    assert driver.command("deploy counter-app to dev-cluster").status == 200
    posted = fake.wait_for(
        "chat.postMessage", lambda c: "Deploy counter-app 1.0.0" in text_of(c), 20, since=since
    )
    return str(posted.response["ts"])


def test_create_deploy_progress_outputs_end_to_end(tmp_path: Path, fake: FakeSlack) -> None:
    cluster = sim(0.3)
    bot = BotProcess(tmp_path, fake, {"dev": cluster}, CONFIG)
    try:
        bot.start()
        driver = SlackDriver.over_http(bot.url, fake, secret=SECRET)
        ts = run_deploy(fake, driver)
        done = fake.wait_for(
            "chat.update", lambda c: c.params.get("ts") == ts and "Succeeded" in text_of(c), 60
        )
        body = text_of(done)
        assert "POSTGRESMSTR_SVC" in body and "CONTAINER_SVC_EXTERNALIP" in body
        assert "192.0.2.10" in body  # the ui's LoadBalancer address from the emulator's controller
        assert "••••••" in body
        # Updated in place, at most about once a second (a handful of updates, not one per event).
        updates = progress_updates(fake, ts)
        assert 1 <= len(updates) <= 40
        # No generated password in any Slack call or log line.
        secret = cluster.get("Secret", "counter-app-postgres-db-ns", "counter-app-postgres-db-generated")
        assert secret is not None
        import base64

        values = [base64.b64decode(v).decode() for v in secret["data"].values()]
        assert values
        everything = json.dumps([c.params for c in fake.calls]) + bot.log_text()
        for v in values:
            assert v not in everything
        assert TOKEN not in bot.log_text()
        # Every payload passed Block Kit validation.
        assert not fake.rejected()
        # Machine-readable: every progress message carries Slack message metadata.
        meta = done.params["metadata"]
        meta = json.loads(meta) if isinstance(meta, str) else meta
        assert meta["event_type"] == "appprofile_deploy"
        assert {
            k: meta["event_payload"][k] for k in ("deployment", "cluster", "profile", "version", "status")
        } == {
            "deployment": "counter-app",
            "cluster": "dev-cluster",
            "profile": "counter-app",
            "version": "1.0.0",
            "status": "succeeded",
        }
        # /metrics on the same port: Prometheus text from the store.
        with urllib.request.urlopen(f"http://127.0.0.1:{bot.port}/metrics", timeout=10) as resp:
            assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            scraped = resp.read().decode()
        assert 'appprofile_runs_total{cluster="dev-cluster",kind="deploy",result="succeeded"} 1.0' in scraped
        assert (
            'appprofile_run_duration_seconds_count{cluster="dev-cluster",kind="deploy",result="succeeded"} 1.0'
            in scraped
        )
        assert "appprofile_tier_duration_seconds_bucket" in scraped
    finally:
        bot.stop()
        cluster.stop()


def test_sigkill_mid_deploy_resumes_and_updates_the_same_message(tmp_path: Path, fake: FakeSlack) -> None:
    cluster = sim(2.0)
    bot = BotProcess(tmp_path, fake, {"dev": cluster}, CONFIG)
    try:
        bot.start()
        driver = SlackDriver.over_http(bot.url, fake, secret=SECRET)
        ts = run_deploy(fake, driver)
        # Wait until the first tier is ready and the second is under way, then kill the bot.
        fake.wait_for(
            "chat.update",
            lambda c: (
                (c.params.get("ts") == ts and "*api* applying" in text_of(c))
                or (c.params.get("ts") == ts and "*api* waiting" in text_of(c))
            ),
            60,
        )
        bot.kill()
        posts_before = len(
            [c for c in fake.calls_to("chat.postMessage") if "Deploy counter-app" in text_of(c)]
        )
        bot.start()
        done = fake.wait_for(
            "chat.update", lambda c: c.params.get("ts") == ts and "Succeeded" in text_of(c), 90
        )
        assert "*ui* ready" in text_of(done)
        posts_after = len(
            [c for c in fake.calls_to("chat.postMessage") if "Deploy counter-app" in text_of(c)]
        )
        assert posts_after == posts_before, "a restarted bot must keep updating the same message"
        assert "resumed 1 deployment queue" in bot.log_text()
    finally:
        bot.stop()
        cluster.stop()


def answer_to(
    fake: FakeSlack, driver: SlackDriver, text: str, needle: str, *, method: str = "webhook"
) -> str:
    """Send `/appprofile text` to the real process; return its own reply (through its response_url)
    or the channel message it posted, containing `needle`."""
    reply = driver.command(text)
    assert reply.status == 200, (text, reply.status)
    got = driver.answer(reply, needle, 20) if method == "webhook" else driver.posted(reply, needle, 20)
    return text_of(got)


def test_every_command_through_the_real_process(tmp_path: Path, fake: FakeSlack) -> None:
    cluster = sim(0.2)
    bot = BotProcess(tmp_path, fake, {"dev": cluster}, CONFIG)
    try:
        bot.start()
        d = SlackDriver.over_http(bot.url, fake, secret=SECRET)
        assert "versioned stacks" in answer_to(fake, d, "help", "App Profiles")
        answer_to(fake, d, f"create ```{EXAMPLE}```", "counter-app", method="chat.postMessage")
        assert "counter-app" in answer_to(fake, d, "list", "counter-app")
        assert "postgres-db" in answer_to(
            fake, d, "show counter-app@1.0.0", "counter-app", method="chat.postMessage"
        )
        assert "PASSWORD" in answer_to(fake, d, "services postgresql", "PASSWORD")
        assert "container" in answer_to(fake, d, "services", "kafka")
        answer_to(fake, d, "use counter-app", "counter-app", method="chat.postMessage")
        # `version NAME NEW` opens the form prefilled with the source; saving is the submit.
        form = d.opened(d.command("version counter-app 1.1.0 --from 1.0.0"))
        submitted = d.submit(form, {"version": "1.1.0"})
        assert submitted.status == 200
        d.posted(submitted, "counter-app@1.1.0", 20)
        assert "1.1.0" in answer_to(fake, d, "versions counter-app", "1.0.0")
        answer_to(fake, d, "clone counter-app@1.0.0 copy --version 2.0.0", "copy", method="chat.postMessage")
        answer_to(fake, d, "diff counter-app 1.0.0 1.1.0", "counter-app", method="chat.postMessage")
        answer_to(fake, d, "export counter-app@1.1.0", "tiers", method="chat.postMessage")
        # `deploy CLUSTER` alone: the channel's current profile at its latest version.
        answer_to(fake, d, "use counter-app", "counter-app", method="chat.postMessage")
        since = len(fake.calls)
        d.command("deploy dev-cluster --set api.replicas=2")
        fake.wait_for(
            "chat.update",
            lambda c: "counter-app 1.1.0" in text_of(c) and "Succeeded" in text_of(c),
            60,
            since=since,
        )
        assert "ready" in answer_to(fake, d, "status counter-app", "counter-app")
        assert "dev-cluster" in answer_to(fake, d, "deployments", "counter-app")
        assert "POSTGRESMSTR_SVC" in answer_to(fake, d, "outputs counter-app", "POSTGRESMSTR_SVC")
        assert "deploy" in answer_to(fake, d, "audit 50", "counter-app")
        # Tearing down: the confirm names the cluster; the click deletes everything, PVCs too.
        shown = answer_to(fake, d, "delete counter-app from dev-cluster --purge", "appprofile_delete")
        assert "on `dev-cluster`" in shown and "deleted too" in shown
        value = json.loads(shown)["blocks"][-1]["elements"][0]["value"]
        since = len(fake.calls)
        d.click({"type": "button", "action_id": "appprofile_delete", "block_id": "delete", "value": value})
        fake.wait_for(
            "chat.update",
            lambda c: "Delete counter-app" in text_of(c) and "Succeeded" in text_of(c),
            60,
            since=since,
        )
        assert cluster.get("Namespace", None, "counter-app-postgres-db-ns") is None
        assert not fake.rejected()
    finally:
        bot.stop()
        cluster.stop()
