#!/usr/bin/env bash
# Benchmark of `acceltran sweep`: the 96-point BERT-Tiny/Edge sweep of bench/sweep-96.yaml
# with -j2, from scratch. Target: < 30 s wall (docs/performance.md). Not part of the test run.
# Usage: bash bench/sweep.sh [path/to/acceltran]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/bin/acceltran}
[ -x "$bin" ] || { echo "error: $bin not found; build first (cmake --preset release && cmake --build --preset release)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$(date +%s.%N)
set +e
"$bin" sweep bench/sweep-96.yaml --out "$out/sweep" -j 2 --no-progress >"$out/log" 2>&1
rc=$?
set -e
wall=$(echo "$(date +%s.%N) - $start" | bc -l)
rows=$(($(wc -l <"$out/sweep/results.csv") - 1))
ok=$(grep -c ',ok,' "$out/sweep/results.csv" || true)
start=$(date +%s.%N)
"$bin" sweep bench/sweep-96.yaml --out "$out/sweep" -j 2 --no-progress >/dev/null 2>&1
resume=$(echo "$(date +%s.%N) - $start" | bc -l)
printf 'sweep of 96 BERT-Tiny/Edge points, -j2: %.2f s wall (target < 30 s), %d rows, %d ok, exit %d; re-run (all done): %.2f s\n' \
  "$wall" "$rows" "$ok" "$rc" "$resume"
awk -v w="$wall" 'BEGIN { exit !(w < 30) }' || { echo "error: over the 30 s target" >&2; exit 1; }
