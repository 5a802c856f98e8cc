#!/bin/sh
# Make PostgreSQL server binaries (initdb, pg_ctl, postgres) available for the
# tests marked `postgres`. Idempotent: does nothing when they are already here.
# The tests start their own throwaway cluster; this script starts no server.
set -eu

have_pg() {
    command -v initdb >/dev/null 2>&1 && return 0
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && return 0
    done
    return 1
}

if have_pg; then
    echo "postgresql binaries present"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# Debian's postgresql package creates and starts a default cluster; the tests
# do not use it, so the policy-rc.d stops the install from starting a server.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    CLEAN_POLICY=1
fi
$SUDO apt-get install -y -q --no-install-recommends postgresql
if [ "${CLEAN_POLICY:-0}" = 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi

have_pg || { echo "postgresql install did not provide initdb" >&2; exit 1; }
echo "postgresql binaries installed: $(ls -d /usr/lib/postgresql/*/bin)"
