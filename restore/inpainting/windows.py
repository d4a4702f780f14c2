"""Windows: the 64x64 views of a photo that the networks fill, cut around each group of holes.

For every hole (connected component; holes close together are merged) a window of about
`context` times the hole's size is cut around it and brought to 64x64. Windows are never
enlarged beyond native resolution: a small hole in a big photo is seen at 64x64 pixels of its
real surroundings, as during training. A long thin hole (a scratch) is cut into cells, each
with its own window at native resolution along it. Where such a hole is thick enough for the
border between two cells to show (BLEND_FROM), each window also carries a weight that is 1 on its
cell and falls to 0 half a cell beyond it, and the fills of neighbouring cells are blended there.

The photo's own pixels under the mask are never read: before a window is scaled down, it is
filtered from its known pixels only, since a scaling filter would otherwise carry the hole's old
content (the object being removed, or the truth in a benchmark) into the known ring around it.

Arrays: uint8 (H, W, 3) photos, bool (H, W) masks (True = hole).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from .holes import hole_box

SIZE = 64
MANY_HOLES = 256  # more separate holes than this are grouped in one pass over the mask, not one by one
# Holes at least this thick (px) that are cut into cells get their cells' fills blended across the cells' borders:
# filled each from its own window, cells meet in a visible line (a person-shaped hole 551 px wide in a 4000x3000
# photo: a step of 10 gray levels across the fill). Thinner cells (scratches) keep their hard borders, a few
# pixels long, and need no buffers of their own.
BLEND_FROM = 64


@dataclass
class Window:
    item: int  # index of the photo in the batch
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the photo
    paste: np.ndarray  # bool (y1-y0, x1-x0): the hole pixels this window fills
    image: np.ndarray  # uint8 (64, 64, 3)
    mask: np.ndarray  # bool (64, 64): every hole pixel inside the window
    # float (y1-y0, x1-x0) for a cell of a thick hole: the weight of this window's fill at each hole pixel of its box,
    # blended with its neighbours' (1 on its cell, falling to 0 half a cell beyond); None: `paste` is written as it is
    weight: np.ndarray | None = None

    @property
    def scaled(self) -> bool:
        """Whether the window is brought to 64x64 from another size (and its fill back to it)."""
        x0, y0, x1, y1 = self.box
        return (x1 - x0, y1 - y0) != (SIZE, SIZE)


@dataclass
class HoleGroup:
    """One group of hole pixels, kept inside its own bounding box: a photo of many megapixels with a
    hundred scratches would otherwise hold a hundred masks of its own size."""

    shape: tuple[int, int]  # the photo's (H, W)
    top: int
    left: int
    local: np.ndarray  # bool: the group's pixels in its box, rows top.. and columns left..

    def region(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """bool (y1-y0, x1-x0): the group's pixels inside that region of the photo."""
        out = np.zeros((y1 - y0, x1 - x0), bool)
        lh, lw = self.local.shape
        ty0, ty1 = max(y0, self.top), min(y1, self.top + lh)
        tx0, tx1 = max(x0, self.left), min(x1, self.left + lw)
        if ty0 < ty1 and tx0 < tx1:
            out[ty0 - y0 : ty1 - y0, tx0 - x0 : tx1 - x0] = self.local[ty0 - self.top : ty1 - self.top,
                                                                       tx0 - self.left : tx1 - self.left]
        return out

    def full(self) -> np.ndarray:
        """bool (H, W): the group as a mask of the whole photo."""
        return self.region(0, self.shape[0], 0, self.shape[1])


def hole_groups(mask: np.ndarray, merge_px: int | None = None) -> list[HoleGroup]:
    """The groups of hole pixels; holes within `merge_px` of each other share a group (their dilations by
    `merge_px` touch)."""
    from scipy import ndimage

    if merge_px is None:
        merge_px = max(2, min(mask.shape) // 64)
    r = max(merge_px, 0)
    if not mask.any():
        return []
    # Everything happens inside the holes' bounding box grown by r, which holds every dilation.
    box = hole_box(mask, r)
    y0, x0 = box[0].start, box[1].start
    crop = mask[box]
    labels, n = ndimage.label(crop)
    if n > 1 and r:
        if n <= MANY_HOLES:
            # Each hole grown inside its own box grown by r, which holds its dilation whole.
            grown = np.zeros_like(crop)
            for i, (sy, sx) in enumerate(ndimage.find_objects(labels), start=1):
                sy = slice(max(sy.start - r, 0), sy.stop + r)
                sx = slice(max(sx.start - r, 0), sx.stop + r)
                grown[sy, sx] |= ndimage.binary_dilation(labels[sy, sx] == i, iterations=r)
        else:  # thousands of specks: one pass over the box
            grown = ndimage.binary_dilation(crop, iterations=r)
        labels, n = ndimage.label(grown)
        labels[~crop] = 0
    groups = []
    for i, found in enumerate(ndimage.find_objects(labels), start=1):
        if found is None:
            continue
        sy, sx = found
        groups.append(HoleGroup(mask.shape, y0 + sy.start, x0 + sx.start, labels[sy, sx] == i))
    return groups


def _place(center: float, side: int, limit: int) -> tuple[int, int]:
    """A span of `side` pixels centred on `center`, shifted to lie inside [0, limit)."""
    side = min(side, limit)
    start = int(np.clip(round(center - side / 2), 0, limit - side))
    return start, start + side


def _tiles(group: HoleGroup, context: float, tile_thin: bool = True,
           ) -> list[tuple[tuple[int, int, int, int], np.ndarray, np.ndarray | None]]:
    """Windows (x0, y0, x1, y1) for one hole group, each with the group pixels it fills, and its blending weight.

    A compact hole gets one window of `context` times its size. A long thin hole (a scratch)
    would then be shrunk to a hairline at 64x64, so with `tile_thin` it is cut into cells instead,
    each filled from a window of `context` times the hole's thickness centred on the cell; cells of a
    hole at least BLEND_FROM thick are blended into each other (the weight; None where not).
    """
    from scipy import ndimage

    h, w = group.shape
    y0, x0 = group.top, group.left
    y1, x1 = y0 + group.local.shape[0], x0 + group.local.shape[1]
    whole = max(int(np.ceil(context * max(y1 - y0, x1 - x0))), SIZE)
    thickness = 2 * float(ndimage.distance_transform_edt(np.pad(group.local, 1)).max())
    side = max(int(np.ceil(context * thickness)), SIZE)
    if side * 2 >= whole or not tile_thin:  # compact enough (or tiles not wanted): one window
        short = min(h, w)
        if whole >= short and max(y1 - y0, x1 - x0) <= short:
            # A window as wide as the photo's short side: the square of that side, centred on the
            # photo as far as the hole allows. Models see a whole photo as they learnt it (shorter
            # side to 64, centre crop), not stretched, nor shifted to wherever the hole is.
            top = int(np.clip((h - short) // 2, y1 - short, y0))
            left = int(np.clip((w - short) // 2, x1 - short, x0))
            return [((left, top, left + short, top + short), group.region(top, top + short, left, left + short), None)]
        (left, right), (top, bottom) = _place((x0 + x1) / 2, whole, w), _place((y0 + y1) / 2, whole, h)
        return [((left, top, right, bottom), group.region(top, bottom, left, right), None)]
    core = side // 2
    ramp = max(1, core // 4) if thickness >= BLEND_FROM else 0
    tiles = []
    for cy in range(y0, y1, core):
        for cx in range(x0, x1, core):
            cell = group.region(cy, min(cy + core, h), cx, min(cx + core, w))
            if not cell.any():
                continue
            (left, right) = _place(cx + cell.shape[1] / 2, side, w)
            (top, bottom) = _place(cy + cell.shape[0] / 2, side, h)
            paste = np.zeros((bottom - top, right - left), bool)
            paste[cy - top : cy - top + cell.shape[0], cx - left : cx - left + cell.shape[1]] = cell
            weight = None
            if ramp:  # 1 on the cell, falling linearly to 0 at `ramp` beyond it; on the group's pixels only
                ys, xs = np.arange(top, bottom), np.arange(left, right)
                beyond_y = np.maximum(np.maximum(cy - ys, ys - (cy + cell.shape[0] - 1)), 0)
                beyond_x = np.maximum(np.maximum(cx - xs, xs - (cx + cell.shape[1] - 1)), 0)
                wy, wx = np.clip(1 - beyond_y / ramp, 0, 1), np.clip(1 - beyond_x / ramp, 0, 1)
                weight = (wy[:, None] * wx[None, :]).astype(np.float32) * group.region(top, bottom, left, right)
            tiles.append(((left, top, right, bottom), paste, weight))
    return tiles


def resize_float(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """float (H, W, C) -> float (size[1], size[0], C), bicubic per channel, no clipping."""
    return np.stack([np.asarray(Image.fromarray(a[..., c]).resize(size, Image.Resampling.BICUBIC))
                     for c in range(a.shape[2])], axis=-1)


def _shrink_known(crop: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """`crop` brought to 64x64 from its known pixels only (uint8). The bicubic filter is normalised
    by the known pixels' share of each output pixel's weights, so nothing of the hole's own content
    reaches the known pixels next to it; where the known share is small the pixel is a hole anyway
    (a window with nothing known comes out black, the model's empty input)."""
    known = (~hole).astype(np.float32)[..., None]
    values = resize_float(crop.astype(np.float32) * known, (SIZE, SIZE))
    share = resize_float(known, (SIZE, SIZE))
    out = values / np.where(share > 0.25, share, 1)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def make_windows(item: int, rgb: np.ndarray, mask: np.ndarray, context: float = 3.0, tile_thin: bool = True) -> list[Window]:
    """The 64x64 windows to inpaint for one photo (uint8 HxWx3, bool HxW); hole pixels are never read."""
    if not mask.any():
        return []
    h, w = mask.shape
    # Every window of a 64x64 photo is the whole photo: one pass fills every hole.
    tiles = ([((0, 0, w, h), mask, None)] if (h, w) == (SIZE, SIZE)
             else [t for g in hole_groups(mask) for t in _tiles(g, context, tile_thin)])
    windows: dict[tuple[int, int, int, int], Window] = {}  # by box
    for box, paste, weight in tiles:
        if box in windows:  # the same window for another hole group: fill both at once
            other = windows[box]
            if weight is not None or other.weight is not None:  # (the groups' pixels are apart: weights add)
                other.weight = ((other.paste.astype(np.float32) if other.weight is None else other.weight)
                                + (paste.astype(np.float32) if weight is None else weight))
            other.paste = other.paste | paste
            continue
        x0, y0, x1, y1 = box
        crop, crop_mask = rgb[y0:y1, x0:x1], mask[y0:y1, x0:x1]
        if crop.shape[:2] != (SIZE, SIZE):
            crop = _shrink_known(crop, crop_mask)  # every window holds hole pixels: its own group's
            # A 64x64 pixel that covers any hole pixel is a hole: no unknown colour leaks into the context.
            m = Image.fromarray(crop_mask.astype(np.float32)).resize((SIZE, SIZE), Image.Resampling.BOX)
            crop_mask = np.asarray(m) > 0
        windows[box] = Window(item, box, paste, crop, crop_mask, weight)
    return list(windows.values())
