#!/usr/bin/env bash
# Scale-out soak: one `riposte serve` and three `riposte worker` processes on one PostgreSQL
# and one S3 bucket (moto's server behind a loopback TCP proxy) run SIZE investigations of
# library hosts while faults are injected:
#   - a random worker is SIGKILLed every KILL_EVERY seconds and restarted;
#   - PostgreSQL is restarted once, a third of the way through;
#   - the S3 endpoint refuses connections for S3_DOWN seconds, half way through.
# Then it checks that every investigation completed, that no stage ran twice or was lost
# (one job per stage and investigation, all done), and that every investigation holds the
# same evidence and events (the hosts are copies of one another), and prints throughput and
# job latency percentiles. Not done yet: the data directory's disk filling up.
#
#   scripts/soak.sh [SIZE=1000]   env: RIPOSTE_SOAK_KILL_EVERY=10, RIPOSTE_SOAK_S3_DOWN=30,
#     RIPOSTE_SOAK_STAGE_DELAY_MS=0 (a pause before each stage, so a small run lasts long
#     enough for every fault), RIPOSTE_SOAK_RELEASE=1 (a release build)
# A run that finished before one of its faults was injected fails: it proved nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE="${1:-1000}"
KILL_EVERY="${RIPOSTE_SOAK_KILL_EVERY:-10}"
S3_DOWN="${RIPOSTE_SOAK_S3_DOWN:-30}"
TIMEOUT="${RIPOSTE_SOAK_TIMEOUT:-1800}"
STAGE_DELAY_MS="${RIPOSTE_SOAK_STAGE_DELAY_MS:-0}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/riposte/target}"
export PATH="$PATH:/usr/sbin:/sbin:$HOME/.local/bin"

if [ -n "${RIPOSTE_SOAK_RELEASE:-}" ]; then
  cargo build --release --locked -p riposte-cli >&2; BIN="$CARGO_TARGET_DIR/release/riposte"
else
  cargo build --workspace --locked >&2; BIN="$CARGO_TARGET_DIR/debug/riposte"
fi
command -v moto_server >/dev/null || { echo "moto_server not found: pip install 'moto[server]'"; exit 1; }
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL not found: apt install postgresql"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
WORK="$(mktemp -d /tmp/riposte-soak.XXXXXX)"; chmod 755 "$WORK"
PG_PORT="$(free_port)"; MOTO_PORT="$(free_port)"; S3_PORT="$(free_port)"; API_PORT="$(free_port)"
as_pg() { if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
PIDS=()
declare -A WORKER_PID
cleanup() {
  for pid in "${PIDS[@]}" "${WORKER_PID[@]}"; do kill -CONT "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -f "$WORK/pg/data/PG_VERSION" ] && as_pg "'$PG_BIN/pg_ctl' -D '$WORK/pg/data' -m immediate stop >/dev/null 2>&1" || true
  [ -n "${RIPOSTE_SOAK_KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "[$(date +%T)] $*"; }

# PostgreSQL with its default durability.
mkdir -p "$WORK/pg"; [ "$(id -u)" -eq 0 ] && chown postgres "$WORK/pg"
as_pg "'$PG_BIN/initdb' -D '$WORK/pg/data' -A trust -U postgres >/dev/null"
pg_start() { as_pg "'$PG_BIN/pg_ctl' -D '$WORK/pg/data' -l '$WORK/pg/log' -o \"-p $PG_PORT -k '$WORK/pg' -c listen_addresses=127.0.0.1 -c max_connections=200\" -w start >/dev/null"; }
pg_start
psql_q() { "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -At -c "$1"; }

# S3: moto's server (in memory), reached through a proxy that is stopped to take S3 down.
moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 & PIDS+=($!)
cat >"$WORK/proxy.py" <<'PY'
import socket, sys, threading
listen, target = int(sys.argv[1]), int(sys.argv[2])
def pipe(a, b):
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try: s.shutdown(socket.SHUT_RDWR)
            except OSError: pass
server = socket.socket(); server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", listen)); server.listen(128)
while True:
    client, _ = server.accept()
    try:
        upstream = socket.create_connection(("127.0.0.1", target))
    except OSError:
        client.close()
        continue
    for a, b in ((client, upstream), (upstream, client)):
        threading.Thread(target=pipe, args=(a, b), daemon=True).start()
PY
for _ in $(seq 300); do curl -s "http://127.0.0.1:$MOTO_PORT/" >/dev/null 2>&1 && break; sleep 0.1; done
start_proxy() {
  python3 "$WORK/proxy.py" "$S3_PORT" "$MOTO_PORT" & PROXY=$!; PIDS+=($PROXY)
  for _ in $(seq 100); do curl -s "http://127.0.0.1:$S3_PORT/" >/dev/null 2>&1 && break; sleep 0.1; done
}
start_proxy
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
python3 -c "import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:$S3_PORT').create_bucket(Bucket='soak')"

export RIPOSTE_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
export RIPOSTE_EVIDENCE_URL="s3://soak/evidence" RIPOSTE_EVIDENCE_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
export RIPOSTE_MASTER_KEY="$(python3 -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())')"
export RIPOSTE_LOG="${RIPOSTE_LOG:-info}"

# SIZE hosts, copies of one demo host under their own names.
LIB="$WORK/library"; mkdir -p "$LIB"
for i in $(seq -w 1 "$SIZE"); do
  cp -r demo/evidence-library/web01 "$LIB/soak-$i"; echo "soak-$i" >"$LIB/soak-$i/etc/hostname"
done

mkdir -p "$WORK/data"
KEY="$("$BIN" apikey create --data-dir "$WORK/data" --role analyst --name soak 2>/dev/null | tail -1)"
"$BIN" serve --data-dir "$WORK/data" --listen "127.0.0.1:$API_PORT" --workers 1 --job-lease-secs 10 \
  --stage-delay-ms "$STAGE_DELAY_MS" --evidence-library "$LIB" --no-bundled-yara >"$WORK/serve.log" 2>&1 & PIDS+=($!)
start_worker() {
  mkdir -p "$WORK/w$1"
  "$BIN" worker --data-dir "$WORK/w$1" --workers 1 --job-lease-secs 10 --evidence-library "$LIB" \
    --stage-delay-ms "$STAGE_DELAY_MS" --no-bundled-yara >>"$WORK/worker$1.log" 2>&1 &
  WORKER_PID[$1]=$!
}
for w in 1 2 3; do start_worker "$w"; done
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$API_PORT/health" >/dev/null && break; sleep 0.2; done
API="http://127.0.0.1:$API_PORT/api/v1"

START=$(date +%s)
log "sending $SIZE alerts"
for i in $(seq -w 1 "$SIZE"); do
  printf '{"title":"soak %s","severity":"high","event_id":"soak-%s","target":{"hostname":"soak-%s"}}\n' "$i" "$i" "$i"
done | python3 -c '
import json, sys, urllib.request
api, key = sys.argv[1], sys.argv[2]
for line in sys.stdin:
    req = urllib.request.Request(api + "/alerts", data=line.encode(), method="POST",
        headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 202, r.status
' "$API" "$KEY"

complete() { psql_q "SELECT COUNT(*) FROM investigations WHERE status IN ('complete', 'failed')" 2>/dev/null || echo 0; }
PG_RESTARTED=""; S3_STOPPED=""; S3_UP_AT=""; KILLS=0; LAST_KILL=$(date +%s)
while :; do
  done_n="$(complete)"; now=$(date +%s)
  if [ -n "$S3_UP_AT" ] && [ "$now" -ge "$S3_UP_AT" ]; then
    log "S3 is back ($done_n of $SIZE finished)"; start_proxy; S3_UP_AT=""
  fi
  if [ "$done_n" -ge "$SIZE" ] && [ -z "$S3_UP_AT" ]; then
    # Stages after the verdict (notify, respond) may still be queued or running.
    [ "$(psql_q "SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')" 2>/dev/null || echo 1)" = 0 ] && break
  fi
  [ $((now - START)) -gt "$TIMEOUT" ] && { log "timed out with $done_n of $SIZE finished"; exit 1; }
  if [ $((now - LAST_KILL)) -ge "$KILL_EVERY" ]; then
    w=$((RANDOM % 3 + 1)); kill -9 "${WORKER_PID[$w]}" 2>/dev/null || true; wait "${WORKER_PID[$w]}" 2>/dev/null || true
    start_worker "$w"; KILLS=$((KILLS + 1)); LAST_KILL=$now
  fi
  if [ -z "$PG_RESTARTED" ] && [ "$done_n" -ge $((SIZE / 3)) ]; then
    log "restarting PostgreSQL ($done_n of $SIZE finished)"
    as_pg "'$PG_BIN/pg_ctl' -D '$WORK/pg/data' -m fast stop >/dev/null"; sleep 2; pg_start; PG_RESTARTED=1
  fi
  if [ -z "$S3_STOPPED" ] && [ "$done_n" -ge $((SIZE / 2)) ]; then
    log "S3 is down for ${S3_DOWN}s ($done_n of $SIZE finished)"
    kill -9 "$PROXY"; wait "$PROXY" 2>/dev/null || true; S3_UP_AT=$(($(date +%s) + S3_DOWN)); S3_STOPPED=1
  fi
  sleep 1
done
END=$(date +%s)

log "checking"
fail=0
check() { if [ "$2" != "$3" ]; then echo "FAIL: $1: got '$2', want '$3'"; fail=1; else echo "ok: $1 ($2)"; fi; }
check "investigations complete" "$(psql_q "SELECT COUNT(*) FROM investigations WHERE status = 'complete'")" "$SIZE"
check "investigations failed" "$(psql_q "SELECT COUNT(*) FROM investigations WHERE status = 'failed'")" 0
check "stages enqueued twice for one investigation" \
  "$(psql_q "SELECT COUNT(*) FROM (SELECT kind, investigation_id FROM jobs WHERE investigation_id IS NOT NULL GROUP BY 1, 2 HAVING COUNT(*) > 1) d")" 0
check "jobs not done" "$(psql_q "SELECT COUNT(*) FROM jobs WHERE status <> 'done'")" 0
check "distinct evidence counts per investigation" \
  "$(psql_q "SELECT COUNT(DISTINCT n) FROM (SELECT investigation_id, COUNT(*) n FROM evidence GROUP BY 1) e")" 1
check "distinct event counts per investigation" \
  "$(psql_q "SELECT COUNT(DISTINCT n) FROM (SELECT investigation_id, COUNT(*) n FROM events GROUP BY 1) e")" 1
check "evidence recorded twice (audit)" \
  "$(psql_q "SELECT COUNT(*) FROM (SELECT investigation_id, detail FROM audit_log WHERE action = 'evidence.collected' GROUP BY 1, 2 HAVING COUNT(*) > 1) d")" 0
echo "faults: $KILLS worker SIGKILLs, PostgreSQL restarted: ${PG_RESTARTED:-no}, S3 stopped: ${S3_STOPPED:-no}"
if [ "$KILLS" -eq 0 ] || [ -z "$PG_RESTARTED" ] || [ -z "$S3_STOPPED" ]; then
  echo "FAIL: the run ended before every fault was injected (raise SIZE or RIPOSTE_SOAK_STAGE_DELAY_MS)"; fail=1
fi
awk -v n="$SIZE" -v s=$((END - START)) 'BEGIN { printf "throughput: %d investigations in %ds (%.1f/s)\n", n, s, (s > 0 ? n / s : n) }'
psql_q "SELECT 'investigation latency (s): p50 ' || ROUND(PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY d)::numeric, 1) || ', p90 ' || ROUND(PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY d)::numeric, 1) || ', p99 ' || ROUND(PERCENTILE_CONT(0.99) WITHIN GROUP (ORDER BY d)::numeric, 1) FROM (SELECT (updated_at - created_at) / 1000.0 AS d FROM investigations) x"
echo "worker peak RSS (MB, since each worker's last restart): $(for w in 1 2 3; do awk '/VmHWM/{printf "%d ", $2/1024}' "/proc/${WORKER_PID[$w]}/status" 2>/dev/null || printf -- "- "; done)"
exit "$fail"
