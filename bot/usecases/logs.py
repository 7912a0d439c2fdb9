"""A tier's logs, for people allowed to deploy where it runs: the last lines of its pods'
containers (the crashed previous container's too), with every secret of the deployment scrubbed.

The secrets scrubbed are the ones the deploy itself hides: the user-given secret properties of
the profile version (and of the version the deployment last ran), the generated passwords read
back from each tier's `-generated` Secret, and the secret outputs read from the Secrets the plan
names (with the literal values of a manifest tier's Secrets). A secret that cannot be read makes
the request fail: logs are never shown unscrubbed.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.core import plan, secrets
from bot.core.errors import Forbidden, NotFound, UserError
from bot.core.ports import Cluster, PodLog
from bot.core.records import Actor, Deployment, Run
from bot.core.render import LABEL_DEPLOYMENT, LABEL_TIER
from bot.usecases.access import authorise, check_channel
from bot.usecases.context import UseCaseContext
from bot.usecases.lookup import deployment_on

DEFAULT_LINES = 50
MAX_LINES = 500


class LogsAnswer(BaseModel):
    """What `logs` found: the tier's containers' last lines (scrubbed), and where to post them."""

    model_config = ConfigDict(frozen=True)

    deployment: str
    cluster: str
    tier: str
    namespace: str
    lines: int  # asked per container
    logs: list[PodLog]
    # The run whose progress message's thread the logs go to (None: no run, or not posted).
    run: Run | None = None

    @property
    def line_count(self) -> int:
        return sum(len(log.text.splitlines()) for log in self.logs)

    @property
    def pods(self) -> list[str]:
        return sorted({log.pod for log in self.logs})


def check_lines(lines: int) -> int:
    if not 1 <= lines <= MAX_LINES:
        raise UserError(
            f"`--lines {lines}` is out of range: at most {MAX_LINES} lines per container (at least 1)",
            f"e.g. `--lines {MAX_LINES}`; without `--lines` the last {DEFAULT_LINES} are shown",
        )
    return lines


@dataclass(frozen=True)
class Logs:
    ctx: UseCaseContext

    def tier_logs(
        self,
        actor: Actor,
        name: str,
        tier: str,
        cluster: str | None = None,
        lines: int = DEFAULT_LINES,
        *,
        run_id: int | None = None,
    ) -> LogsAnswer:
        """`run_id`: the run whose message asked (the Logs button); else the deployment's latest."""
        lines = check_lines(lines)
        dep = deployment_on(self.ctx, name, cluster, "logs")
        self._authorise(actor, dep, tier)
        run = self._run(dep, run_id)
        tiers = _tier_plans(run)
        namespace = _namespace(dep, tiers, tier)
        kube = self._cluster(dep.cluster)
        hidden = self._secrets(kube, dep, run, tiers)
        found = kube.pod_logs(namespace, {LABEL_DEPLOYMENT: dep.name, LABEL_TIER: tier}, lines=lines)
        if not found:
            # Pods whose template carries only the chart's own labels (a helm tier).
            selector = {"app.kubernetes.io/instance": dep.name, "app.kubernetes.io/name": tier}
            found = kube.pod_logs(namespace, selector, lines=lines)
        scrubbed = [
            log.model_copy(
                update={"text": secrets.redact(log.text, hidden), "note": secrets.redact(log.note, hidden)}
            )
            for log in found
        ]
        answer = LogsAnswer(
            deployment=dep.name,
            cluster=dep.cluster,
            tier=tier,
            namespace=namespace,
            lines=lines,
            logs=scrubbed,
            run=run,
        )
        self.ctx.store.audit(
            actor.user,
            actor.channel,
            "logs",
            f"{dep.cluster}/{dep.name}",
            "ok",
            f"tier {tier}: {answer.line_count} lines of {len(answer.pods)} pods",
            profile=dep.profile,
            cluster=dep.cluster,
        )
        return answer

    def _authorise(self, actor: Actor, dep: Deployment, tier: str) -> None:
        """Logs are for people who may deploy there: `access.deploy`, and the cluster's channels."""
        target = f"{dep.cluster}/{dep.name} (logs of {tier})"
        try:
            authorise(self.ctx, actor, "deploy", target, audited_as="logs")
        except Forbidden as exc:
            raise Forbidden(
                f"reading logs on `{dep.cluster}` needs the `deploy` permission: {exc.message}",
                exc.hint or "",
            ) from None
        check_channel(self.ctx, actor, dep.cluster, "logs", target)

    def _run(self, dep: Deployment, run_id: int | None) -> Run | None:
        if run_id is None:
            return self.ctx.store.latest_run(dep.cluster, dep.name)
        run = self.ctx.store.get_run(run_id)
        if (run.cluster, run.deployment) != (dep.cluster, dep.name):
            raise UserError("this button is out of date", f"use `/appprofile logs {dep.name} TIER`")
        return run

    def _cluster(self, name: str) -> Cluster:
        executor = self.ctx.executor
        if executor is None:
            raise UserError(
                "this bot reaches no cluster, so it cannot read logs",
                "ask in the channel where the bot deploys (`appprofile serve`)",
            )
        return executor.connect(name)

    def _secrets(
        self, kube: Cluster, dep: Deployment, run: Run | None, tiers: list[plan.TierPlan]
    ) -> set[str]:
        store, catalog = self.ctx.store, self.ctx.catalog
        hidden: set[str] = set()
        versions = {(dep.profile, dep.version)}
        if run is not None:
            versions.add((run.profile, run.version))
        for profile_name, version in sorted(versions):
            try:
                profile = store.get_version(profile_name, version).profile()
            except NotFound:
                continue  # a version deleted since: its pods are gone or replaced
            overrides: dict[str, dict[str, Any]] = {}
            if run is not None and (run.profile, run.version) == (profile_name, version):
                try:
                    overrides = plan.parse_sets(run.options.get("set", {}), profile)
                except UserError:
                    overrides = {}
            hidden |= secrets.given_values(profile, catalog, overrides)
        for tp in tiers:
            hidden |= _read_back(kube, tp)
        return hidden


def _tier_plans(run: Run | None) -> list[plan.TierPlan]:
    if run is None or not (run.plan or {}).get("tiers"):
        return []
    try:
        return plan.Plan.model_validate(run.plan).tiers
    except ValidationError:
        return []


def _namespace(dep: Deployment, tiers: list[plan.TierPlan], tier: str) -> str:
    for tp in tiers:
        if tp.name == tier:
            return tp.namespace
    spaces = [
        str(it["namespace"]) for it in dep.inventory if it.get("tier") == tier and it.get("namespace")
    ] + [str(it["name"]) for it in dep.inventory if it.get("tier") == tier and it.get("kind") == "Namespace"]
    if spaces:
        return spaces[0]
    known = [tp.name for tp in tiers] or sorted(
        {str(it.get("tier")) for it in dep.inventory if it.get("tier")}
    )
    raise NotFound(
        f"`{dep.name}` on {dep.cluster} has no tier `{tier}`",
        f"its tiers: {', '.join(f'`{t}`' for t in known)}" if known else "see `/appprofile status`",
    )


def _read_back(kube: Cluster, tp: plan.TierPlan) -> set[str]:
    """A tier's secrets as they are in the cluster: generated passwords, secret outputs, and a
    manifest tier's literal Secret values."""
    out: set[str] = set()
    if tp.generated and tp.generated_secret:
        out |= {v for v in (kube.read_secret(tp.namespace, tp.generated_secret) or {}).values() if v}
    read: dict[str, dict[str, str]] = {}
    for spec in tp.outputs:
        if spec.secret is None or "<<" in spec.secret["name"]:
            continue  # a name only a deploy can fill is not worth guessing
        name = spec.secret["name"]
        if name not in read:
            read[name] = kube.read_secret(tp.namespace, name) or {}
        value = read[name].get(spec.secret["key"])
        if value:
            out.add(value)
    if tp.type == "manifest":
        for obj in tp.objects:
            if obj.get("kind") == "Secret":
                out |= _literal_values(obj)
    return out


def _literal_values(obj: dict[str, Any]) -> set[str]:
    out = {str(v) for v in (obj.get("stringData") or {}).values() if v and "<<" not in str(v)}
    for v in (obj.get("data") or {}).values():
        try:
            out.add(base64.b64decode(str(v), validate=True).decode())
        except (binascii.Error, UnicodeDecodeError):
            continue
    return {v for v in out if v and not secrets.is_reference(v)}
