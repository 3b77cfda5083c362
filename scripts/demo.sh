#!/usr/bin/env bash
# make demo: the main job (the cost-savings simulation) and a tour of the operator commands,
# against a throwaway local redis-server that this script starts and stops.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
DIR=$(mktemp -d -t llmcache-demo.XXXXXX)
PORT=$($BIN/python -c 'from tests.support.servers import free_port; print(free_port())')
redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$DIR" \
  --maxmemory 512mb --maxmemory-policy allkeys-lru \
  --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log"
cleanup() { redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$DIR"; }
trap cleanup EXIT
for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
export LLMCACHE_REDIS_URL="redis://127.0.0.1:$PORT/0"
export COLUMNS="${COLUMNS:-110}"

# Colour only on a terminal, and never with NO_COLOR set.
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then BOLD=$'\033[1m' CYAN=$'\033[36m' PLAIN=$'\033[0m'; else BOLD= CYAN= PLAIN=; fi
step() { printf '\n%s$ %s%s\n' "$BOLD" "$*" "$PLAIN"; "$@"; }
say() { printf '\n%s# %s%s\n' "$CYAN" "$*" "$PLAIN"; }

echo "llmcache demo against a throwaway redis-server on 127.0.0.1:$PORT"

say "1. What would caching save? The seed's scenario: 50 stocks every 15 minutes for a trading day."
step $BIN/llmcache simulate

say "2. Which key strategy and TTL policy? A week, three data types, side by side."
step $BIN/llmcache simulate --symbols 20 --data-types analysis,sentiment,technical --days 5 --compare

say "3. Fill the demo Redis with the end state of a realistic run (envelopes, TTLs, counters)."
SYMBOLS=AAPL,MSFT,NVDA,TSLA,AMZN,GOOGL,META,JPM,V,UNH,XOM,JNJ,WMT,PG,MA,HD,CVX,ABBV,KO,PEP,AAPLX
step $BIN/llmcache simulate --symbols "$SYMBOLS" --data-types all --days 3 --interval 5m \
  --policy market-aware --populate "$LLMCACHE_REDIS_URL"

say "4. A bot using the library (@cached, CacheService) against the same Redis."
step $BIN/python examples/trading_bot.py

say "5. The operator's tour."
step $BIN/llmcache policy --symbol TSLA
step $BIN/llmcache stats
step $BIN/llmcache ttl --limit 5
step $BIN/llmcache large-keys --top 5
KEY=$(redis-cli -p "$PORT" --scan --pattern '*:stock:AAPL:v*' | sort | head -n 1)
step $BIN/llmcache get "$KEY"
step $BIN/llmcache invalidate AAPL --dry-run
step $BIN/llmcache invalidate AAPL --yes
step $BIN/llmcache invalidate AAPL --dry-run --json
echo
echo "Done: AAPLX's entries are still there (llmcache ttl --symbol AAPLX), the server is stopped now."
