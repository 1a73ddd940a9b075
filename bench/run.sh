#!/usr/bin/env bash
# Benchmarks of `acceltran simulate`: wall seconds and peak RSS per case (docs/performance.md).
# Not part of the default test run. Usage: bash bench/run.sh [path/to/acceltran]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/bin/acceltran}
[ -x "$bin" ] || { echo "error: $bin not found; build first (cmake --preset release && cmake --build --preset release)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '%-34s %10s %12s %14s %12s\n' case wall_s peak_rss_mib cycles tiles
run() {
  local name=$1; shift
  /usr/bin/time -f '%e %M' -o "$out/time" "$bin" simulate "$@" --out "$out/r" >/dev/null
  read -r wall rss <"$out/time"
  local cycles tiles
  cycles=$(grep -m1 '"cycles"' "$out/r/report.json" | tr -dc '0-9')
  tiles=$(grep -m1 '"tiles_dispatched"' "$out/r/report.json" | tr -dc '0-9')
  printf '%-34s %10s %12.1f %14s %12s\n' "$name" "$wall" "$(echo "$rss/1024" | bc -l)" "$cycles" "$tiles"
}
run "BERT-Tiny/Edge"                      --model bert-tiny  --accel edge
run "BERT-Tiny/Edge reference"            --model bert-tiny  --accel edge   --profile reference
run "BERT-Base/Server"                    --model bert-base  --accel server
# One instruction per tile (11.1 M instructions): the same run, compiled and simulated in time
# and memory linear in the instruction count. Target: < 30 s and < 1 GiB (docs/performance.md).
run "BERT-Base/Server N=1"                --model bert-base  --accel server --tiles-per-instruction 1
# Functional runs (values through the hardware + the float32 reference). Targets: Tiny/Edge
# < 2 s; Base/Server < 60 s and < 2 GiB peak RSS on 2 cores.
run "BERT-Tiny/Edge functional"           --model bert-tiny  --accel edge   --functional
run "BERT-Base/Server functional"         --model bert-base  --accel server --functional
run "BERT-Base/Server reference"          --model bert-base  --accel server --profile reference
run "BERT-Large/Server seq 512"           --model bert-large --accel server --seq-len 512
run "BERT-Tiny/Edge b32 s512 4/8/0.5 MB"  --model bert-tiny  --accel edge   --seq-len 512 --batch 32 --set batch_size=32 --set activation_buffer_mb=4 --set weight_buffer_mb=8 --set mask_buffer_mb=0.5
run "BERT-Large/Server b32 s512 4/8/0.5 MB" --model bert-large --accel server --seq-len 512 --batch 32 --set batch_size=32 --set activation_buffer_mb=4 --set weight_buffer_mb=8 --set mask_buffer_mb=0.5
