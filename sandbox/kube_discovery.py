"""API discovery documents (/api/v1, /apis, /apis/<group>[/<version>]) for the served kinds.

Served here rather than by kmock: kmock 0.8 picks a group's preferred version from a set (so at
random between e.g. autoscaling/v1 and v2) and cannot forget a resource once a CRD is deleted.
"""

from __future__ import annotations

from typing import Any

from sandbox.kube_kinds import Kind, version_rank

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
# Subresources the emulator answers, beyond `status` which every kind has.
SUBRESOURCES = {("", "pods"): ["log"]}


def _resource(k: Kind, sub: str | None = None) -> dict[str, Any]:
    return {
        "name": f"{k.plural}/{sub}" if sub else k.plural,
        "singularName": "" if sub else k.kind.lower(),
        "namespaced": k.namespaced,
        "kind": k.kind,
        "verbs": ["get"] if sub == "log" else ["get", "patch", "update"] if sub else list(VERBS),
    }


def resource_list(kinds: list[Kind], group: str, version: str) -> dict[str, Any] | None:
    """The APIResourceList of one group version, or None when nothing is served there."""
    served = [k for k in kinds if (k.group, k.version) == (group, version)]
    if not served:
        return None
    resources = []
    for k in served:
        resources.append(_resource(k))
        for sub in ["status", *SUBRESOURCES.get((k.group, k.plural), [])]:
            resources.append(_resource(k, sub))
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


def _versions(kinds: list[Kind], group: str) -> list[str]:
    found = {k.version for k in kinds if k.group == group}
    return sorted(found, key=version_rank, reverse=True)


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_group(kinds: list[Kind], group: str) -> dict[str, Any] | None:
    versions = _versions(kinds, group)
    if not versions or not group:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(group, versions)}


def api_group_list(kinds: list[Kind]) -> dict[str, Any]:
    groups = sorted({k.group for k in kinds if k.group})
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group(g, _versions(kinds, g)) for g in groups],
    }
