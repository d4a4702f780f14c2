"""Detail for holes filled from a downscaled window: contextual residual aggregation (HiFill, Yi et al. 2020).

A window larger than 64x64 is inpainted at 64x64 and scaled back up, which leaves the hole soft.
The known part of the full-resolution window has the detail the 64x64 copy lost: its residual,
the window minus its own 64x64 version scaled back up. Attention over the completed 64x64 fill
says which known cells of a 16x16 grid look like each hole cell (cosine similarity of the 8x8
patches around them, a softmax over the known cells). Each hole cell gets the attention-weighted
sum of the known cells' residuals, added to the scaled-up fill. Known pixels are never touched:
the result only goes into the hole.

Arrays: uint8 (H, W, 3) windows, bool (H, W) holes, uint8 (64, 64, 3) fills.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .holes import hole_box
from .windows import resize_float

GRID = 16  # cells of 4x4 pixels of the 64x64 fill
# Softmax scale of the cosine similarities: a broad average of residuals cancels out into no
# detail, a peaked one copies texture. Chosen on the 8 monitor photos (photo model, 3 holes of each
# kind, never the val photos; `restore bench --size native --photos MONITOR --masks-per-photo 3
# --no-classical --detail`). Rectangles, hole-crop LPIPS / hole PSNR / hole sharpness: without
# detail .231 / 17.96 / .14; scale 30 .170 / 17.78 / .46; 100 .164 / 17.61 / .65; 300 .162 / 17.53 /
# .78 (blobs alike: .163, .120, .115, .115). 100 is where LPIPS stops paying for the PSNR, and
# the sharpness is within .6-1.4 of the truth's. The refiner's own self-attention, sharpened,
# did worse at every sharpness in an earlier trial.
SCALE = 100.0
NEGLIGIBLE = 1e-12  # a weight under this share of a cell's largest is dropped
# The borrowed detail fades in from the hole's border over this share of a cell. A cell is far wider
# than a thin stroke brought down to 64x64, and texture copied whole into it is noise; along a large
# hole's border the model's fill already joins the photo. Chosen on the monitor photos (3 holes of
# each kind, never val), hole-crop LPIPS / hole PSNR against no fade: `photo` rectangles .1643 ->
# .1627 (+0.05 dB), blobs .1153 -> .1150 (+0.05); the 23 `celeba` monitor faces at 178x218,
# rectangles .0941 -> .0936, blobs .0893 -> .0890, strokes .0087 / 24.72 -> .0079 / 25.02 dB.
# Fading over 1/8 of a cell did less on faces, over 1/2 or 1 cost `photo`'s blobs. Leaving the
# known pixels' detail out (fade_in) without the fade moved faces by nothing and `photo`'s
# rectangles to .1637; the fade does the rest.
FADE = 0.25


def similarity(fill64: np.ndarray, scale: float = SCALE) -> np.ndarray:
    """(256, 256) logits: `scale` times the cosine similarity of every cell's 8x8 patch to every other's."""
    x = fill64.astype(np.float32) / 255
    pad = np.pad(x, ((2, 2), (2, 2), (0, 0)), mode="reflect")
    step = fill64.shape[0] // GRID
    feats = np.stack([pad[i * step : i * step + 8, j * step : j * step + 8].ravel()
                      for i in range(GRID) for j in range(GRID)])
    feats -= feats.mean(axis=1, keepdims=True)  # texture, not brightness
    feats /= np.linalg.norm(feats, axis=1, keepdims=True) + 1e-6
    return scale * (feats @ feats.T)


def attention(fill64: np.ndarray, known: np.ndarray, scale: float = SCALE) -> np.ndarray:
    """(256, K) float32: for every cell, a softmax over the K cells where `known` (256 bools) is True."""
    logits = similarity(fill64, scale)[:, known]
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    # Weights this far below a cell's largest add nothing. Left in, many are subnormal floats, which
    # x86 multiplies 60x slower: the product in aggregate took 100 ms for a 400x400 window, not 1.6.
    weights[weights < NEGLIGIBLE] = 0
    weights /= weights.sum(axis=1, keepdims=True)
    return weights


def aggregate(window: np.ndarray, hole: np.ndarray, fill64: np.ndarray, scale: float = SCALE,
              band: int | None = None) -> np.ndarray | None:
    """The window's hole filled at full resolution with detail, float (H, W, 3); None when no cell is known.

    `window` is the full-resolution crop (its hole pixels are never read), `hole` every hole pixel
    in it, `fill64` the model's 64x64 result for it. With `band`, the fill is kept only up to
    band x band and everything finer borrowed (for a window at native resolution, where the 64x64
    fill is all there is yet softer than the photo).
    """
    h, w = hole.shape
    band = band or fill64.shape[0]
    kept = fill64.astype(np.float32)
    if band != fill64.shape[0]:
        kept = resize_float(kept, (band, band))
    up = resize_float(kept, (w, h))
    # The composite: known pixels as they are, the hole from the scaled-up fill; its low-pass is
    # what the model saw, so its residual holds exactly the detail lost on the way down.
    comp = np.where(hole[..., None], up, window.astype(np.float32))
    small = np.asarray(Image.fromarray(np.clip(comp, 0, 255).astype(np.uint8)).resize(
        (band, band), Image.Resampling.BICUBIC, reducing_gap=None)).astype(np.float32)
    residual = comp - resize_float(small, (w, h))
    ch, cw = -(-h // GRID), -(-w // GRID)  # cell size, rounded up: the grid covers the window
    res_g = resize_float(residual, (cw * GRID, ch * GRID))
    cells = res_g.reshape(GRID, ch, GRID, cw, 3).transpose(0, 2, 1, 3, 4).reshape(GRID * GRID, -1)
    hole_g = np.asarray(Image.fromarray(hole.astype(np.uint8) * 255).resize((GRID, GRID), Image.Resampling.BOX)) > 0
    known = ~hole_g.ravel()
    if not known.any():
        return None
    borrowed = (attention(fill64, known, scale) @ cells[known]).reshape(GRID, GRID, ch, cw, 3).transpose(0, 2, 1, 3, 4)
    detail = resize_float(borrowed.reshape(GRID * ch, GRID * cw, 3), (w, h))
    return up + detail * fade_in(hole, FADE * max(h, w) / GRID)


def fade_in(hole: np.ndarray, width: float) -> np.ndarray:
    """(H, W, 1) float32 weights of the borrowed detail: inside the hole, its distance to the nearest
    known pixel over `width`, at most 1; 0 on the known pixels. The known part of the window thus keeps
    the plain scaled-up fill, so the pipeline's border join (pipeline.Restorer._join) measures the fill's
    mismatch against the photo's own pixels, detail and all, and carries it into the hole's rim."""
    from scipy import ndimage

    out = np.zeros(hole.shape + (1,), np.float32)
    if not hole.any():
        return out
    if width <= 1:  # every hole pixel is at least 1 px from a known one
        out[hole] = 1
        return out
    # Only the hole's box grown by `width` is measured: no hole pixel lies outside it.
    box = hole_box(hole, int(np.ceil(width)) + 1)
    out[box + (0,)] = np.minimum(ndimage.distance_transform_edt(hole[box]) / width, 1)
    return out
