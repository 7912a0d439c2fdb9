"""Guardrails: what a profile may create on one cluster (`clusters.<name>.guardrails`).

The bot holds admin credentials, so whatever a profile can make it create, anyone who may deploy
can create. Every planned object of every tier type (helm and manifest included) is checked here
before any approval and before anything is applied; every violation is reported at once, each
with the rule and the config key that would allow it (or "never", for what no config opens).

    rule                 default                                      opened by
    -------------------  -------------------------------------------  ---------------------------
    namespaces           the deployment's own tier namespaces         guardrails.namespaces (globs)
    reserved namespaces  kube-system, kube-public, kube-node-lease,   never
                         default, the bot's own namespace
    ownership            never another deployment's namespace, never  never / guardrails.namespaces
                         a namespace appprofile did not create          (write into, never label)
    cluster_scoped       none (scope from the cluster's discovery)    guardrails.cluster_scoped
    served kinds         a kind the cluster does not serve            never (install the API)
    forbidden_kinds      Role, RoleBinding, service-account tokens    guardrails.forbidden_kinds
    pod_security         baseline (Pod Security Standards)            guardrails.pod_security
    images               any                                          guardrails.images (globs)

Charts are checked where they are fetched (the chart adapter), with the same config section.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.core import podsecurity
from bot.core.errors import UserError
from bot.core.policy import RESERVED_NAMESPACES, SECRET_TYPE_PREFIX, Guardrails

# (apiVersion, kind) -> True namespaced, False cluster-scoped, None not served by the cluster.
Scope = Callable[[str, str], bool | None]
SA_TOKEN = "kubernetes.io/service-account-token"


class Ownership(BaseModel):
    """A namespace as the cluster has it: absent, ours (with the deployment it belongs to), or not ours."""

    model_config = ConfigDict(frozen=True)

    exists: bool
    deployment: str | None = None  # appprofile.dev/deployment, when appprofile manages it
    managed: bool = False


NamespaceOwner = Callable[[str], Ownership]


class Violation(BaseModel):
    model_config = ConfigDict(frozen=True)

    tier: str
    ref: str  # `Kind namespace/name`, or `namespace NAME` for a tier's namespace
    rule: str
    message: str
    # The config key that would allow it; None: nothing opens it.
    allow: str | None = None

    def line(self) -> str:
        how = f" — allow with `{self.allow}`" if self.allow else " — no setting allows this"
        return f"tier {self.tier}: {self.ref}: {self.message} ({self.rule}){how}"


class PolicyViolations(UserError):
    """The plan breaks the cluster's guardrails; nothing was applied."""

    def __init__(self, cluster: str, violations: Sequence[Violation], *, limit: int = 30) -> None:
        shown = [f"{i}. {v.line()}" for i, v in enumerate(violations[:limit], start=1)]
        if len(violations) > limit:
            shown.append(f"…and {len(violations) - limit} more")
        count = len(violations)
        super().__init__(
            f"the plan breaks {count} guardrail{'s' if count != 1 else ''} of cluster `{cluster}`; "
            "nothing was applied:\n" + "\n".join(shown),
            "change the profile, or ask a platform admin to open the rule for this cluster "
            "in APPPROFILE_CONFIG (the key is named on each line)",
        )
        self.violations = list(violations)


def kind_matches(entry: str, api_version: str, kind: str) -> bool:
    """`Kind` matches the kind in any group; `Kind.group` only in that group."""
    name, _, group = entry.partition(".")
    if name != kind:
        return False
    return not group or group == (api_version.rpartition("/")[0] if "/" in api_version else "")


def ref_label(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind', '?')} {ns}{meta.get('name', '?')}"


class Context(BaseModel):
    """Who is planning what where: the facts the rules need besides the objects."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    cluster: str
    deployment: str
    rails: Guardrails
    tier_namespaces: dict[str, str]
    bot_namespace: str | None = None

    def key(self, field: str) -> str:
        return f"clusters.{self.cluster}.guardrails.{field}"

    def own_namespaces(self) -> set[str]:
        return set(self.tier_namespaces.values())


def _namespace_allowed(ctx: Context, ns: str) -> bool:
    if ctx.rails.namespaces:
        return any(fnmatch.fnmatchcase(ns, g) for g in ctx.rails.namespaces)
    return ns in ctx.own_namespaces()


def check_tier_namespaces(ctx: Context, owner: NamespaceOwner) -> list[Violation]:
    """Each tier's namespace: allowed, not reserved, and ours (or explicitly opened, never labelled)."""
    out: list[Violation] = []
    for tier, ns in ctx.tier_namespaces.items():
        out.extend(_namespace_problems(ctx, tier, f"namespace {ns}", ns, owner))
    return out


def _namespace_problems(ctx: Context, tier: str, ref: str, ns: str, owner: NamespaceOwner) -> list[Violation]:
    if ns in RESERVED_NAMESPACES or ns == ctx.bot_namespace:
        return [Violation(tier=tier, ref=ref, rule="reserved namespaces", message=f"`{ns}` is reserved")]
    if not ctx.rails.namespaces and not ns.startswith(f"{ctx.deployment}-"):
        return [
            Violation(
                tier=tier,
                ref=ref,
                rule="namespaces",
                message=f"`{ns}` is not one of deployment {ctx.deployment}'s namespaces "
                f"(`{ctx.deployment}-…`)",
                allow=ctx.key("namespaces"),
            )
        ]
    if not _namespace_allowed(ctx, ns):
        return [
            Violation(
                tier=tier,
                ref=ref,
                rule="namespaces",
                message=f"`{ns}` is outside the namespaces allowed on this cluster",
                allow=ctx.key("namespaces"),
            )
        ]
    state = owner(ns)
    if state.exists and state.managed and state.deployment not in (None, ctx.deployment):
        return [
            Violation(
                tier=tier,
                ref=ref,
                rule="ownership",
                message=f"`{ns}` belongs to deployment {state.deployment}",
            )
        ]
    if state.exists and not state.managed and not ctx.rails.namespaces:
        return [
            Violation(
                tier=tier,
                ref=ref,
                rule="ownership",
                message=f"`{ns}` exists and was not created by appprofile; a deployment never adopts it",
                allow=ctx.key("namespaces"),
            )
        ]
    return []


def check_object(ctx: Context, tier: str, obj: Mapping[str, Any], scope: Scope) -> list[Violation]:
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    ref = ref_label(obj)
    namespaced = scope(api_version, kind)
    if namespaced is None:
        return [
            Violation(
                tier=tier,
                ref=ref,
                rule="served kinds",
                message=f"the cluster does not serve {kind} ({api_version})",
            )
        ]
    out: list[Violation] = []
    if not namespaced and not any(kind_matches(e, api_version, kind) for e in ctx.rails.cluster_scoped):
        out.append(
            Violation(
                tier=tier,
                ref=ref,
                rule="cluster_scoped",
                message=f"{kind} is cluster-scoped; profiles on this cluster create namespaced objects only",
                allow=ctx.key("cluster_scoped"),
            )
        )
    if namespaced:
        out.extend(_forbidden(ctx, tier, ref, obj))
    out.extend(_pods(ctx, tier, ref, obj))
    return out


def _forbidden(ctx: Context, tier: str, ref: str, obj: Mapping[str, Any]) -> list[Violation]:
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    for entry in ctx.rails.forbidden_kinds:
        if entry.startswith(SECRET_TYPE_PREFIX):
            hit = kind == "Secret" and obj.get("type") == entry.removeprefix(SECRET_TYPE_PREFIX)
            what = f"Secrets of type {entry.removeprefix(SECRET_TYPE_PREFIX)} are refused"
        else:
            hit = kind_matches(entry, api_version, kind)
            what = f"{kind} objects are refused"
        if hit:
            return [
                Violation(
                    tier=tier,
                    ref=ref,
                    rule="forbidden_kinds",
                    message=what,
                    allow=f"{ctx.key('forbidden_kinds')} (remove `{entry}`)",
                )
            ]
    return []


def _pods(ctx: Context, tier: str, ref: str, obj: Mapping[str, Any]) -> list[Violation]:
    out = [
        Violation(
            tier=tier,
            ref=ref,
            rule=f"pod_security {ctx.rails.pod_security}: {v.rule}",
            message=v.message,
            allow=ctx.key("pod_security"),
        )
        for v in podsecurity.check(obj, ctx.rails.pod_security)
    ]
    if ctx.rails.images is not None:
        for image in images_of(obj):
            if not any(fnmatch.fnmatchcase(image, g) for g in ctx.rails.images):
                out.append(
                    Violation(
                        tier=tier,
                        ref=ref,
                        rule="images",
                        message=f"image `{image}` is not in the allowed images",
                        allow=ctx.key("images"),
                    )
                )
    return out


def images_of(obj: Mapping[str, Any]) -> list[str]:
    """Every container, init container and ephemeral container image of every pod template."""
    out: list[str] = []
    for _path, spec in podsecurity.pod_specs(obj):
        for field in ("initContainers", "containers", "ephemeralContainers"):
            for c in spec.get(field) or []:
                if isinstance(c, dict) and c.get("image"):
                    out.append(str(c["image"]))
    return out


def check(
    ctx: Context,
    objects: Iterable[tuple[str, Mapping[str, Any]]],
    *,
    scope: Scope,
    owner: NamespaceOwner,
) -> list[Violation]:
    """Every violation of the plan's (tier, object) pairs, tier namespaces first."""
    out = check_tier_namespaces(ctx, owner)
    checked: set[str] = set(ctx.own_namespaces())
    for tier, obj in objects:
        out.extend(check_object(ctx, tier, obj, scope))
        ns = (obj.get("metadata") or {}).get("namespace")
        if ns and ns not in checked and scope(str(obj.get("apiVersion")), str(obj.get("kind"))):
            checked.add(ns)
            out.extend(_namespace_problems(ctx, tier, ref_label(obj), str(ns), owner))
    return out


def exceptions(obj: Mapping[str, Any], level: podsecurity.Level) -> list[str]:
    """What `restricted` would refuse that the cluster's level allows: shown on the card."""
    if level == "restricted":
        return []
    allowed = {v.path for v in podsecurity.check(obj, level)}
    return [f"{v.rule}: {v.message}" for v in podsecurity.check(obj, "restricted") if v.path not in allowed]
