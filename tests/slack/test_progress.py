"""The progress message: coalesced updates, the final state drawn at once, Slack outages ignored."""

from __future__ import annotations

import time
from pathlib import Path

from bot.core.records import TierState
from bot.sandbox.slack_api import FakeSlack
from bot.slack import app as slack_app
from bot.slack.progress import SlackReporter
from bot.store.db import Store


def make(tmp_path: Path, fake: FakeSlack, interval: float) -> tuple[SlackReporter, Store, int]:
    store = Store(tmp_path / "p.db")
    run = store.create_run(
        cluster="dev",
        deployment="shop",
        profile="shop",
        version="1.0.0",
        kind="deploy",
        requested_by="U1",
        channel="C111",
        fingerprint="f" * 64,
        tiers=[TierState(name="db"), TierState(name="api")],
    )
    client = slack_app.make_client(fake.bot_token, fake.base_url)
    return SlackReporter(client, store, min_interval=interval), store, run.id


def test_bursts_of_changes_become_at_most_one_update_per_interval(tmp_path: Path, fake: FakeSlack) -> None:
    reporter, store, run_id = make(tmp_path, fake, interval=1.0)
    channel, ts = reporter.started(run_id) or ("", "")
    store.update_run(run_id, channel=channel, message_ts=ts)
    for i in range(50):
        store.update_run(
            run_id, tiers=[TierState(name="db", state="waiting", message=f"{i}/50"), TierState(name="api")]
        )
        reporter.changed(run_id)
    assert len(fake.calls_to("chat.update")) <= 1
    store.update_run(
        run_id,
        status="succeeded",
        tiers=[TierState(name="db", state="ready"), TierState(name="api", state="ready")],
    )
    reporter.finished(run_id)
    updates = fake.calls_to("chat.update")
    assert len(updates) <= 2
    final = updates[-1].params
    assert final["ts"] == ts and "Succeeded" in str(final["blocks"])
    time.sleep(1.2)  # a cancelled redraw must not fire after the final state
    assert len(fake.calls_to("chat.update")) == len(updates)


def test_a_slack_outage_on_update_is_swallowed(tmp_path: Path, fake: FakeSlack) -> None:
    reporter, store, run_id = make(tmp_path, fake, interval=0.0)
    channel, ts = reporter.started(run_id) or ("", "")
    store.update_run(run_id, channel=channel, message_ts=ts)
    fake.fail_next("chat.update", status=500, times=10)
    reporter.changed(run_id)  # retried by the client, then logged and dropped: no exception
    reporter.finished(run_id)
