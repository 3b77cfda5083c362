#!/usr/bin/env bash
# Tools some tests drive besides Redis:
# - tmux: the stats --watch screen is checked in a real terminal (required);
# - promtool: checks deploy/prometheus/alerts.yml. Taken out of Debian's prometheus package into
#   .tools/bin (the package itself would install and start a Prometheus server); optional: the
#   test that needs it is skipped when it cannot be had.
set -euo pipefail
cd "$(dirname "$0")/.."
can_apt() { [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; }
updated=0
apt_update() { if [ "$updated" = 0 ]; then apt-get update -qq; updated=1; fi; }

if ! command -v tmux >/dev/null 2>&1; then
  if can_apt; then
    echo "llmcache: installing tmux from Debian's packages..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt_update
    apt-get install -y -qq --no-install-recommends tmux >/dev/null
  else
    echo "llmcache: tmux is needed by the stats --watch test (apt-get install tmux / brew install tmux)" >&2
    exit 1
  fi
fi

if ! command -v promtool >/dev/null 2>&1 && [ ! -x .tools/bin/promtool ] && can_apt \
   && command -v dpkg-deb >/dev/null 2>&1; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  (
    cd "$work"
    { apt-get download prometheus >/dev/null 2>&1 || { apt_update && apt-get download prometheus >/dev/null 2>&1; }; } \
      && dpkg-deb -x prometheus_*.deb root \
      && mkdir -p "$OLDPWD/.tools/bin" && cp root/usr/bin/promtool "$OLDPWD/.tools/bin/promtool"
  ) || echo "llmcache: promtool not available (Debian's prometheus package): its test will be skipped" >&2
fi
exit 0
