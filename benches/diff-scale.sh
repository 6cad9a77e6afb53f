#!/usr/bin/env bash
# Semantic diff at scale: time and peak memory of one full diff (detect +
# classify + report) of generated OpenAPI (JSON) and GraphQL documents (with
# field descriptions, as public schemas have, and dense: declarations only) at
# 1, 2, 5 and 10 MB per side, each with about one hundred scattered changes.
# Figures and targets: BENCHMARKS.md.
#
#   benches/diff-scale.sh            # all sizes, 3 runs each, best shown
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p tenet-benches --bin diffgen
for kind in openapi graphql graphql-dense; do
  for mb in 1 2 5 10; do
    best=""
    for run in 1 2 3; do
      line=$(./target/release/diffgen "$kind" "$mb" 2>/dev/null)
      ms=$(sed -E 's/.* in ([0-9]+) ms.*/\1/' <<<"$line")
      if [ -z "$best" ] || [ "$ms" -lt "$(sed -E 's/.* in ([0-9]+) ms.*/\1/' <<<"$best")" ]; then best=$line; fi
    done
    echo "$best"
  done
done
