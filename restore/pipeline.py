"""Photo + mask -> restored photo, at any size, batched across photos and holes.

The networks work at 64x64. For every hole (connected component; holes close
together are merged) a window of about `context` times the hole's size is cut
around it, brought to 64x64, inpainted, brought back, and only that hole's
pixels are written into the untouched original. Windows are never enlarged
beyond native resolution: a small hole in a big photo is seen at 64x64 pixels
of its real surroundings, as during training.

The photo's own pixels under the mask are never read: before a window is
scaled down, it is filtered from its known pixels only, since
a scaling filter would otherwise carry the hole's old content (the object being
removed, or the truth in a benchmark) into the known ring around the hole.
When a fill is scaled back up, its mismatch with the known full-resolution
pixels along the hole's border is spread into the hole, so it joins them
without a seam.

A monochrome photo stored as RGB (a scan of a black-and-white or sepia print) gets a fill in
its own tones: the networks learnt colour photos and would tint it.

Every pixel outside the mask is returned exactly as it was read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from .masks import hole_box
from .residual import resize_float

SIZE = 64
JOIN_GRID = 256  # the largest grid the border mismatch of a scaled-up fill is spread on
JOIN_PIXELS = 1 << 22  # window pixels scaled up and joined at once (float32 RGB: 50 MB an array)
MANY_HOLES = 256  # more separate holes than this are grouped in one pass over the mask, not one by one
DETAIL_FROM = 1.5  # windows downscaled by more than this get their detail back (residual.py)
# A photo is monochrome when 99 % of its known pixels are within this many levels of the mean colour
# of their brightness (JPEG and scanner noise); colour photos in natural/ are 15 and more away.
TONE_TOLERANCE = 4


@dataclass
class Window:
    item: int  # index of the photo in the batch
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the photo
    paste: np.ndarray  # bool (y1-y0, x1-x0): the hole pixels this window fills
    image: np.ndarray  # uint8 (64, 64, 3)
    mask: np.ndarray  # bool (64, 64): every hole pixel inside the window

    @property
    def scaled(self) -> bool:
        """Whether the window is brought to 64x64 from another size (and its fill back to it)."""
        x0, y0, x1, y1 = self.box
        return (x1 - x0, y1 - y0) != (SIZE, SIZE)


def hole_groups(mask: np.ndarray, merge_px: int | None = None) -> list[np.ndarray]:
    """Boolean masks, one per group of hole pixels; holes within `merge_px` of each other share a group
    (their dilations by `merge_px` touch)."""
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
    if n == 1:
        return [mask]
    groups = []
    for i, (sy, sx) in enumerate(ndimage.find_objects(labels), start=1):
        g = np.zeros_like(mask)
        g[y0 + sy.start : y0 + sy.stop, x0 + sx.start : x0 + sx.stop] = labels[sy, sx] == i
        groups.append(g)
    return groups


def _place(center: float, side: int, limit: int) -> tuple[int, int]:
    """A span of `side` pixels centred on `center`, shifted to lie inside [0, limit)."""
    side = min(side, limit)
    start = int(np.clip(round(center - side / 2), 0, limit - side))
    return start, start + side


def _tiles(group: np.ndarray, context: float, tile_thin: bool = True) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
    """Windows (x0, y0, x1, y1) for one hole group, each with the group pixels it fills.

    A compact hole gets one window of `context` times its size. A long thin hole (a scratch)
    would then be shrunk to a hairline at 64x64, so with `tile_thin` it is cut into cells instead,
    each filled from a window of `context` times the hole's thickness centred on the cell.
    """
    from scipy import ndimage

    h, w = group.shape
    rows, cols = hole_box(group)
    y0, y1, x0, x1 = rows.start, rows.stop, cols.start, cols.stop
    whole = max(int(np.ceil(context * max(y1 - y0, x1 - x0))), SIZE)
    thickness = 2 * float(ndimage.distance_transform_edt(np.pad(group[y0:y1, x0:x1], 1)).max())
    side = max(int(np.ceil(context * thickness)), SIZE)
    if side * 2 >= whole or not tile_thin:  # compact enough (or tiles not wanted): one window
        short = min(h, w)
        if whole >= short and max(y1 - y0, x1 - x0) <= short:
            # A window as wide as the photo's short side: the square of that side, centred on the
            # photo as far as the hole allows. Models see a whole photo as they learnt it (shorter
            # side to 64, centre crop), not stretched, nor shifted to wherever the hole is.
            top = int(np.clip((h - short) // 2, y1 - short, y0))
            left = int(np.clip((w - short) // 2, x1 - short, x0))
            return [((left, top, left + short, top + short), group[top : top + short, left : left + short])]
        (left, right), (top, bottom) = _place((x0 + x1) / 2, whole, w), _place((y0 + y1) / 2, whole, h)
        return [((left, top, right, bottom), group[top:bottom, left:right])]
    core = side // 2
    tiles = []
    for cy in range(y0, y1, core):
        for cx in range(x0, x1, core):
            cell = group[cy : cy + core, cx : cx + core]
            if not cell.any():
                continue
            (left, right) = _place(cx + cell.shape[1] / 2, side, w)
            (top, bottom) = _place(cy + cell.shape[0] / 2, side, h)
            paste = np.zeros((bottom - top, right - left), bool)
            paste[cy - top : cy - top + cell.shape[0], cx - left : cx - left + cell.shape[1]] = cell
            tiles.append(((left, top, right, bottom), paste))
    return tiles


def smooth_fill(values: np.ndarray, known: np.ndarray, limit: int | None = None) -> np.ndarray:
    """float (H, W, C) -> the same with every pixel where `known` is False interpolated smoothly
    from the known ones (push-pull, models.seam_fill); known pixels come back unchanged.
    A stack of N arrays of one size, (N, H, W, C) with `known` (N, H, W), is filled in one pass.

    With `limit`, a larger array is interpolated on a grid of at most `limit` cells a side
    (each cell the mean of its known pixels, weighted by their share) and scaled back up.
    """
    import torch
    import torch.nn.functional as F

    from .models import seam_fill

    one = values.ndim == 3
    if one:
        values, known = values[None], known[None]
    h, w = known.shape[1:]
    v = torch.from_numpy(np.ascontiguousarray(values.transpose(0, 3, 1, 2), dtype=np.float32))
    k = torch.from_numpy(known.astype(np.float32))[:, None]
    with torch.inference_mode():
        step = -(-max(h, w) // limit) if limit else 1
        if step > 1:
            share = F.avg_pool2d(k, step, ceil_mode=True)
            mean = F.avg_pool2d(v * k, step, ceil_mode=True) / share.clamp_min(1e-6)
            small = seam_fill(mean, share)
            out = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
            out = np.where(known[..., None], values, out.numpy().transpose(0, 2, 3, 1))
        else:  # push-pull returns the known pixels exactly as they were
            out = seam_fill(v, k).numpy().transpose(0, 2, 3, 1)
    return out[0] if one else out


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
    tiles = [((0, 0, w, h), mask)] if (h, w) == (SIZE, SIZE) else [t for g in hole_groups(mask) for t in _tiles(g, context, tile_thin)]
    windows: dict[tuple[int, int, int, int], Window] = {}  # by box
    for box, paste in tiles:
        if box in windows:  # the same window for another hole group: fill both at once
            windows[box].paste = windows[box].paste | paste
            continue
        x0, y0, x1, y1 = box
        crop, crop_mask = rgb[y0:y1, x0:x1], mask[y0:y1, x0:x1]
        if crop.shape[:2] != (SIZE, SIZE):
            crop = _shrink_known(crop, crop_mask)  # every window holds hole pixels: its own group's
            # A 64x64 pixel that covers any hole pixel is a hole: no unknown colour leaks into the context.
            m = Image.fromarray(crop_mask.astype(np.float32)).resize((SIZE, SIZE), Image.Resampling.BOX)
            crop_mask = np.asarray(m) > 0
        windows[box] = Window(item, box, paste, crop, crop_mask)
    return list(windows.values())


class Restorer:
    """Runs an Inpainter over uint8 photos with bool masks, batching windows across photos."""

    def __init__(self, model, device="cpu", batch_size: int = 64, context: float | None = None,
                 detail: bool | None = None, mirror: bool | None = None, tile_thin: bool | None = None):
        """`context`, `detail`, `mirror` and `tile_thin` default to the model's own (its config's); `detail`
        adds the full-resolution detail of the known part into holes filled from downscaled windows
        (residual.py); `mirror` fills each downscaled window also mirrored and averages the two fills;
        `tile_thin` fills thin holes from windows at native resolution along them (`_tiles`)."""
        import torch

        self.torch = torch
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        if self.device.type == "cpu":
            # channels_last is ~2x faster for these convolutions with oneDNN on CPU.
            self.model = self.model.to(memory_format=torch.channels_last)
        self.batch_size = max(1, batch_size)
        self.context = context if context is not None else model.cfg.context
        self.detail = detail if detail is not None else model.cfg.detail
        self.mirror = mirror if mirror is not None else model.cfg.mirror
        self.tile_thin = tile_thin if tile_thin is not None else model.cfg.tile_thin

    def infer(self, images: np.ndarray, masks: np.ndarray, with_coarse: bool = False, paste: bool = True):
        """64x64 batches: uint8 (N,64,64,3) + bool (N,64,64) -> uint8 refined (and coarse) outputs.

        ``paste=False`` gives the refiner's raw output, known pixels included.
        """
        torch = self.torch
        from .metrics import to_uint8

        refined, coarse = [], []
        with torch.inference_mode():
            for i in range(0, len(images), self.batch_size):
                x = torch.from_numpy(np.ascontiguousarray(images[i : i + self.batch_size])).to(self.device)
                x = x.permute(0, 3, 1, 2).float().div_(127.5).sub_(1)
                if self.device.type == "cpu":
                    x = x.contiguous(memory_format=torch.channels_last)
                m = torch.from_numpy(np.ascontiguousarray(masks[i : i + self.batch_size])).to(self.device)
                m = m[:, None].float()
                c, r = self.model(x, m, paste=paste)
                refined.append(to_uint8(r))
                if with_coarse:
                    coarse.append(to_uint8(c))
        refined = np.concatenate(refined) if refined else np.zeros((0, SIZE, SIZE, 3), np.uint8)
        if with_coarse:
            return refined, (np.concatenate(coarse) if coarse else refined.copy())
        return refined

    def restore_many(self, items: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """[(rgb uint8 HxWx3, mask bool HxW)] -> restored rgb arrays; pixels outside masks untouched."""
        windows = [w for i, (rgb, mask) in enumerate(items) for w in make_windows(i, rgb, mask, self.context, self.tile_thin)]
        outs = [rgb.copy() for rgb, _ in items]
        if not windows:
            return outs
        images, masks = np.stack([w.image for w in windows]), np.stack([w.mask for w in windows])
        # With `mirror`, a window scaled down from the photo is filled twice, as it is and mirrored,
        # and the two fills averaged: a steadier coarse estimate of a large hole. Windows at native
        # size (64x64 photos, thin strokes), where the model's pass is most of the time, are filled once.
        scaled = [i for i, w in enumerate(windows) if self.mirror and w.scaled]
        if scaled:
            images = np.concatenate([images, images[scaled, :, ::-1]])
            masks = np.concatenate([masks, masks[scaled, :, ::-1]])
        filled = self.infer(images, masks)
        mirrored = dict(zip(scaled, filled[len(windows) :], strict=True))
        # Windows scaled down are scaled back up and joined to their borders a chunk at a time, windows
        # of one size (a folder of same-size photos) together, so that memory holds one chunk's
        # full-size arrays: a few faces, or one window of a large photo.
        by_size: dict[tuple[int, int], list[tuple[Window, np.ndarray]]] = {}
        for i, (w, f) in enumerate(zip(windows, filled[: len(windows)], strict=True)):
            x0, y0, x1, y1 = w.box
            if not w.scaled:
                outs[w.item][y0:y1, x0:x1][w.paste] = f[w.paste]
                continue
            f = (f.astype(np.float32) + mirrored[i][:, ::-1]) / 2 if i in mirrored else f.astype(np.float32)
            by_size.setdefault((x1 - x0, y1 - y0), []).append((w, f))
        for (bw, bh), group in by_size.items():
            per = max(1, JOIN_PIXELS // (bw * bh))
            for start in range(0, len(group), per):
                chunk = group[start : start + per]
                ups = [self._scale_up(f, *items[w.item], w.box) for w, f in chunk]
                joined = self._join(ups, [items[w.item] for w, _ in chunk], [w.box for w, _ in chunk])
                del ups
                for (w, _), f in zip(chunk, joined, strict=True):
                    x0, y0, x1, y1 = w.box
                    outs[w.item][y0:y1, x0:x1][w.paste] = np.clip(np.rint(f[w.paste]), 0, 255).astype(np.uint8)
        for out, (rgb, mask) in zip(outs, items, strict=True):
            curve = tone_curve(rgb, mask) if mask.any() else None
            if curve is not None:  # a monochrome photo: the fill takes the photo's colour for its brightness
                out[mask] = np.clip(np.rint(curve[luma(out[mask])]), 0, 255).astype(np.uint8)
        return outs

    def _scale_up(self, fill: np.ndarray, rgb: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int]):
        """A window's 64x64 fill (float) at the window's size, with the known part's detail under `detail`."""
        x0, y0, x1, y1 = box
        if self.detail and max(y1 - y0, x1 - x0) > DETAIL_FROM * SIZE:
            from .residual import aggregate

            sharp = aggregate(rgb[y0:y1, x0:x1], mask[y0:y1, x0:x1], fill)
            if sharp is not None:
                return sharp
        return resize_float(fill, (x1 - x0, y1 - y0))

    @staticmethod
    def _join(ups: list[np.ndarray], photos: list[tuple[np.ndarray, np.ndarray]],
              boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
        """Scaled-up fills (float, all of one window size), each corrected by its mismatch with the known
        pixels of its window, spread smoothly into the hole: a 64x64 fill is right in its coarse shape
        but off along the border, where the full-resolution photo says exactly what the colours are.
        A single fill is corrected in place."""
        known = np.stack([~mask[y0:y1, x0:x1] for (_, mask), (x0, y0, x1, y1) in zip(photos, boxes, strict=True)])
        up = ups[0][None] if len(ups) == 1 else np.stack(ups)
        error = np.stack([rgb[y0:y1, x0:x1] for (rgb, _), (x0, y0, x1, y1) in zip(photos, boxes, strict=True)])
        error = error.astype(np.float32)
        error -= up
        error[~known] = 0
        # The fill is 64x64, so its mismatch varies slowly: a grid of 256 a side holds it. A window
        # with nothing known has nothing to join (its mismatch stays 0).
        some = known.any(axis=(1, 2))
        if some.all():
            up += smooth_fill(error, known, limit=JOIN_GRID)
        elif some.any():
            up[some] += smooth_fill(error[some], known[some], limit=JOIN_GRID)
        return up

    def restore(self, rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.restore_many([(rgb, mask)])[0]
