#!/usr/bin/env python3
"""Figures (PNG) from AccelTran-SC output folders.

  plot.py RUN_DIR   [--kind timeline|power|utilization|energy|area|breakdown ...]
  plot.py SWEEP_DIR [--kind pareto|metric ...] [--metric COL] [--x COL] [--y COL]
                    [--style lines|bars|contour] [--group COL] [--where COL=VALUE ...]
                    [--mark COL=VALUE,COL=VALUE] [--normalize] [--log-x] [--log-y]
  plot.py memory    [--models bert-tiny bert-base] [--acceltran BIN] [-- compile options]

A run folder is the --out of `acceltran simulate` (report.json, timeline.csv); a sweep folder
the --out of `acceltran sweep` (results.csv, pareto.csv). Every number drawn is read from
those files (or, for `memory`, from `acceltran compile --stats`); nothing is computed here
except sums of columns (--x a+b+c) and shares of totals. Needs matplotlib (Debian:
python3-matplotlib); `acceltran plot` finds a Python that has it.
"""
import argparse
import csv
import io
import json
import math
import os
import re
import subprocess
import sys

try:
    import matplotlib

    matplotlib.use("Agg")
    # Tick labels as the values themselves, never an offset such as "1e-9+2.8556e4".
    matplotlib.rcParams["axes.formatter.useoffset"] = False
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    import numpy as np
except ImportError as e:  # pragma: no cover - reported to the user
    sys.stderr.write(
        f"error: {sys.executable} has no matplotlib ({e}); install python3-matplotlib "
        "or point ACCELTRAN_PYTHON at a Python that has it\n")
    sys.exit(1)

RUN_KINDS = ["timeline", "power", "utilization", "energy", "area", "breakdown"]
SWEEP_KINDS = ["pareto", "metric"]


class UsageError(Exception):
    pass


def die(msg, code=1):
    sys.stderr.write(f"error: {msg}\n")
    sys.exit(code)


# ------------------------------------------------------------------ reading
def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def number(s):
    try:
        v = float(s)
        return v if math.isfinite(v) else None
    except (TypeError, ValueError):
        return None


def pretty(name):
    units = {"_mj": " (mJ)", "_nj": " (nJ)", "_us": " (us)", "_mb": " (MB)", "_mm2": " (mm2)",
             "_cycles": " (cycles)", "_w": " (W)", "_bytes": " (bytes)", "_s": " (s)",
             "_per_s": " (/s)", "_seq_per_s": " (sequences/s)", "_gbps": " (GB/s)"}
    for suffix, text in sorted(units.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix) and "." not in name[len(name) - len(suffix):]:
            return name[: -len(suffix)].replace("_", " ") + text
    return name.replace("_", " ")


def note(msg):
    sys.stderr.write(f"note: {msg}\n")


def save(fig, out_dir, name, written):
    """Writes the PNG whole or not at all: drawn in memory, written to a temporary file beside
    it, flushed to disk and renamed; a failed write removes the temporary file."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    path = os.path.join(out_dir, name)
    tmp = os.path.join(out_dir, f".{name}.tmp")
    try:
        os.makedirs(out_dir, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(buffer.getvalue())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise UsageError(f"{path}: cannot write: {e.strerror or e}")
    written.append(path)


def distinct_colours(count):
    """`count` different colours: tab10, then tab20 (its dark shades first, so that neighbours
    differ in hue), then evenly spaced hues."""
    if count <= 10:
        return [plt.get_cmap("tab10")(n) for n in range(count)]
    if count <= 20:
        order = list(range(0, 20, 2)) + list(range(1, 20, 2))
        return [plt.get_cmap("tab20")(n) for n in order[:count]]
    return [plt.get_cmap("hsv")(n / count) for n in range(count)]


def non_finite(text):
    """True for a value written as a number that is not finite (nan, inf, -inf)."""
    try:
        return not math.isfinite(float(text))
    except (TypeError, ValueError):
        return False


def finite_rows(rows, exprs):
    """The rows whose columns in `exprs` (a+b sums included) are finite; the others are named
    in a note, so that a NaN or an infinity never vanishes from a figure unsaid."""
    names = [n.strip() for e in exprs if e for n in e.split("+")]
    kept, left_out = [], []
    for r in rows:
        bad = [n for n in names if non_finite(r.get(n))]
        (left_out if bad else kept).append((r, bad))
    if left_out:
        note(f"{len(left_out)} of {len(rows)} points left out of the figure (not finite): "
             + "; ".join(f"point {r.get('point', '?')}: " + ", ".join(f"{n} = {r[n]}" for n in bad)
                         for r, bad in left_out[:10]) + (" ..." if len(left_out) > 10 else ""))
    if not kept:
        raise UsageError("no point left to draw: every one has a value that is not finite")
    return [r for r, _ in kept]


# ------------------------------------------------------------------ run folder
def run_title(report):
    i = report.get("inputs", {})
    return (f"{i.get('model', '?')} on {i.get('accelerator', '?')} "
            f"(profile {i.get('profile', '?')}, batch {i.get('batch', '?')}, "
            f"seq {i.get('seq_len', '?')})")


def timeline_columns(rows):
    cols = list(rows[0].keys())
    util = [c for c in cols if c.endswith("_util")]
    buffers = [c for c in cols if c.endswith("_bytes")]
    return util, buffers


def draw_power(ax, cycles, rows):
    ax.plot(cycles, [number(r["power_w"]) for r in rows], color="tab:red", lw=1.2)
    ax.set_ylabel("power (W)")
    ax.grid(alpha=0.3)


def draw_util(ax, cycles, rows, util):
    for c in util:
        ax.plot(cycles, [100 * number(r[c]) for r in rows], lw=1.2,
                label=c[: -len("_util")].replace("_", " "))
    ax.set_ylabel("utilization (%)")
    ax.set_ylim(-2, 102)
    ax.legend(fontsize=8, ncol=2, loc="upper right")
    ax.grid(alpha=0.3)


def draw_buffers(ax, cycles, rows, buffers):
    for c in buffers:
        ax.plot(cycles, [number(r[c]) / 2**20 for r in rows], lw=1.2,
                label=c[: -len("_bytes")].replace("_", " "))
    ax.set_ylabel("buffer contents (MiB)")
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3)


def breakdown(report, key):
    """(names, values) of report[key] without the total, largest first."""
    d = report.get(key, {})
    items = []
    for k, v in d.items():
        if k == "total":
            continue
        val = v.get("total") if isinstance(v, dict) else v
        if isinstance(val, (int, float)) and val > 0:
            items.append((k.replace("_", " "), float(val)))
    items.sort(key=lambda kv: -kv[1])
    return [k for k, _ in items], [v for _, v in items]


def pie(ax, names, values, title, unit):
    total = sum(values)
    wedges, _texts, _auto = ax.pie(
        values, startangle=90, counterclock=False, colors=distinct_colours(len(values)),
        autopct=lambda pct: f"{pct:.1f}%" if pct >= 4 else "", pctdistance=0.75,
        textprops={"fontsize": 8})
    ax.legend(wedges, [f"{n}: {v:.3g} {unit} ({100 * v / total:.1f} %)"
                       for n, v in zip(names, values)],
              fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 0.02), ncol=2)
    ax.set_title(f"{title}\ntotal {total:.4g} {unit}", fontsize=10)


def plot_run(d, kinds, out_dir, written, name=None):
    with open(os.path.join(d, "report.json")) as f:
        report = json.load(f)
    title = run_title(report)
    rows = read_csv(os.path.join(d, "timeline.csv")) if os.path.exists(
        os.path.join(d, "timeline.csv")) else []
    need_timeline = {"timeline", "power", "utilization"} & set(kinds)
    if need_timeline and not rows:
        raise UsageError(f"{d}/timeline.csv: missing or empty (run simulate with "
                         "--timeline-samples > 0)")
    cycles = [number(r["cycle"]) for r in rows]
    util, buffers = timeline_columns(rows) if rows else ([], [])
    latency = report.get("latency_us", 0)
    for kind in kinds:
        if kind == "power":
            fig, ax = plt.subplots(figsize=(8, 3.2))
            draw_power(ax, cycles, rows)
            ax.set_xlabel("cycle")
            ax.set_title(f"Power over time: {title}", fontsize=10)
            save(fig, out_dir, name or "power.png", written)
        elif kind == "utilization":
            fig, axs = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True)
            draw_util(axs[0], cycles, rows, util)
            draw_buffers(axs[1], cycles, rows, buffers)
            axs[1].set_xlabel("cycle")
            axs[0].set_title(f"Utilization over time: {title}", fontsize=10)
            save(fig, out_dir, name or "utilization.png", written)
        elif kind == "timeline":
            fig, axs = plt.subplots(3, 1, figsize=(8, 7.5), sharex=True)
            draw_power(axs[0], cycles, rows)
            draw_util(axs[1], cycles, rows, util)
            draw_buffers(axs[2], cycles, rows, buffers)
            axs[2].set_xlabel("cycle")
            axs[0].set_title(f"Power and utilization over time: {title}", fontsize=10)
            save(fig, out_dir, name or "timeline.png", written)
        elif kind in ("energy", "area"):
            key, unit = ("energy_nj", "nJ") if kind == "energy" else ("area_mm2", "mm2")
            names, values = breakdown(report, key)
            if not values:
                raise UsageError(f"{d}/report.json: no {key} entries")
            fig, ax = plt.subplots(figsize=(7, 0.35 * len(names) + 1.5))
            ax.barh(names[::-1], values[::-1], color="tab:blue")
            total = sum(values)
            for y, v in enumerate(values[::-1]):
                ax.text(v, y, f" {100 * v / total:.1f} %", va="center", fontsize=8)
            ax.set_xlabel(f"{kind} ({unit})")
            ax.set_title(f"{kind.capitalize()} by block: {title}", fontsize=10)
            ax.grid(axis="x", alpha=0.3)
            save(fig, out_dir, name or f"{kind}.png", written)
        elif kind == "breakdown":
            fig, axs = plt.subplots(1, 2, figsize=(12, 7))
            names, values = breakdown(report, "area_mm2")
            pie(axs[0], names, values, "Area (compute + buffers)", "mm2")
            names, values = breakdown(report, "energy_nj")
            if latency <= 0:
                raise UsageError(f"{d}/report.json: latency_us is {latency}")
            # Average power of a block = its energy over the run's latency (nJ/us = mW).
            pie(axs[1], names, [v / latency / 1000 for v in values],
                "Average power (energy / latency)", "W")
            fig.suptitle(title, fontsize=11)
            save(fig, out_dir, name or "breakdown.png", written)


# ------------------------------------------------------------------ sweep folder
def column_values(rows, expr):
    """A column, or a sum of columns written a+b+c."""
    names = [n.strip() for n in expr.split("+")]
    missing = [n for n in names if n not in rows[0]]
    if missing:
        raise UsageError(f"results.csv has no column '{missing[0]}'; columns: "
                         f"{', '.join(list(rows[0].keys())[:40])} ...")
    out = []
    for r in rows:
        vals = [number(r[n]) for n in names]
        if len(names) == 1 and vals[0] is None:
            out.append(r[names[0]])  # a text column (model, loop order, memory type)
        else:
            out.append(sum(vals) if None not in vals else None)
    return out


def parse_pairs(items, what):
    out = []
    for item in items or []:
        for part in item.split(","):
            if "=" not in part:
                raise UsageError(f"option {what}: '{part}' must be COLUMN=VALUE")
            k, v = part.split("=", 1)
            out.append((k.strip(), v.strip()))
    return out


def same(a, b):
    na, nb = number(a), number(b)
    return na == nb if na is not None and nb is not None else str(a) == str(b)


def ok_rows(d, where):
    rows = read_csv(os.path.join(d, "results.csv"))
    rows = [r for r in rows if r.get("status") == "ok"]
    if not rows:
        raise UsageError(f"{d}/results.csv: no point done (status ok)")
    for k, v in where:
        if k not in rows[0]:
            raise UsageError(f"option --where: results.csv has no column '{k}'")
        rows = [r for r in rows if same(r[k], v)]
        if not rows:
            raise UsageError(f"option --where {k}={v}: no point matches")
    return rows


def sort_key(v):
    n = number(v)
    return (0, n, "") if n is not None else (1, 0, str(v))


def plot_pareto(d, args, out_dir, written):
    rows = ok_rows(d, parse_pairs(args.where, "--where"))
    rows = finite_rows(rows, ["energy_per_seq_mj", "throughput_seq_per_s", "area_mm2.total"])
    front = read_csv(os.path.join(d, "pareto.csv"))
    front_ids = {r["point"] for r in front}
    x = column_values(rows, "energy_per_seq_mj")
    y = column_values(rows, "throughput_seq_per_s")
    area = column_values(rows, "area_mm2.total")
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    on_front = [r["point"] in front_ids for r in rows]
    # Dominated points small and faded; the front large, outlined in red and labelled.
    sc = ax.scatter([v for v, f in zip(x, on_front) if not f],
                    [v for v, f in zip(y, on_front) if not f],
                    c=[v for v, f in zip(area, on_front) if not f], cmap="viridis", s=22,
                    alpha=0.45, edgecolors="none", vmin=min(area), vmax=max(area),
                    label=f"dominated ({on_front.count(False)} points)")
    front_points = sorted((xi, yi, ai, r["point"])
                          for xi, yi, ai, r, f in zip(x, y, area, rows, on_front) if f)
    if front_points:
        sc = ax.scatter([p[0] for p in front_points], [p[1] for p in front_points],
                        c=[p[2] for p in front_points], cmap="viridis", s=120, marker="D",
                        edgecolors="tab:red", linewidths=2, vmin=min(area), vmax=max(area),
                        zorder=3, label=f"Pareto front ({len(front_points)} points; "
                        "throughput, energy, area)")
        for px, py, _a, point in front_points:
            ax.annotate(point, (px, py), textcoords="offset points", xytext=(6, 6),
                        fontsize=7, color="tab:red")
    ax.legend(fontsize=8, loc="best")
    fig.colorbar(sc, ax=ax, label="area (mm2)")
    ax.set_xlabel("energy per sequence (mJ)")
    ax.set_ylabel("throughput (sequences/s)")
    ax.set_title(args.title or f"Design points of {os.path.basename(os.path.abspath(d))}",
                 fontsize=10)
    ax.grid(alpha=0.3)
    save(fig, out_dir, args.name or "pareto.png", written)
    print(f"{len(rows)} points, {len(front_points)} on the Pareto front (highlighted)")


def normalized(metric, m, xs, groups):
    """Each value over the value at the smallest x of its own group (one group without --group)."""
    out = list(m)
    for g in set(groups):
        members = [n for n in range(len(xs)) if groups[n] == g]
        ref = m[min(members, key=lambda n: sort_key(xs[n]))]
        if not ref:
            raise UsageError(f"option --normalize: {metric} is {ref} at the smallest x"
                             + (f" of {g}" if g else ""))
        for n in members:
            out[n] = None if m[n] is None else m[n] / ref
    return out


def log_axes(ax, args):
    # Base 2 with plain tick labels: PE counts and buffer sizes are mostly powers of two.
    for on, axis, set_scale in ((args.log_x, ax.xaxis, ax.set_xscale),
                                (args.log_y, ax.yaxis, ax.set_yscale)):
        if on:
            set_scale("log", base=2)
            axis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))


def contour_possible(args, xv, yv, grid):
    """A contour needs numeric axes with at least 3 values each, every cell of the grid drawn
    and values that differ; otherwise the grid is drawn as a heat map, saying why."""
    why = None
    if not all(number(v) is not None for v in xv + yv):
        why = "an axis is not numeric"
    elif len(xv) < 3 or len(yv) < 3:
        why = f"{len(xv)} x {len(yv)} values, a contour needs at least 3 x 3"
    elif np.isnan(grid).any():
        why = f"{int(np.isnan(grid).sum())} of {grid.size} cells have no point"
    elif np.nanmax(grid) == np.nanmin(grid):
        why = f"every point has the same value {np.nanmax(grid):g}"
    if why:
        note(f"heat map instead of a contour over {args.x} and {args.y}: {why}")
    return why is None


def draw_grid(fig, ax, args, rows, xs, m, metric, style):
    """Contour (or heat map for text axes) of the metric over --x and --y; --mark stars a point."""
    ys = column_values(rows, args.y)
    xv = sorted({v for v in xs}, key=sort_key)
    yv = sorted({v for v in ys}, key=sort_key)
    grid = np.full((len(yv), len(xv)), np.nan)
    for xi, yi, mi in zip(xs, ys, m):
        if mi is None:
            continue
        cell = grid[yv.index(yi), xv.index(xi)]
        if not np.isnan(cell) and cell != float(mi):
            raise UsageError(
                f"several points share {args.x}={xi}, {args.y}={yi} with different "
                f"{metric}; pick one with --where COLUMN=VALUE")
        grid[yv.index(yi), xv.index(xi)] = float(mi)
    contour = style == "contour" and contour_possible(args, xv, yv, grid)
    if contour:
        X, Y = np.meshgrid([float(v) for v in xv], [float(v) for v in yv])
        cs = ax.contourf(X, Y, np.ma.masked_invalid(grid), levels=12, cmap="viridis")
        ax.contour(X, Y, np.ma.masked_invalid(grid), levels=12, colors="k", linewidths=0.3)
        ax.scatter(X.ravel(), Y.ravel(), s=6, c="white", alpha=0.6)
        log_axes(ax, args)
    else:
        cs = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(xv)), [str(v) for v in xv])
        ax.set_yticks(range(len(yv)), [str(v) for v in yv])
    fig.colorbar(cs, ax=ax, label=pretty(metric))
    ax.set_ylabel(args.ylabel or pretty(args.y))
    mark = dict(parse_pairs([args.mark] if args.mark else [], "--mark"))
    if mark:
        if set(mark) != {args.x, args.y}:
            raise UsageError(f"option --mark: give {args.x}=VALUE,{args.y}=VALUE")
        mx, my = mark[args.x], mark[args.y]
        px = float(mx) if contour else xv.index(next(v for v in xv if same(v, mx)))
        py = float(my) if contour else yv.index(next(v for v in yv if same(v, my)))
        ax.plot([px], [py], marker="*", ms=18, color="tab:red", mec="white",
                label=args.mark_label or "marked point", clip_on=False, zorder=5)
        ax.legend(fontsize=8, loc="best")


def draw_series(ax, args, xs, gcol, m, metric, style):
    """Lines (or bars) of the metric over --x, one series per --group value."""
    groups = {}
    for xi, gi, mi in zip(xs, gcol, m):
        if mi is not None:
            groups.setdefault(gi, []).append((xi, float(mi)))
    for g, pts in groups.items():
        seen = {}
        for xi, mi in pts:
            if xi in seen and seen[xi] != mi:
                raise UsageError(
                    f"several points share {args.x}={xi} with different {metric}; "
                    "separate them with --group COLUMN or pick with --where COLUMN=VALUE")
            seen[xi] = mi
    xv = sorted({xi for pts in groups.values() for xi, _ in pts}, key=sort_key)
    numeric = all(number(v) is not None for v in xv)
    ordered = sorted(groups.items(), key=lambda kv: sort_key(kv[0]))
    if style == "bars" or not numeric:
        width = 0.8 / max(1, len(groups))
        for n, (g, pts) in enumerate(ordered):
            vals = dict(pts)
            ax.bar([i + n * width - 0.4 + width / 2 for i in range(len(xv))],
                   [vals.get(v, 0) for v in xv], width,
                   label=f"{args.group}={g}" if args.group else None)
        ax.set_xticks(range(len(xv)), [str(v) for v in xv], rotation=45 if len(xv) > 8 else 0)
    else:
        for g, pts in ordered:
            pts = sorted(pts, key=lambda p: float(p[0]))
            ax.plot([float(p[0]) for p in pts], [p[1] for p in pts], marker="o",
                    label=f"{args.group}={g}" if args.group else None)
        log_axes(ax, args)
    if args.group:
        ax.legend(fontsize=8)
    ax.set_ylabel(args.ylabel or (pretty(metric) + (" (normalized)" if args.normalize else "")))
    ax.grid(alpha=0.3)


def plot_metric(d, args, out_dir, written):
    if not args.x:
        raise UsageError("--kind metric needs --x COLUMN (and --y COLUMN for a contour)")
    rows = ok_rows(d, parse_pairs(args.where, "--where"))
    rows = finite_rows(rows, [args.metric, args.x, args.y, args.group])
    metric = args.metric
    m = column_values(rows, metric)
    xs = column_values(rows, args.x)
    gcol = column_values(rows, args.group) if args.group else [""] * len(rows)
    if args.normalize:
        m = normalized(metric, m, xs, gcol)
    style = args.style or ("contour" if args.y else "lines")
    fig, ax = plt.subplots(figsize=(7.5, 5.2))
    if args.y:
        draw_grid(fig, ax, args, rows, xs, m, metric, style)
    else:
        draw_series(ax, args, xs, gcol, m, metric, style)
    ax.set_xlabel(args.xlabel or pretty(args.x))
    ax.set_title(args.title or f"{pretty(metric)} over {args.x}"
                 + (f" and {args.y}" if args.y else ""), fontsize=10)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{metric}_vs_{args.x}"
                  + (f"_{args.y}" if args.y else "") + f"_{style}")
    save(fig, out_dir, args.name or f"{safe}.png", written)


# ------------------------------------------------------------------ memory needs
SIZE = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}


def plot_memory(args, out_dir, written):
    exe = args.acceltran or os.environ.get("ACCELTRAN_EXE") or "acceltran"
    parts = ["embeddings", "weights", "activation stores"]
    data = {}
    for model in args.models:
        cmd = [exe, "compile", "--model", model, "--stats"] + list(args.compile_args)
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise UsageError(f"{' '.join(cmd)}: {p.stderr.strip() or p.stdout.strip()}")
        line = next((l for l in p.stdout.splitlines() if "bytes (zero-free data):" in l), None)
        if line is None:
            raise UsageError(f"{' '.join(cmd)}: no 'bytes (zero-free data)' line in its output")
        found = dict((name, float(v) * SIZE[u]) for name, v, u in re.findall(
            r"(weights|embeddings|activation stores|output)\s+([0-9.]+) (B|KiB|MiB|GiB)", line))
        missing = [k for k in parts if k not in found]
        if missing:
            raise UsageError(f"{' '.join(cmd)}: no '{missing[0]}' in: {line.strip()}")
        data[model] = found
    fig, axs = plt.subplots(1, len(data), figsize=(4.2 * len(data), 4.8), squeeze=False)
    colors = {"embeddings": "tab:orange", "weights": "tab:blue",
              "activation stores": "tab:green"}
    for ax, (model, found) in zip(axs[0], data.items()):
        total = sum(found[k] for k in parts)
        bottom = 0
        for k in parts:
            v = found[k] / 2**20
            share = 100 * found[k] / total
            ax.bar([0], [v], bottom=bottom, color=colors[k], width=0.6,
                   label=f"{k}: {v:.2f} MiB ({share:.1f} %)")
            if share >= 8:
                ax.text(0, bottom + v / 2, f"{k}\n{v:.2f} MiB ({share:.0f} %)",
                        ha="center", va="center", fontsize=8)
            bottom += v
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.02))
        ax.set_xticks([])
        ax.set_ylabel("MiB")
        ax.set_title(f"{model}: {total / 2**20:.2f} MiB", fontsize=10)
    fig.suptitle(args.title or "Memory needs (acceltran compile --stats)", fontsize=11)
    save(fig, out_dir, args.name or "memory.png", written)


# ------------------------------------------------------------------ main
def default_out(d):
    """Beside a run folder (DIR-plots: simulate replaces its --out folder as a whole and refuses
    one holding other files), inside a sweep folder (DIR/plots)."""
    d = os.path.normpath(d)
    if os.path.exists(os.path.join(d, "report.json")):
        return d + "-plots" if os.path.basename(os.path.abspath(d)) else "plots"
    return os.path.join(d, "plots")


def check_name(name):
    """--name is a file name in --out: no folder part, so that it cannot write elsewhere."""
    if name is None:
        return
    if (os.path.basename(name) != name or name in (".", "..") or name.startswith(".")
            or not name.endswith(".png")):
        raise UsageError(f"option --name: '{name}' must be a file name ending in .png, without "
                         "a folder (the folder is --out)")


def checked_kinds(args, allowed, default, what):
    kinds = args.kind or default
    bad = [k for k in kinds if k not in allowed]
    if bad:
        raise UsageError(f"option --kind: '{bad[0]}' is not a {what} figure; allowed: "
                         + ", ".join(allowed))
    if args.name and len(kinds) != 1:
        raise UsageError("option --name: give exactly one --kind")
    return kinds, args.out or default_out(args.dir)


def main(argv):
    p = argparse.ArgumentParser(
        prog="acceltran plot", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="run kinds: " + ", ".join(RUN_KINDS) + "; sweep kinds: "
        + ", ".join(SWEEP_KINDS) + "; `memory` instead of a folder draws the memory needs.")
    p.add_argument("dir", help="a simulate --out folder, a sweep --out folder, or 'memory'")
    p.add_argument("--kind", action="append", help="figure kind (repeatable; default: all "
                   "kinds of the folder; for a sweep: pareto, and metric when --x is given)")
    p.add_argument("--out", help="folder for the PNGs (default: DIR-plots beside a run folder, "
                   "DIR/plots in a sweep folder, out-plots/ for memory)")
    p.add_argument("--name", help="file name of the PNG (one kind only)")
    p.add_argument("--title", help="figure title")
    p.add_argument("--metric", default="cycles", help="sweep: results.csv column to draw")
    p.add_argument("--x", help="sweep: x axis column (a+b sums columns)")
    p.add_argument("--y", help="sweep: second axis column (contour or heat map)")
    p.add_argument("--xlabel"), p.add_argument("--ylabel")
    p.add_argument("--style", choices=["lines", "bars", "contour"],
                   help="sweep metric: lines or bars over --x; contour over --x and --y")
    p.add_argument("--group", help="sweep metric: one line / bar series per value")
    p.add_argument("--normalize", action="store_true",
                   help="sweep metric: divide by the value at the smallest --x (of each --group)")
    p.add_argument("--log-x", action="store_true", help="sweep metric: log2 x axis (numeric x)")
    p.add_argument("--log-y", action="store_true", help="sweep contour: log2 y axis (numeric y)")
    p.add_argument("--where", action="append", help="sweep: keep rows with COLUMN=VALUE")
    p.add_argument("--mark", help="sweep contour: mark the point X=VALUE,Y=VALUE")
    p.add_argument("--mark-label", help="legend text of the marked point")
    p.add_argument("--models", nargs="+", default=["bert-tiny", "bert-base"],
                   help="memory: models to compare")
    p.add_argument("--acceltran", help="memory: the acceltran executable")
    # memory: everything after "--" goes to acceltran compile (e.g. -- --profile reference).
    compile_args = argv[argv.index("--") + 1:] if "--" in argv else []
    args = p.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    args.compile_args = compile_args
    written = []
    try:
        check_name(args.name)
        if args.dir == "memory":
            plot_memory(args, args.out or "out-plots", written)
        elif os.path.exists(os.path.join(args.dir, "report.json")):
            kinds, out = checked_kinds(args, RUN_KINDS, RUN_KINDS, "run")
            plot_run(args.dir, kinds, out, written, args.name)
        elif os.path.exists(os.path.join(args.dir, "results.csv")):
            kinds, out = checked_kinds(args, SWEEP_KINDS,
                                       ["pareto", "metric"] if args.x else ["pareto"], "sweep")
            for k in kinds:
                (plot_pareto if k == "pareto" else plot_metric)(args.dir, args, out, written)
        else:
            raise UsageError(f"{args.dir}: neither a run folder (report.json) nor a sweep "
                             "folder (results.csv), nor 'memory'")
    except UsageError as e:
        die(str(e))
    except (OSError, KeyError, ValueError) as e:
        die(f"{args.dir}: {e}")
    for w in written:
        print(f"wrote {w}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
