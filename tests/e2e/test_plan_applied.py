"""What the card shows is what is applied: a deploy applies exactly the plan's objects, holes
filled, through the real client against the emulator, and renders nothing again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.core import macros
from bot.core.commands import DeployRequest
from bot.kube.cluster import KubeCluster
from sandbox.kube import SimCluster
from tests.executor.conftest import Rig


@pytest.fixture
def sim() -> Iterator[SimCluster]:
    cluster = SimCluster(controllers=True, ready_after=0.1).start()
    try:
        yield cluster
    finally:
        cluster.stop()


def _matches(planned: Any, applied: Any, holes: set[str]) -> bool:
    """Equal, except where the plan holds a hole (any value) or a hole inside text."""
    if isinstance(planned, str) and macros.HOLE.search(planned):
        return planned in holes or any(h in planned for h in holes)
    if isinstance(planned, dict):
        return (
            isinstance(applied, dict)
            and planned.keys() == applied.keys()
            and all(_matches(v, applied[k], holes) for k, v in planned.items())
        )
    if isinstance(planned, list):
        return (
            isinstance(applied, list)
            and len(planned) == len(applied)
            and all(_matches(a, b, holes) for a, b in zip(planned, applied, strict=True))
        )
    return bool(planned == applied)


def test_the_deploy_applies_the_planned_objects_and_renders_nothing_again(
    tmp_path: Path, sim: SimCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = Rig(tmp_path)
    real = KubeCluster("dev-cluster", sim.api_client(), discovery_cache=str(tmp_path / "disc.json"))
    rig.executor.connect = lambda name: real
    rig.create()
    from bot.core import plan as plan_mod

    calls: list[str] = []
    original = plan_mod.render_tier
    monkeypatch.setattr(plan_mod, "render_tier", lambda *a, **k: calls.append(a[1].name) or original(*a, **k))
    ticket = rig.service.deploy(
        rig.actor, DeployRequest(profile="counter-app", cluster="dev-cluster", sets={})
    )
    rendered_at_request = list(calls)
    rig.wait_idle()
    run = rig.store.get_run(ticket.run_id or 0)
    assert run.status == "succeeded", run.error
    # Each tier was rendered once, for the plan the card showed; the run rendered nothing.
    assert rendered_at_request == ["postgres-db", "api", "ui"]
    assert calls == rendered_at_request
    applied = {
        (r.data["kind"], r.data["metadata"]["name"]): r.data
        for r in sim.requests
        if r.method == "PATCH" and isinstance(r.data, dict) and r.data.get("kind") != "Namespace"
    }
    planned = {
        (o["kind"], o["metadata"]["name"]): (o, set(t["holes"]))
        for t in run.plan["tiers"]
        for o in t["objects"]
    }
    assert applied.keys() == planned.keys()
    for key, (obj, holes) in planned.items():
        body = applied[key]
        if obj["kind"] in ("Deployment", "StatefulSet"):
            # The env checksum is recomputed over the filled values (so new passwords roll pods).
            notes = body["spec"]["template"]["metadata"].get("annotations") or {}
            obj = {**obj}
            if "appprofile.dev/env-checksum" in notes:
                tmpl = obj["spec"]["template"]
                annotations = {
                    **tmpl["metadata"]["annotations"],
                    "appprofile.dev/env-checksum": notes["appprofile.dev/env-checksum"],
                }
                obj["spec"] = {
                    **obj["spec"],
                    "template": {**tmpl, "metadata": {**tmpl["metadata"], "annotations": annotations}},
                }
        assert _matches(obj, body, holes), key
    # And the holes were really filled: no hole text reached the cluster.
    assert not any(macros.HOLE.search(str(b)) for b in applied.values())
