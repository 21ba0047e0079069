#!/usr/bin/env bash
# Fuzz the API from its own OpenAPI document with schemathesis (from PyPI): `weave serve`
# (release build) with the demo hub, every operation called with generated and mutated input
# as the admin, checked for server errors. Zero 5xx is the bar.
#
#     bash benches/fuzz/run.sh                  # MAX_EXAMPLES=50 by default
set -euo pipefail
cd "$(dirname "$0")/../.."
MAX_EXAMPLES="${MAX_EXAMPLES:-50}"
PORT=18090
python3 -m schemathesis.cli --version >/dev/null 2>&1 || python3 -m pip install -q schemathesis
cargo build --release --quiet --bin weave
data=$(mktemp -d)
export WEAVE_DATA_DIR="$data" WEAVE_LOG=error WEAVE_DAILY_MATCHING=false WEAVE_LOGIN_ATTEMPTS_PER_MINUTE=1000000
target/release/weave demo >/dev/null
target/release/weave serve --bind "127.0.0.1:$PORT" >"$data/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
token=$(curl -fs -X POST "http://127.0.0.1:$PORT/api/v1/auth/token" -H 'content-type: application/json' \
  -d '{"email":"admin@weave.demo","password":"weave-admin-2020"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
# Revoking tokens would sign the fuzzer out halfway; everything else is fair game.
python3 -m schemathesis.cli run "http://127.0.0.1:$PORT/api/v1/openapi.json" \
  --checks not_a_server_error -H "Authorization: Bearer $token" \
  --exclude-path '/api/v1/auth/tokens/{id}' --max-examples "$MAX_EXAMPLES" --workers 2
echo "server errors logged: $(grep -c 'internal error' "$data/serve.log" || true)"
