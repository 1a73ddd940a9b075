#!/usr/bin/env python3
"""Step-by-step account of a reference-profile run (docs/fidelity.md): compiles the stream
(`acceltran compile --profile reference -o`), then simulates every prefix of it (the first k
instructions, ops without a tile job in the prefix left out) and prints the cycle at which each
prefix ends and the cycles each instruction adds. The reference profile issues both streams in
order, so later instructions never change the timing of earlier ones: the last prefix is the
whole run. Ends with the cycles added per class of instruction.

usage: tools/reference_steps.py [--bin build/bin/acceltran] [--model bert-tiny] [--accel edge]
                                [-- SIMULATE OPTIONS ...]
Standard library only.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_variants import common_arguments  # noqa: E402

COMPUTE = ("MATMUL", "SOFTMAX", "LAYERNORM", "ACT", "EWISE")


def prefix(head, ops, instrs, k):
    """The first k instructions as a valid stream: ops renumbered, those without a tile job in
    the prefix dropped (a LOAD_W that named one as its consumer names none)."""
    sel = instrs[:k]
    keep = sorted({int(re.search(r"op=(\d+)", ln).group(1)) for ln in sel
                   if ln.split()[2] in COMPUTE})
    new = {o: n for n, o in enumerate(keep)}
    out = []
    for ln in head:
        if ln.startswith("counts "):
            ln = re.sub(r"instructions=\d+", "instructions=%d" % k, ln)
            ln = re.sub(r"ops=\d+", "ops=%d" % len(keep), ln)
        out.append(ln)
    out += [re.sub(r"^op \d+ ", "op %d " % new[o], ops[o]) for o in keep]
    for ln in sel:
        m = re.search(r"\bop=(\d+)", ln)
        if m:
            o = int(m.group(1))
            ln = ln[:m.start()] + ("op=%d" % new[o] if o in new else "op=-") + ln[m.end():]
        out.append(ln)
    out.append("end instructions=%d checksum=-" % k)
    return "\n".join(out) + "\n"


def step_class(opcode, name):
    if opcode == "LOAD_W":
        if name.startswith("emb"):
            return "embedding load"
        return "head weight loads" if ".H" in name else "FFN weight loads"
    if opcode == "MATMUL":
        return "head matmuls" if ".H" in name else "FFN matmuls"
    if opcode in ("STORE_A", "STORE_M"):
        return "stores"
    return {"SOFTMAX": "softmax", "LAYERNORM": "layer norm", "ACT": "activations",
            "EWISE": "element-wise adds"}[opcode]


def main():
    ap = common_arguments(__doc__)
    ap.add_argument("simulate_options", nargs="*")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="acceltran-steps-")
    stream = os.path.join(work, "reference.txt")
    common = ["--profile", "reference", "--model", a.model, "--accel", a.accel]
    # The compiler takes --reference-fixes and --reference-bugs (VALUE or =VALUE) of them.
    compile_opts, opts = [], a.simulate_options
    for n, o in enumerate(opts):
        if o.startswith(("--reference-fixes", "--reference-bugs")):
            compile_opts += [o] if "=" in o else opts[n:n + 2]
    r = subprocess.run([a.bin, "compile"] + common + compile_opts + ["-o", stream],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("error: compile: " + r.stderr.strip())
    lines = open(stream).read().splitlines()
    head = [ln for ln in lines if not ln.startswith(("i ", "end ", "op "))]
    ops = [ln for ln in lines if ln.startswith("op ")]
    instrs = [ln for ln in lines if ln.startswith("i ")]
    print("%4s %-9s %-24s %-14s %7s %6s" % ("i", "opcode", "name", "size", "end", "adds"))
    prev, per_class = 0, {}
    path = os.path.join(work, "prefix.txt")
    sim_opts = list(a.simulate_options)
    for k in range(1, len(instrs) + 1):
        with open(path, "w") as f:
            f.write(prefix(head, ops, instrs, k))
        out = os.path.join(work, "out")
        r = subprocess.run([a.bin, "simulate", "--accel", a.accel, "--profile", "reference",
                            "--program", path, "--out", out] + sim_opts,
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("error: prefix %d: %s" % (k, r.stderr.strip()))
        end = json.load(open(os.path.join(out, "report.json")))["cycles"]
        ln = instrs[k - 1]
        f = ln.split()
        name = ln.split("#", 1)[1].strip()
        size = re.search(r"(bytes=\d+|tiles=\S+)", ln).group(1)
        print("%4d %-9s %-24s %-14s %7d %6d" % (k - 1, f[2], name, size, end, end - prev))
        cls = step_class(f[2], name)
        per_class[cls] = per_class.get(cls, 0) + end - prev
        prev = end
    print("\ncycles added per class (total %d):" % prev)
    for cls, c in sorted(per_class.items(), key=lambda x: -x[1]):
        print("  %-18s %7d  %5.1f %%" % (cls, c, 100.0 * c / prev))


if __name__ == "__main__":
    main()
