"""Helm's stderr and the `--set` option: values that may carry secrets, echoed back to a person."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.core import commands
from bot.core.errors import UserError
from bot.kube import helm
from bot.settings import Settings
from sandbox.slack_api import FakeSlack
from tests.helm import needs_helm
from tests.rig import SlackDriver

SECRET = "Vault-R00t-Tok3n-9xq"


def _chart(tmp_path: Path, template: str) -> Path:
    chart = tmp_path / "leaky"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: leaky\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(template)
    return chart


@needs_helm
def test_helm_error_quoting_a_value_is_scrubbed(tmp_path: Path) -> None:
    chart = _chart(
        tmp_path, '{{ fail (printf "token %s is not accepted; values: %v" .Values.token .Values) }}\n'
    )
    with pytest.raises(UserError) as err:
        helm.template(
            str(chart),
            release="r",
            namespace="ns",
            version=None,
            values={"token": SECRET, "nested": {"also": SECRET}},
            helm_bin=Settings.from_env({}).clusters.helm_bin,
            allowed=[str(chart)],
        )
    assert "token" in err.value.message
    assert SECRET not in str(err.value)


def test_a_malformed_set_does_not_echo_its_value(slack: SlackDriver, fake: FakeSlack) -> None:
    with pytest.raises(UserError) as err:
        commands.parse(f"deploy counter-app to dev-cluster --set dbpassword={SECRET}")
    assert SECRET not in str(err.value)
    # And through Slack (the parser error is the ack's body).
    reply = slack.command(f"deploy counter-app to dev-cluster --set dbpassword={SECRET}")
    assert SECRET not in json.dumps(reply.json() or {})
