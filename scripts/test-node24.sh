#!/usr/bin/env bash
# The Node.js 24 LTS leg of CI (the machine runs Node 20): the unit tests, the conformance kit on
# every backend, lock-sqlite on node:sqlite and the CLI, under a pinned Node 24 from the npm
# registry (scripts/node24.sh). Needs the packages built and the services up (scripts/test.sh
# does both first). Arguments: package names to run only those (e.g. lock-core lock-sqlite).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"
node24="$(bash scripts/node24.sh)"
# First on PATH, so vitest's workers and every child process the tests start run Node 24 too.
export PATH="$(dirname "$node24"):$PATH"
echo "Node 24 leg on $(node --version)"

# better-sqlite3's addon in node_modules is built for the machine's Node 20 (one build per
# install), so on Node 24 lock-sqlite's suite runs on node:sqlite, the driver Node 24 users get.
export DLOCK_SQLITE_DRIVERS=node:sqlite

declare -A FILES=(
  [lock-core]=""
  [lock-sqlite]=""
  [cli]=""
  [idgen]="test/snowflake.test.ts test/uuid.test.ts test/segment.test.ts test/errors.test.ts"
  [lock-redis]="test/unit.test.ts test/standalone.test.ts test/cluster.test.ts"
  [lock-mysql]="test/unit.test.ts test/conformance-row.test.ts test/conformance-for-update.test.ts test/conformance-get-lock.test.ts"
  [lock-etcd]="test/unit.test.ts test/conformance.test.ts"
  [redlock]="test/unit.test.ts test/conformance.test.ts"
)
ORDER=(lock-core lock-sqlite cli idgen lock-redis lock-mysql lock-etcd redlock)
[ "$#" -gt 0 ] && ORDER=("$@")

status=0
for pkg in "${ORDER[@]}"; do
  start=$SECONDS
  # No JSON report: test-results.json stays the Node 20 run's, which test-summary.mjs adds up.
  # shellcheck disable=SC2086
  if (cd "packages/$pkg" && node "$root/node_modules/vitest/vitest.mjs" run --reporter=dot ${FILES[$pkg]}); then
    echo "node24 $pkg: passed ($((SECONDS - start)) s)"
  else
    echo "node24 $pkg: FAILED ($((SECONDS - start)) s)"
    status=1
  fi
done
exit "$status"
