#!/usr/bin/env bash
# Throwaway PostgreSQL and Redis on loopback, data under a given directory.
#   scripts/services.sh start DIR PGPORT REDISPORT   -> starts both (reuses existing data)
#   scripts/services.sh stop DIR                     -> stops both
# PostgreSQL refuses to run as root, so as root it runs as the `postgres` system user.
set -euo pipefail
PGBIN=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n1)")

as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

start() {
  local dir=$1 pgport=$2 redisport=$3
  mkdir -p "$dir/redis"
  dir=$(cd "$dir" && pwd)
  if [ "$(id -u)" -eq 0 ]; then
    # the postgres user must be able to reach its data dir through every parent
    local p=$dir; while [ "$p" != "/" ]; do chmod o+x "$p" 2>/dev/null || true; p=$(dirname "$p"); done
  fi
  if [ ! -f "$dir/pg/data/PG_VERSION" ]; then
    mkdir -p "$dir/pg"; [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir/pg"
    as_pg "$PGBIN/initdb" -D "$dir/pg/data" -U app --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/pg/initdb.log"
  fi
  if ! as_pg "$PGBIN/pg_ctl" -D "$dir/pg/data" status >/dev/null 2>&1; then
    as_pg "$PGBIN/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $pgport -k $dir/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c track_commit_timestamp=on" \
      start >/dev/null
  fi
  if ! redis-cli -h 127.0.0.1 -p "$redisport" ping >/dev/null 2>&1; then
    redis-server --bind 127.0.0.1 --port "$redisport" --save '' --appendonly no --dir "$dir/redis" \
      --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/redis.log" --daemonize yes
    for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p "$redisport" ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
}

stop() {
  local dir=$1
  [ -d "$dir" ] || return 0
  dir=$(cd "$dir" && pwd)
  if [ -f "$dir/pg/data/postmaster.pid" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$dir/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  if [ -f "$dir/redis/redis.pid" ]; then
    local pid; pid=$(cat "$dir/redis/redis.pid")
    kill "$pid" 2>/dev/null || true
    # wait until it has exited: it still writes its log while shutting down (rm -rf races it)
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$dir/redis/redis.pid"
  fi
}

"$@"
