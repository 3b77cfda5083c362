#!/usr/bin/env bash
# Make sure the real redis-server and redis-cli binaries are on this machine.
# On Debian/Ubuntu as root, install Debian's packages when missing; elsewhere say how and stop.
set -euo pipefail
# openssl makes the certificates of the TLS tests.
if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 \
   && command -v openssl >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "llmcache: installing redis-server and redis-tools from Debian's packages..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends redis-server redis-tools openssl >/dev/null
  command -v redis-server >/dev/null && exit 0
fi
cat >&2 <<'MSG'
llmcache: redis-server is needed for the demo and the tests, and it is not installed.
  Debian/Ubuntu:  sudo apt-get install redis-server redis-tools
  macOS:          brew install redis
  Fedora:         sudo dnf install redis
Then run the make target again.
MSG
exit 1
