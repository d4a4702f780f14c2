"""Holes: drawing random ones (the paper's rectangles, free-form strokes, object-shaped blobs) and
their geometry (bounding box, growing).

A mask is a boolean (H, W) numpy array, True = hole.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

PAPER_SIZE = 64


def hole_box(mask: np.ndarray, margin: int = 0) -> tuple[slice, slice]:
    """(rows, columns) of the box holding every hole pixel of a mask with holes, grown by `margin`
    on every side and clipped to the mask."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    return (slice(max(int(rows[0]) - margin, 0), min(int(rows[-1]) + 1 + margin, h)),
            slice(max(int(cols[0]) - margin, 0), min(int(cols[-1]) + 1 + margin, w)))


def grow(mask: np.ndarray, pixels: int) -> np.ndarray:
    """The hole grown by `pixels` in every direction (Euclidean distance), to swallow an object's halo."""
    if pixels <= 0 or not mask.any():
        return mask
    from scipy import ndimage

    box = hole_box(mask, pixels)
    out = mask.copy()
    # Only the hole's bounding box plus the margin can change: the distance transform stays small.
    out[box] = ndimage.distance_transform_edt(~mask[box]) <= pixels
    return out


def paper_mask(rng: np.random.Generator, height: int = PAPER_SIZE, width: int = PAPER_SIZE) -> np.ndarray:
    """A paper-style rectangle drawn in a 64x64 frame and scaled to height x width."""
    y, x, h, w = _rectangles(rng, 1)[0]
    sx, sy = width / PAPER_SIZE, height / PAPER_SIZE
    x0, x1 = int(np.floor(x * sx)), int(np.ceil((x + w) * sx))
    y0, y1 = int(np.floor(y * sy)), int(np.ceil((y + h) * sy))
    mask = np.zeros((height, width), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def _rectangles(rng: np.random.Generator, n: int) -> np.ndarray:
    """n of the paper's holes in a 64x64 frame as rows (top, left, height, width).

    Height and width ~ U{10..20} px, the top-left corner ~ N(25, 10) per axis,
    rounded and clipped so the hole stays inside the frame.
    """
    hw = rng.integers(10, 21, size=(n, 2))
    yx = np.clip(np.rint(rng.normal(25, 10, size=(n, 2))).astype(int), 0, PAPER_SIZE - hw)
    return np.concatenate([yx, hw], axis=1)


def paper_masks(rng: np.random.Generator, n: int) -> np.ndarray:
    """n paper rectangles at 64x64 as an (n, 64, 64) bool array (vectorised)."""
    y, x, h, w = _rectangles(rng, n).T[:, :, None]
    idx = np.arange(PAPER_SIZE)[None]
    rows = (idx >= y) & (idx < y + h)
    cols = (idx >= x) & (idx < x + w)
    return rows[:, :, None] & cols[:, None, :]


def stroke_mask(
    rng: np.random.Generator, size: int = PAPER_SIZE, coverage: tuple[float, float] = (0.024, 0.10)
) -> np.ndarray:
    """A free-form brush-stroke hole covering a fraction of the image within ``coverage``."""
    lo, hi = coverage
    mask = np.zeros((size, size), dtype=bool)
    for _ in range(100):
        im = Image.new("L", (size, size), 0)
        draw = ImageDraw.Draw(im)
        for _ in range(int(rng.integers(1, 4))):
            x, y = rng.normal(size / 2, size / 5, size=2)
            width = int(rng.integers(max(2, size // 20), max(3, size // 9) + 1))
            points = [(float(x), float(y))]
            for _ in range(int(rng.integers(2, 6))):
                angle = rng.uniform(0, 2 * np.pi)
                length = rng.uniform(size / 16, size / 5)
                x = float(np.clip(x + length * np.cos(angle), 0, size - 1))
                y = float(np.clip(y + length * np.sin(angle), 0, size - 1))
                points.append((x, y))
            draw.line(points, fill=255, width=width, joint="curve")
        mask = np.asarray(im) > 127
        if lo <= mask.mean() <= hi:
            return mask
    return mask  # pragma: no cover - 100 misses in a row does not happen for sane coverage bounds


# --- holes for photos of any size (the native-size benchmark, training crops) ------------------

def rect_hole(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """The paper's hole scaled to an h x w photo: sides U{10..20}/64 of the short side, the top-left
    corner at N(25, 10)/64 of each side."""
    short = min(h, w)
    sh, sw = (rng.integers(10, 21, size=2) / 64 * short).round().astype(int)
    y = int(np.clip(round(rng.normal(25, 10) / 64 * h), 0, h - sh))
    x = int(np.clip(round(rng.normal(25, 10) / 64 * w), 0, w - sw))
    mask = np.zeros((h, w), bool)
    mask[y : y + sh, x : x + sw] = True
    return mask


def _ellipse(cx: float, cy: float, a: float, b: float, angle: float, n: int = 48) -> list[tuple[float, float]]:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x, y = a * np.cos(t), b * np.sin(t)
    c, s = np.cos(angle), np.sin(angle)
    return list(zip((cx + c * x - s * y).tolist(), (cy + s * x + c * y).tolist(), strict=True))


def blob_hole(rng: np.random.Generator, h: int, w: int, coverage: tuple[float, float] = (0.06, 0.15)) -> np.ndarray:
    """A union of ellipses around one centre, rescaled until it covers `coverage` of the photo."""
    target = rng.uniform(*coverage)
    cx, cy = rng.uniform(0.25, 0.75) * w, rng.uniform(0.25, 0.75) * h
    parts = []
    for _ in range(int(rng.integers(2, 6))):
        parts.append((rng.normal(0, 0.35), rng.normal(0, 0.35), rng.uniform(0.4, 1.0), rng.uniform(0.25, 0.8),
                      rng.uniform(0, np.pi)))
    scale = np.sqrt(target * h * w / np.pi)  # a disc of the target area, to start from
    for _ in range(12):  # the union's area is not a closed form: rescale until it lands in range
        im = Image.new("L", (w, h), 0)
        draw = ImageDraw.Draw(im)
        for dx, dy, a, b, ang in parts:
            draw.polygon(_ellipse(cx + dx * scale, cy + dy * scale, a * scale, b * scale, ang), fill=255)
        mask = np.asarray(im) > 127
        got = mask.mean()
        if coverage[0] <= got <= coverage[1] or got == 0:
            break
        scale *= np.sqrt(target / got)
    return mask


def stroke_hole(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """1-3 free-form brush strokes, 1.5-4 % of the short side wide, of 2-5 segments each."""
    short = min(h, w)
    im = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(1, 4))):
        width = max(2, int(round(rng.uniform(0.015, 0.04) * short)))
        x, y = rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h
        points = [(x, y)]
        for _ in range(int(rng.integers(2, 6))):
            angle, length = rng.uniform(0, 2 * np.pi), rng.uniform(0.08, 0.3) * short
            x = float(np.clip(x + length * np.cos(angle), 0, w - 1))
            y = float(np.clip(y + length * np.sin(angle), 0, h - 1))
            points.append((x, y))
        draw.line(points, fill=255, width=width, joint="curve")
    return np.asarray(im) > 127
