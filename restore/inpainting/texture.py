"""Texture at the photo's own resolution for the holes the 64x64 networks fill (`restore-train texture`).

A fill scaled up from 64x64 is soft: it has the photo's structure and colours but not its grain.
TextureNet is a small fully convolutional network that takes the photo with the pipeline's fill in
the hole, at native resolution, and the mask, and returns it with texture added in the hole; known
pixels pass through unchanged.

Arrays: float tensors in [-1, 1], N x 3 x H x W fills and N x 1 x H x W masks (1 = hole).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ARCH = "restore.texture/1"


@dataclass
class TextureConfig:
    width: int = 32  # channels at full resolution; twice and four times that at 1/2 and 1/4
    dilations: tuple[int, ...] = (1, 2, 4)  # the residual blocks at 1/4 resolution
    margin: int = 32  # known pixels around a hole that the stage is shown, each side
    # Regions larger than tile x tile go through in overlapping tiles of this side, those holding some hole
    # (a long thin stroke's box is mostly known). On a 1024x680 photo, seconds for a blob / a stroke at tiles
    # of 256, 512, 768: .80 / 1.01, .69 / .55, .38 / .57 (the overlaps cost more than the skipped tiles save).
    tile: int = 768
    # Holes at most thin_px thick (a stroke, a scratch) get only thin_gain of the stage's correction: there
    # the fill is close already, and the texture costs hole PSNR for less LPIPS than in a wide hole
    # (docs/training.md). 0 = every hole gets all of it.
    thin_px: float = 0.0
    thin_gain: float = 1.0
    # Self-attention at quarter resolution after the residual blocks (SAGAN's, with keys and values pooled by
    # 2 and weighted towards known pixels): a hole's interior, beyond the convolutions' reach, can copy the
    # photo's own texture from around it. 0 = none (v1, v2).
    attention: int = 0
    arch: str = ARCH

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TextureConfig:
        from .networks import _from_dict

        if data.get("arch", ARCH) != ARCH:
            raise ValueError(f"arch {data.get('arch')!r} is not a texture stage ({ARCH})")
        return _from_dict(cls, data)


class _Res(nn.Module):
    def __init__(self, c: int, dilation: int):
        super().__init__()
        self.a = nn.Conv2d(c, c, 3, padding=dilation, dilation=dilation)
        self.b = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return x + self.b(F.leaky_relu(self.a(x), 0.2))


class _Attention(nn.Module):
    """SAGAN self-attention (Zhang et al. 2019) over a feature map, its keys and values max-pooled by 2 (as
    BigGAN's) and each key's logit raised by log of its known share, so a hole copies from the photo around it
    rather than from its own fill. Its output layer starts at zero (SAGAN's gamma does, in effect; a zero layer
    learns faster than a zero scalar): an untrained block passes its input through."""

    def __init__(self, c: int):
        super().__init__()
        self.q = nn.Conv2d(c, c // 8, 1)
        self.k = nn.Conv2d(c, c // 8, 1)
        self.v = nn.Conv2d(c, c // 2, 1)
        self.o = nn.Conv2d(c // 2, c, 1)
        nn.init.zeros_(self.o.weight)
        nn.init.zeros_(self.o.bias)

    CHUNK = 4096  # queries at a time: a 768 px tile has 36,864 at quarter resolution

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        k = F.max_pool2d(self.k(x), 2, ceil_mode=True).flatten(2)  # N x d x K
        v = F.max_pool2d(self.v(x), 2, ceil_mode=True).flatten(2)  # N x c/2 x K
        known = 1 - F.avg_pool2d(F.interpolate(m, (h, w), mode="area"), 2, ceil_mode=True).flatten(2)
        bias = known.clamp_min(1e-4).log()  # N x 1 x K: a key all hole is e^-9 as likely
        q = self.q(x).flatten(2).transpose(1, 2)  # N x HW x d
        out = torch.cat([torch.softmax(q[:, i : i + self.CHUNK] @ k + bias, -1) @ v.transpose(1, 2)
                         for i in range(0, h * w, self.CHUNK)], 1)
        return x + self.o(out.transpose(1, 2).reshape(n, -1, h, w))


class TextureNet(nn.Module):
    """(fill in [-1, 1] N x 3 x H x W, mask N x 1 x H x W, H and W multiples of 4) -> the fill with texture
    added where the mask is 1. A U-Net of two halvings with dilated residual blocks at quarter
    resolution (and with cfg.attention, self-attention there); its last layer starts at zero, so an untrained
    stage returns the fill unchanged."""

    def __init__(self, cfg: TextureConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or TextureConfig()
        w = cfg.width
        self.inp = nn.Conv2d(4, w, 3, padding=1)
        self.down1 = nn.Conv2d(w, 2 * w, 4, stride=2, padding=1)
        self.down2 = nn.Conv2d(2 * w, 4 * w, 4, stride=2, padding=1)
        self.mid = nn.Sequential(*[_Res(4 * w, d) for d in cfg.dilations])
        self.attn = _Attention(4 * w) if cfg.attention else None
        self.up2 = nn.Conv2d(4 * w, 2 * w, 3, padding=1)
        self.up1 = nn.Conv2d(4 * w, w, 3, padding=1)
        self.out = nn.Conv2d(2 * w, 3, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        act = lambda t: F.leaky_relu(t, 0.2)  # noqa: E731
        h0 = act(self.inp(torch.cat([x, m * 2 - 1], 1)))
        h1 = act(self.down1(h0))
        h2 = self.mid(act(self.down2(h1)))
        if self.attn is not None:
            h2 = self.attn(h2, m)
        u = act(self.up2(F.interpolate(h2, scale_factor=2, mode="nearest")))
        u = act(self.up1(F.interpolate(torch.cat([u, h1], 1), scale_factor=2, mode="nearest")))
        return x + m * self.out(torch.cat([u, h0], 1))


OVERLAP = 64  # tiles of a large region overlap by this much (at most a quarter tile) and are blended across it
MULTIPLE = 4  # the network halves twice: sides are padded to a multiple of this


@torch.inference_mode()
def _region(net: TextureNet, rgb: np.ndarray, hole: np.ndarray, device) -> np.ndarray:
    """The stage's output (uint8, the region's size) for a region of a photo and its hole, in tiles when large."""
    from ..tiles import blend, padded

    x = torch.from_numpy(np.ascontiguousarray(rgb)).to(device).permute(2, 0, 1)[None].float().div_(127.5).sub_(1)
    m = torch.from_numpy(hole.astype(np.float32)).to(device)[None, None]

    def run(rows: slice, cols: slice) -> torch.Tensor | None:
        if not hole[rows, cols].any():  # a thin hole's box is mostly known: skip those tiles
            return None
        xs, th, tw = padded(x[..., rows, cols], MULTIPLE)
        ms = F.pad(m[..., rows, cols], (0, xs.shape[-1] - tw, 0, xs.shape[-2] - th))
        return net(xs.contiguous(memory_format=torch.channels_last), ms)[0, :, :th, :tw]

    h, w = hole.shape
    # Pixels no tile covered are known ones (a tile is skipped only when it holds no hole): they stay 0.
    out = blend(3, h, w, net.cfg.tile, min(OVERLAP, net.cfg.tile // 4), run, device)
    out = out.clamp_(-1, 1).add_(1).mul_(127.5).round_()
    return out.to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def add_texture(net: TextureNet, rgb: np.ndarray, mask: np.ndarray, device="cpu", gain: float = 1.0) -> np.ndarray:
    """uint8 (H, W, 3) photo with its holes filled, bool (H, W) holes -> the photo with texture added in
    the holes; pixels outside them are returned as they were. Each hole, with `margin` known pixels
    around it (holes whose margins meet go together), is one region. The holes take `gain` of the stage's
    correction, and thin ones `gain` x `thin_gain`."""
    from scipy import ndimage

    from .holes import hole_box

    out = rgb.copy()
    if not mask.any():
        return out
    thin = None
    if net.cfg.thin_px > 0 and net.cfg.thin_gain != 1:
        from .thin import thin_part

        thin = thin_part(mask, net.cfg.thin_px)
    # Only the holes' box grown by the margin is looked at: a few holes in a large photo stay cheap.
    ys, xs = hole_box(mask, net.cfg.margin + 1)
    near = ndimage.binary_dilation(mask[ys, xs], np.ones((3, 3), bool), iterations=net.cfg.margin)
    labels, _ = ndimage.label(near)
    for by, bx in ndimage.find_objects(labels):
        box = (slice(ys.start + by.start, ys.start + by.stop), slice(xs.start + bx.start, xs.start + bx.stop))
        hole = mask[box]
        region = _region(net, rgb[box], hole, device)
        share = np.full(hole.shape, gain, np.float32)
        if thin is not None:
            share[thin[box]] *= net.cfg.thin_gain
        if (share[hole] != 1).any():
            fill = rgb[box][hole].astype(np.float32)
            corr = region[hole].astype(np.float32) - fill
            region[hole] = np.clip(np.rint(fill + share[hole][:, None] * corr), 0, 255).astype(np.uint8)
        out[box][hole] = region[hole]
    return out
