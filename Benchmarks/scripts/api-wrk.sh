#!/usr/bin/env bash
# Load on the HTTP API with wrk (Debian's wrk): a client's trade page of 100, a different
# client each request, over the million-trade books. Run from Benchmarks/.
#   scripts/api-wrk.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
connections=${2:-32}
swift build -c release --product APIBenchServer >/dev/null
.build/release/APIBenchServer 8089 &
server=$!
trap 'kill $server 2>/dev/null' EXIT
token_file="${TMPDIR:-/tmp}/cf-bench-api-1m-token"
for _ in $(seq 1 600); do
    if curl -sf http://127.0.0.1:8089/healthz >/dev/null 2>&1; then break; fi
    sleep 1
done
lua=$(mktemp --suffix=.lua)
cat >"$lua" <<LUA
math.randomseed(42)
wrk.headers["Authorization"] = "Bearer $(cat "$token_file")"
request = function()
  return wrk.format("GET", string.format("/v1/clients/C%06d/trades?limit=100", math.random(1, 10000)))
end
LUA
wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "$lua" http://127.0.0.1:8089
