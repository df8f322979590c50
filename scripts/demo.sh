#!/usr/bin/env bash
# Riposte's main job on the embedded defaults (SQLite, local evidence store) with demo data:
# a SECDO-style firewall alert about 10.0.5.20 becomes an investigation with a verdict.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/riposte/target}"

cargo build --locked -q -p riposte-cli
RIPOSTE="$CARGO_TARGET_DIR/debug/riposte"
DATA="$(mktemp -d)"
PORT="${RIPOSTE_DEMO_PORT:-8089}"
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$DATA"' EXIT

KEY="$("$RIPOSTE" apikey create --data-dir "$DATA" --role analyst --name demo 2>/dev/null)"
"$RIPOSTE" serve --data-dir "$DATA" --listen "127.0.0.1:$PORT" --evidence-library demo/evidence-library 2>"$DATA/server.log" &
SERVER=$!
echo "== Starting the server (the first start compiles the bundled YARA rules, a minute or two in this debug build; later starts load them from ~/.cache/riposte/yara)"
for _ in $(seq 1500); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; kill -0 "$SERVER" 2>/dev/null || { cat "$DATA/server.log"; exit 1; }; sleep 0.2; done

echo "== A firewall reports 10.0.5.20 talking to a known C2 address (SECDO enrichment API)"
ALERT=$(cat <<JSON
{"company": "demo", "apikey": "$KEY", "timestamp": "$(date +%s)000", "vendor": "Palo Alto Networks",
 "product": "PAN-OS", "source_ip": "10.0.5.20", "source_port": "51432", "destination_ip": "203.0.113.77",
 "destination_port": "4444", "type": "OutgoingConnectionEvent", "severity": "HIGH", "event_id": "demo-$(date +%s)"}
JSON
)
curl -s -D "$DATA/headers" -H 'content-type: application/json' -d "$ALERT" "http://127.0.0.1:$PORT/publicapi/v2/enrich_with_secdo/"; echo
ALERT_ID=$(awk 'tolower($1)=="x-riposte-alert-id:" {print $2}' "$DATA/headers" | tr -d '\r')

echo "== Waiting for the investigation (alert $ALERT_ID)"
auth=(-H "Authorization: Bearer $KEY")
api="http://127.0.0.1:$PORT/api/v1"
for _ in $(seq 100); do
  INV=$(curl -s "${auth[@]}" "$api/alerts/$ALERT_ID" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("investigation_id") or "")')
  if [ -n "$INV" ]; then
    STATUS=$(curl -s "${auth[@]}" "$api/investigations/$INV" | python3 -c 'import json,sys; print(json.load(sys.stdin)["investigation"]["status"])')
    if [ "$STATUS" = complete ] || [ "$STATUS" = failed ]; then break; fi
  fi
  sleep 0.3
done
echo "== Why: the rules' decision recorded on the alert"
curl -s "${auth[@]}" "$api/alerts/$ALERT_ID" | python3 -c 'import json,sys; a=json.load(sys.stdin); print(a["decision"]); [print("  -", e["rule"]["name"], "v%s:" % e["rule"]["version"], e["outcome"], "-", e["reason"]) for e in a["decision_detail"]["evaluations"]]'
echo
curl -s "${auth[@]}" "$api/investigations/$INV" | python3 scripts/show_investigation.py
echo "(full record: curl -H 'Authorization: Bearer <key>' $api/investigations/$INV)"
echo
echo "== The same triage offline: riposte investigate demo/evidence-library/db01"
"$RIPOSTE" investigate demo/evidence-library/db01 2>/dev/null

# On a terminal, keep the server up so the investigation can be opened in the console.
if [ -t 0 ] && [ -z "${CI:-}" ]; then
  echo
  echo "== The web console: http://127.0.0.1:$PORT/#/investigations/$INV"
  echo "   sign in with the API key $KEY"
  read -r -p "   (press Enter to stop the server) " _
fi
