#!/usr/bin/env bash
# The tenant benchmark's score route under load (issue #14): seeds
# TENANTS tenants (default 1000) with signals for the three bundled
# profiles through POST /v1/tenants/{id}/signals, then wrk GETs
# /v1/tenants/{id}/score?profile=... of a release `tenet serve` on
# 127.0.0.1, rotating over tenants and profiles.
#
# Target (this 2-core machine): >= 5,000 requests/s.
# STORE=postgres://... runs it on that database.
#
#   benches/benchmark-load.sh
#   WRK_CONNS=16 TENANTS=5000 DURATION=20 benches/benchmark-load.sh
#   TENET=path/to/tenet STORE=postgres://.../db benches/benchmark-load.sh
#
# Prints wrk's RESULT line (rps is the figure; non2xx must be 0). Needs
# wrk, curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNS=${WRK_CONNS:-8}
export TENANTS=${TENANTS:-1000}
LUA=$PWD/benches/benchmark-load.lua
die() { echo "benchmark-load: $*" >&2; exit 1; }
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
identities:
  - name: bench
    token_sha256: $hash
    roles: [benchmark, admin]
YAML
"$TENET" serve --config "$work/server.yaml" 2>"$work/server.log" &
pid=$!
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$port/v1/health" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; die "the server exited"; }
  sleep 0.1
done
# Seed: one request per tenant, every signal the bundled profiles read.
python3 - "$port" "$token" "$TENANTS" <<'PY'
import http.client, json, random, sys
port, token, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
rnd = random.Random(7)
names = ["iam.mfa_coverage_pct", "vuln.critical_patch_days_p90", "logging.audit_retention_days",
         "storage.residency_conformance_pct", "incidents.mttr_hours", "iam.sso_adoption_pct",
         "iam.admins_inactive_90d", "policy.enforced_coverage_pct", "support.open_tickets_per_100_seats",
         "sre.slo_compliance_pct", "delivery.change_failure_rate_pct", "sre.mttr_hours_p50",
         "oncall.pages_per_week", "backup.restore_drill_pass_pct"]
c = http.client.HTTPConnection("127.0.0.1", port)
for i in range(n):
    body = {"facts": {"name": f"t{i}", "regulated": i % 2 == 0, "plan": ["starter", "business", "enterprise"][i % 3],
                      "seats": rnd.randrange(2000), "age_days": rnd.randrange(1000)},
            "signals": [{"name": k, "value": round(rnd.uniform(0, 100), 1)} for k in names]
                       + [{"name": "incidents_90d", "value": i % 3}, {"name": "open_critical_findings", "value": 0},
                          {"name": "evidence_age_days", "value": 5}, {"name": "sev1_open", "value": 0}]}
    c.request("POST", f"/v1/tenants/t{i}/signals", json.dumps(body),
              {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    if r.status != 200:
        sys.exit(f"seeding t{i}: {r.status}")
PY
WRK_TOKEN=$token wrk -t1 -c"$CONNS" -d"${WARMUP}s" -s "$LUA" "http://127.0.0.1:$port" >/dev/null 2>&1 || true
WRK_TOKEN=$token wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -s "$LUA" \
  "http://127.0.0.1:$port" >"$work/wrk.out" 2>&1
grep '^RESULT ' "$work/wrk.out" || { cat "$work/wrk.out"; die "no RESULT"; }
