"""An empty output (a LoadBalancer without an address yet) renders as "—" everywhere it is shown."""

from __future__ import annotations

import json

from bot import catalog_files
from bot.slack import blocks, progress


def test_the_outputs_reply_and_the_progress_message_show_an_empty_value_the_same_way() -> None:
    values = {
        "ui": {"CONTAINER_SVC": "shop-ui-svc.shop-ui-ns.svc.cluster.local", "CONTAINER_SVC_EXTERNALIP": ""}
    }
    reply = json.dumps(
        blocks.outputs("shop", values, catalog_files.load(), cluster="dev").blocks, ensure_ascii=False
    )
    final = progress.outputs_text(values)
    for shown in (reply, final):
        assert "`CONTAINER_SVC_EXTERNALIP` = —" in shown or "`CONTAINER_SVC_EXTERNALIP`=—" in shown
        assert "``" not in shown
