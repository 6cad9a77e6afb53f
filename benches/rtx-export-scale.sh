#!/usr/bin/env bash
# rtx-export at scale: one subject's right-to-explanation bundle made from
# 100,000 and from 1,000,000 decisions (`benches/rtxgen.rs`: the decisions
# are generated one at a time as `engine::make` pulls them, masked by the
# bundled `rtx_export` pack for an EU data subject, written as canonical
# JSON through the hashing writer, signed), then written as an `.rtx` file
# and verified offline with `verify::verify_file`. Each run's wall time and
# peak RSS come from /usr/bin/time; the same N gives the same sha256 on
# every run (the bundle is deterministic). Peak RSS should be the same at
# both sizes: the bundle is streamed. Figures and targets: BENCHMARKS.md.
#
#   benches/rtx-export-scale.sh             # release build, 3 runs each, all shown
#   RUNS=1 benches/rtx-export-scale.sh      # one run each
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p tenet-benches --bin rtxgen
runs=${RUNS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for n in 100000 1000000; do
  for run in $(seq 1 "$runs"); do
    rm -f "$work"/bundle.json "$work"/export.rtx
    /usr/bin/time -f "  $n decisions, run $run: %e s wall, %M KB peak RSS (whole process, file output and verification included)" \
      ./target/release/rtxgen "$n" --out "$work" 2> "$work/err" || { cat "$work/err"; exit 1; }
    tail -1 "$work/err"
  done
  ls -la "$work"/export.rtx | awk '{print "  .rtx file:", $5, "bytes"}'
  # The engine alone (a sink that counts the bytes): no file system in the figure.
  /usr/bin/time -f "  $n decisions to a counting sink: %e s wall, %M KB peak RSS" \
    ./target/release/rtxgen "$n" 2> "$work/err" || { cat "$work/err"; exit 1; }
  tail -1 "$work/err"
done
