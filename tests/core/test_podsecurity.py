"""The Pod Security Standards (Kubernetes 1.35): every control at every level, inheritance between the
pod's and the containers' securityContext, every pod-owning kind, and properties over random pods."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import podsecurity
from bot.core.podsecurity import Level

LEVELS: list[Level] = ["privileged", "baseline", "restricted"]
RANK = {level: i for i, level in enumerate(LEVELS)}
C0 = "spec.containers[0]"
SC0 = f"{C0}.securityContext"


def good_pod() -> dict[str, Any]:
    """The smallest pod `restricted` admits; each case below breaks exactly one thing in it."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "api",
                    "image": "registry.example/api:1",
                    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                }
            ],
        },
    }


Mutation = Callable[[dict[str, Any]], None]


def spec(**fields: Any) -> Mutation:
    return lambda pod: pod["spec"].update(fields)


def pod_sc(**fields: Any) -> Mutation:
    return lambda pod: pod["spec"]["securityContext"].update(fields)


def container(**fields: Any) -> Mutation:
    return lambda pod: pod["spec"]["containers"][0].update(fields)


def container_sc(**fields: Any) -> Mutation:
    return lambda pod: pod["spec"]["containers"][0]["securityContext"].update(fields)


def drop_key(where: str, key: str) -> Mutation:
    def mutate(pod: dict[str, Any]) -> None:
        owner = pod["spec"] if where == "pod" else pod["spec"]["containers"][0]
        del owner["securityContext"][key]

    return mutate


def both(first: Mutation, second: Mutation) -> Mutation:
    def mutate(pod: dict[str, Any]) -> None:
        first(pod)
        second(pod)

    return mutate


def annotate(key: str, value: str) -> Mutation:
    return lambda pod: pod["metadata"].setdefault("annotations", {}).update({key: value})


# (id, mutation, rule, path, lowest level that forbids it)
CASES: list[tuple[str, Mutation, str, str, Level]] = [
    (
        "hostprocess-pod",
        pod_sc(windowsOptions={"hostProcess": True}),
        "HostProcess",
        "spec.securityContext.windowsOptions.hostProcess",
        "baseline",
    ),
    (
        "hostprocess-container",
        container_sc(windowsOptions={"hostProcess": True}),
        "HostProcess",
        f"{SC0}.windowsOptions.hostProcess",
        "baseline",
    ),
    ("host-network", spec(hostNetwork=True), "Host Namespaces", "spec.hostNetwork", "baseline"),
    ("host-pid", spec(hostPID=True), "Host Namespaces", "spec.hostPID", "baseline"),
    ("host-ipc", spec(hostIPC=True), "Host Namespaces", "spec.hostIPC", "baseline"),
    ("privileged", container_sc(privileged=True), "Privileged Containers", f"{SC0}.privileged", "baseline"),
    (
        "capability-beyond-baseline",
        container_sc(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]}),
        "Capabilities",
        f"{SC0}.capabilities.add[0]",
        "baseline",
    ),
    (
        "host-path",
        spec(volumes=[{"name": "root", "hostPath": {"path": "/"}}]),
        "HostPath Volumes",
        "spec.volumes[0].hostPath",
        "baseline",
    ),
    (
        "host-port",
        container(ports=[{"containerPort": 80, "hostPort": 8080}]),
        "Host Ports",
        f"{C0}.ports[0].hostPort",
        "baseline",
    ),
    (
        "probe-http-host",
        container(livenessProbe={"httpGet": {"host": "10.0.0.1", "port": 80}}),
        "Host Probes / Lifecycle Hooks",
        f"{C0}.livenessProbe.httpGet.host",
        "baseline",
    ),
    (
        "probe-tcp-host",
        container(startupProbe={"tcpSocket": {"host": "db.internal", "port": 5432}}),
        "Host Probes / Lifecycle Hooks",
        f"{C0}.startupProbe.tcpSocket.host",
        "baseline",
    ),
    (
        "lifecycle-host",
        container(lifecycle={"preStop": {"httpGet": {"host": "169.254.169.254", "port": 80}}}),
        "Host Probes / Lifecycle Hooks",
        f"{C0}.lifecycle.preStop.httpGet.host",
        "baseline",
    ),
    (
        "apparmor-pod",
        pod_sc(appArmorProfile={"type": "Unconfined"}),
        "AppArmor",
        "spec.securityContext.appArmorProfile.type",
        "baseline",
    ),
    (
        "apparmor-container",
        container_sc(appArmorProfile={"type": "Unconfined"}),
        "AppArmor",
        f"{SC0}.appArmorProfile.type",
        "baseline",
    ),
    (
        "apparmor-annotation",
        annotate("container.apparmor.security.beta.kubernetes.io/api", "unconfined"),
        "AppArmor",
        "metadata.annotations['container.apparmor.security.beta.kubernetes.io/api']",
        "baseline",
    ),
    (
        "selinux-type",
        container_sc(seLinuxOptions={"type": "spc_t"}),
        "SELinux",
        f"{SC0}.seLinuxOptions.type",
        "baseline",
    ),
    (
        "selinux-user",
        pod_sc(seLinuxOptions={"user": "system_u"}),
        "SELinux",
        "spec.securityContext.seLinuxOptions.user",
        "baseline",
    ),
    (
        "selinux-role",
        container_sc(seLinuxOptions={"role": "system_r"}),
        "SELinux",
        f"{SC0}.seLinuxOptions.role",
        "baseline",
    ),
    ("proc-mount", container_sc(procMount="Unmasked"), "/proc Mount Type", f"{SC0}.procMount", "baseline"),
    (
        "proc-mount-user-namespace",
        both(spec(hostUsers=False), container_sc(procMount="Unmasked")),
        "/proc Mount Type",
        f"{SC0}.procMount",
        "restricted",
    ),
    (
        "seccomp-unconfined-pod",
        pod_sc(seccompProfile={"type": "Unconfined"}),
        "Seccomp",
        "spec.securityContext.seccompProfile.type",
        "baseline",
    ),
    (
        "seccomp-unconfined-container",
        container_sc(seccompProfile={"type": "Unconfined"}),
        "Seccomp",
        f"{SC0}.seccompProfile.type",
        "baseline",
    ),
    (
        "unsafe-sysctl",
        pod_sc(sysctls=[{"name": "kernel.msgmax", "value": "65536"}]),
        "Sysctls",
        "spec.securityContext.sysctls[0].name",
        "baseline",
    ),
    (
        "volume-type",
        spec(volumes=[{"name": "share", "nfs": {"server": "nfs.example", "path": "/"}}]),
        "Volume Types",
        "spec.volumes[0].nfs",
        "restricted",
    ),
    (
        "privilege-escalation-unset",
        drop_key("container", "allowPrivilegeEscalation"),
        "Privilege Escalation",
        f"{SC0}.allowPrivilegeEscalation",
        "restricted",
    ),
    (
        "privilege-escalation-true",
        container_sc(allowPrivilegeEscalation=True),
        "Privilege Escalation",
        f"{SC0}.allowPrivilegeEscalation",
        "restricted",
    ),
    (
        "run-as-non-root-unset",
        drop_key("pod", "runAsNonRoot"),
        "Running as Non-root",
        f"{SC0}.runAsNonRoot",
        "restricted",
    ),
    (
        "run-as-non-root-false",
        pod_sc(runAsNonRoot=False),
        "Running as Non-root",
        "spec.securityContext.runAsNonRoot",
        "restricted",
    ),
    (
        "run-as-user-0-pod",
        pod_sc(runAsUser=0),
        "Running as Non-root user",
        "spec.securityContext.runAsUser",
        "restricted",
    ),
    (
        "run-as-user-0-container",
        container_sc(runAsUser=0),
        "Running as Non-root user",
        f"{SC0}.runAsUser",
        "restricted",
    ),
    (
        "seccomp-unset",
        drop_key("pod", "seccompProfile"),
        "Seccomp",
        f"{SC0}.seccompProfile.type",
        "restricted",
    ),
    (
        "capabilities-not-dropped",
        container_sc(capabilities={"drop": ["NET_RAW"]}),
        "Capabilities",
        f"{SC0}.capabilities.drop",
        "restricted",
    ),
    (
        "capabilities-unset",
        drop_key("container", "capabilities"),
        "Capabilities",
        f"{SC0}.capabilities.drop",
        "restricted",
    ),
    (
        "capability-add-in-baseline-set",
        container_sc(capabilities={"drop": ["ALL"], "add": ["CHOWN"]}),
        "Capabilities",
        f"{SC0}.capabilities.add[0]",
        "restricted",
    ),
]


def broken(mutate: Mutation) -> dict[str, Any]:
    pod = good_pod()
    mutate(pod)
    return pod


def test_the_good_pod_passes_every_level() -> None:
    for level in LEVELS:
        assert podsecurity.check(good_pod(), level) == []


@pytest.mark.parametrize(
    ("mutate", "rule", "path", "lowest"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_control_is_refused_from_its_level_up_and_allowed_below(
    mutate: Mutation, rule: str, path: str, lowest: Level
) -> None:
    pod = broken(mutate)
    for level in LEVELS:
        got = podsecurity.check(pod, level)
        if RANK[level] >= RANK[lowest]:
            assert [(v.rule, v.path, v.level) for v in got] == [(rule, path, lowest)], level
            assert got[0].message
        else:
            assert got == [], level


def test_every_documented_control_has_a_case() -> None:
    baseline = {
        "HostProcess",
        "Host Namespaces",
        "Privileged Containers",
        "Capabilities",
        "HostPath Volumes",
        "Host Ports",
        "Host Probes / Lifecycle Hooks",
        "AppArmor",
        "SELinux",
        "/proc Mount Type",
        "Seccomp",
        "Sysctls",
    }
    restricted = {
        "Volume Types",
        "Privilege Escalation",
        "Running as Non-root",
        "Running as Non-root user",
        "Seccomp",
        "Capabilities",
        # Unmasked /proc in a user namespace: only restricted refuses it (1.35+).
        "/proc Mount Type",
    }
    assert {c[2] for c in CASES if c[4] == "baseline"} == baseline
    assert {c[2] for c in CASES if c[4] == "restricted"} == restricted


def test_messages_are_plain_words() -> None:
    (v,) = podsecurity.check(broken(container_sc(privileged=True)), "baseline")
    assert v == podsecurity.Violation(
        rule="Privileged Containers",
        path=f"{SC0}.privileged",
        message="container api runs privileged",
        level="baseline",
    )
    (v,) = podsecurity.check(broken(spec(hostNetwork=True)), "baseline")
    assert v.message == "the pod shares the node's network namespace"


# --- allowed values ---------------------------------------------------------------------------

ALLOWED: list[tuple[str, Mutation]] = [
    ("net-bind-service", container_sc(capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]})),
    ("host-port-0", container(ports=[{"containerPort": 80, "hostPort": 0}])),
    ("probe-host-empty", container(readinessProbe={"httpGet": {"host": "", "port": 80}})),
    ("apparmor-runtime-default", pod_sc(appArmorProfile={"type": "RuntimeDefault"})),
    ("apparmor-localhost", container_sc(appArmorProfile={"type": "Localhost", "localhostProfile": "k8s"})),
    ("apparmor-annotation-default", annotate(podsecurity._APPARMOR_ANNOTATION + "api", "runtime/default")),
    ("apparmor-annotation-localhost", annotate(podsecurity._APPARMOR_ANNOTATION + "api", "localhost/k8s")),
    (
        "selinux-container-engine-t",
        container_sc(seLinuxOptions={"type": "container_engine_t", "level": "s0"}),
    ),
    ("selinux-level-only", pod_sc(seLinuxOptions={"level": "s0:c123,c456"})),
    ("proc-mount-default", container_sc(procMount="Default")),
    ("seccomp-localhost", container_sc(seccompProfile={"type": "Localhost", "localhostProfile": "p.json"})),
    ("safe-sysctls", pod_sc(sysctls=[{"name": n, "value": "1"} for n in sorted(podsecurity.SAFE_SYSCTLS)])),
    ("run-as-user-non-zero", pod_sc(runAsUser=1000, runAsGroup=1000, fsGroup=1000)),
    (
        "every-allowed-volume-type",
        spec(volumes=[{"name": f"v{i}", t: {}} for i, t in enumerate(podsecurity.RESTRICTED_VOLUMES)]),
    ),
]


@pytest.mark.parametrize("mutate", [a[1] for a in ALLOWED], ids=[a[0] for a in ALLOWED])
def test_allowed_values_pass_restricted(mutate: Mutation) -> None:
    assert podsecurity.check(broken(mutate), "restricted") == []


def test_windows_pods_need_not_set_linux_only_fields() -> None:
    pod = broken(spec(os={"name": "windows"}))
    del pod["spec"]["securityContext"]["seccompProfile"]
    pod["spec"]["containers"][0]["securityContext"] = {}
    assert podsecurity.check(pod, "restricted") == []
    # Adding a capability beyond the baseline set stays forbidden for Windows pods too.
    pod["spec"]["containers"][0]["securityContext"] = {"capabilities": {"add": ["SYS_ADMIN"]}}
    assert [v.rule for v in podsecurity.check(pod, "restricted")] == ["Capabilities"]


def test_user_namespace_pods_may_run_as_uid_0_inside() -> None:
    pod = broken(spec(hostUsers=False))
    pod["spec"]["securityContext"].update(runAsNonRoot=False, runAsUser=0)
    assert podsecurity.check(pod, "restricted") == []


# --- inheritance ------------------------------------------------------------------------------


def two_containers(pod_fields: dict[str, Any], *container_fields: dict[str, Any]) -> dict[str, Any]:
    pod = good_pod()
    pod["spec"]["securityContext"] = pod_fields
    base = pod["spec"]["containers"][0]
    pod["spec"]["containers"] = [
        {**copy.deepcopy(base), "name": f"c{i}", "securityContext": {**base["securityContext"], **extra}}
        for i, extra in enumerate(container_fields)
    ]
    return pod


SECCOMP_OK = {"seccompProfile": {"type": "RuntimeDefault"}}


def paths(pod: dict[str, Any], level: Level = "restricted") -> list[str]:
    return [v.path for v in podsecurity.check(pod, level)]


def test_run_as_non_root_on_the_pod_covers_unset_containers() -> None:
    assert paths(two_containers({"runAsNonRoot": True, **SECCOMP_OK}, {}, {})) == []


def test_run_as_non_root_unset_on_the_pod_needs_it_on_every_container() -> None:
    pod = two_containers(SECCOMP_OK, {"runAsNonRoot": True}, {})
    assert paths(pod) == ["spec.containers[1].securityContext.runAsNonRoot"]


def test_run_as_non_root_false_on_the_pod_is_refused_even_if_containers_override_it() -> None:
    pod = two_containers({"runAsNonRoot": False, **SECCOMP_OK}, {"runAsNonRoot": True}, {})
    # Reported once, at the pod: the unset container inherits false and is fixed by fixing the pod.
    assert paths(pod) == ["spec.securityContext.runAsNonRoot"]


def test_run_as_non_root_false_on_a_container_beats_the_pod() -> None:
    pod = two_containers({"runAsNonRoot": True, **SECCOMP_OK}, {}, {"runAsNonRoot": False})
    assert paths(pod) == ["spec.containers[1].securityContext.runAsNonRoot"]


def test_seccomp_on_every_container_covers_an_unset_pod() -> None:
    pod = two_containers({"runAsNonRoot": True}, SECCOMP_OK, SECCOMP_OK)
    assert paths(pod) == []
    pod = two_containers({"runAsNonRoot": True}, SECCOMP_OK, {})
    assert paths(pod) == ["spec.containers[1].securityContext.seccompProfile.type"]


def test_seccomp_unconfined_on_the_pod_is_reported_once_at_the_pod() -> None:
    unconfined = {"runAsNonRoot": True, "seccompProfile": {"type": "Unconfined"}}
    pod = two_containers(unconfined, SECCOMP_OK, {})
    for level in ("baseline", "restricted"):
        assert paths(pod, level) == ["spec.securityContext.seccompProfile.type"]


def test_a_container_profile_overrides_a_good_pod_profile() -> None:
    pod = two_containers({"runAsNonRoot": True, **SECCOMP_OK}, {"seccompProfile": {"type": "Unconfined"}})
    assert paths(pod, "baseline") == ["spec.containers[0].securityContext.seccompProfile.type"]


def test_run_as_user_0_on_the_pod_is_refused_even_if_every_container_overrides_it() -> None:
    pod = two_containers({"runAsNonRoot": True, "runAsUser": 0, **SECCOMP_OK}, {"runAsUser": 1000})
    assert paths(pod) == ["spec.securityContext.runAsUser"]


def test_container_level_fields_do_not_leak_to_siblings() -> None:
    pod = two_containers({"runAsNonRoot": True, **SECCOMP_OK}, {"privileged": True}, {})
    assert paths(pod, "baseline") == ["spec.containers[0].securityContext.privileged"]


@pytest.mark.parametrize(
    ("field", "word"), [("initContainers", "init container"), ("ephemeralContainers", "ephemeral container")]
)
def test_init_and_ephemeral_containers_are_checked(field: str, word: str) -> None:
    pod = good_pod()
    pod["spec"][field] = [{"name": "extra", "image": "busybox"}]
    got = podsecurity.check(pod, "restricted")
    assert {v.rule for v in got} == {"Privilege Escalation", "Capabilities"}
    assert all(v.path.startswith(f"spec.{field}[0].securityContext.") for v in got)
    assert all(v.message.startswith(f"{word} extra ") for v in got)
    pod["spec"][field][0]["securityContext"] = {"privileged": True}
    assert paths(pod, "baseline") == [f"spec.{field}[0].securityContext.privileged"]


# --- workload kinds ---------------------------------------------------------------------------

TEMPLATE_KINDS = [
    ("apps/v1", "Deployment", "spec.template.spec"),
    ("apps/v1", "StatefulSet", "spec.template.spec"),
    ("apps/v1", "DaemonSet", "spec.template.spec"),
    ("apps/v1", "ReplicaSet", "spec.template.spec"),
    ("v1", "ReplicationController", "spec.template.spec"),
    ("batch/v1", "Job", "spec.template.spec"),
    ("batch/v1", "CronJob", "spec.jobTemplate.spec.template.spec"),
    ("v1", "PodTemplate", "template.spec"),
    ("v1", "Pod", "spec"),
]


def wrap(api_version: str, kind: str, pod_path: str, pod: dict[str, Any]) -> dict[str, Any]:
    """`pod`'s metadata and spec placed where `kind` keeps its pod template."""
    inner: dict[str, Any] = {"metadata": pod["metadata"], "spec": pod["spec"]}
    for key in reversed(pod_path.split(".")[:-1]):
        inner = {key: inner}
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": "w"}, **inner}


@pytest.mark.parametrize(("api_version", "kind", "pod_path"), TEMPLATE_KINDS)
def test_every_workload_kind_is_checked_at_its_pod_template(
    api_version: str, kind: str, pod_path: str
) -> None:
    pod = broken(container_sc(privileged=True))
    annotate(podsecurity._APPARMOR_ANNOTATION + "api", "unconfined")(pod)
    obj = wrap(api_version, kind, pod_path, pod)
    assert podsecurity.pod_specs(obj) == [(pod_path, pod["spec"])]
    meta_path = pod_path.removesuffix("spec") + "metadata"
    assert paths(obj, "baseline") == [
        f"{meta_path}.annotations['{podsecurity._APPARMOR_ANNOTATION}api']",
        f"{pod_path}.containers[0].securityContext.privileged",
    ]
    assert podsecurity.check(wrap(api_version, kind, pod_path, good_pod()), "restricted") == []


@pytest.mark.parametrize(
    "obj",
    [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"hostNetwork": True}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}},
        # Same kind name, another API group: not a pod owner.
        wrap("batch.volcano.sh/v1alpha1", "Job", "spec.template.spec", broken(spec(hostPID=True))),
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}},
    ],
)
def test_objects_without_pods_have_nothing_to_check(obj: dict[str, Any]) -> None:
    assert podsecurity.pod_specs(obj) == []
    assert podsecurity.check(obj, "restricted") == []


# --- order and shape --------------------------------------------------------------------------


def many_containers(n: int) -> dict[str, Any]:
    pod = good_pod()
    pod["spec"]["containers"] = [{"name": f"c{i}", "image": "x"} for i in range(n)]
    pod["spec"]["hostNetwork"] = True
    return pod


def test_violations_are_sorted_with_numeric_indexes_and_deterministic() -> None:
    got = podsecurity.check(many_containers(12), "restricted")
    assert got == podsecurity.check(many_containers(12), "restricted")
    indexes = [int(v.path.split("[")[1].split("]")[0]) for v in got if v.path.startswith("spec.containers")]
    assert indexes == sorted(indexes)
    assert got[0].path == "spec.containers[0].securityContext.allowPrivilegeEscalation"
    assert got[-1].path == "spec.hostNetwork"


def test_violations_are_frozen() -> None:
    (v,) = podsecurity.check(broken(spec(hostIPC=True)), "baseline")
    with pytest.raises(pydantic.ValidationError):
        v.rule = "other"  # type: ignore[misc]


def test_wrong_shapes_are_ignored_not_crashed_on() -> None:
    pod = good_pod()
    pod["spec"].update(volumes="x", securityContext=[1], initContainers=[None, "a"], ephemeralContainers={})
    pod["spec"]["containers"][0].update(securityContext="root", ports=[None, 7], livenessProbe=[])
    assert {v.rule for v in podsecurity.check(pod, "restricted")} == {
        "Running as Non-root",
        "Seccomp",
        "Privilege Escalation",
        "Capabilities",
    }


# --- properties -------------------------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers(-1, 70000) | st.sampled_from(["", "Unconfined", "ALL", "x"])
security_context = st.fixed_dictionaries(
    {},
    optional={
        "privileged": st.booleans(),
        "allowPrivilegeEscalation": st.booleans() | st.none(),
        "runAsNonRoot": st.booleans() | st.none(),
        "runAsUser": st.integers(0, 3) | st.none(),
        "procMount": st.sampled_from(["Default", "Unmasked", ""]),
        "capabilities": st.fixed_dictionaries(
            {},
            optional={
                "add": st.lists(st.sampled_from(["NET_BIND_SERVICE", "CHOWN", "SYS_ADMIN", "NET_RAW"])),
                "drop": st.lists(st.sampled_from(["ALL", "NET_RAW"])),
            },
        ),
        "seccompProfile": st.fixed_dictionaries(
            {"type": st.sampled_from(["RuntimeDefault", "Localhost", "Unconfined"])}
        ),
        "appArmorProfile": st.fixed_dictionaries({"type": st.sampled_from(["RuntimeDefault", "Unconfined"])}),
        "seLinuxOptions": st.fixed_dictionaries(
            {}, optional={"type": st.sampled_from(["container_t", "spc_t"]), "user": st.just("u")}
        ),
        "windowsOptions": st.fixed_dictionaries({"hostProcess": st.booleans()}),
        "sysctls": st.lists(
            st.fixed_dictionaries({"name": st.sampled_from(["kernel.msgmax", "net.ipv4.tcp_rmem"])})
        ),
        "junk": scalars,
    },
)
a_container = st.fixed_dictionaries(
    {"name": st.sampled_from(["a", "b", "c"]), "image": st.just("x")},
    optional={
        "securityContext": security_context,
        "ports": st.lists(
            st.fixed_dictionaries({"containerPort": st.just(80)}, optional={"hostPort": st.integers(0, 2)})
        ),
        "livenessProbe": st.fixed_dictionaries(
            {
                "tcpSocket": st.fixed_dictionaries(
                    {"port": st.just(1)}, optional={"host": st.sampled_from(["", "h"])}
                )
            }
        ),
    },
)
a_volume = st.sampled_from(
    [
        {"name": "a", "emptyDir": {}},
        {"name": "b", "hostPath": {"path": "/"}},
        {"name": "c", "nfs": {}},
        {"name": "d"},
    ]
)
a_pod_spec = st.fixed_dictionaries(
    {"containers": st.lists(a_container, min_size=1, max_size=3)},
    optional={
        "initContainers": st.lists(a_container, max_size=2),
        "ephemeralContainers": st.lists(a_container, max_size=1),
        "securityContext": security_context,
        "volumes": st.lists(a_volume, max_size=3),
        "hostNetwork": st.booleans(),
        "hostPID": st.booleans(),
        "hostUsers": st.booleans(),
        "os": st.fixed_dictionaries({"name": st.sampled_from(["linux", "windows"])}),
    },
)
a_workload = st.tuples(st.sampled_from(TEMPLATE_KINDS), a_pod_spec).map(
    lambda t: wrap(
        *t[0],
        {"metadata": {"annotations": {podsecurity._APPARMOR_ANNOTATION + "a": "unconfined"}}, "spec": t[1]},
    )
)


@settings(max_examples=300)
@given(a_workload)
def test_privileged_never_reports_anything(obj: dict[str, Any]) -> None:
    assert podsecurity.check(obj, "privileged") == []


@settings(max_examples=300)
@given(a_workload)
def test_levels_are_cumulative(obj: dict[str, Any]) -> None:
    baseline = podsecurity.check(obj, "baseline")
    restricted = podsecurity.check(obj, "restricted")
    assert set(baseline) <= set(restricted)
    assert all(v.level == "baseline" for v in baseline)
    assert [v for v in restricted if v.level == "baseline"] == baseline
    assert restricted == sorted(restricted, key=podsecurity._order)
    assert len(set(v.path for v in restricted)) == len(restricted)
