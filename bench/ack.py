"""Ack latency of `/appprofile list` with 1,000 profiles vs a bare Bolt app on the same server.

Ours: the bot as production wires it (bench.rig.build_bot), its store holding 1,000 profiles,
served by waitress through `bot.slack.serve.make_wsgi`. Baseline: a bare `slack_bolt.App` with the
same signing secret and Web API client whose `/appprofile` listener only acks, behind Bolt's own
WSGI handler on an identical waitress server. Each request is a really signed slash command on a
fresh connection; the time is from connect to the last byte of the HTTP response (Slack's 3 s
ack clock). Requests alternate between the two apps; after each of ours the bench waits for the
list to reach the response_url (untimed), so no request is measured while the previous one's
reply is still being built.
"""

from __future__ import annotations

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from bench import rig, seed
from bench.common import Figure, percentile
from bot.slack import serve

PROFILE_COUNT = 1000
REQUESTS = 300
WARMUP = 20


def bare_app(client: WebClient) -> App:
    app = App(client=client, signing_secret=rig.SECRET, raise_error_for_unhandled_request=False)

    @app.command("/appprofile")
    def on_command(ack: Ack) -> None:
        ack()

    return app


def run() -> list[Figure]:
    with rig.fake_slack() as fake, rig.workdir() as tmp:
        bot = rig.build_bot(fake, tmp)
        try:
            names = [f"bench-{i:04d}" for i in range(PROFILE_COUNT)]
            seed.seed(bot.store, seed.template(), names, versions=1)
            bare = bare_app(bot.app.client)
            with (
                rig.served(serve.make_wsgi(bot.app)) as ours_port,
                rig.served(SlackRequestHandler(bare)) as bare_port,
            ):
                ours = rig.Sender(ours_port, fake)
                base = rig.Sender(bare_port, fake)
                ours_t: list[float] = []
                base_t: list[float] = []
                for i in range(WARMUP + REQUESTS):
                    pair = (
                        [("ours", ours), ("bare", base)] if i % 2 == 0 else [("bare", base), ("ours", ours)]
                    )
                    for which, sender in pair:
                        elapsed, status, hook = sender.command("list")
                        if status != 200:
                            raise RuntimeError(f"{which} answered HTTP {status}")
                        if which == "ours":
                            reply = sender.answer(hook)
                            if "App Profiles (1000)" not in rig.text_of(reply):
                                raise RuntimeError(f"unexpected list reply: {rig.text_of(reply)[:200]}")
                        if i < WARMUP:
                            continue
                        if which == "ours":
                            ours_t.append(elapsed)
                        else:
                            base_t.append(elapsed)
        finally:
            bot.stop.set()
    what = (
        f"{REQUESTS} signed `/appprofile list` each, alternating, {PROFILE_COUNT} profiles in the store; "
        f"ours p50 {percentile(ours_t, 50) * 1e3:.2f} ms / p99 {percentile(ours_t, 99) * 1e3:.2f} ms, "
        f"bare p50 {percentile(base_t, 50) * 1e3:.2f} ms / p99 {percentile(base_t, 99) * 1e3:.2f} ms"
    )
    return [
        Figure(
            "ack p50 (list, 1k profiles)",
            percentile(ours_t, 50),
            percentile(base_t, 50),
            "s",
            1.3,
            what,
            "the goal is set on p99; p50 is shown against the same bound",
        ),
        Figure("ack p99 (list, 1k profiles)", percentile(ours_t, 99), percentile(base_t, 99), "s", 1.3),
    ]
