#!/usr/bin/env python3
"""Prints, for each PNG given: path, width, height, distinct colours, share of non-white
pixels and share of coloured (not grey) pixels. Used by the plot tests to tell a drawn figure
from a blank or axes-only one."""
import sys

import matplotlib.image as mpimg
import numpy as np

for path in sys.argv[1:]:
    img = mpimg.imread(path)[:, :, :3]
    h, w, _ = img.shape
    flat = (img.reshape(-1, 3) * 255).astype(np.uint8)
    distinct = len(np.unique(flat, axis=0))
    nonwhite = float(np.mean(np.any(flat < 245, axis=1)))
    spread = flat.max(axis=1).astype(int) - flat.min(axis=1).astype(int)
    coloured = float(np.mean(spread > 40))
    print(f"{path} {w} {h} {distinct} {nonwhite:.4f} {coloured:.4f}")
