"""Side-by-side pictures for reviewing a fill: the photo with its hole shown, the result, close-ups.

Images here are uint8 (H, W, 3) arrays; masks are bool (H, W), True = hole.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

HOLE_COLOUR = (255, 0, 255)
GAP = 6


def show_holes(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A copy of the photo with the hole painted magenta."""
    shown = rgb.copy()
    shown[mask] = HOLE_COLOUR
    return shown


def close_up_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """A square (x0, y0, x1, y1) around the largest hole with a margin of a quarter of its size, inside the photo."""
    from scipy import ndimage

    labels, n = ndimage.label(mask)
    largest = np.argmax(np.bincount(labels.ravel(), minlength=n + 1)[1:]) + 1 if n else 0
    ys, xs = np.nonzero(labels == largest) if n else (np.array([0, mask.shape[0] - 1]), np.array([0, mask.shape[1] - 1]))
    h, w = mask.shape
    side = min(max(48, int(1.5 * (max(np.ptp(ys), np.ptp(xs)) + 1))), h, w)
    cy, cx = (ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2
    y0 = int(np.clip(cy - side // 2, 0, h - side))
    x0 = int(np.clip(cx - side // 2, 0, w - side))
    return x0, y0, x0 + side, y0 + side


def resized(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    """`im` at `size`: enlarged close-ups keep their pixels visible; reductions are filtered."""
    if im.size == size:
        return im
    enlarging = size[0] > im.width
    return im.resize(size, Image.Resampling.NEAREST if enlarging else Image.Resampling.LANCZOS)


def font(size: int):
    """Pillow's default font at `size` px, or its small bitmap font where Pillow was built without FreeType."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):
        return ImageFont.load_default()


def comparison_row(before: np.ndarray, after: np.ndarray, mask: np.ndarray, height: int) -> Image.Image:
    """One row `height` pixels high: before (hole in magenta) | after | close-up before | close-up after."""
    shown = show_holes(before, mask)
    width = max(1, round(before.shape[1] * height / before.shape[0]))
    box = close_up_box(mask)
    tiles = [resized(Image.fromarray(a), (width, height)) for a in (shown, after)]
    tiles += [resized(Image.fromarray(a).crop(box), (height, height)) for a in (shown, after)]
    row = Image.new("RGB", (sum(t.width for t in tiles) + GAP * (len(tiles) - 1), height), "white")
    x = 0
    for t in tiles:
        row.paste(t, (x, 0))
        x += t.width + GAP
    return row


def compare_figure(before: np.ndarray, after: np.ndarray, mask: np.ndarray, max_height: int = 512) -> Image.Image:
    """What `restore run --concat` writes: a labelled comparison row at the photo's height, at most `max_height`."""
    height = min(before.shape[0], max_height)
    row = comparison_row(before, after, mask, max(height, 64))
    canvas = Image.new("RGB", (row.width, row.height + 16), "white")
    ImageDraw.Draw(canvas).text((4, 2), "input (hole in magenta) | restored | close-up before | after", fill="black")
    canvas.paste(row, (0, 16))
    return canvas
