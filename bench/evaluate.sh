#!/usr/bin/env bash
# Speed of `acceltran evaluate` (issue 19 target: 1,000 sequences at length 128 on
# BERT-Tiny/Edge in under 60 s per setting on 2 cores). The shipped checkpoint
# (models/checkpoints/fortunes-bert-tiny, BERT-Tiny's shape) over 1,000 seeded random sequences of
# 128 ids (no padding), one DynaTran setting and one top-k setting, one process each (-j 2).
#   bash bench/evaluate.sh [build/bin/acceltran]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/build/bin/acceltran}
work=$(mktemp -d /tmp/acceltran-bench-evaluate-XXXXXX)
trap 'rm -rf "$work"' EXIT
vocab=$(wc -l < "$here/models/checkpoints/fortunes-bert-tiny/vocab.txt")
awk -v n=1000 -v len=128 -v vocab="$vocab" 'BEGIN {
  srand(19)
  for (s = 0; s < n; ++s) {
    line = "{\"input_ids\": [2"
    for (t = 1; t < len - 1; ++t) line = line ", " int(5 + rand() * (vocab - 5))
    printf "%s, 3], \"label\": %d}\n", line, s % 4
  }
}' > "$work/random1000.jsonl"
start=$(date +%s.%N)
"$bin" evaluate --checkpoint "$here/models/checkpoints/fortunes-bert-tiny" \
  --dataset "$work/random1000.jsonl" --threshold 0.02 --topk 8 -j 2 --no-plot --out "$work/out"
end=$(date +%s.%N)
awk -v a="$start" -v b="$end" 'BEGIN { s = (b - a) / 2
  printf "evaluate: 2 settings, 1000 sequences x 128, -j 2: %.1f s wall (%.1f s per setting on 2 cores; target < 60 s: %s)\n", b - a, s, s < 60 ? "met" : "MISSED" }'
