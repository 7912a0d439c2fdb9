"""Building clusters from a kubeconfig file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.core.errors import OperatorError
from bot.kube import connect
from sandbox.kube import SimCluster


def write_kubeconfig(path: Path, server: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "sim", "cluster": {"server": server}}],
        "users": [{"name": "bot", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": "kind-dev", "context": {"cluster": "sim", "user": "bot"}}],
        "current-context": "kind-dev",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def test_from_kubeconfig_talks_to_the_context(sim: SimCluster, tmp_path: Path) -> None:
    cfg = write_kubeconfig(tmp_path / "config", sim.url)
    cluster = connect.from_kubeconfig("dev-cluster", "kind-dev", str(cfg))
    assert cluster.name == "dev-cluster"
    cluster.ensure_namespace("hello", {})
    assert sim.get("Namespace", None, "hello") is not None
    assert any(r.headers.get("Authorization") == "Bearer not-a-real-token" for r in sim.requests)


def test_unknown_context_suggests_the_close_one(tmp_path: Path) -> None:
    cfg = write_kubeconfig(tmp_path / "config", "http://127.0.0.1:1")
    # The context is the bot's configuration: the operator's to fix, not the person's.
    with pytest.raises(OperatorError) as err:
        connect.from_kubeconfig("dev-cluster", "kind-deb", str(cfg))
    assert "kind-deb" in err.value.message
    assert "did you mean `kind-dev`" in (err.value.hint or "")
    assert "not-a-real-token" not in str(err.value)
