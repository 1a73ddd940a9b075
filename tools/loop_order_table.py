#!/usr/bin/env python3
"""Full-system runs of one model on one accelerator under all 24 loop orders; prints the
markdown table of docs/compute.md (cycles, energy, operand reads, partial-sum bytes).

usage: tools/loop_order_table.py [--bin build/bin/acceltran] [--model bert-tiny] [--accel edge]
                                 [-- extra simulate options]
Standard library only.
"""
import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/bin/acceltran")
    ap.add_argument("--model", default="bert-tiny")
    ap.add_argument("--accel", default="edge")
    ap.add_argument("extra", nargs="*")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for dims in itertools.permutations("bijk"):
            order = "_".join(dims)
            out = os.path.join(tmp, order)
            r = subprocess.run([a.bin, "simulate", "--model", a.model, "--accel", a.accel, "--set",
                                "loop_order=" + order, "--out", out] + a.extra,
                               capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit("error: %s: %s" % (order, r.stderr.strip()))
            with open(os.path.join(out, "report.json")) as f:
                j = json.load(f)
            c = j["compute"]
            rows.append((order, j["cycles"], j["energy_nj"]["total"], c["operand_reads"],
                         c["psum_read_bytes"] + c["psum_write_bytes"], c["broadcast_reuse"],
                         j["bounds_cycles"]["activation_buffer_ports"]))
    best = min(rows, key=lambda r: (r[1], r[2]))
    print("| loop order | cycles | energy (nJ) | operand reads | partial-sum bytes | broadcast "
          "reuse | act. port cycles |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        mark = " **(best)**" if r is best else ""
        print("| `%s`%s | %s | %s | %s | %s | %s | %s |" % (
            r[0], mark, format(r[1], ","), format(round(r[2], 1), ",.1f"), format(int(r[3]), ","),
            format(int(r[4]), ","), format(int(r[5]), ","), format(int(r[6]), ",")))


if __name__ == "__main__":
    main()
