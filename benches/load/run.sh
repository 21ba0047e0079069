#!/usr/bin/env bash
# Load test: `weave serve` (release build) with the demo hub, driven by wrk (Debian's `wrk`),
# on SQLite and, when WEAVE_LOAD_PG_URL names an empty PostgreSQL database, on PostgreSQL too;
# then the same machine's ceiling: the smallest axum service (examples/ceiling.rs). Prints one
# table: requests per second, p50 and p99 latency, and responses that were not 2xx.
#
#     bash benches/load/run.sh                 # DURATION=15s CONNECTIONS=32 THREADS=2 by default
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION="${DURATION:-15s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
PORT=18081
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v wrk >/dev/null; then
  as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --quiet --bin weave --example ceiling
BIN=target/release/weave

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# wrk --latency output → "req/s p50_ms p99_ms non2xx"
summarise() {
  awk '
    function ms(v) { if (v ~ /us$/) return substr(v, 1, length(v)-2) / 1000; if (v ~ /ms$/) return substr(v, 1, length(v)-2) + 0; if (v ~ /s$/) return substr(v, 1, length(v)-1) * 1000; return v }
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) }
    /Requests\/sec:/ { rps = $2 } /Non-2xx/ { bad = $NF }
    END { printf "%.0f | %.2f | %.2f | %d", rps, p50, p99, bad }'
}

load() { # backend scenario url [script]
  local out
  if [ -n "${4:-}" ]; then
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$4" "$3")
  else
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$3")
  fi
  echo "| $1 | $2 | $(echo "$out" | summarise) |"
}

run_backend() { # name database-url
  local name="$1" url="$2" data
  data=$(mktemp -d)
  WEAVE_DATABASE_URL="$url" WEAVE_DATA_DIR="$data" WEAVE_LOG=warn "$BIN" demo >/dev/null
  WEAVE_DATABASE_URL="$url" WEAVE_DATA_DIR="$data" WEAVE_LOG=warn WEAVE_DAILY_MATCHING=false \
    WEAVE_DB_MAX_CONNECTIONS=16 "$BIN" serve --bind "127.0.0.1:$PORT" >/dev/null &
  local pid=$!
  trap 'kill $pid 2>/dev/null || true' RETURN
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
  local base="http://127.0.0.1:$PORT"
  TOKEN=$(curl -fs -X POST "$base/api/v1/auth/token" -H 'content-type: application/json' \
    -d '{"email":"hub@weave.demo","password":"weave-hub-2020"}' | json 'd["token"]')
  local auth=(-H "authorization: Bearer $TOKEN" -H 'content-type: application/json')
  DONOR=$(curl -fs "${auth[@]}" "$base/api/v1/organisations?kind=donor" | json 'd["items"][0]["id"]')
  WAREHOUSE=$(curl -fs "${auth[@]}" "$base/api/v1/locations" | json '[l["id"] for l in d if l["kind"]=="warehouse"][0]')
  ITEM=$(curl -fs "${auth[@]}" "$base/api/v1/items" | json 'd["items"][0]["id"] if isinstance(d, dict) else d[0]["id"]')
  local pledge
  pledge=$(curl -fs "${auth[@]}" -H "idempotency-key: load-pledge-$RANDOM" -X POST "$base/api/v1/pledges" \
    -d "{\"donor_id\": $DONOR, \"kind\": \"goods\", \"item_id\": $ITEM, \"quantity\": 10000000}" | json 'd["id"]')
  LOT=$(curl -fs "${auth[@]}" -H "idempotency-key: load-receive-$RANDOM" -X POST "$base/api/v1/stock-movements" \
    -d "{\"kind\": \"receive\", \"pledge_id\": $pledge, \"location_id\": $WAREHOUSE, \"quantity\": 10000000}" | json 'd["movements"][0]["lot_id"]')
  export TOKEN DONOR LOT WAREHOUSE
  load "$name" "board (read)" "$base/api/v1/board" benches/load/get.lua
  load "$name" "needs list (read)" "$base/api/v1/needs?per_page=50" benches/load/get.lua
  load "$name" "mix: 80% reads, 10% pledges, 10% dispatches" "$base/" benches/load/mix.lua
  kill $pid; wait $pid 2>/dev/null || true
}

echo "| backend | scenario | req/s | p50 ms | p99 ms | non-2xx |"
echo "|---|---|---|---|---|---|"
tmp=$(mktemp -d)
run_backend sqlite "sqlite://$tmp/load.db"
if [ -n "${WEAVE_LOAD_PG_URL:-}" ]; then
  run_backend postgres "$WEAVE_LOAD_PG_URL"
fi
target/release/examples/ceiling "127.0.0.1:18082" >/dev/null &
ceiling=$!
sleep 0.5
load "ceiling (minimal axum)" "GET / → ok" "http://127.0.0.1:18082/"
kill $ceiling
