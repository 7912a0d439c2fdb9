"""Impersonation and a small authorizer, so tests see the API server's own 403 for a deployer
identity that lacks a permission (the RBAC objects themselves are stored, never evaluated).

Only impersonated requests are authorized: the emulator's caller without `Impersonate-User` is
the cluster admin, as a kubeconfig's admin user is. Without an authorizer everything is allowed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from multidict import CIMultiDictProxy


@dataclasses.dataclass(frozen=True)
class Attributes:
    """What the Kubernetes authorizer is asked about one request."""

    user: str
    groups: tuple[str, ...]
    verb: str
    group: str
    resource: str
    subresource: str | None = None
    namespace: str | None = None
    name: str | None = None


Authorizer = Callable[[Attributes], bool]


@dataclasses.dataclass(frozen=True)
class Impersonation:
    """One request's `Impersonate-*` headers, as recorded."""

    user: str
    groups: tuple[str, ...]
    method: str
    path: str


def impersonated(headers: CIMultiDictProxy[str]) -> tuple[str, tuple[str, ...]] | None:
    user = headers.get("Impersonate-User")
    if not user:
        return None
    # Each header line is one group; the API server does not split values on commas.
    return user, tuple(headers.getall("Impersonate-Group", ()))


def verb_of(method: str, named: bool, watching: bool) -> str:
    if watching:
        return "watch"
    verbs = {"GET": "get" if named else "list", "POST": "create", "PUT": "update", "PATCH": "patch"}
    return verbs.get(method) or ("delete" if named else "deletecollection")


@dataclasses.dataclass(frozen=True)
class Grant:
    """RBAC-like: `subject` (a user or one of its groups) may use `verbs` on `resources`
    ("pods", "pods/log", "rolebindings.rbac.authorization.k8s.io", "*") in `namespace`
    (None: every namespace and the cluster scope)."""

    subject: str
    verbs: frozenset[str]
    resources: frozenset[str]
    namespace: str | None = None

    def allows(self, a: Attributes) -> bool:
        if self.subject not in (a.user, *a.groups):
            return False
        if self.namespace is not None and a.namespace != self.namespace:
            return False
        return ("*" in self.verbs or a.verb in self.verbs) and any(_covers(r, a) for r in self.resources)


def _covers(rule: str, a: Attributes) -> bool:
    name, _, group = rule.partition(".")
    if group and group != a.group:
        return False
    wanted = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    return name in ("*", wanted)


class Grants:
    """An authorizer made of grants; everything not granted is forbidden."""

    def __init__(self) -> None:
        self._grants: list[Grant] = []

    def add(
        self, subject: str, verbs: Iterable[str], resources: Iterable[str], namespace: str | None
    ) -> None:
        self._grants.append(Grant(subject, frozenset(verbs), frozenset(resources), namespace))

    def __call__(self, a: Attributes) -> bool:
        return any(g.allows(a) for g in self._grants)


def forbidden(a: Attributes) -> tuple[str, Mapping[str, Any]]:
    """The API server's wording of a 403 for `a`, and the Status details."""
    qualified = f"{a.resource}.{a.group}" if a.group else a.resource
    wanted = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    named = f' "{a.name}"' if a.name else ""
    scope = f'in the namespace "{a.namespace}"' if a.namespace else "at the cluster scope"
    message = (
        f'{qualified}{named} is forbidden: User "{a.user}" cannot {a.verb} resource "{wanted}" '
        f'in API group "{a.group}" {scope}'
    )
    details: dict[str, Any] = {"group": a.group, "kind": a.resource}
    if a.name:
        details["name"] = a.name
    return message, details
