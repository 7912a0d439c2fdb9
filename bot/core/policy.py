"""Who may do what, where (DESIGN §5): the `APPPROFILE_CONFIG` file as data, and its rules."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.core import windows as change_windows
from bot.core.errors import Forbidden, NotFound, UserError, did_you_mean
from bot.core.ports import LocalTime
from bot.core.windows import Window as Window

Action = Literal["create", "version", "clone", "delete", "deploy"]
ACTIONS: tuple[Action, ...] = ("create", "version", "clone", "delete", "deploy")
_ID_RE = re.compile(r"^(\*|[UWS][A-Z0-9]{2,20})$")
_DURATION_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(text: str) -> int:
    """`2h`, `90m`, `1h30m`, `45s`, `1d` → seconds."""
    m = _DURATION_RE.match(text.strip())
    if not text.strip() or not m or not any(m.groups()):
        raise ValueError(f"{text!r} is not a duration; use e.g. 30m, 2h, 1h30m or 1d")
    d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    return d * 86400 + h * 3600 + mi * 60 + s


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    required: int = Field(default=1, ge=1, le=10)
    approvers: list[str] = Field(min_length=1)
    self_approval: bool = False
    expires_after: int = 7200

    @field_validator("expires_after", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> int:
        seconds = v if isinstance(v, int) else parse_duration(str(v))
        if not 60 <= seconds <= 7 * 86400:
            raise ValueError("expires_after must be between 1m and 7d")
        return seconds

    @field_validator("approvers")
    @classmethod
    def _ids(cls, v: list[str]) -> list[str]:
        for a in v:
            if not _ID_RE.match(a) or a == "*":
                raise ValueError(
                    f"approver {a!r} must be a Slack user id (U…/W…) or usergroup id (S…); "
                    "find it in the person's or group's profile"
                )
        return v


MIN_DRIFT_CHECK = 60  # each check reads every applied object of every deployment on the cluster

PodSecurityLevel = Literal["privileged", "baseline", "restricted"]
# Namespaces no profile writes into, whatever a cluster's config says.
RESERVED_NAMESPACES: tuple[str, ...] = ("kube-system", "kube-public", "kube-node-lease", "default")
# `forbidden_kinds` entries of this form refuse one type of Secret, not every Secret.
SECRET_TYPE_PREFIX = "Secret:"
_KIND_RE = re.compile(r"^[A-Z][A-Za-z0-9]{0,62}(\.[a-z0-9.-]+)?$")


class Guardrails(BaseModel):
    """What a profile may create on one cluster (`clusters.<name>.guardrails`). The defaults
    refuse everything a deployer could use to act beyond its own namespaces."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Globs of namespaces tiers may write into; empty: the deployment's own tier namespaces only.
    namespaces: list[str] = Field(default_factory=list)
    # Cluster-scoped kinds a profile may create (`Kind` or `Kind.group`); empty: none.
    cluster_scoped: list[str] = Field(default_factory=list)
    # Namespaced kinds refused; `Secret:<type>` refuses Secrets of that type only.
    forbidden_kinds: list[str] = Field(
        default_factory=lambda: ["Role", "RoleBinding", "Secret:kubernetes.io/service-account-token"]
    )
    pod_security: PodSecurityLevel = "baseline"
    # Globs of chart references; empty: the bot's own charts, and https:// or oci:// references
    # whose host resolves only to public addresses.
    charts: list[str] = Field(default_factory=list)
    # Globs of images every container and init container must match; None: any image.
    images: list[str] | None = None

    @field_validator("namespaces")
    @classmethod
    def _namespaces(cls, v: list[str]) -> list[str]:
        for glob in v:
            if not re.fullmatch(r"[a-z0-9*?\[\]-]{1,63}", glob):
                raise ValueError(f"namespaces: {glob!r} is not a namespace glob (a-z, 0-9, '-', '*', '?')")
        return v

    @field_validator("cluster_scoped", "forbidden_kinds")
    @classmethod
    def _kinds(cls, v: list[str]) -> list[str]:
        for entry in v:
            kind = entry.removeprefix(SECRET_TYPE_PREFIX) if entry.startswith(SECRET_TYPE_PREFIX) else entry
            if entry.startswith(SECRET_TYPE_PREFIX):
                if not kind:
                    raise ValueError(f"{entry!r}: name the Secret type, e.g. Secret:kubernetes.io/tls")
            elif not _KIND_RE.match(kind):
                raise ValueError(
                    f"{entry!r} is not a kind: write it as `Kind` or `Kind.group`, e.g. ClusterRole"
                )
        return v


class Impersonate(BaseModel):
    """Send every request for the cluster as this identity (Kubernetes impersonation): the
    cluster's own RBAC then decides, as the last line behind the guardrails."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str = Field(min_length=1, max_length=253)
    groups: list[str] = Field(default_factory=list)


class ClusterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    context: str | None = None
    in_cluster: bool = False
    channels: list[str] = Field(default_factory=list)
    approval: Approval | None = None
    guardrails: Guardrails = Field(default_factory=Guardrails)
    impersonate: Impersonate | None = None
    # Change windows: deploys are refused inside any of them unless overridden (`check_window`).
    windows: list[Window] = Field(default_factory=list)
    # Seconds between drift checks of this cluster's deployments (`15m`); None: only on `status`.
    drift_check: int | None = None

    @field_validator("drift_check", mode="before")
    @classmethod
    def _drift_interval(cls, v: Any) -> int | None:
        if v is None:
            return None
        seconds = v if isinstance(v, int) else parse_duration(str(v))
        if not MIN_DRIFT_CHECK <= seconds <= 86400:
            raise ValueError("drift_check must be between 1m and 1d (e.g. 15m)")
        return seconds

    @model_validator(mode="after")
    def _target(self) -> ClusterConfig:
        if self.in_cluster and self.context:
            raise ValueError("give either `context` or `in_cluster: true`, not both")
        if (
            self.approval
            and self.approval.required > len(self.approval.approvers)
            and not any(a.startswith("S") for a in self.approval.approvers)
        ):
            raise ValueError(
                f"approval.required is {self.approval.required} but only "
                f"{len(self.approval.approvers)} approvers are listed"
            )
        return self


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    clusters: dict[str, ClusterConfig] = Field(default_factory=dict)
    access: dict[Action, list[str]] = Field(default_factory=dict)

    @field_validator("clusters")
    @classmethod
    def _names(cls, v: dict[str, ClusterConfig]) -> dict[str, ClusterConfig]:
        for name in v:
            if not re.match(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", name):
                raise ValueError(f"cluster name {name!r} must be a DNS label (lowercase, digits, '-')")
        return v

    @field_validator("access")
    @classmethod
    def _access(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for action, ids in v.items():
            for i in ids:
                if not _ID_RE.match(i):
                    raise ValueError(
                        f'access.{action}: {i!r} must be "*", a user id (U…) or usergroup id (S…)'
                    )
        return v

    def cluster(self, name: str) -> ClusterConfig:
        try:
            return self.clusters[name]
        except KeyError:
            if not self.clusters:
                raise NotFound(
                    f"no cluster named `{name}` is configured",
                    "no clusters are configured yet: add them under `clusters:` in APPPROFILE_CONFIG",
                ) from None
            raise NotFound(
                f"no cluster named `{name}` is configured", did_you_mean(name, self.clusters, what="clusters")
            ) from None


def _loc(parts: tuple[int | str, ...]) -> str:
    """`("clusters", "prod", "windows", 0, "deny")` → `clusters.prod.windows[0].deny`."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def load(
    text: str,
    *,
    source: str = "APPPROFILE_CONFIG",
    known_timezone: Callable[[str], bool] | None = None,
) -> Config:
    """Parse and check the config; every problem is one `path: message` line of the UserError.
    `known_timezone` (the entry point's `bot.clock.known_timezone`) checks window time zones;
    without it only their shape is checked."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{source} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise UserError(f"{source} must be a mapping with `clusters:` and `access:`")
    try:
        return Config.model_validate(data, context={change_windows.KNOWN_TIMEZONE: known_timezone})
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = _loc(err["loc"])
            msg = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = f"unknown field `{err['loc'][-1]}`"
            lines.append(f"{loc}: {msg}")
        raise UserError(f"{source} is not valid:\n" + "\n".join(lines)) from None


def allowed(config: Config, action: Action, user: str, groups: set[str]) -> bool:
    """No `access` section: everyone may do everything (a sandbox, a trial). With one, an action
    it does not list is allowed to nobody — a forgotten line must not open `delete` to all."""
    if not config.access:
        return True
    ids = config.access.get(action)
    if ids is None:
        return False
    return "*" in ids or user in ids or bool(groups.intersection(ids))


def check_action(config: Config, action: Action, user: str, groups: set[str]) -> None:
    if allowed(config, action, user, groups):
        return
    if config.access.get(action) is None:
        raise Forbidden(
            f"nobody may {action} yet: APPPROFILE_CONFIG has an `access` section without `{action}`",
            f'ask a platform admin to add e.g. `{action}: ["*"]` or a usergroup under `access:`',
        )
    raise Forbidden(
        f"you are not allowed to {action} here",
        f"ask a platform admin to add you (or one of your user groups) to access.{action}",
    )


def check_channel(config: Config, cluster: str, channel: str) -> None:
    cc = config.cluster(cluster)
    if cc.channels and channel not in cc.channels:
        listing = ", ".join(f"<#{c}>" for c in cc.channels)
        raise Forbidden(
            f"deploys to `{cluster}` are not allowed from this channel",
            f"deploy to `{cluster}` from {listing}",
        )


def check_window(
    config: Config,
    cluster: str,
    local: Callable[[str], LocalTime],
    *,
    override: bool,
    requester: str | None = None,
) -> change_windows.Block | None:
    """Whether a deploy to `cluster` may go ahead now. None: no window is closed. A closed window
    refuses (`windows.WindowClosed`) unless `override` (`deploy … --override-window`); then the
    `Block` is returned, and the approval needs `windows.OVERRIDE_EXTRA` more approvers — an
    override nobody could approve (too few approvers besides the `requester`) is refused now."""
    cc = config.cluster(cluster)
    block = change_windows.blocking(cc.windows, local, cluster=cluster)
    if block is None:
        return None
    if not override:
        raise change_windows.refusal(block)
    closed = change_windows.refusal(block).message
    if cc.approval is None:
        raise UserError(
            f"{closed}; `--override-window` asks for one more approver than usual, and "
            f"`{cluster}` has no approval rule",
            f"wait until then, or ask a platform admin to add `approval:` to clusters.{cluster} "
            "in APPPROFILE_CONFIG",
        )
    needed = cc.approval.required + change_windows.OVERRIDE_EXTRA
    listed = cc.approval.approvers
    others = [a for a in listed if cc.approval.self_approval or a != requester]
    if needed > len(others) and not any(a.startswith("S") for a in listed):
        besides = "" if len(others) == len(listed) else " besides you (you may not approve your own request)"
        raise UserError(
            f"{closed}; `--override-window` needs {needed} approvals, but clusters.{cluster}.approval "
            f"lists only {len(others)} approvers{besides}",
            "wait until then, or ask a platform admin to list another approver (or a usergroup)",
        )
    return block
