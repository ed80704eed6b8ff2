#!/usr/bin/env bash
# Prints the path of a Chromium for the browser tests (test/e2e/web.e2e.test.ts), installing
# Debian's `chromium` package with apt-get (through sudo when not root) when none is there, as
# services.sh does for Postgres and Redis. CHROMIUM_PATH, when set, is used as it is.
set -euo pipefail

log() { printf '[chromium] %s\n' "$*" >&2; }

if [ -n "${CHROMIUM_PATH:-}" ]; then
  [ -x "$CHROMIUM_PATH" ] || { log "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable"; exit 1; }
  echo "$CHROMIUM_PATH"
  exit 0
fi

find_chromium() {
  local c
  for c in chromium chromium-browser; do
    if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return 0; fi
  done
  return 1
}

if ! find_chromium >/dev/null; then
  command -v apt-get >/dev/null 2>&1 || { log "no chromium, and no apt-get to install it: install Chromium and set CHROMIUM_PATH"; exit 1; }
  as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  log "installing chromium (apt-get)"
  # One install at a time: parallel test runs would otherwise race for the dpkg lock.
  exec 9>"${TMPDIR:-/tmp}/chat-backend-chromium.lock"
  flock 9
  if ! find_chromium >/dev/null; then
    as_root apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2
  fi
fi
find_chromium || { log "chromium was installed but is not on PATH"; exit 1; }
