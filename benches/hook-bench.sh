#!/usr/bin/env bash
# The pre-commit hook on a repository of 200 artifacts with 5 staged
# changes: wall time of `tenet hook run pre-commit` (release build), whole
# process, best / median / worst of N runs. Target: under 300 ms (issue #4).
# Figures: BENCHMARKS.md.
#
#   benches/hook-bench.sh          # 20 runs of each case
#   RUNS=50 benches/hook-bench.sh
#
# The repository: 150 OpenAPI documents (YAML, ~120 lines each, 6 paths),
# 30 JSON Schemas, 20 GraphQL schemas and a tenet.yaml with consumers.
# Staged: 3 OpenAPI edits, 1 new JSON Schema, 1 GraphQL schema moved.
#   pass:    the edits are additive (a new optional field, a new operation)
#   blocked: one edit removes a response field (breaking): the commit is
#            blocked, and the block is written to the audit log.
# Uses hyperfine when it is installed, else a timing loop.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
cargo build --release -q -p tenet
TENET=$PWD/target/release/tenet

work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
repo=$work/repo
mkdir -p "$repo/api" "$repo/schemas" "$repo/graphql"
cd "$repo"
git init -q .
git config user.email bench@example.com
git config user.name bench

openapi() { # $1: index, $2: extra Order property line (may be empty), $3: extra path (may be empty)
  cat <<EOF
openapi: 3.0.3
info: {title: Service $1, version: "1.$1"}
paths:
EOF
  for p in 1 2 3 4 5 6; do
    cat <<EOF
  /svc$1/orders$p/{id}:
    get:
      operationId: getOrder$1x$p
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
        - {name: expand, in: query, required: false, schema: {type: string, enum: [lines, customer]}}
      responses:
        "200":
          description: the order
          content:
            application/json:
              schema: {\$ref: "#/components/schemas/Order"}
        "404": {description: not found}
EOF
  done
  printf '%s' "$3"
  cat <<EOF
components:
  schemas:
    Order:
      type: object
      required: [id, status]
      properties:
        id: {type: string}
        status: {type: string, enum: [open, paid, shipped, closed]}
        total: {type: number, minimum: 0}
        currency: {type: string, pattern: "^[A-Z]{3}\$"}
$2        lines:
          type: array
          items: {\$ref: "#/components/schemas/Line"}
    Line:
      type: object
      properties:
        sku: {type: string}
        quantity: {type: integer, minimum: 1}
        price: {type: number}
EOF
}

schema() {
  cat <<EOF
{
  "\$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Event $1",
  "type": "object",
  "required": ["id", "kind"],
  "properties": {
    "id": {"type": "string"},
    "kind": {"type": "string", "enum": ["created", "updated", "deleted"]},
    "at": {"type": "string", "format": "date-time"},
    "payload": {"type": "object", "properties": {"size": {"type": "integer", "maximum": 1000}}}
  }
}
EOF
}

graphql() {
  cat <<EOF
type Query {
  order$1(id: ID!): Order
  orders$1(first: Int = 10, after: String): [Order!]!
}

type Order {
  id: ID!
  status: Status!
  total: Float
  lines: [Line!]!
}

type Line {
  sku: String!
  quantity: Int!
}

enum Status {
  OPEN
  PAID
  SHIPPED
}
EOF
}

for i in $(seq 1 150); do openapi "$i" "" "" >"api/svc$i.yaml"; done
for i in $(seq 1 30); do schema "$i" >"schemas/event$i.json"; done
for i in $(seq 1 20); do graphql "$i" >"graphql/svc$i.graphql"; done
cat >tenet.yaml <<'EOF'
version: 1
artifacts:
  - {path: "api/*.yaml", type: openapi}
  - {path: "schemas/*.json", type: json-schema, direction: response}
  - {path: "graphql/*.graphql", type: graphql}
consumers:
  mobile-app: ["GET /svc1*", "Order.*"]
  billing: ["api/svc2*.yaml"]
EOF
git add -A
git commit -qm "200 artifacts"
echo "repository: $(git ls-files | wc -l | tr -d ' ') files, $(git ls-files api schemas graphql | wc -l | tr -d ' ') artifacts"

newpath='  /svc7/refunds:
    post:
      responses:
        "201": {description: created}
'
stage_pass() {
  git reset -q --hard
  git clean -qfd
  openapi 3 '        note: {type: string}
' "" >api/svc3.yaml
  openapi 5 "" "$newpath" >api/svc5.yaml
  openapi 7 '        gift: {type: boolean}
' "$newpath" >api/svc7.yaml
  schema 31 >schemas/event31.json
  mkdir -p graphql/v2
  git mv graphql/svc20.graphql graphql/v2/svc20.graphql
  git add -A
}
stage_blocked() {
  stage_pass
  openapi 9 "" "" | grep -v 'total: {type: number' >api/svc9.yaml
  git checkout -q HEAD -- api/svc7.yaml
  git add -A
}

time_case() { # $1: name, $2: expected exit code
  local name=$1 want=$2
  local got=0
  "$TENET" hook run pre-commit --store "$work/tenet.db" >/dev/null 2>&1 || got=$?
  if [ "$got" != "$want" ]; then
    echo "$name: expected exit $want, got $got" >&2
    "$TENET" hook run pre-commit --store "$work/tenet.db" || true
    exit 1
  fi
  echo "$name: $(git diff --cached --name-status | wc -l | tr -d ' ') staged changes, exit $got"
  if command -v hyperfine >/dev/null 2>&1; then
    hyperfine -N -w 3 -r "$RUNS" -i "$TENET hook run pre-commit --store $work/tenet.db"
    return
  fi
  local times=()
  for _ in $(seq 1 "$RUNS"); do
    local t0 t1
    t0=$(date +%s%N)
    "$TENET" hook run pre-commit --store "$work/tenet.db" >/dev/null 2>&1 || true
    t1=$(date +%s%N)
    times+=($(((t1 - t0) / 1000000)))
  done
  sorted=($(printf '%s\n' "${times[@]}" | sort -n))
  echo "  $RUNS runs: best ${sorted[0]} ms, median ${sorted[$((RUNS / 2))]} ms, worst ${sorted[$((RUNS - 1))]} ms"
}

stage_pass
time_case pass 0
stage_blocked
time_case blocked 1
