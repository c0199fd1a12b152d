#!/usr/bin/env bash
# The whole test suite from a fresh clone on a machine with only Node.js (>= 20.19):
# installs pnpm and the dependencies, brings up the real services, builds, and runs every
# package's tests (lock-core with its coverage report), then prints one summary line.
set -euo pipefail
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
cd "$(dirname "${BASH_SOURCE[0]}")/.."

command -v pnpm >/dev/null 2>&1 || npm i -g pnpm@10 >/dev/null
pnpm install --frozen-lockfile
bash scripts/services.sh
rm -f packages/*/test-results.json
status=0
pnpm turbo run build test:coverage --concurrency=1 --continue --output-logs=full || status=$?
node scripts/test-summary.mjs || status=1
exit "$status"
