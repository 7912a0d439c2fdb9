"""Ports: what the executor and the use cases need from the outside world.

Adapters (`bot.kube`, `bot.store`, `bot.slack`) implement them; tests drive the executor
through scripted implementations of the same protocols.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict

# The error the Cluster port raises lives in the one error tree; it stays importable from here.
from bot.core.errors import ClusterError as ClusterError

if TYPE_CHECKING:
    # Annotation only: readiness builds on this module's `Readiness`, so a runtime import would loop.
    from bot.core.guardrails import Ownership
    from bot.core.readiness import FailFast


class ObjectRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    api_version: str
    kind: str
    name: str
    namespace: str | None = None

    @property
    def label(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {ns}{self.name}"

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectRef:
        meta = obj.get("metadata") or {}
        return cls(
            api_version=str(obj.get("apiVersion", "")),
            kind=str(obj.get("kind", "")),
            name=str(meta.get("name", "")),
            namespace=meta.get("namespace"),
        )


class Readiness(BaseModel):
    """One object's state after a wait: ready, still waiting (with why), or failed (with why)."""

    model_config = ConfigDict(frozen=True)

    ready: bool
    failed: bool = False
    message: str = ""


class Cluster(Protocol):
    """One Kubernetes cluster, as the executor sees it."""

    name: str

    def ensure_namespace(self, name: str, labels: Mapping[str, str]) -> None: ...

    def apply(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Server-side apply with field manager `appprofile`; returns the object as stored."""
        ...

    def wait_ready(
        self,
        ref: ObjectRef,
        *,
        timeout: float,
        on_progress: Callable[[str], None] | None = None,
        fail_fast: FailFast | None = None,
    ) -> Readiness:
        """Block until the object is ready, failed, or `timeout` seconds pass (then not ready).

        A workload that is not ready has its pods looked at; a pod state that needs a person
        (per `fail_fast`, else the cluster's own default) fails the wait at once. The message
        says why, without the object's label or the timeout: the caller knows both.
        `on_progress` receives a short line ("0/1 ready — api-7d9f…: ImagePullBackOff: …")
        whenever it changes.
        """
        ...

    def scope(self, api_version: str, kind: str) -> bool | None:
        """True if the cluster serves the kind namespaced, False if cluster-scoped, None if it does
        not serve it at all (for example a CRD that is not installed)."""
        ...

    def namespace_owner(self, name: str) -> Ownership:
        """Whether the namespace exists and which deployment (if any) appprofile created it for."""
        ...

    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        """A Secret's decoded data, or None if it does not exist."""
        ...

    def read_service(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    def list_owned(self, deployment: str) -> list[ObjectRef]:
        """Every object labelled `appprofile.dev/deployment=<deployment>` and managed by appprofile."""
        ...

    def delete(self, ref: ObjectRef) -> None:
        """Delete; an object that is already gone, or of a kind the cluster does not serve, is done."""
        ...


class Reporter(Protocol):
    """Where a run's progress is shown (a Slack message updated in place, or a log)."""

    def started(self, run_id: int) -> tuple[str, str] | None:
        """Post the progress message for a run; return (channel, ts) to update later, if any."""
        ...

    def changed(self, run_id: int) -> None:
        """The run's persisted state changed; redraw (the adapter may coalesce redraws)."""
        ...

    def finished(self, run_id: int) -> None:
        """The run ended; draw the final state now, with its buttons."""
        ...

    def detail(self, run_id: int, text: str) -> None:
        """Add detail (a failure's full message, pod reasons) to the progress message's thread."""
        ...

    def approval(self, run_id: int) -> None:
        """Post the run's approval card, or redraw it (approvals so far, or a terminal state)."""
        ...
