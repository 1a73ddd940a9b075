#!/usr/bin/env bash
# Fuzzing: builds the libFuzzer targets of testbench/fuzz (preset fuzz: Debian's clang,
# -fsanitize=fuzzer,address,undefined) and runs each on its committed seed corpus for
# FUZZ_SECONDS seconds (default 30). A crash, a leak, undefined behaviour or a timeout fails the
# script; the input that caused it is kept as build-fuzz/crash-<target>-*.
# Inputs up to FUZZ_MAX_LEN bytes (default 256 KiB: deep nesting and long lists need room; the
# input limits of config/input_limits.hpp are larger still). The model target also starts from a
# 100,000-deep JSON generated here (too big to commit).
# Usage: bash .ci/fuzz.sh [target...]   (targets: accelerator model isa)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang++ >/dev/null; then  # clang ships libFuzzer; not a normal build dependency
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends clang
fi
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j2
secs=${FUZZ_SECONDS:-30}
max_len=${FUZZ_MAX_LEN:-262144}
targets=("$@")
((${#targets[@]})) || targets=(accelerator model isa)
for t in "${targets[@]}"; do
  work=$(mktemp -d)  # inputs found in this run; the committed corpus is only read
  log=build-fuzz/fuzz-$t.log
  if [[ $t == model ]]; then
    python3 -c 'print("{\"l\": " + "[" * 100000 + "]" * 100000 + "}")' >"$work/nested-100000.json"
  fi
  echo "fuzz_$t: ${secs} s, inputs up to ${max_len} bytes"
  if ! ./build-fuzz/bin/fuzz_"$t" -max_total_time="$secs" -max_len="$max_len" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="build-fuzz/crash-$t-" \
      "$work" "testbench/fuzz/corpus/$t" >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "fuzz_$t: FAILED (log: $log)"
    rm -rf "$work"
    exit 1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$log" | sed "s/^/  fuzz_$t /"
  rm -rf "$work"
done
