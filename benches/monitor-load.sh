#!/usr/bin/env bash
# Heartbeat ingest under load (issue #14): wrk posts batches of BATCH
# heartbeat events (default 500, each with a new sequence number, over
# TENANTS tenants, default 50) to /v1/heartbeats of a release
# `tenet serve` on 127.0.0.1 with the bundled `meta_monitor` pack. Every
# batch is one transaction: the dedup keys, the instances it touches and
# its audit event, durable before the answer.
#
# Target (this 2-core machine): >= 20,000 heartbeats/s.
# STORE=postgres://... runs it on that database.
#
#   benches/monitor-load.sh
#   WRK_CONNS=4 BATCH=1000 DURATION=20 benches/monitor-load.sh
#   TENET=path/to/tenet STORE=postgres://.../db benches/monitor-load.sh
#
# Prints wrk's RESULT line (events_per_s is the figure). Needs wrk, curl
# and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNS=${WRK_CONNS:-4}
export BATCH=${BATCH:-500} TENANTS=${TENANTS:-50}
LUA=$PWD/benches/monitor-load.lua
die() { echo "monitor-load: $*" >&2; exit 1; }
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
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/server.yaml" <<YAML
addr: 127.0.0.1:$port
store: ${STORE:-$work/tenet.db}
watch: false
limits:
  rate_per_second: 0
  body_bytes: 16777216
identities:
  - name: bench
    token_sha256: $hash
    roles: [monitor, admin]
YAML
"$TENET" serve --config "$work/server.yaml" 2>"$work/server.log" &
pid=$!
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$port/v1/health" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; die "the server exited"; }
  sleep 0.1
done
WRK_TOKEN=$token wrk -t1 -c"$CONNS" -d"${WARMUP}s" -s "$LUA" "http://127.0.0.1:$port/v1/heartbeats" >/dev/null 2>&1 || true
WRK_TOKEN=$token wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -s "$LUA" \
  "http://127.0.0.1:$port/v1/heartbeats" >"$work/wrk.out" 2>&1
grep '^RESULT ' "$work/wrk.out" || { cat "$work/wrk.out"; die "no RESULT"; }
# Every event reached the store: the audit log has the batches.
curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/metrics" \
  | grep '^tenet_monitor_heartbeats_total' || true
