#!/usr/bin/env bash
# `POST /v1/safety/preflight` under load (issue #13): wrk posts one
# preflight of the bundled `safety` pack to a release `tenet serve` on
# 127.0.0.1, with a bearer token of an identity holding the `safety`
# role, in two scenarios, each on a fresh server and store:
#
#   quiet  a delete of 10 rows: nothing required, nothing kept; the audit
#          event is durable (group commit) before the answer.
#   risky  a delete of 20,000 rows: a mass delete, kept as a pending action
#          with its audit event in one transaction before the answer.
#
# Target (this 2-core machine): >= 5,000 preflights/s, p99 < 5 ms.
# STORE=postgres://... runs both on that database (a fresh one per run).
#
#   benches/safety-load.sh                      # 10 s per scenario
#   DURATION=20 SCENARIOS=risky benches/safety-load.sh
#   TENET=path/to/tenet benches/safety-load.sh
#
# Prints wrk's RESULT line per scenario and a Markdown table. Needs wrk
# (Debian's package), curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNS=${WRK_CONNS:-32}
SCENARIOS=${SCENARIOS:-"quiet risky"}
LUA=$PWD/benches/serve-load.lua
die() { echo "safety-load: $*" >&2; exit 1; }
command -v wrk >/dev/null || die "wrk is missing (apt-get install wrk)"
if [ -z "${TENET:-}" ]; then
  cargo build --release --locked -p tenet >&2
  TENET=$PWD/target/release/tenet
fi
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
token="bench-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
hash=$(printf '%s' "$token" | "$TENET" serve hash-token)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

declare -A BODY=(
  [quiet]='{"action": {"verb": "delete", "rows": 10, "tenant": "acme", "target": "orders"}}'
  [risky]='{"action": {"verb": "delete", "rows": 20000, "tenant": "acme", "target": "orders"}}'
)
declare -A OUT
for s in $SCENARIOS; do
  [ -n "${BODY[$s]:-}" ] || die "unknown scenario $s (quiet, risky)"
  port=$(free_port)
  mkdir -p "$work/$s"
  cat >"$work/$s/server.yaml" <<YAML
addr: 127.0.0.1:$port
store: ${STORE:-$work/$s/tenet.db}
watch: false
limits:
  rate_per_second: 0
identities:
  - name: bench
    token_sha256: $hash
    roles: [safety]
    tenant: acme
YAML
  "$TENET" serve --config "$work/$s/server.yaml" 2>"$work/$s/server.log" &
  pid=$!
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/v1/health" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/$s/server.log" >&2; die "the server exited"; }
    sleep 0.1
  done
  printf '%s' "${BODY[$s]}" >"$work/$s/body.json"
  WRK_TOKEN=$token WRK_BODY_FILE=$work/$s/body.json wrk -t1 -c"$CONNS" -d"${WARMUP}s" \
    -s "$LUA" "http://127.0.0.1:$port/v1/safety/preflight" >/dev/null 2>&1 || true
  WRK_TOKEN=$token WRK_BODY_FILE=$work/$s/body.json wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency \
    -s "$LUA" "http://127.0.0.1:$port/v1/safety/preflight" >"$work/$s/wrk.out" 2>&1
  line=$(grep '^RESULT ' "$work/$s/wrk.out") || { cat "$work/$s/wrk.out"; die "no RESULT"; }
  echo "$s $line"
  OUT[$s]=$line
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
done
echo
echo "| scenario | store | preflights/s | p50 ms | p99 ms | non-2xx |"
echo "|---|---|---|---|---|---|"
for s in $SCENARIOS; do
  l=${OUT[$s]}
  v() { echo "$l" | grep -o "$1=[0-9.]*" | cut -d= -f2; }
  backend=sqlite; [ -n "${STORE:-}" ] && backend=postgres
  echo "| $s | $backend | $(v rps) | $(v p50_ms) | $(v p99_ms) | $(v non2xx) |"
done
