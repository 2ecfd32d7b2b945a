#!/usr/bin/env bash
# Install Debian's PostgreSQL server when it is missing, for the `postgres`-marked tests of the
# feedback store (tests/serving). Those tests start a throwaway cluster of their own (initdb and
# pg_ctl in a temporary folder, on loopback) and skip with a message when none can be started;
# this script only makes the server binaries available. Needs root (or sudo) and Debian's apt.
set -euo pipefail

found() {
    command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

if found; then
    echo "postgres.sh: PostgreSQL is installed ($(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1))"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "postgres.sh: no apt-get here; install PostgreSQL yourself, or the postgres tests will be skipped" >&2
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "postgres.sh: not root and no sudo; the postgres tests will be skipped" >&2
        exit 0
    fi
    SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# A failed install is not fatal: the tests that need the server skip, saying why.
if $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null \
    && found; then
    echo "postgres.sh: installed $(ls -d /usr/lib/postgresql/*/bin | tail -1)"
else
    echo "postgres.sh: could not install postgresql; the postgres tests will be skipped" >&2
fi
