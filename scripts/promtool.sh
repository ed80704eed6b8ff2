#!/usr/bin/env bash
# Prints the path of a promtool (Prometheus' rule checker), fetching Debian's `prometheus`
# package once into a per-user cache when none is on PATH: `apt-get download` with the
# machine's apt lists (nothing is installed, the machine's apt sources are not changed).
# Usage: bash scripts/promtool.sh          -> /path/to/promtool
set -euo pipefail

if command -v promtool >/dev/null 2>&1; then
  command -v promtool
  exit 0
fi
cache=${XDG_CACHE_HOME:-$HOME/.cache}/chat-backend/prometheus
bin=$cache/root/usr/bin/promtool
if [ ! -x "$bin" ]; then
  for tool in apt-get dpkg-deb; do
    command -v "$tool" >/dev/null || { echo "promtool: not on PATH, and $tool is missing to fetch Debian's prometheus package" >&2; exit 1; }
  done
  staging=$(mktemp -d)
  trap 'rm -rf "$staging"' EXIT
  echo "promtool: fetching Debian's prometheus package into $cache" >&2
  if ! (cd "$staging" && apt-get -q download prometheus) >"$staging/fetch.log" 2>&1 ||
    ! dpkg-deb -x "$staging"/prometheus_*.deb "$staging/root" 2>>"$staging/fetch.log"; then
    cat "$staging/fetch.log" >&2
    echo "promtool: could not fetch Debian's prometheus package (above); install promtool and put it on PATH" >&2
    exit 1
  fi
  mkdir -p "$cache"
  rm -rf "$cache/root"
  mv "$staging/root" "$cache/root"
fi
echo "$bin"
