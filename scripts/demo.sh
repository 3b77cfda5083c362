#!/usr/bin/env bash
# make demo: a throwaway local redis-server, the main job, and a tour of the operator commands.
# Grows as commands land; everything runs against a server it starts and stops itself.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
DIR=$(mktemp -d -t llmcache-demo.XXXXXX)
PORT=$($BIN/python -c 'from tests.support.servers import free_port; print(free_port())')
redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$DIR" \
  --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log"
cleanup() { redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$DIR"; }
trap cleanup EXIT
for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
export LLMCACHE_REDIS_URL="redis://127.0.0.1:$PORT/0"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
echo "llmcache demo against a throwaway redis-server on port $PORT"
step $BIN/llmcache --version
step $BIN/llmcache --help
echo
echo "(The simulation and the operator commands join this tour as their issues land.)"
