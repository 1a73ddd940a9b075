#!/usr/bin/env python3
"""Checks testbench/fixtures/published-sparsity.json (written by the PyTorch re-implementation,
tools/make_published_sparsity_fixture_torch.py) against an independent numpy re-implementation
of the published DynaTran sparsity count on the same padded batch: prints every class whose
[zeros, elements] differ and exits 1 if any does.

The published experiment (jha-lab/acceltran, submodule txf_design-space,
transformers/src/transformers/models/bert/modeling_dtbert.py) prunes with one tau, keeping
|x| > tau, at: the raw Q, K and V (before the 1/sqrt(d) scale), the raw scores Q K^T (before the
scale, the padding mask and softmax), the probabilities (after top-k, which keeps the values
greater than the k-th largest of a row), the context, the attention-output dense, the FFN
intermediate dense (before GELU), the FFN output dense and the pooler dense. Every call appends
[zeros, numel] of the whole tensor to a list: the sparsity counts padding (masked probabilities
are exactly 0 after Hugging Face's additive -10000 mask). This script counts the same per class
(the encoder's nine classes; the pooler separately).

Model: testbench/fixtures/bert-2l-64 (model.safetensors, config.json). Batch: its two token
sequences, the second cut to 9 real tokens and padded with [PAD] (id 0, mask 0) to 16.

Needs numpy (Debian: python3-numpy, /usr/bin/python3); tests and CI never run this script.
Usage: /usr/bin/python3 tools/make_published_sparsity_fixture.py
"""
import json
import math
import os
import struct
import sys

try:
    import numpy as np
except ImportError:
    sys.exit("error: no numpy; run with /usr/bin/python3 (Debian's python3-numpy)")

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
        out[name.removeprefix("bert.")] = np.frombuffer(data[a:b], dtype="<f4").reshape(t["shape"])
    return out


def layer_norm(x, g, b, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return ((x - mean) / np.sqrt(var + eps) * g + b).astype(np.float32)


def gelu(x):
    erf = np.vectorize(math.erf)
    return (0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))).astype(np.float32)


class Counter:
    def __init__(self, tau):
        self.tau = np.float32(tau)
        self.counts = {c: [0, 0] for c in CLASSES + ["pooler"]}

    def prune(self, name, x):
        if self.tau > 0:  # dynatran_prune: keep x < -tau or x > tau
            x = np.where((x < -self.tau) | (x > self.tau), x, np.float32(0)).astype(np.float32)
        self.counts[name][0] += int(x.size - np.count_nonzero(x))
        self.counts[name][1] += int(x.size)
        return x


def top_k(p, k):
    if k == 0 or k >= p.shape[3]:
        return p
    kth = -np.sort(-p, axis=-1)[..., k - 1:k]  # the k-th largest value of every row
    return np.where(p > kth, p, np.float32(0)).astype(np.float32)


def forward(w, cfg, ids, mask, tau, k):
    c = Counter(tau)
    B, S = ids.shape
    h, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    d = h // heads
    eps = cfg.get("layer_norm_eps", 1e-12)
    lin = lambda x, n: (x @ w[n + ".weight"].T + w[n + ".bias"]).astype(np.float32)  # noqa: E731
    x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.token_type_embeddings.weight"][0]
         + w["embeddings.position_embeddings.weight"][:S])
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    additive = ((1.0 - mask[:, None, None, :]) * -10000.0).astype(np.float32)
    split = lambda t: t.reshape(B, S, heads, d).transpose(0, 2, 1, 3)  # noqa: E731
    for layer in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{layer}."
        q = split(lin(x, p + "attention.self.query"))
        kk = split(lin(x, p + "attention.self.key"))
        v = split(lin(x, p + "attention.self.value"))
        kk, v, q = c.prune("k", kk), c.prune("v", v), c.prune("q", q)
        scores = c.prune("scores", (q @ kk.transpose(0, 1, 3, 2)).astype(np.float32))
        scores = (scores / np.float32(math.sqrt(d)) + additive).astype(np.float32)
        e = np.exp(scores - scores.max(-1, keepdims=True))
        probs = (e / e.sum(-1, keepdims=True)).astype(np.float32)
        probs = c.prune("probabilities", top_k(probs, k))
        ctx = c.prune("context", (probs @ v).astype(np.float32))
        ctx = ctx.transpose(0, 2, 1, 3).reshape(B, S, h)
        attn = c.prune("attention_output", lin(ctx, p + "attention.output.dense"))
        attn = layer_norm(attn + x, w[p + "attention.output.LayerNorm.weight"],
                          w[p + "attention.output.LayerNorm.bias"], eps)
        inter = gelu(c.prune("ffn_intermediate", lin(attn, p + "intermediate.dense")))
        out = c.prune("ffn_output", lin(inter, p + "output.dense"))
        x = layer_norm(out + attn, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"],
                       eps)
    if "pooler.dense.weight" in w:
        c.prune("pooler", lin(x[:, 0], "pooler.dense"))
    return c.counts


def main():
    cfg = json.load(open(os.path.join(FIXTURE, "config.json")))
    w = read_safetensors(os.path.join(FIXTURE, "model.safetensors"))
    lines = [list(map(int, l.split())) for l in open(os.path.join(FIXTURE, "tokens.txt")) if l.split()]
    S = len(lines[0])
    second = lines[1][:REAL_OF_SECOND] + [0] * (S - REAL_OF_SECOND)
    ids = np.array([lines[0], second], dtype=np.int64)
    mask = np.array([[1] * S, [1] * REAL_OF_SECOND + [0] * (S - REAL_OF_SECOND)], dtype=np.float32)
    results = []
    for s in SETTINGS:
        counts = forward(w, cfg, ids, mask, s["tau"], s["topk"])
        zeros = sum(counts[c][0] for c in CLASSES)
        elements = sum(counts[c][1] for c in CLASSES)
        results.append({"tau": s["tau"], "topk": s["topk"], "classes": counts,
                        "sparsity_nine_classes": zeros / elements})
    fixture = json.load(open(OUT))
    differ = 0
    for mine, theirs in zip(results, fixture["settings"]):
        for name, count in mine["classes"].items():
            if theirs["classes"].get(name) != count:
                differ += 1
                print(f"  tau {mine['tau']} topk {mine['topk']} {name}: numpy {count}, "
                      f"{fixture['generator']} {theirs['classes'].get(name)}")
    for r in results:
        print(f"  tau {r['tau']} topk {r['topk']}: nine classes {r['sparsity_nine_classes']:.4f}, "
              f"pooler {r['classes']['pooler']}")
    print(f"{os.path.relpath(OUT, ROOT)}: {'every count equal' if not differ else f'{differ} differ'}")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
