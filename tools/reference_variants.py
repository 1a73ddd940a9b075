#!/usr/bin/env python3
"""Measure, one switch at a time, what each reference-profile choice does to a run
(docs/fidelity.md, column "effect"): simulate `--profile reference`, then the same run with each
`--reference-fixes` name (this project's op-graph convention instead of the published one), each
`--reference-bugs` name (a published bug turned back on) and each simulate option whose `auto`
value the reference profile sets, alone, then all fixes and all bugs together. Prints cycles,
energy and their change against the reference run, and the energy of the block that moved most.

usage: tools/reference_variants.py [--bin build/bin/acceltran] [--model bert-tiny] [--accel edge]
                                   [--keep DIR] [VARIANT ...]

A VARIANT is "fix:NAME", "bug:NAME" or "opt:NAME" (see VARIANTS); default: every one of them.
Standard library only.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

FIXES = ["emb-ln", "head-sum", "store-output", "serial-heads", "loads-per-op"]
BUGS = ["softmax-overassign", "double-load-energy", "mm-energy-per-element",
        "store-energy-per-element", "buffer-leakage-gated", "unclocked-submodules",
        "published-deps", "unstored-outputs", "batch-duplicates", "mask-own-bandwidth",
        "load-writes-free"]
OPTIONS = {
    "in-order-off": ["--in-order", "off"],
    "bytes": ["--bandwidth-convention", "bytes"],
    "detailed-memory": ["--memory-model", "detailed"],
    "lru": ["--eviction", "lru"],
    "leakage-when-idle": ["--leakage-when-idle"],
}
VARIANTS = (["fix:" + f for f in FIXES] + ["bug:" + b for b in BUGS] +
            ["opt:" + o for o in OPTIONS] + ["fix:all", "bug:all"])


def args_of(variant):
    kind, _, name = variant.partition(":")
    if kind == "fix":
        return ["--reference-fixes", name]
    if kind == "bug":
        return ["--reference-bugs", name]
    return OPTIONS[name]


def simulate(a, extra, work, tag):
    out = os.path.join(work, tag.replace(":", "_"))
    cmd = [a.bin, "simulate", "--profile", "reference", "--model", a.model, "--accel", a.accel,
           "--out", out] + extra
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("error: variant %s: %s" % (tag, r.stderr.strip()))
    return json.load(open(os.path.join(out, "report.json")))


def blocks(rep):
    return {k: v["total"] for k, v in rep["energy_nj"].items() if isinstance(v, dict)}


def common_arguments(doc):
    """The parser of the reference tools: --bin, --model, --accel."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "build", "bin",
                                                  "acceltran"))
    ap.add_argument("--model", default="bert-tiny")
    ap.add_argument("--accel", default="edge")
    return ap


def main():
    ap = common_arguments(__doc__)
    ap.add_argument("--keep", help="folder for the reports")
    ap.add_argument("variants", nargs="*")
    a = ap.parse_args()
    for v in a.variants:
        if v not in VARIANTS:
            sys.exit("error: variant '%s' unknown; allowed: %s" % (v, ", ".join(VARIANTS)))
    work = a.keep or tempfile.mkdtemp(prefix="acceltran-variants-")
    os.makedirs(work, exist_ok=True)
    base = simulate(a, [], work, "reference")
    c0, e0, b0 = base["cycles"], base["energy_nj"]["total"], blocks(base)
    print("%-30s %9s %8s %13s %8s  %s" % ("variant", "cycles", "change", "energy_nj", "change",
                                          "block that moved most (nJ)"))
    print("%-30s %9d %8s %13.1f %8s" % ("reference profile", c0, "", e0, ""))
    for v in a.variants or VARIANTS:
        rep = simulate(a, args_of(v), work, v)
        c, e, b = rep["cycles"], rep["energy_nj"]["total"], blocks(rep)
        top = max(b, key=lambda k: abs(b[k] - b0[k]))
        moved = "%s %.1f -> %.1f" % (top, b0[top], b[top]) if b[top] != b0[top] else "-"
        print("%-30s %9d %+7.1f%% %13.1f %+7.1f%%  %s" % (
            v, c, 100.0 * (c - c0) / c0, e, 100.0 * (e - e0) / e0, moved))


if __name__ == "__main__":
    main()
