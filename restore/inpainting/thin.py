"""Thin holes, filled by smooth interpolation instead of the networks.

A scratch, a crack or a dust speck a few pixels across hides almost nothing: the photo on either
side says what lies under it, and a smooth interpolation from its border (push-pull,
pipeline.smooth_fill) restores it as well as the networks do, for a small share of their time.
On old prints with synthetic damage (benchmarks/speed.py's prints: five 1024x768 photos made of
scikit-image's pictures, never the val photos), with the true damage masks, PSNR against the
clean photo was 43.61 dB through the networks alone, 43.67 dB with the holes at most 9 px thick
interpolated and the rest through the networks, and 43.74 dB with everything interpolated, in
8.9, 1.9 and 0.5 s. Wide holes (worn edges, large specks) still need the networks, so the
threshold is a thickness, per hole. It is not the default for drawn holes: on free-form strokes
3-7 px wide across faces the networks are closer (80 CelebA monitor faces: 26.09 dB with them,
25.18 interpolated; docs/training.md).

Arrays: uint8 (H, W, 3) photos, bool (H, W) masks (True = hole).
"""

from __future__ import annotations

import numpy as np

# The default thickness for damage found by the detector (restore run --detect-damage): 9 px.
DAMAGE_THIN_PX = 9.0


def thin_part(mask: np.ndarray, max_px: float) -> np.ndarray:
    """The holes of `mask` (connected components, 8-neighbour) at most `max_px` thick (twice the largest
    distance from a hole pixel to the nearest known one), as a bool mask."""
    from scipy import ndimage

    if max_px <= 0 or not mask.any():
        return np.zeros_like(mask, dtype=bool)
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    r = max_px / 2  # a hole is thin when no pixel of it lies farther than r from the known pixels
    # The chessboard distance is at least the Euclidean one over sqrt(2), and takes a few ms where the
    # Euclidean transform of a whole photo takes 0.1 s: only the holes with a pixel deeper than
    # r / sqrt(2) by it can be thick, and only those get the exact distance, in their own box grown by
    # r + 1, which holds the nearest known pixel of every pixel that is at most that deep.
    # A pixel deeper than r by the chessboard distance is deeper than r by the Euclidean one too: its hole
    # is thick without the exact transform (a 1024x768 photo's blob at 40 px: 11 ms in all instead of 14).
    chess = ndimage.distance_transform_cdt(mask, metric="chessboard")
    deep = chess > r / np.sqrt(2)
    keep = np.ones(n + 1, bool)
    keep[0] = False
    keep[np.unique(labels[chess > r])] = False
    deep &= keep[labels]
    if deep.any():
        h, w = mask.shape
        pad = int(np.ceil(r)) + 1
        boxes = ndimage.find_objects(labels)
        for i in np.unique(labels[deep]):
            sy, sx = boxes[i - 1]
            y0, x0 = max(sy.start - pad, 0), max(sx.start - pad, 0)
            crop = mask[y0 : min(sy.stop + pad, h), x0 : min(sx.stop + pad, w)]
            own = labels[y0 : y0 + crop.shape[0], x0 : x0 + crop.shape[1]] == i
            keep[i] = ndimage.distance_transform_edt(crop)[own].max() <= r
    return keep[labels]


def fill_smooth(rgb: np.ndarray, holes: np.ndarray, known: np.ndarray) -> np.ndarray:
    """A copy of `rgb` with the `holes` pixels interpolated smoothly from the `known` ones (push-pull);
    every other pixel as it was."""
    from .pipeline import smooth_fill

    out = rgb.copy()
    if holes.any():
        filled = smooth_fill(rgb.astype(np.float32), known)
        out[holes] = np.clip(np.rint(filled[holes]), 0, 255).astype(np.uint8)
    return out
