#!/usr/bin/env bash
# `tenet serve` under load and faults (issue #5): wrk POSTs one decision
# request of a 100-rule pack to /v1/evaluate on 127.0.0.1, in three
# scenarios, each on a fresh server (release build) with its own rules
# directory and audit store, warmed up for WARMUP s before it is measured:
#
#   steady   DURATION s of load.
#            Target: >= 20,000 evaluations/s and p99 < 10 ms (this 2-core machine).
#   reloads  the same load while RELOADS hot reloads happen, spread over the
#            run, alternating a saved pack with a new version (the watcher
#            reloads) and POST /v1/bundle/reload. Target: zero failed requests.
#   broken   the same load; a third in, a pack with a syntax error is saved
#            (health must turn `degraded`, the last good bundle keeps
#            serving); two thirds in, a good pack is saved (health `ok`).
#            Target: zero failed requests.
#   replicas two servers on one PostgreSQL store (STORE=postgres://...), the
#            load split over them (two wrk, -c WRK_CONNS/2 each), every 200
#            audited in the shared log. Target: as steady on PostgreSQL.
#
# STORE=postgres://user@host:port/db runs every scenario on that database
# instead of a SQLite file per scenario (one database for all: the audit
# log grows across scenarios; use a fresh database per run); the targets become >= 10,000
# evaluations/s and p99 < 20 ms (PostgreSQL on the same 2 cores). Start a
# durable throwaway one with `eval "$(scripts/postgres start --durable)"`.
#
# Each scenario prints wrk's report, a RESULT line and a VERDICT line; the
# end prints a Markdown table for BENCHMARKS.md. A failed request is a
# socket error or timeout (wrk), or an answer outside 2xx: wrk counts those
# >= 400, and the server's own /metrics counts every status of /v1/evaluate
# over the run (the table's non-2xx column). Exit status: non-zero when
# a request failed or a fault step did not do what
# it should; a throughput or p99 miss is reported as FAIL but is fatal only
# with STRICT=1. Run by hand, not in CI: wrk and the server share the cores.
#
#   benches/serve-load.sh                        # 20 s per scenario, 50 reloads
#   SMOKE=1 benches/serve-load.sh                # 2 s per scenario, 10 reloads
#   DURATION=60 WRK_CONNS=32 PACK_KIND=rich benches/serve-load.sh
#   SCENARIOS="steady" STRICT=1 benches/serve-load.sh
#
# Settings (environment): DURATION (s, default 20), WARMUP (s, default 3),
# RELOADS (default 50), WRK_THREADS (default 1), WRK_CONNS (default 64),
# WRK_TIMEOUT (default 2s), SCENARIOS (default "steady reloads broken"),
# STRICT=1, KEEP=1 (keep the work directory and the server logs),
# PACK_KIND=typical|rich|one (default typical, the 100-rule pack of
# benches/dsl.rs; see benches/serve-pack.py --kind),
# TENET=path (use this binary instead of building target/release/tenet;
# the release build takes about 9 minutes: fat LTO).
# The pack and the request body: benches/serve-pack.py; the wrk script:
# benches/serve-load.lua. Needs curl and python3; installs wrk (Debian's
# package) when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${SMOKE:-}" ]; then
  DURATION=${DURATION:-2}
  WARMUP=${WARMUP:-1}
  RELOADS=${RELOADS:-10}
fi
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
RELOADS=${RELOADS:-50}
THREADS=${WRK_THREADS:-1}
CONNS=${WRK_CONNS:-64}
TIMEOUT=${WRK_TIMEOUT:-2s}
SCENARIOS=${SCENARIOS:-steady reloads broken}
PACK_KIND=${PACK_KIND:-typical}
TARGET_RPS=20000
TARGET_P99_MS=10
if [[ "${STORE:-}" == postgres* ]]; then
  TARGET_RPS=10000
  TARGET_P99_MS=20
fi

die() { echo "serve-load: $*" >&2; exit 2; }
for tool in curl python3; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is needed"
done
if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk (apt-get install -y wrk)"
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get install -y wrk || { sudo apt-get update && sudo apt-get install -y wrk; }
  else
    die "wrk is missing and this is not root (install the Debian package wrk)"
  fi
fi
if [ -z "${TENET:-}" ]; then
  cargo build --release -q -p tenet
  TENET=$PWD/target/release/tenet
fi
[ -x "$TENET" ] || die "no tenet binary at $TENET"

PACKGEN=$PWD/benches/serve-pack.py
LUA=$PWD/benches/serve-load.lua
work=$(mktemp -d)
srv_pid=""
wrk_pid=""
more_pids=()
stop_server() {
  if [ -n "$srv_pid" ]; then
    kill "$srv_pid" 2>/dev/null || true
    wait "$srv_pid" 2>/dev/null || true
    srv_pid=""
  fi
}
cleanup() {
  if [ -n "$wrk_pid" ]; then kill "$wrk_pid" 2>/dev/null || true; fi
  for p in "${more_pids[@]+"${more_pids[@]}"}"; do kill "$p" 2>/dev/null || true; done
  stop_server
  if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

python3 "$PACKGEN" --kind "$PACK_KIND" --body >"$work/body.json"
python3 "$PACKGEN" --kind "$PACK_KIND" --out "$work/broken.tenet" --version 1.0.0 --broken
python3 "$PACKGEN" --kind "$PACK_KIND" --out "$work/restored.tenet" --version 1.9.0
mkdir -p "$work/stage"
for v in $(seq 1 $(((RELOADS + 1) / 2))); do
  python3 "$PACKGEN" --kind "$PACK_KIND" --out "$work/stage/bench-$v.tenet" --version "1.1.$v"
done

# ---- helpers -----------------------------------------------------------

now_ms() { echo $(($(date +%s%N) / 1000000)); }
sleep_until() { # $1: a time from now_ms
  local d=$(($1 - $(now_ms)))
  if [ "$d" -gt 0 ]; then sleep "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"; fi
}
get() { sed -nE "s/.* $2=([^ ]+).*/\1/p" <<<" $1"; } # get LINE KEY
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_server() { # $1: scenario; sets base, rules, log
  rules=$work/$1/rules
  log=$work/$1/server.log
  mkdir -p "$rules"
  python3 "$PACKGEN" --kind "$PACK_KIND" "$rules" --version 1.0.0
  local port
  port=$(free_port)
  base=http://127.0.0.1:$port
  # --replica names the server in a shared store's fleet; a SQLite store
  # has one server, and builds before #12 do not know the flag.
  local replica=()
  [ -n "${STORE:-}" ] && replica=(--replica "$1")
  "$TENET" serve --rules "$rules" --store "${STORE:-$work/$1/tenet.db}" "${replica[@]+"${replica[@]}"}" --addr "127.0.0.1:$port" 2>"$log" &
  srv_pid=$!
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "$base/v1/health" 2>/dev/null; then
      grep -q "listening on http://127.0.0.1:$port" "$log" || die "no 'listening on' line in $log"
      return
    fi
    kill -0 "$srv_pid" 2>/dev/null || { cat "$log" >&2; die "the server exited"; }
    sleep 0.1
  done
  cat "$log" >&2
  die "the server did not answer /v1/health within 10 s"
}

# These print nothing rather than fail when the server does not answer.
health() { curl -sS --max-time 2 "$base/v1/health" 2>/dev/null | sed -nE 's/.*"status":"([a-z]+)".*/\1/p' || true; }
fingerprint() { curl -sS --max-time 2 "$base/v1/bundle" 2>/dev/null | sed -nE 's/.*"hash":"([^"]+)".*/\1/p' || true; }
serving() { # $1: a pack version: is it the one serving?
  [[ "$(curl -sS --max-time 2 "$base/v1/bundle" 2>/dev/null || true)" == *"\"version\":\"$1\""* ]]
}
wait_for() { # $1: ms, then a command; polls every 50 ms; prints the ms it took
  local limit=$1 t0
  shift
  t0=$(now_ms)
  while ! "$@"; do
    if [ $(($(now_ms) - t0)) -ge "$limit" ]; then return 1; fi
    sleep 0.05
  done
  echo $(($(now_ms) - t0))
}
is_health() { [ "$(health)" = "$1" ]; }
reloads() { # $1: trigger (watch, api, or "" for all), $2: result (ok, failed)
  { curl -sS --max-time 2 "$base/metrics" 2>/dev/null || true; } |
    awk -v t="trigger=\"$1\"" -v r="result=\"$2\"" \
      '/^tenet_reloads_total\{/ && index($0, r) && (t == "trigger=\"\"" || index($0, t)) { s += $NF }
       END { print s + 0 }'
}

evaluate_answers() { # prints "<2xx> <other>": /v1/evaluate answers the server counted
  { curl -sS --max-time 2 "$base/metrics" 2>/dev/null || true; } |
    awk '/^tenet_http_requests_total\{/ && index($0, "route=\"/v1/evaluate\"") {
           if ($0 ~ /status="2[0-9][0-9]"/) ok += $NF; else bad += $NF }
         END { print ok + 0, bad + 0 }'
}

warm_up() {
  [ "$WARMUP" -gt 0 ] || return 0
  WRK_BODY_FILE=$work/body.json wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" --timeout "$TIMEOUT" \
    -s "$LUA" "$base/v1/evaluate" >"$work/warmup.out" 2>&1 || { cat "$work/warmup.out"; die "wrk failed"; }
}
load_start() { # $1: output file; starts wrk in the background; sets wrk_pid, t_start, t_end
  read -r answers0_ok answers0_bad <<<"$(evaluate_answers)"
  t_start=$(now_ms)
  t_end=$((t_start + DURATION * 1000))
  WRK_BODY_FILE=$work/body.json wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout "$TIMEOUT" \
    --latency -s "$LUA" "$base/v1/evaluate" >"$1" 2>&1 &
  wrk_pid=$!
}
load_finish() { # $1: output file; sets RESULT
  local rc=0
  wait "$wrk_pid" || rc=$?
  wrk_pid=""
  sed '/^RESULT /d; s/^/    /' "$1"
  [ "$rc" = 0 ] || die "wrk exited with $rc"
  RESULT=$(grep '^RESULT ' "$1" | tail -1 || true)
  [ -n "$RESULT" ] || die "no RESULT line from wrk (see above)"
  # Every status, as the server counted it (wrk itself counts only >= 400).
  local ok bad
  read -r ok bad <<<"$(evaluate_answers)"
  RESULT="$RESULT server_2xx=$((ok - answers0_ok)) server_non2xx=$((bad - answers0_bad))"
  echo "$RESULT"
}

# ---- verdicts ----------------------------------------------------------

declare -A RES VERDICT NOTE
hard_fail=0
soft_fail=0
problems=()
no_failed_requests() { # $1: RESULT line
  local k v
  for k in non2xx server_non2xx errors_connect errors_read errors_write errors_timeout; do
    v=$(get "$1" "$k")
    [ "$v" = 0 ] || problems+=("$k=$v")
  done
  [ "$(get "$1" requests)" != 0 ] || problems+=("no requests were answered")
}
verdict() { # $1: scenario, $2: what passing means, then soft problems
  local name=$1 what=$2
  shift 2
  local hard=("${problems[@]+"${problems[@]}"}") soft=("$@")
  problems=()
  if [ ${#hard[@]} -eq 0 ] && [ ${#soft[@]} -eq 0 ]; then
    VERDICT[$name]=PASS
    echo "VERDICT $name PASS ($what)"
    return
  fi
  VERDICT[$name]=FAIL
  [ ${#hard[@]} -eq 0 ] || hard_fail=1
  [ ${#soft[@]} -eq 0 ] || soft_fail=1
  local p msg=""
  for p in "${hard[@]+"${hard[@]}"}" "${soft[@]+"${soft[@]}"}"; do msg+="${msg:+; }$p"; done
  echo "VERDICT $name FAIL ($msg)"
}

# ---- scenarios ---------------------------------------------------------

steady() {
  echo "== steady: ${DURATION}s of load, -t$THREADS -c$CONNS (warm-up ${WARMUP}s)"
  start_server steady
  warm_up
  load_start "$work/steady/wrk.out"
  load_finish "$work/steady/wrk.out"
  RES[steady]=$RESULT
  no_failed_requests "$RESULT"
  local soft=() rps p99
  rps=$(get "$RESULT" rps)
  p99=$(get "$RESULT" p99_ms)
  ge "$rps" "$TARGET_RPS" || soft+=("$rps evaluations/s < $TARGET_RPS")
  lt "$p99" "$TARGET_P99_MS" || soft+=("p99 $p99 ms >= $TARGET_P99_MS ms")
  NOTE[steady]="target >= $TARGET_RPS/s, p99 < $TARGET_P99_MS ms"
  verdict steady ">= $TARGET_RPS evaluations/s, p99 < $TARGET_P99_MS ms, no failed request" "${soft[@]+"${soft[@]}"}"
  stop_server
}

replicas_run() {
  [[ "${STORE:-}" == postgres* ]] || die "the replicas scenario needs STORE=postgres://... (one store, two servers)"
  local half=$((CONNS / 2))
  echo "== replicas: two servers on one PostgreSQL, ${DURATION}s of load, -c$half on each (warm-up ${WARMUP}s)"
  start_server replicas-a
  local base_a=$base pid_a=$srv_pid
  more_pids+=("$pid_a")
  srv_pid=""
  start_server replicas-b
  local base_b=$base
  for b in a b; do
    local url=$base_a
    [ "$b" = b ] && url=$base_b
    WRK_BODY_FILE=$work/body.json wrk -t"$THREADS" -c"$half" -d"${WARMUP}s" --timeout "$TIMEOUT" \
      -s "$LUA" "$url/v1/evaluate" >"$work/replicas-$b/warmup.out" 2>&1 &
  done
  wait_wrk_all
  local a0 b0
  a0=$(base=$base_a evaluate_answers)
  b0=$(base=$base_b evaluate_answers)
  WRK_BODY_FILE=$work/body.json wrk -t"$THREADS" -c"$half" -d"${DURATION}s" --timeout "$TIMEOUT" \
    --latency -s "$LUA" "$base_a/v1/evaluate" >"$work/replicas-a/wrk.out" 2>&1 &
  WRK_BODY_FILE=$work/body.json wrk -t"$THREADS" -c"$half" -d"${DURATION}s" --timeout "$TIMEOUT" \
    --latency -s "$LUA" "$base_b/v1/evaluate" >"$work/replicas-b/wrk.out" 2>&1 &
  wait_wrk_all
  local ra rb a1 b1
  ra=$(grep '^RESULT ' "$work/replicas-a/wrk.out" | tail -1) || die "no RESULT from the wrk of replica a"
  rb=$(grep '^RESULT ' "$work/replicas-b/wrk.out" | tail -1) || die "no RESULT from the wrk of replica b"
  a1=$(base=$base_a evaluate_answers)
  b1=$(base=$base_b evaluate_answers)
  local ok bad
  ok=$(( $(cut -d' ' -f1 <<<"$a1") - $(cut -d' ' -f1 <<<"$a0") + $(cut -d' ' -f1 <<<"$b1") - $(cut -d' ' -f1 <<<"$b0") ))
  bad=$(( $(cut -d' ' -f2 <<<"$a1") - $(cut -d' ' -f2 <<<"$a0") + $(cut -d' ' -f2 <<<"$b1") - $(cut -d' ' -f2 <<<"$b0") ))
  # Counts add up; latencies are the worse of the two.
  RESULT="RESULT"
  local k
  for k in requests non2xx errors_connect errors_read errors_write errors_timeout rps; do
    RESULT+=" $k=$(awk -v a="$(get "$ra" $k)" -v b="$(get "$rb" $k)" 'BEGIN { printf "%.2f", a + b }' | sed 's/\.00$//')"
  done
  for k in p50_ms p99_ms p999_ms; do
    RESULT+=" $k=$(awk -v a="$(get "$ra" $k)" -v b="$(get "$rb" $k)" 'BEGIN { print (a + 0 > b + 0) ? a : b }')"
  done
  RESULT+=" server_2xx=$ok server_non2xx=$bad"
  echo "$RESULT"
  RES[replicas]=$RESULT
  no_failed_requests "$RESULT"
  local soft=() rps p99
  rps=$(get "$RESULT" rps)
  p99=$(get "$RESULT" p99_ms)
  ge "$rps" "$TARGET_RPS" || soft+=("$rps evaluations/s < $TARGET_RPS")
  lt "$p99" "$TARGET_P99_MS" || soft+=("p99 $p99 ms >= $TARGET_P99_MS ms")
  NOTE[replicas]="two replicas, one store; target >= $TARGET_RPS/s, p99 < $TARGET_P99_MS ms"
  verdict replicas ">= $TARGET_RPS evaluations/s over both, p99 < $TARGET_P99_MS ms, no failed request" "${soft[@]+"${soft[@]}"}"
  kill "$pid_a" 2>/dev/null || true
  wait "$pid_a" 2>/dev/null || true
  more_pids=()
  stop_server
}
wait_wrk_all() {
  local p rc=0
  for p in $(jobs -p); do
    [ "$p" = "$srv_pid" ] && continue
    for q in "${more_pids[@]+"${more_pids[@]}"}"; do [ "$p" = "$q" ] && continue 2; done
    wait "$p" || rc=$?
  done
  [ "$rc" = 0 ] || die "wrk exited with $rc"
}

reload_run() {
  echo "== reloads: ${DURATION}s of load, -t$THREADS -c$CONNS, $RELOADS hot reloads (saved pack / POST /v1/bundle/reload)"
  start_server reloads
  warm_up
  local ok0 failed0 interval k v=0 saves=0 live=0 api_ok=0 late=0 code ms msgs=()
  ok0=$(reloads "" ok)
  failed0=$(reloads "" failed)
  interval=$(((DURATION * 1000 - 600) / RELOADS))
  load_start "$work/reloads/wrk.out"
  for k in $(seq 0 $((RELOADS - 1))); do
    sleep_until $((t_start + 200 + k * interval))
    if [ $((k % 2)) = 0 ]; then
      # A saved file: the watcher reloads (debounced).
      v=$((v + 1))
      mv -f "$work/stage/bench-$v.tenet" "$rules/bench.tenet"
      saves=$((saves + 1))
    else
      # The save before must have gone live by now; then an API reload.
      if ms=$(wait_for 3000 serving "1.1.$v"); then live=$((live + 1)); else msgs+=("save of 1.1.$v not live after 3 s"); fi
      code=$(curl -sS --max-time 10 -o "$work/reloads/reload.json" -w '%{http_code}' -X POST "$base/v1/bundle/reload" || true)
      if [ "$code" = 200 ] && grep -q "\"version\":\"1.1.$v\"" "$work/reloads/reload.json"; then
        api_ok=$((api_ok + 1))
      else
        msgs+=("POST /v1/bundle/reload answered $code")
      fi
    fi
    [ "$(now_ms)" -le "$t_end" ] || late=$((late + 1))
  done
  if [ $((RELOADS % 2)) = 1 ]; then
    if wait_for 3000 serving "1.1.$v" >/dev/null; then live=$((live + 1)); else msgs+=("save of 1.1.$v not live after 3 s"); fi
    [ "$(now_ms)" -le "$t_end" ] || late=$((late + 1))
  fi
  load_finish "$work/reloads/wrk.out"
  RES[reloads]=$RESULT
  local ok failed watch api idle_a idle_b
  ok=$(($(reloads "" ok) - ok0))
  failed=$(($(reloads "" failed) - failed0))
  watch=$(reloads watch ok)
  api=$(reloads api ok)
  echo "reloads triggered: $saves saves ($live went live), $((RELOADS - saves)) API reloads ($api_ok answered 200 with the saved version); $late after the load ended"
  echo "reloads counted by the server (/metrics): $ok ok (watch $watch, api $api), $failed failed"
  no_failed_requests "$RESULT"
  problems+=("${msgs[@]+"${msgs[@]}"}")
  [ "$late" = 0 ] || problems+=("$late of $RELOADS reloads came after the load ended (raise DURATION)")
  [ "$failed" = 0 ] || problems+=("$failed reloads failed")
  ge "$ok" "$RELOADS" || problems+=("the server counted $ok reloads, fewer than $RELOADS")
  # With no file saved, the watcher should stay quiet.
  sleep 1
  idle_a=$(reloads watch ok)
  sleep 2
  idle_b=$(reloads watch ok)
  local soft=()
  if [ "$idle_b" != "$idle_a" ]; then
    echo "WARN the watcher reloaded $((idle_b - idle_a)) times in 2 s with no rule file saved (a reload loop: the counts above include it)"
    soft+=("watcher reloads on its own: $((idle_b - idle_a)) in 2 s idle")
  fi
  NOTE[reloads]="$RELOADS reloads ($saves saves, $((RELOADS - saves)) API); server counted $ok ok, $failed failed"
  verdict reloads "$RELOADS reloads during the load, none failed, no failed request" "${soft[@]+"${soft[@]}"}"
  stop_server
}

broken_run() {
  echo "== broken: ${DURATION}s of load, -t$THREADS -c$CONNS; a broken pack saved at 1/3, a good one at 2/3"
  start_server broken
  warm_up
  local good fp ms to_degraded="-" to_ok="-" late=0
  good=$(fingerprint)
  load_start "$work/broken/wrk.out"
  sleep_until $((t_start + DURATION * 1000 / 3))
  mv -f "$work/broken.tenet" "$rules/bench.tenet"
  if ms=$(wait_for 3000 is_health degraded); then
    to_degraded=$ms
    echo "broken pack saved: health degraded after $ms ms"
  else
    problems+=("health not degraded 3 s after the broken save (it is $(health))")
  fi
  fp=$(fingerprint)
  [ "$fp" = "$good" ] || problems+=("while degraded the bundle is $fp, not the last good $good")
  [ "$(now_ms)" -le "$t_end" ] || late=1
  sleep_until $((t_start + DURATION * 2000 / 3))
  mv -f "$work/restored.tenet" "$rules/bench.tenet"
  if ms=$(wait_for 3000 is_health ok); then
    to_ok=$ms
    echo "good pack saved: health ok after $ms ms"
  else
    problems+=("health not ok 3 s after the good save (it is $(health))")
  fi
  serving 1.9.0 || problems+=("the restored pack (1.9.0) is not serving")
  [ "$(now_ms)" -le "$t_end" ] || late=1
  load_finish "$work/broken/wrk.out"
  RES[broken]=$RESULT
  no_failed_requests "$RESULT"
  [ "$late" = 0 ] || problems+=("the fault steps ran past the load (raise DURATION)")
  echo "reloads counted by the server (/metrics): $(reloads "" ok) ok, $(reloads "" failed) failed"
  NOTE[broken]="degraded after $to_degraded ms, ok again after $to_ok ms"
  verdict broken "degraded on the broken save, ok on the good one, no failed request"
  stop_server
}

for s in $SCENARIOS; do
  case $s in
    steady) steady ;;
    reloads) reload_run ;;
    broken) broken_run ;;
    replicas) replicas_run ;;
    *) die "unknown scenario $s (steady, reloads, broken, replicas)" ;;
  esac
  echo
done

# ---- summary -----------------------------------------------------------

wrk_version=$( (wrk -v 2>&1 || true) | head -1)
echo "Machine: $(nproc) cores ($(uname -m)), $wrk_version, tenet $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u +%Y-%m-%d)"
echo "Load: wrk -t$THREADS -c$CONNS -d${DURATION}s --timeout $TIMEOUT, warm-up ${WARMUP}s, fresh server per scenario, pack: $PACK_KIND (benches/serve-pack.py --kind $PACK_KIND)"
echo
echo "| scenario | requests | evaluations/s | p50 ms | p99 ms | p99.9 ms | non-2xx | socket errors | result |"
echo "|---|---|---|---|---|---|---|---|---|"
for s in $SCENARIOS; do
  r=${RES[$s]:-}
  [ -n "$r" ] || continue
  errors=$(($(get "$r" errors_connect) + $(get "$r" errors_read) + $(get "$r" errors_write) + $(get "$r" errors_timeout)))
  printf '| %s | %s | %.0f | %s | %s | %s | %s | %s | %s: %s |\n' "$s" "$(get "$r" requests)" "$(get "$r" rps)" \
    "$(get "$r" p50_ms)" "$(get "$r" p99_ms)" "$(get "$r" p999_ms)" "$(get "$r" server_non2xx)" "$errors" "${VERDICT[$s]}" "${NOTE[$s]}"
done

if [ "$hard_fail" = 1 ]; then
  echo "serve-load: FAILED: a request failed or a fault step did not behave (see the VERDICT lines)" >&2
  exit 1
fi
if [ "$soft_fail" = 1 ] && [ -n "${STRICT:-}" ]; then
  echo "serve-load: FAILED: a target was missed (STRICT=1)" >&2
  exit 1
fi
