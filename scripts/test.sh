#!/usr/bin/env bash
# `npm test`: servers (no apps), then type check, lint and every test tier. Each step runs
# even when an earlier one failed, so one run shows everything; the exit status is non-zero
# if any failed. Private servers started here are left running for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm install

# shellcheck source=services.sh
source scripts/services.sh
# shellcheck source=/dev/null
source "$CHAT_DATA_DIR/env"

failed=()
step() {
  local name=$1; shift
  echo "==> $name: $*" >&2
  if ! "$@"; then failed+=("$name"); fi
}

step typecheck npx tsc -p tsconfig.json --noEmit
step lint npx eslint .
step tests npx vitest run

if [ "${#failed[@]}" -gt 0 ]; then
  echo "==> FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "==> all passed" >&2
