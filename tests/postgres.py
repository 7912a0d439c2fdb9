"""A throw-away PostgreSQL server for the test run (`postgres_server`, session-scoped).

It finds `initdb` (on PATH, else Debian's /usr/lib/postgresql/<version>/bin; `make postgres`
installs the package), creates a cluster in a temporary directory and starts `postgres` on
127.0.0.1 on a free port, with fsync off: the data is thrown away. As root, initdb and the
server refuse to run, so they run as the `postgres` user (`runuser`), which owns the directory.
Each test asks `create_database()` for an empty database of its own.

Without a usable PostgreSQL the tests that need it are skipped with the reason, unless
APPPROFILE_REQUIRE_POSTGRES=1 (CI), which makes them fail instead.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

# Read at import, before the autouse fixture scrubs APPPROFILE_* from each test's environment.
REQUIRED = os.environ.get("APPPROFILE_REQUIRE_POSTGRES") == "1"
SUPERUSER = "postgres"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30


class Unavailable(Exception):
    """No PostgreSQL could be found or started here; the message says why."""


def find_initdb() -> Path | None:
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve()
    installed = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    return installed[-1] if installed else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int = 0
    as_root: bool = field(default_factory=lambda: os.geteuid() == 0)
    process: subprocess.Popen[bytes] | None = None
    _names: Iterator[int] = field(default_factory=itertools.count)

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _owned(self, *command: str | Path) -> list[str]:
        words = [str(c) for c in command]
        return ["runuser", "-u", SUPERUSER, "--", *words] if self.as_root else words

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])
        return "(no server log)"

    def init(self) -> None:
        if self.as_root:
            try:
                owner = pwd.getpwnam(SUPERUSER)
            except KeyError:
                raise Unavailable(
                    "running as root and there is no `postgres` user to run the server as"
                ) from None
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        done = subprocess.run(
            self._owned(
                self.bindir / "initdb", "-D", self.datadir, "-U", SUPERUSER, "--auth=trust",
                "--encoding=UTF8", "--no-sync", "--no-instructions",
            ),
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise Unavailable(f"initdb failed: {(done.stderr or done.stdout).strip()[-500:]}")

    def start(self) -> None:
        self.port = _free_port()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self._owned(
                    self.bindir / "postgres", "-D", self.datadir, "-h", "127.0.0.1", "-p", str(self.port),
                    # No unix socket (the default directory may not exist); data is throw-away.
                    "-k", "", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                ),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        assert self.process is not None
        while True:
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:
                last = exc
            if time.monotonic() > deadline:
                raise Unavailable(f"postgres did not accept connections in {START_TIMEOUT_S:.0f}s: {last}")
            # Waiting on the process both paces the retries and notices a server that died.
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self.process.wait(timeout=0.1)
                raise Unavailable(f"postgres exited with {code}:\n{self._log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            subprocess.run(
                self._owned(self.bindir / "pg_ctl", "stop", "-D", self.datadir, "-m", "fast", "-w",
                            "-t", str(STOP_TIMEOUT_S)),
                capture_output=True, timeout=STOP_TIMEOUT_S + 10, check=False,
            )  # fmt: skip
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_S)
        shutil.rmtree(self.root, ignore_errors=True)

    def admin(self, statement: str) -> None:
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement)

    def create_database(self) -> str:
        """An empty database of its own (from template0); returns its URL."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as conn:
            # FILE_COPY (PostgreSQL 15+) copies the template's files instead of logging every
            # block: several times faster with fsync off.
            strategy = " STRATEGY FILE_COPY" if conn.info.server_version >= 150000 else ""
            conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'{strategy}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        # FORCE: a session a failed test left open must not keep the database alive.
        self.admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')

    def database_files(self, url: str) -> list[Path]:
        """The files holding one database's tables (after a checkpoint wrote them out)."""
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            conn.execute("CHECKPOINT")
            row = conn.execute("SELECT oid FROM pg_database WHERE datname = current_database()").fetchone()
        assert row is not None
        return [p for p in (self.datadir / "base" / str(row[0])).iterdir() if p.is_file()]


def _start() -> PostgresServer:
    initdb = find_initdb()
    if initdb is None:
        raise Unavailable("no initdb on PATH or in /usr/lib/postgresql/*/bin (`make postgres` installs it)")
    # In /tmp, not under pytest's (or a root TMPDIR's) directories: those are closed to the
    # postgres user the server runs as under root.
    where = "/tmp" if os.geteuid() == 0 and Path("/tmp").is_dir() else None
    server = PostgresServer(
        bindir=initdb.parent, root=Path(tempfile.mkdtemp(prefix="appprofile-pg-", dir=where))
    )
    try:
        server.init()
        server.start()
    except (Unavailable, OSError, subprocess.SubprocessError) as exc:
        server.stop()
        raise Unavailable(str(exc)) from exc
    return server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        server = _start()
    except Unavailable as exc:
        if REQUIRED:
            pytest.fail(f"APPPROFILE_REQUIRE_POSTGRES=1 but PostgreSQL is unavailable: {exc}")
        pytest.skip(f"PostgreSQL is unavailable ({exc}); set APPPROFILE_REQUIRE_POSTGRES=1 to fail instead")
    try:
        yield server
    finally:
        server.stop()
