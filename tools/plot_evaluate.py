#!/usr/bin/python3
"""Accuracy vs activation sparsity from `acceltran evaluate`'s results.csv: one line per pruning
method (DynaTran, top-k) and built-in policy, one point per policy file, the float reference's
accuracy as a dashed line.

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
    policies = sorted({r.get("policy", "uniform") for r in rows if r["prune"] != "policy"})
    for policy in policies:
        for method, marker in (("dynatran", "o"), ("topk", "s")):
            pts = sorted((float(r["sparsity"]), float(r["accuracy"]), r["tau"] or r["topk"])
                         for r in rows
                         if r["prune"] == method and r.get("policy", "uniform") == policy)
            if not pts:
                continue
            label = labels[method] + ("" if len(policies) == 1 else f", {policy}")
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=marker, label=label)
            for x, y, v in pts:
                ax.annotate(v, (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7)
    files = [r for r in rows if r["prune"] == "policy"]
    if files:
        ax.scatter([float(r["sparsity"]) for r in files], [float(r["accuracy"]) for r in files],
                   marker="D", color="black", zorder=3, label="policy files")
        for r in files:
            ax.annotate(r["setting"], (float(r["sparsity"]), float(r["accuracy"])),
                        textcoords="offset points", xytext=(3, -9), fontsize=7)
    ax.axhline(float(rows[0]["float_accuracy"]), color="grey", linestyle="--",
               label="float reference (no pruning)")
    ax.set_xlabel("activation sparsity of the pruned tensors")
    # The accuracy is per item: sequences, or labelled tokens for the token heads.
    head = rows[0].get("head") or "sequence-classification"
    items = rows[0].get("items") or rows[0]["sequences"]
    ax.set_ylabel("accuracy" if head != "masked-lm" else "masked-token accuracy")
    if head == "sequence-classification":
        ax.set_title(f"{rows[0]['sequences']} sequences")
    else:
        ax.set_title(f"{head}: {items} labelled tokens ({rows[0]['sequences']} sequences)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=120)


if __name__ == "__main__":
    main()
