"""The progress message: coalesced updates, the final state drawn at once, Slack outages ignored.

The reporter talks to the fake Slack Web API over loopback through the production client
(`slack_app.make_client`, with its retry handlers). It receives events only: each carries the run
as a real Store holds it at that moment, as the publisher sends them.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.core.events import RunFinished, RunQueued, RunView, TierWaiting
from bot.core.records import TierState
from bot.slack import app as slack_app
from bot.slack import progress as slack_progress
from bot.slack.progress import SlackReporter
from bot.store.db import Store
from sandbox.slack_api import Call, FakeSlack

PROGRESS_LOGGER = "appprofile.slack.progress"


def make(tmp_path: Path, fake: FakeSlack, interval: float) -> tuple[SlackReporter, Store, int, str, str]:
    """A reporter, its store and a run whose progress message is already posted (channel, ts)."""
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
    reporter = SlackReporter(client, min_interval=interval)
    posted = reporter.publish(RunQueued(view=view(store, run.id)))
    assert posted is not None
    store.update_run(run.id, channel=posted.channel, message_ts=posted.ts)
    return reporter, store, run.id, posted.channel, posted.ts


def view(store: Store, run_id: int) -> RunView:
    return RunView(run=store.get_run(run_id))


def changed(store: Store, run_id: int) -> TierWaiting:
    run = store.get_run(run_id)
    return TierWaiting(view=view(store, run_id), tier="db", reason=run.tiers[0].message)


def finished(store: Store, run_id: int) -> RunFinished:
    return RunFinished(view=view(store, run_id))


def progress(store: Store, run_id: int, message: str) -> None:
    store.update_run(
        run_id, tiers=[TierState(name="db", state="waiting", message=message), TierState(name="api")]
    )


def succeed(store: Store, run_id: int) -> None:
    store.update_run(
        run_id,
        status="succeeded",
        tiers=[TierState(name="db", state="ready"), TierState(name="api", state="ready")],
    )


def drawn(call: Call) -> str:
    return json.dumps(call.params.get("blocks"), ensure_ascii=False)


def test_a_burst_within_one_interval_becomes_one_deferred_update_with_the_newest_state(
    tmp_path: Path, fake: FakeSlack
) -> None:
    # The interval is far longer than 20 local SQLite writes, so the whole burst falls inside it.
    reporter, store, run_id, channel, ts = make(tmp_path, fake, interval=2.0)
    for i in range(20):
        progress(store, run_id, f"step {i}/20")
        reporter.publish(changed(store, run_id))
    # Nothing is drawn synchronously: the message was posted a moment ago.
    assert fake.calls_to("chat.update") == []

    update = fake.wait_for("chat.update", timeout=10)
    assert update.ok
    assert update.params["ts"] == ts
    assert "step 19/20" in drawn(update)
    assert "step 18/20" not in drawn(update)
    assert "step 19/20" in json.dumps(fake.message(channel, ts)["blocks"], ensure_ascii=False)

    succeed(store, run_id)
    reporter.publish(finished(store, run_id))
    # One deferred redraw for the whole burst, then the final state.
    updates = fake.calls_to("chat.update")
    assert len(updates) == 2
    assert "Succeeded" in drawn(updates[1])


def test_changes_spread_over_more_than_the_interval_draw_intermediate_states(
    tmp_path: Path, fake: FakeSlack
) -> None:
    reporter, store, run_id, channel, ts = make(tmp_path, fake, interval=0.2)
    progress(store, run_id, "first step")
    reporter.publish(changed(store, run_id))
    first = fake.wait_for("chat.update", lambda c: "first step" in drawn(c), timeout=10)
    assert first.ok

    # Waiting for the first redraw put the next change in a later interval: it gets its own update.
    since = len(fake.calls)
    progress(store, run_id, "second step")
    reporter.publish(changed(store, run_id))
    second = fake.wait_for("chat.update", lambda c: "second step" in drawn(c), timeout=10, since=since)
    assert second.ok

    succeed(store, run_id)
    reporter.publish(finished(store, run_id))
    shown = [drawn(c) for c in fake.calls_to("chat.update")]
    assert len(shown) == 3
    assert "first step" in shown[0] and "second step" in shown[1] and "Succeeded" in shown[2]
    assert fake.message(channel, ts)["edit_count"] == 3


def test_finished_draws_the_final_state_at_once_and_cancels_the_pending_redraw(
    tmp_path: Path, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    timers: list[threading.Timer] = []

    class Recorded(threading.Timer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            timers.append(self)

    # The reporter's own scheduled redraws, kept so the test can wait for them to end.
    monkeypatch.setattr(slack_progress, "threading", SimpleNamespace(Lock=threading.Lock, Timer=Recorded))
    reporter, store, run_id, channel, ts = make(tmp_path, fake, interval=1.0)
    progress(store, run_id, "halfway")
    reporter.publish(changed(store, run_id))  # within the interval of the post: a redraw is scheduled
    assert len(timers) == 1
    succeed(store, run_id)
    reporter.publish(finished(store, run_id))

    # Drawn before `finished` returned, without waiting for the interval.
    updates = fake.calls_to("chat.update")
    assert len(updates) == 1
    assert updates[0].ok and updates[0].params["ts"] == ts
    assert "Succeeded" in drawn(updates[0]) and "halfway" not in drawn(updates[0])
    assert "Succeeded" in fake.message(channel, ts)["text"]

    # The cancelled redraw's thread ends without drawing: once it has ended, nothing can arrive
    # after the final state (a redraw it made would be recorded before its thread ended).
    timers[0].join(timeout=5)
    assert not timers[0].is_alive()
    assert len(fake.calls_to("chat.update")) == 1
    assert "Succeeded" in fake.message(channel, ts)["text"]


def test_a_500_on_update_is_retried_and_the_final_state_still_lands(
    tmp_path: Path, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    reporter, store, run_id, channel, ts = make(tmp_path, fake, interval=0.0)
    fake.fail_next("chat.update", status=500, times=1)
    succeed(store, run_id)
    with caplog.at_level(logging.WARNING, logger=PROGRESS_LOGGER):
        reporter.publish(finished(store, run_id))

    assert [c.status for c in fake.calls_to("chat.update")] == [500, 200]
    stored = fake.message(channel, ts)
    assert "Succeeded" in stored["text"]
    assert "Succeeded" in json.dumps(stored["blocks"], ensure_ascii=False)
    assert stored["edit_count"] == 1
    assert [r for r in caplog.records if r.name == PROGRESS_LOGGER] == []


def test_a_slack_outage_on_update_is_logged_and_never_raised(
    tmp_path: Path, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    reporter, store, run_id, channel, ts = make(tmp_path, fake, interval=0.0)
    fake.fail_next("chat.update", status=500, times=10)
    with caplog.at_level(logging.WARNING, logger=PROGRESS_LOGGER):
        progress(store, run_id, "halfway")
        reporter.publish(changed(store, run_id))  # interval 0: drawn now, retried by the client, then dropped
        succeed(store, run_id)
        reporter.publish(finished(store, run_id))

    warnings = [r for r in caplog.records if r.name == PROGRESS_LOGGER and r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == ["progress update failed", "progress update failed"]
    assert all(getattr(r, "run_id", None) == run_id for r in warnings)
    # Each draw was tried 3 times (make_client retries 5xx twice) and every try failed.
    statuses = [c.status for c in fake.calls_to("chat.update")]
    assert statuses == [500] * 6
    stored = fake.message(channel, ts)
    assert stored["edit_count"] == 0 and "Queued" in stored["text"]
