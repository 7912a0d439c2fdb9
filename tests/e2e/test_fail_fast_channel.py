"""Issue 11's bar, measured where a person looks: with the default wait timeout (600 s) and the
default fail-fast settings, a pod stuck pulling its image is in the channel, with its reason,
within 15 s of its tier starting to wait, and the tier fails long before the timeout."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core.commands import DeployRequest
from bot.core.records import Actor
from sandbox.kube import SimCluster
from sandbox.slack_api import Call, FakeSlack
from tests import rig
from tests.e2e.test_deploy_real_client import _KubeletlessCluster

pytestmark = pytest.mark.slow
EXAMPLE = (Path(__file__).resolve().parents[2] / "profiles" / "examples" / "counter-app.yaml").read_text()


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack().start()
    yield server
    server.stop()


def text_of(call: Call) -> str:
    return json.dumps(call.params, ensure_ascii=False)


def test_image_pull_backoff_is_in_the_channel_within_15_s(tmp_path: Path, fake: FakeSlack) -> None:
    with SimCluster() as sim:  # no controllers: nothing becomes ready on its own
        cluster = _KubeletlessCluster(sim, tmp_path)
        bot = rig.build(tmp_path, fake=fake, connect=lambda _name: cluster, wait_timeout=600)
        try:
            actor = Actor(user="U1", channel="C111", user_name="alice")
            bot.service.create(actor, EXAMPLE)
            ticket = bot.service.deploy(actor, DeployRequest(profile="counter-app", cluster="dev-cluster"))
            assert ticket.run_id is not None
            reason = fake.wait_for(
                "chat.update", lambda c: "ImagePullBackOff: postgres:404" in text_of(c), 30
            )
            # From the tier's start (applying, then waiting) to the reason being in the channel.
            started_at = bot.store.get_run(ticket.run_id).tiers[0].started_at
            assert reason.ok and started_at is not None
            seen = time.time() - started_at
            assert "*postgres-db* waiting" in text_of(reason)
            assert seen <= 15, f"the reason reached the channel {seen:.1f} s after the tier started"
            run = bot.run_ended(ticket.run_id, timeout=90)
            assert run.status == "failed" and "cannot pull image postgres:404" in (run.error or "")
            started, finished = run.tiers[0].started_at, run.tiers[0].finished_at
            assert started is not None and finished is not None and finished - started < 60
            print(
                f"\nreason in the channel {seen:.1f} s after the tier started; it failed after "
                f"{finished - started:.1f} s (timeout 600 s)"
            )
        finally:
            bot.close()
