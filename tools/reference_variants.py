#!/usr/bin/env python3
"""Rewrite a reference-profile instruction stream (acceltran compile --profile reference -o FILE)
towards the published AccelTran simulator's op graph and memory order, one convention at a time,
and simulate each variant, to measure the effect of that convention (docs/fidelity.md).

usage: tools/reference_variants.py [--bin build/bin/acceltran] [--model bert-tiny] [--accel edge]
                                   [--keep DIR] [VARIANT ...]

Variants (default: each alone, then all together):
  emb-rows        embedding table of VOCAB + SEQ rows (30,522 + 128), as dict2ops.py loads it
  no-emb-ln       no layer norm on the embeddings (the published graph has none)
  no-head-sum     no add of the head outputs (ln_<l>_1 reads the last head's output)
  no-ln-act-store no STORE_A of layer-norm, activation and add outputs (published: never stored)
  no-store-m      no final store of the model output to main memory
  qkv-loads-first a head's q, k, v weight loads before its first store (ops.py memory order)
  heads-parallel  the heads of a layer interleaved op by op (published: concurrent head lists)
  published-deps  layer norms wait for nothing, Q/K/V wait only for their weights
                  (ops.py: ln_<l>_<n> has no required data, the layer input is assumed resident)
Standard library only.
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile

VARIANTS = ["emb-rows", "no-emb-ln", "no-head-sum", "no-ln-act-store", "no-store-m",
            "qkv-loads-first", "heads-parallel", "published-deps"]


class Stream:
    def __init__(self, text):
        self.lines = text.splitlines()
        self.tensors = {}  # id -> dict
        self.ops = {}      # id -> dict
        self.instrs = []   # list of dict (id, opcode, op, tensor, rest, deps, comment)
        for ln in self.lines:
            if ln.startswith("tensor "):
                f = ln.split()
                self.tensors[int(f[1])] = {"name": f[2], "line": ln}
            elif ln.startswith("op "):
                f = ln.split()
                kv = dict(x.split("=", 1) for x in f[3:])
                self.ops[int(f[1])] = {"name": f[2], "kind": kv["kind"], "head": int(kv["head"]),
                                       "layer": int(kv["layer"]), "line": ln}
            elif ln.startswith("i "):
                body, _, comment = ln.partition("#")
                f = body.split()
                kv = dict(x.split("=", 1) for x in f[3:])
                deps = [] if kv["deps"] == "-" else [int(d) for d in kv["deps"].split(",")]
                self.instrs.append({"id": int(f[1]), "opcode": f[2], "kv": kv, "deps": deps,
                                    "comment": comment.strip(), "order": len(self.instrs)})
        self.head = [ln for ln in self.lines
                     if not ln.startswith(("i ", "tensor ", "op ", "end "))]

    def op_of(self, ins):
        return None if ins["kv"]["op"] == "-" else int(ins["kv"]["op"])

    def remove(self, victims, replacement):
        """Drop instructions (ids); a dependency on a dropped one moves to replacement[id]."""
        def resolve(d):
            while d in victims:
                d = replacement[d]
            return d
        for ins in self.instrs:
            ins["deps"] = sorted(set(resolve(d) for d in ins["deps"]))
        self.instrs = [i for i in self.instrs if i["id"] not in victims]

    def set_op_input(self, op_id, old_t, new_t):
        o = self.ops[op_id]
        m = re.search(r"in=([0-9,]+)", o["line"])
        ins = [new_t if int(t) == old_t else int(t) for t in m.group(1).split(",")]
        o["line"] = o["line"][:m.start(1)] + ",".join(map(str, ins)) + o["line"][m.end(1):]

    def text(self):
        new_id = {ins["id"]: n for n, ins in enumerate(self.instrs)}
        out = []
        for ln in self.head:
            if ln.startswith("counts "):
                ln = re.sub(r"instructions=\d+", "instructions=%d" % len(self.instrs), ln)
                ln = re.sub(r"ops=\d+", "ops=%d" % len(self.ops), ln)
            out.append(ln)
        out += [self.tensors[t]["line"] for t in sorted(self.tensors)]
        # Ops are numbered densely: renumber after any removal.
        op_id = {o: n for n, o in enumerate(sorted(self.ops))}
        for o in sorted(self.ops):
            out.append(re.sub(r"^op \d+ ", "op %d " % op_id[o], self.ops[o]["line"]))
        for n, ins in enumerate(self.instrs):
            deps = [new_id[d] for d in ins["deps"]]
            assert all(d < n for d in deps), (ins, deps)
            kv = dict(ins["kv"])
            if kv["op"] != "-":
                kv["op"] = str(op_id[int(kv["op"])])
            kv["deps"] = ",".join(map(str, deps)) if deps else "-"
            fields = " ".join("%s=%s" % (k, v) for k, v in kv.items())
            out.append("i %d %s %s  # %s" % (n, ins["opcode"], fields, ins["comment"]))
        # The trailer of a hand-edited stream: the count, no checksum (docs/isa.md).
        out.append("end instructions=%d checksum=-" % len(self.instrs))
        return "\n".join(out) + "\n"


def by_op(s, name, opcode):
    for ins in s.instrs:
        o = s.op_of(ins)
        if o is not None and s.ops[o]["name"] == name and ins["opcode"] == opcode:
            return ins
    return None


def producer(s, tensor):
    """Instruction that makes a tensor available (its STORE_A or LOAD_W)."""
    for ins in s.instrs:
        if ins["opcode"] in ("STORE_A", "LOAD_W") and int(ins["kv"]["tensor"]) == tensor:
            return ins
    return None


def drop_op(s, name, new_input_tensor):
    """Remove an op with one consumer-visible output; its readers read new_input_tensor."""
    comp = [i for i in s.instrs if s.op_of(i) is not None and s.ops[s.op_of(i)]["name"] == name
            and i["opcode"] not in ("LOAD_W", "LOAD_A")]
    out_t = int(comp[0]["kv"]["tensor"])
    repl = producer(s, new_input_tensor)["id"]
    for o in s.ops:
        if o != s.op_of(comp[0]) and re.search(r"in=([0-9,]*\b%d\b)" % out_t, s.ops[o]["line"]):
            s.set_op_input(o, out_t, new_input_tensor)
    s.remove({i["id"] for i in comp}, {i["id"]: repl for i in comp})
    # The op itself goes too (every op's tiles must be in the stream); load instructions that
    # named it keep serving the op that follows it.
    dropped = s.op_of(comp[0])
    for ins in s.instrs:
        if s.op_of(ins) == dropped:
            ins["kv"]["op"] = str(dropped + 1)
    del s.ops[dropped]


def apply(s, variant):
    if variant == "emb-rows":
        for t, d in s.tensors.items():
            if d["name"] == "emb.table":
                m = re.search(r"shape=(\d+)x(\d+)x(\d+)", d["line"])
                rows, cols = int(m.group(2)) + 128, int(m.group(3))  # + SEQ_LENGTH rows
                sp = float(re.search(r"sparsity=([0-9.]+)", d["line"]).group(1))
                data = math.ceil(rows * cols * 20 * (1 - sp) / 8)
                mask = math.ceil(rows * cols / 8)
                ln = re.sub(r"shape=\d+x\d+x\d+", "shape=1x%dx%d" % (rows, cols), d["line"])
                ln = re.sub(r"data_bytes=\d+", "data_bytes=%d" % data, ln)
                d["line"] = re.sub(r"mask_bytes=\d+", "mask_bytes=%d" % mask, ln)
                for ins in s.instrs:
                    if ins["opcode"] == "LOAD_W" and int(ins["kv"]["tensor"]) == t:
                        ins["kv"]["bytes"], ins["kv"]["mask_bytes"] = str(data), str(mask)
    elif variant == "no-emb-ln":
        emb = [t for t, d in s.tensors.items() if d["name"] == "emb.table"][0]
        drop_op(s, "emb.ln", emb)
    elif variant == "no-head-sum":
        for o in sorted(s.ops):
            name = s.ops[o]["name"]
            if re.fullmatch(r"L\d+\.attn\.add\d*", name) and by_op(s, name, "EWISE"):
                ins = re.search(r"in=([0-9,]+)", s.ops[o]["line"]).group(1).split(",")
                drop_op(s, name, int(ins[-1]))
    elif variant == "no-ln-act-store":
        victims, repl = set(), {}
        for ins in s.instrs:
            o = s.op_of(ins)
            if ins["opcode"] == "STORE_A" and s.ops[o]["kind"] in ("layer_norm", "activation",
                                                                    "add"):
                victims.add(ins["id"])
                repl[ins["id"]] = ins["deps"][0]
        s.remove(victims, repl)
    elif variant == "no-store-m":
        s.remove({i["id"] for i in s.instrs if i["opcode"] == "STORE_M"}, {})
    elif variant == "qkv-loads-first":
        order = list(s.instrs)
        for ins in list(order):
            o = s.op_of(ins)
            if ins["opcode"] != "LOAD_W" or o is None:
                continue
            m = re.fullmatch(r"(L\d+\.H\d+)\.(k|v)", s.ops[o]["name"])
            if not m:
                continue
            q = by_op(s, m.group(1) + ".q", "LOAD_W")
            order.remove(ins)
            pos = order.index(q) + (1 if m.group(2) == "k" else 2)
            order.insert(pos, ins)
        s.instrs = order
    elif variant == "published-deps":
        published_deps(s)
    elif variant == "heads-parallel":
        out, block = [], []
        def flush():
            heads = {}
            for ins in block:
                heads.setdefault(s.ops[s.op_of(ins)]["head"], []).append(ins)
            lists = [heads[h] for h in sorted(heads)]
            for n in range(max(len(x) for x in lists)):
                for x in lists:
                    if n < len(x):
                        out.append(x[n])
            block.clear()
        for ins in s.instrs:
            o = s.op_of(ins)
            if o is not None and s.ops[o]["head"] >= 0:
                block.append(ins)
            else:
                if block:
                    flush()
                out.append(ins)
        if block:
            flush()
        s.instrs = out


def published_deps(s):
    ids = {i["id"]: i for i in s.instrs}
    for ins in s.instrs:
        o = s.op_of(ins)
        if ins["opcode"] == "LAYERNORM":
            ins["deps"] = []
        elif ins["opcode"] == "MATMUL" and re.fullmatch(r"L\d+\.H\d+\.[qkv]", s.ops[o]["name"]):
            ins["deps"] = [d for d in ins["deps"] if ids[d]["opcode"] == "LOAD_W"]


def simulate(binary, stream_text, accel, workdir, tag):
    path = os.path.join(workdir, tag + ".txt")
    with open(path, "w") as f:
        f.write(stream_text)
    out = os.path.join(workdir, tag)
    r = subprocess.run([binary, "simulate", "--profile", "reference", "--accel", accel,
                        "--program", path, "--out", out], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("error: variant %s: %s" % (tag, r.stderr.strip()))
    rep = json.load(open(os.path.join(out, "report.json")))
    return rep["cycles"], rep["energy_nj"]["total"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "build", "bin",
                                                  "acceltran"))
    ap.add_argument("--model", default="bert-tiny")
    ap.add_argument("--accel", default="edge")
    ap.add_argument("--keep", help="folder for the rewritten streams and reports")
    ap.add_argument("variants", nargs="*")
    a = ap.parse_args()
    for v in a.variants:
        if v not in VARIANTS:
            sys.exit("error: variant '%s' unknown; allowed: %s" % (v, ", ".join(VARIANTS)))
    work = a.keep or tempfile.mkdtemp(prefix="acceltran-variants-")
    os.makedirs(work, exist_ok=True)
    base_path = os.path.join(work, "reference.txt")
    r = subprocess.run([a.bin, "compile", "--profile", "reference", "--model", a.model, "--accel",
                        a.accel, "-o", base_path], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("error: compile: " + r.stderr.strip())
    base_text = open(base_path).read()
    c0, e0 = simulate(a.bin, base_text, a.accel, work, "base")
    print("%-44s %10s %9s %14s %9s" % ("variant", "cycles", "change", "energy_nj", "change"))
    print("%-44s %10d %9s %14.1f %9s" % ("reference profile", c0, "", e0, ""))
    runs = [[v] for v in (a.variants or VARIANTS)]
    if not a.variants:
        runs.append(list(VARIANTS))
    for vs in runs:
        s = Stream(base_text)
        for v in vs:
            apply(s, v)
        tag = "_".join(vs) if len(vs) < 3 else "all%d" % len(vs)
        c, e = simulate(a.bin, s.text(), a.accel, work, tag)
        label = " + ".join(vs)
        if len(vs) == len(VARIANTS):
            label = "all of the above"
        print("%-44s %10d %+8.1f%% %14.1f %+8.1f%%" % (label, c, 100.0 * (c - c0) / c0, e,
                                                       100.0 * (e - e0) / e0))


if __name__ == "__main__":
    main()
