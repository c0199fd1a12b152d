#!/usr/bin/env bash
# The demo from a fresh clone on a machine with only Node.js (>= 20.19): installs pnpm and the
# dependencies, builds the CLI and the packages it uses, and runs `dlock demo` on the embedded
# SQLite default (or on DLOCK_URL). Arguments go to `dlock demo` (for example --help).
set -euo pipefail
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
cd "$(dirname "${BASH_SOURCE[0]}")/.."

command -v pnpm >/dev/null 2>&1 || npm i -g pnpm@10 >/dev/null
pnpm install --frozen-lockfile --reporter=silent
pnpm turbo run build --filter=@dlock/cli... --output-logs=errors-only >/dev/null
exec node packages/cli/dist/bin.js demo "$@"
