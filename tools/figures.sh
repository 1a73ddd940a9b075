#!/usr/bin/env bash
# Redraws the figures of docs/figures.md into docs/figures/ (runs under a minute on 2 cores).
# Usage: bash tools/figures.sh [path/to/acceltran]   (intermediate runs go to out/figures/)
set -euo pipefail
cd "$(dirname "$0")/.."
a=$(readlink -f "${1:-build/bin/acceltran}")
o=out/figures
f=docs/figures
mkdir -p "$o"
sum=activation_buffer_mb+weight_buffer_mb+mask_buffer_mb

# (1) cycles over PEs x net buffer size, BERT-Tiny, Edge marked; both profiles.
"$a" sweep $f/fig1-pe-buffer.yaml --out $o/fig1 --no-progress
for p in bert reference; do
  "$a" plot $o/fig1 --kind metric --where profile=$p --x pe --xlabel PEs --y $sum \
    --ylabel "net buffer size (MB)" --mark "pe=64,$sum=13" \
    --mark-label "AccelTran-Edge (64 PEs, 13 MB)" \
    --title "BERT-Tiny cycles over PEs and net buffer size (profile $p)" \
    --out $f --name fig1-cycles-pe-buffer-$p.png
done

# (2) energy and operand reuse over the 24 loop orders, BERT-Tiny on Edge.
"$a" sweep $f/fig2-loop-orders.yaml --out $o/fig2 --no-progress
dyn=$(printf 'energy_nj.%s.dynamic+' mac_lanes dynatran softmax layer_norm dataflow dma \
  activation_buffer weight_buffer mask_buffer main_memory)
"$a" plot $o/fig2 --kind metric --x loop-order --metric "${dyn%+}" --style bars \
  --ylabel "dynamic energy (nJ)" --title "BERT-Tiny on AccelTran-Edge: dynamic energy per loop order" \
  --out $f --name fig2-energy-loop-order.png
"$a" plot $o/fig2 --kind metric --x loop-order --metric compute.fifo_reuse+compute.broadcast_reuse \
  --style bars --ylabel "operand tiles reused (FIFO + broadcast)" \
  --title "BERT-Tiny on AccelTran-Edge: operand reuse instances per loop order" \
  --out $f --name fig2-reuse-loop-order.png

# (3) area and power breakdown of AccelTran-Edge (BERT-Tiny), (4) power and utilization over time.
"$a" simulate --model bert-tiny --accel edge --timeline-samples 400 --out $o/fig34 >/dev/null
"$a" plot $o/fig34 --kind breakdown --out $f --name fig3-edge-breakdown.png
"$a" plot $o/fig34 --kind timeline --out $f --name fig4-edge-timeline.png

# (5) memory needs of BERT-Tiny and BERT-Base: embeddings, weights, activations.
"$a" plot memory --models bert-tiny bert-base --out $f --name fig5-memory.png \
  --title "Memory needs, hardware profile (acceltran compile --stats)"
"$a" plot memory --models bert-tiny bert-base --out $f --name fig5-memory-reference.png \
  --title "Memory needs, reference profile (acceltran compile --stats --profile reference)" \
  -- --profile reference

# (6) normalized throughput and energy over net sparsity 30-34 %, BERT-Base on Server.
"$a" sweep $f/fig6-sparsity.yaml --out $o/fig6 --no-progress
"$a" plot $o/fig6 --kind metric --x sparsity --metric throughput_seq_per_s --normalize \
  --title "BERT-Base on AccelTran-Server: throughput over sparsity (normalized to 30 %)" \
  --out $f --name fig6-throughput-sparsity.png
"$a" plot $o/fig6 --kind metric --x sparsity --metric energy_per_seq_mj --normalize \
  --title "BERT-Base on AccelTran-Server: energy per sequence over sparsity (normalized to 30 %)" \
  --out $f --name fig6-energy-sparsity.png
