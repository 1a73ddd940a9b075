#!/usr/bin/env bash
# Redraws the figures of docs/figures.md into docs/figures/ and refreshes the measured numbers
# in the tables of docs/figures.md and the sweep table of README.md (tools/figure_numbers.py).
# About 1-2 minutes on 2 cores (docs/figures.md gives the measured time).
# Usage: bash tools/figures.sh [path/to/acceltran]   (intermediate runs go to out-figures/)
set -euo pipefail
cd "$(dirname "$0")/.."
a=$(readlink -f "${1:-build/bin/acceltran}")
o=out-figures
f=docs/figures
rm -rf "$o" && mkdir -p "$o"   # sweeps reuse finished points: start afresh for a new binary
start=$(date +%s)
net=activation_buffer_mb+weight_buffer_mb+mask_buffer_mb
sweep() { "$a" sweep "$1" --out "$2" -j 2 --no-progress >/dev/null; }

# (1) cycles over net buffer size x PEs, as simulator/figures/exploration.pdf draws them.
# (1a) the paper's plane: BERT-Tiny on Edge, 10-16 MB x 16-256 PEs, both profiles.
sweep $f/fig1-tiny-edge-plane.yaml $o/fig1a
for p in hardware reference; do
  "$a" plot $o/fig1a --kind metric --where profile=$p --x $net --xlabel "net buffer size (MB)" \
    --y pe --ylabel PEs --log-y --mark "$net=13,pe=64" --mark-label "AccelTran-Edge (64 PEs, 13 MB)" \
    --title "BERT-Tiny on Edge: cycles over net buffer size and PEs (profile $p)" \
    --out $f --name fig1a-tiny-edge-plane-$p.png
done
# (1b) BERT-Tiny on Edge with net buffers of 0.5-6 MB, where they matter.
sweep $f/fig1-tiny-edge-small.yaml $o/fig1b
"$a" plot $o/fig1b --kind metric --x $net --xlabel "net buffer size (MB)" --log-x \
  --y pe --ylabel PEs --log-y \
  --title "BERT-Tiny on Edge: cycles over small net buffers and PEs (profile hardware)" \
  --out $f --name fig1b-tiny-edge-small-buffers.png
# (1c) BERT-Base on Server-class designs, 13-208 MB x 64-1024 PEs.
sweep $f/fig1-base-server.yaml $o/fig1c
"$a" plot $o/fig1c --kind metric --x $net --xlabel "net buffer size (MB)" --log-x \
  --y pe --ylabel PEs --log-y --mark "$net=104,pe=512" \
  --mark-label "AccelTran-Server (512 PEs, 104 MB)" \
  --title "BERT-Base on Server-class designs: cycles over net buffer size and PEs" \
  --out $f --name fig1c-base-server.png

# (2) dynamic energy and operand reuse over the 24 loop orders (simulator/figures/dataflow.pdf).
dyn=$(printf 'energy_nj.%s.dynamic+' mac_lanes dynatran softmax layer_norm dataflow dma \
  activation_buffer weight_buffer mask_buffer main_memory)
for w in tiny-edge base-server; do
  sweep $f/fig2-loop-orders-$w.yaml $o/fig2-$w
  label="BERT-Tiny on AccelTran-Edge"
  [ $w = base-server ] && label="BERT-Base on AccelTran-Server"
  "$a" plot $o/fig2-$w --kind metric --x loop-order --metric "${dyn%+}" --style bars \
    --ylabel "dynamic energy (nJ)" --title "$label: dynamic energy per loop order" \
    --out $f --name fig2-energy-loop-order-$w.png
  "$a" plot $o/fig2-$w --kind metric --x loop-order \
    --metric compute.fifo_reuse+compute.broadcast_reuse --style bars \
    --ylabel "operand tiles reused (FIFO + broadcast)" \
    --title "$label: operand reuse instances per loop order" \
    --out $f --name fig2-reuse-loop-order-$w.png
done

# (3) area and power breakdowns (simulator/figures/pie_charts.pdf) and (4) power and
# utilization over time (simulator/figures/bert_tiny_edge_metrics.pdf).
"$a" simulate --model bert-tiny --accel edge --timeline-samples 400 --out $o/fig34 >/dev/null
"$a" simulate --model bert-tiny --accel edge --profile reference --timeline-samples 400 \
  --out $o/fig34-reference >/dev/null
"$a" simulate --model bert-base --accel server --timeline-samples 0 --out $o/fig3-server >/dev/null
"$a" plot $o/fig34 --kind breakdown --out $f --name fig3-edge-breakdown.png
"$a" plot $o/fig3-server --kind breakdown --out $f --name fig3-server-breakdown.png
"$a" plot $o/fig34 --kind timeline --out $f --name fig4-edge-timeline.png
"$a" plot $o/fig34-reference --kind timeline --out $f --name fig4-edge-timeline-reference.png

# (5) memory needs of BERT-Tiny and BERT-Base: embeddings, weights, activations
# (simulator/figures/mem_req.pdf); the numbers table reads the same compile --stats lines.
for p in hardware reference; do
  for m in bert-tiny bert-base; do
    "$a" compile --model $m --stats --profile $p >$o/fig5-$m-$p.txt
  done
done
"$a" plot memory --models bert-tiny bert-base --out $f --name fig5-memory.png \
  --title "Memory needs, hardware profile (acceltran compile --stats)"
"$a" plot memory --models bert-tiny bert-base --out $f --name fig5-memory-reference.png \
  --title "Memory needs, reference profile (acceltran compile --stats --profile reference)" \
  -- --profile reference

# (6) normalized throughput and energy over net sparsity 30-34 % (simulator/figures/sparsity.pdf):
# BERT-Tiny on Edge (the published figure's workload) and BERT-Base on Server.
sweep $f/fig6-sparsity.yaml $o/fig6
"$a" plot $o/fig6 --kind metric --x sparsity --metric throughput_seq_per_s --normalize \
  --group model --ylabel "throughput (normalized to 30 %)" \
  --title "Throughput over activation sparsity (BERT-Tiny on Edge, BERT-Base on Server)" \
  --out $f --name fig6-throughput-sparsity.png
"$a" plot $o/fig6 --kind metric --x sparsity --metric energy_per_seq_mj --normalize \
  --group model --ylabel "energy per sequence (normalized to 30 %)" \
  --title "Energy per sequence over activation sparsity (BERT-Tiny on Edge, BERT-Base on Server)" \
  --out $f --name fig6-energy-sparsity.png

# The README's sweep (bench/sweep-96.yaml) and its figure.
sweep bench/sweep-96.yaml $o/sweep96
"$a" plot $o/sweep96 --kind metric --x pe --y activation_buffer_mb --log-x --log-y \
  --where sparsity=0.5 --where weight_buffer_mb=0.5 --where main_memory.bandwidth=hb \
  --title "bench/sweep-96.yaml: BERT-Tiny cycles over PEs and activation buffer (hb memory)" \
  --out $f --name sweep96-pe-activation-buffer.png

# Measured numbers into the tables of docs/figures.md and README.md.
/usr/bin/python3 tools/figure_numbers.py $o docs/figures.md README.md
echo "figures.sh: $(($(date +%s) - start)) s"
