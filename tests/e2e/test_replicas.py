"""Two `appprofile serve` processes on one PostgreSQL, behind no load balancer but alternate
requests: one truth for both, a deploy taken over when the replica running it is SIGKILLed, and
concurrent deploys spread over both replicas run exactly once."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store.db import store_from_url
from sandbox.kube import SimCluster
from sandbox.slack_api import Call, FakeSlack
from tests.e2e.bot_process import SECRET, BotProcess
from tests.postgres import PostgresServer
from tests.rig import SlackDriver
from tests.secret_key import sealer

pytestmark = pytest.mark.slow
EXAMPLE = (Path(__file__).resolve().parents[2] / "profiles" / "examples" / "counter-app.yaml").read_text()
CONFIG = "clusters:\n  dev-cluster: {context: dev}\n"
LEASE = 6.0
SMALL = """\
name: small
tiers:
  - name: cache
    type: redis
"""


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack().start()
    yield server
    server.stop()


@pytest.fixture
def replicas(
    tmp_path: Path, fake: FakeSlack, postgres_server: PostgresServer
) -> Iterator[tuple[list[BotProcess], SimCluster, str]]:
    url = postgres_server.create_database()
    cluster = SimCluster(controllers=True, ready_after=1.5).start()
    env = {"APPPROFILE_DATABASE_URL": url, "APPPROFILE_LEASE_SECONDS": str(LEASE)}
    bots = [BotProcess(tmp_path / f"r{i}", fake, {"dev": cluster}, CONFIG, env=env) for i in (1, 2)]
    try:
        for bot in bots:
            bot.start()
        yield bots, cluster, url
    finally:
        for bot in bots:
            bot.stop()
        cluster.stop()
        postgres_server.drop_database(url)


def text_of(call: Call) -> str:
    return json.dumps(call.params, ensure_ascii=False)


def owner_of(bot: BotProcess) -> str:
    found = re.search(r"replica (replica-[0-9a-f]+) resumed", bot.log_text())
    assert found, bot.log_text()
    return found.group(1)


def test_one_truth_a_killed_replicas_deploy_is_finished_by_the_other(
    replicas: tuple[list[BotProcess], SimCluster, str], fake: FakeSlack
) -> None:
    bots, _cluster, url = replicas
    one, two = (SlackDriver.over_http(b.url, fake, secret=SECRET) for b in bots)
    since = len(fake.calls)
    assert one.command(f"create ```{EXAMPLE}```").status == 200
    fake.wait_for("chat.postMessage", lambda c: "counter-app@1.0.0" in text_of(c), 20, since=since)
    # Created through one, listed by the other: one database.
    two.answer(two.command("list"), "counter-app", 20)
    sent = two.command("deploy counter-app to dev-cluster")
    posted = two.posted(sent, "Deploy counter-app 1.0.0", 20)
    ts = str(posted.response["ts"])
    fake.wait_for("chat.update", lambda c: c.params.get("ts") == ts and "*api* " in text_of(c), 60)
    store = store_from_url(url, sealer=sealer())
    try:
        run = store.latest_run("dev-cluster", "counter-app")
        assert run is not None and run.status == "running" and run.lease_owner
        driving = next(b for b in bots if owner_of(b) == run.lease_owner)
        other = next(b for b in bots if b is not driving)
        posts = len(fake.calls_to("chat.postMessage"))
        since = len(fake.calls)
        driving.kill()
        killed = time.monotonic()
        # The other replica takes the run over once the lease ran out, on the same message.
        fake.wait_for("chat.update", lambda c: c.params.get("ts") == ts, 4 * LEASE, since=since)
        taken = time.monotonic() - killed
        done = fake.wait_for(
            "chat.update", lambda c: c.params.get("ts") == ts and "Succeeded" in text_of(c), 90, since=since
        )
        assert "*ui* ready" in text_of(done)
        print(f"\ntaken over {taken:.1f} s after SIGKILL (lease {LEASE:g} s)")
        assert taken <= LEASE + LEASE / 3 + 3, taken
        assert len(fake.calls_to("chat.postMessage")) == posts, "no second progress message"
        finished = store.get_run(run.id)
        assert finished.status == "succeeded" and finished.lease_owner == owner_of(other)
        assert "took over a run" in other.log_text()
    finally:
        store.dispose()


def test_concurrent_deploys_over_both_replicas_each_run_exactly_once(
    replicas: tuple[list[BotProcess], SimCluster, str], fake: FakeSlack
) -> None:
    bots, _cluster, url = replicas
    drivers = [SlackDriver.over_http(b.url, fake, secret=SECRET) for b in bots]
    since = len(fake.calls)
    assert drivers[0].command(f"create ```{SMALL}```").status == 200
    fake.wait_for("chat.postMessage", lambda c: "small@1.0.0" in text_of(c), 20, since=since)
    names = [f"small-{i:02d}" for i in range(20)]
    sent = [drivers[i % 2].command(f"deploy small to dev-cluster as {n}") for i, n in enumerate(names)]
    assert all(r.status == 200 for r in sent)
    for name in names:
        fake.wait_for(
            "chat.update",
            lambda c, n=name: f"as {n}" in text_of(c) and "Succeeded" in text_of(c),
            120,
        )
    store = store_from_url(url, sealer=sealer())
    try:
        runs = {n: store.latest_run("dev-cluster", n) for n in names}
        assert all(r is not None and r.status == "succeeded" for r in runs.values()), runs
        ids = {r.id for r in runs.values() if r is not None}
        assert len(ids) == 20
        # Each run was started by exactly one replica, once.
        started = [
            json.loads(line).get("run_id")
            for bot in bots
            for line in bot.log_text().splitlines()
            if line.startswith("{") and '"run started"' in line
        ]
        assert sorted(i for i in started if i in ids) == sorted(ids)
        owners = {r.lease_owner for r in runs.values() if r is not None}
        print(
            f"\n20 deploys: runs per replica {[sum(r.lease_owner == owner_of(b) for r in runs.values() if r) for b in bots]}"
        )
        assert owners <= {owner_of(b) for b in bots}
    finally:
        store.dispose()
