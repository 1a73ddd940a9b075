#!/usr/bin/env python3
"""Builds the tiny-BERT fixture that pins AccelTran-SC's float reference to PyTorch.

Writes, into testbench/fixtures/bert-2l-64/ (or --out DIR):
  config.json                  Hugging Face BertConfig (2 layers, hidden 64, 2 heads, FFN 256,
                               vocabulary 512, 64 positions)
  model.safetensors            the weights, F32, Hugging Face names with the "bert." prefix, plus
                               a pooler and the int64 position_ids buffer (which readers ignore)
  tokens.txt                   2 sequences of 16 token ids
  expected_hidden.safetensors  float32 hidden states [2, 16, 64]: "hidden_states.0" after the
                               embeddings, "hidden_states.N" after layer N; the same with DynaTran
                               pruning ("dynatran.hidden_states.N", tau in the metadata) and with
                               top-k pruning ("topk.hidden_states.N", k in the metadata), and the
                               zeros counted at every prune point ("dynatran.zeros",
                               "topk.zeros": [layers, 9] in the order query, key, value, scores,
                               probs, context, attn_out, ffn_up, ffn_down, summed over sequences).

The encoder is written here in plain torch following Hugging Face's BertModel in eval mode (no
transformers package needed). Weights are random but not BERT's tiny initialisation: linear
weights have standard deviation 1/sqrt(fan_in), and biases and LayerNorm parameters are random,
so that attention is far from uniform and every parameter matters.

Needs PyTorch (Debian: apt-get install python3-torch). It runs under the interpreter in
$ACCELTRAN_PYTHON if set, else the current one if it has torch, else /usr/bin/python3.
The outputs are committed; tests and CI never run this script.
"""
import argparse
import json
import math
import os
import struct
import sys


def _reexec(python):
    os.environ["_ACCELTRAN_FIXTURE_REEXEC"] = "1"
    os.execv(python, [python] + sys.argv)


def _ensure_torch():
    again = os.environ.get("_ACCELTRAN_FIXTURE_REEXEC")
    want = os.environ.get("ACCELTRAN_PYTHON")
    me = os.path.realpath(sys.executable)
    if want and not again and os.path.realpath(want) != me:
        _reexec(want)
    try:
        import torch  # noqa: F401
        return
    except ImportError:
        pass
    debian = "/usr/bin/python3"
    if not want and not again and os.path.exists(debian) and os.path.realpath(debian) != me:
        _reexec(debian)
    sys.exit(f"error: {sys.executable} has no torch module; install Debian's python3-torch "
             "(apt-get install python3-torch) or set ACCELTRAN_PYTHON to an interpreter with "
             "PyTorch")


_ensure_torch()
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

CONFIG = {
    "architectures": ["BertModel"],
    "model_type": "bert",
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 256,
    "hidden_act": "gelu",
    "vocab_size": 512,
    "max_position_embeddings": 64,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "initializer_range": 0.02,
}
SEED = 20261129
BATCH, SEQ = 2, 16
TAU = 0.05  # DynaTran threshold of the pruned expectation
TOPK = 12   # top-k of the pruned expectation
POINTS = ["query", "key", "value", "scores", "probs", "context", "attn_out", "ffn_up",
          "ffn_down"]


def make_weights(gen):
    c = CONFIG
    h, f = c["hidden_size"], c["intermediate_size"]

    def normal(*shape, std):
        return torch.randn(*shape, generator=gen, dtype=torch.float32) * std

    def linear(name, out_dim, in_dim):
        w[name + ".weight"] = normal(out_dim, in_dim, std=1.0 / math.sqrt(in_dim))
        w[name + ".bias"] = normal(out_dim, std=0.1)

    def layer_norm(name):
        w[name + ".weight"] = 1.0 + normal(h, std=0.1)
        w[name + ".bias"] = normal(h, std=0.1)

    w = {}
    w["embeddings.word_embeddings.weight"] = normal(c["vocab_size"], h, std=1.0)
    w["embeddings.position_embeddings.weight"] = normal(c["max_position_embeddings"], h, std=0.5)
    w["embeddings.token_type_embeddings.weight"] = normal(c["type_vocab_size"], h, std=0.5)
    layer_norm("embeddings.LayerNorm")
    for n in range(c["num_hidden_layers"]):
        p = f"encoder.layer.{n}."
        for proj in ("query", "key", "value"):
            linear(p + "attention.self." + proj, h, h)
        linear(p + "attention.output.dense", h, h)
        layer_norm(p + "attention.output.LayerNorm")
        linear(p + "intermediate.dense", f, h)
        linear(p + "output.dense", h, f)
        layer_norm(p + "output.LayerNorm")
    linear("pooler.dense", h, h)  # part of BertModel, unused by the encoder
    return w


def prune(x, mode, tau, k, rows_dim=-1):
    """DynaTran (|x| <= tau -> 0) or top-k per row (the k largest |x| stay, ties leftmost)."""
    if mode == "dynatran":
        return torch.where(x.abs() <= tau, torch.zeros_like(x), x)
    if mode == "topk":
        if k >= x.shape[rows_dim]:
            return x
        # stable sort by descending magnitude: among equal magnitudes the leftmost come first
        order = torch.sort(-x.abs(), dim=rows_dim, stable=True).indices
        keep = torch.zeros_like(x, dtype=torch.bool)
        keep.scatter_(rows_dim, order.narrow(rows_dim, 0, k), True)
        return torch.where(keep, x, torch.zeros_like(x))
    return x


def encoder(w, ids, mode=None):
    """Hugging Face BertModel (eval) hidden states for one sequence; with `mode`, pruning at
    the points of float_reference.hpp and zero counts per layer and point."""
    c = CONFIG
    h, heads = c["hidden_size"], c["num_attention_heads"]
    d = h // heads
    eps = c["layer_norm_eps"]
    S = ids.shape[0]

    def lin(x, name):
        return F.linear(x, w[name + ".weight"], w[name + ".bias"])

    def ln(x, name):
        return F.layer_norm(x, (h,), w[name + ".weight"], w[name + ".bias"], eps)

    emb = w["embeddings.word_embeddings.weight"][ids] + \
        w["embeddings.token_type_embeddings.weight"][torch.zeros_like(ids)]
    emb = emb + w["embeddings.position_embeddings.weight"][torch.arange(S)]
    x = ln(emb, "embeddings.LayerNorm")
    hidden, zeros = [x], []
    for n in range(c["num_hidden_layers"]):
        p = f"encoder.layer.{n}."
        z = [0] * len(POINTS)

        def point(name, t):
            if mode is not None:
                t = prune(t, mode, TAU, TOPK)
            z[POINTS.index(name)] += int((t == 0).sum())
            return t

        def split(t):  # [S, h] -> [heads, S, d]
            return t.view(S, heads, d).permute(1, 0, 2)

        q = lin(x, p + "attention.self.query")
        k = lin(x, p + "attention.self.key")
        v = lin(x, p + "attention.self.value")
        if mode is None:  # exactly as Hugging Face: scale the scores
            scores = split(q) @ split(k).transpose(-1, -2) / math.sqrt(d)
        else:  # scale folded into the query, as the hardware does
            q = point("query", split(q / math.sqrt(d)))
            k = point("key", split(k))
            scores = point("scores", q @ k.transpose(-1, -2))
        probs = point("probs", torch.softmax(scores, dim=-1)) if mode else \
            torch.softmax(scores, dim=-1)
        v = point("value", split(v)) if mode else split(v)
        ctx = probs @ v
        if mode:
            ctx = point("context", ctx)
        ctx = ctx.permute(1, 0, 2).reshape(S, h)
        a = lin(ctx, p + "attention.output.dense")
        if mode:
            a = point("attn_out", a)
        a = ln(a + x, p + "attention.output.LayerNorm")
        u = lin(a, p + "intermediate.dense")
        if mode:
            u = point("ffn_up", u)
        u = F.gelu(u)
        o = lin(u, p + "output.dense")
        if mode:
            o = point("ffn_down", o)
        x = ln(o + a, p + "output.LayerNorm")
        hidden.append(x)
        zeros.append(z)
    return hidden, zeros


def write_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.contiguous()
        dtype = {torch.float32: "F32", torch.int64: "I64"}[t.dtype]
        raw = t.numpy().astype("<f4" if dtype == "F32" else "<i8").tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for b in blobs:
            out.write(b)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(here, "..", "testbench", "fixtures",
                                                  "bert-2l-64"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(SEED)
    w = make_weights(gen)
    ids = torch.randint(1, CONFIG["vocab_size"], (BATCH, SEQ), generator=gen)

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
        f.write("\n")
    ckpt = {"bert." + k: v for k, v in w.items()}
    ckpt["bert.embeddings.position_ids"] = torch.arange(CONFIG["max_position_embeddings"])[None]
    write_safetensors(os.path.join(args.out, "model.safetensors"), ckpt, {"format": "pt"})
    with open(os.path.join(args.out, "tokens.txt"), "w") as f:
        for row in ids.tolist():
            f.write(" ".join(str(t) for t in row) + "\n")

    expected = {}
    meta = {"seed": str(SEED), "torch": torch.__version__, "tau": repr(TAU), "topk": str(TOPK),
            "points": ",".join(POINTS)}
    with torch.no_grad():
        for prefix, mode in (("", None), ("dynatran.", "dynatran"), ("topk.", "topk")):
            runs = [encoder(w, ids[b], mode) for b in range(BATCH)]
            for n in range(CONFIG["num_hidden_layers"] + 1):
                expected[f"{prefix}hidden_states.{n}"] = torch.stack([r[0][n] for r in runs])
            if mode:
                expected[prefix + "zeros"] = torch.tensor(
                    [[sum(r[1][n][p] for r in runs) for p in range(len(POINTS))]
                     for n in range(CONFIG["num_hidden_layers"])], dtype=torch.float32)
    write_safetensors(os.path.join(args.out, "expected_hidden.safetensors"), expected, meta)
    print(f"wrote {os.path.normpath(args.out)}: config.json, model.safetensors, tokens.txt, "
          f"expected_hidden.safetensors (torch {torch.__version__})")


if __name__ == "__main__":
    main()
