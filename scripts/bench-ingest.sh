#!/usr/bin/env bash
# Ingest benchmark: starts `riposte serve` (release build) on loopback, on SQLite and on
# PostgreSQL, floods `POST /api/v1/alerts` with unique generic alerts from wrk, and reports
# alerts/s with latency percentiles, that every acknowledged alert is stored, and how fast
# the triage decisions drain afterwards. Not a test: the figures go in notes.
#
#   scripts/bench-ingest.sh [SECONDS=20] [CONNECTIONS=16] [BACKENDS="sqlite postgres"]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_RUN="${1:-20}"
CONNECTIONS="${2:-16}"
BACKENDS="${3:-sqlite postgres}"
WORKERS="${RIPOSTE_BENCH_WORKERS:-2}"
PORT="${RIPOSTE_BENCH_PORT:-18480}"
PG_PORT="${RIPOSTE_BENCH_PG_PORT:-54339}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/riposte/target}"
export PATH="$PATH:/usr/sbin:/sbin"

SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v jq >/dev/null 2>&1 || need+=(jq)
if [[ " $BACKENDS " == *" postgres "* ]] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then need+=(postgresql); fi
if ((${#need[@]})); then
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need[@]}" >/dev/null
fi

cargo build --release --locked -p riposte-cli >&2
BIN="$CARGO_TARGET_DIR/release/riposte"
WORK="$(mktemp -d /tmp/riposte-bench.XXXXXX)"
chmod 755 "$WORK" # the Postgres cluster below belongs to the postgres user
SERVER_PID=""
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
as_pg() { if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  if [ -f "$WORK/pg/data/PG_VERSION" ]; then as_pg "'$PG_BIN/pg_ctl' -D '$WORK/pg/data' -m fast stop >/dev/null" || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

start_postgres() {
  # A private cluster with PostgreSQL's default durability (fsync and synchronous_commit on).
  mkdir -p "$WORK/pg"; [ "$(id -u)" -eq 0 ] && chown postgres "$WORK/pg"
  as_pg "'$PG_BIN/initdb' -D '$WORK/pg/data' -A trust -U postgres >/dev/null"
  as_pg "'$PG_BIN/pg_ctl' -D '$WORK/pg/data' -l '$WORK/pg/log' -o \"-p $PG_PORT -k '$WORK/pg' -c listen_addresses=127.0.0.1 -c max_connections=100\" -w start >/dev/null"
}

queue_triage() { # ready+running triage jobs
  curl -fsS -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/api/v1/system/queue" \
    | jq '[.stages[] | select(.kind == "triage_alert") | .ready + .running] | add // 0'
}

run_backend() {
  local backend="$1" data="$WORK/$1" url
  mkdir -p "$data" "$WORK/library"
  case "$backend" in
    sqlite) url="sqlite://$data/riposte.db?mode=rwc" ;;
    postgres) start_postgres; url="postgres://postgres@127.0.0.1:$PG_PORT/postgres" ;;
  esac
  export RIPOSTE_DATABASE_URL="$url" RIPOSTE_DATA_DIR="$data"
  KEY="$("$BIN" apikey create --role analyst --name bench 2>/dev/null | tail -1)"
  [ -n "$KEY" ] || { echo "could not create an API key"; exit 1; }
  RIPOSTE_LOG="${RIPOSTE_LOG:-info}" "$BIN" serve --listen "127.0.0.1:$PORT" --workers "$WORKERS" \
    --evidence-library "$WORK/library" --no-bundled-yara --triage-queue-limit 0 >"$WORK/$backend.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 200); do curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done
  # Every triage decision is a real rule evaluation: the library's default rule matches
  # every alert but no host folder resolves its target, and a second rule (critical only)
  # matches none.
  local env_id
  env_id="$(curl -fsS -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d "{\"name\":\"bench\",\"scopes\":[{\"kind\":\"local\",\"folder\":\"$WORK/library\"}]}" \
    "http://127.0.0.1:$PORT/api/v1/environments" | jq -r .id)"
  curl -fsS -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d "{\"name\":\"bench-critical\",\"source\":\"generic\",\"environment_id\":\"$env_id\",\"filters\":{\"min_severity\":\"critical\"}}" \
    "http://127.0.0.1:$PORT/api/v1/rules" >/dev/null
  local before
  before="$(curl -fsS -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/api/v1/alerts?limit=1" | jq .total)"

  local result
  result="$(RIPOSTE_BENCH_KEY="$KEY" RIPOSTE_BENCH_RUN="$backend-$$" wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_RUN}s" \
    --timeout 10s -s scripts/bench/post_alert.lua "http://127.0.0.1:$PORT" | grep '^RESULT')"
  local burst_end; burst_end=$(date +%s.%N)
  local left_at_end; left_at_end="$(queue_triage)"
  local left="$left_at_end" now
  while [ "$left" -gt 0 ]; do sleep 0.5; left="$(queue_triage)"; done
  now=$(date +%s.%N)
  local stored
  stored="$(curl -fsS -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/api/v1/alerts?limit=1" | jq .total)"
  local requests errors
  requests="$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$result")"
  errors="$(sed -E 's/.*errors_status=([0-9]+).*/\1/' <<<"$result")"
  local rss; rss="$(awk '/VmHWM/{print $2/1024 " MB"}' "/proc/$SERVER_PID/status")"
  echo "== $backend: ${SECONDS_RUN}s, $CONNECTIONS connections, $WORKERS workers"
  echo "ingest: ${result#RESULT }"
  echo "stored: $((stored - before)) new alerts for $((requests - errors)) acknowledged (must be equal; wrk counts requests cut off at the end as sent)"
  awk -v n="$left_at_end" -v s="$burst_end" -v e="$now" \
    'BEGIN { d = e - s; printf "triage: %d decisions were pending when the burst ended, drained in %.1fs (%.0f/s)\n", n, d, (d > 0 ? n / d : 0) }'
  echo "server peak RSS: $rss; slow-statement warnings: $(grep -c 'slow statement' "$WORK/$backend.log" || true)"
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
}

for backend in $BACKENDS; do run_backend "$backend"; done
