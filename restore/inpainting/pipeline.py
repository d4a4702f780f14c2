"""Photo + mask -> restored photo, at any size, batched across photos and holes.

The networks work at 64x64. For every hole (connected component; holes close
together are merged) a window of about `context` times the hole's size is cut
around it, brought to 64x64 (windows.py), inpainted, brought back, and only that hole's
pixels are written into the untouched original. Windows are never enlarged
beyond native resolution: a small hole in a big photo is seen at 64x64 pixels
of its real surroundings, as during training.

The photo's own pixels under the mask are never read (windows.py). When a fill
is scaled back up, its mismatch with the known full-resolution pixels along the
hole's border is spread into the hole, so it joins them without a seam.

A monochrome photo stored as RGB (a scan of a black-and-white or sepia print) gets a fill in
its own tones: the networks learnt colour photos and would tint it (tone.py).

Every pixel outside the mask is returned exactly as it was read.
"""

from __future__ import annotations

import numpy as np

from .tone import luma, tone_curve
from .windows import SIZE, Window, make_windows, resize_float

JOIN_GRID = 256  # the largest grid the border mismatch of a scaled-up fill is spread on
JOIN_PIXELS = 1 << 22  # window pixels scaled up and joined at once (float32 RGB: 50 MB an array)
# Windows downscaled by more than this get their detail back (detail.py). 1.0: every window
# brought down to 64x64. It was 1.5; on the monitor photos (never val; `restore bench --size native
# --photos MONITOR --masks-per-photo 3 --no-classical`), `celeba` hole-crop LPIPS went .0488 ->
# .0456 on rectangles and .0727 -> .0667 on blobs (-0.06 / -0.03 dB), `photo` .0281 -> .0278 on
# strokes and the same on rectangles and blobs, whose windows are larger.
DETAIL_FROM = 1.0
# A window at native resolution (64x64 cut from a larger photo: thin strokes, small holes) has no
# detail lost on the way down, but the model's fill is still softer than the photo: under `detail`
# it is kept up to 40x40 and the finer band borrowed. Monitor photos (as above), `photo`, strokes,
# hole-crop LPIPS / hole PSNR: none .0278 / 21.87; kept to 48 .0271 / 21.82; 40 .0266 / 21.79; 32
# .0263 / 21.73; 16 .0259 / 21.51. Below 40 it costs more PSNR for each LPIPS gained than the
# softmax scale passed up above (detail.py).
# 64x64 photos (the paper's benchmark, judged by SSIM) are left as the model fills them.
NATIVE_BAND = 40


def smooth_fill(values: np.ndarray, known: np.ndarray, limit: int | None = None) -> np.ndarray:
    """float (H, W, C) -> the same with every pixel where `known` is False interpolated smoothly
    from the known ones (push-pull, networks.seam_fill); known pixels come back unchanged.
    A stack of N arrays of one size, (N, H, W, C) with `known` (N, H, W), is filled in one pass.

    With `limit`, a larger array is interpolated on a grid of at most `limit` cells a side
    (each cell the mean of its known pixels, weighted by their share) and scaled back up.
    """
    import torch
    import torch.nn.functional as F

    from .networks import seam_fill

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


class _Blend:
    """The fills of the cells of thick holes (windows with a weight, windows.py), summed by weight over the box that
    holds all of a photo's such windows, and written as their weighted mean: neighbouring cells meet without a line."""

    def __init__(self, windows: list[Window]):
        self.boxes: dict[int, tuple[int, int, int, int]] = {}
        for w in windows:
            if w.weight is not None:
                x0, y0, x1, y1 = w.box
                b = self.boxes.get(w.item, w.box)
                self.boxes[w.item] = (min(b[0], x0), min(b[1], y0), max(b[2], x1), max(b[3], y1))
        self.sums: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def add(self, w: Window, fill: np.ndarray) -> None:
        bx0, by0, bx1, by1 = self.boxes[w.item]
        if w.item not in self.sums:
            self.sums[w.item] = (np.zeros((by1 - by0, bx1 - bx0, 3), np.float32), np.zeros((by1 - by0, bx1 - bx0), np.float32))
        total, weights = self.sums[w.item]
        x0, y0, x1, y1 = w.box
        part = (slice(y0 - by0, y1 - by0), slice(x0 - bx0, x1 - bx0))
        total[part] += w.weight[..., None] * fill
        weights[part] += w.weight

    def write(self, outs: list[np.ndarray]) -> None:
        for item, (total, weights) in self.sums.items():
            x0, y0, x1, y1 = self.boxes[item]
            some = weights > 0
            outs[item][y0:y1, x0:x1][some] = np.clip(np.rint(total[some] / weights[some][:, None]), 0, 255).astype(np.uint8)
        self.sums.clear()


class Restorer:
    """Runs an Inpainter over uint8 photos with bool masks, batching windows across photos."""

    def __init__(self, model, device="cpu", batch_size: int = 64, context: float | None = None,
                 detail: bool | None = None, mirror: bool | None = None, tile_thin: bool | None = None,
                 smooth_thin: float = 0.0, texture=None, blend_thin: bool | None = None, precision: str = "auto"):
        """`context`, `detail`, `mirror` and `tile_thin` default to the model's own (its config's); `detail`
        adds the full-resolution detail of the known part into the model's fills, beyond what a
        downscaled window kept or, at native resolution, beyond NATIVE_BAND (detail.py); `mirror`
        fills each downscaled window also mirrored and averages the two fills; `tile_thin` fills thin
        holes from windows at native resolution along them (`_tiles`); holes at most `smooth_thin` px
        thick are interpolated from their border instead of filled by the networks (thin.py; 0 = none);
        `texture` is a TextureNet run over the networks' fills at the photo's own resolution (texture.py), or
        None; the model's own (its config.json's "texture") is loaded by hub.load_texture. `blend_thin` (default
        on) averages a biharmonic interpolation into the fill of thin holes as the model's config says
        (its blend_thin, blend_weight, blend_sigma; thin.blend_smooth). `precision` is the arithmetic of both networks:
        float32, bfloat16, or auto (bfloat16 on a CPU that computes it natively; restore/precision.py)."""
        import torch

        from .. import precision as arithmetic

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
        self.smooth_thin = float(smooth_thin)
        self.blend_thin = (blend_thin is not False) and model.cfg.blend_thin > 0 and model.cfg.blend_weight < 1
        self.texture = texture.to(self.device).eval() if texture is not None else None
        if self.texture is not None and self.device.type == "cpu":  # as above: ~25 % faster on a blob's region
            self.texture = self.texture.to(memory_format=torch.channels_last)
        chosen = arithmetic.resolve(precision, self.device)
        for net in (self.model, self.texture):
            if net is not None:
                arithmetic.apply(net, chosen)

    @property
    def precision(self) -> str:
        """The arithmetic the model runs in now: set on the model itself, so a later Restorer of the same model
        with another precision changes this one's too (restore/precision.py)."""
        from .. import precision as arithmetic

        return arithmetic.of(self.model)

    def infer(self, images: np.ndarray, masks: np.ndarray, with_coarse: bool = False, paste: bool = True):
        """64x64 batches: uint8 (N,64,64,3) + bool (N,64,64) -> uint8 refined (and coarse) outputs.

        ``paste=False`` gives the refiner's raw output, known pixels included.
        """
        torch = self.torch
        from .networks import to_uint8

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
        if self.smooth_thin > 0:
            from .thin import fill_smooth, thin_part

            # Thin holes first, from the known pixels only; the networks then see them filled.
            parts = [thin_part(mask, self.smooth_thin) for _, mask in items]
            done = [fill_smooth(rgb, thin, ~mask) if thin.any() else rgb for (rgb, mask), thin in zip(items, parts, strict=True)]
            rest = self._restore_networks([(d, mask & ~thin) for d, (_, mask), thin in zip(done, items, parts, strict=True)])
            for out, (rgb, mask), thin in zip(rest, items, parts, strict=True):
                curve = tone_curve(rgb, mask) if thin.any() else None
                if curve is not None:  # the tones of a monochrome photo, for the interpolated holes too
                    out[thin] = np.clip(np.rint(curve[luma(out[thin])]), 0, 255).astype(np.uint8)
            return rest
        return self._restore_networks(items)

    def _restore_networks(self, items: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
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
        blend = _Blend(windows)
        for i, (w, f) in enumerate(zip(windows, filled[: len(windows)], strict=True)):
            x0, y0, x1, y1 = w.box
            if not w.scaled:
                if self.detail and items[w.item][1].shape != (SIZE, SIZE):
                    f = self._native_detail(f, *items[w.item], w.box)
                if w.weight is not None:
                    blend.add(w, f)
                else:
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
                    if w.weight is not None:
                        blend.add(w, f)
                    else:
                        outs[w.item][y0:y1, x0:x1][w.paste] = np.clip(np.rint(f[w.paste]), 0, 255).astype(np.uint8)
        blend.write(outs)
        if self.texture is not None:
            from .texture import add_texture

            for i, (_, mask) in enumerate(items):
                if mask.any() and mask.shape != (SIZE, SIZE):  # 64x64 photos stay as the model fills them
                    outs[i] = add_texture(self.texture, outs[i], mask, self.device, self.model.cfg.texture_gain)
        if self.blend_thin:
            from .thin import blend_smooth, thin_part

            cfg = self.model.cfg
            for i, (_, mask) in enumerate(items):
                if mask.any() and mask.shape != (SIZE, SIZE):  # 64x64 photos stay as the model fills them
                    thin = thin_part(mask, cfg.blend_thin)
                    if thin.any():
                        outs[i] = blend_smooth(outs[i], thin, cfg.blend_weight, cfg.blend_sigma)
        for out, (rgb, mask) in zip(outs, items, strict=True):
            curve = tone_curve(rgb, mask) if mask.any() else None
            if curve is not None:  # a monochrome photo: the fill takes the photo's colour for its brightness
                out[mask] = np.clip(np.rint(curve[luma(out[mask])]), 0, 255).astype(np.uint8)
        return outs

    def _scale_up(self, fill: np.ndarray, rgb: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int]):
        """A window's 64x64 fill (float) at the window's size, with the known part's detail under `detail`."""
        x0, y0, x1, y1 = box
        if self.detail and max(y1 - y0, x1 - x0) > DETAIL_FROM * SIZE:
            from .detail import aggregate

            sharp = aggregate(rgb[y0:y1, x0:x1], mask[y0:y1, x0:x1], fill, scale=self.model.cfg.detail_scale)
            if sharp is not None:
                return sharp
        return resize_float(fill, (x1 - x0, y1 - y0))

    def _native_detail(self, fill: np.ndarray, rgb: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """A 64x64 window at native resolution (a thin stroke, a small hole in a large photo): the model's
        fill kept up to NATIVE_BAND, the finer band borrowed from the window's known part (detail.py)."""
        from .detail import aggregate

        x0, y0, x1, y1 = box
        sharp = aggregate(rgb[y0:y1, x0:x1], mask[y0:y1, x0:x1], fill, scale=self.model.cfg.detail_scale, band=NATIVE_BAND)
        return fill if sharp is None else np.clip(np.rint(sharp), 0, 255).astype(np.uint8)

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
