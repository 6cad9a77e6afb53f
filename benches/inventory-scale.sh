#!/usr/bin/env bash
# Dark inventory at scale: `tenet inventory correlate` on one run of
# 1,000,000 discovered resources against a 100,000-entry catalog (the run
# streamed one resource at a time), with its time and peak memory: `mixed`
# (100,000 registered buckets, 10,000 rogue ones, the rest resource types no
# rule is about) and `heavy` (100,000 rogue buckets: ten times the findings).
# Figures and targets: BENCHMARKS.md.
#
#   benches/inventory-scale.sh              # release build, 3 runs each, all shown
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p tenet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/mixed" "$work/heavy"
python3 benches/inventory-gen.py "$work/mixed" 1000000 100000 10000
python3 benches/inventory-gen.py "$work/heavy" 1000000 100000 100000
ls -la "$work"/mixed "$work"/heavy | grep json
for shape in mixed heavy; do
  for run in 1 2 3; do
    /usr/bin/time -f "$shape run $run: %e s wall, %M KB peak RSS" \
      ./target/release/tenet inventory correlate --catalog "$work/$shape/catalog.json" \
      --discoveries "$work/$shape/run.json" --at 2026-12-02T00:00:00Z --format json \
      > "$work/out.json" 2> "$work/err" || true
    tail -1 "$work/err"
  done
  python3 -c "import json,sys; v=json.load(open('$work/out.json')); r=v['runs'][0]; print('  findings:', len(v['findings']), 'registered:', r['registered'], 'ignored:', r['ignored'])"
done
