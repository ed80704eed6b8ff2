#!/usr/bin/env bash
# Makes NATS (with JetStream), Postgres, Redis and S3 storage for media reachable and writes the
# URLs to use into $CHAT_DATA_DIR/env (default .data/env), which start.sh and test.sh source.
#
# For each service, in order:
#   1. the URL already in the environment (NATS_URL, DATABASE_URL, REDIS_URL), if set: it
#      must be reachable, nothing is started;
#   2. the machine's default server (127.0.0.1:4222 / 5432 / 6379), reused when reachable;
#   3. a private server under $CHAT_DATA_DIR on its own port (14222 / 15432 / 16379), reused
#      if it is already running, otherwise started (Postgres, Redis: installing the Debian
#      package if the binary is missing; NATS: see below).
# Private servers run detached (setsid) with their PIDs in $CHAT_DATA_DIR/<name>.pid. When
# this file is sourced, CHAT_SERVICES_STARTED lists the ones THIS run started, so start.sh can
# stop them on Ctrl-C. test.sh leaves them running so the next run reuses them; stop them
# with `bash scripts/services.sh stop`.
#
# NATS must be nats-server >= MIN_NATS_SERVER_VERSION (libs/contracts/src/nats-server.ts): a
# NATS_URL to an older server is refused, an older machine's server is passed over, and an
# older private server is replaced. The private server's binary is the machine's nats-server
# if recent enough, else Debian sid's package, fetched once with a private apt configuration
# into ${XDG_CACHE_HOME:-~/.cache}/chat-backend/nats-server/<version>/ (nothing is installed;
# later runs need no network). It runs from $CHAT_DATA_DIR/nats.conf, with
# `jetstream { sync_interval: always }` when CHAT_NATS_SYNC=always (default: `default`,
# nats-server's own fsync every 2 minutes); CHAT_NATS_SYNC=always also skips the machine's
# server. The env file also gets NATS_SERVER_BIN and NATS_SERVER_VERSION: a binary >= the
# minimum for tools that start their own servers (the chaos cluster, the bench);
# `bash scripts/services.sh nats-bin` prints it.
#
# S3 has no machine's server: S3_ENDPOINT from the environment must answer (its bucket is
# created if missing), and then no S3_* is written to the env file (the environment that set
# it, credentials included, carries them); otherwise a private s3rver (scripts/s3-local.mjs,
# from the s3rver dev dependency) on 14570 with data in $CHAT_DATA_DIR/s3, and its S3_*
# variables are written.
#
# Every port is overridable, which is also how the fallback path is tested without touching
# the machine's services: CHAT_DEFAULT_{NATS,PG,REDIS}_PORT, CHAT_PRIVATE_{NATS,PG,REDIS,S3}_PORT.

chat_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHAT_DATA_DIR="${CHAT_DATA_DIR:-$chat_root/.data}"
CHAT_SERVICES_STARTED=""
CHAT_NATS_BIN=""
CHAT_NATS_BIN_VERSION=""

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
# The system needs nats-server >= MIN_NATS_SERVER_VERSION (docs/architecture.md, "Minimum
# nats-server version"). Its one home is libs/contracts/src/nats-server.ts, where the apps
# read it too; read from there.
chat_nats_min() {
  local v
  v=$(sed -n "s/^export const MIN_NATS_SERVER_VERSION = '\([0-9][0-9.]*\)';.*$/\1/p" "$chat_root/libs/contracts/src/nats-server.ts")
  [ -n "$v" ] || { chat_log "cannot read MIN_NATS_SERVER_VERSION from libs/contracts/src/nats-server.ts"; return 1; }
  echo "$v"
}

# True when version $1 >= $2. Numbers compare as numbers (2.9.10 < 2.11.0); a pre-release of
# the minimum (2.11.0-RC.1) is below it, as in libs/contracts.
chat_version_ge() {
  local v=${1%%+*} min=$2 core
  core=${v%%-*}
  [[ $core =~ ^[0-9]+(\.[0-9]+)*$ ]] || return 1
  [ "$(printf '%s\n%s\n' "$min" "$core" | sort -V | head -n 1)" = "$min" ] || return 1
  [ "$core" = "$v" ] || [ "$core" != "$min" ]
}

# The version a nats-server binary reports (`nats-server: v2.15.1` gives 2.15.1); empty if none.
chat_nats_bin_version() {
  local out
  out=$("$1" --version 2>/dev/null) || true
  if [[ $out =~ nats-server:\ v?([0-9][^[:space:]]*) ]]; then echo "${BASH_REMATCH[1]}"; fi
  return 0
}

# Per user, outside the work tree (survives `git clean`): <version>/deb holds the package,
# <version>/root what it unpacks to.
chat_nats_cache() { echo "${XDG_CACHE_HOME:-${HOME:?HOME is not set}/.cache}/chat-backend/nats-server"; }

# The newest cached binary >= $1, as "<path>\t<version>".
chat_nats_cached_bin() {
  local min=$1 bin v
  while IFS= read -r bin; do
    v=$(chat_nats_bin_version "$bin")
    if chat_version_ge "$v" "$min"; then printf '%s\t%s\n' "$bin" "$v"; return 0; fi
  done < <(ls -d "$(chat_nats_cache)"/*/root/usr/sbin/nats-server 2>/dev/null | sort -V -r)
  return 1
}

# The machine's Debian archive from its own apt configuration, as "<URI>\t<keyring file>" (the
# keyring may be empty: apt then uses its trusted keys). The first deb source, deb822
# (/etc/apt/sources.list.d/*.sources) or one-line (sources.list, *.list), with the release's
# own suite (VERSION_CODENAME; the -security suite and other archives never match).
chat_apt_debian_source() {
  local codename f found=""
  codename=$( . /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}") || codename=""
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    found=$(awk -v want="$codename" '
      function reset() { types = ""; uris = ""; suites = ""; signed = ""; enabled = "" }
      function emit(   n, s, i, u) {
        if (done || types !~ /(^|[ \t])deb([ \t]|$)/ || tolower(enabled) == "no" || uris == "") return
        n = split(suites, s, /[ \t]+/)
        for (i = 1; i <= n; i++)
          if (s[i] != "" && (want != "" ? s[i] == want : s[i] ~ /^(stable|testing|unstable|sid)$/)) {
            split(uris, u, /[ \t]+/); print u[1] "\t" signed; done = 1; return
          }
      }
      BEGIN { reset() }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { emit(); reset(); next }
      /^[ \t]/ { next }
      {
        k = tolower($0); sub(/:.*/, "", k); v = $0; sub(/^[^:]*:[ \t]*/, "", v); sub(/[ \t]+$/, "", v)
        if (k == "types") types = v; else if (k == "uris") uris = v; else if (k == "suites") suites = v
        else if (k == "signed-by") signed = v; else if (k == "enabled") enabled = v
      }
      END { emit() }' "$f")
    [ -n "$found" ] && break
  done
  if [ -z "$found" ]; then
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -f "$f" ] || continue
      found=$(awk -v want="$codename" '
        /^[ \t]*deb[ \t]/ {
          line = $0; signed = ""
          if (match(line, /\[[^]]*\]/)) {
            n = split(substr(line, RSTART + 1, RLENGTH - 2), o, /[ \t]+/)
            for (i = 1; i <= n; i++) if (o[i] ~ /^signed-by=/) { signed = o[i]; sub(/^signed-by=/, "", signed) }
            line = substr(line, 1, RSTART - 1) " " substr(line, RSTART + RLENGTH)
          }
          n = split(line, w, /[ \t]+/); j = 0
          for (i = 1; i <= n; i++) if (w[i] != "") f[++j] = w[i]
          if (want != "" ? f[3] == want : f[3] ~ /^(stable|testing|unstable|sid)$/) { print f[2] "\t" signed; exit }
        }' "$f")
      [ -n "$found" ] && break
    done
  fi
  [ -n "$found" ] || return 1
  local uri=${found%%$'\t'*} keyring=${found#*$'\t'}
  # Only a keyring file can go into a one-line source; an inline key falls back to apt's own.
  [[ $keyring == /* && -f $keyring ]] || keyring=""
  printf '%s\t%s\n' "$uri" "$keyring"
}

# Says why no nats-server >= $1 could be had, and the commands that get one by hand.
chat_nats_fetch_failed() {
  local min=$1 why=$2 uri=${3:-<your Debian mirror, e.g. from /etc/apt/sources.list.d/debian.sources>} keyring=${4:-} cache
  cache=$(chat_nats_cache)
  chat_log "NATS: could not get a nats-server >= $min: $why"
  cat >&2 <<EOF
[services] This system needs nats-server >= $min (docs/architecture.md, "Minimum nats-server version"),
[services] and services.sh does not fall back to an older one. To fetch Debian's by hand, without
[services] changing the machine's apt sources (as root or as yourself):

  d=$cache/manual; mkdir -p "\$d/apt/lists/partial" && touch "\$d/apt/status"
  echo 'deb ${keyring:+[signed-by=$keyring] }$uri sid main' > "\$d/apt/sid.list"
  O="-o Dir::Etc::sourcelist=\$d/apt/sid.list -o Dir::Etc::sourceparts=/nonexistent -o Dir::State::Lists=\$d/apt/lists -o Dir::State::status=\$d/apt/status -o Dir::Cache::pkgcache=\$d/apt/pkg.bin -o Dir::Cache::srcpkgcache=\$d/apt/src.bin"
  apt-get \$O update && (cd "\$d" && apt-get \$O download nats-server)
  dpkg-deb -x "\$d"/nats-server_*.deb "\$d/root" && "\$d/root/usr/sbin/nats-server" --version

[services] then run \`npm run services\` again: it uses any $cache/*/root/usr/sbin/nats-server >= $min.
[services] Or point NATS_SERVER_BIN at a nats-server >= $min binary you have (services.sh starts it as
[services] the private server), and/or NATS_URL at a running nats-server >= $min with JetStream.
EOF
}

# Fetches nats-server from Debian's unstable suite (sid) with a private apt configuration: the
# machine's apt sources, state and pins are not touched; the mirror and keyring are those of its
# own Debian source. Prints "<path>\t<version>" of the unpacked binary.
chat_nats_fetch() {
  local min=$1 cache src uri keyring tool
  cache=$(chat_nats_cache)
  for tool in apt-get dpkg-deb; do
    command -v "$tool" >/dev/null 2>&1 || { chat_nats_fetch_failed "$min" "$tool is missing (not a Debian-based machine?)"; return 1; }
  done
  src=$(chat_apt_debian_source) || { chat_nats_fetch_failed "$min" "no Debian source for this release in the apt configuration (/etc/apt/sources.list, /etc/apt/sources.list.d/)"; return 1; }
  uri=${src%%$'\t'*}
  keyring=${src#*$'\t'}
  mkdir -p "$cache"
  (
    flock 8
    # Another run may have fetched it while this one waited for the lock.
    chat_nats_cached_bin "$min" && exit 0
    staging=$(mktemp -d "$cache/.fetch.XXXXXX")
    apt="$staging/apt"
    mkdir -p "$apt/lists/partial" "$staging/deb"
    echo "deb ${keyring:+[signed-by=$keyring] }$uri sid main" >"$apt/sid.list"
    : >"$apt/status"
    o=(-o "Dir::Etc::sourcelist=$apt/sid.list" -o Dir::Etc::sourceparts=/nonexistent
       -o Dir::Etc::preferences=/nonexistent -o Dir::Etc::preferencesparts=/nonexistent
       -o "Dir::State::Lists=$apt/lists" -o "Dir::State::status=$apt/status"
       -o "Dir::Cache::pkgcache=$apt/pkg.bin" -o "Dir::Cache::srcpkgcache=$apt/src.bin")
    # apt hands downloads to the _apt user, who cannot write into a home directory.
    [ "$(id -u)" -eq 0 ] && o+=(-o APT::Sandbox::User=root)
    chat_log "NATS: fetching nats-server from Debian sid ($uri) into $cache (a private apt configuration; the machine's apt sources are not changed)"
    if ! { apt-get "${o[@]}" -q update && (cd "$staging/deb" && apt-get "${o[@]}" -q download nats-server); } >"$staging/fetch.log" 2>&1; then
      cp "$staging/fetch.log" "$cache/fetch-failed.log"
      rm -rf "$staging"
      chat_nats_fetch_failed "$min" "the download failed (offline? see $cache/fetch-failed.log)" "$uri" "$keyring"
      exit 1
    fi
    if ! dpkg-deb -x "$staging"/deb/nats-server_*.deb "$staging/root" 2>>"$staging/fetch.log"; then
      cp "$staging/fetch.log" "$cache/fetch-failed.log"
      rm -rf "$staging"
      chat_nats_fetch_failed "$min" "the package did not unpack (see $cache/fetch-failed.log)" "$uri" "$keyring"
      exit 1
    fi
    v=$(chat_nats_bin_version "$staging/root/usr/sbin/nats-server")
    if ! chat_version_ge "$v" "$min"; then
      rm -rf "$staging"
      chat_nats_fetch_failed "$min" "Debian sid has nats-server ${v:-(unknown version)}" "$uri" "$keyring"
      exit 1
    fi
    rm -rf "$apt" "$cache/fetch-failed.log"
    rm -rf "${cache:?}/$v"
    chmod 755 "$staging"
    mv "$staging" "$cache/$v"
    printf '%s\t%s\n' "$cache/$v/root/usr/sbin/nats-server" "$v"
  ) 8>"$cache/.lock"
}

# Sets CHAT_NATS_BIN (absolute path) and CHAT_NATS_BIN_VERSION to a nats-server binary >= the
# minimum: NATS_SERVER_BIN if set (it must be recent enough), else the machine's own if it is,
# else one an earlier run cached, else one fetched now.
chat_nats_find_bin() {
  local min found bin v old=""
  min=$(chat_nats_min) || return 1
  if [ -n "${NATS_SERVER_BIN:-}" ]; then
    bin=$(command -v "$NATS_SERVER_BIN" 2>/dev/null) || bin=""
    [[ -z $bin || $bin == /* ]] || bin="$PWD/$bin"
    v=""
    if [ -n "$bin" ]; then v=$(chat_nats_bin_version "$bin"); fi
    if ! chat_version_ge "$v" "$min"; then
      if [ -n "$v" ]; then v="nats-server $v, older than the minimum $min"; else v="not a nats-server binary"; fi
      chat_log "NATS_SERVER_BIN=$NATS_SERVER_BIN is $v: refused (unset it to let services.sh provide one)"
      return 1
    fi
    CHAT_NATS_BIN=$bin; CHAT_NATS_BIN_VERSION=$v; return 0
  fi
  for bin in "$(command -v nats-server 2>/dev/null)" /usr/sbin/nats-server /usr/local/bin/nats-server; do
    [ -n "$bin" ] && [ -x "$bin" ] || continue
    v=$(chat_nats_bin_version "$bin")
    if chat_version_ge "$v" "$min"; then CHAT_NATS_BIN=$bin; CHAT_NATS_BIN_VERSION=$v; return 0; fi
    [ -n "$old" ] || old="$bin is ${v:-of unknown version}"
  done
  if ! found=$(chat_nats_cached_bin "$min"); then
    chat_log "NATS: no nats-server >= $min on this machine${old:+ ($old)} or in $(chat_nats_cache)"
    found=$(chat_nats_fetch "$min") || return 1
  fi
  CHAT_NATS_BIN=${found%%$'\t'*}
  CHAT_NATS_BIN_VERSION=${found#*$'\t'}
}

# Exit status 0: usable (>= minimum, JetStream); 2: answers but too old; 1: otherwise. Prints
# the version the server reports.
chat_nats_probe() { (cd "$chat_root" && node --import tsx scripts/check-nats.ts "$1") 2>/dev/null; }
chat_nats_ok() { chat_nats_probe "$1" >/dev/null; }

chat_nats_conf() { echo "$(cd "$CHAT_DATA_DIR" && pwd)/nats.conf"; }

# The private server's PID, when $CHAT_DATA_DIR/nats.pid names a live nats-server.
chat_nats_private_pid() {
  local pid
  pid=$(cat "$CHAT_DATA_DIR/nats.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = nats-server ] || return 1
  echo "$pid"
}

# The fsync mode the private server runs with: always, default, or unknown (not ours).
chat_nats_private_sync() {
  local pid conf cmd
  conf=$(chat_nats_conf)
  pid=$(chat_nats_private_pid) || { echo unknown; return; }
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || { echo unknown; return; }
  if [[ $cmd == *"-c $conf"* ]] && grep -Eq '^[[:space:]]*sync_interval:[[:space:]]*always' "$conf"; then echo always; else echo default; fi
}

chat_nats_stop_private() {
  local port=$1 pid
  if ! pid=$(chat_nats_private_pid); then
    chat_log "NATS: port $port is held by a server this checkout did not start (no live nats-server in $CHAT_DATA_DIR/nats.pid): stop it, or set CHAT_PRIVATE_NATS_PORT to a free port"
    return 1
  fi
  chat_services_stop nats
  if kill -0 "$pid" 2>/dev/null; then chat_log "NATS: the private server (pid $pid) did not stop"; return 1; fi
}

chat_nats_start_private() {
  local port=$1 sync=$2 conf data
  mkdir -p "$CHAT_DATA_DIR/nats"
  conf=$(chat_nats_conf)
  data=$(dirname "$conf")
  {
    echo "# Written by scripts/services.sh: the private NATS server (CHAT_NATS_SYNC=$sync)."
    echo "listen: 127.0.0.1:$port"
    echo "pid_file: \"$data/nats.pid\""
    echo "log_file: \"$data/nats.log\""
    echo "jetstream {"
    echo "  store_dir: \"$data/nats\""
    [ "$sync" = always ] && echo "  sync_interval: always"
    echo "}"
  } >"$conf"
  chat_log "NATS: starting a private server on $port (nats-server $CHAT_NATS_BIN_VERSION, CHAT_NATS_SYNC=$sync, config $conf, data in $CHAT_DATA_DIR/nats)"
  setsid "$CHAT_NATS_BIN" -c "$conf" </dev/null >>"$CHAT_DATA_DIR/nats.log" 2>&1 &
  chat_wait "NATS on $port" chat_nats_ok "nats://127.0.0.1:$port" || { chat_log "see $CHAT_DATA_DIR/nats.log"; return 1; }
  CHAT_SERVICES_STARTED="$CHAT_SERVICES_STARTED nats"
}

# For the tools that start their own servers (the chaos cluster, the bench): a binary even
# when the system runs on a server it did not start. Without one they fail, the system not.
chat_nats_bin_for_tools() {
  chat_nats_find_bin && return 0
  chat_log "NATS: NATS_SERVER_BIN is left empty: the chaos cluster and the bench's private servers cannot start"
  CHAT_NATS_BIN=""; CHAT_NATS_BIN_VERSION=""
}

chat_nats_up() {
  local min default port private sync rc version running exe
  min=$(chat_nats_min) || return 1
  default="nats://127.0.0.1:${CHAT_DEFAULT_NATS_PORT:-4222}"
  port="${CHAT_PRIVATE_NATS_PORT:-14222}"
  private="nats://127.0.0.1:$port"
  sync="${CHAT_NATS_SYNC:-default}"
  case $sync in
    default | always) ;;
    *) chat_log "CHAT_NATS_SYNC=$sync: expected default or always"; return 1 ;;
  esac
  if [ -n "${NATS_URL:-}" ]; then
    rc=0; version=$(chat_nats_probe "$NATS_URL") || rc=$?
    case $rc in
      0) ;;
      2) chat_log "NATS_URL=$NATS_URL is nats-server $version, older than the minimum $min this system needs (docs/architecture.md, \"Minimum nats-server version\"): refused. Point NATS_URL at a nats-server >= $min, or unset it to let services.sh start a private one"; return 1 ;;
      *) chat_log "NATS_URL=$NATS_URL is not reachable or has no JetStream (unset it to use a local server)"; return 1 ;;
    esac
    [ "$sync" = default ] || chat_log "NATS: CHAT_NATS_SYNC=$sync applies to the private server only, not to NATS_URL"
    chat_nats_bin_for_tools
    chat_log "NATS: $NATS_URL (from the environment, nats-server $version)"
    return 0
  fi
  # The machine's server, unless it is too old or CHAT_NATS_SYNC=always asks for the private
  # one (the only one whose fsync this script controls).
  if [ "$sync" = default ]; then
    rc=0; version=$(chat_nats_probe "$default") || rc=$?
    if [ "$rc" -eq 0 ]; then
      NATS_URL=$default
      chat_nats_bin_for_tools
      chat_log "NATS: $NATS_URL (the machine's, nats-server $version)"
      return 0
    fi
    [ "$rc" -eq 2 ] && chat_log "NATS: the machine's server at $default is nats-server $version, older than the minimum $min: not used"
  fi
  chat_nats_find_bin || return 1
  rc=0; version=$(chat_nats_probe "$private") || rc=$?
  case $rc in
    0)
      running=$(chat_nats_private_sync)
      if [ "$running" != "$sync" ] && { [ "$running" != unknown ] || [ "$sync" != default ]; }; then
        chat_log "NATS: the private server on $port runs with CHAT_NATS_SYNC=$running; restarting it with CHAT_NATS_SYNC=$sync (its data is kept)"
        chat_nats_stop_private "$port" || return 1
        chat_nats_start_private "$port" "$sync" || return 1
        version=$CHAT_NATS_BIN_VERSION
      fi ;;
    2)
      chat_log "NATS: the private server on $port is nats-server $version, older than the minimum $min: stopping it and starting nats-server $CHAT_NATS_BIN_VERSION. Its data ($CHAT_DATA_DIR/nats) is wiped: it is a private dev/test server, and npm start and the tests create their streams again"
      chat_nats_stop_private "$port" || return 1
      rm -rf "${CHAT_DATA_DIR:?}/nats"
      chat_nats_start_private "$port" "$sync" || return 1
      version=$CHAT_NATS_BIN_VERSION ;;
    *)
      chat_nats_start_private "$port" "$sync" || return 1
      version=$CHAT_NATS_BIN_VERSION ;;
  esac
  NATS_URL=$private
  # The binary of the server on the port: ours (by its PID file), or one another checkout started.
  local pid
  if pid=$(chat_nats_private_pid); then exe=$(readlink -f "/proc/$pid/exe" 2>/dev/null) || exe=""; else exe=""; fi
  chat_log "NATS: $NATS_URL (private, nats-server $version from ${exe:-$CHAT_NATS_BIN}, CHAT_NATS_SYNC=$sync)"
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

# Where the private Postgres keeps its data (pg/) and log (pg.log): .data, unless we are root
# and the `postgres` user the server runs as cannot reach it (a checkout inside a directory
# only root may enter; mktemp -d makes them 0700): then a directory under /var/tmp named
# after this checkout's .data.
chat_pg_home() {
  if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$CHAT_DATA_DIR" 2>/dev/null; then
    local home; home="/var/tmp/chat-backend-pg/$(printf '%s' "$CHAT_DATA_DIR" | md5sum | cut -c1-12)"
    mkdir -p "$home" && chmod 755 /var/tmp/chat-backend-pg "$home"
    echo "$home"
  else
    echo "$CHAT_DATA_DIR"
  fi
}

chat_pg_up() {
  local default_port="${CHAT_DEFAULT_PG_PORT:-5432}"
  local port="${CHAT_PRIVATE_PG_PORT:-15432}"
  local home; home=$(chat_pg_home)
  local data="$home/pg" log="$home/pg.log"
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
    touch "$log"
    [ "$(id -u)" -eq 0 ] && chown postgres "$log"
    # pg_ctl detaches the server from this session itself. No Unix socket: the clients use
    # TCP, and the default socket directory may not be writable.
    chat_pg_run "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 \
      -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=''" start </dev/null >/dev/null 2>&1 \
      || { chat_log "pg_ctl start failed, see $log"; return 1; }
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

# -------------------------------------------------------------------------------------- S3
# s3rver's built-in account (its documented local default, no secret of this project).
CHAT_S3_LOCAL_KEY=S3RVER
CHAT_S3_PRIVATE=0

# Exit status 0 when the S3_* of the environment reach a bucket (created if missing); the
# reason on stderr otherwise.
chat_s3_probe() {
  (cd "$chat_root" && AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true node --import tsx scripts/check-s3.ts)
}

chat_s3_private_ok() {
  S3_ENDPOINT=$1 S3_BUCKET=$2 S3_REGION=us-east-1 S3_FORCE_PATH_STYLE=true \
    S3_ACCESS_KEY_ID=$CHAT_S3_LOCAL_KEY S3_SECRET_ACCESS_KEY=$CHAT_S3_LOCAL_KEY chat_s3_probe 2>/dev/null
}

# Anything answering HTTP on the URL (the quick check while s3rver starts).
chat_s3_answers() {
  local code
  code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$1/" 2>/dev/null) || true
  [ -n "$code" ] && [ "$code" != 000 ]
}

# The private server's PID, when $CHAT_DATA_DIR/s3.pid names a live scripts/s3-local.mjs.
chat_s3_private_pid() {
  local pid
  pid=$(cat "$CHAT_DATA_DIR/s3.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 's3-local\.mjs' || return 1
  echo "$pid"
}

chat_s3_up() {
  local port="${CHAT_PRIVATE_S3_PORT:-14570}"
  local private="http://127.0.0.1:$port" bucket="${S3_BUCKET:-chat-media}" pid
  CHAT_S3_PRIVATE=0
  # The private server's own address (a shell that sourced the env file) is the private server,
  # so the env file keeps its lines.
  if [ -n "${S3_ENDPOINT:-}" ] && [ "$S3_ENDPOINT" != "$private" ]; then
    chat_s3_probe || { chat_log "S3_ENDPOINT=$S3_ENDPOINT is not reachable, or its bucket $bucket is missing and cannot be created (unset S3_ENDPOINT to use a local server)"; return 1; }
    chat_log "S3: $S3_ENDPOINT, bucket $bucket (from the environment)"; return 0
  fi
  if ! chat_s3_private_ok "$private" "$bucket"; then
    if chat_s3_answers "$private"; then
      chat_log "S3: port $port is held by a server that is not a usable S3 with s3rver's account: stop it, or set CHAT_PRIVATE_S3_PORT to a free port"
      return 1
    fi
    [ -f "$chat_root/node_modules/s3rver/package.json" ] || { chat_log "S3: the s3rver package is missing (a dev dependency: npm ci, or npm install without --omit=dev), or set S3_ENDPOINT"; return 1; }
    mkdir -p "$CHAT_DATA_DIR/s3"
    chat_log "S3: starting a private s3rver on $port (data in $CHAT_DATA_DIR/s3)"
    setsid node "$chat_root/scripts/s3-local.mjs" --port "$port" --directory "$CHAT_DATA_DIR/s3" \
      --pid-file "$CHAT_DATA_DIR/s3.pid" --bucket "$bucket" </dev/null >>"$CHAT_DATA_DIR/s3.log" 2>&1 &
    { chat_wait "S3 on $port" chat_s3_answers "$private" && chat_s3_private_ok "$private" "$bucket"; } \
      || { chat_log "see $CHAT_DATA_DIR/s3.log"; return 1; }
    CHAT_SERVICES_STARTED="$CHAT_SERVICES_STARTED s3"
  fi
  CHAT_S3_PRIVATE=1
  S3_ENDPOINT=$private S3_BUCKET=$bucket S3_REGION=us-east-1 S3_FORCE_PATH_STYLE=true
  S3_ACCESS_KEY_ID=$CHAT_S3_LOCAL_KEY S3_SECRET_ACCESS_KEY=$CHAT_S3_LOCAL_KEY
  pid=$(chat_s3_private_pid) || pid="not this checkout's"
  chat_log "S3: $S3_ENDPOINT, bucket $S3_BUCKET (private s3rver, pid $pid)"
}

# ------------------------------------------------------------------------------------ stop
# Stops private services by name (nats, postgres, redis, s3); used by start.sh and `stop`.
chat_services_stop() {
  local name pid pg_home
  for name in "$@"; do
    case $name in
      postgres)
        pg_home=$(chat_pg_home)
        [ -f "$pg_home/pg/postmaster.pid" ] || continue
        chat_log "stopping private Postgres"
        chat_pg_run "$(chat_pg_bindir)/pg_ctl" -D "$pg_home/pg" -m fast -w stop >/dev/null 2>&1 || true
        rm -f "$CHAT_DATA_DIR/postgres.pid" ;;
      nats | redis | s3)
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
  chat_nats_up && chat_pg_up && chat_redis_up && chat_s3_up || rc=$?
  flock -u 9
  exec 9>&-
  [ "$rc" -eq 0 ] || return "$rc"
  cat >"$CHAT_DATA_DIR/env" <<EOF
# Written by scripts/services.sh; sourced by scripts/start.sh and scripts/test.sh.
export NATS_URL='$NATS_URL'
export DATABASE_URL='$DATABASE_URL'
export REDIS_URL='$REDIS_URL'
export NATS_SERVER_BIN='$CHAT_NATS_BIN'
export NATS_SERVER_VERSION='$CHAT_NATS_BIN_VERSION'
EOF
  if [ "$CHAT_S3_PRIVATE" -eq 1 ]; then
    cat >>"$CHAT_DATA_DIR/env" <<EOF
export S3_ENDPOINT='$S3_ENDPOINT'
export S3_BUCKET='$S3_BUCKET'
export S3_REGION='$S3_REGION'
export S3_ACCESS_KEY_ID='$S3_ACCESS_KEY_ID'
export S3_SECRET_ACCESS_KEY='$S3_SECRET_ACCESS_KEY'
export S3_FORCE_PATH_STYLE='$S3_FORCE_PATH_STYLE'
EOF
    export S3_ENDPOINT S3_BUCKET S3_REGION S3_ACCESS_KEY_ID S3_SECRET_ACCESS_KEY S3_FORCE_PATH_STYLE
  fi
  NATS_SERVER_BIN=$CHAT_NATS_BIN
  NATS_SERVER_VERSION=$CHAT_NATS_BIN_VERSION
  export NATS_URL DATABASE_URL REDIS_URL NATS_SERVER_BIN NATS_SERVER_VERSION CHAT_SERVICES_STARTED
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-up}" in
    up) chat_services_up; cat "$CHAT_DATA_DIR/env" ;;
    stop) chat_services_stop nats postgres redis s3 ;;
    nats-bin) chat_nats_find_bin; echo "$CHAT_NATS_BIN" ;;
    *) echo "usage: $0 [up|stop|nats-bin]" >&2; exit 2 ;;
  esac
else
  chat_services_up
fi
