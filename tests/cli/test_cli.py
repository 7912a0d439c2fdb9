"""The `appprofile` command as a person runs it: a real process, real files, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests import secret_key

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "profiles" / "examples").glob("*.yaml"))


def cli(*args: str, db: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    if db is not None:
        env["APPPROFILE_DB"] = str(db)
        env["APPPROFILE_SECRET_KEY"] = secret_key.KEY
    if os.environ.get("HELM_BIN"):
        env["HELM_BIN"] = os.environ["HELM_BIN"]
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        input=stdin,
    )


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_validate_and_render_every_example(example: Path) -> None:
    ok = cli("validate", str(example))
    assert ok.returncode == 0, ok.stderr
    assert "valid" in ok.stdout
    out = cli("render", str(example), "--name", "shop")
    assert out.returncode == 0, out.stderr
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    assert docs and all(d["metadata"]["labels"]["appprofile.dev/deployment"] == "shop" for d in docs)
    # Outputs only the cluster knows are placeholders, never a real or empty value.
    if example.stem == "counter-app":
        api = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-api"))
        entries = {e["name"]: e for e in api["spec"]["template"]["spec"]["containers"][0]["env"]}
        env = {name: e.get("value") for name, e in entries.items()}
        # A secret output is a reference to a Secret beside the consumer, never a literal; the
        # Secret render prints holds the placeholder.
        assert entries["DB_PASSWORD"]["valueFrom"] == {
            "secretKeyRef": {"name": "shop-api-env", "key": "DB_PASSWORD"}
        }
        env_secret = next(
            d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "shop-api-env"
        )
        assert env_secret["stringData"] == {"DB_PASSWORD": "<<postgres-db.PASSWORD>>"}
        assert env["DB_HOST"].endswith(".svc.cluster.local")
    assert "plan" in out.stderr


def test_import_export_list_versions_round_trip(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    example = ROOT / "profiles" / "examples" / "counter-app.yaml"
    assert cli("import", str(example), db=db).returncode == 0
    listed = cli("list", db=db)
    assert "counter-app" in listed.stdout and "1.0.0" in listed.stdout
    exported = cli("export", "counter-app@1.0.0", db=db)
    assert exported.returncode == 0
    assert exported.stdout == example.read_text()  # byte for byte: comments and layout kept
    (tmp_path / "again.yaml").write_text(exported.stdout)
    again = cli("import", str(tmp_path / "again.yaml"), db=db)
    assert again.returncode == 2
    assert "already exists" in again.stderr and "hint:" in again.stderr
    versions = cli("versions", "counter-app", db=db)
    assert "1.0.0" in versions.stdout and "import" in versions.stdout


def test_services_lists_types_and_one_type_in_detail() -> None:
    every = cli("services")
    for t in (
        "container",
        "helm",
        "manifest",
        "postgresql",
        "mysql",
        "mongodb",
        "redis",
        "nats",
        "kafka",
        "vault",
        "minio",
        "s3",
    ):
        assert f"{t}:" in every.stdout
    pg = cli("services", "postgresql")
    assert "PASSWORD*" in pg.stdout and "volumeSize" in pg.stdout
    bad = cli("services", "postgres")
    assert bad.returncode == 2 and "did you mean `postgresql`" in bad.stderr


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("name: Bad_Name\ntiers: [{name: a, type: redis}]\n", "profile name"),
        ("name: ok\ntiers:\n  - {name: a, type: redis}\n  - {name: a, type: redis}\n", "used twice"),
        ("name: ok\ntiers: [{name: a, type: postgres}]\n", "unknown tier type"),
        ("name: ok\ntiers: [{name: a, type: redis, properties: {volumeSize: 0}}]\n", "smallest allowed"),
        (
            "name: ok\ntiers:\n  - {name: api, type: container, properties: {image: x, env: "
            '[{name: A, value: "{{.spectro.app.$appDeploymentName.db.PASSWORD}}"}]}}\n'
            "  - {name: db, type: postgresql}\n",
            "above it",
        ),
        ("name: ok\ntiers: [\n", "not valid YAML at line"),
    ],
)
def test_user_errors_go_to_stderr_with_exit_2(tmp_path: Path, text: str, needle: str) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(text)
    out = cli("validate", str(f))
    assert out.returncode == 2
    assert needle in out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_missing_file_and_unknown_version() -> None:
    out = cli("validate", "/nonexistent/profile.yaml")
    assert out.returncode == 2 and "cannot read" in out.stderr


def test_config_check(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(
        "clusters:\n  dev: {context: kind-dev}\n  prod:\n    context: p\n    channels: [C0PROD]\n"
        "    approval: {required: 2, approvers: [U1AAAA, U2BBBB], expires_after: 2h}\n"
    )
    out = cli("config", "check", str(good))
    assert out.returncode == 0 and "prod: 2 approvals, channels C0PROD" in out.stdout
    # The effective guardrails, defaults included, per cluster.
    assert "  pod_security: baseline" in out.stdout and "  cluster_scoped: none" in out.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "clusters:\n  prod:\n    approval: {required: 3, approvers: [U1AAAA], expires_after: soon}\n"
        "  dev:\n    contxt: kind-dev\n    guardrails: {pod_security: loose, cluster_scoped: [clusterrole]}\n"
    )
    out = cli("config", "check", str(bad))
    assert out.returncode == 2
    # Every problem of the file in one run, each with its field.
    for needle in (
        "prod.approval.expires_after",
        "unknown field `contxt`",
        "dev.guardrails.pod_security",
        "'clusterrole' is not a kind",
    ):
        assert needle in out.stderr, (needle, out.stderr)


def test_the_readme_config_is_the_example_file_and_it_checks() -> None:
    example = ROOT / "examples" / "appprofile.yaml"
    assert example.read_text() in (ROOT / "README.md").read_text()
    out = cli("config", "check", str(example))
    assert out.returncode == 0, out.stderr
    assert "prod: 2 approvals, channels C0PROD" in out.stdout


def test_versions_of_an_unknown_profile_is_an_error(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    assert cli("import", str(ROOT / "profiles" / "examples" / "counter-app.yaml"), db=db).returncode == 0
    out = cli("versions", "counter-ap", db=db)
    assert out.returncode == 2
    assert "no profile named counter-ap" in out.stderr and "did you mean `counter-app`" in out.stderr


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_exports_exactly_as_imported(tmp_path: Path, example: Path) -> None:
    db = tmp_path / "cli.db"
    assert cli("import", str(example), db=db).returncode == 0
    name = yaml.safe_load(example.read_text())["name"]
    assert cli("export", f"{name}@1.0.0", db=db).stdout == example.read_text()


def test_render_uses_the_deploy_name_rules() -> None:
    out = cli("render", str(ROOT / "profiles" / "examples" / "counter-app.yaml"), "--name", "Shop_1")
    assert out.returncode == 2
    assert "`Shop_1` is not a valid deployment name" in out.stderr and "deploy … as NAME" in out.stderr


def test_render_with_a_config_runs_the_clusters_guardrails_offline(tmp_path: Path) -> None:
    profile = tmp_path / "grab.yaml"
    profile.write_text(
        "name: grab\ntiers:\n  - name: x\n    type: manifest\n    parameters: {NAMESPACE: grab-x-ns}\n    manifests:\n      - name: crb\n"
        "        content: |\n          apiVersion: rbac.authorization.k8s.io/v1\n"
        "          kind: ClusterRoleBinding\n          metadata: {name: own}\n"
        "          roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\n"
        "          subjects: [{kind: User, name: me}]\n"
    )
    config = tmp_path / "appprofile.yaml"
    config.write_text(
        "clusters:\n  dev: {context: kind-dev}\n  lab: {context: lab, guardrails: {cluster_scoped: [ClusterRoleBinding]}}\n"
    )
    refused = cli("render", str(profile), "--cluster", "dev", "--config", str(config))
    assert refused.returncode == 2
    assert "ClusterRoleBinding own" in refused.stderr
    assert "clusters.dev.guardrails.cluster_scoped" in refused.stderr
    opened = cli("render", str(profile), "--cluster", "lab", "--config", str(config))
    assert opened.returncode == 0, opened.stderr
    assert "kind: ClusterRoleBinding" in opened.stdout


def test_cli_hints_name_cli_commands() -> None:
    from bot import cli as cli_module

    text = "see `/appprofile versions shop`, then `/appprofile deploy shop to dev`"
    assert (
        cli_module.cli_text(text)
        == "see `appprofile versions shop`, then `/appprofile deploy shop to dev` (in Slack)"
    )
