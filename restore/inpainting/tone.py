"""Monochrome photos stored as RGB (a scan of a black-and-white or sepia print) get a fill in their
own tones: the networks learnt colour photos and would tint it. `tone_curve` tells such a photo and
gives the colour of each brightness; the pipeline keeps the fill's brightness and takes its colour
from the curve."""

from __future__ import annotations

import numpy as np

from .holes import hole_box

# A photo is monochrome when 99 % of its known pixels are within this many levels of the mean colour
# of their brightness (JPEG and scanner noise); colour photos in natural/ are 15 and more away.
TONE_TOLERANCE = 4

LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601, as Pillow's convert("L")


def tone_curve(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """For a monochrome photo (black and white, sepia, any print whose colour follows its brightness),
    the colour of each brightness, float (256, 3); None for a colour photo. Monochrome: 99 % of an even
    sample of at most about 100,000 known pixels (a colour photo is told from 2,000 of them), and 99 %
    of the known pixels around the holes, lie within TONE_TOLERANCE levels of the mean colour of their
    brightness. The second test keeps the colour of a small coloured thing in a mostly gray photo."""
    flat, known = rgb.reshape(-1, 3), ~mask.reshape(-1)
    k = max(1, mask.size // 2000)
    first = flat[::k][known[::k]]
    if not len(first) or _off_tone(first, _tone_fit(first)):
        return None
    step = max(1, round(np.sqrt(mask.size / 100_000)))
    sample = rgb[::step, ::step][~mask[::step, ::step]]
    curve = _tone_fit(sample)
    if _off_tone(sample, curve):
        return None
    rows, cols = hole_box(mask)
    # The holes' box, grown all round by half its larger side.
    box = hole_box(mask, (max(rows.stop - rows.start, cols.stop - cols.start) - 1) // 2 + 1)
    step = max(1, round(np.sqrt(mask[box].size / 100_000)))
    around = rgb[box][::step, ::step][~mask[box][::step, ::step]]
    if len(around) and _off_tone(around, curve):
        return None
    if np.abs(curve - curve.mean(axis=1, keepdims=True)).max() <= TONE_TOLERANCE / 2:  # gray, but for noise
        return np.repeat(np.arange(256, dtype=np.float64)[:, None], 3, axis=1)
    return curve


def luma(px: np.ndarray) -> np.ndarray:
    """Pixels (..., 3) -> their brightness, int 0-255."""
    return np.clip(np.rint(px.astype(np.float64) @ LUMA), 0, 255).astype(np.intp)


def _tone_fit(px: np.ndarray) -> np.ndarray:
    """uint8 (N, 3) pixels, N > 0 -> the mean colour of each brightness, float (256, 3), interpolated
    between the brightnesses the pixels have."""
    y = luma(px)
    count = np.bincount(y, minlength=256)
    seen = np.flatnonzero(count)
    return np.stack([np.interp(np.arange(256), seen, np.bincount(y, weights=px[:, c], minlength=256)[seen] / count[seen])
                     for c in range(3)], axis=1)


def _off_tone(px: np.ndarray, curve: np.ndarray) -> bool:
    """Whether more than 1 % of the pixels are further than TONE_TOLERANCE from `curve` in some channel."""
    off = np.abs(px - curve[luma(px)]).max(axis=1)
    return np.count_nonzero(off > TONE_TOLERANCE) > 0.01 * len(px)
