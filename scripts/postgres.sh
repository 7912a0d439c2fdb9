#!/usr/bin/env bash
# PostgreSQL server binaries for the store's PostgreSQL tests (tests/postgres.py starts a
# throw-away server from them). Installs Debian's `postgresql` only when no initdb is found,
# on PATH or where Debian puts it (/usr/lib/postgresql/<version>/bin); like `make browser`,
# as root in CI, through sudo elsewhere.
set -euo pipefail

if command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  SUDO=sudo
fi
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
