#!/usr/bin/env bash
# make dev / make redis-stop: a local redis-server for trying llmcache by hand.
#   scripts/dev-redis.sh start   start one on 127.0.0.1:$LLMCACHE_DEV_PORT (default 6379), its files
#                                in $LLMCACHE_DEV_DIR (default .redis/; no persistence), unless a
#                                Redis already answers there
#   scripts/dev-redis.sh stop    stop the one this script started (and only that one)
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${LLMCACHE_DEV_PORT:-6379}"
DIR="${LLMCACHE_DEV_DIR:-.redis}"
case "$DIR" in /*) ;; *) DIR="$PWD/$DIR" ;; esac
PIDFILE="$DIR/redis.pid"

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

case "${1:-start}" in
start)
  if running; then
    echo "llmcache: the dev redis-server is already running on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"); stop it with 'make redis-stop')"
    exit 0
  fi
  if redis-cli -h 127.0.0.1 -p "$PORT" ping >/dev/null 2>&1; then
    echo "llmcache: a Redis already answers on 127.0.0.1:$PORT: llmcache uses it (redis://localhost:$PORT/0)"
    exit 0
  fi
  mkdir -p "$DIR"
  redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$DIR" \
    --maxmemory 256mb --maxmemory-policy allkeys-lru \
    --daemonize yes --pidfile "$PIDFILE" --logfile "$DIR/redis.log"
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -h 127.0.0.1 -p "$PORT" ping >/dev/null
  if [ "$PORT" = 6379 ]; then where="llmcache's default URL"; else where="export LLMCACHE_REDIS_URL=redis://localhost:$PORT/0"; fi
  echo "llmcache: redis-server started on 127.0.0.1:$PORT ($where); stop it with 'make redis-stop'"
  ;;
stop)
  if running; then
    redis-cli -h 127.0.0.1 -p "$PORT" shutdown nosave >/dev/null 2>&1 || kill "$(cat "$PIDFILE")"
    for _ in $(seq 50); do running || break; sleep 0.1; done
    rm -f "$PIDFILE"
    echo "llmcache: the dev redis-server on 127.0.0.1:$PORT is stopped"
  else
    rm -f "$PIDFILE"
    echo "llmcache: no dev redis-server of ours is running (a Redis started otherwise is left alone)"
  fi
  ;;
*)
  echo "usage: $0 start|stop" >&2
  exit 2
  ;;
esac
