#!/usr/bin/env bash
# Installs the reference Bluesky PDS (@atproto/pds 0.4.217 + @did-plc/server 0.0.1)
# into tests/publishers/pds/node_modules for the Bluesky adapter tests.
# Idempotent: does nothing when the pinned install is already there and loads.
# Needs Node 20 + npm, a C++ toolchain and Node's headers (better-sqlite3 is
# compiled by node-gyp against the installed Node, not downloaded headers).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pds_dir="$here/tests/publishers/pds"

command -v node >/dev/null || { echo "install-pds: node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "install-pds: npm is not installed" >&2; exit 1; }
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" != "20" ]; then
  echo "install-pds: warning: @atproto/pds 0.4.217 is pinned for Node 20, found $(node --version)" >&2
fi

# node-gyp must find headers matching the running Node; without internet access it
# cannot download them, so point it at a local include tree.
nodedir="${NPM_CONFIG_NODEDIR:-}"
if [ -z "$nodedir" ]; then
  for candidate in "$(dirname "$(dirname "$(command -v node)")")" /usr /usr/local; do
    if [ -f "$candidate/include/node/node_version.h" ]; then nodedir="$candidate"; break; fi
  done
fi
if [ -z "$nodedir" ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && (apt-get install -y -qq libnode-dev || apt-get install -y -qq nodejs-dev)
    [ -f /usr/include/node/node_version.h ] && nodedir=/usr
  fi
fi
if [ -z "$nodedir" ]; then
  echo "install-pds: no Node headers found (install libnode-dev or set NPM_CONFIG_NODEDIR)" >&2
  exit 1
fi
for tool in make g++ python3; do
  command -v "$tool" >/dev/null || { echo "install-pds: $tool is needed to build better-sqlite3" >&2; exit 1; }
done

loads() {
  (cd "$pds_dir" && node -e "
    const v = require('@atproto/pds/package.json').version;
    if (v !== '0.4.217') process.exit(1);
    require('@did-plc/server');
    new (require('better-sqlite3'))(':memory:').close();
  ") >/dev/null 2>&1
}

if loads; then
  echo "install-pds: already installed in $pds_dir/node_modules"
  exit 0
fi

cd "$pds_dir"
npm ci --no-audit --no-fund --nodedir="$nodedir"
# npm may skip install scripts it has not been told to trust; build the one
# native module explicitly so the result does not depend on that policy.
if ! loads; then
  npm rebuild better-sqlite3 --nodedir="$nodedir"
fi
loads || { echo "install-pds: the PDS does not load after install" >&2; exit 1; }
echo "install-pds: installed @atproto/pds 0.4.217 in $pds_dir/node_modules"
