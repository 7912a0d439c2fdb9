"""`appprofile_api_errors_total{api, kind}`: every error the Slack or Kubernetes API answered is
counted where the adapter maps it, and /metrics shows it (real client against the emulator, real
WebClient against the fake Slack)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import api_errors, metrics
from bot.core.errors import ClusterError, UserError
from bot.core.ports import ObjectRef
from bot.kube.cluster import KubeCluster
from bot.slack.app import make_client
from bot.slack.failures import web_api
from bot.store.db import Store
from sandbox.kube import SimCluster
from sandbox.slack_api import FakeSlack


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack().start()
    yield server
    server.stop()


def _scraped(tmp_path: Path) -> str:
    return metrics.render(metrics.registry(Store(tmp_path / "m.db"))).decode()


def test_kubernetes_errors_are_counted_by_status_and_a_404_answer_is_not(tmp_path: Path) -> None:
    before = api_errors.snapshot()
    with SimCluster() as sim:
        kube = KubeCluster(
            "dev", sim.api_client(), retries=1, backoff=0.01, discovery_cache=str(tmp_path / "d.json")
        )
        ref = ObjectRef(api_version="v1", kind="ConfigMap", name="absent", namespace="default")
        assert kube.read(ref) is None  # 404: an answer
        sim.fail_next("GET", r"/configmaps/absent", 403)
        with pytest.raises(ClusterError):
            kube.read(ref)
    after = api_errors.snapshot()
    assert after.get(("kubernetes", "403"), 0) == before.get(("kubernetes", "403"), 0) + 1
    assert after.get(("kubernetes", "404"), 0) == before.get(("kubernetes", "404"), 0) == 0
    assert 'appprofile_api_errors_total{api="kubernetes",kind="403"}' in _scraped(tmp_path)


def test_slack_errors_are_counted_by_error_code(tmp_path: Path, fake: FakeSlack) -> None:
    before = api_errors.snapshot().get(("slack", "channel_not_found"), 0)
    client = make_client(fake.bot_token, fake.base_url)
    with pytest.raises(UserError):
        web_api(lambda: client.chat_postMessage(channel="", text="hello"))
    assert api_errors.snapshot()[("slack", "channel_not_found")] == before + 1
    assert 'appprofile_api_errors_total{api="slack",kind="channel_not_found"}' in _scraped(tmp_path)
