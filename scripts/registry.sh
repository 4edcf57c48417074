#!/usr/bin/env bash
# A local registry to push to while trying ocipush: 127.0.0.1:5000, no auth, plain HTTP.
#
#   scripts/registry.sh [start]   start it (docker compose when a Docker engine answers,
#                                 else the docker-registry binary in the background)
#   scripts/registry.sh stop      stop it (--remove-data: and delete its storage or volume)
#   scripts/registry.sh status    say whether it runs
#
# Environment:
#   OCIPUSH_REGISTRY_PORT   port on 127.0.0.1 (default 5000)
#   OCIPUSH_REGISTRY_DIR    state dir for the docker-registry mode: config, storage, pid, log
#                           (default ${XDG_STATE_HOME:-~/.local/state}/ocipush/registry)
#   OCIPUSH_REGISTRY_MODE   docker | local, to choose instead of probing for a Docker engine
set -euo pipefail

cd "$(dirname "$0")/.."
port="${OCIPUSH_REGISTRY_PORT:-5000}"
state="${OCIPUSH_REGISTRY_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/ocipush/registry}"
pidfile="$state/registry.pid"
logfile="$state/registry.log"
modefile="$state/mode"
url="http://127.0.0.1:$port/v2/"

say() { printf 'registry: %s\n' "$*"; }
die() { printf 'registry: %s\n' "$*" >&2; exit 1; }

compose() {
  if docker compose version >/dev/null 2>&1; then docker compose "$@"
  elif command -v docker-compose >/dev/null 2>&1; then docker-compose "$@"
  else die "a Docker engine answers but neither 'docker compose' nor 'docker-compose' is installed"
  fi
}

choose_mode() {
  case "${OCIPUSH_REGISTRY_MODE:-}" in
    docker|local) echo "$OCIPUSH_REGISTRY_MODE"; return ;;
    '') ;;
    *) die "OCIPUSH_REGISTRY_MODE must be docker or local, not '$OCIPUSH_REGISTRY_MODE'" ;;
  esac
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then echo docker; else echo local; fi
}

# The pid file alone can be stale (reboot, kill -9): trust it only if that pid is a docker-registry.
local_pid() {
  [[ -f "$pidfile" ]] || return 1
  local pid
  pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'docker-registry serve' || return 1
  echo "$pid"
}

# Node, not curl: Node is there wherever ocipush is, curl not on a bare Debian.
answers() {
  node -e "const r = require('http').get(process.argv[1], { timeout: 2000 }, (res) => process.exit(res.statusCode === 200 || res.statusCode === 401 ? 0 : 1)); r.on('error', () => process.exit(1)); r.on('timeout', () => r.destroy())" "$url" 2>/dev/null
}

wait_until_answering() {
  for _ in $(seq 1 100); do
    answers && return 0
    [[ -n "${1:-}" ]] && ! kill -0 "$1" 2>/dev/null && break
    sleep 0.1
  done
  return 1
}

start_local() {
  command -v docker-registry >/dev/null 2>&1 || die "no Docker engine and no docker-registry binary: install Docker, or the docker-registry package (apt-get install docker-registry)"
  if pid="$(local_pid)"; then say "already running (pid $pid) at $url"; return; fi
  answers && die "something else already answers at $url (another registry? set OCIPUSH_REGISTRY_PORT)"
  mkdir -p "$state/storage"
  cat >"$state/config.yml" <<EOF
version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: "$state/storage"
  delete:
    enabled: true
http:
  addr: "127.0.0.1:$port"
  secret: "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  headers:
    X-Content-Type-Options: [nosniff]
EOF
  nohup docker-registry serve "$state/config.yml" >>"$logfile" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$pidfile"
  echo local >"$modefile"
  # Check the pid too: if the port was taken meanwhile, another server answers while ours died.
  if ! wait_until_answering "$pid" || ! kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    tail -n 15 "$logfile" >&2 || true
    die "docker-registry did not answer at $url (log: $logfile)"
  fi
  say "running (docker-registry, pid $pid) at $url; storage in $state/storage, log in $logfile"
}

start_docker() {
  answers && die "something else already answers at $url (set OCIPUSH_REGISTRY_PORT)"
  OCIPUSH_REGISTRY_PORT="$port" compose up -d registry
  mkdir -p "$state"
  echo docker >"$modefile"
  wait_until_answering || die "the registry container did not answer at $url (docker compose logs registry)"
  say "running (docker compose, image registry:2) at $url"
}

stop() {
  local mode remove="${1:-}"
  [[ -z "$remove" || "$remove" == --remove-data ]] || die "stop takes --remove-data or nothing, not '$remove'"
  mode="$(cat "$modefile" 2>/dev/null || true)"
  if [[ "$mode" == docker ]]; then
    OCIPUSH_REGISTRY_PORT="$port" compose down ${remove:+--volumes}
    rm -f "$modefile"
    say "stopped (docker compose)${remove:+, volume removed}"
    return
  fi
  if ! pid="$(local_pid)"; then
    rm -f "$pidfile"
    say "not running"
    return
  fi
  kill "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  rm -f "$pidfile" "$modefile"
  if [[ -n "$remove" ]]; then rm -rf "$state/storage"; say "stopped (pid $pid); storage removed"
  else say "stopped (pid $pid); storage kept in $state/storage"; fi
}

status() {
  local mode
  mode="$(cat "$modefile" 2>/dev/null || true)"
  if [[ "$mode" == local ]] && pid="$(local_pid)" && answers; then say "running (docker-registry, pid $pid) at $url"; return 0; fi
  if [[ "$mode" == docker ]] && answers; then say "running (docker compose) at $url"; return 0; fi
  say "not running"
  return 3
}

case "${1:-start}" in
  start) if [[ "$(choose_mode)" == docker ]]; then start_docker; else start_local; fi ;;
  stop) stop "${2:-}" ;;
  status) status ;;
  -h|--help|help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command '$1' (use start, stop or status)" ;;
esac
