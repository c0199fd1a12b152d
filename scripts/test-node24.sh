#!/usr/bin/env bash
# The Node.js 24 LTS leg of CI (the machine runs Node 20): what depends on the runtime (below),
# under a pinned Node 24 from the npm registry (scripts/node24.sh). Needs the packages built and the services up (scripts/test.sh
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

# What depends on the runtime runs here: lock-core whole, each driver's conformance kit once
# (node:sqlite, ioredis, mysql2, etcd3's gRPC), and the CLI's unit tests with the end-to-end runs
# of its embedded default and its process handling. The cross-process and fault scenarios, the
# other two MySQL modes, Redis Cluster and Redlock's quorum are the same JavaScript over the same
# drivers: they run on Node 20 only (scripts/test.sh), which keeps CI within its time budget.
declare -A FILES=(
  [lock-core]=""
  [lock-sqlite]="test/conformance.test.ts test/shared-conformance.test.ts test/election-kit.test.ts test/sqlite-backend.test.ts test/shared-backend.test.ts test/shared-client.test.ts test/election.test.ts test/acquire-many.test.ts test/backend-swap.test.ts test/shared-default.test.ts test/freeze-kill.test.ts test/multi-process.test.ts"
  [cli]="test/units.test.ts test/connection.test.ts test/main.test.ts test/schema.test.ts test/ls.test.ts test/tx.test.ts test/shared-modes.test.ts test/elect.test.ts test/demo-worker.test.ts test/command-process.test.ts test/demo.e2e.test.ts test/run.e2e.test.ts test/run-guardian.e2e.test.ts test/commands.e2e.test.ts"
  [idgen]="test/snowflake.test.ts test/uuid.test.ts test/segment.test.ts test/errors.test.ts"
  [lock-redis]="test/unit.test.ts test/standalone.test.ts"
  [lock-mysql]="test/unit.test.ts test/conformance-row.test.ts"
  [lock-etcd]="test/unit.test.ts test/conformance.test.ts"
  [redlock]="test/unit.test.ts test/spi.test.ts"
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
