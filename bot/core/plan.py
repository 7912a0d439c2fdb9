"""What a deploy will do, before it does it (DESIGN §4 step 1) — and, filled, what it applies.

`build` renders every tier once into its complete objects, with holes (`bot.core.holes`) where a
value is known only when the tiers below have run, checks them, compares with what is deployed,
and fingerprints the result (everything but the hole values) so an approval binds to exactly
this plan. A run applies these very objects with the holes filled; it never renders again.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from bot.core import catalog as catalog_mod
from bot.core import guardrails, holes, macros, render
from bot.core import policy as policy_mod
from bot.core import secrets as secrets_mod
from bot.core.catalog import Catalog
from bot.core.drift import DriftReport
from bot.core.errors import UserError, did_you_mean
from bot.core.model import Profile, Tier
from bot.core.ports import ObjectRef

# (chart, release, namespace, version, values, allowed chart-source globs) -> `helm template` output
ChartRenderer = Callable[[str, str, str, str | None, dict[str, Any], tuple[str, ...]], str]
# An object -> what is wrong with it against the Kubernetes schema (empty when valid)
SchemaCheck = Callable[[Mapping[str, Any]], list[str]]


class Target(BaseModel):
    """Where and as what a profile is deployed: the identity macros and labels are built from."""

    model_config = ConfigDict(frozen=True)

    cluster: str
    deployment: str
    user: str = ""


class OutputSpec(BaseModel):
    """Where one output of a tier comes from once it is ready: a value known at plan time (maybe
    with holes from lower tiers), a Secret's key, or a Service's field, in the tier's namespace."""

    model_config = ConfigDict(frozen=True)

    name: str
    value: Any = None
    secret: dict[str, str] | None = None  # {name, key}
    service: dict[str, str] | None = None  # {name, field}
    sensitive: bool = False  # a secret output: masked wherever it is shown
    aliases: list[str] = Field(default_factory=list)


class TierPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    type: str
    namespace: str
    objects: list[dict[str, Any]]
    # The holes the planner made in `objects` and `outputs`: only these are filled.
    holes: list[str] = Field(default_factory=list)
    # Secret parameters generated at the first deploy and kept in `generated_secret`.
    generated: list[str] = Field(default_factory=list)
    generated_secret: str = ""
    outputs: list[OutputSpec] = Field(default_factory=list)


class Change(BaseModel):
    model_config = ConfigDict(frozen=True)

    action: Literal["create", "change", "unchanged", "prune"]
    tier: str
    ref: ObjectRef


class Sensitive(BaseModel):
    """What an approver must see by name, not as a count (DESIGN §5, the guardrails)."""

    model_config = ConfigDict(frozen=True)

    rbac: list[str] = Field(default_factory=list)
    secrets: list[str] = Field(default_factory=list)
    cluster_scoped: list[str] = Field(default_factory=list)
    namespaces: list[str] = Field(default_factory=list)  # new namespaces the run creates
    images: list[str] = Field(default_factory=list)
    pod_security: list[str] = Field(default_factory=list)  # exceptions the cluster's level allows

    def empty(self) -> bool:
        return not any(self.model_dump().values())


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True)

    profile: str
    version: str
    cluster: str
    deployment: str
    tiers: list[TierPlan]
    changes: list[Change] = Field(default_factory=list)
    fingerprint: str = ""
    sensitive: Sensitive = Field(default_factory=Sensitive)
    # A digest of the deployment's inventory the changes were computed against: a run applies
    # this plan as it is while the deployment is still so, and plans again only if it changed.
    base: str = ""
    # Hand edits (drift) this apply takes back, one line per object (`bot.core.drift`): a
    # server-side apply with force overwrites them silently, so the plan says it beforehand.
    overwrites: list[str] = Field(default_factory=list)

    def kinds_by_tier(self) -> dict[str, dict[str, int]]:
        """How many objects of each kind each tier applies, in tier order."""
        out: dict[str, dict[str, int]] = {}
        for t in self.tiers:
            counts = out.setdefault(t.name, {})
            for obj in t.objects:
                counts[str(obj.get("kind"))] = counts.get(str(obj.get("kind")), 0) + 1
        return out

    def counts(self) -> dict[str, int]:
        out = {"create": 0, "change": 0, "unchanged": 0, "prune": 0}
        for c in self.changes:
            out[c.action] += 1
        return out

    def summary(self) -> str:
        c = self.counts()
        return f"{c['create']} to create, {c['change']} to change, {c['prune']} to prune"

    @property
    def short_fingerprint(self) -> str:
        return self.fingerprint[:12]

    def inventory(self) -> list[dict[str, Any]]:
        """What a successful run of this plan leaves behind: each object's ref, tier and hash,
        kept with the deployment so the next plan can tell unchanged from changed and prune."""
        return [
            {
                "apiVersion": obj["apiVersion"],
                "kind": obj["kind"],
                "name": obj["metadata"]["name"],
                "namespace": obj["metadata"].get("namespace"),
                "tier": t.name,
                "hash": object_hash(obj),
            }
            for t in self.tiers
            for obj in t.objects
        ]


def _uid(*parts: str) -> str:
    # Deterministic ids for the system macros: the same deployment always gets the same uid.
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:24]


def macro_context(
    profile: Profile,
    tier: Tier,
    target: Target,
    outputs: Mapping[str, Mapping[str, Any]],
    *,
    placeholders: bool,
    holes: set[str] | None = None,
) -> macros.Context:
    base: dict[str, Any] = {
        "profile_name": profile.name,
        "profile_uid": _uid("profile", profile.name),
        "profile_version": profile.version,
        "deployment_name": target.deployment,
        "deployment_uid": _uid("deployment", target.cluster, target.deployment),
        "tier_name": tier.name,
        "tier_uid": _uid("tier", profile.name, tier.name),
        "cluster_name": target.cluster,
        "user_name": target.user,
        "outputs": {k: dict(v) for k, v in outputs.items()},
        "placeholders": placeholders,
        "holes": holes if holes is not None else set(),
    }
    # Parameters may themselves use system macros (e.g. NAMESPACE: "{{...tiername}}-ns").
    params_ctx = macros.Context(**base, tier_params={})
    params = {
        k: str(macros.resolve(v, params_ctx, where=f"tier {tier.name}: parameters.{k}"))
        for k, v in tier.parameters.items()
    }
    params.setdefault("NAMESPACE", f"{target.deployment}-{tier.name}-ns")
    return macros.Context(**base, tier_params=params)


def render_tier(
    profile: Profile,
    tier: Tier,
    catalog: Catalog,
    target: Target,
    *,
    outputs: Mapping[str, Mapping[str, Any]],
    charts: ChartRenderer,
    overrides: Mapping[str, Any] | None = None,
    allowed_charts: tuple[str, ...] = (),
) -> TierPlan:
    """One tier's complete objects and outputs, with holes for what only the deploy knows:
    the outputs of lower tiers not in `outputs` and the tier's generated passwords."""
    made: set[str] = set()
    mctx = macro_context(profile, tier, target, outputs, placeholders=True, holes=made)
    generated = generated_secret_params(catalog, tier)
    secrets = {name: macros.secret_hole(name) for name in generated}
    made.update(secrets.values())
    ctx, objects = _objects(profile, tier, catalog, target, mctx, secrets, charts, overrides, allowed_charts)
    if generated:
        objects = [render.generated_secret(ctx, secrets), *objects]
    specs = _output_specs(profile, tier, catalog, ctx, mctx)
    return TierPlan(
        name=tier.name,
        type=tier.type,
        namespace=ctx.namespace,
        objects=objects,
        holes=sorted(made),
        generated=generated,
        generated_secret=render.generated_secret_name(ctx) if generated else "",
        outputs=specs,
    )


def _objects(
    profile: Profile,
    tier: Tier,
    catalog: Catalog,
    target: Target,
    mctx: macros.Context,
    secrets: Mapping[str, str],
    charts: ChartRenderer,
    overrides: Mapping[str, Any] | None,
    allowed_charts: tuple[str, ...],
) -> tuple[render.RenderContext, list[dict[str, Any]]]:
    """Resolve the tier's macros against the outputs below it and render its objects."""
    namespace = mctx.tier_params["NAMESPACE"]
    props = dict(tier.properties)
    props.update(overrides or {})
    svc = catalog.get(tier.type)
    hidden = {p.name for p in svc.params if p.secret}
    where = f"tier {tier.name}: properties"
    resolved = macros.resolve({k: v for k, v in props.items() if k not in hidden}, mctx, where=where)
    for key in hidden & props.keys():
        resolved[key] = macros.resolve_secret(props[key], mctx, where=f"{where}.{key}")
    merged = catalog_mod.check_properties(tier.name, svc, resolved)
    ctx = render.RenderContext(
        deployment=target.deployment,
        tier=tier.name,
        namespace=namespace,
        profile=profile.name,
        profile_version=profile.version,
        properties=merged,
        secrets=dict(secrets),
    )
    if tier.type == "manifest":
        docs: list[str] = []
        for m in tier.manifests:
            parsed = macros.manifest_documents(tier.name, m)
            value = macros.resolve(parsed, mctx, where=f"tier {tier.name}: manifests.{m.name}")
            docs.append(yaml.safe_dump_all(value, sort_keys=False))
        return ctx, render.manifest_objects(docs, ctx)
    if tier.type == "helm":
        release = str(merged.get("releaseName") or f"{target.deployment}-{tier.name}")
        text = charts(
            str(merged["chart"]),
            release,
            namespace,
            str(merged["version"]) if merged.get("version") else None,
            dict(merged.get("values") or {}),
            allowed_charts,
        )
        return ctx, render.helm_objects(text, ctx)
    objects = render.service_objects(svc, ctx)
    return ctx, render.secret_env(objects, ctx, _secret_env_names(profile, tier, catalog))


def _output_specs(
    profile: Profile, tier: Tier, catalog: Catalog, ctx: render.RenderContext, mctx: macros.Context
) -> list[OutputSpec]:
    """Where each output of the tier will come from; names and values may hold holes."""
    sensitive = secrets_mod.secret_outputs(profile, catalog).get(tier.name, set())
    if tier.type in ("helm", "manifest"):
        out = []
        for decl in tier.outputs:
            where = f"tier {tier.name}: outputs.{decl.name}"
            spec: dict[str, Any] = {"name": decl.name, "sensitive": decl.name in sensitive}
            if decl.value is not None:
                spec["value"] = macros.resolve(decl.value, mctx, where=where)
            elif decl.service is not None:
                name = str(macros.resolve(decl.service.name, mctx, where=where))
                spec["service"] = {"name": name, "field": decl.service.field}
            elif decl.secret is not None:
                name = str(macros.resolve(decl.secret.name, mctx, where=where))
                spec["secret"] = {"name": name, "key": decl.secret.key}
            out.append(OutputSpec(**spec))
        return out
    svc = catalog.get(tier.type)
    values = render.output_values(svc, ctx)
    sources = render.output_sources(svc, ctx)
    out = []
    for o in svc.outputs:
        src = sources.get(o.name)
        out.append(
            OutputSpec(
                name=o.name,
                value=values.get(o.name),
                secret=src.secret if src is not None else None,
                service=(
                    {"name": src.service["name"], "field": src.service.get("field", "host")}
                    if src is not None and src.service is not None
                    else None
                ),
                sensitive=o.secret or o.name in sensitive,
                aliases=list(o.aliases),
            )
        )
    return out


def _secret_env_names(profile: Profile, tier: Tier, catalog: Catalog) -> set[str]:
    """The env variables of a container tier whose value uses a lower tier's secret output."""
    if tier.type != "container":
        return set()
    secret = secrets_mod.secret_outputs(profile, catalog)
    names = [t.name for t in profile.tiers]
    out: set[str] = set()
    for entry in tier.properties.get("env") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
            continue
        for ref in macros.references(entry["value"]):
            target = ref.tier_in(names) if ref.kind == "output" else None
            if target is not None and ref.output in secret.get(target, set()):
                out.add(str(entry.get("name")))
    return out


def generated_secret_params(catalog: Catalog, tier: Tier) -> list[str]:
    """Secret parameters the person left empty: generated once at the first deploy."""
    if tier.type in ("helm", "manifest"):
        return []
    svc = catalog.get(tier.type)
    return [p.name for p in svc.params if p.generate and not tier.properties.get(p.name)]


def parse_sets(sets: Mapping[str, str], profile: Profile) -> dict[str, dict[str, Any]]:
    """`--set api.replicas=3` → {"api": {"replicas": 3}}; the value is read as YAML (3 → int)."""
    out: dict[str, dict[str, Any]] = {}
    names = [t.name for t in profile.tiers]
    for key, raw in sets.items():
        tier, _, prop = key.partition(".")
        if not prop:
            raise UserError(f"--set {key}={raw}: name the tier and property, e.g. --set api.replicas=3")
        if tier not in names:
            raise UserError(
                f"--set {key}: there is no tier `{tier}`", did_you_mean(tier, names, what="tiers")
            )
        try:
            value = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError:
            value = raw
        out.setdefault(tier, {})[prop] = value
    return out


def fingerprint(payload: Any) -> str:
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _key(ref: ObjectRef) -> tuple[str, str, str, str]:
    return (ref.api_version, ref.kind, ref.namespace or "", ref.name)


def _changes(
    tiers: list[TierPlan], deployed: list[dict[str, Any]], drifted: DriftReport | None
) -> list[Change]:
    """Each rendered object created, changed or unchanged against the inventory, then the prunes.
    An object edited or deleted by hand (`drifted`) is a change or a create whatever its hash:
    the apply does change the cluster."""
    before = {(d["apiVersion"], d["kind"], d.get("namespace") or "", d["name"]): d for d in deployed}
    by_hand = {_key(o.ref): o.state for o in (drifted.objects if drifted is not None else ())}
    changes: list[Change] = []
    for tp in tiers:
        for obj in tp.objects:
            ref = ObjectRef.of(obj)
            prev = before.get(_key(ref))
            action: Literal["create", "change", "unchanged"] = "change"
            if prev is None or by_hand.get(_key(ref)) == "deleted":
                action = "create"
            elif prev.get("hash") == object_hash(obj) and _key(ref) not in by_hand:
                action = "unchanged"
            changes.append(Change(action=action, tier=tp.name, ref=ref))
    seen = {_key(c.ref) for c in changes}
    for key, d in before.items():
        if key not in seen:
            ref = ObjectRef(api_version=key[0], kind=key[1], namespace=key[2] or None, name=key[3])
            changes.append(Change(action="prune", tier=str(d.get("tier", "")), ref=ref))
    return changes


class Guard(BaseModel):
    """The cluster's guardrails and what the plan needs to apply them: the scope of each kind from
    the cluster's API discovery, and who owns a namespace (both ports; no I/O in here)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    rails: policy_mod.Guardrails
    scope: Callable[[str, str], bool | None]
    owner: Callable[[str], guardrails.Ownership]
    bot_namespace: str | None = None

    def once(self) -> Guard:
        """The same guard, asking the cluster about each namespace once (for one plan or run)."""
        return self.model_copy(update={"owner": functools.cache(self.owner)})


_RBAC_GROUP = "rbac.authorization.k8s.io"


def _scoped(tiers: list[TierPlan], guard: Guard) -> list[TierPlan]:
    """Cluster-scoped objects lose the namespace the renderer gave them (the API server would
    ignore it; a plan that shows one would mislead the approver)."""
    out = []
    for tp in tiers:
        objects = []
        for obj in tp.objects:
            if guard.scope(str(obj.get("apiVersion")), str(obj.get("kind"))) is False:
                obj = {**obj, "metadata": {k: v for k, v in obj["metadata"].items() if k != "namespace"}}
            objects.append(obj)
        out.append(tp.model_copy(update={"objects": objects}))
    return out


def _sensitive(tiers: list[TierPlan], guard: Guard | None, new_namespaces: list[str]) -> Sensitive:
    found: dict[str, list[str]] = {k: [] for k in Sensitive.model_fields}
    for tp in tiers:
        for obj in tp.objects:
            label = f"{tp.name}: {guardrails.ref_label(obj)}"
            api = str(obj.get("apiVersion", ""))
            if api.startswith(_RBAC_GROUP + "/"):
                found["rbac"].append(label)
            if obj.get("kind") == "Secret":
                found["secrets"].append(label)
            if guard is not None and guard.scope(api, str(obj.get("kind"))) is False:
                found["cluster_scoped"].append(label)
            found["images"].extend(i for i in guardrails.images_of(obj) if i not in found["images"])
            if guard is not None:
                found["pod_security"].extend(
                    f"{label}: {e}" for e in guardrails.exceptions(obj, guard.rails.pod_security)
                )
    found["namespaces"] = new_namespaces
    return Sensitive(**found)


def enforce(
    tiers: list[TierPlan],
    target: Target,
    guard: Guard,
    objects: list[tuple[str, dict[str, Any]]] | None = None,
) -> None:
    """Refuse, with every violation at once, what breaks the cluster's guardrails: the plan's
    objects, or `objects` (one tier's, filled) checked again just before they are applied."""
    ctx = guardrails.Context(
        cluster=target.cluster,
        deployment=target.deployment,
        rails=guard.rails,
        tier_namespaces={t.name: t.namespace for t in tiers},
        bot_namespace=guard.bot_namespace,
    )
    pairs = objects if objects is not None else [(t.name, obj) for t in tiers for obj in t.objects]
    found = guardrails.check(ctx, pairs, scope=guard.scope, owner=guard.owner)
    if found:
        raise guardrails.PolicyViolations(target.cluster, found)


def invalid_object(tier: str, obj: Mapping[str, Any], wrong: list[str]) -> UserError:
    return UserError(
        f"tier {tier}: {ObjectRef.of(obj).label} is not a valid Kubernetes object: {'; '.join(wrong[:3])}",
        "fix the tier's properties, chart values or manifest; nothing was applied",
    )


def _check_holes(tp: TierPlan) -> None:
    """Every hole the planner made can be filled, and no text a person wrote looks like one."""
    odd = [h for h in tp.holes if macros.HOLE.fullmatch(h) is None]
    if odd:
        raise UserError(
            f"tier {tp.name}: {odd[0]} uses an output known only at deploy time with a `default` "
            "that holds <, > or |",
            "use a default without those characters",
        )
    stray = holes.stray(tp.objects, tp.holes)
    if stray:
        raise UserError(
            f"tier {tp.name}: the text {stray[0]} is reserved for values filled at deploy time",
            "write it another way (e.g. with a space after <<), or use a macro for a lower tier's output",
        )


def build(
    profile: Profile,
    catalog: Catalog,
    target: Target,
    *,
    charts: ChartRenderer,
    sets: Mapping[str, str] | None = None,
    known_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    deployed: list[dict[str, Any]] | None = None,
    check: SchemaCheck | None = None,
    guard: Guard | None = None,
    drifted: DriftReport | None = None,
) -> Plan:
    """Render every tier with placeholders for what only the cluster knows, check it against the
    schema and the cluster's guardrails (every violation at once), diff, fingerprint.

    `deployed` is the inventory of the current deployment (refs with their tier and a hash of the
    applied object); objects no longer rendered are pruned — only ours, only what this plan lists.
    `drifted`: what was changed or deleted by hand since, which this apply takes back (listed in
    `Plan.overwrites`, and counted as changes and creates).
    """
    overrides = parse_sets(sets or {}, profile)
    guard = guard.once() if guard is not None else None
    outputs: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (known_outputs or {}).items()}
    tiers: list[TierPlan] = []
    for tier in profile.tiers:
        tp = render_tier(
            profile,
            tier,
            catalog,
            target,
            outputs=outputs,
            charts=charts,
            overrides=overrides.get(tier.name),
            allowed_charts=tuple(guard.rails.charts) if guard is not None else (),
        )
        _check_holes(tp)
        for obj in tp.objects if check else []:
            wrong = check(obj) if check else []
            if wrong:
                raise invalid_object(tier.name, obj, wrong)
        tiers.append(tp)
        # Outputs known now (a Service's name) are real values to the tiers above; the rest are holes.
        now = {s.name: s.value for s in tp.outputs if s.value is not None and not holes.found(s.value)}
        now.update({a: now[s.name] for s in tp.outputs if s.name in now for a in s.aliases})
        if tier.type not in ("helm", "manifest") and now:
            outputs.setdefault(tier.name, {}).update(now)
    if guard is not None:
        tiers = _scoped(tiers, guard)
        enforce(tiers, target, guard)
    changes = _changes(tiers, deployed or [], drifted)
    known = {d.get("namespace") for d in (deployed or [])}
    fresh = (
        sorted({t.namespace for t in tiers} - known)
        if guard is None
        else sorted({t.namespace for t in tiers if not guard.owner(t.namespace).exists} - known)
    )
    plan = Plan(
        profile=profile.name,
        version=profile.version,
        cluster=target.cluster,
        deployment=target.deployment,
        tiers=tiers,
        changes=changes,
        sensitive=_sensitive(tiers, guard, fresh),
        overwrites=[o.line for o in drifted.objects] if drifted is not None else [],
    )
    fp = fingerprint(
        {
            "profile": profile.ref,
            "cluster": target.cluster,
            "deployment": target.deployment,
            "sets": dict(sorted((sets or {}).items())),
            "tiers": [t.model_dump(mode="json") for t in tiers],
            "changes": [c.model_dump(mode="json") for c in changes],
        }
    )
    return plan.model_copy(update={"fingerprint": fp, "base": inventory_digest(deployed or [])})


def inventory_digest(inventory: list[dict[str, Any]]) -> str:
    """What a plan's changes were computed against (see `Plan.base`)."""
    return fingerprint(sorted(inventory, key=lambda d: json.dumps(d, sort_keys=True, default=str)))[:16]


def object_hash(obj: Mapping[str, Any]) -> str:
    """A stable hash of an object as rendered, labels and all; stored in the inventory."""
    return fingerprint(obj)[:16]
