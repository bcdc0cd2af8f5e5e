#!/usr/bin/env bash
# HTTP benchmark of actingwebd with wrk: /meta, GET and PUT of a property, and actor creation (POST /).
#
#   bench/http.sh                       # build, start a daemon on a free port, run every case
#   DURATION=30s CONNS=64 bench/http.sh # knobs: DURATION, CONNS, THREADS, SHARDS (0 = cores), AWD_BIN
#
# Prints one table: case, req/s, p50, p99, non-2xx/3xx responses, socket errors; then the daemon's peak
# RSS (VmHWM) and whether each target was met. Exit status 0 even when a target is missed (it is a report).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
SHARDS=${SHARDS:-0}
AWD_BIN=${AWD_BIN:-$ROOT/build/actingwebd}

# Targets (issue #2).
T_GET_PROP=50000
T_PUT_PROP=20000
T_POST_ACTOR=10000
T_RSS_KB=$((30 * 1024))

command -v wrk >/dev/null || { echo "bench/http.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
command -v curl >/dev/null || { echo "bench/http.sh: curl is not installed" >&2; exit 2; }

if [ -z "${SKIP_BUILD:-}" ]; then
  make -C "$ROOT" build >/dev/null
fi

TMP=$(mktemp -d /tmp/aw-bench-XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
DPID=""
cleanup() {
  if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
    kill -TERM "$DPID" 2>/dev/null || true
    wait "$DPID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

"$AWD_BIN" --host 127.0.0.1 --port "$PORT" --data "$TMP/data" --log-level warn --shards "$SHARDS" \
  >"$TMP/daemon.log" 2>&1 &
DPID=$!
mkdir -p "$TMP/data"
for _ in $(seq 1 200); do
  curl -s -o /dev/null "$BASE/" && break
  sleep 0.05
done
kill -0 "$DPID" 2>/dev/null || { echo "actingwebd did not start:" >&2; cat "$TMP/daemon.log" >&2; exit 1; }

CREATOR=bench
PASS=bench-passphrase-0123456789
ACTOR_JSON=$(curl -s -X POST -H 'Content-Type: application/json' \
  -d "{\"creator\":\"$CREATOR\",\"passphrase\":\"$PASS\"}" "$BASE/")
ID=$(printf '%s' "$ACTOR_JSON" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
AUTH="Basic $(printf '%s:%s' "$CREATOR" "$PASS" | base64 -w0)"
PROP=bench_prop
PROP_BODY='{"name":"benchmark","n":12345,"tags":["a","b","c"]}'

HAVE_PROPS=0
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: $AUTH" -H 'Content-Type: application/json' \
  -d "$PROP_BODY" "$BASE/$ID/properties/$PROP")
if [ "$code" = 204 ] || [ "$code" = 200 ] || [ "$code" = 201 ]; then
  got=$(curl -s -H "Authorization: $AUTH" "$BASE/$ID/properties/$PROP")
  [ -n "$got" ] && HAVE_PROPS=1
fi

# wrk Lua scripts for the cases that need a method, body or headers.
cat >"$TMP/put.lua" <<EOF
wrk.method = "PUT"
wrk.body   = '$PROP_BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "$AUTH"
EOF
cat >"$TMP/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body   = '{"creator":"bench-created","passphrase":"bench-created-passphrase"}'
wrk.headers["Content-Type"] = "application/json"
EOF

declare -a ROWS
RPS_GET_PROP="" RPS_PUT_PROP="" RPS_POST="" NON2XX_TOTAL=0

# run_case NAME URL [wrk args...]: runs wrk, appends a row, echoes req/s.
to_ms() { # "1.23ms" / "850.00us" / "1.20s" -> milliseconds
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000;
                          printf "%.2f", n }'
}
run_case() {
  local name=$1 url=$2
  shift 2
  local out="$TMP/wrk-$(printf '%s' "$name" | tr -c 'A-Za-z0-9' '_').txt"
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" "$url" >"$out" 2>&1 || true
  local rps p50 p99 non2xx sockerr
  rps=$(awk '/^Requests\/sec:/ { printf "%d", $2 }' "$out")
  p50=$(awk '$1 == "50%" { print $2 }' "$out")
  p99=$(awk '$1 == "99%" { print $2 }' "$out")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
  sockerr=$(awk '/Socket errors:/ { gsub(",", ""); print $4+$6+$8+$10 }' "$out")
  non2xx=${non2xx:-0}
  sockerr=${sockerr:-0}
  NON2XX_TOTAL=$((NON2XX_TOTAL + non2xx))
  ROWS+=("$(printf '%-26s %10s %9s %9s %9s %9s' "$name" "${rps:-?}" "$(to_ms "${p50:-0}")ms" "$(to_ms "${p99:-0}")ms" \
    "$non2xx" "$sockerr")")
  LAST_RPS=${rps:-0}
}
skip_case() {
  ROWS+=("$(printf '%-26s %10s %9s %9s %9s %9s' "$1" skipped - - - -)")
}

run_case "GET /<id>/meta" "$BASE/$ID/meta"
if [ "$HAVE_PROPS" = 1 ]; then
  run_case "GET /<id>/properties/p" "$BASE/$ID/properties/$PROP" -H "Authorization: $AUTH"
  RPS_GET_PROP=$LAST_RPS
  run_case "PUT /<id>/properties/p" "$BASE/$ID/properties/$PROP" -s "$TMP/put.lua"
  RPS_PUT_PROP=$LAST_RPS
else
  skip_case "GET /<id>/properties/p"
  skip_case "PUT /<id>/properties/p"
fi
run_case "POST / (create actor)" "$BASE/" -s "$TMP/post.lua"
RPS_POST=$LAST_RPS

RSS_KB=$(awk '/^VmHWM:/ { print $2 }' "/proc/$DPID/status")
NSHARDS=$(grep -o 'with [0-9]* shard' "$TMP/daemon.log" | awk '{ print $2 }' || true)

echo
echo "$("$AWD_BIN" --version 2>/dev/null | head -1) — wrk -t$THREADS -c$CONNS -d$DURATION --latency," \
  "shards ${NSHARDS:-?}, $(nproc) cores"
printf '%-26s %10s %9s %9s %9s %9s\n' case "req/s" p50 p99 non-2xx sock-err
printf '%s\n' "${ROWS[@]}"
echo "peak RSS (VmHWM): $((RSS_KB / 1024)).$(((RSS_KB % 1024) * 10 / 1024)) MB"
echo
check() { # name value target (>=)
  if [ -z "$2" ]; then
    printf '  %-22s skipped\n' "$1"
  elif [ "$2" -ge "$3" ]; then
    printf '  %-22s ok    (%s >= %s)\n' "$1" "$2" "$3"
  else
    printf '  %-22s MISSED (%s < %s)\n' "$1" "$2" "$3"
  fi
}
echo "targets:"
check "GET property req/s" "$RPS_GET_PROP" $T_GET_PROP
check "PUT property req/s" "$RPS_PUT_PROP" $T_PUT_PROP
check "POST / req/s" "$RPS_POST" $T_POST_ACTOR
if [ "$RSS_KB" -le "$T_RSS_KB" ]; then
  printf '  %-22s ok    (%s kB <= %s kB)\n' "peak RSS" "$RSS_KB" "$T_RSS_KB"
else
  printf '  %-22s MISSED (%s kB > %s kB)\n' "peak RSS" "$RSS_KB" "$T_RSS_KB"
fi
if [ "$NON2XX_TOTAL" -eq 0 ]; then
  printf '  %-22s ok\n' "zero non-2xx"
else
  printf '  %-22s MISSED (%s)\n' "zero non-2xx" "$NON2XX_TOTAL"
fi
