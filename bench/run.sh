#!/usr/bin/env bash
# Benchmarks of `acceltran simulate`: wall seconds and peak RSS per case (docs/performance.md).
# Not part of the default test run. Usage: bash bench/run.sh [path/to/acceltran]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/bin/acceltran}
[ -x "$bin" ] || { echo "error: $bin not found; build first (cmake --preset release && cmake --build --preset release)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '%-34s %10s %12s %14s %12s  %s\n' case wall_s peak_rss_mib cycles tiles target
# The target column: "< S s" (wall) and "< M MiB" (peak RSS) when the case has one, then
# "met" or "MISSED".
target_verdict() {
  local wall=$1 rss_mib=$2 target_s=$3 target_mib=$4
  [ "$target_s" = - ] && return
  local text="< $target_s s" ok=1
  awk -v a="$wall" -v b="$target_s" 'BEGIN { exit !(a < b) }' || ok=0
  if [ "$target_mib" != - ]; then
    text="$text, < $target_mib MiB"
    awk -v a="$rss_mib" -v b="$target_mib" 'BEGIN { exit !(a < b) }' || ok=0
  fi
  if [ $ok = 1 ]; then echo "$text: met"; else echo "$text: MISSED"; fi
}
# target NAME TARGET_S TARGET_MIB ARGS...: a case with a target (- for none).
target() {
  local name=$1 target_s=$2 target_mib=$3; shift 3
  /usr/bin/time -f '%e %M' -o "$out/time" "$bin" simulate "$@" --out "$out/r" >/dev/null
  read -r wall rss <"$out/time"
  local cycles tiles rss_mib
  cycles=$(grep -m1 '"cycles"' "$out/r/report.json" | tr -dc '0-9')
  tiles=$(grep -m1 '"tiles_dispatched"' "$out/r/report.json" | tr -dc '0-9')
  rss_mib=$(echo "$rss/1024" | bc -l)
  printf '%-34s %10s %12.1f %14s %12s  %s\n' "$name" "$wall" "$rss_mib" "$cycles" "$tiles" \
    "$(target_verdict "$wall" "$rss_mib" "$target_s" "$target_mib")"
}
run() {
  local name=$1; shift
  target "$name" - - "$@"
}
run "BERT-Tiny/Edge"                      --model bert-tiny  --accel edge
run "BERT-Tiny/Edge reference"            --model bert-tiny  --accel edge   --profile reference
target "BERT-Base/Server" 1 -             --model bert-base  --accel server
# One instruction per tile (11.1 M instructions): the same run, compiled and simulated in time
# and memory linear in the instruction count (docs/performance.md, "Instruction grouping").
target "BERT-Base/Server N=1" 30 1024     --model bert-base  --accel server --tiles-per-instruction 1
# Functional runs (values through the hardware + the float32 reference), on 2 cores.
target "BERT-Tiny/Edge functional" 2 -    --model bert-tiny  --accel edge   --functional
target "BERT-Base/Server functional" 60 2048 --model bert-base --accel server --functional
run "BERT-Base/Server reference"          --model bert-base  --accel server --profile reference
target "BERT-Large/Server seq 512" 10 -   --model bert-large --accel server --seq-len 512
target "BERT-Large/Server b32 s512" 30 -  --model bert-large --accel server --seq-len 512 --batch 32
run "BERT-Tiny/Edge b32 s512 4/8/0.5 MB"  --model bert-tiny  --accel edge   --seq-len 512 --batch 32 --set batch_size=32 --set activation_buffer_mb=4 --set weight_buffer_mb=8 --set mask_buffer_mb=0.5
run "BERT-Large/Server b32 s512 4/8/0.5 MB" --model bert-large --accel server --seq-len 512 --batch 32 --set batch_size=32 --set activation_buffer_mb=4 --set weight_buffer_mb=8 --set mask_buffer_mb=0.5
