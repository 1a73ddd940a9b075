#!/usr/bin/env python3
"""Measures the tables of docs/dynatran.md with `acceltran simulate --functional` (synthetic
weights, seeded tokens): sparsity per layer vs tau, cycles and energy vs tau, and DynaTran vs
top-k at equal sparsity (tau from `acceltran calibrate`). Prints Markdown.

Usage: python3 tools/dynatran_tables.py [path/to/acceltran] [--quick]
  --quick: BERT-Tiny only (BERT-Base/Server takes about 25 s per run)."""
import json
import os
import re
import subprocess
import sys
import tempfile

BIN = next((a for a in sys.argv[1:] if not a.startswith("--")), "build/bin/acceltran")
QUICK = "--quick" in sys.argv
TAUS = [0.0, 0.005, 0.01, 0.02, 0.05, 0.1]


def simulate(args):
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([BIN, "simulate", "--functional", *args, "--out", d], check=True,
                       stdout=subprocess.DEVNULL)
        with open(os.path.join(d, "report.json")) as f:
            return json.load(f)


def per_layer(rep):
    z, n = {}, {}
    for t in rep["functional"]["pruned_tensors"]:
        z[t["layer"]] = z.get(t["layer"], 0) + t["zeros"]
        n[t["layer"]] = n.get(t["layer"], 0) + t["elements"]
    return {l: z[l] / n[l] for l in sorted(n)}


def final_error(rep):
    e = rep["functional"]["error_vs_float_reference"][-1]
    return e["relative_error"], e["cosine"]


def tau_sweep(model, accel):
    rows = [(tau, simulate(["--model", model, "--accel", accel, "--threshold", str(tau)]))
            for tau in TAUS]
    layers = list(per_layer(rows[0][1]).keys())
    print(f"\n#### {model} on {accel}: sparsity of the pruned tensors per layer\n")
    print("| tau | " + " | ".join(f"layer {l}" for l in layers) + " | all |")
    print("|---|" + "---|" * (len(layers) + 1))
    for tau, r in rows:
        pl = per_layer(r)
        print(f"| {tau:g} | " + " | ".join(f"{pl[l]:.3f}" for l in layers) +
              f" | {r['functional']['pruned_sparsity']:.3f} |")
    print(f"\n#### {model} on {accel}: cycles, energy and output error vs tau\n")
    print("| tau | sparsity | effectual / dense MACs | cycles | energy (nJ) | "
          "final relative error | final cosine |")
    print("|---|---|---|---|---|---|---|")
    for tau, r in rows:
        rel, cos = final_error(r)
        c = r["compute"]
        print(f"| {tau:g} | {r['functional']['pruned_sparsity']:.3f} | "
              f"{c['effectual_macs'] / c['dense_macs']:.3f} | {r['cycles']:,} | "
              f"{r['energy_nj']['total']:,.0f} | {rel:.4f} | {cos:.5f} |")


def calibrate(model, accel, target):
    out = subprocess.run([BIN, "calibrate", "--model", model, "--accel", accel,
                          "--target-sparsity", f"{target:.6f}", "--tolerance", "0.0005"],
                         check=True, capture_output=True, text=True).stdout
    return float(re.search(r"tau = ([0-9.]+)", out).group(1))


def topk_vs_dynatran(model, accel, ks):
    print(f"\n#### {model} on {accel}: top-k vs DynaTran at equal sparsity\n")
    print("| method | sparsity | cycles | energy (nJ) | final relative error | final cosine |")
    print("|---|---|---|---|---|---|")
    for k in ks:
        t = simulate(["--model", model, "--accel", accel, "--prune", "topk", "--topk", str(k)])
        s = t["functional"]["pruned_sparsity"]
        tau = calibrate(model, accel, s)
        d = simulate(["--model", model, "--accel", accel, "--threshold", f"{tau:.6f}"])
        for name, r in ((f"top-k, k = {k}", t), (f"DynaTran, tau = {tau:.5f}", d)):
            rel, cos = final_error(r)
            print(f"| {name} | {r['functional']['pruned_sparsity']:.3f} | {r['cycles']:,} | "
                  f"{r['energy_nj']['total']:,.0f} | {rel:.4f} | {cos:.5f} |")


tau_sweep("bert-tiny", "edge")
topk_vs_dynatran("bert-tiny", "edge", [64, 32, 16])
if not QUICK:
    tau_sweep("bert-base", "server")
