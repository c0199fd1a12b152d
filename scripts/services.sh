#!/usr/bin/env bash
# Brings up the real services the integration tests use, when they are not already running:
#   redis    127.0.0.1:6379  (the machine's own; started with the machine's command if stopped)
#   mariadb  127.0.0.1:3306  (the machine's own; root, no password, database `test`)
#   etcd     127.0.0.1:2379  (Debian's etcd-server, installed if missing; data under .services/)
# Usage: scripts/services.sh [redis] [mariadb] [etcd]   (no argument: all of them)
# It never stops, flushes or reconfigures a running service. Fault tests start their own extra
# server processes on spare ports; this script is only for the shared ones.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="$root/.services"
mkdir -p "$state"
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(redis mariadb etcd)

log() { printf '[services] %s\n' "$*"; }

wait_for() { # what, seconds, command...
  local what=$1 seconds=$2
  shift 2
  for _ in $(seq 1 $((seconds * 10))); do
    if "$@" >/dev/null 2>&1; then log "$what is up"; return 0; fi
    sleep 0.1
  done
  log "$what did not come up within ${seconds}s"
  return 1
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  log "installing $* from Debian's packages"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
start_redis() {
  if redis_up; then log "redis already running"; return; fi
  command -v redis-server >/dev/null || apt_install redis-server
  log "starting redis on 127.0.0.1:6379"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for redis 20 redis_up
}

mariadb_up() { mariadb-admin --host=127.0.0.1 --port=3306 --user=root ping >/dev/null 2>&1; }
start_mariadb() {
  if mariadb_up; then log "mariadb already running"; else
    command -v mariadbd >/dev/null || apt_install mariadb-server
    log "starting mariadb on 127.0.0.1:3306"
    as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    wait_for mariadb 60 mariadb_up
  fi
  mariadb --host=127.0.0.1 --port=3306 --user=root -e 'CREATE DATABASE IF NOT EXISTS test'
}

etcd_up() { ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 --dial-timeout=1s endpoint health >/dev/null 2>&1; }
start_etcd() {
  command -v etcd >/dev/null && command -v etcdctl >/dev/null || apt_install etcd-server etcd-client
  if etcd_up; then log "etcd already running"; return; fi
  log "starting etcd on 127.0.0.1:2379 (data in .services/etcd)"
  # Detached from this shell so that it outlives the script; it is the shared test etcd.
  nohup etcd --name dlock-test --data-dir "$state/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster dlock-test=http://127.0.0.1:2380 >"$state/etcd.log" 2>&1 </dev/null &
  echo $! >"$state/etcd.pid"
  wait_for etcd 30 etcd_up
}

for service in "${wanted[@]}"; do
  case "$service" in
    redis) start_redis ;;
    mariadb | mysql) start_mariadb ;;
    etcd) start_etcd ;;
    *) log "unknown service: $service"; exit 2 ;;
  esac
done
