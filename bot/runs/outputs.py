"""A tier's outputs: read back from the cluster as its plan says, and masked for people."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from bot.core import holes, plan
from bot.core.errors import PermanentDeployError
from bot.core.ports import Cluster
from bot.core.secrets import MASK, redact

Services = Callable[[str, str], dict[str, Any] | None]


def read(
    cluster: Cluster, tp: plan.TierPlan, below: Mapping[str, Mapping[str, Any]], hidden: set[str]
) -> dict[str, Any]:
    """The tier's outputs, as its plan says where each comes from."""
    out: dict[str, Any] = {}
    # Several outputs of a tier name the same Service (host, port, address): read it once.
    services = functools.cache(cluster.read_service)
    for spec in tp.outputs:
        found, value = _value(cluster, services, tp, spec, below, hidden)
        if not found:
            continue
        if spec.sensitive:
            hidden.add(str(value))
        for key in (spec.name, *spec.aliases):
            out[key] = value
    return out


def _value(
    cluster: Cluster,
    services: Services,
    tp: plan.TierPlan,
    spec: plan.OutputSpec,
    below: Mapping[str, Mapping[str, Any]],
    hidden: set[str],
) -> tuple[bool, Any]:
    """(whether the output has a source, its value)."""
    where = f"tier {tp.name}: outputs.{spec.name}"
    if spec.secret is not None:
        name = str(holes.fill_value(spec.secret["name"], tp.holes, below, tier=tp.name))
        data = cluster.read_secret(tp.namespace, name) or {}
        if spec.secret["key"] not in data:
            raise PermanentDeployError(
                f"{where}: Secret {tp.namespace}/{name} has no key {spec.secret['key']}"
            )
        hidden.add(str(data[spec.secret["key"]]))
        return True, data[spec.secret["key"]]
    if spec.service is not None:
        name = str(holes.fill_value(spec.service["name"], tp.holes, below, tier=tp.name))
        return True, service_field(services, tp.namespace, name, spec.service["field"], where)
    if spec.value is not None:
        return True, holes.fill_value(spec.value, tp.holes, below, tier=tp.name)
    return False, None


def service_field(services: Services, ns: str, name: str, field: str, where: str) -> str:
    svc = services(ns, name)
    if svc is None:
        raise PermanentDeployError(f"{where}: Service {ns}/{name} does not exist")
    if field == "host":
        return f"{name}.{ns}.svc.cluster.local"
    if field == "port":
        ports = (svc.get("spec") or {}).get("ports") or []
        return str(ports[0].get("port", "")) if ports else ""
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    key = "ip" if field == "externalIP" else "hostname"
    return str(ingress[0].get(key) or "") if ingress else ""


def masked(tp: plan.TierPlan, values: Mapping[str, Any], hidden: set[str]) -> dict[str, str]:
    """A tier's outputs as people see them: secret outputs masked, and secrets scrubbed from
    the rest (a DSN built from a password)."""
    secret = {k for s in tp.outputs if s.sensitive for k in (s.name, *s.aliases)}
    return {k: (MASK if k in secret else redact(str(v), hidden)) for k, v in values.items()}
