#!/usr/bin/env python3
"""Measure this host's CPU running a BERT encoder with PyTorch; write a baseline file for
`acceltran compare --baseline FILE`.

The model is built from the project's model description (models/transformers/NAME.json: layers
"l", hidden sizes "h", attention heads "o", feed-forward sizes "f") with torch.nn modules: BERT
embeddings (30,522-word vocabulary, 512 positions, 2 token types) and LayerNorm, then post-norm
encoder layers with GELU. Weights are random (float32, dense): the time of a dense float run does
not depend on their values. Throughput = batch x repeats / wall time of the repeats after warm-up,
under torch.inference_mode(). Energy is not measured (no power meter here): the file has no
energy_per_seq_mj, and compare leaves the energy ratio empty.

Needs PyTorch: Debian's python3-torch runs with /usr/bin/python3 (the default python3 may be a
build without Debian's packages). Set ACCELTRAN_TORCH_PYTHON or run the script with the
interpreter you want; it stops with a clear message when torch cannot be imported.

usage: /usr/bin/python3 tools/host_cpu_baseline.py --model bert-tiny --seq-len 128 --batch 4 \
           --out host-cpu.yaml
"""

import argparse
import datetime
import json
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS_DIR = os.path.join(os.path.dirname(HERE), "models", "transformers")
VOCAB_SIZE = 30522
MAX_POSITIONS = 512


def import_torch():
    try:
        import torch  # noqa: F401
    except ImportError as e:
        sys.exit(
            f"error: PyTorch cannot be imported by {sys.executable} ({e}); install Debian's "
            "python3-torch (apt-get install python3-torch) and run this script with "
            "/usr/bin/python3, or with an interpreter that has torch"
        )
    return torch


def load_model_desc(name):
    path = name if name.endswith(".json") else os.path.join(MODELS_DIR, name + ".json")
    try:
        with open(path) as f:
            desc = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"error: --model {name}: cannot read {path} ({e})")
    for key in ("l", "o", "h", "f"):
        if key not in desc:
            sys.exit(f"error: {path}: key '{key}' missing (need l, o, h, f)")
    return desc


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def build_model(torch, desc):
    nn = torch.nn
    hidden = desc["h"][0]

    class Bert(nn.Module):
        def __init__(self):
            super().__init__()
            self.words = nn.Embedding(VOCAB_SIZE, hidden)
            self.positions = nn.Embedding(MAX_POSITIONS, hidden)
            self.token_types = nn.Embedding(2, hidden)
            self.norm = nn.LayerNorm(hidden, eps=1e-12)
            self.layers = nn.ModuleList(
                nn.TransformerEncoderLayer(
                    d_model=desc["h"][i],
                    nhead=len(desc["o"][i]),
                    dim_feedforward=desc["f"][i][0],
                    dropout=0.0,
                    activation="gelu",
                    layer_norm_eps=1e-12,
                    batch_first=True,
                )
                for i in range(desc["l"])
            )

        def forward(self, ids):
            positions = torch.arange(ids.shape[1]).unsqueeze(0)
            x = self.words(ids) + self.positions(positions) + self.token_types(torch.zeros_like(ids))
            x = self.norm(x)
            for layer in self.layers:
                x = layer(x)
            return x

    return Bert().eval()


def measure(torch, model, batch, seq_len, warmup, repeats):
    ids = torch.randint(0, VOCAB_SIZE, (batch, seq_len))
    with torch.inference_mode():
        for _ in range(warmup):
            model(ids)
        start = time.perf_counter()
        for _ in range(repeats):
            model(ids)
        seconds = time.perf_counter() - start
    return batch * repeats / seconds, seconds


def blas_summary(torch):
    """Which BLAS ran, from torch.__config__.show(): BLAS_INFO, LAPACK_INFO and oneDNN."""
    config = torch.__config__.show()
    parts = []
    for item in config.replace("\n", ",").split(","):
        item = item.strip(" -")
        if "BLAS_INFO=" in item:
            item = item[item.index("BLAS_INFO="):]
        if item.startswith(("BLAS_INFO=", "LAPACK_INFO=", "USE_MKLDNN=", "Intel(R) MKL-DNN",
                            "Intel(R) oneDNN", "Intel(R) Math Kernel")):
            parts.append(item)
    summary = "torch.__config__.show(): " + (", ".join(parts) or "no BLAS lines")
    return summary + "; BLAS libraries loaded: " + (", ".join(loaded_blas()) or "none found")


def loaded_blas():
    """The BLAS shared libraries mapped into this process (Linux /proc/self/maps), resolved."""
    found = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                name = os.path.basename(path).lower()
                if ("blas" in name or "mkl" in name) and path.startswith("/"):
                    real = os.path.realpath(path)
                    if real not in found:
                        found.append(real)
    except OSError:
        pass
    return found


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default="bert-tiny", help="models/transformers/NAME or a .json file")
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--out", required=True, help="baseline YAML file to write")
    a = p.parse_args()
    if not 1 <= a.seq_len <= MAX_POSITIONS:
        sys.exit(f"error: --seq-len {a.seq_len}: outside 1..{MAX_POSITIONS}")
    if a.batch < 1 or a.repeats < 1 or a.warmup < 0 or a.threads < 0:
        sys.exit("error: --batch and --repeats must be >= 1, --warmup and --threads >= 0")
    torch = import_torch()
    if a.threads:
        torch.set_num_threads(a.threads)
    desc = load_model_desc(a.model)
    model_name = os.path.splitext(os.path.basename(a.model))[0]
    torch.manual_seed(0)
    throughput, seconds = measure(torch, build_model(torch, desc), a.batch, a.seq_len,
                                  a.warmup, a.repeats)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    blas = blas_summary(torch)
    source = (f"measured by tools/host_cpu_baseline.py on {date}: {cpu_name()}, "
              f"{torch.get_num_threads()} torch threads, PyTorch {torch.__version__} "
              f"({sys.executable}), float32 dense, random weights, batch {a.batch}, "
              f"{a.repeats} repeats in {seconds:.3f} s; {blas}")
    with open(a.out, "w") as f:
        f.write("# A live baseline: this host's CPU running the same BERT shape with PyTorch.\n")
        f.write("# Energy is not measured (no power meter), so it has no energy_per_seq_mj.\n")
        f.write(f"model: {model_name}\nseq_len: {a.seq_len}\ndevices:\n")
        f.write(f"  - name: host-cpu-pytorch\n    throughput_seq_per_s: {throughput:.6g}\n")
        f.write(f"    batch: {a.batch}\n    source: {json.dumps(source)}\n")
    print(f"{model_name}, sequence {a.seq_len}, batch {a.batch}: {throughput:.6g} sequences/s "
          f"on {cpu_name()} ({torch.get_num_threads()} threads)")
    print(f"BLAS: {blas}")
    print(f"written {a.out}")


if __name__ == "__main__":
    main()
