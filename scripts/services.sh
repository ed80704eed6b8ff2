#!/usr/bin/env bash
# Makes NATS (with JetStream), Postgres and Redis reachable and writes the URLs to use into
# $CHAT_DATA_DIR/env (default .data/env), which start.sh and test.sh source.
#
# For each service, in order:
#   1. the URL already in the environment (NATS_URL, DATABASE_URL, REDIS_URL), if set: it
#      must be reachable, nothing is started;
#   2. the machine's default server (127.0.0.1:4222 / 5432 / 6379), reused when reachable;
#   3. a private server under $CHAT_DATA_DIR on its own port (14222 / 15432 / 16379), reused
#      if it is already running, otherwise started (installing the Debian package if the
#      binary is missing).
# Private servers run detached (setsid) with their PIDs in $CHAT_DATA_DIR/<name>.pid. When
# this file is sourced, CHAT_SERVICES_STARTED lists the ones THIS run started, so start.sh can
# stop them on Ctrl-C. test.sh leaves them running so the next run reuses them; stop them
# with `bash scripts/services.sh stop`.
#
# Every port is overridable, which is also how the fallback path is tested without touching
# the machine's services: CHAT_DEFAULT_{NATS,PG,REDIS}_PORT, CHAT_PRIVATE_{NATS,PG,REDIS}_PORT.

chat_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHAT_DATA_DIR="${CHAT_DATA_DIR:-$chat_root/.data}"
CHAT_SERVICES_STARTED=""

chat_log() { printf '[services] %s\n' "$*" >&2; }

chat_as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs a Debian package when none of the candidate binaries exists.
chat_ensure_binary() {
  local package=$1; shift
  local candidate
  for candidate in "$@"; do
    if command -v "$candidate" >/dev/null 2>&1 || compgen -G "$candidate" >/dev/null; then return 0; fi
  done
  chat_log "installing $package (apt-get)"
  chat_as_root apt-get update -qq && chat_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >&2
}

chat_wait() {
  local what=$1; shift
  local _
  for _ in $(seq 1 100); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  chat_log "$what did not become ready"
  return 1
}

# ------------------------------------------------------------------------------------ NATS
chat_nats_bin() { command -v nats-server 2>/dev/null || echo /usr/sbin/nats-server; }

chat_nats_ok() { (cd "$chat_root" && node --import tsx scripts/check-nats.ts "$1") 2>/dev/null; }

chat_nats_up() {
  local default="nats://127.0.0.1:${CHAT_DEFAULT_NATS_PORT:-4222}"
  local port="${CHAT_PRIVATE_NATS_PORT:-14222}"
  local private="nats://127.0.0.1:$port"
  if [ -n "${NATS_URL:-}" ]; then
    chat_nats_ok "$NATS_URL" || { chat_log "NATS_URL=$NATS_URL is not reachable or has no JetStream (unset it to use a local server)"; return 1; }
    chat_log "NATS: $NATS_URL (from the environment)"; return 0
  fi
  if chat_nats_ok "$default"; then NATS_URL=$default; chat_log "NATS: $NATS_URL"; return 0; fi
  if ! chat_nats_ok "$private"; then
    chat_ensure_binary nats-server nats-server /usr/sbin/nats-server
    mkdir -p "$CHAT_DATA_DIR/nats"
    chat_log "NATS: starting a private server on $port (data in $CHAT_DATA_DIR/nats)"
    setsid "$(chat_nats_bin)" -a 127.0.0.1 -p "$port" -js -sd "$CHAT_DATA_DIR/nats" \
      -P "$CHAT_DATA_DIR/nats.pid" -l "$CHAT_DATA_DIR/nats.log" </dev/null >/dev/null 2>&1 &
    chat_wait "NATS on $port" chat_nats_ok "$private" || return 1
    CHAT_SERVICES_STARTED="$CHAT_SERVICES_STARTED nats"
  fi
  NATS_URL=$private
  chat_log "NATS: $NATS_URL (private)"
}

# -------------------------------------------------------------------------------- Postgres
chat_pg_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && echo "$dir"
}

# -w: never prompt for a password; a server that wants one is not usable as-is.
chat_pg_ok() {
  pg_isready -q -h 127.0.0.1 -p "$1" -t 2 && PGCONNECT_TIMEOUT=3 psql -w -h 127.0.0.1 -p "$1" -U postgres -d postgres -tAc 'select 1' >/dev/null
}

# initdb and postgres refuse to run as root; run them as the `postgres` system user then.
chat_pg_run() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

chat_pg_up() {
  local default_port="${CHAT_DEFAULT_PG_PORT:-5432}"
  local port="${CHAT_PRIVATE_PG_PORT:-15432}"
  local data="$CHAT_DATA_DIR/pg"
  if [ -n "${DATABASE_URL:-}" ]; then
    PGCONNECT_TIMEOUT=3 psql -w "${DATABASE_URL%/*}/postgres" -tAc 'select 1' >/dev/null 2>&1 || { chat_log "DATABASE_URL=$DATABASE_URL is not reachable (unset it to use a local server)"; return 1; }
    chat_log "Postgres: $DATABASE_URL (from the environment)"; return 0
  fi
  chat_ensure_binary postgresql 'pg_isready' '/usr/lib/postgresql/*/bin/initdb'
  if chat_pg_ok "$default_port"; then
    DATABASE_URL="postgres://postgres@127.0.0.1:$default_port/chat"; chat_log "Postgres: $DATABASE_URL"; return 0
  fi
  if ! chat_pg_ok "$port"; then
    chat_ensure_binary postgresql '/usr/lib/postgresql/*/bin/initdb'
    local bin; bin=$(chat_pg_bindir)
    mkdir -p "$data"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$data" && chmod 700 "$data"
    if [ ! -f "$data/PG_VERSION" ]; then
      chat_log "Postgres: initdb in $data"
      chat_pg_run "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >"$CHAT_DATA_DIR/pg-initdb.log" 2>&1 \
        || { chat_log "initdb failed, see $CHAT_DATA_DIR/pg-initdb.log"; return 1; }
    fi
    chat_log "Postgres: starting a private server on $port (data in $data)"
    touch "$CHAT_DATA_DIR/pg.log"
    [ "$(id -u)" -eq 0 ] && chown postgres "$CHAT_DATA_DIR/pg.log"
    # pg_ctl detaches the server from this session itself. No Unix socket: the clients use
    # TCP, and the default socket directory may not be writable.
    chat_pg_run "$bin/pg_ctl" -D "$data" -l "$CHAT_DATA_DIR/pg.log" -w -t 60 \
      -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=''" start </dev/null >/dev/null 2>&1 \
      || { chat_log "pg_ctl start failed, see $CHAT_DATA_DIR/pg.log"; return 1; }
    chat_wait "Postgres on $port" chat_pg_ok "$port" || return 1
    head -n 1 "$data/postmaster.pid" >"$CHAT_DATA_DIR/postgres.pid"
    CHAT_SERVICES_STARTED="$CHAT_SERVICES_STARTED postgres"
  fi
  DATABASE_URL="postgres://postgres@127.0.0.1:$port/chat"
  chat_log "Postgres: $DATABASE_URL (private)"
}

# ----------------------------------------------------------------------------------- Redis
chat_redis_ok() { [ "$(redis-cli -u "$1" ping 2>/dev/null)" = PONG ]; }

chat_redis_up() {
  local default="redis://127.0.0.1:${CHAT_DEFAULT_REDIS_PORT:-6379}"
  local port="${CHAT_PRIVATE_REDIS_PORT:-16379}"
  local private="redis://127.0.0.1:$port"
  chat_ensure_binary redis-server redis-cli redis-server
  if [ -n "${REDIS_URL:-}" ]; then
    chat_redis_ok "$REDIS_URL" || { chat_log "REDIS_URL=$REDIS_URL is not reachable (unset it to use a local server)"; return 1; }
    chat_log "Redis: $REDIS_URL (from the environment)"; return 0
  fi
  if chat_redis_ok "$default"; then REDIS_URL=$default; chat_log "Redis: $REDIS_URL"; return 0; fi
  if ! chat_redis_ok "$private"; then
    mkdir -p "$CHAT_DATA_DIR/redis"
    chat_log "Redis: starting a private server on $port (data in $CHAT_DATA_DIR/redis)"
    redis-server --bind 127.0.0.1 --port "$port" --dir "$CHAT_DATA_DIR/redis" --daemonize yes \
      --pidfile "$CHAT_DATA_DIR/redis.pid" --logfile "$CHAT_DATA_DIR/redis.log" >/dev/null
    chat_wait "Redis on $port" chat_redis_ok "$private" || return 1
    CHAT_SERVICES_STARTED="$CHAT_SERVICES_STARTED redis"
  fi
  REDIS_URL=$private
  chat_log "Redis: $REDIS_URL (private)"
}

# ------------------------------------------------------------------------------------ stop
# Stops private services by name (nats, postgres, redis); used by start.sh and `stop`.
chat_services_stop() {
  local name pid
  for name in "$@"; do
    case $name in
      postgres)
        [ -f "$CHAT_DATA_DIR/pg/postmaster.pid" ] || continue
        chat_log "stopping private Postgres"
        chat_pg_run "$(chat_pg_bindir)/pg_ctl" -D "$CHAT_DATA_DIR/pg" -m fast -w stop >/dev/null 2>&1 || true
        rm -f "$CHAT_DATA_DIR/postgres.pid" ;;
      nats | redis)
        [ -f "$CHAT_DATA_DIR/$name.pid" ] || continue
        pid=$(cat "$CHAT_DATA_DIR/$name.pid")
        chat_log "stopping private $name (pid $pid)"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        rm -f "$CHAT_DATA_DIR/$name.pid" ;;
    esac
  done
}

chat_services_up() {
  if [ ! -d "$chat_root/node_modules" ]; then chat_log "node_modules is missing: run npm install first"; return 1; fi
  mkdir -p "$CHAT_DATA_DIR"
  # One setup at a time (npm start and npm test may race to start the same private server).
  exec 9>"$CHAT_DATA_DIR/services.lock"
  flock 9
  local rc=0
  chat_nats_up && chat_pg_up && chat_redis_up || rc=$?
  flock -u 9
  exec 9>&-
  [ "$rc" -eq 0 ] || return "$rc"
  cat >"$CHAT_DATA_DIR/env" <<EOF
# Written by scripts/services.sh; sourced by scripts/start.sh and scripts/test.sh.
export NATS_URL='$NATS_URL'
export DATABASE_URL='$DATABASE_URL'
export REDIS_URL='$REDIS_URL'
EOF
  export NATS_URL DATABASE_URL REDIS_URL CHAT_SERVICES_STARTED
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-up}" in
    up) chat_services_up; cat "$CHAT_DATA_DIR/env" ;;
    stop) chat_services_stop nats postgres redis ;;
    *) echo "usage: $0 [up|stop]" >&2; exit 2 ;;
  esac
else
  chat_services_up
fi
