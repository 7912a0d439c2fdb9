"""Turn a tier into Kubernetes objects (DESIGN §2, §4).

Service templates are ours (Jinja2, sandboxed, StrictUndefined); everything a person wrote reaches
them as data in the context and goes into the YAML through the `q` filter, which emits a quoted
YAML flow scalar. So a property holding `{{ 7*7 }}` or `": \\n- evil: 1` stays one literal string.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, NoReturn

import yaml
from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, computed_field

from bot.core import catalog
from bot.core.catalog import OutputSource, ServiceType
from bot.core.errors import UserError, kind_phrase

MANAGED_BY = "appprofile"
MANAGED_LABEL = "app.kubernetes.io/managed-by"
LABEL_DEPLOYMENT = "appprofile.dev/deployment"
LABEL_TIER = "appprofile.dev/tier"
LABEL_VERSION = "appprofile.dev/profile-version"

_ADVISORY = frozenset({"app.kubernetes.io/name", "app.kubernetes.io/instance"})
_POD_OWNERS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"})

# Longest names: Services are DNS-1035 labels (63); a StatefulSet's name goes into the
# `controller-revision-hash` label with an 11-character suffix, so it must stay within 52.
NAME_MAX = 63
# libyaml's safe loader where PyYAML was built with it (the same safe schema, ~10x faster than the
# pure-Python one): what it reads here is our own templates' output and the chart's.
FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
STS_NAME_MAX = 52


class RenderContext(BaseModel):
    """What a template sees besides its helpers. `properties` are merged with defaults and resolved."""

    model_config = ConfigDict(frozen=True)

    deployment: str
    tier: str
    namespace: str
    profile: str
    profile_version: str
    properties: dict[str, Any] = Field(default_factory=dict)
    # Values of secret params (generated, or placeholders when planning); never in a repr.
    secrets: dict[str, str] = Field(default_factory=dict, repr=False)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fullname(self) -> str:
        """Palette's tiername: the prefix of every object the tier creates."""
        return f"{self.deployment}-{self.tier}"


def _where(svc: ServiceType | None, ctx: RenderContext) -> str:
    return f"tier {ctx.tier} ({svc.type})" if svc is not None else f"tier {ctx.tier}"


def object_name(fullname: str, suffix: str = "", *, limit: int = NAME_MAX, dns1035: bool = False) -> str:
    """`<fullname>-<suffix>`, shortened deterministically (prefix + hash) when longer than `limit`."""
    name = f"{fullname}-{suffix}" if suffix else fullname
    if len(name) > limit:
        digest = hashlib.sha256(fullname.encode()).hexdigest()[:8]
        tail = f"-{digest}-{suffix}" if suffix else f"-{digest}"
        name = fullname[: max(1, limit - len(tail))].rstrip("-") + tail
    if dns1035 and not name[:1].isalpha():
        # Service names must start with a letter; deployments may start with a digit.
        name = object_name("s" + fullname, suffix, limit=limit)
    return name


def service_name(ctx: RenderContext, suffix: str = "") -> str:
    return object_name(ctx.fullname, suffix, dns1035=True)


def credentials_secret(ctx: RenderContext) -> str:
    """The Secret a database-like tier keeps its credentials in; generated params live under their
    own name as key, so the executor can read them back and reuse them on the next deploy."""
    return object_name(ctx.fullname, "credentials")


GENERATED_SUFFIX = "-generated"


def generated_secret_name(ctx: RenderContext) -> str:
    # The name every deploy since the first has used: existing passwords are found by it.
    return f"{ctx.fullname}{GENERATED_SUFFIX}"[:253]


def generated_secret(ctx: RenderContext, values: Mapping[str, str]) -> dict[str, Any]:
    """The Secret that keeps a tier's generated passwords, made once and reused by every deploy."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": generated_secret_name(ctx), "namespace": ctx.namespace},
        "type": "Opaque",
        "stringData": dict(values),
    }
    return _stamp(secret, ctx)


def kept_without_purge(kind: str, name: str) -> bool:
    """Kept by a delete unless it purges: data written with these passwords must stay readable."""
    return kind == "PersistentVolumeClaim" or (kind == "Secret" and name.endswith(GENERATED_SUFFIX))


def namespace_labels(deployment: str, tier: str, profile_version: str) -> dict[str, str]:
    """A namespace appprofile creates for a tier: marked as its own, so teardown may remove it
    and no other deployment may write into it."""
    return {
        MANAGED_LABEL: MANAGED_BY,
        LABEL_DEPLOYMENT: deployment,
        LABEL_TIER: tier,
        LABEL_VERSION: profile_version,
    }


def labels(ctx: RenderContext) -> dict[str, str]:
    return {
        MANAGED_LABEL: MANAGED_BY,
        "app.kubernetes.io/name": ctx.tier,
        "app.kubernetes.io/instance": ctx.deployment,
        LABEL_DEPLOYMENT: ctx.deployment,
        LABEL_TIER: ctx.tier,
        LABEL_VERSION: ctx.profile_version,
    }


def _stable_labels(ctx: RenderContext) -> dict[str, str]:
    # Pod templates and volumeClaimTemplates leave out the profile version: a version bump alone
    # must not restart pods, and a Job's template or a StatefulSet's claim templates are immutable.
    return {k: v for k, v in labels(ctx).items() if k != LABEL_VERSION}


def selector(ctx: RenderContext) -> dict[str, str]:
    return {"app.kubernetes.io/name": ctx.tier, "app.kubernetes.io/instance": ctx.deployment}


def secret_names(svc: ServiceType) -> list[str]:
    return [p.name for p in svc.params if p.secret]


# --- YAML quoting ---------------------------------------------------------------------------

_SAFE_CHAR = re.compile(r"[\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")


def _quote_str(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch == "\\" or ch == '"':
            out.append("\\" + ch)
        elif _SAFE_CHAR.fullmatch(ch) and ch not in "\u2028\u2029":
            out.append(ch)
        else:
            cp = ord(ch)
            out.append(f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}")
    out.append('"')
    return "".join(out)


def quote(value: Any) -> str:
    """Any JSON-like value as a YAML flow node that parses back to exactly that value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or abs(value) == float("inf"):
            return _quote_str(str(value))
        mantissa, e, exponent = repr(value).partition("e")
        # YAML 1.1 (PyYAML) reads `5e-324` as text: a float needs a dot in its mantissa.
        return (mantissa if "." in mantissa else mantissa + ".0") + e + exponent
    if isinstance(value, str):
        return _quote_str(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_quote_str(str(k))}: {quote(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(quote(v) for v in value) + "]"
    return _quote_str(str(value))


def text(value: Any) -> str:
    """A property as the string Kubernetes wants (env values, args): `true`, not `True`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def urlquote(value: Any) -> str:
    """Percent-encode for a URL's userinfo (RFC 3986 unreserved kept)."""
    return "".join(chr(b) if chr(b) in _UNRESERVED else f"%{b:02X}" for b in text(value).encode("utf-8"))


# --- template helpers -----------------------------------------------------------------------


class _Helpers:
    """Functions the templates call; each error names the tier and the property."""

    def __init__(self, svc: ServiceType | None, ctx: RenderContext) -> None:
        self.svc = svc
        self.ctx = ctx
        self.where = _where(svc, ctx)

    def fail(self, message: str, hint: str | None = None) -> NoReturn:
        raise UserError(f"{self.where}: {message}", hint)

    def secret(self, name: str) -> str:
        value = self.ctx.secrets.get(name) or self.ctx.properties.get(name)
        if value is None or value == "":
            self.fail(f"properties.{name} has no value", f"give `{name}` a value in the tier's properties")
        return text(value)

    def records(
        self, field: str, required: tuple[str, ...] = (), optional: tuple[str, ...] = ()
    ) -> list[Any]:
        items = self.ctx.properties.get(field) or []
        if not isinstance(items, list):
            self.fail(f"properties.{field} must be a list")
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                self.fail(f"properties.{field}[{i}] must be a mapping with {', '.join(required)}")
            for key in required:
                if item.get(key) in (None, ""):
                    self.fail(f"properties.{field}[{i}] needs `{key}`")
            extra = sorted(set(item) - set(required) - set(optional))
            if extra:
                known = ", ".join((*required, *optional))
                self.fail(f"properties.{field}[{i}] has unknown key `{extra[0]}`", f"known keys: {known}")
        return list(items)

    def int_list(self, field: str, lo: int, hi: int, min_items: int = 0) -> list[int]:
        items = self.ctx.properties.get(field) or []
        if not isinstance(items, list) or len(items) < min_items:
            self.fail(
                f"properties.{field} must be a list of at least {min_items} number(s) from {lo} to {hi}"
            )
        out: list[int] = []
        for i, v in enumerate(items):
            if isinstance(v, str) and v.strip().isdigit():
                v = int(v.strip())
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                self.fail(f"properties.{field}[{i}] is {v!r}; use a number from {lo} to {hi}")
            out.append(v)
        if len(set(out)) != len(out):
            self.fail(f"properties.{field} lists the same value twice")
        return out

    def str_list(self, field: str) -> list[str]:
        items = self.ctx.properties.get(field) or []
        if not isinstance(items, list) or any(isinstance(v, (dict, list)) for v in items):
            self.fail(f"properties.{field} must be a list of strings")
        return [text(v) for v in items]

    def check(self, value: Any, pattern: str, field: str, hint: str) -> str:
        if not isinstance(value, str) or not re.fullmatch(pattern, value):
            self.fail(f"{field} is {value!r}", hint)
        return value

    def resources(self) -> dict[str, Any]:
        p = self.ctx.properties
        cpu_req, cpu_lim = int(p["cpuRequest"]), int(p["cpuLimit"])
        mem_req, mem_lim = int(p["memoryRequest"]), int(p["memoryLimit"])
        if cpu_req > cpu_lim:
            self.fail(f"properties.cpuRequest ({cpu_req}m) is above cpuLimit ({cpu_lim}m)")
        if mem_req > mem_lim:
            self.fail(f"properties.memoryRequest ({mem_req}Mi) is above memoryLimit ({mem_lim}Mi)")
        return {
            "requests": {"cpu": f"{cpu_req}m", "memory": f"{mem_req}Mi"},
            "limits": {"cpu": f"{cpu_lim}m", "memory": f"{mem_lim}Mi"},
        }

    def cluster_id(self) -> str:
        # Kafka KRaft wants a 16-byte base64url id; derive it so re-renders are stable.
        digest = hashlib.sha256(f"{self.ctx.namespace}/{self.ctx.fullname}".encode()).digest()[:16]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def variables(self) -> dict[str, Any]:
        ctx = self.ctx
        return {
            "deployment": ctx.deployment,
            "tier": ctx.tier,
            "namespace": ctx.namespace,
            "profile": ctx.profile,
            "profile_version": ctx.profile_version,
            "fullname": ctx.fullname,
            "properties": ctx.properties,
            "selector": selector(ctx),
            "name": lambda suffix="": object_name(ctx.fullname, suffix),
            "sts_name": lambda suffix="": object_name(ctx.fullname, suffix, limit=STS_NAME_MAX, dns1035=True),
            "svc_name": lambda suffix="": service_name(ctx, suffix),
            "credentials_secret": credentials_secret(ctx),
            "fail": self.fail,
            "secret": self.secret,
            "records": self.records,
            "int_list": self.int_list,
            "str_list": self.str_list,
            "check": self.check,
            "resources": self.resources,
            "cluster_id": self.cluster_id,
        }


_ENV = SandboxedEnvironment(
    undefined=StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["q"] = quote
_ENV.filters["text"] = text
_ENV.filters["urlquote"] = urlquote


@functools.lru_cache(maxsize=256)
def _compile(source: str) -> Template:
    return _ENV.from_string(source)


def check_template(svc: ServiceType) -> None:
    """Compile the type's template and output expressions (a syntax error there is a bug of ours)."""
    _compile(svc.template)
    for o in svc.outputs:
        for expr in _source_strings(o.source):
            _compile(expr)


def _source_strings(src: OutputSource) -> list[str]:
    out = [src.value] if src.value is not None else []
    for ref in (src.secret, src.service):
        if ref is not None:
            out.extend(ref.values())
    return out


def _prepared(svc: ServiceType, ctx: RenderContext) -> RenderContext:
    """Properties checked again after macro resolution, defaults filled, numbers in string params
    turned into strings (so `version: 16` meets the same pattern as `"16"`)."""
    merged = catalog.check_properties(ctx.tier, svc, ctx.properties)
    kinds = {p.name: p.kind for p in svc.params}
    for key, value in merged.items():
        # `check_properties` lets `{{`-strings through as unresolved macros; here everything is
        # resolved, so such a string is plain text and cannot be a number, list or object.
        if kinds[key] != "string" and isinstance(value, str):
            raise UserError(
                f"{_where(svc, ctx)}: properties.{key} must be {kind_phrase(kinds[key])}, not text",
                svc.param(key).description or None,
            )
    fixed = {
        k: (str(v) if kinds[k] == "string" and isinstance(v, (int, float)) and not isinstance(v, bool) else v)
        for k, v in merged.items()
    }
    if fixed != merged:
        fixed = catalog.check_properties(ctx.tier, svc, fixed)
    return ctx.model_copy(update={"properties": fixed})


def _eval(source: str, svc: ServiceType, ctx: RenderContext) -> str:
    return _compile(source).render(_Helpers(svc, ctx).variables())


# --- stamping -------------------------------------------------------------------------------


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
        obj["metadata"] = meta
    return meta


def _merge_labels(meta: dict[str, Any], ours: dict[str, str]) -> None:
    # Ownership labels always win; the `app.kubernetes.io/name|instance` pair only fills a gap,
    # because a chart's or manifest's selectors may already rely on its own values.
    current = dict(meta.get("labels") or {})
    for key, value in ours.items():
        if key in _ADVISORY and key in current:
            continue
        current[key] = value
    meta["labels"] = current


def _stamp(obj: dict[str, Any], ctx: RenderContext) -> dict[str, Any]:
    meta = _meta(obj)
    _merge_labels(meta, labels(ctx))
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return obj
    kind = obj.get("kind")
    templates: list[Any] = []
    if kind in _POD_OWNERS:
        templates.append(spec.get("template"))
    if kind == "CronJob":
        job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
        templates.append(job_spec.get("template"))
    if kind == "StatefulSet":
        templates.extend(spec.get("volumeClaimTemplates") or [])
    for t in templates:
        if isinstance(t, dict):
            _merge_labels(_meta(t), _stable_labels(ctx))
    return obj


def _expand(doc: dict[str, Any]) -> list[dict[str, Any]]:
    # `kind: List` (kubectl's and some charts' output) holds the real objects in `items`.
    if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
        return [i for i in doc["items"] if isinstance(i, dict)]
    return [doc]


# --- public rendering -----------------------------------------------------------------------


def service_objects(svc: ServiceType, ctx: RenderContext) -> list[dict[str, Any]]:
    """Render a catalogue type's template into labelled Kubernetes objects."""
    ctx = _prepared(svc, ctx)
    rendered = _eval(svc.template, svc, ctx)
    objects: list[dict[str, Any]] = []
    for doc in yaml.load_all(rendered, Loader=FAST_LOADER):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise TypeError(f"template of {svc.type} produced a {type(doc).__name__}, not an object")
        objects.append(_stamp(doc, ctx))
    return objects


def output_values(svc: ServiceType, ctx: RenderContext) -> dict[str, str]:
    """Outputs known before deploy (`value` sources), aliases included."""
    ctx = _prepared(svc, ctx)
    out: dict[str, str] = {}
    for o in svc.outputs:
        if o.source.value is None:
            continue
        value = _eval(o.source.value, svc, ctx)
        out[o.name] = value
        for alias in o.aliases:
            out[alias] = value
    return out


def output_sources(svc: ServiceType, ctx: RenderContext) -> dict[str, OutputSource]:
    """Outputs read from the cluster after the tier is ready, with their Secret/Service names
    rendered (`{name: "<fullname>-credentials", key: "password"}`); keyed by output name."""
    ctx = _prepared(svc, ctx)
    out: dict[str, OutputSource] = {}
    for o in svc.outputs:
        src = o.source
        if src.secret is not None:
            out[o.name] = OutputSource(secret={k: _eval(v, svc, ctx) for k, v in src.secret.items()})
        elif src.service is not None:
            out[o.name] = OutputSource(service={k: _eval(v, svc, ctx) for k, v in src.service.items()})
    return out


def _parse_docs(text_: str, ctx: RenderContext, what: str) -> list[dict[str, Any]]:
    try:
        docs = list(yaml.load_all(text_, Loader=FAST_LOADER))
    except yaml.YAMLError as exc:
        raise UserError(
            f"tier {ctx.tier}: {what} is not valid YAML: {exc}", "check indentation and quoting"
        ) from None
    objects: list[dict[str, Any]] = []
    for i, doc in enumerate(docs, start=1):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise UserError(
                f"tier {ctx.tier}: {what}, document {i} is a {type(doc).__name__}, not a Kubernetes object"
            )
        for obj in _expand(doc):
            meta = obj.get("metadata")
            if (
                not obj.get("apiVersion")
                or not obj.get("kind")
                or not isinstance(meta, dict)
                or not meta.get("name")
            ):
                raise UserError(
                    f"tier {ctx.tier}: {what}, document {i} needs apiVersion, kind and metadata.name"
                )
            objects.append(obj)
    return objects


def manifest_objects(docs: list[str], ctx: RenderContext) -> list[dict[str, Any]]:
    """A manifest tier's documents (macros resolved) as labelled objects. Objects without a
    namespace get the tier's; which kinds are cluster-scoped only the cluster knows, so the plan
    (`plan.build` with a `Guard`) drops the namespace of those and the guardrails judge them."""
    objects: list[dict[str, Any]] = []
    for n, doc in enumerate(docs, start=1):
        for obj in _parse_docs(doc, ctx, f"manifest #{n}"):
            _meta(obj).setdefault("namespace", ctx.namespace)
            objects.append(_stamp(obj, ctx))
    return objects


def helm_objects(manifest_yaml: str, ctx: RenderContext) -> list[dict[str, Any]]:
    """`helm template` output as labelled objects, namespaced as manifest objects are."""
    objects: list[dict[str, Any]] = []
    for obj in _parse_docs(manifest_yaml, ctx, "the chart's output"):
        if not _meta(obj).get("namespace"):
            obj["metadata"]["namespace"] = ctx.namespace
        objects.append(_stamp(obj, ctx))
    return objects


_POD_TEMPLATE_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job"})


def secret_env(objects: list[dict[str, Any]], ctx: RenderContext, names: set[str]) -> list[dict[str, Any]]:
    """Env variables whose value comes from a secret output (a database PASSWORD) become a
    `secretKeyRef` to a Secret in the tier's own namespace (a reference cannot cross namespaces),
    never a literal in the workload's spec that anyone who may read Deployments could read."""
    secret_name = object_name(ctx.fullname, "env")
    values: dict[str, str] = {}
    workloads = []
    for obj in objects:
        if obj.get("kind") not in _POD_TEMPLATE_KINDS:
            continue
        workloads.append(obj)
        spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
        for container in spec.get("containers") or []:
            for entry in container.get("env") or []:
                if entry.get("name") in names and "value" in entry:
                    values[entry["name"]] = text(entry.pop("value"))
                    entry["valueFrom"] = {"secretKeyRef": {"name": secret_name, "key": entry["name"]}}
    if not values:
        return objects
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": secret_name, "namespace": ctx.namespace},
        "type": "Opaque",
        "stringData": values,
    }
    for obj in workloads:
        _meta(obj["spec"]["template"]).setdefault("annotations", {})[ENV_CHECKSUM] = secret_name
    return stamp_env_checksum([_stamp(secret, ctx), *objects])


ENV_CHECKSUM = "appprofile.dev/env-checksum"


def stamp_env_checksum(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A changed secret env value must still roll the pods: each workload `secret_env` marked
    carries a digest of its env Secret's values. Stamped when the tier is rendered (over the
    plan's holes) and again when the holes are filled (over the real values)."""
    values = {
        str(obj["metadata"]["name"]): obj.get("stringData") or {}
        for obj in objects
        if obj.get("kind") == "Secret"
    }
    out = []
    for obj in objects:
        name = _env_secret_of(obj)
        if name is not None and name in values:
            obj = copy.deepcopy(obj)
            digest = hashlib.sha256(json.dumps(values[name], sort_keys=True).encode()).hexdigest()[:16]
            _meta(obj["spec"]["template"])["annotations"][ENV_CHECKSUM] = digest
        out.append(obj)
    return out


def _env_secret_of(obj: Mapping[str, Any]) -> str | None:
    """The env Secret a workload's checksum is over: marked by `secret_env`, named in its env."""
    template = (obj.get("spec") or {}).get("template") or {}
    if ENV_CHECKSUM not in ((template.get("metadata") or {}).get("annotations") or {}):
        return None
    for container in (template.get("spec") or {}).get("containers") or []:
        for entry in container.get("env") or []:
            ref = (entry.get("valueFrom") or {}).get("secretKeyRef") or {}
            if str(ref.get("name", "")).endswith("-env"):  # `object_name(fullname, "env")`
                return str(ref["name"])
    return None
