"""Every built-in Kubernetes resource, with its true scope, derived from the official client.

A hand-kept list drifted from the real API server (CertificateSigningRequest served as namespaced,
FlowSchema missing, ...). The generated `kubernetes.client.api` modules carry each operation's REST
path, so the truth is read from there: a resource is namespaced iff a
`/namespaces/{namespace}/<plural>` collection path exists, and its kind is the model of the list
operation (`V1PodList` → `Pod`) or, for create-only resources (reviews), of the create body.
`cross_check()` compares the result with the kinds kubernetes-validate's schemas declare.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import json
import pkgutil
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import kubernetes
from kubernetes.client import api as k8s_api


@dataclasses.dataclass(frozen=True)
class Kind:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


# A collection path: /api/v1[/namespaces/{namespace}]/<plural> or the same under /apis/<g>/<v>.
_COLLECTION = re.compile(
    r"^/(?:api/(?P<core>v1)|apis/(?P<group>[a-z0-9.-]+)/(?P<version>v[a-z0-9]+))"
    r"/(?P<ns>namespaces/\{namespace\}/)?(?P<plural>[a-z0-9]+)$"
)
_SERIALIZE = re.compile(r"method='(?P<method>[A-Z]+)',\s*resource_path='(?P<path>[^']+)'")
_MODEL = re.compile(r"^V\d+(?:alpha\d+|beta\d+)?(?P<kind>[A-Z]\w*)$")
# The schema release matching the client (client 37.x is Kubernetes 1.37): older releases lack
# the newer kinds the client already serves.
_SCHEMA = "kubernetes-json-schema/v1.{minor}.0-local-strict/_definitions.json"


def _operations(source: str) -> dict[str, tuple[str, str]]:
    """Public operation name → (HTTP method, REST path), from one generated api module."""
    ops: dict[str, tuple[str, str]] = {}
    for chunk in source.split("\n    def _")[1:]:
        name = chunk.split("(", 1)[0]
        m = _SERIALIZE.search(chunk)
        if name.endswith("_serialize") and m:
            ops[name.removesuffix("_serialize")] = (m["method"], m["path"])
    return ops


def _models(source: str) -> dict[str, str]:
    """Public operation name → the model it lists (without `List`) or, failing that, its body."""
    models: dict[str, str] = {}
    for chunk in source.split("\n    def ")[1:]:
        name = chunk.split("(", 1)[0]
        answer = re.search(r"'20[01]': \"(\w+)\"", chunk)
        body = re.search(r"\n\s+body: (\w+),", chunk)
        if answer and answer[1].endswith("List"):
            models.setdefault(name, answer[1].removesuffix("List"))
        elif body:
            models.setdefault(name, body[1])
    return models


def _kinds_in(source: str) -> dict[tuple[str, str, str], tuple[str, bool]]:
    """(group, version, plural) → (kind, namespaced) for the collections of one api module."""
    found: dict[tuple[str, str, str], tuple[str, bool]] = {}
    models = _models(source)
    for name, (method, path) in _operations(source).items():
        m = _COLLECTION.match(path)
        model = _MODEL.match(models.get(name, ""))
        if not m or not model or method not in ("GET", "POST"):
            continue
        key = ("" if m["core"] else m["group"], m["core"] or m["version"], m["plural"])
        kind, namespaced = found.get(key, (model["kind"], False))
        found[key] = (kind, namespaced or bool(m["ns"]))
    return found


@functools.cache
def builtin_kinds() -> tuple[Kind, ...]:
    """Every built-in resource the installed client knows, sorted by group, version, plural."""
    found: dict[tuple[str, str, str], tuple[str, bool]] = {}
    for info in pkgutil.iter_modules(k8s_api.__path__):
        module = importlib.import_module(f"{k8s_api.__name__}.{info.name}")
        if module.__file__:
            found.update(_kinds_in(Path(module.__file__).read_text(encoding="utf-8")))
    return tuple(Kind(g, v, p, kind, ns) for (g, v, p), (kind, ns) in sorted(found.items()))


def schema_kinds() -> set[tuple[str, str, str]]:
    """(group, version, kind) of every object kubernetes-validate's schemas describe."""
    import kubernetes_validate  # only the cross-check needs it

    minor = str(kubernetes.__version__).split(".", 1)[0]
    path = Path(kubernetes_validate.__file__).parent / _SCHEMA.format(minor=minor)
    defs = json.loads(path.read_text(encoding="utf-8"))["$defs"]
    return {
        (gvk["group"], gvk["version"], gvk["kind"])
        for schema in defs.values()
        for gvk in schema.get("x-kubernetes-group-version-kind", [])
    }


def cross_check() -> set[tuple[str, str, str]]:
    """Kinds the client serves that kubernetes-validate's schemas do not know (none expected)."""
    return {(k.group, k.version, k.kind) for k in builtin_kinds()} - schema_kinds()


_STAGE = {"alpha": 0, "beta": 1, "": 2}
_VERSION = re.compile(r"^v(\d+)(alpha|beta)?(\d*)$")


def version_rank(version: str) -> tuple[int, int, int]:
    """Kubernetes' version priority as a sort key: GA before beta before alpha, newer first."""
    m = _VERSION.match(version)
    if not m:
        return (-1, 0, 0)
    return (_STAGE[m[2] or ""], int(m[1]), int(m[3] or 0))


def crd_kinds(crd: Mapping[str, Any]) -> list[Kind]:
    """The kinds an apiextensions.k8s.io/v1 CustomResourceDefinition serves."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, plural, kind = spec.get("group"), names.get("plural"), names.get("kind")
    if not (group and plural and kind):
        return []
    namespaced = spec.get("scope", "Namespaced") == "Namespaced"
    return [
        Kind(str(group), str(v["name"]), str(plural), str(kind), namespaced)
        for v in spec.get("versions") or []
        if isinstance(v, dict) and v.get("name") and v.get("served", True)
    ]


class Registry:
    """The kinds one emulator serves: every built-in one, and those its CRDs define."""

    def __init__(self) -> None:
        self._kinds = {(k.group, k.version, k.plural): k for k in builtin_kinds()}
        self._crds: dict[str, list[Kind]] = {}

    def all(self) -> list[Kind]:
        return sorted(self._kinds.values(), key=lambda k: (k.group, k.version, k.plural))

    def served(self, group: str, version: str, plural: str) -> Kind | None:
        return self._kinds.get((group, version, plural))

    def preferred(self, candidates: list[Kind]) -> Kind | None:
        # The core group wins a name clash (Event is v1 before events.k8s.io), as kubectl does.
        ordered = sorted(candidates, key=lambda k: (k.group != "", k.group, _neg(version_rank(k.version))))
        return ordered[0] if ordered else None

    def lookup(self, name: str, api_version: str | None = None) -> Kind:
        """A kind by its Kind or plural name, in `api_version` if given, else its preferred one."""
        found = [
            k
            for k in self._kinds.values()
            if name in (k.kind, k.plural) and api_version in (None, k.api_version)
        ]
        kind = self.preferred(found)
        if kind is None:
            raise KeyError(f"unknown kind {name!r}" + (f" in {api_version}" if api_version else ""))
        return kind

    def storage_kind(self, group: str, plural: str) -> Kind | None:
        return self.preferred([k for k in self._kinds.values() if (k.group, k.plural) == (group, plural)])

    def define(self, name: str, crd: Mapping[str, Any]) -> None:
        self.undefine(name)
        kinds = [k for k in crd_kinds(crd) if (k.group, k.version, k.plural) not in self._kinds]
        self._crds[name] = kinds
        self._kinds.update({(k.group, k.version, k.plural): k for k in kinds})

    def undefine(self, name: str) -> list[Kind]:
        kinds = self._crds.pop(name, [])
        for k in kinds:
            self._kinds.pop((k.group, k.version, k.plural), None)
        return kinds


def _neg(rank: tuple[int, int, int]) -> tuple[int, int, int]:
    return (-rank[0], -rank[1], -rank[2])
