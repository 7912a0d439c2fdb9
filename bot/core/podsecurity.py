"""The Kubernetes Pod Security Standards, checked offline on rendered objects.

Source: https://kubernetes.io/docs/concepts/security/pod-security-standards (Kubernetes 1.35), with
the edge cases settled the way the built-in Pod Security Admission controller settles them
(k8s.io/pod-security-admission v0.35, `policy/check_*.go`), so what passes here passes
`pod-security.kubernetes.io/enforce: <level>` on a 1.35 cluster.

`privileged` forbids nothing. `baseline` forbids the first block; `restricted` forbids both blocks.
`*` is every container: `spec.containers`, `spec.initContainers` and `spec.ephemeralContainers`.

    control                       level       forbidden (what is allowed)
    ----------------------------  ----------  ------------------------------------------------------
    HostProcess                   baseline    pod or * windowsOptions.hostProcess true
    Host Namespaces               baseline    hostNetwork, hostPID or hostIPC true
    Privileged Containers         baseline    * securityContext.privileged true
    Capabilities                  baseline    * capabilities.add outside AUDIT_WRITE CHOWN DAC_OVERRIDE
                                              FOWNER FSETID KILL MKNOD NET_BIND_SERVICE SETFCAP SETGID
                                              SETPCAP SETUID SYS_CHROOT
    HostPath Volumes              baseline    volumes[].hostPath
    Host Ports                    baseline    * ports[].hostPort other than 0
    Host Probes / Lifecycle Hooks baseline    * liveness/readiness/startup probe and postStart/preStop
                                              httpGet.host or tcpSocket.host (v1.34+)
    AppArmor                      baseline    pod or * appArmorProfile.type other than RuntimeDefault,
                                              Localhost; annotation container.apparmor.security.beta.
                                              kubernetes.io/* other than runtime/default, localhost/*
    SELinux                       baseline    pod or * seLinuxOptions.type other than container_t,
                                              container_init_t, container_kvm_t, container_engine_t;
                                              any seLinuxOptions.user or .role
    /proc Mount Type              baseline    * procMount other than Default (restricted only when the
                                              pod has hostUsers: false, a user namespace)
    Seccomp                       baseline    pod or * seccompProfile.type other than RuntimeDefault,
                                              Localhost
    Sysctls                       baseline    sysctls outside kernel.shm_rmid_forced and net.ipv4.
                                              ip_local_port_range, ip_local_reserved_ports,
                                              ip_unprivileged_port_start, ping_group_range,
                                              tcp_syncookies, tcp_keepalive_time/intvl/probes,
                                              tcp_fin_timeout, tcp_rmem, tcp_wmem
    ----------------------------  ----------  ------------------------------------------------------
    Volume Types                  restricted  volumes other than configMap, csi, downwardAPI, emptyDir,
                                              ephemeral, image, persistentVolumeClaim, projected, secret
    Privilege Escalation          restricted  * allowPrivilegeEscalation not explicitly false [win]
    Running as Non-root           restricted  runAsNonRoot not true: set on the pod, or on every
                                              container; an explicit false anywhere is refused [userns]
    Running as Non-root user      restricted  pod or * runAsUser 0 [userns]
    Seccomp                       restricted  no profile: the pod sets a valid one, or every container
                                              does [win]
    Capabilities                  restricted  * capabilities.drop without ALL; capabilities.add other
                                              than NET_BIND_SERVICE [win]

    [win]    not required of pods with spec.os.name windows (the fields do not exist there)
    [userns] not required of pods with hostUsers: false (root in the pod is not root on the node)

Inheritance, as the standard says: a container's own securityContext wins over the pod's, so a
container field left unset inherits the pod's value. An explicit bad value on the pod is reported
once, at the pod (fixing it fixes every container that inherits it); a container whose field is
unset is reported only when the pod sets nothing either. The optional "Non-root groups" control
left the standard and Pod Security Admission never enforced it; it is not checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Level = Literal["privileged", "baseline", "restricted"]
_RANK: dict[str, int] = {"privileged": 0, "baseline": 1, "restricted": 2}

BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
    }
)
RESTRICTED_VOLUMES = (
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
)
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
_PROFILE_TYPES = frozenset({"RuntimeDefault", "Localhost"})
_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"

# kind -> (API group, where its pod template is); a kind of the same name from another group
# (Volcano's batch.volcano.sh Job, say) is not a pod owner.
_POD_PATHS: dict[str, tuple[str, str]] = {
    "Pod": ("", ""),
    "PodTemplate": ("", "template"),
    "ReplicationController": ("", "spec.template"),
    "Deployment": ("apps", "spec.template"),
    "StatefulSet": ("apps", "spec.template"),
    "DaemonSet": ("apps", "spec.template"),
    "ReplicaSet": ("apps", "spec.template"),
    "Job": ("batch", "spec.template"),
    "CronJob": ("batch", "spec.jobTemplate.spec.template"),
}
_CONTAINER_LISTS = (
    ("initContainers", "init container"),
    ("containers", "container"),
    ("ephemeralContainers", "ephemeral container"),
)


class Violation(BaseModel):
    """One field that breaks one control; `level` is the lowest level that forbids it."""

    model_config = ConfigDict(frozen=True)

    rule: str
    path: str
    message: str
    level: Level


# --- reading objects ------------------------------------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    # Manifests and chart output are people's YAML: a wrong shape is ignored here (the schema
    # check reports it), never a crash.
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _at(obj: Mapping[str, Any], dotted: str) -> dict[str, Any]:
    node: Any = obj
    for key in dotted.split(".") if dotted else []:
        node = _dict(node).get(key)
    return _dict(node)


@dataclass(frozen=True)
class _Container:
    path: str  # spec.template.spec.containers[0]
    who: str  # "container api", "init container migrate"
    body: dict[str, Any]

    @property
    def sc(self) -> dict[str, Any]:
        return _dict(self.body.get("securityContext"))


@dataclass(frozen=True)
class _Pod:
    path: str  # spec.template.spec
    meta_path: str  # spec.template.metadata
    meta: dict[str, Any]
    spec: dict[str, Any]

    @property
    def sc(self) -> dict[str, Any]:
        return _dict(self.spec.get("securityContext"))

    @property
    def windows(self) -> bool:
        return _dict(self.spec.get("os")).get("name") == "windows"

    @property
    def user_namespace(self) -> bool:
        return self.spec.get("hostUsers") is False

    def containers(self) -> Iterator[_Container]:
        for field, word in _CONTAINER_LISTS:
            for i, body in enumerate(_list(self.spec.get(field))):
                if isinstance(body, dict):
                    name = body.get("name") or f"#{i}"
                    yield _Container(f"{self.path}.{field}[{i}]", f"{word} {name}", body)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _pods(obj: Mapping[str, Any]) -> list[_Pod]:
    kind = str(obj.get("kind", ""))
    if kind not in _POD_PATHS:
        return []
    group, base = _POD_PATHS[kind]
    api_version = obj.get("apiVersion")
    if api_version is not None and str(api_version).rpartition("/")[0] != group:
        return []
    spec = _at(obj, _join(base, "spec"))
    if not spec:
        return []
    return [_Pod(_join(base, "spec"), _join(base, "metadata"), _at(obj, _join(base, "metadata")), spec)]


def pod_specs(obj: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(path, podSpec) of every pod `obj` creates: Pod, PodTemplate, the workload controllers,
    Job and CronJob; empty for every other kind."""
    return [(p.path, p.spec) for p in _pods(obj)]


# --- the controls ---------------------------------------------------------------------------

Rule = Callable[[_Pod], Iterator[Violation]]


def _v(rule: str, path: str, message: str, level: Level = "baseline") -> Violation:
    return Violation(rule=rule, path=path, message=message, level=level)


def _host_process(pod: _Pod) -> Iterator[Violation]:
    setters = [(pod.path, "the pod", pod.sc)] + [(c.path, c.who, c.sc) for c in pod.containers()]
    for path, who, sc in setters:
        if _dict(sc.get("windowsOptions")).get("hostProcess") is True:
            yield _v(
                "HostProcess",
                f"{path}.securityContext.windowsOptions.hostProcess",
                f"{who} runs as a Windows HostProcess with full access to the node",
            )


def _host_namespaces(pod: _Pod) -> Iterator[Violation]:
    for field, what in (("hostNetwork", "network"), ("hostPID", "process"), ("hostIPC", "IPC")):
        if pod.spec.get(field) is True:
            yield _v("Host Namespaces", f"{pod.path}.{field}", f"the pod shares the node's {what} namespace")


def _privileged(pod: _Pod) -> Iterator[Violation]:
    for c in pod.containers():
        if c.sc.get("privileged") is True:
            yield _v(
                "Privileged Containers", f"{c.path}.securityContext.privileged", f"{c.who} runs privileged"
            )


def _capabilities(pod: _Pod) -> Iterator[Violation]:
    for c in pod.containers():
        caps = _dict(c.sc.get("capabilities"))
        path = f"{c.path}.securityContext.capabilities"
        for i, cap in enumerate(_list(caps.get("add"))):
            if cap not in BASELINE_CAPABILITIES:
                yield _v("Capabilities", f"{path}.add[{i}]", f"{c.who} adds capability {cap}")
            elif cap != "NET_BIND_SERVICE" and not pod.windows:
                message = f"{c.who} adds capability {cap}; restricted allows only NET_BIND_SERVICE"
                yield _v("Capabilities", f"{path}.add[{i}]", message, "restricted")
        if "ALL" not in _list(caps.get("drop")) and not pod.windows:
            yield _v("Capabilities", f"{path}.drop", f"{c.who} does not drop ALL capabilities", "restricted")


def _volumes(pod: _Pod) -> Iterator[Violation]:
    for i, vol in enumerate(_list(pod.spec.get("volumes"))):
        vol = _dict(vol)
        name, path = vol.get("name") or f"#{i}", f"{pod.path}.volumes[{i}]"
        if any(vol.get(k) is not None for k in RESTRICTED_VOLUMES):
            continue
        if vol.get("hostPath") is not None:
            where = _dict(vol["hostPath"]).get("path", "")
            yield _v("HostPath Volumes", f"{path}.hostPath", f"volume {name} mounts the node's path {where}")
            continue
        kind = next((k for k in sorted(vol) if k != "name" and vol[k] is not None), "")
        message = f"volume {name} is of type {kind or 'unknown'}, which restricted does not allow"
        yield _v("Volume Types", f"{path}.{kind}" if kind else path, message, "restricted")


def _host_ports(pod: _Pod) -> Iterator[Violation]:
    for c in pod.containers():
        for i, port in enumerate(_list(c.body.get("ports"))):
            host_port = _dict(port).get("hostPort")
            if host_port not in (None, 0):
                message = f"{c.who} publishes host port {host_port} on the node"
                yield _v("Host Ports", f"{c.path}.ports[{i}].hostPort", message)


_HANDLERS = (
    ("livenessProbe", "liveness probe"),
    ("readinessProbe", "readiness probe"),
    ("startupProbe", "startup probe"),
    ("lifecycle.postStart", "postStart hook"),
    ("lifecycle.preStop", "preStop hook"),
)


def _host_probes(pod: _Pod) -> Iterator[Violation]:
    for c in pod.containers():
        for field, what in _HANDLERS:
            handler = _at(c.body, field)
            for action in ("httpGet", "tcpSocket"):
                host = _dict(handler.get(action)).get("host")
                if host not in (None, ""):
                    path = f"{c.path}.{field}.{action}.host"
                    message = f"{c.who}'s {what} connects to host {host} instead of the pod"
                    yield _v("Host Probes / Lifecycle Hooks", path, message)


def _apparmor(pod: _Pod) -> Iterator[Violation]:
    setters = [(pod.path, "the pod", pod.sc)] + [(c.path, c.who, c.sc) for c in pod.containers()]
    for path, who, sc in setters:
        profile = sc.get("appArmorProfile")
        if isinstance(profile, dict) and profile.get("type") not in _PROFILE_TYPES:
            message = f"{who} sets AppArmor profile {profile.get('type') or '(none)'}"
            yield _v("AppArmor", f"{path}.securityContext.appArmorProfile.type", message)
    for key, value in _dict(pod.meta.get("annotations")).items():
        if str(key).startswith(_APPARMOR_ANNOTATION) and not _apparmor_annotation_ok(value):
            container = str(key)[len(_APPARMOR_ANNOTATION) :]
            message = f"annotation sets AppArmor profile {value} for container {container}"
            yield _v("AppArmor", f"{pod.meta_path}.annotations['{key}']", message)


def _apparmor_annotation_ok(value: Any) -> bool:
    return value in ("", None, "runtime/default") or str(value).startswith("localhost/")


def _selinux(pod: _Pod) -> Iterator[Violation]:
    setters = [(pod.path, "the pod", pod.sc)] + [(c.path, c.who, c.sc) for c in pod.containers()]
    for path, who, sc in setters:
        opts = sc.get("seLinuxOptions")
        if not isinstance(opts, dict):
            continue
        base = f"{path}.securityContext.seLinuxOptions"
        if opts.get("type", "") not in SELINUX_TYPES:
            yield _v("SELinux", f"{base}.type", f"{who} sets SELinux type {opts['type']}")
        for field in ("user", "role"):
            if opts.get(field) not in (None, ""):
                yield _v("SELinux", f"{base}.{field}", f"{who} sets SELinux {field} {opts[field]}")


def _proc_mount(pod: _Pod) -> Iterator[Violation]:
    # In a user namespace an unmasked /proc is the namespace's own: baseline lets it pass (1.35+).
    level: Level = "restricted" if pod.user_namespace else "baseline"
    for c in pod.containers():
        mount = c.sc.get("procMount")
        if mount is not None and mount != "Default":
            message = f"{c.who} mounts /proc as {mount or '(empty)'}, not Default"
            yield _v("/proc Mount Type", f"{c.path}.securityContext.procMount", message, level)


def _seccomp(pod: _Pod) -> Iterator[Violation]:
    pod_profile = pod.sc.get("seccompProfile")
    if isinstance(pod_profile, dict) and pod_profile.get("type") not in _PROFILE_TYPES:
        message = f"the pod sets seccomp profile {pod_profile.get('type') or '(none)'}"
        yield _v("Seccomp", f"{pod.path}.securityContext.seccompProfile.type", message)
    for c in pod.containers():
        profile = c.sc.get("seccompProfile")
        path = f"{c.path}.securityContext.seccompProfile.type"
        if isinstance(profile, dict):
            if profile.get("type") not in _PROFILE_TYPES:
                yield _v("Seccomp", path, f"{c.who} sets seccomp profile {profile.get('type') or '(none)'}")
        elif not isinstance(pod_profile, dict) and not pod.windows:
            message = f"neither {c.who} nor the pod sets a seccomp profile (RuntimeDefault or Localhost)"
            yield _v("Seccomp", path, message, "restricted")


def _sysctls(pod: _Pod) -> Iterator[Violation]:
    for i, sysctl in enumerate(_list(pod.sc.get("sysctls"))):
        name = _dict(sysctl).get("name")
        if name not in SAFE_SYSCTLS:
            message = f"the pod sets sysctl {name}, which is not in the safe set"
            yield _v("Sysctls", f"{pod.path}.securityContext.sysctls[{i}].name", message)


def _privilege_escalation(pod: _Pod) -> Iterator[Violation]:
    if pod.windows:
        return
    for c in pod.containers():
        if c.sc.get("allowPrivilegeEscalation") is not False:
            path = f"{c.path}.securityContext.allowPrivilegeEscalation"
            message = f"{c.who} may gain privileges (allowPrivilegeEscalation is not false)"
            yield _v("Privilege Escalation", path, message, "restricted")


def _run_as_non_root(pod: _Pod) -> Iterator[Violation]:
    if pod.user_namespace:
        return
    rule, pod_value = "Running as Non-root", pod.sc.get("runAsNonRoot")
    if pod_value is not None and pod_value is not True:
        yield _v(rule, f"{pod.path}.securityContext.runAsNonRoot", "the pod allows root", "restricted")
    for c in pod.containers():
        value, path = c.sc.get("runAsNonRoot"), f"{c.path}.securityContext.runAsNonRoot"
        if value is not None and value is not True:
            yield _v(rule, path, f"{c.who} allows root (runAsNonRoot: false)", "restricted")
        elif value is None and pod_value is None:
            message = f"neither {c.who} nor the pod sets runAsNonRoot: true"
            yield _v(rule, path, message, "restricted")


def _run_as_user(pod: _Pod) -> Iterator[Violation]:
    if pod.user_namespace:
        return
    setters = [(pod.path, "the pod", pod.sc)] + [(c.path, c.who, c.sc) for c in pod.containers()]
    for path, who, sc in setters:
        uid = sc.get("runAsUser")
        if uid == 0 and not isinstance(uid, bool):
            message = f"{who} runs as root (runAsUser: 0)"
            yield _v("Running as Non-root user", f"{path}.securityContext.runAsUser", message, "restricted")


_RULES: tuple[Rule, ...] = (
    _host_process,
    _host_namespaces,
    _privileged,
    _capabilities,
    _volumes,
    _host_ports,
    _host_probes,
    _apparmor,
    _selinux,
    _proc_mount,
    _seccomp,
    _sysctls,
    _privilege_escalation,
    _run_as_non_root,
    _run_as_user,
)


# --- checking -------------------------------------------------------------------------------


def _order(v: Violation) -> tuple[Any, ...]:
    # containers[2] before containers[10]: digits compare as numbers. re.split with one group
    # alternates text and digits, so the tuples compare position by position without type clashes.
    parts = tuple(int(p) if i % 2 else p for i, p in enumerate(re.split(r"(\d+)", v.path)))
    return (parts, v.rule, v.message)


def check(obj: Mapping[str, Any], level: Level) -> list[Violation]:
    """Everything in `obj`'s pods that `level` forbids, sorted by path; [] for objects without pods."""
    rank = _RANK[level]
    found = {v for pod in _pods(obj) for rule in _RULES for v in rule(pod) if _RANK[v.level] <= rank}
    return sorted(found, key=_order)
