"""Slack Web API calls per deploy of 3 and 10 tiers vs one post plus one update per second.

The bot as production wires it (its SlackReporter with the default redraw interval) deploys a
3-tier and a 10-tier stack through signed `/appprofile deploy` commands to the Kubernetes
emulator, whose workloads become ready after 1.5 s as in `make run`. The fake Slack Web API
records every call; a watcher stamps each call as it arrives (5 ms resolution). Counted: the
`chat.postMessage` that created the run's progress message and every `chat.update` of it. The
allowance is 1 post + 1 update per second the message was live (from its post to its final
update); the figure is calls / allowance, goal ≤ 1.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from bench import profiles, rig
from bench.common import Figure

READY_AFTER = 1.5


class Stamps:
    """When each call the fake recorded arrived (index → monotonic seconds), until stopped."""

    def __init__(self, fake: Any) -> None:
        self.fake = fake
        self.at: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="bench-stamps", daemon=True)

    def _watch(self) -> None:
        seen = 0
        while not self._stop.is_set():
            n = len(self.fake.calls)
            now = time.monotonic()
            for i in range(seen, n):
                self.at[i] = now
            seen = n
            self._stop.wait(0.005)

    def __enter__(self) -> Stamps:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _max_per_second(times: list[float]) -> int:
    return max((sum(1 for u in times if t <= u < t + 1.0) for t in times), default=0)


def run() -> list[Figure]:
    figures = []
    with rig.sim_cluster(ready_after=READY_AFTER) as sim, rig.fake_slack() as fake, rig.workdir() as tmp:
        bot = rig.build_bot(fake, tmp, kube_url=sim.url)
        try:
            from bot.slack import serve

            with rig.served(serve.make_wsgi(bot.app)) as port, Stamps(fake) as stamps:
                sender = rig.Sender(port, fake)
                for n in (3, 10):
                    name = f"stack-{n}"
                    bot.store.create_version(
                        profiles.stack(n, name), actor=rig.USER, channel=rig.CHANNEL, kind="import"
                    )
                    since = len(fake.calls)
                    done = rig.deploy(bot, sender, f"deploy {name} to dev-cluster", name)
                    ts = done.message_ts
                    fake.wait_for(
                        "chat.update",
                        lambda c, ts=ts: c.params.get("ts") == ts and "Succeeded" in rig.text_of(c),
                        10,
                        since=since,
                    )
                    time.sleep(0.3)  # anything the run still sends after its final draw
                    calls = list(enumerate(fake.calls))[since:]
                    post = [
                        i for i, c in calls if c.method == "chat.postMessage" and c.response.get("ts") == ts
                    ]
                    updates = [i for i, c in calls if c.method == "chat.update" and c.params.get("ts") == ts]
                    thread = [
                        i
                        for i, c in calls
                        if c.method == "chat.postMessage" and c.params.get("thread_ts") == ts
                    ]
                    last = max(updates, default=-1)
                    if not post or post[0] not in stamps.at or last not in stamps.at:
                        raise RuntimeError("the progress message's calls were not all stamped")
                    live = stamps.at[last] - stamps.at[post[0]]
                    spans = [(t.started_at, t.finished_at) for t in done.tiers]
                    tiers_s = max(f for _, f in spans if f) - min(s for s, _ in spans if s)
                    others: dict[str, int] = {}
                    for i, c in calls:
                        if i not in post and i not in updates and i not in thread:
                            others[c.method] = others.get(c.method, 0) + 1
                    upd_times = [stamps.at[i] for i in updates if i in stamps.at]
                    figures.append(
                        Figure(
                            f"Slack calls/deploy ({n} tiers)",
                            float(len(post) + len(updates)),
                            1.0 + live,
                            "calls",
                            1.0,
                            f"{len(post)} post + {len(updates)} updates over {live:.1f} s live "
                            f"(tiers {tiers_s:.1f} s): {len(updates) / live:.2f} updates/s, at most "
                            f"{_max_per_second(upd_times)} in any 1 s; baseline = 1 + 1/s × {live:.1f} s; "
                            f"also {len(thread)} thread replies, other calls {others}",
                        )
                    )
                figures.append(_home_figure(bot, sender, fake))
        finally:
            bot.stop.set()
    return figures


HOME_VIEWERS = 20
REFRESHING_EVENTS = 3  # a deploy without approval: queued, started, finished


def _home_figure(bot: Any, sender: rig.Sender, fake: Any) -> Figure:
    """views.publish during one deploy with 20 people's Home tabs open (the requester's and 19
    others', who see nothing of it) vs republishing every open Home on each of the run's
    Home-changing events (queued, started, finished)."""
    viewers = [rig.USER] + [f"U0VIEWER{i:02d}" for i in range(HOME_VIEWERS - 1)]
    for user in viewers:
        if sender.home_opened(user) != 200:
            raise RuntimeError(f"app_home_opened for {user} was refused")
    end = time.monotonic() + 30
    while any(fake.home_publishes(u) == 0 for u in viewers):
        if time.monotonic() > end:
            raise TimeoutError("not every opened Home was published within 30 s")
        time.sleep(0.02)
    before = {u: fake.home_publishes(u) for u in viewers}
    name = "stack-home"
    bot.store.create_version(profiles.stack(3, name), actor=rig.USER, channel=rig.CHANNEL, kind="import")
    rig.deploy(bot, sender, f"deploy {name} to dev-cluster", name)
    end = time.monotonic() + 30  # the last view is coalesced: at most one interval later
    shown = f"*{name}* · {name} 1.0.0 · ready"  # the deployment's line on the Home, once finished
    while shown not in json.dumps(fake.home(rig.USER) or {}, ensure_ascii=False):
        if time.monotonic() > end:
            raise TimeoutError("the requester's Home never showed the finished deploy")
        time.sleep(0.02)
    time.sleep(1.5)  # anything still coalesced (the interval is 1 s)
    published = {u: fake.home_publishes(u) - before[u] for u in viewers}
    ours = sum(published.values())
    return Figure(
        f"views.publish/deploy ({HOME_VIEWERS} Homes open)",
        float(ours),
        float(HOME_VIEWERS * REFRESHING_EVENTS),
        "calls",
        0.1,
        f"the requester's Home published {published[rig.USER]}×, the {HOME_VIEWERS - 1} others "
        f"{ours - published[rig.USER]}× (their Homes did not change); baseline = every open Home "
        f"republished on each of the run's {REFRESHING_EVENTS} Home-changing events",
    )
