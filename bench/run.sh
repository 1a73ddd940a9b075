#!/usr/bin/env bash
# Benchmarks of `acceltran simulate`: wall and CPU seconds and peak RSS per case (GNU time -v;
# docs/performance.md), then functional BERT-Base/Server against a float32 PyTorch forward of the
# same shapes (bench/torch_forward.py) when Debian's python3-torch is importable by
# /usr/bin/python3. Not part of the default test run. Usage: bash bench/run.sh [path/to/acceltran]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/bin/acceltran}
[ -x "$bin" ] || { echo "error: $bin not found; build first (cmake --preset release && cmake --build --preset release)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '%-34s %10s %10s %12s %14s %12s  %s\n' case wall_s cpu_s peak_rss_mib cycles tiles target
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
  /usr/bin/time -v -o "$out/time" "$bin" simulate "$@" --out "$out/r" >/dev/null
  # GNU time -v: "Elapsed (wall clock) time (h:mm:ss or m:ss): 0:01.23", user and system seconds,
  # "Maximum resident set size (kbytes)".
  local wall cycles tiles rss_mib
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0;
                      for (i = 1; i <= n; i++) s = s * 60 + t[i]; printf "%.2f", s }' "$out/time")
  last_cpu_s=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$out/time")
  rss_mib=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$out/time")
  last_rss_mib=$rss_mib
  cycles=$(grep -m1 '"cycles"' "$out/r/report.json" | tr -dc '0-9')
  tiles=$(grep -m1 '"tiles_dispatched"' "$out/r/report.json" | tr -dc '0-9')
  last_batch=$(grep -m1 '"batch"' "$out/r/report.json" | tr -dc '0-9')
  last_seq_len=$(grep -m1 '"seq_len"' "$out/r/report.json" | tr -dc '0-9')
  printf '%-34s %10s %10s %12s %14s %12s  %s\n' "$name" "$wall" "$last_cpu_s" "$rss_mib" "$cycles" \
    "$tiles" "$(target_verdict "$wall" "$rss_mib" "$target_s" "$target_mib")"
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
functional_cpu_s=$last_cpu_s functional_rss_mib=$last_rss_mib
functional_batch=$last_batch functional_seq_len=$last_seq_len
run "BERT-Base/Server reference"          --model bert-base  --accel server --profile reference
target "BERT-Large/Server seq 512" 10 -   --model bert-large --accel server --seq-len 512
target "BERT-Large/Server b32 s512" 30 -  --model bert-large --accel server --seq-len 512 --batch 32
run "BERT-Tiny/Edge b32 s512 4/8/0.5 MB"  --model bert-tiny  --accel edge   --seq-len 512 --batch 32 --set batch_size=32 --set activation_buffer_mb=4 --set weight_buffer_mb=8 --set mask_buffer_mb=0.5
run "BERT-Large/Server b32 s512 4/8/0.5 MB" --model bert-large --accel server --seq-len 512 --batch 32 --set batch_size=32 --set activation_buffer_mb=4 --set weight_buffer_mb=8 --set mask_buffer_mb=0.5

# Functional BERT-Base/Server against a float32 PyTorch forward of the same shapes (issue 20's
# target: at most 2x its CPU time, peak RSS at most 500 MiB).
echo
echo "functional BERT-Base/Server (batch $functional_batch, sequence $functional_seq_len):" \
  "$functional_cpu_s CPU s, peak RSS $functional_rss_mib MiB (target <= 500 MiB)"
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  /usr/bin/python3 bench/torch_forward.py --model models/transformers/bert-base.json \
    --batch "$functional_batch" --seq-len "$functional_seq_len" >"$out/torch"
  torch_cpu_s=$(awk '/^torch forward:/ { print $3 }' "$out/torch")
  cat "$out/torch"
  awk -v a="$functional_cpu_s" -v t="$torch_cpu_s" \
    'BEGIN { printf "functional / PyTorch CPU time: %.2f (target <= 2)\n", a / t }'
else
  echo "PyTorch comparison skipped: /usr/bin/python3 cannot import torch (apt-get install python3-torch)"
fi

# acceltran evaluate (issue 19's target: 1,000 sequences of 128 tokens on BERT-Tiny/Edge in
# under 60 s per setting on 2 cores).
echo
bash bench/evaluate.sh "$bin"
