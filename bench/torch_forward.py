#!/usr/bin/python3
"""A float32 PyTorch forward of a BERT encoder with the shapes of an AccelTran-SC functional run
(bench/run.sh compares its CPU time with `acceltran simulate --functional`). Random weights, the
same layers: embeddings + layer norm, then per layer Q/K/V, scaled dot-product attention with
softmax, output projection, residual + layer norm, GELU feed-forward, residual + layer norm.

Usage: /usr/bin/python3 bench/torch_forward.py [--model models/transformers/bert-base.json]
           [--batch 4] [--seq-len 128] [--repeat 3]
Prints the forward's CPU seconds (user + system of every thread, the best of --repeat) and the
BLAS library the process has loaded, then torch.__config__.show()."""
import argparse
import json
import resource
import sys

import torch


def layer_shapes(path):
    """(hidden, heads, head_dim, feed_forward) per layer of a FlexiBERT model JSON."""
    with open(path) as f:
        model = json.load(f)
    shapes = []
    for n in range(model["l"]):
        heads = model["o"][n]
        head_dim = int(heads[0].rsplit("_", 1)[1])
        shapes.append((model["h"][n], len(heads), head_dim, model["f"][n][0]))
    return shapes


def encoder_layer(x, w, heads, head_dim):
    b, s, hidden = x.shape
    def split(t):
        return t.view(b, s, heads, head_dim).transpose(1, 2)
    q, k, v = (split(torch.nn.functional.linear(x, w[n], w[n + "_bias"])) for n in "qkv")
    scores = torch.matmul(q, k.transpose(-1, -2)) / head_dim ** 0.5
    context = torch.matmul(torch.softmax(scores, dim=-1), v)
    context = context.transpose(1, 2).reshape(b, s, heads * head_dim)
    attn = torch.nn.functional.linear(context, w["o"], w["o_bias"])
    x = torch.nn.functional.layer_norm(x + attn, (hidden,))
    up = torch.nn.functional.gelu(torch.nn.functional.linear(x, w["up"], w["up_bias"]))
    down = torch.nn.functional.linear(up, w["down"], w["down_bias"])
    return torch.nn.functional.layer_norm(x + down, (hidden,))


def random_weights(shapes, generator):
    layers = []
    for hidden, heads, head_dim, ff in shapes:
        inner = heads * head_dim
        sizes = {"q": (inner, hidden), "k": (inner, hidden), "v": (inner, hidden),
                 "o": (hidden, inner), "up": (ff, hidden), "down": (hidden, ff)}
        w = {}
        for name, size in sizes.items():
            w[name] = torch.randn(size, generator=generator) * 0.02
            w[name + "_bias"] = torch.zeros(size[0])
        layers.append(w)
    return layers


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def loaded_blas():
    """The BLAS shared libraries mapped into this process (after a matrix product)."""
    names = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if "blas" in path.lower() or "mkl" in path.lower():
                names.add(path)
    return sorted(names)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="models/transformers/bert-base.json")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    shapes = layer_shapes(args.model)
    generator = torch.Generator().manual_seed(20)
    layers = random_weights(shapes, generator)
    hidden = shapes[0][0]
    embeddings = torch.randn(args.batch, args.seq_len, hidden, generator=generator)
    best = None
    with torch.no_grad():
        for _ in range(args.repeat):
            start = cpu_seconds()
            x = torch.nn.functional.layer_norm(embeddings, (hidden,))
            for w, (_, heads, head_dim, _) in zip(layers, shapes):
                x = encoder_layer(x, w, heads, head_dim)
            spent = cpu_seconds() - start
            best = spent if best is None else min(best, spent)
    print(f"torch forward: {best:.3f} CPU s ({len(shapes)} layers, batch {args.batch}, "
          f"sequence {args.seq_len}, {torch.get_num_threads()} threads, torch {torch.__version__})")
    print("torch BLAS loaded: " + (", ".join(loaded_blas()) or "none found in /proc/self/maps"))
    print(torch.__config__.show().strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
