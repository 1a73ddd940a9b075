#!/usr/bin/env bash
# Runs a fixed set of simulations with two acceltran binaries and compares their output folders
# (report.json, report.csv, ops.csv, timeline.csv and the printed report), ignoring the version
# string and wall-clock figures. For refactors that must not move a figure:
#   tools/compare_reports.sh OLD_BINARY NEW_BINARY [WORK_DIR]
# Exit 0 when every run is identical, 1 otherwise (the differences are printed).
set -uo pipefail
old=$1 new=$2 work=${3:-$(mktemp -d)}
runs=(
  "tiny-edge|"
  "tiny-edge-ref|--profile reference"
  "tiny-edge-ref-bugs|--profile reference --reference-bugs all"
  "tiny-edge-ref-fixes|--profile reference --reference-fixes all"
  "tiny-server|--accel server"
  "tiny-edge-tpi1|--tiles-per-instruction 1"
  "tiny-edge-tpi8|--tiles-per-instruction 8"
  "tiny-edge-kij|--loop-order k_i_j_b"
  "mini-edge-s256|--model bert-mini --seq-len 256"
  "base-server|--model bert-base --accel server"
  "base-server-ref|--model bert-base --accel server --profile reference"
  "tiny-edge-functional|--functional --threshold 0.02"
  "tiny-edge-small-buffers|--set activation_buffer_mb=1 --set weight_buffer_mb=1 --allow-outside-design-space"
)
normalise() {  # drop the fields that differ between builds or runs
  sed -E -e "s#$work/(old|new)/#OUT/#g" -e 's#[^ ",]*/models/#MODELS/#g' -e 's/^inputs.profile,bert$/inputs.profile,hardware/' -e 's/"version": *"[^"]*"/"version": ""/' \
    -e 's/"(wall|wall_seconds|simulation_seconds|elapsed_seconds|host_[a-z_]+)": *[0-9.e+-]+/"\1": 0/' \
    -e 's/AccelTran-SC [^ ]+ /AccelTran-SC /' -e 's/profile bert/profile hardware/' \
    -e 's/"profile": "bert"/"profile": "hardware"/' \
    -e '/[Ww]all|simulated in|host time|real time/d' "$1"
}
status=0
for entry in "${runs[@]}"; do
  name=${entry%%|*} args=${entry#*|}
  for side in old new; do
    bin=$old; [[ $side == new ]] && bin=$new
    rm -rf "$work/$side/$name"; mkdir -p "$work/$side"
    # shellcheck disable=SC2086
    "$bin" simulate $args --out "$work/$side/$name" >"$work/$side/$name.txt" 2>&1
    echo "exit $?" >>"$work/$side/$name.txt"
  done
  same=1
  for f in "$name.txt" "$name/report.json" "$name/report.csv" "$name/ops.csv" "$name/timeline.csv"; do
    if [[ -e $work/old/$f || -e $work/new/$f ]]; then
      if ! diff <(normalise "$work/old/$f" 2>/dev/null) <(normalise "$work/new/$f" 2>/dev/null) \
          >"$work/diff.tmp"; then
        same=0
        echo "== $name: $f differs"; head -n 20 "$work/diff.tmp"
      fi
    fi
  done
  if ((same)); then echo "same: $name"; else status=1; fi
done
exit $status
