#!/usr/bin/env bash
# Schema-driven fuzzing of the evaluation server (issue #5): schemathesis
# (PyPI, pinned) generates requests from the server's own
# /v1/openapi.json and checks every answer: no 5xx, every status and
# content type documented, every body valid against its schema, invalid
# input rejected, valid input accepted. Bounded: a fixed seed and
# FUZZ_EXAMPLES examples per operation (default 25) in the fuzzing phase
# (FUZZ_SEED, default 1, picks another seed to look further). No example
# database: a run here generates what a clean CI checkout generates.
#
# It runs the server with an identity (so the access gate is on the path)
# and again without a token (so 401 answers are checked too).
# Usage: .ci/fuzz-api.sh [path/to/tenet]   (default target/debug/tenet)
set -euo pipefail
cd "$(dirname "$0")/.."

TENET=${1:-target/debug/tenet}
EXAMPLES=${FUZZ_EXAMPLES:-25}
SEED=${FUZZ_SEED:-1}
ST_VERSION=4.32.5

if ! python3 -c "import schemathesis, sys; sys.exit(schemathesis.__version__ != '$ST_VERSION')" 2>/dev/null; then
  python3 -m pip install --quiet "schemathesis==$ST_VERSION"
fi

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token="fuzz-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
hash=$(printf '%s' "$token" | "$TENET" serve hash-token)
cat > "$work/server.yaml" <<YAML
addr: 127.0.0.1:$port
store: $work/tenet.db
limits:
  rate_per_second: 0
rtx:
  signing_key: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
identities:
  - name: fuzzer
    token_sha256: $hash
    roles: [admin]
YAML

"$TENET" serve --config "$work/server.yaml" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 100); do
  if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/v1/health', timeout=1)" 2>/dev/null; then
    break
  fi
  sleep 0.1
done

# One worker: with two, hypothesis describes its filter lambdas with
# `ast.parse` on two threads at once, which CPython 3.11 can fail with
# "SystemError: AST constructor recursion depth mismatch" (a runtime error
# of the fuzzer, not of the server) on an arbitrary operation.
run() {
  python3 -m schemathesis.cli run "http://127.0.0.1:$port/v1/openapi.json" \
    --checks all --phases examples,coverage,fuzzing \
    --max-examples "$EXAMPLES" --seed "$SEED" --workers 1 --no-color \
    --generation-database none "$@"
}

status=0
echo "-- with a token"
run -H "Authorization: Bearer $token" || status=1
echo "-- without a token"
run || status=1

# The server must still be up and must not have panicked.
if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "the server died during the fuzz run" >&2
  status=1
fi
if grep -qi "panicked" "$work/server.log"; then
  echo "the server panicked:" >&2
  grep -i -A5 "panicked" "$work/server.log" >&2
  status=1
fi
exit $status
