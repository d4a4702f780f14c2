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
    depth = ndimage.distance_transform_edt(mask)
    thickness = 2 * np.asarray(ndimage.maximum(depth, labels, np.arange(1, n + 1)))
    keep = np.zeros(n + 1, bool)
    keep[1:] = thickness <= max_px
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
