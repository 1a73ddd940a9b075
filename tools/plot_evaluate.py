#!/usr/bin/python3
"""Accuracy vs activation sparsity from `acceltran evaluate`'s results.csv: one line per pruning
method (DynaTran, top-k), the float reference's accuracy as a dashed line.

    /usr/bin/python3 tools/plot_evaluate.py OUT/results.csv OUT/accuracy_vs_sparsity.png
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: plot_evaluate.py RESULTS_CSV OUT_PNG")
    with open(sys.argv[1], newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"error: {sys.argv[1]}: no settings")
    fig, ax = plt.subplots(figsize=(6, 4))
    labels = {"dynatran": "DynaTran (tau)", "topk": "top-k (k)"}
    for method, marker in (("dynatran", "o"), ("topk", "s")):
        pts = sorted((float(r["sparsity"]), float(r["accuracy"]), r["tau"] or r["topk"])
                     for r in rows if r["prune"] == method)
        if not pts:
            continue
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=marker, label=labels[method])
        for x, y, v in pts:
            ax.annotate(v, (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7)
    ax.axhline(float(rows[0]["float_accuracy"]), color="grey", linestyle="--",
               label="float reference (no pruning)")
    ax.set_xlabel("activation sparsity of the pruned tensors")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{rows[0]['sequences']} sequences")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=120)


if __name__ == "__main__":
    main()
