#!/usr/bin/env bash
# Load test of the web application on loopback: requests/s and latency percentiles
# for a clause page and for /api/v1/search, on SQLite and on PostgreSQL.
#
#   cargo build --release && benches/web/load.sh [DURATION_SECONDS]
#
# Needs wrk (Debian package `wrk`) and, for the PostgreSQL run, the server at
# 127.0.0.1:5432 (database `test`). Figures go to BENCHMARKS.md by hand.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIAOZHUN:-target/release/biaozhun}
DUR=${1:-10}
PORT=18090
BASE="http://127.0.0.1:$PORT"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)"; exit 2; }
[ -x "$BIN" ] || { echo "$BIN not built (cargo build --release)"; exit 2; }

login() {
  local h csrf
  h=$(curl -s -i "$BASE/login")
  csrf=$(printf '%s' "$h" | tr -d '\r' | sed -n 's/^set-cookie: bz_login_csrf=\([0-9a-f]*\).*/\1/ip')
  curl -s -i -X POST "$BASE/login" -H "Cookie: bz_login_csrf=$csrf" \
    --data-urlencode username=admin --data-urlencode password=bench-password-1 \
    --data-urlencode "csrf=$csrf" | tr -d '\r' | sed -n 's/^set-cookie: bz_session=\([0-9a-f]*\).*/\1/ip'
}

run() {
  local label=$1; shift
  local data
  data=$(mktemp -d)
  "$BIN" serve --data "$data" --addr "127.0.0.1:$PORT" --admin-password bench-password-1 "$@" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do curl -sf "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
  local session
  session=$(login)
  [ -n "$session" ] || { echo "login failed"; kill $pid; exit 1; }
  for target in "/clauses/t-ztac-001.2-2023_9.1" "/api/v1/search?q=%E5%AE%89%E5%BF%83%E7%A0%81%20%E6%B4%BE%E5%8D%95"; do
    local out rps p50 p99
    out=$(wrk -t2 -c32 -d"${DUR}s" --latency -H "Cookie: bz_session=$session" "$BASE$target")
    rps=$(printf '%s\n' "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(printf '%s\n' "$out" | awk '$1=="50%" {print $2}')
    p99=$(printf '%s\n' "$out" | awk '$1=="99%" {print $2}')
    local errors
    errors=$(printf '%s\n' "$out" | awk '/Non-2xx/ {print $NF}')
    printf '%-11s %-48s %10s req/s  p50 %-8s p99 %-8s %s\n' "$label" "$target" "$rps" "$p50" "$p99" "${errors:+non-2xx: $errors}"
  done
  kill $pid; wait $pid 2>/dev/null || true
  rm -rf "$data"
}

echo "wrk -t2 -c32 -d${DUR}s, $(nproc) cores"
run SQLite
if pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
  psql -q -h 127.0.0.1 -U postgres test -c "DROP SCHEMA IF EXISTS bench_web CASCADE; CREATE SCHEMA bench_web" >/dev/null
  run PostgreSQL --database-url "postgres://postgres@127.0.0.1:5432/test?options=-c%20search_path%3Dbench_web"
fi
