"""Ports: everything the use cases and the run loop need from the outside world.

    use cases, run loop ──▶ Profiles · Runs · Deployments · AuditLog   (bot.store)
                        ──▶ Cluster                                   (bot.kube)
                        ──▶ Charts                                    (bot.kube.helm)
                        ──▶ Clock                                     (the entry point's)
                        ──▶ Reporter  ◀── immutable events only       (bot.slack.progress)

Adapters implement them and translate; nothing in here does I/O. Tests drive the use cases and
the run loop through the same protocols (a scripted cluster, a recording reporter), and the
scripted doubles pass the contract suites the real adapters pass.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

# The error the Cluster port raises lives in the one error tree; it stays importable from here.
from bot.core.errors import ClusterError as ClusterError

if TYPE_CHECKING:
    # Annotation only: these modules build on this one (`Readiness`, `ObjectRef`), so a runtime
    # import would loop; import-linter counts these imports all the same.
    from bot.core.events import Posted, Shown
    from bot.core.guardrails import Ownership
    from bot.core.home import HomeView
    from bot.core.model import Profile
    from bot.core.readiness import FailFast
    from bot.core.records import (
        Approval,
        AuditEntry,
        Decision,
        Deployment,
        ProfileSummary,
        Run,
        RunKind,
        RunStatus,
        TierState,
        VersionKind,
        VersionRecord,
    )


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


class PodLog(BaseModel):
    """The last lines one container of a pod logged (`previous`: its crashed predecessor's).

    `note` says why there is no text when the kubelet said so instead of logging (the container
    is waiting to start); it is empty for a container that simply logged nothing yet."""

    model_config = ConfigDict(frozen=True)

    pod: str
    container: str
    previous: bool = False
    text: str = ""
    note: str = ""


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

    def read(self, ref: ObjectRef) -> dict[str, Any] | None:
        """The object as the API server holds it now; None if it does not exist (or the cluster
        no longer serves its kind). Secrets come back with `data` as stored (base64)."""
        ...

    def read_service(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    def list_owned(self, deployment: str) -> list[ObjectRef]:
        """Every object labelled `appprofile.dev/deployment=<deployment>` and managed by appprofile."""
        ...

    def delete(self, ref: ObjectRef) -> None:
        """Delete; an object that is already gone, or of a kind the cluster does not serve, is done."""
        ...

    def pod_logs(self, namespace: str, selector: Mapping[str, str], *, lines: int) -> list[PodLog]:
        """The last `lines` lines of every container of the pods `selector` matches in `namespace`
        (pods by name, containers in spec order), each container whose restartCount is above 0
        preceded by its previous (crashed) container's. A previous container the kubelet no
        longer has is left out; no pods (or no namespace) is an empty list."""
        ...


class Reporter(Protocol):
    """Where runs are shown (a Slack message updated in place, or a log). It receives events and
    answers only where it posted a new message; it never reads the store."""

    def publish(self, event: Shown) -> Posted | None: ...


class LocalTime(BaseModel):
    """The time of day now in one time zone, as change windows (`bot.core.windows`) read it."""

    model_config = ConfigDict(frozen=True)

    weekday: int = Field(ge=0, le=6)  # 0 is Monday
    minute: int = Field(ge=0, lt=24 * 60)  # minutes since local midnight
    date_text: str = ""  # for people: `Sun 2024-03-31 03:00 CEST`


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def timestamp(self, seconds_from_now: float = 0.0) -> str:
        """The time as the ISO text records hold (`2026-12-02T04:00:00Z`), for `expires_at`."""
        ...

    def local(self, timezone: str) -> LocalTime:
        """Now in the IANA time zone `timezone` (daylight saving time applied); an unknown zone
        is an `OperatorError` (the config check names them at start)."""
        ...


class Charts(Protocol):
    """`helm template`: (chart, release, namespace, version, values, allowed sources) -> YAML."""

    def __call__(
        self,
        chart: str,
        release: str,
        namespace: str,
        version: str | None,
        values: dict[str, Any],
        allowed: tuple[str, ...],
        /,
    ) -> str: ...


class Profiles(Protocol):
    def create_version(
        self,
        profile: Profile,
        *,
        actor: str,
        channel: str,
        kind: VersionKind,
        source: str | None = None,
        text: str | None = None,
    ) -> VersionRecord: ...

    def get_version(self, name: str, version: str | None = None) -> VersionRecord: ...

    def require_sealing(self, what: str) -> None:
        """Refuse (a UserError naming APPPROFILE_SECRET_KEY) to keep `what` unless it is sealed."""
        ...

    def list_profiles(self) -> list[ProfileSummary]: ...

    def list_versions(self, name: str) -> list[VersionRecord]: ...

    def latest_version(self, name: str) -> str | None: ...

    def latest_versions(self) -> dict[str, str]:
        """Every profile's newest version (one query, for lists)."""
        ...

    def delete_version(self, name: str, version: str, *, actor: str, channel: str) -> None: ...

    def delete_profile(self, name: str, *, actor: str, channel: str) -> None: ...

    def set_current(self, channel: str, name: str) -> None: ...

    def get_current(self, channel: str) -> str | None: ...


class Deployments(Protocol):
    def upsert_deployment(
        self, cluster: str, name: str, *, profile: str, version: str, channel: str, actor: str
    ) -> Deployment: ...

    def get_deployment(self, cluster: str, name: str) -> Deployment | None: ...

    def find_deployments(self, name: str) -> list[Deployment]: ...

    def list_deployments(self, cluster: str | None = None) -> list[Deployment]: ...

    def update_deployment(self, deployment_id: int, **fields: Any) -> Deployment: ...

    def drift_key(self) -> bytes:
        """The key applied fields are digested with (`bot.core.drift`): derived from
        APPPROFILE_SECRET_KEY when set, so the database alone cannot test guesses of a value."""
        ...

    def record_applied_fields(self, deployment_id: int, objects: Mapping[str, Any]) -> None:
        """Each applied object's field digests (`drift.object_key` → `drift.to_json`), replacing
        what that object had."""
        ...

    def applied_fields(self, deployment_id: int) -> dict[str, Any]:
        """What `record_applied_fields` kept for the deployment, by object key."""
        ...


class Runs(Protocol):
    def create_run(
        self,
        *,
        cluster: str,
        deployment: str,
        profile: str,
        version: str,
        kind: RunKind,
        requested_by: str,
        channel: str,
        fingerprint: str,
        plan: dict[str, Any] | None = None,
        tiers: Sequence[TierState] = (),
        options: dict[str, Any] | None = None,
        status: RunStatus = "queued",
        deployment_id: int | None = None,
        message_ts: str | None = None,
        thread_ts: str | None = None,
        expires_at: str | None = None,
    ) -> Run: ...

    def get_run(self, run_id: int) -> Run: ...

    def update_run(
        self, run_id: int, *, only_if_status: Collection[str] | None = None, **fields: Any
    ) -> Run: ...

    def runs_with_status(self, *statuses: RunStatus) -> list[Run]: ...

    def claim_next_run(
        self, cluster: str, deployment: str, *, owner: str | None = None, lease_seconds: float = 30.0
    ) -> Run | None:
        """The deployment's next queued run, now running and leased to `owner` (None: its turn
        is taken, or nothing is queued)."""
        ...

    def renew_lease(self, run_id: int, owner: str, lease_seconds: float = 30.0) -> bool:
        """False once the run's lease is no longer `owner`'s: the owner must stop driving it."""
        ...

    def expired_running_runs(self) -> list[Run]: ...

    def take_over(self, run_id: int, owner: str, lease_seconds: float = 30.0) -> Run | None:
        """A running run whose lease expired, leased to `owner`; of several callers one wins."""
        ...

    def singleton(self, name: str) -> AbstractContextManager[bool]:
        """Whether this process holds the named lock across replicas, while the block runs."""
        ...

    def queue_position(self, run_id: int) -> int: ...

    def running_run(self, cluster: str, deployment: str) -> Run | None: ...

    def latest_run(self, cluster: str, deployment: str) -> Run | None: ...

    def latest_runs(self, cluster: str | None = None) -> dict[tuple[str, str], Run]:
        """(cluster, deployment) → its newest run without its plan (one query, for lists)."""
        ...

    def runs_requested_by(self, user: str, *, limit: int) -> list[Run]:
        """The user's `limit` newest runs (any status, any deployment), newest first."""
        ...

    def pending_approval_run(self, cluster: str, deployment: str) -> Run | None: ...

    def add_approval(self, run_id: int, user: str, decision: Decision, fingerprint: str) -> bool: ...

    def approvals(self, run_id: int) -> list[Approval]: ...


class AuditLog(Protocol):
    def audit(
        self,
        actor: str,
        channel: str,
        action: str,
        target: str,
        result: str,
        detail: str = "",
        secrets: Iterable[str] = (),
        *,
        profile: str | None = None,
        cluster: str | None = None,
    ) -> None: ...

    def list_audit(
        self, limit: int = 20, profile: str | None = None, cluster: str | None = None, *, offset: int = 0
    ) -> list[AuditEntry]: ...


class HomeViews(Protocol):
    """Who opened the App Home, and whether the view about to be published to them is new."""

    def home_opened(self, user: str) -> None: ...

    def home_viewers(self) -> list[str]: ...

    def home_changed(self, user: str, digest: str) -> bool:
        """Record `digest` as `user`'s view; False when they already have it or never opened it."""
        ...

    def home_unpublished(self, user: str) -> None:
        """Publishing failed: forget the digest so the next refresh tries again."""
        ...


class HomeScreen(Protocol):
    """Where a person's App Home is shown (the Slack Home tab). It receives views only."""

    def show(self, view: HomeView, *, at_once: bool = False) -> None:
        """Show `view` to its user, coalesced with others for them unless `at_once` (an open)."""
        ...


class Repositories(Profiles, Deployments, Runs, AuditLog, HomeViews, Protocol):
    """One store holding them all (SQLite or PostgreSQL); each use case takes only what it needs."""
