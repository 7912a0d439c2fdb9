"""Slash commands, clicks and form submissions, signed, dispatched in-process into the real Bolt app."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.core import model
from bot.core.records import Actor
from bot.slack import blocks
from bot.store.db import Store
from bot.usecases.service import Service
from sandbox.slack_api import Call, FakeSlack
from tests.rig import CHANNEL, SlackDriver
from tests.slack.conftest import PROFILE_YAML


def _all_text(payload: dict[str, Any]) -> str:
    return json.dumps(payload.get("blocks", []), ensure_ascii=False) + str(payload.get("text", ""))


def _webhook(fake: FakeSlack, since: int, contains: str = "") -> Call:
    return fake.wait_for("webhook", lambda c: contains in _all_text(c.params), since=since)


def _posted(fake: FakeSlack, since: int, contains: str = "") -> Call:
    return fake.wait_for("chat.postMessage", lambda c: c.ok and contains in _all_text(c.params), since=since)


def _create(slack: SlackDriver, fake: FakeSlack, yaml_text: str = PROFILE_YAML) -> Call:
    mark = len(fake.calls)
    assert slack.command(f"create ```yaml\n{yaml_text}```").status == 200
    # This profile's own card: an earlier create's card may still arrive after this request.
    name = next(line.split(":", 1)[1].strip() for line in yaml_text.splitlines() if line.startswith("name:"))
    return _posted(fake, mark, f"Created {name}@")


def _version_yaml(version: str) -> str:
    return PROFILE_YAML.replace("version: 1.0.0", f"version: {version}").replace("replicas: 2", "replicas: 3")


# -- signatures -----------------------------------------------------------------------------------


def test_signed_command_is_acked_with_200(slack: SlackDriver, fake: FakeSlack) -> None:
    reply = slack.command("list")
    assert reply.status == 200
    assert reply.body == ""  # the answer comes through response_url, not the ack
    _webhook(fake, 0, "No profiles yet")


@pytest.mark.parametrize("problem", ["bad signature", "stale timestamp", "no headers", "wrong secret"])
def test_unsigned_or_stale_requests_get_401_and_do_nothing(
    slack: SlackDriver, fake: FakeSlack, store: Store, problem: str
) -> None:
    raw = urlencode(slack.command_body(f"create ```{PROFILE_YAML}```"))
    headers = slack.sign(raw)
    if problem == "bad signature":
        headers["X-Slack-Signature"] = "v0=" + "0" * 64
    elif problem == "stale timestamp":
        headers = slack.sign(raw, timestamp=str(int(time.time()) - 6 * 60))
    elif problem == "no headers":
        headers = {}
    else:
        headers = slack.sign(raw, secret="not-the-secret")
    before = len(fake.calls)
    reply = slack.post(raw, headers)
    assert reply.status == 401
    # Give a wrongly started job the chance to show itself: a later, valid command is answered
    # after it would have been (the executor runs jobs in order on few threads).
    assert slack.command("help").status == 200
    _webhook(fake, before, "App Profiles")
    assert [c.method for c in fake.calls[before:]] == ["webhook"]
    assert store.list_profiles() == []


# -- create ---------------------------------------------------------------------------------------


def test_create_with_yaml_in_a_code_block_saves_and_posts_in_the_channel(
    slack: SlackDriver, fake: FakeSlack, store: Store
) -> None:
    call = _create(slack, fake)
    assert call.params["channel"] == CHANNEL
    rec = store.get_version("counter-app", "1.0.0")
    assert rec.created_by == "U222"
    assert "counter-app@1.0.0" in call.params["text"]
    # The YAML goes into the card's thread (not the channel), the secret property masked.
    shown = _all_text(call.params) + slack.thread(call, blocks.MASK)
    assert "hunter2hunter2" not in shown
    assert "The YAML (" in _all_text(call.params) and "is in the thread" in _all_text(call.params)


def test_create_with_invalid_yaml_answers_privately_and_saves_nothing(
    slack: SlackDriver, fake: FakeSlack, store: Store
) -> None:
    assert slack.command("create ```name: [unclosed\n```").status == 200
    call = _webhook(fake, 0, "not valid YAML")
    assert call.params["response_type"] == "ephemeral"
    assert "Hint" in call.params["text"] or "code block" in _all_text(call.params)
    assert store.list_profiles() == []
    assert fake.calls_to("chat.postMessage") == []


def test_create_with_an_invalid_profile_names_the_tier_and_field(slack: SlackDriver, fake: FakeSlack) -> None:
    bad = PROFILE_YAML.replace("replicas: 2", "replicas: 99")
    slack.command(f"create ```{bad}```")
    call = _webhook(fake, 0, "replicas")
    assert "api" in call.params["text"]


def test_create_without_text_opens_the_form_and_submitting_creates(
    slack: SlackDriver, fake: FakeSlack, store: Store
) -> None:
    assert slack.command("create").status == 200
    opened = fake.wait_for("views.open")
    assert opened.ok
    view = opened.response["view"]
    assert {b.get("block_id") for b in view["blocks"]} >= {"name", "version", "yaml", "tags", "description"}

    reply = slack.submit(view, {"yaml": PROFILE_YAML, "version": "v2", "tags": "owner:platform, team:web"})
    assert reply.status == 200
    assert reply.body == ""
    rec = store.get_version("counter-app", "2.0.0")
    assert rec.tags == ["owner:platform", "team:web"]
    _posted(fake, 0, "counter-app@2.0.0")


@pytest.mark.parametrize(
    ("values", "block", "words"),
    [
        ({"yaml": PROFILE_YAML, "version": "two"}, "version", "not a version"),
        ({"yaml": PROFILE_YAML, "name": "Bad Name"}, "name", "not a valid profile name"),
        ({"yaml": "name: [unclosed"}, "yaml", "not valid YAML"),
        ({"yaml": PROFILE_YAML.replace("replicas: 2", "replicas: 99")}, "yaml", "replicas"),
    ],
)
def test_a_bad_form_field_comes_back_inline_on_its_block(
    slack: SlackDriver, fake: FakeSlack, store: Store, values: dict[str, str], block: str, words: str
) -> None:
    slack.command("create")
    view = fake.wait_for("views.open").response["view"]
    reply = slack.submit(view, values)
    assert reply.status == 200
    answer = reply.json()
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == [block]
    assert words in answer["errors"][block]
    assert store.list_profiles() == []


# -- version and clone ----------------------------------------------------------------------------


def test_clone_v2_of_the_current_profile_opens_a_prefilled_form(
    slack: SlackDriver, fake: FakeSlack, store: Store, service: Service
) -> None:
    _create(slack, fake)
    service.new_version(Actor("U222", CHANNEL), "counter-app", "2.0.0", yaml_text=_version_yaml("2.0.0"))
    mark = len(fake.calls)
    slack.command("clone v2")
    opened = fake.wait_for("views.open", since=mark)
    view = opened.response["view"]
    assert json.loads(view["private_metadata"]) == {
        "channel": CHANNEL,
        "name": "counter-app",
        "version": "2.0.0",
    }
    assert "counter-app@2.0.0" in json.dumps(view["blocks"])

    assert slack.submit(view, {"new_name": "counter-copy"}).body == ""
    rec = store.get_version("counter-copy")
    assert (rec.version, rec.kind, rec.source) == ("2.0.0", "clone", "counter-app@2.0.0")
    assert model.from_yaml(rec.yaml).tier("api").properties["replicas"] == 3


def test_clone_without_a_current_profile_says_how_to_pick_one(slack: SlackDriver, fake: FakeSlack) -> None:
    slack.command("clone v2")
    call = _webhook(fake, 0, "no current profile")
    assert "/appprofile use NAME" in _all_text(call.params)
    assert fake.calls_to("views.open") == []


def test_clone_with_source_and_new_name_clones(slack: SlackDriver, fake: FakeSlack, store: Store) -> None:
    _create(slack, fake)
    mark = len(fake.calls)
    slack.command("clone counter-app@1 counter-b")
    _posted(fake, mark, "Cloned counter-b@1.0.0")
    assert store.get_version("counter-b", "1.0.0").source == "counter-app@1.0.0"


def test_version_without_new_opens_a_form_with_the_source_yaml(
    slack: SlackDriver, fake: FakeSlack, store: Store
) -> None:
    _create(slack, fake)
    mark = len(fake.calls)
    slack.command("version counter-app")
    view = fake.wait_for("views.open", since=mark).response["view"]
    yaml_input = next(b for b in view["blocks"] if b.get("block_id") == "yaml")
    prefilled = yaml_input["element"]["initial_value"]
    # The source YAML, with its secret password masked in the form.
    assert "hunter2hunter2" not in prefilled
    assert (
        model.from_yaml(prefilled.replace("••••••", "hunter2hunter2"))
        == store.get_version("counter-app").profile()
    )
    version_input = next(b for b in view["blocks"] if b.get("block_id") == "version")
    assert version_input["element"]["initial_value"] == "1.1.0"

    edited = prefilled.replace("replicas: 2", "replicas: 4")
    assert slack.submit(view, {"version": "1.1.0", "yaml": edited}).body == ""
    saved = model.from_yaml(store.get_version("counter-app", "1.1.0").yaml)
    assert saved.tier("api").properties["replicas"] == 4
    # The mask stood for the source's secret: it is kept, not replaced by the mask.
    assert saved.tier("postgres-db").properties["password"] == "hunter2hunter2"


def test_version_with_new_number_opens_the_form_prefilled_and_saves_only_on_submit(
    slack: SlackDriver, fake: FakeSlack, store: Store
) -> None:
    _create(slack, fake)
    view = slack.opened(slack.command("version counter-app 1.1"))
    fields = {b.get("block_id"): b for b in view["blocks"]}
    assert fields["version"]["element"]["initial_value"] == "1.1.0"
    prefilled = fields["yaml"]["element"]["initial_value"]
    assert "hunter2hunter2" not in prefilled and blocks.MASK in prefilled
    assert [r.version for r in store.list_versions("counter-app")] == ["1.0.0"]  # nothing saved yet

    reply = slack.submit(view, {"version": "1.1.0", "yaml": prefilled})
    assert reply.body == ""
    saved = store.get_version("counter-app", "1.1.0")
    assert saved.source == "counter-app@1.0.0"
    assert saved.profile().tier("postgres-db").properties["password"] == "hunter2hunter2"


# -- reading --------------------------------------------------------------------------------------


def test_list_show_versions_use_diff(slack: SlackDriver, fake: FakeSlack, service: Service) -> None:
    _create(slack, fake)
    service.new_version(Actor("U222", CHANNEL), "counter-app", "1.1.0", yaml_text=_version_yaml("1.1.0"))

    mark = len(fake.calls)
    slack.command("list")
    assert "*counter-app* `1.1.0` · 2 versions" in _all_text(_webhook(fake, mark, "App Profiles").params)

    mark = len(fake.calls)
    slack.command("show counter-app@v1")
    shown = _posted(fake, mark, "counter-app@1.0.0")
    assert "`postgres-db` (postgresql) → `api` (container)" in _all_text(shown.params)

    mark = len(fake.calls)
    slack.command("versions counter-app")
    listed = _all_text(_webhook(fake, mark, "versions").params)
    assert '{"type": "raw_text", "text": "1.0.0"}' in listed
    assert '{"type": "raw_text", "text": "1.1.0"}' in listed

    mark = len(fake.calls)
    slack.command("use counter-app")
    _posted(fake, mark, "current profile")

    mark = len(fake.calls)
    slack.command("diff counter-app 1.0.0 1.1")
    diff = slack.thread(_posted(fake, mark, "1.0.0 → 1.1.0"), "replicas")
    assert "-      replicas: 2" in diff or "-    replicas: 2" in diff
    assert "+      replicas: 3" in diff or "+    replicas: 3" in diff


def test_services_and_one_service(slack: SlackDriver, fake: FakeSlack) -> None:
    slack.command("services")
    listed = _all_text(_webhook(fake, 0, "Service types").params)
    assert "*postgresql*" in listed
    assert "*container*" in listed

    mark = len(fake.calls)
    slack.command("services postgresql")
    detail = _all_text(_webhook(fake, mark, "postgresql").params)
    assert "`password` (string, secret)" in detail
    assert "`PASSWORD` (secret, shown masked)" in detail

    mark = len(fake.calls)
    slack.command("services postgres")
    assert "did you mean `postgresql`" in _all_text(_webhook(fake, mark, "no service type").params)


def test_export_of_a_short_profile_is_inline(slack: SlackDriver, fake: FakeSlack) -> None:
    _create(slack, fake)
    mark = len(fake.calls)
    slack.command("export counter-app@1.0.0")
    call = _posted(fake, mark, "counter-app@1.0.0")
    assert "hunter2hunter2" not in _all_text(call.params)
    assert fake.thread(CHANNEL, call.response["ts"]) == []


def _big_profile(tiers: int = 50) -> str:
    lines = ["name: big-app", "version: 1.0.0", "tiers:"]
    for i in range(tiers):
        lines += [
            f"  - name: api-{i}",
            "    type: container",
            "    properties:",
            f"      image: ghcr.io/example/api-{i}:1.0.0",
            "      ports: [8080]",
            "      replicas: 1",
        ]
    return "\n".join(lines) + "\n"


def test_a_300_line_export_goes_to_the_thread_in_parts(
    slack: SlackDriver, fake: FakeSlack, store: Store
) -> None:
    text = _big_profile()
    assert len(text.splitlines()) >= 300
    _create(slack, fake, text)
    mark = len(fake.calls)
    slack.command("export big-app@1.0.0")
    top = _posted(fake, mark, "is in the thread")
    ts = top.response["ts"]
    # Every part says which it is (`part 1/N`); they are posted in order, so once part N/N is
    # there, all of them are.
    first = fake.wait_for("chat.postMessage", lambda c: c.params.get("thread_ts") == ts, since=mark)
    total = re.search(r"part 1/(\d+)\)", first.params["text"])
    assert total, first.params["text"]
    last = f"part {total.group(1)}/{total.group(1)})"
    fake.wait_for(
        "chat.postMessage", lambda c: c.params.get("thread_ts") == ts and last in c.params["text"], since=mark
    )
    parts = fake.thread(CHANNEL, ts)
    joined = "\n".join(s["text"]["text"].strip("`\n") for p in parts for s in p["blocks"])
    assert joined == store.get_version("big-app").yaml.strip()
    for part in parts:
        assert len(part["blocks"]) <= 50
        assert all(len(b["text"]["text"]) <= 3000 for b in part["blocks"])


def test_an_oversized_text_is_cut_with_a_note() -> None:
    # Past MAX_THREAD_MESSAGES the thread is cut and the message says so (no Slack needed).
    huge = "\n".join(f"line-{i}: " + "x" * 200 for i in range(2000))
    msg = blocks.long_text("t", "s", huge, what="YAML")
    assert len(msg.thread) == blocks.MAX_THREAD_MESSAGES
    assert "cut after" in msg.text
    assert "more parts" in json.dumps(msg.thread[-1].blocks)
    assert all(len(m.blocks) <= 50 and len(m.text) <= 40_000 for m in [msg, *msg.thread])


# -- delete ---------------------------------------------------------------------------------------


def test_delete_asks_first_and_the_confirmed_click_deletes(
    slack: SlackDriver, fake: FakeSlack, store: Store
) -> None:
    _create(slack, fake)
    mark = len(fake.calls)
    slack.command("delete counter-app@1.0.0")
    ask = _webhook(fake, mark, "Delete")
    assert ask.params["response_type"] == "ephemeral"
    button = next(
        e
        for b in ask.params["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == blocks.DELETE_ACTION
    )
    assert button["confirm"]["style"] == "danger"
    assert store.list_versions("counter-app")  # nothing deleted before the click

    mark = len(fake.calls)
    assert (
        slack.click(
            {
                "type": "button",
                "action_id": button["action_id"],
                "block_id": "delete",
                "value": button["value"],
            }
        ).status
        == 200
    )
    done = _webhook(fake, mark, "Deleted")
    assert done.params["replace_original"] is True
    _posted(fake, mark, "Deleted")
    assert store.list_profiles() == []


def test_a_forged_delete_button_value_is_refused(slack: SlackDriver, fake: FakeSlack, store: Store) -> None:
    _create(slack, fake)
    mark = len(fake.calls)
    slack.click(
        {"type": "button", "action_id": blocks.DELETE_ACTION, "value": '{"name": "../etc", "purge": 1}'}
    )
    _webhook(fake, mark, "out of date")
    assert store.list_profiles() != []


# -- help and errors --------------------------------------------------------------------------------


def test_help(slack: SlackDriver, fake: FakeSlack) -> None:
    slack.command("help")
    assert "/appprofile create" in _all_text(_webhook(fake, 0, "App Profiles").params)


def test_unknown_subcommand_suggests_and_offers_help(slack: SlackDriver, fake: FakeSlack) -> None:
    reply = slack.command("lsit")
    assert reply.status == 200
    ack = reply.json()
    assert ack["response_type"] == "ephemeral"
    text = json.dumps(ack["blocks"])
    assert "did you mean `list`" in text
    help_button = next(e for b in ack["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert help_button["action_id"] == blocks.HELP_ACTION

    mark = len(fake.calls)
    slack.click({"type": "button", "action_id": help_button["action_id"], "value": help_button["value"]})
    _webhook(fake, mark, "/appprofile create")


def test_an_unexpected_failure_shows_an_incident_id_and_no_traceback(
    slack: SlackDriver, fake: FakeSlack, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # Break the real database under the app: the store raises sqlite3.OperationalError.
    with sqlite3.connect(store.path) as conn:
        conn.execute("DROP TABLE versions")
    slack.command("list")
    call = _webhook(fake, 0, "internal error (incident ")
    text = _all_text(call.params)
    incident = text.split("(incident ")[1][:8]
    assert len(incident) == 8
    assert all(ch in "0123456789abcdef" for ch in incident)
    for leak in ("Traceback", "OperationalError", "versions", "sqlite"):
        assert leak not in text
    assert any(incident in r.getMessage() for r in caplog.records)


def test_deploy_posts_the_plan_preview(slack: SlackDriver, fake: FakeSlack) -> None:
    _create(slack, fake)
    mark = len(fake.calls)
    slack.command("deploy counter-app@1.0.0 to dev-cluster as shop")
    call = _posted(fake, mark, "Deploy counter-app@1.0.0 to dev-cluster as shop")
    assert "to create" in _all_text(call.params)

    mark = len(fake.calls)
    slack.command("deploy counter-app to nowhere")
    assert "no cluster named `nowhere`" in _all_text(_webhook(fake, mark, "nowhere").params)


@pytest.mark.parametrize(
    ("action_id", "value", "words"),
    [
        ("approval_approve", '{"run": 999, "fp": "abc"}', "999"),
        ("approval_reject", "not json", "out of date"),
        ("run_retry", "12; drop", "out of date"),
        ("run_rollback", "999", "999"),
    ],
)
def test_run_buttons_re_check_everything_and_answer_privately(
    slack: SlackDriver, fake: FakeSlack, action_id: str, value: str, words: str
) -> None:
    assert slack.click({"type": "button", "action_id": action_id, "value": value}).status == 200
    call = _webhook(fake, 0)
    assert call.params["response_type"] == "ephemeral"
    assert words in _all_text(call.params)
