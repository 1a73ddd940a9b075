#!/usr/bin/env python3
"""The measured numbers of docs/figures.md and of README.md's sweep section.

  figure_numbers.py OUT_FIGURES_DIR DOC.md [DOC.md ...]

Reads the runs that tools/figures.sh leaves in OUT_FIGURES_DIR (out-figures) and rewrites, in
each DOC, every block between `<!-- numbers:NAME -->` and `<!-- /numbers -->` with the table
NAME. The paper's values are the ones read from the published repository's
simulator/figures/*.pdf (docs/figures.md says how); ours come from the files named in each
table's "source" line. Standard library only.
"""
import csv
import json
import os
import re
import sys

# ------------------------------------------------------------------ the paper's numbers
# simulator/figures/exploration.pdf: filled contour bands (thousands of cycles) at grid points.
PAPER_PLANE = {  # (PEs, net MB) -> band
    (32, 10): "200-225", (32, 13): "125-150", (32, 16): "75-100",
    (64, 10): "100-125", (64, 13): "~75 (on the 75K line)", (64, 16): "25-50",
    (128, 10): "25-50", (128, 13): "25-50", (128, 16): "0-25",
    (256, 10): "25-50", (256, 13): "0-25", (256, 16): "0-25",
}
# simulator/figures/dataflow.pdf: bar heights (dynamic energy, nJ) and reuse instances of its
# three panels (bars and dashed reuse line, read from the PDF's vector paths, within ~1 %), in
# itertools.permutations order.
ORDERS = ["b_i_j_k", "b_i_k_j", "b_j_i_k", "b_j_k_i", "b_k_i_j", "b_k_j_i",
          "i_b_j_k", "i_b_k_j", "i_j_b_k", "i_j_k_b", "i_k_b_j", "i_k_j_b",
          "j_b_i_k", "j_b_k_i", "j_i_b_k", "j_i_k_b", "j_k_b_i", "j_k_i_b",
          "k_b_i_j", "k_b_j_i", "k_i_b_j", "k_i_j_b", "k_j_b_i", "k_j_i_b"]
PAPER_DF_ENERGY = [
    [294, 568, 416, 568, 446, 324, 324, 568, 568, 568, 568, 324,
     446, 568, 568, 568, 568, 446, 446, 324, 568, 294, 568, 416],
    [537, 811, 821, 1136, 689, 568, 568, 811, 1136, 1136, 811, 568,
     892, 1136, 1136, 1136, 1136, 892, 689, 568, 811, 537, 1136, 821],
    [578, 1136, 821, 973, 852, 852, 649, 1136, 1136, 1136, 1136, 649,
     852, 973, 1136, 1136, 973, 852, 852, 852, 1136, 578, 973, 821]]
PAPER_DF_REUSE = [
    [433, 0, 241, 0, 192, 385, 385, 0, 0, 0, 0, 385, 192, 0, 0, 0, 0, 192, 192, 385, 0, 433, 0, 241],
    [946, 513, 497, 0, 705, 898, 898, 513, 0, 0, 513, 898,
     385, 0, 0, 0, 0, 385, 705, 898, 513, 946, 0, 497],
    [882, 0, 497, 256, 449, 449, 770, 0, 0, 0, 0, 770,
     449, 256, 0, 0, 256, 449, 449, 449, 0, 882, 256, 497]]
# simulator/figures/pie_charts.pdf (%).
PAPER_AREA = {"softmax": 60.2, "sparsity": 20.3, "layer norm": 13.9, "MAC lanes": 4.2,
              "others": 1.4}
PAPER_POWER = {"softmax": 52.7, "sparsity": 4.4, "layer norm": 0.6, "MAC lanes": 41.6,
               "others": 0.7}
# simulator/figures/mem_req.pdf (%): embeddings, weights, activations.
PAPER_MEMORY = {"bert-tiny": (20.2, 8.0, 71.9), "bert-base": (2.2, 32.0, 65.8)}
# simulator/figures/sparsity.pdf: bar labels, normalized to 30 %.
PAPER_SPARSITY = {"0.30": (1.00, 1.00), "0.31": (1.01, 0.99), "0.32": (1.03, 0.99),
                  "0.33": (1.04, 0.99), "0.34": (1.05, 0.98)}


# ------------------------------------------------------------------ reading
def rows_of(out, name):
    with open(os.path.join(out, name, "results.csv"), newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["status"] == "ok"]
    if not rows:
        raise SystemExit(f"error: {out}/{name}/results.csv has no finished point")
    return rows


def report_of(out, name):
    with open(os.path.join(out, name, "report.json")) as f:
        return json.load(f)


def net_mb(row):
    total = sum(float(row[k]) for k in ("activation_buffer_mb", "weight_buffer_mb",
                                        "mask_buffer_mb"))
    return round(total, 1)


def cycles_at(rows, **where):
    found = [r for r in rows if all(float(r[k]) == v if isinstance(v, (int, float))
                                    else r[k] == v for k, v in where.items())]
    return int(float(found[0]["cycles"])) if found else None


def thousands(n):
    return "-" if n is None else f"{n:,}"


def pct(x):
    return f"{x:.1f} %"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def matrix(rows, row_key, col_key, row_label, col_label):
    """Cycles as a table: one line per row_key value, one column per col_key value."""
    cols = sorted({col_key(r) for r in rows})
    lines = sorted({row_key(r) for r in rows})
    cells = {(row_key(r), col_key(r)): int(float(r["cycles"])) for r in rows}
    header = [f"{row_label} \\ {col_label}"] + [f"{c:g}" for c in cols]
    return table(header, [[f"{l:g}"] + [thousands(cells.get((l, c))) for c in cols]
                          for l in lines])


# ------------------------------------------------------------------ figure 1
def fig1_plane(out):
    rows = rows_of(out, "fig1a")
    body = []
    for (pe, mb), band in PAPER_PLANE.items():
        cyc = {p: cycles_at([r for r in rows if net_mb(r) == mb], pe=pe, profile=p)
               for p in ("hardware", "reference")}
        body.append([pe, mb, band, thousands(cyc["hardware"]), thousands(cyc["reference"])])

    def ratio(profile, a, b):
        sel = [r for r in rows if r["profile"] == profile]
        ca = cycles_at([r for r in sel if net_mb(r) == a[1]], pe=a[0])
        cb = cycles_at([r for r in sel if net_mb(r) == b[1]], pe=b[0])
        return f"{ca / cb:.2f}"
    body.append(["64", "10 -> 16", "2.0-5.0 x fewer", ratio("hardware", (64, 10), (64, 16)) + " x",
                 ratio("reference", (64, 10), (64, 16)) + " x"])
    body.append(["32 -> 256", "13", "> 5 x fewer", ratio("hardware", (32, 13), (256, 13)) + " x",
                 ratio("reference", (32, 13), (256, 13)) + " x"])
    return ("Source: `out-figures/fig1a/results.csv`, column `cycles` (net buffer = "
            "`activation_buffer_mb + weight_buffer_mb + mask_buffer_mb`, rows by `pe` and "
            "`profile`).\n\n" + table(["PEs", "net buffer (MB)", "paper (thousand cycles)",
                                      "ours, hardware", "ours, reference"], body))


def fig1_matrix(out, name, source_note):
    rows = rows_of(out, name)
    return (f"Source: `out-figures/{name}/results.csv`, column `cycles`{source_note}.\n\n"
            + matrix(rows, lambda r: float(r["pe"]), net_mb, "PEs", "net buffer (MB)"))


# ------------------------------------------------------------------ figure 2
DYNAMIC = ["mac_lanes", "dynatran", "softmax", "layer_norm", "dataflow", "dma",
           "activation_buffer", "weight_buffer", "mask_buffer", "main_memory"]


def loop_order_values(out, name):
    values = {}
    for r in rows_of(out, name):
        energy = sum(float(r[f"energy_nj.{b}.dynamic"]) for b in DYNAMIC)
        reuse = float(r["compute.fifo_reuse"]) + float(r["compute.broadcast_reuse"])
        values[r["loop-order"]] = (energy, int(reuse), int(float(r["cycles"])))
    return values


def fig2_table(out):
    tiny = loop_order_values(out, "fig2-tiny-edge")
    base = loop_order_values(out, "fig2-base-server")
    body = []
    for n, order in enumerate(ORDERS):
        paper = [f"{PAPER_DF_ENERGY[p][n]} / {PAPER_DF_REUSE[p][n]}" for p in range(3)]
        t, b = tiny[order], base[order]
        body.append([order] + paper + [f"{t[0] / 1e3:.1f} / {t[1]:,} / {t[2]:,}",
                                       f"{b[0] / 1e6:.2f} / {b[1]:,} / {b[2]:,}"])

    def best_worst(values, scale, unit):
        lo = min(values.values(), key=lambda v: v[0])[0]
        hi = max(values.values(), key=lambda v: v[0])[0]
        best = ", ".join(o for o in ORDERS if values[o][0] == lo)
        return f"best {best} ({lo / scale:.1f} {unit}); best / worst = {lo / hi:.2f}"
    summary = ("Paper: best b_i_j_k and k_i_j_b in all three panels; best / worst = "
               "294 / 568 = 0.52, 537 / 1136 = 0.47, 578 / 1136 = 0.51. Ours: BERT-Tiny/Edge "
               + best_worst(tiny, 1e3, "µJ") + "; BERT-Base/Server "
               + best_worst(base, 1e6, "mJ") + ".")
    return ("Source: `out-figures/fig2-tiny-edge/results.csv` and "
            "`out-figures/fig2-base-server/results.csv`: dynamic energy = sum of the "
            "`energy_nj.<block>.dynamic` columns, reuse = `compute.fifo_reuse + "
            "compute.broadcast_reuse`, and `cycles`.\n\n"
            + table(["loop order", "paper panel 1 (nJ / reuse)", "paper panel 2",
                     "paper panel 3", "ours BERT-Tiny/Edge (µJ / reuse / cycles)",
                     "ours BERT-Base/Server (mJ / reuse / cycles)"], body)
            + "\n\n" + summary)


# ------------------------------------------------------------------ figure 3
def paper_groups(parts):
    """Our blocks in the published pie's groups; dataflow and buffers apart."""
    return {"softmax": parts["softmax"],
            "sparsity": parts.get("pre_sparsity", 0) + parts.get("post_sparsity", 0)
            + parts.get("dynatran", 0),
            "layer norm": parts["layer_norm"], "MAC lanes": parts["mac_lanes"],
            "others": parts.get("fifo", 0) + parts["dma"]}


def fig3_table(out):
    rows = []
    for label, name in (("Edge, BERT-Tiny", "fig34"), ("Server, BERT-Base", "fig3-server")):
        rep = report_of(out, name)
        area = {k: v for k, v in rep["area_mm2"].items() if k != "total"}
        energy = {k: v["total"] for k, v in rep["energy_nj"].items() if isinstance(v, dict)}
        rows.append((label, rep, area, energy))
    body = []
    for group in PAPER_AREA:
        line = [group, pct(PAPER_AREA[group])]
        for _, rep, area, _ in rows:
            grouped = paper_groups(area)
            line += [pct(100 * grouped[group] / sum(grouped.values())),
                     pct(100 * grouped[group] / rep["area_mm2"]["total"])]
        line += [pct(PAPER_POWER[group])]
        for _, rep, _, energy in rows:
            grouped = paper_groups(energy)
            grouped["others"] += energy["dataflow"]
            line += [pct(100 * grouped[group] / sum(grouped.values()))]
        body.append(line)
    for block in ("dataflow", "buffers (activation + weight + mask)"):
        line = [block, "not in the pie"]
        for _, rep, area, _ in rows:
            v = area["dataflow"] if block == "dataflow" else sum(
                area[k] for k in ("activation_buffer", "weight_buffer", "mask_buffer"))
            line += ["excluded", pct(100 * v / rep["area_mm2"]["total"])]
        body.append(line + ["-", "in others" if block == "dataflow" else "excluded",
                            "in others" if block == "dataflow" else "excluded"])
    totals = ", ".join(f"{label} {rep['area_mm2']['total']:.2f} mm²" for label, rep, _, _ in rows)
    return ("Source: `out-figures/fig34/report.json` (Edge) and "
            "`out-figures/fig3-server/report.json` (Server): `area_mm2.<block>` and "
            "`energy_nj.<block>.total`; sparsity = pre + post sparsity (area) or `dynatran` "
            "(energy), others = FIFOs + DMA (+ dataflow for power). Total area: " + totals
            + ".\n\n" + table(["group", "paper area", "ours Edge, paper's groups",
                               "ours Edge, of total", "ours Server, paper's groups",
                               "ours Server, of total", "paper power",
                               "ours Edge power (compute blocks)",
                               "ours Server power (compute blocks)"], body))


# ------------------------------------------------------------------ figure 4
def first_compute_cycle(out, name):
    with open(os.path.join(out, name, "timeline.csv"), newline="") as f:
        for r in csv.DictReader(f):
            if float(r["mac_lanes_util"]) > 0:
                return int(float(r["cycle"]))
    return None


def fig4_table(out):
    body = [["total cycles", "≈ 140,000"], ["cycles before the MAC lanes start", "≈ 52,000"],
            ["compute power, peak", "≈ 14 W (PEs, dynamic)"]]
    for name in ("fig34", "fig34-reference"):
        rep = report_of(out, name)
        body[0].append(f"{rep['cycles']:,}")
        body[1].append(f"{first_compute_cycle(out, name):,}")
        body[2].append(f"{rep['power_w']['peak']:.1f} W (whole chip), "
                       f"{rep['power_w']['average']:.1f} W average")
    return ("Source: `out-figures/fig34/` (hardware profile) and `out-figures/fig34-reference/`: "
            "`report.json` (`cycles`, `power_w`) and the first `timeline.csv` row with "
            "`mac_lanes_util > 0`.\n\n"
            + table(["quantity", "paper (older simulator revision)", "ours, hardware",
                     "ours, reference"], body))


# ------------------------------------------------------------------ figure 5
SIZE = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}


def memory_parts(out, model, profile):
    with open(os.path.join(out, f"fig5-{model}-{profile}.txt")) as f:
        line = next(l for l in f if "bytes (zero-free data):" in l)
    found = {k: float(v) * SIZE[u] for k, v, u in re.findall(
        r"(weights|embeddings|activation stores)\s+([0-9.]+) (B|KiB|MiB|GiB)", line)}
    return found["embeddings"], found["weights"], found["activation stores"]


def fig5_table(out):
    body = []
    for model in ("bert-tiny", "bert-base"):
        paper = PAPER_MEMORY[model]
        body.append([model, "paper"] + [pct(v) for v in paper]
                    + [f"{paper[0] / paper[1]:.3f}", f"{paper[2] / paper[1]:.2f}", "-"])
        for profile in ("hardware", "reference"):
            parts = memory_parts(out, model, profile)
            total = sum(parts)
            body.append([model, f"ours, {profile}"] + [pct(100 * v / total) for v in parts]
                        + [f"{parts[0] / parts[1]:.3f}", f"{parts[2] / parts[1]:.2f}",
                           f"{total / 2**20:.2f} MiB"])
    return ("Source: `out-figures/fig5-<model>-<profile>.txt` (`acceltran compile --stats`), "
            "line `bytes (zero-free data)`: embeddings, weights, activation stores.\n\n"
            + table(["model", "", "embeddings", "weights", "activations",
                     "embeddings / weights", "activations / weights", "total"], body))


# ------------------------------------------------------------------ figure 6
def fig6_table(out):
    rows = rows_of(out, "fig6")
    by = {(r["model"], f"{float(r['sparsity']):.2f}"): r for r in rows}
    body = []
    for s, (tp, en) in PAPER_SPARSITY.items():
        line = [f"{float(s) * 100:.0f} %", f"{tp:.2f} / {en:.2f}"]
        for model in ("bert-tiny", "bert-base"):
            r, r0 = by[(model, s)], by[(model, "0.30")]
            line.append(f"{float(r['throughput_seq_per_s']) / float(r0['throughput_seq_per_s']):.4f}"
                        f" / {float(r['energy_per_seq_mj']) / float(r0['energy_per_seq_mj']):.4f}")
        body.append(line)
    bounds = []
    for model, label in (("bert-tiny", "BERT-Tiny/Edge"), ("bert-base", "BERT-Base/Server")):
        r = by[(model, "0.30")]
        bounds.append(f"{label} at 30 %: {int(float(r['cycles'])):,} cycles, memory bound "
                      f"{float(r['bounds_cycles.memory']):,.0f}, MAC-lane bound "
                      f"{float(r['bounds_cycles.mac_lanes']):,.0f}, efficiency "
                      f"{float(r['efficiency']):.3f}")
    return ("Source: `out-figures/fig6/results.csv`: `throughput_seq_per_s` and "
            "`energy_per_seq_mj` over the value at `sparsity` 0.30 of the same `model`; "
            "bounds from `cycles`, `bounds_cycles.memory`, `bounds_cycles.mac_lanes`, "
            "`efficiency`.\n\n"
            + table(["net activation sparsity", "paper, BERT-Tiny/Edge (throughput / energy)",
                     "ours, BERT-Tiny/Edge", "ours, BERT-Base/Server"], body)
            + "\n\n" + "; ".join(bounds) + ".")


# ------------------------------------------------------------------ README sweep
def sweep96_table(out):
    rows = [r for r in rows_of(out, "sweep96")
            if float(r["sparsity"]) == 0.5 and float(r["weight_buffer_mb"]) == 0.5]
    key = lambda r: (float(r["activation_buffer_mb"]), r["main_memory.bandwidth"])
    cols = sorted({key(r) for r in rows}, key=lambda k: (k[1] != "lb", k[0]))
    pes = sorted({int(float(r["pe"])) for r in rows})
    cells = {(int(float(r["pe"])), key(r)): int(float(r["cycles"])) for r in rows}
    header = ["PEs"] + [f"{c[1]}, act. {c[0]:g} MB" for c in cols]
    return table(header, [[pe] + [thousands(cells.get((pe, c))) for c in cols] for pe in pes])


TABLES = {
    "fig1-plane": fig1_plane,
    "fig1-small": lambda out: fig1_matrix(out, "fig1b", " (hardware profile)"),
    "fig1-server": lambda out: fig1_matrix(out, "fig1c", " (hardware profile)"),
    "fig2": fig2_table, "fig3": fig3_table, "fig4": fig4_table, "fig5": fig5_table,
    "fig6": fig6_table, "sweep96": sweep96_table,
}


def rewrite(path, out):
    with open(path) as f:
        text = f.read()
    pattern = re.compile(r"(<!-- numbers:([a-z0-9-]+) -->\n).*?(<!-- /numbers -->)", re.S)

    def fill(m):
        if m.group(2) not in TABLES:
            raise SystemExit(f"error: {path}: unknown numbers block '{m.group(2)}'")
        return m.group(1) + TABLES[m.group(2)](out) + "\n" + m.group(3)
    new, count = pattern.subn(fill, text)
    if new != text:
        with open(path, "w") as f:
            f.write(new)
    print(f"{path}: {count} numbers blocks")


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    for path in argv[1:]:
        rewrite(path, argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
