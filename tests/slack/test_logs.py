"""`/appprofile logs` and the Logs button, through signed Slack requests into the real app.

The command runs against the emulator behind the real adapter (`KubeCluster` over HTTP, pods made
by the emulator's controller, `pods/log` answered from what the test wrote); the button and the
access rule run against the scripted double (a crash-looping api tier fails on a virtual clock).
Either way the logs land in the run's thread with every secret of the deployment scrubbed.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.ports import PodLog
from bot.core.secrets import MASK
from bot.kube.cluster import KubeCluster
from bot.slack import logs_view
from bot.slack.listeners.answers import post_logs
from bot.usecases.logs import LogsAnswer
from sandbox.kube import SimCluster
from sandbox.slack_api import Call, FakeSlack
from tests.executor.scripted import ScriptedCluster
from tests.rig import CHANNEL, USER, Bot, Reply, SlackDriver, build, check_slack

EXAMPLE = (Path(__file__).resolve().parents[2] / "profiles" / "examples" / "counter-app.yaml").read_text()
GIVEN = "given-cache-secret-42"  # a user-given secret property (the redis tier's password)
# counter-app with a Redis tier below it whose password is given in the profile.
PROFILE = EXAMPLE.replace(
    "tiers:\n",
    f"tiers:\n  - name: cache\n    type: redis\n    properties: {{password: {GIVEN}, volumeSize: 1}}\n",
    1,
)
OTHER = "U0OTHER"


def text_of(call: Call) -> str:
    return json.dumps(call.params, ensure_ascii=False)


def passwords() -> Iterator[str]:
    n = 0
    while True:
        n += 1
        yield f"gen-{n:04d}-Pa55word-xyz"


def create_and_deploy(driver: SlackDriver, bot: Bot, *, user: str = USER, profile: str = PROFILE) -> int:
    created = driver.command(f"create ```yaml\n{profile}```", user=user)
    driver.posted(created, "Created counter-app@1.0.0")
    reply = driver.command("deploy counter-app to dev-cluster", user=user)
    found = re.search(r"run #(\d+)", text_of(driver.answer(reply, "run #")))
    assert found is not None
    return int(found.group(1))


def thread_text(fake: FakeSlack, run_ts: str, since: int) -> str:
    """The thread replies under the run's message posted since call number `since`."""
    parts = [
        c
        for c in fake.calls[since:]
        if c.method == "chat.postMessage" and c.params.get("thread_ts") == run_ts
    ]
    return "\n".join(str(c.params.get("text", "")) for c in parts)


# -- the command, against the emulator through the real adapter ----------------------------------------


@pytest.fixture
def sim() -> Iterator[SimCluster]:
    cluster = SimCluster(controllers=True, ready_after=0.2).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def real_bot(tmp_path: Path, fake: FakeSlack, sim: SimCluster) -> Iterator[Bot]:
    kube = KubeCluster(
        "dev-cluster", sim.api_client(), retries=3, backoff=0.01, discovery_cache=str(tmp_path / "disc.json")
    )
    built = build(tmp_path, fake=fake, connect=lambda _name: kube, password=passwords().__next__)
    yield built
    built.close()
    check_slack(fake)


def test_logs_command_posts_the_tiers_lines_into_the_runs_thread_secrets_scrubbed(
    real_bot: Bot, fake: FakeSlack, sim: SimCluster
) -> None:
    driver = real_bot.driver()
    run = real_bot.run_ended(create_and_deploy(driver, real_bot), timeout=60)
    assert run.status == "succeeded", run.error
    secret = sim.get("Secret", "counter-app-postgres-db-ns", "counter-app-postgres-db-generated")
    assert secret is not None
    generated = base64.b64decode(secret["data"]["password"]).decode()
    assert generated.startswith("gen-")
    (pod,) = sim.list_objects("pods", "counter-app-api-ns")
    name = pod["metadata"]["name"]
    lines = [f"line {i}" for i in range(1, 80)] + [
        f"connecting to postgres as pguser with password {generated}",
        f"redis AUTH {GIVEN} ok",
        "<!channel> & <https://evil.example|click> ``` not a fence",
        "listening on :3000",
    ]
    sim.set_log("counter-app-api-ns", name, "api", "\n".join(lines) + "\n")

    since = len(fake.calls)
    reply = driver.command("logs counter-app api")
    done = driver.answer(reply, "Posted")
    assert done.params["response_type"] == "ephemeral"
    assert done.params["text"] == f"Posted 50 lines of api's pods ({name}) in the thread of run #{run.id}."
    assert run.message_ts is not None
    posted = thread_text(fake, run.message_ts, since)
    assert posted.startswith("Logs of *api* (counter-app on dev-cluster, namespace `counter-app-api-ns`)")
    assert f"*{name}* · `api`\n```\nline 34\n" in posted  # the last 50: lines 34 … 79 and four more
    assert "line 33\n" not in posted
    assert f"connecting to postgres as pguser with password {MASK}" in posted
    assert f"redis AUTH {MASK} ok" in posted
    assert generated not in posted and GIVEN not in posted
    # No mention, link or early fence a log line writes is rendered.
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt; ``\u200b` not a fence" in posted
    assert posted.count("```") == 2
    # Into the thread of the run's own progress message, as text under Slack's limits.
    for call in fake.calls[since:]:
        if call.method == "chat.postMessage":
            assert call.params["channel"] == CHANNEL and call.params["thread_ts"] == run.message_ts
            assert len(call.params["text"]) <= 3500
    # `--lines` is bounded: a clear refusal with the limit, nothing posted.
    since = len(fake.calls)
    refused = driver.answer(driver.command("logs counter-app api on dev-cluster --lines 600"), "600")
    assert "`--lines 600` is out of range: at most 500 lines per container" in text_of(refused)
    assert not [c for c in fake.calls[since:] if c.method == "chat.postMessage"]
    # A word for a number is refused at once, in the command's own answer.
    assert (
        "`--lines many` is not a number of lines" in driver.command("logs counter-app api --lines many").body
    )
    # A tier the deployment does not have is named with the ones it has.
    missing = driver.answer(driver.command("logs counter-app worker"), "worker")
    assert "has no tier `worker`" in text_of(missing) and "`postgres-db`" in text_of(missing)
    entries = [e for e in real_bot.store.list_audit(limit=50) if e.action == "logs"]
    assert [(e.actor, e.target, e.result) for e in entries] == [(USER, "dev-cluster/counter-app", "ok")]


def test_many_lines_are_split_into_messages_under_the_limit(
    real_bot: Bot, fake: FakeSlack, sim: SimCluster
) -> None:
    driver = real_bot.driver()
    run = real_bot.run_ended(create_and_deploy(driver, real_bot, profile=EXAMPLE), timeout=60)
    assert run.status == "succeeded", run.error
    (pod,) = sim.list_objects("pods", "counter-app-ui-ns")
    text = "".join(f"{i:04d} GET /api/counter 200 {'x' * 60}\n" for i in range(600))
    sim.set_log("counter-app-ui-ns", pod["metadata"]["name"], "ui", text)

    since = len(fake.calls)
    done = driver.answer(driver.command("logs counter-app ui --lines 500"), "Posted")
    assert "Posted 500 lines of ui's pods" in done.params["text"]
    assert run.message_ts is not None
    parts = [
        c.params["text"]
        for c in fake.calls[since:]
        if c.method == "chat.postMessage" and c.params.get("thread_ts") == run.message_ts
    ]
    assert len(parts) > 10
    assert all(len(p) <= 3500 and p.count("```") % 2 == 0 for p in parts)
    assert "(continued)" in parts[1]
    joined = "\n".join(parts)
    assert "0100 GET" in joined and "0599 GET" in joined and "0099 GET" not in joined


# -- the button and the access rule, against the scripted double ---------------------------------------


@pytest.fixture
def double() -> ScriptedCluster:
    return ScriptedCluster()


def scripted_bot(tmp_path: Path, fake: FakeSlack, cluster: ScriptedCluster, config: str | None = None) -> Bot:
    return build(
        tmp_path, fake=fake, connect=lambda _name: cluster, config=config, password=passwords().__next__
    )


def logs_button(call: Call) -> dict[str, Any] | None:
    return next(
        (
            el
            for b in call.params.get("blocks") or []
            if b.get("type") == "actions"
            for el in b["elements"]
            if el.get("action_id") == "run_logs"
        ),
        None,
    )


def test_the_logs_button_on_a_failed_tier_posts_its_pods_lines_and_the_crashed_container(
    tmp_path: Path, fake: FakeSlack, double: ScriptedCluster
) -> None:
    double.break_rollout("Deployment", "counter-app-api", "CrashLoopBackOff", restarts=4)
    bot = scripted_bot(tmp_path, fake, double)
    try:
        driver = bot.driver()
        run_id = create_and_deploy(driver, bot)
        run = bot.run_ended(run_id)
        assert run.status == "failed" and "keeps crashing" in (run.error or "")
        # While the api tier waited, its progress line offered Logs too.
        waiting = [
            c for c in fake.calls_to("chat.update") if "*api* waiting" in text_of(c) and logs_button(c)
        ]
        assert waiting
        shown = logs_button(waiting[0])
        assert shown is not None and json.loads(shown["value"]) == {"run": run_id, "tier": "api"}
        final = fake.wait_for("chat.update", lambda c: '"status": "failed"' in text_of(c))
        button = logs_button(final)
        assert button is not None and button["text"]["text"] == "Logs of api"
        # The failure's detail goes into the thread after the final redraw: wait for it, so the
        # thread posts counted below are the ones the Logs clicks make.
        fake.wait_for(
            "chat.postMessage", lambda c: bool(c.params.get("thread_ts")) and "keeps crashing" in text_of(c)
        )
        generated = double.read_secret("counter-app-postgres-db-ns", "counter-app-postgres-db-generated")
        assert generated is not None
        password = generated["password"]
        double.set_log(
            "counter-app-api-ns", "counter-app-api-0", "api", f"boot\nauth with {password}\npanic\n", True
        )
        double.set_log("counter-app-api-ns", "counter-app-api-0", "api", f"boot again\ncache {GIVEN}\n")

        since = len(fake.calls)
        reply = driver.click({**button, "block_id": f"run-{run_id}"})
        done = driver.answer(reply, "Posted")
        assert done.params["text"] == (
            f"Posted 5 lines of api's pods (counter-app-api-0) in the thread of run #{run_id}."
        )
        assert run.message_ts is not None
        posted = thread_text(fake, run.message_ts, since)
        assert "*counter-app-api-0* · `api` (previous container, crashed)\n```\nboot\nauth with" in posted
        assert f"auth with {MASK}\npanic\n```" in posted
        assert f"cache {MASK}" in posted and password not in posted and GIVEN not in posted
        assert posted.index("(previous container, crashed)") < posted.index("boot again")
        # A tier without pods says so, to the person only.
        since = len(fake.calls)
        empty = driver.answer(driver.command("logs counter-app ui"), "No pods")
        assert "No pods of *ui* (counter-app) are running in `counter-app-ui-ns`" in empty.params["text"]
        assert not [c for c in fake.calls[since:] if c.method == "chat.postMessage"]
        # A forged value is out of date, as every button's.
        stale = driver.answer(
            driver.click({**button, "value": '{"run": 1, "tier": "API; x"}'}), "out of date"
        )
        assert stale.params["response_type"] == "ephemeral"
    finally:
        bot.close()
    check_slack(fake)


def test_only_people_allowed_to_deploy_there_may_read_logs(
    tmp_path: Path, fake: FakeSlack, double: ScriptedCluster
) -> None:
    config = "clusters:\n  dev-cluster: {context: dev}\naccess: {create: ['*'], deploy: [U0OTHER]}\n"
    bot = scripted_bot(tmp_path, fake, double, config)
    try:
        driver = bot.driver()
        run = bot.run_ended(create_and_deploy(driver, bot, user=OTHER))
        assert run.status == "succeeded", run.error

        def ask(user: str, text: str = "logs counter-app api") -> Reply:
            return driver.command(text, user=user)

        refused = driver.answer(ask(USER), "permission")
        assert refused.params["response_type"] == "ephemeral"
        shown = text_of(refused)
        assert "reading logs on `dev-cluster` needs the `deploy` permission" in shown
        assert "access.deploy" in shown
        denied = [e for e in bot.store.list_audit(limit=50) if e.result == "denied"]
        assert [(e.actor, e.action) for e in denied] == [(USER, "logs")]
        # The same click by the same person is refused the same way.
        final = fake.wait_for("chat.update", lambda c: '"status": "succeeded"' in text_of(c))
        assert logs_button(final) is None  # nothing failed or waits: no Logs button
        value = json.dumps({"run": run.id, "tier": "api"})
        click = driver.click({"type": "button", "action_id": "run_logs", "value": value}, user=USER)
        assert "needs the `deploy` permission" in text_of(driver.answer(click, "permission"))
        # Someone allowed to deploy there gets them (no pod has logged yet: said so).
        double.put(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": "counter-app-api-1",
                    "namespace": "counter-app-api-ns",
                    "labels": {"appprofile.dev/deployment": "counter-app", "appprofile.dev/tier": "api"},
                },
                "spec": {"containers": [{"name": "api"}]},
                "status": {
                    "containerStatuses": [{"name": "api", "restartCount": 0, "state": {"running": {}}}]
                },
            }
        )
        allowed = driver.answer(ask(OTHER), "logged nothing yet")
        assert "`api`: nothing logged yet" in text_of(allowed)
    finally:
        bot.close()
    check_slack(fake)


class _Said:
    """Where `post_logs` answers, recorded (a run without a message has no thread to post into)."""

    def __init__(self) -> None:
        self.private: list[str] = []
        self.thread: list[tuple[str, str, str]] = []

    def private_text(self, text: str) -> None:
        self.private.append(text)

    def in_thread(self, channel: str, thread_ts: str, text: str) -> None:
        self.thread.append((channel, thread_ts, text))


def test_without_a_run_message_the_logs_go_to_the_person_alone() -> None:
    text = "".join(f"{i:05d} {'y' * 90}\n" for i in range(500))
    logs = [PodLog(pod=f"api-{n}", container="api", text=text) for n in range(3)]
    answer = LogsAnswer(
        deployment="shop", cluster="dev", tier="api", namespace="shop-api-ns", lines=500, logs=logs
    )
    said = _Said()
    post_logs(said, answer, USER)  # type: ignore[arg-type]
    assert said.thread == []
    # A command's response_url takes five answers: four parts at most, the last says what is left.
    assert len(said.private) == logs_view.MAX_EPHEMERAL
    assert said.private[-1].startswith("… ") and "ask for fewer with `--lines N`" in said.private[-1]
    assert all(len(t) <= logs_view.MAX_CHARS for t in said.private)
