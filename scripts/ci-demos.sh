#!/usr/bin/env bash
# The demo once on every server backend, as the README runs it in the repository
# (`DLOCK_URL=… bash scripts/demo.sh`), kept short (2 workers × 5 sections). The embedded SQLite
# default is the README's own command, which .ci/run runs first. Needs the services up.
# Redis Cluster is left out: lock-redis has no URL form for it (code only: redisBackend with an
# ioredis Cluster), so neither connect() nor the CLI can reach one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
run="ci$$"
ARGS=(--workers 2 --sections 5)

# Two more Redis masters on spare ports for Redlock's quorum of three; stopped on exit.
pids=()
trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done' EXIT
ports=()
for _ in 1 2; do
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
  pids+=("$!")
  ports+=("$port")
done
for port in "${ports[@]}"; do
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
done

# The MySQL demo's table, made once through lock-mysql's own ensureSchema (dropped on exit).
table="dlock_demo_$run"
mysql_node() {
  (cd packages/lock-mysql && node --input-type=module -e "
    import mysql from 'mysql2/promise';
    import { ensureSchema } from '@dlock/lock-mysql';
    const pool = mysql.createPool('mysql://root@127.0.0.1:3306/test');
    try { $1 } finally { await pool.end(); }")
}
pnpm turbo run build --filter=@dlock/lock-mysql --output-logs=errors-only >/dev/null
mysql_node "await ensureSchema(pool, { table: '$table' });"
trap 'mysql_node "await pool.query(\"DROP TABLE IF EXISTS ??\", [\"$table\"]);"; for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done' EXIT

status=0
for url in \
  "redis://127.0.0.1:6379?prefix=dlock-$run:" \
  "mysql://root@127.0.0.1:3306/test?table=$table" \
  "etcd://127.0.0.1:2379?prefix=dlock-$run/" \
  "redlock:127.0.0.1:6379,127.0.0.1:${ports[0]},127.0.0.1:${ports[1]}?prefix=dlock-rl-$run:"; do
  start=$SECONDS
  if DLOCK_URL="$url" bash scripts/demo.sh "${ARGS[@]}" --json >/tmp/dlock-demo-$run.json; then
    echo "demo on ${url%%\?*}: verdict holds ($((SECONDS - start)) s)"
  else
    echo "demo on ${url%%\?*}: FAILED ($((SECONDS - start)) s)"; cat /tmp/dlock-demo-$run.json
    status=1
  fi
done
rm -f /tmp/dlock-demo-$run.json
exit "$status"
