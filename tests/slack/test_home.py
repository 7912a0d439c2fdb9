"""The App Home tab: signed `app_home_opened` events and clicks on the Home into the real app,
every `views.publish` checked by the fake Slack (Home views: type home, at most 100 blocks, each
block as Slack validates it), deploys run by the real executor over scripted clusters."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.models.views import View

from bot.core.home import HomeApproval, HomeDeployment, HomeRun, HomeView
from bot.core.records import Actor, Run
from bot.slack import app as slack_app
from bot.slack import home_view
from bot.slack.home import SlackHome
from sandbox.slack_api import MAX_VIEW_BLOCKS, Call, FakeSlack, block_errors
from sandbox.slack_socket import FakeSocketMode, envelope
from tests import rig
from tests.executor.scripted import ScriptedCluster
from tests.rig import CHANNEL, SlackDriver

EXAMPLE = (Path(__file__).resolve().parents[2] / "profiles" / "examples" / "counter-app.yaml").read_text()
SECRET = "home-signing-secret"
REQUESTER = "U0REQ"
APPROVER = "U0APP"
OUTSIDER = "U0OUT"
LOCKED_CHANNEL = "C0LOCK"
CONFIG = f"""
clusters:
  dev-cluster: {{context: dev}}
  prod:
    context: prod
    approval: {{required: 1, approvers: [{REQUESTER}, {APPROVER}], self_approval: false, expires_after: 1h}}
  locked:
    context: locked
    channels: [{LOCKED_CHANNEL}]
    approval: {{required: 1, approvers: [{APPROVER}]}}
"""
_clicks = itertools.count(1)


@pytest.fixture
def home_bot(tmp_path: Path, fake: FakeSlack) -> Iterator[rig.Bot]:
    clusters: dict[str, ScriptedCluster] = {}
    built = rig.build(
        tmp_path,
        config=CONFIG,
        fake=fake,
        connect=lambda name: clusters.setdefault(name, ScriptedCluster(name)),
        charts=lambda *a: "",
        signing_secret=SECRET,
    )
    yield built
    built.close()
    rig.check_slack(fake)


@pytest.fixture
def driver(home_bot: rig.Bot) -> SlackDriver:
    return home_bot.driver()


# -- what a test does as a person ------------------------------------------------------------------


def open_home(driver: SlackDriver, user: str, tab: str = "home") -> rig.Reply:
    reply = driver.event({"type": "app_home_opened", "user": user, "channel": "D0" + user[2:], "tab": tab})
    assert reply.status == 200, reply.body
    return reply


def published(
    fake: FakeSlack, user: str, since: int = 0, where: Callable[[str], bool] = lambda _t: True
) -> dict[str, Any]:
    """The first Home published to `user` after call `since` whose text satisfies `where`."""
    call = fake.wait_for(
        "views.publish",
        lambda c: c.params.get("user_id") == user and c.ok and where(text(c.params["view"])),
        10,
        since=since,
    )
    view: dict[str, Any] = call.response["view"]
    return view


def publishes(fake: FakeSlack, user: str, since: int = 0) -> list[Call]:
    return [c for c in fake.calls[since:] if c.method == "views.publish" and c.params.get("user_id") == user]


def text(view: dict[str, Any]) -> str:
    return json.dumps(view.get("blocks", []), ensure_ascii=False)


def elements(view: dict[str, Any], action_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(block id, button) of every `action_id` button on the view."""
    found = []
    for block in view.get("blocks", []):
        for el in [*block.get("elements", []), block.get("accessory") or {}]:
            if el.get("action_id") == action_id:
                found.append((str(block.get("block_id", "")), el))
    return found


def home_click(driver: SlackDriver, user: str, view: dict[str, Any], action_id: str) -> rig.Reply:
    """A click on a button of the person's Home tab, as Slack sends it: the view as container,
    no channel and no response_url."""
    (block_id, el), *_ = elements(view, action_id)
    n = next(_clicks)
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": "pat", "name": "pat", "team_id": "T111"},
        "api_app_id": "A111",
        "token": "legacy",
        "container": {"type": "view", "view_id": view["id"]},
        "trigger_id": f"111.{n}.home",
        "team": {"id": "T111", "domain": "acme"},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": {**view, "state": {"values": {}}},
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "text": el["text"],
                "value": el.get("value", ""),
                "action_ts": f"1700000100.{n:06d}",
            }
        ],
    }
    reply = driver.interactive(payload)
    assert reply.status == 200, reply.body
    return reply


def create(driver: SlackDriver, fake: FakeSlack, user: str = REQUESTER) -> None:
    since = len(fake.calls)
    assert driver.command(f"create ```yaml\n{EXAMPLE}```", user=user).status == 200
    fake.wait_for(
        "chat.postMessage", lambda c: "Created counter-app@1.0.0" in json.dumps(c.params), 10, since=since
    )


def deploy(bot: rig.Bot, driver: SlackDriver, cluster: str, *, channel: str = CHANNEL) -> Run:
    """REQUESTER deploys counter-app to `cluster`: the run once it ended, or is awaiting approval
    with its card posted."""
    reply = driver.command(f"deploy counter-app to {cluster}", user=REQUESTER, channel=channel)
    assert reply.status == 200
    driver.answer(reply, "run #")
    run = bot.store.latest_run(cluster, "counter-app")
    assert run is not None
    if run.status != "awaiting_approval":
        return bot.run_ended(run.id)
    bot.slack_fake().wait_for(
        "chat.postMessage", lambda c: f"Approval: deploy to {cluster}" in json.dumps(c.params), 10
    )
    return bot.store.get_run(run.id)


def new_version(bot: rig.Bot) -> None:
    bot.service.new_version(Actor(user=REQUESTER, channel=CHANNEL), "counter-app", "1.1.0")


def three_runs(bot: rig.Bot, driver: SlackDriver, fake: FakeSlack) -> tuple[Run, Run, Run]:
    """REQUESTER's counter-app: 1.0.0 deployed to dev-cluster, then (1.1.0 out) asked for on prod
    and on locked (from its channel), both waiting for approval."""
    create(driver, fake)
    dev = deploy(bot, driver, "dev-cluster")
    assert dev.status == "succeeded", dev.error
    new_version(bot)
    prod = deploy(bot, driver, "prod")
    locked = deploy(bot, driver, "locked", channel=LOCKED_CHANNEL)
    assert prod.status == locked.status == "awaiting_approval"
    return dev, prod, locked


# -- opening the Home ------------------------------------------------------------------------------


def test_each_person_sees_their_deployments_and_the_approvals_waiting_on_them(
    home_bot: rig.Bot, driver: SlackDriver, fake: FakeSlack
) -> None:
    dev, prod, locked = three_runs(home_bot, driver, fake)
    mark = len(fake.calls)
    open_home(driver, REQUESTER)
    mine = published(fake, REQUESTER, mark)
    body = text(mine)
    for needle in ("Cluster dev-cluster", "*counter-app* · counter-app 1.0.0 · ready", f"<#{CHANNEL}>"):
        assert needle in body, needle
    assert "Cluster prod" in body and "Cluster locked" in body and f"<#{LOCKED_CHANNEL}>" in body
    ((_, upgrade),) = elements(mine, "deployment_upgrade")  # dev runs 1.0.0; prod asked for 1.1.0
    assert upgrade["text"]["text"] == "Upgrade to 1.1.0"
    assert json.loads(upgrade["value"]) == {"cluster": "dev-cluster", "name": "counter-app"}
    # The requester cannot approve their own request (self_approval: false), nor `locked`.
    assert "Waiting on your approval" not in body and elements(mine, "approval_approve") == []
    assert f"#{dev.id} Deploy counter-app 1.0.0 → dev-cluster: *Succeeded*" in body
    assert f"#{prod.id} Deploy counter-app 1.1.0 → prod: *Waiting for approval*" in body

    open_home(driver, APPROVER)
    theirs = published(fake, APPROVER, mark)
    body = text(theirs)
    assert "Waiting on your approval (2)" in body and "Nothing of yours is deployed" in body
    card = json.dumps({"run": prod.id, "fp": prod.fingerprint})
    assert [el["value"] for _, el in elements(theirs, "approval_approve")] == [card]  # the card's value
    assert [el["value"] for _, el in elements(theirs, "approval_reject")] == [card]
    assert f"approve on the card in <#{LOCKED_CHANNEL}>" in body  # `locked` counts only from there
    assert f"run #{locked.id}" in body and f"Requested by <@{REQUESTER}>" in body

    open_home(driver, OUTSIDER)
    body = text(published(fake, OUTSIDER, mark))
    assert "Waiting on your approval" not in body and "counter-app" not in body
    for user in (REQUESTER, APPROVER, OUTSIDER):
        assert len(publishes(fake, user, mark)) == 1, user
    assert set(home_bot.store.home_viewers()) == {REQUESTER, APPROVER, OUTSIDER}


def test_a_badly_signed_event_is_refused_and_publishes_nothing(
    home_bot: rig.Bot, driver: SlackDriver, fake: FakeSlack
) -> None:
    event = {"type": "app_home_opened", "user": OUTSIDER, "channel": "D0OUT", "tab": "home"}
    assert driver.event(event, secret="not-the-signing-secret").status == 401
    open_home(driver, REQUESTER)  # a good one after it is published: the bad one was not
    published(fake, REQUESTER)
    assert publishes(fake, OUTSIDER) == [] and home_bot.store.home_viewers() == [REQUESTER]


def test_the_messages_tab_publishes_nothing(home_bot: rig.Bot, driver: SlackDriver, fake: FakeSlack) -> None:
    open_home(driver, OUTSIDER, tab="messages")
    open_home(driver, REQUESTER)
    published(fake, REQUESTER)
    assert publishes(fake, OUTSIDER) == [] and home_bot.store.home_viewers() == [REQUESTER]


def test_app_home_opened_over_socket_mode(home_bot: rig.Bot, fake: FakeSlack) -> None:
    server = FakeSocketMode().start()
    fake.attach_socket(server.url)
    handler = SocketModeHandler(home_bot.slack_app(), app_token=fake.app_token)
    handler.connect()  # type: ignore[no-untyped-call]
    try:
        server.wait_connected()
        body = {
            "type": "event_callback",
            "team_id": "T111",
            "api_app_id": "A111",
            "event_id": "Ev0SOCKET",
            "event_time": 1700000000,
            "event": {"type": "app_home_opened", "user": APPROVER, "channel": "D0APP", "tab": "home"},
        }
        env = envelope("events_api", body)
        server.push(env)
        assert server.wait_for_ack(env["envelope_id"])["envelope_id"] == env["envelope_id"]
        assert "Nothing of yours is deployed" in text(published(fake, APPROVER))
    finally:
        handler.close()  # type: ignore[no-untyped-call]
        server.stop()


# -- clicks on the Home ----------------------------------------------------------------------------


def test_approve_on_the_home_runs_the_deploy_and_the_home_drops_the_request(
    home_bot: rig.Bot, driver: SlackDriver, fake: FakeSlack
) -> None:
    create(driver, fake)
    prod = deploy(home_bot, driver, "prod")
    open_home(driver, APPROVER)
    view = published(fake, APPROVER)
    mark = len(fake.calls)
    home_click(driver, APPROVER, view, "approval_approve")
    # No response_url on a Home: the answer is in the person's conversation with the app.
    dm = fake.wait_for("chat.postMessage", lambda c: c.params.get("channel") == APPROVER, 10, since=mark)
    assert "Approved; the deploy is starting." in json.dumps(dm.params, ensure_ascii=False)
    run = home_bot.run_ended(prod.id)
    assert run.status == "succeeded", run.error
    fake.wait_for(
        "chat.update",
        lambda c: (
            c.params.get("ts") == run.approval_ts
            and "Approved — deployed" in json.dumps(c.params, ensure_ascii=False)
        ),
        10,
    )
    after = published(fake, APPROVER, mark, lambda t: "Waiting on your approval" not in t)
    assert elements(after, "approval_approve") == []
    assert any(e.action == "approve" and e.actor == APPROVER for e in home_bot.store.list_audit(limit=20))


def test_upgrade_on_the_home_deploys_in_the_deployments_channel(
    home_bot: rig.Bot, driver: SlackDriver, fake: FakeSlack
) -> None:
    create(driver, fake)
    deploy(home_bot, driver, "dev-cluster")
    new_version(home_bot)
    open_home(driver, REQUESTER)
    view = published(fake, REQUESTER)
    mark = len(fake.calls)
    home_click(driver, REQUESTER, view, "deployment_upgrade")
    dm = fake.wait_for("chat.postMessage", lambda c: c.params.get("channel") == REQUESTER, 10, since=mark)
    assert "Deploying counter-app 1.1.0 → counter-app on dev-cluster" in json.dumps(
        dm.params, ensure_ascii=False
    )
    run = home_bot.store.latest_run("dev-cluster", "counter-app")
    assert run is not None and run.version == "1.1.0" and run.channel == CHANNEL  # progress there
    assert home_bot.run_ended(run.id).status == "succeeded"
    upgraded = published(fake, REQUESTER, mark, lambda t: "counter-app 1.1.0 · ready" in t)
    assert elements(upgraded, "deployment_upgrade") == []


# -- refreshing ------------------------------------------------------------------------------------


def test_a_deploy_republishes_the_requesters_home_and_nobody_elses(
    home_bot: rig.Bot, driver: SlackDriver, fake: FakeSlack
) -> None:
    create(driver, fake)
    open_home(driver, OUTSIDER)
    open_home(driver, REQUESTER)
    published(fake, OUTSIDER)
    first = published(fake, REQUESTER)
    assert "Nothing of yours is deployed" in text(first)
    mark = len(fake.calls)
    run = deploy(home_bot, driver, "dev-cluster")
    assert run.status == "succeeded", run.error
    final = published(
        fake, REQUESTER, mark, lambda t: "counter-app 1.0.0 · ready" in t and "*Succeeded*" in t
    )
    # Queued, running, done: at most one publish per view that differs, coalesced under the
    # interval; the newest is what the Home shows.
    assert 1 <= len(publishes(fake, REQUESTER, mark)) <= 3
    assert fake.home(REQUESTER) == final
    # The outsider's Home did not change (digest unchanged): not published again.
    assert len(publishes(fake, OUTSIDER)) == 1


def test_publishes_to_one_person_are_coalesced_newest_first(fake: FakeSlack) -> None:
    client = slack_app.make_client(fake.bot_token, fake.base_url)
    screen = SlackHome(client, min_interval=0.5)
    for n in range(1, 6):
        screen.show(HomeView(user=REQUESTER, runs=[_run(n)], seq=n))
    fake.wait_for("views.publish", lambda c: "#5 Deploy" in text(c.params["view"]), 10)
    count = fake.home_publishes(REQUESTER)
    assert 1 <= count <= 2  # the first may leave before the others arrive; the rest wait as one
    assert "#5 Deploy" in text(fake.home(REQUESTER) or {})
    # A view built before one already shown is never shown after it.
    screen.show(HomeView(user=REQUESTER, runs=[_run(4)], seq=4))
    screen.show(HomeView(user=REQUESTER, runs=[_run(7)], seq=7), at_once=True)
    fake.wait_for("views.publish", lambda c: "#7 Deploy" in text(c.params["view"]), 10)
    assert fake.home_publishes(REQUESTER) == count + 1
    assert rig.check_slack(fake) is None


def test_a_failed_publish_is_handed_back_for_a_retry(
    fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    client = slack_app.make_client(fake.bot_token, fake.base_url)
    failed: list[str] = []
    done = threading.Event()

    def on_failed(user: str) -> None:
        failed.append(user)
        done.set()

    fake.fail_next("views.publish", 500, times=3)  # past the client's two retries
    SlackHome(client, on_failed=on_failed).show(HomeView(user=APPROVER, seq=1), at_once=True)
    assert done.wait(20)
    assert failed == [APPROVER] and fake.home(APPROVER) is None
    assert "views.publish answered internal_error" in caplog.text


def test_the_digest_covers_what_is_drawn_and_nothing_else() -> None:
    one = HomeView(user=REQUESTER, runs=[_run(1)], seq=1)
    assert one.digest() == one.model_copy(update={"seq": 9}).digest()
    assert one.digest() != HomeView(user=REQUESTER, runs=[_run(2)], seq=1).digest()
    assert one.digest() != HomeView(user=APPROVER, runs=[_run(1)], seq=1).digest()


# -- Slack's 100 blocks ------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [80, 130])
def test_many_deployments_fit_in_100_blocks_with_and_n_more(
    home_bot: rig.Bot, driver: SlackDriver, fake: FakeSlack, count: int
) -> None:
    """One block per deployment: 80 fit (84 blocks in all); past 100 the rest is "…and N more"."""
    create(driver, fake)
    for i in range(count):
        home_bot.store.upsert_deployment(
            "dev-cluster",
            f"app-{i:03d}",
            profile="counter-app",
            version="1.0.0",
            channel=CHANNEL,
            actor=REQUESTER,
        )
    open_home(driver, REQUESTER)
    view = published(fake, REQUESTER)
    assert len(view["blocks"]) <= MAX_VIEW_BLOCKS
    shown = sum(1 for b in view["blocks"] if "*app-" in json.dumps(b))
    more = [json.dumps(b, ensure_ascii=False) for b in view["blocks"] if "more deployments" in json.dumps(b)]
    if count == 80:
        assert shown == 80 and more == []
    else:
        assert len(view["blocks"]) == MAX_VIEW_BLOCKS and 90 < shown < count
        assert len(more) == 1 and f"…and {count - shown} more deployments" in more[0]


def test_a_full_home_stays_a_valid_view() -> None:
    """Many approvals and deployments at once: both lists cut, the whole within 100 blocks."""
    view = HomeView(
        user=APPROVER,
        approvals=[_approval(n, buttons=n % 2 == 0) for n in range(60)],
        deployments=[_deployment(n) for n in range(80)],
        runs=[_run(n) for n in range(10)],
    )
    drawn = home_view.home(view)
    assert block_errors(drawn["blocks"], MAX_VIEW_BLOCKS) == []
    View(**drawn).to_dict()
    body = text(drawn)
    assert "more requests" in body and "more deployments" in body and "Your last runs" in body


def _run(n: int) -> HomeRun:
    return HomeRun(
        run=n,
        kind="deploy",
        status="succeeded",
        cluster="dev-cluster",
        deployment="shop",
        version=f"1.0.{n}",
        channel=CHANNEL,
        when="2026-01-01T00:00:00Z",
    )


def _approval(n: int, *, buttons: bool) -> HomeApproval:
    return HomeApproval(
        run=n,
        fingerprint="f" * 64,
        kind="deploy",
        cluster="prod",
        deployment=f"shop-{n}",
        profile="shop",
        version="2.0.0",
        requested_by=REQUESTER,
        channel=CHANNEL,
        buttons=buttons,
    )


def _deployment(n: int) -> HomeDeployment:
    return HomeDeployment(
        cluster=f"c{n % 3}",
        name=f"app-{n:02d}",
        profile="shop",
        version="1.0.0",
        status="ready",
        channel=CHANNEL,
        update="2.0.0" if n % 2 else None,
    )


def test_the_events_url_answers_slacks_url_verification(driver: SlackDriver) -> None:
    """Subscribing the manifest's events URL makes Slack send a signed challenge to echo."""
    raw = json.dumps({"token": "legacy", "challenge": "c0ffee-challenge", "type": "url_verification"})
    reply = driver.post(raw, {"Content-Type": "application/json", **driver.sign(raw)})
    assert reply.status == 200 and "c0ffee-challenge" in reply.body


def test_app_home_opened_over_http(home_bot: rig.Bot, fake: FakeSlack) -> None:
    """The same event through the production WSGI layer, as JSON over a loopback socket."""
    open_home(home_bot.http_driver(), OUTSIDER)
    assert "Nothing of yours is deployed" in text(published(fake, OUTSIDER))
