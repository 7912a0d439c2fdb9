"""Which kinds go first inside a tier, and which a tier waits for before it counts as ready."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Apply order inside a tier (after Helm's kind sorter): what others refer to goes first.
KIND_ORDER = [
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "PersistentVolumeClaim",
    "Role",
    "RoleBinding",
    "Service",
    "DaemonSet",
    "Pod",
    "Deployment",
    "StatefulSet",
    "HorizontalPodAutoscaler",
    "Job",
    "CronJob",
    "Ingress",
]
WAIT_KINDS = {"Deployment", "StatefulSet", "Job", "PersistentVolumeClaim", "Service", "DaemonSet"}


def kind_rank(obj: Mapping[str, Any]) -> int:
    kind = str(obj.get("kind", ""))
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
