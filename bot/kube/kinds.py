"""Every built-in Kubernetes kind with its scope, read off the official client (never hand-kept).

The generated API modules of the `kubernetes` package hold, per kind, a `create_…` method whose
docstring says "create a <Kind>" and whose request goes to the collection path: namespaced kinds
live under `/namespaces/{namespace}/<plural>`. That is the API server's own OpenAPI surface, so it
is what `appprofile render --cluster` uses offline; a live cluster's discovery decides at deploy
time (and knows its CRDs).
"""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from bot.core.errors import OperatorError

# Found without importing the 60 generated modules (the client loads them lazily on purpose).
_SPEC = importlib.util.find_spec("kubernetes.client.api")
_API_DIR = Path(_SPEC.origin).parent if _SPEC and _SPEC.origin else Path()
_CREATE = re.compile(r"def create_(namespaced_)?(\w+?)\(\s*self,.*?\"\"\"create_\w+\s+create an? (\w+)", re.S)
_SERIALIZE = re.compile(
    r"def _create_(namespaced_)?(\w+?)_serialize\(.*?method='POST',\s*resource_path='([^']+)'", re.S
)
_PATH = re.compile(
    r"^/(?:api|apis/(?P<group>[^/]+))/(?P<version>[^/]+)/(?:namespaces/\{namespace\}/)?(?P<plural>[a-z0-9]+)$"
)


class Kind(BaseModel):
    model_config = ConfigDict(frozen=True)

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def _kinds_in(source: str) -> list[Kind]:
    names = {(bool(ns), snake): kind for ns, snake, kind in _CREATE.findall(source)}
    out = []
    for ns, snake, path in _SERIALIZE.findall(source):
        m = _PATH.match(path)
        kind = names.get((bool(ns), snake))
        if m is None or kind is None:
            continue  # subresource creations (bindings, evictions, token reviews) have no kind of their own
        out.append(
            Kind(
                group=m.group("group") or "",
                version=m.group("version"),
                kind=kind,
                plural=m.group("plural"),
                namespaced=bool(ns),
            )
        )
    return out


@functools.cache
def builtin() -> tuple[Kind, ...]:
    """Every built-in kind; a client package without its API modules is a broken install."""
    found: dict[tuple[str, str, str], Kind] = {}
    modules = sorted(_API_DIR.glob("*_api.py")) if _SPEC else []
    try:
        for module in modules:
            for k in _kinds_in(module.read_text(encoding="utf-8")):
                found.setdefault((k.group, k.version, k.kind), k)
    except (OSError, UnicodeDecodeError) as e:
        raise OperatorError(f"cannot read the kubernetes client's API modules in {_API_DIR}: {e}") from None
    if not found:
        raise OperatorError(
            f"the kubernetes client's API modules are missing from {_API_DIR or '(not found)'}",
            "reinstall the bot with its pinned `kubernetes` package",
        )
    return tuple(sorted(found.values(), key=lambda k: (k.group, k.version, k.kind)))


def scope(api_version: str, kind: str) -> bool | None:
    """True namespaced, False cluster-scoped, None: not a built-in kind (a CRD, or a typo)."""
    group, _, version = api_version.rpartition("/")
    for k in builtin():
        if (k.group, k.version, k.kind) == (group, version, kind):
            return k.namespaced
    return None
