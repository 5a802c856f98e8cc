#!/usr/bin/env bash
# Installs the npm test peers for the Telegram, Mastodon and Discord adapter tests
# from .ci/peers/package-lock.json into .ci/cache/peers/node_modules (gitignored):
# - telegram-test-api 4.2.1: a local Telegram Bot API server;
# - @stoplight/prism-cli 5.14.2, a request-validating mock server for OpenAPI
#   documents (Mastodon's from ../shared/specs/, Discord's written by the test).
#   It is the last one for Node 20 (later ones need Node 24); the overrides in
#   package.json keep its prism-core and prism-http-server on Node 20 releases too;
# - discord-api-spec 10.0.266135: Zod schemas generated from Discord's official
#   OpenAPI document (the package ships no OpenAPI file), and zod 4.6.7 to turn
#   them back into JSON Schema.
# Idempotent: does nothing when the pinned install is already there and loads.
# Needs Node 20 + npm.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pins="$here/.ci/peers"
peers_dir="$here/.ci/cache/peers"

command -v node >/dev/null || { echo "install-peers: node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "install-peers: npm is not installed" >&2; exit 1; }
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" != "20" ]; then
  echo "install-peers: warning: the peers are pinned for Node 20, found $(node --version)" >&2
fi

loads() {
  cmp -s "$pins/package-lock.json" "$peers_dir/package-lock.json" || return 1
  (cd "$peers_dir" && node -e "
    const want = {
      'telegram-test-api': '4.2.1',
      '@stoplight/prism-cli': '5.14.2',
      'discord-api-spec': '10.0.266135',
      'zod': '4.6.7',
    };
    for (const [name, version] of Object.entries(want)) {
      // Read from disk: discord-api-spec's exports do not include package.json.
      const file = require('path').join('node_modules', name, 'package.json');
      if (JSON.parse(require('fs').readFileSync(file)).version !== version) process.exit(1);
    }
    require('telegram-test-api');
  ") >/dev/null 2>&1 && "$peers_dir/node_modules/.bin/prism" --version >/dev/null 2>&1
}

if loads; then
  echo "install-peers: already installed in $peers_dir/node_modules"
  exit 0
fi

mkdir -p "$peers_dir"
cp "$pins/package.json" "$pins/package-lock.json" "$peers_dir/"
cd "$peers_dir"
# No install scripts: none of these needs one (the only one is a usage beacon).
npm ci --no-audit --no-fund --ignore-scripts
loads || { echo "install-peers: the peers do not load after install" >&2; exit 1; }
echo "install-peers: installed telegram-test-api, Prism and discord-api-spec in $peers_dir/node_modules"
