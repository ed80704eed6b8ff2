#!/usr/bin/env bash
# `npm start`: servers, database, migrations and streams, then the four apps in the
# foreground with prefixed logs. Ctrl-C (or SIGTERM, or closing the terminal) stops the apps
# and any private server this run started; if one app exits, the others are stopped and the
# script exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm install

# shellcheck source=services.sh
source scripts/services.sh
# shellcheck source=/dev/null
source "$CHAT_DATA_DIR/env"
started_services=$CHAT_SERVICES_STARTED

pids=()
stopping=0
stop_all() {
  local code=$1
  [ "$stopping" -eq 1 ] && return
  stopping=1
  trap '' INT TERM HUP
  if [ "${#pids[@]}" -gt 0 ]; then
    echo "[start] stopping apps" >&2
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 1 100); do
      local alive=0 pid
      for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
      [ "$alive" -eq 0 ] && break
      sleep 0.1
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
  fi
  # shellcheck disable=SC2086
  [ -n "$started_services" ] && chat_services_stop $started_services
  exit "$code"
}
trap 'stop_all 130' INT
trap 'stop_all 143' TERM
trap 'stop_all 129' HUP

npx chatctl db create
npx chatctl migrate up
npx chatctl streams apply

# JSON logs become one readable line each on a terminal; piped elsewhere they stay JSON.
[ -t 1 ] && pretty_logs=1 || pretty_logs=0
format_logs() {
  if [ "$pretty_logs" -eq 1 ]; then
    node_modules/.bin/pino-pretty --singleLine --colorize --ignore pid,hostname,app --translateTime SYS:HH:MM:ss.l
  else
    cat
  fi
}

# Each app's output gets a name prefix. The log pipeline ignores Ctrl-C so that it still
# shows what the apps log while they shut down.
run_app() {
  local name=$1 label=${2:-$1}
  node --import tsx "apps/$name/src/main.ts" \
    > >(trap '' INT TERM; format_logs | sed -u "s/^/[$(printf '%-9s' "$label")] /") 2>&1 &
  pids+=("$!")
}
# Command processes share the conversation partitions (one owner each; a survivor takes over).
# Each process has its own ops port: command-1 the default (9471), command-i 9480+i.
for ((i = 1; i <= ${CHAT_COMMAND_PROCESSES:-2}; i++)); do
  if [ "$i" -eq 1 ]; then run_app command "command-$i"; else CHAT_OPS_PORT=$((9480 + i)) run_app command "command-$i"; fi
done
run_app projector
run_app edge
run_app notifier
# The web client passes /v1 on to the edge this script runs.
CHAT_WEB_EDGE_URL=${CHAT_WEB_EDGE_URL:-http://${CHAT_EDGE_HOST:-127.0.0.1}:${CHAT_EDGE_PORT:-8080}} run_app web
# The optional archive (docs/analytics.md): CHAT_EVENTS to S3 as hourly NDJSON objects.
if [ "${CHAT_ARCHIVE:-0}" = 1 ]; then run_app archive; fi

port=${CHAT_EDGE_PORT:-8080}
host=${CHAT_EDGE_HOST:-127.0.0.1}
warned=""
for _ in $(seq 1 300); do
  body=$(curl -s -w '\n%{http_code}' "http://$host:$port/readyz" 2>/dev/null || true)
  code=${body##*$'\n'}
  if [ "$code" = 200 ]; then
    cat >&2 <<MSG

  chat backend is up (namespace "${CHAT_NS:-}")
    HTTP       http://$host:$port
    WebSocket  ws://$host:$port/v1/ws
    Web client http://${CHAT_WEB_HOST:-127.0.0.1}:${CHAT_WEB_PORT:-8090}     (sign in with any name)
    a token:   npx chatctl token alice     (then: Authorization: Bearer <token>, or ?access_token=<token>)
  Ctrl-C stops everything this command started.

MSG
    break
  fi
  # Not ready for a reason the edge can name (e.g. a projection refusing to run): say it loudly,
  # once, with the fix, and keep waiting (the apps keep running so the fix can be applied).
  problems=$(printf '%s' "${body%$'\n'*}" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{for(const p of JSON.parse(s).problems??[])console.log(p)}catch{}})' 2>/dev/null || true)
  if [ -n "$problems" ] && [ "$problems" != "$warned" ]; then
    warned=$problems
    cat >&2 <<MSG

  !!! chat backend is NOT ready: http://$host:$port/readyz says
$(printf '%s\n' "$problems" | sed 's/^/  !!!   /')
  !!! Messages would be accepted but not delivered until this is fixed.

MSG
  fi
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || break 2; done
  sleep 0.2
done

# Any app exiting (crash or not) brings the whole system down with a non-zero status.
set +e
wait -n "${pids[@]}"
code=$?
echo "[start] an app exited (status $code); stopping the others" >&2
stop_all $(( code == 0 ? 1 : code ))
