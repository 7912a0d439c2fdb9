"""Kubernetes API requests per deploy of the 3-tier counter app vs the minimum a deploy needs.

The bot as production wires it deploys `profiles/examples/counter-app.yaml` through a signed
`/appprofile deploy` to the Kubernetes emulator (`sandbox.kube`, real `kubernetes` client over
loopback HTTP); the emulator's own request log is counted. Two deploys: the first one on a
freshly connected cluster (API discovery included), then the same profile as a second deployment
(discovery cached, as for every later deploy of a running bot).

The minimum is computed from the run's plan, the profile and the catalogue, not from the log:
one apply per planned object; per tier namespace one read (the ownership guardrail: a namespace
appprofile did not create is never labelled) and one apply; per tier with a generated password
one read (reuse it if it exists), and its apply when it is not a planned object; one watch or read per object the executor waits
for; one read per Secret or Service that the tier's outputs are read from; and, on the first
deploy only, API discovery: /api, /apis and one resource list per group-version in use.
"""

from __future__ import annotations

import collections
import re
from typing import Any

from bench import rig
from bench.common import PROFILES, Figure
from bot import catalog_files
from bot.core import model, plan
from bot.runs.kinds import WAIT_KINDS  # what the run loop waits for

GOAL = 1.2
_DISCOVERY = re.compile(r"/version|/api|/apis|/api/v1|/apis/[^/]+/[^/]+")


def target(path: str) -> tuple[str, bool]:
    """(resource plural, whether one named object is addressed) of a resource path."""
    parts = path.strip("/").split("/")
    rest = parts[2:] if parts[:1] == ["api"] else parts[3:]
    if rest[:1] == ["namespaces"] and len(rest) >= 3:
        rest = rest[2:]  # /namespaces/{ns}/{plural}[/{name}]
    return (rest[0], len(rest) >= 2) if rest else (path, False)


def classify(request: Any) -> str:
    path = request.url.path
    method = str(request.method).upper().rsplit(".", 1)[-1]
    if _DISCOVERY.fullmatch(path):
        return "discovery"
    what, named = target(path)
    if str(request.params.get("watch")).lower() in ("true", "1"):
        return f"watch {what}"
    if method == "PATCH":
        return f"apply {what}"
    if method == "GET":
        return f"{'get' if named else 'list'} {what}"
    return f"{method.lower()} {what}"


def minimum(run: Any, profile: model.Profile, *, cold: bool) -> dict[str, int]:
    catalog = catalog_files.load()
    objects = [o for t in run.plan["tiers"] for o in t["objects"]]
    namespaces = {t["namespace"] for t in run.plan["tiers"]}
    generated = [t.name for t in profile.tiers if plan.generated_secret_params(catalog, t)]
    # The generated-password Secret: read (to reuse it), applied once; it may be a planned object.
    planned = {(t["name"], o["metadata"]["name"]) for t in run.plan["tiers"] for o in t["objects"]}
    unplanned = [n for n in generated if (n, f"{run.deployment}-{n}-generated") not in planned]
    outputs = 0
    for tier in profile.tiers:
        if tier.type in ("helm", "manifest"):
            outputs += sum(1 for o in tier.outputs if o.secret is not None or o.service is not None)
            continue
        sources = {
            ("secret", o.source.secret["name"]) if o.source.secret else ("service", o.source.service["name"])
            for o in catalog.get(tier.type).outputs
            if o.source.secret or o.source.service
        }
        outputs += len(sources)
    floor = {
        "apply objects": len(objects),
        "namespace owner reads": len(namespaces),
        "namespace applies": len(namespaces),
        "generated-password reads": len(generated),
        "generated-password applies (unplanned)": len(unplanned),
        "waits (watch or read)": sum(1 for o in objects if o["kind"] in WAIT_KINDS),
        "output reads": outputs,
    }
    if cold:
        floor["discovery"] = 2 + len({o["apiVersion"] for o in objects} | {"v1"})
    return floor


def run() -> list[Figure]:
    profile = model.from_yaml((PROFILES / "counter-app.yaml").read_text())
    figures = []
    with rig.sim_cluster(ready_after=0.2) as sim, rig.fake_slack() as fake, rig.workdir() as tmp:
        bot = rig.build_bot(fake, tmp, kube_url=sim.url)
        try:
            bot.store.create_version(profile, actor=rig.USER, channel=rig.CHANNEL, kind="import")
            from bot.slack import serve

            with rig.served(serve.make_wsgi(bot.app)) as port:
                sender = rig.Sender(port, fake)
                for label, text, deployment, cold in [
                    ("first deploy", "deploy counter-app to dev-cluster", "counter-app", True),
                    ("next deploy", "deploy counter-app to dev-cluster as counter-b", "counter-b", False),
                ]:
                    since = len(sim.requests)
                    done = rig.deploy(bot, sender, text, deployment)
                    seen = sim.requests[since:]
                    floor = minimum(done, profile, cold=cold)
                    total, least = len(seen), sum(floor.values())
                    kinds = collections.Counter(classify(r) for r in seen)
                    breakdown = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
                    parts = ", ".join(f"{k} {n}" for k, n in floor.items())
                    figures.append(
                        Figure(
                            f"k8s requests/deploy ({label})",
                            float(total),
                            float(least),
                            "req",
                            GOAL,
                            f"counter-app, 3 tiers, {sum(len(t['objects']) for t in done.plan['tiers'])} objects. "
                            f"Seen: {breakdown}. Minimum: {parts}",
                        )
                    )
        finally:
            bot.stop.set()
    return figures
