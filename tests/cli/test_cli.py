"""The `appprofile` command as a person runs it: a real process, real files, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "profiles" / "examples").glob("*.yaml"))


def cli(*args: str, db: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    if db is not None:
        env["APPPROFILE_DB"] = str(db)
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
        env = {e["name"]: e.get("value") for e in api["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["DB_PASSWORD"] == "<postgres-db.PASSWORD>"
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
    assert out.returncode == 0 and "prod: 2 approval(s)" in out.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "clusters:\n  prod:\n    approval: {required: 3, approvers: [U1AAAA], expires_after: soon}\n"
    )
    out = cli("config", "check", str(bad))
    assert out.returncode == 2
    assert "expires_after" in out.stderr


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
