#!/usr/bin/env python3
"""Writes testbench/fixtures/published-sparsity.json: the published DynaTran sparsity count on a
padded batch, from a PyTorch re-implementation of the published code.

The published experiment (jha-lab/acceltran, submodule txf_design-space,
transformers/src/transformers/models/bert/modeling_dtbert.py) prunes with one tau, keeping
|x| > tau, at: the raw Q, K and V (before the 1/sqrt(d) scale), the raw scores Q K^T (before the
scale, the padding mask and softmax), the probabilities (after top-k, which keeps the values
greater than the k-th largest of a row), the context, the attention-output dense, the FFN
intermediate dense (before GELU), the FFN output dense and the pooler dense (before tanh). Every
call appends [zeros, numel] of the whole tensor to a list: the sparsity counts padding (masked
probabilities are exactly 0 after Hugging Face's additive -10000 mask). This script computes the
same with torch ops (torch.where, torch.topk, torch.softmax, torch.nn.functional.gelu and
layer_norm, in float32) and counts per class: the encoder's nine classes and the pooler, the
published code's tenth tensor.

tools/make_published_sparsity_fixture.py is an independent numpy version of the same count (a
cross-check; it does not write the fixture).

Model: testbench/fixtures/bert-2l-64 (model.safetensors, config.json). Batch: its two token
sequences, the second cut to 9 real tokens and padded with [PAD] (id 0, mask 0) to 16.

Needs PyTorch (Debian: python3-torch, /usr/bin/python3). The output is committed; tests and CI
never run this script. Usage: /usr/bin/python3 tools/make_published_sparsity_fixture_torch.py
"""
import json
import math
import os
import struct
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit("error: no torch; run with /usr/bin/python3 (Debian's python3-torch)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, "testbench", "fixtures", "bert-2l-64")
OUT = os.path.join(ROOT, "testbench", "fixtures", "published-sparsity.json")
CLASSES = ["q", "k", "v", "scores", "probabilities", "context", "attention_output",
           "ffn_intermediate", "ffn_output"]
REAL_OF_SECOND = 9
SETTINGS = [{"tau": 0.05, "topk": 0}, {"tau": 0.2, "topk": 0}, {"tau": 0.0, "topk": 4}]


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] != "F32":
            continue
        a, b = t["data_offsets"]
        values = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32)
        out[name.removeprefix("bert.")] = values.reshape(t["shape"]).clone()
    return out


class Counter:
    """modeling_dtbert.py's dynatran_prune and its sparsity list, per tensor class."""

    def __init__(self, tau):
        self.tau = tau
        self.counts = {c: [0, 0] for c in CLASSES + ["pooler"]}

    def prune(self, name, x):
        if self.tau > 0:  # keep x < -tau or x > tau
            x = torch.where((x < -self.tau) | (x > self.tau), x, torch.zeros_like(x))
        self.counts[name][0] += int(x.numel() - torch.count_nonzero(x))
        self.counts[name][1] += int(x.numel())
        return x


def top_k(p, k):
    """The published top_k: the values above the k-th largest of every row stay."""
    if k == 0 or k >= p.shape[-1]:
        return p
    kth = torch.topk(p, k, dim=-1).values[..., k - 1:k]
    return torch.where(p > kth, p, torch.zeros_like(p))


def forward(w, cfg, ids, mask, tau, k):
    c = Counter(tau)
    B, S = ids.shape
    h, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    d = h // heads
    eps = cfg.get("layer_norm_eps", 1e-12)

    def lin(x, n):
        return F.linear(x, w[n + ".weight"], w[n + ".bias"])

    def norm(x, n):
        return F.layer_norm(x, (h,), w[n + ".weight"], w[n + ".bias"], eps)

    def split(t):
        return t.view(B, S, heads, d).permute(0, 2, 1, 3)

    x = (w["embeddings.word_embeddings.weight"][ids]
         + w["embeddings.token_type_embeddings.weight"][torch.zeros_like(ids)]
         + w["embeddings.position_embeddings.weight"][torch.arange(S)][None])
    x = norm(x, "embeddings.LayerNorm")
    additive = (1.0 - mask[:, None, None, :]) * -10000.0
    for layer in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{layer}."
        q = split(lin(x, p + "attention.self.query"))
        kk = split(lin(x, p + "attention.self.key"))
        v = split(lin(x, p + "attention.self.value"))
        kk, v, q = c.prune("k", kk), c.prune("v", v), c.prune("q", q)
        scores = c.prune("scores", torch.matmul(q, kk.transpose(-1, -2)))
        scores = scores / math.sqrt(d) + additive
        probs = c.prune("probabilities", top_k(torch.softmax(scores, dim=-1), k))
        ctx = c.prune("context", torch.matmul(probs, v))
        ctx = ctx.permute(0, 2, 1, 3).reshape(B, S, h)
        attn = c.prune("attention_output", lin(ctx, p + "attention.output.dense"))
        attn = norm(attn + x, p + "attention.output.LayerNorm")
        inter = F.gelu(c.prune("ffn_intermediate", lin(attn, p + "intermediate.dense")))
        out = c.prune("ffn_output", lin(inter, p + "output.dense"))
        x = norm(out + attn, p + "output.LayerNorm")
    torch.tanh(c.prune("pooler", lin(x[:, 0], "pooler.dense")))
    return c.counts


def ratio(counts, classes):
    return sum(counts[n][0] for n in classes) / sum(counts[n][1] for n in classes)


def main():
    torch.set_num_threads(1)
    cfg = json.load(open(os.path.join(FIXTURE, "config.json")))
    w = read_safetensors(os.path.join(FIXTURE, "model.safetensors"))
    if "pooler.dense.weight" not in w:
        sys.exit("error: the fixture checkpoint has no pooler (bert.pooler.dense.weight)")
    lines = [list(map(int, l.split())) for l in open(os.path.join(FIXTURE, "tokens.txt"))
             if l.split()]
    S = len(lines[0])
    second = lines[1][:REAL_OF_SECOND] + [0] * (S - REAL_OF_SECOND)
    ids = torch.tensor([lines[0], second], dtype=torch.int64)
    mask = torch.tensor([[1] * S, [1] * REAL_OF_SECOND + [0] * (S - REAL_OF_SECOND)],
                        dtype=torch.float32)
    results = []
    with torch.no_grad():
        for s in SETTINGS:
            counts = forward(w, cfg, ids, mask, s["tau"], s["topk"])
            results.append({"tau": s["tau"], "topk": s["topk"], "classes": counts,
                            "sparsity_nine_classes": ratio(counts, CLASSES),
                            "sparsity": ratio(counts, CLASSES + ["pooler"])})
    out = {"generator": "tools/make_published_sparsity_fixture_torch.py",
           "torch_version": torch.__version__,
           "model": "testbench/fixtures/bert-2l-64",
           "tokens": ids.tolist(), "attention_mask": mask.to(torch.int64).tolist(),
           "note": "counts are [zeros, elements] per class, padding included (the published "
                   "count); sparsity: the ten tensors (pooler included), as the published code",
           "settings": results}
    with open(OUT, "w") as f:
        json.dump(out, f)
        f.write("\n")
    print(f"wrote {os.path.relpath(OUT, ROOT)}")
    for r in results:
        print(f"  tau {r['tau']} topk {r['topk']}: sparsity {r['sparsity']:.4f} "
              f"(nine classes {r['sparsity_nine_classes']:.4f}, pooler {r['classes']['pooler']})")


if __name__ == "__main__":
    main()
