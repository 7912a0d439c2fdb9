"""The sandbox's own pieces without the bot: response_url semantics, kubeconfig handling."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
import yaml

from bot.core.errors import UserError
from sandbox import run
from sandbox.slack_api import FakeSlack


@pytest.fixture
def fake() -> FakeSlack:
    server = FakeSlack().start()
    yield server  # type: ignore[misc]
    server.stop()


def _hook(url: str, body: dict[str, object]) -> None:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200


def test_response_url_posts_follow_slack_semantics(fake: FakeSlack) -> None:
    url = fake.register_webhook("commands/1", channel="C1", user="U1")
    _hook(url, {"text": "just you"})
    _hook(url, {"text": "everyone", "response_type": "in_channel"})
    assert [m["text"] for m in fake.ephemerals("U1")] == ["just you"]
    assert fake.ephemerals("U2") == []
    assert [m["text"] for m in fake.messages("C1")] == ["everyone"]

    origin = fake.ephemerals("U1")[0]["ts"]
    click = fake.register_webhook(
        "actions/2", channel="C1", user="U1", origin_ts=origin, origin_ephemeral=True
    )
    _hook(click, {"text": "replaced", "replace_original": True})
    assert [(m["text"], m["edit_count"]) for m in fake.ephemerals("U1")] == [("replaced", 1)]
    _hook(click, {"delete_original": True})
    assert fake.ephemerals("U1") == []

    channel_ts = fake.messages("C1")[0]["ts"]
    on_message = fake.register_webhook("actions/3", channel="C1", user="U1", origin_ts=channel_ts)
    _hook(on_message, {"text": "edited for all", "replace_original": True})
    assert [(m["text"], m["edit_count"]) for m in fake.messages("C1")] == [("edited for all", 1)]


def test_a_view_opens_on_the_screen_of_the_trigger_s_user(fake: FakeSlack) -> None:
    from slack_sdk import WebClient

    fake.register_trigger("t-1", "U1")
    client = WebClient(token=fake.bot_token, base_url=fake.base_url)
    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Hi"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}],
    }
    opened = client.views_open(trigger_id="t-1", view=view)["view"]
    assert fake.open_view("U1")["id"] == opened["id"]  # type: ignore[index]
    assert fake.open_view("U2") is None
    fake.set_view_errors(opened["id"], {"name": "bad"})
    assert fake.open_view("U1")["errors"] == {"name": "bad"}  # type: ignore[index]
    fake.close_view(opened["id"])
    assert fake.open_view("U1") is None


def test_kubeconfig_contexts_become_clusters_without_approval(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(
        yaml.safe_dump(
            {"contexts": [{"name": "kind-Dev_1", "context": {}}, {"name": "prod-admin", "context": {}}]}
        )
    )
    config = run.real_config(str(path))
    assert config == {
        "clusters": {"kind-dev-1": {"context": "kind-Dev_1"}, "prod-admin": {"context": "prod-admin"}}
    }
    empty = tmp_path / "empty"
    empty.write_text("contexts: []\n")
    with pytest.raises(UserError, match="no contexts"):
        run.real_config(str(empty))


def test_simulated_kubeconfig_and_config_match(tmp_path: Path) -> None:
    from bot.core import policy

    cfg = policy.load(yaml.safe_dump(run.sim_config()))
    assert cfg.clusters["dev-cluster"].approval is None
    prod = cfg.clusters["prod"]
    assert prod.approval is not None and prod.approval.required == 1 and not prod.approval.self_approval
    kube = run.sim_kubeconfig({"sim-dev": "http://127.0.0.1:1", "sim-prod": "http://127.0.0.1:2"})
    assert [c["name"] for c in kube["contexts"]] == [cfg.clusters[n].context for n in ("dev-cluster", "prod")]


def test_preload_is_idempotent(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    first = run.preload(db)
    assert set(first) == {"counter-app@1.0.0", "everything@1.0.0", "web-helm@1.0.0"}
    assert run.preload(db) == first


def test_a_new_sandbox_forgets_deployments_on_the_old_simulated_clusters(tmp_path: Path) -> None:
    from bot.store.db import Store

    db = str(tmp_path / "s.db")
    run.preload(db)
    store = Store(db)
    dep = store.upsert_deployment(
        "dev-cluster", "counter-app", profile="counter-app", version="1.0.0", channel="C", actor="U"
    )
    store.update_deployment(dep.id, status="ready")
    real = store.upsert_deployment(
        "real-ctx", "keep", profile="counter-app", version="1.0.0", channel="C", actor="U"
    )
    queued = store.create_run(
        cluster="dev-cluster",
        deployment="counter-app",
        profile="counter-app",
        version="1.0.0",
        kind="deploy",
        requested_by="U",
        channel="C",
        fingerprint="f",
    )
    assert run.forget_simulated(db, ["dev-cluster", "prod"]) == 1
    store = Store(db)
    assert store.get_deployment("dev-cluster", "counter-app").status == "deleted"  # type: ignore[union-attr]
    assert store.get_deployment("real-ctx", "keep").status == real.status  # type: ignore[union-attr]
    assert store.get_run(queued.id).status == "cancelled"
