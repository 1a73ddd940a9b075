#!/usr/bin/env python3
"""Regenerates testbench/golden/figures.json: exact figures (cycles, energy per block, bytes,
tiles) of a dozen runs across models, accelerators and profiles. The test `golden figures`
(testbench/sim/golden_test.cpp) runs the same commands and requires the same figures.

Run it only when a change is meant to move reported figures, and say in the commit which
figures moved and why. usage: python3 tools/update_golden.py [--bin build/bin/acceltran]
Standard library only.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

RUNS = [
    ("tiny-edge", ["--model", "bert-tiny", "--accel", "edge"]),
    ("tiny-edge-reference", ["--model", "bert-tiny", "--accel", "edge", "--profile", "reference"]),
    ("tiny-server", ["--model", "bert-tiny", "--accel", "server"]),
    ("tiny-server-reference",
     ["--model", "bert-tiny", "--accel", "server", "--profile", "reference"]),
    ("mini-edge", ["--model", "bert-mini", "--accel", "edge"]),
    ("small-server", ["--model", "bert-small", "--accel", "server"]),
    ("medium-server", ["--model", "bert-medium", "--accel", "server"]),
    ("base-server", ["--model", "bert-base", "--accel", "server"]),
    ("base-server-reference",
     ["--model", "bert-base", "--accel", "server", "--profile", "reference"]),
    ("tiny-edge-one-tile-per-instruction", ["--tiles-per-instruction", "1"]),
    ("tiny-edge-k-outer-4-banks",
     ["--set", "loop_order=k_i_j_b", "--set", "buffer_ports.activation_banks=4"]),
    ("tiny-edge-hbm-sparsity-0.3",
     ["--set", "main_memory={type: hbm, banks: 32, ranks: 1, channels: 4}", "--sparsity",
      "0.3"]),
    ("tiny-edge-batch32-seq512-small-buffers",
     ["--seq-len", "512", "--batch", "32", "--set", "batch_size=32", "--set",
      "activation_buffer_mb=4", "--set", "weight_buffer_mb=8", "--set", "mask_buffer_mb=0.5"]),
]


def figures(report):
    f = {"cycles": report["cycles"], "finished": report["finished"],
         "tiles_dispatched": report["tiles_dispatched"],
         "energy_nj": {k: (v if k == "total" else v["total"])
                       for k, v in report["energy_nj"].items()},
         "bytes_read": report["memory"]["bytes_read"],
         "bytes_written": report["memory"]["bytes_written"],
         "spills": report["memory"]["spills"],
         "effectual_macs": report["compute"]["effectual_macs"],
         "operand_reads": report["compute"]["operand_reads"]}
    return f


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/bin/acceltran")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "testbench",
                                                  "golden", "figures.json"))
    a = ap.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, args in RUNS:
            out = os.path.join(tmp, name)
            r = subprocess.run([a.bin, "simulate"] + args + ["--out", out], capture_output=True,
                               text=True)
            if r.returncode != 0:
                sys.exit("error: %s: %s" % (name, r.stderr.strip()))
            with open(os.path.join(out, "report.json")) as f:
                runs.append({"name": name, "args": args, "figures": figures(json.load(f))})
            print("%-40s %12d cycles" % (name, runs[-1]["figures"]["cycles"]))
    with open(a.out, "w") as f:
        json.dump({"runs": runs}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
