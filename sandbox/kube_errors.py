"""Kubernetes Status answers: what the API server sends when a request is refused."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.kube_kinds import Kind


def status_body(
    code: int, reason: str, message: str, details: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Status",
        "metadata": {},
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
        "details": dict(details or {}),
    }


class ApiError(Exception):
    """A Kubernetes Status answer (the request is wrong, not the emulator)."""

    def __init__(self, code: int, reason: str, message: str, details: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.body = status_body(code, reason, message, details)
        self.code = code


def not_found(kind: Kind, name: str) -> ApiError:
    res = f"{kind.plural}.{kind.group}" if kind.group else kind.plural
    return ApiError(404, "NotFound", f'{res} "{name}" not found', {"name": name, "kind": kind.plural})
