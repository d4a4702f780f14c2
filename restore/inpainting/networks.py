"""The networks: ApproxNet, SAGAN self-attention, the attention refiner and the discriminator.

Conventions used across the package: images are float tensors in [-1, 1], NCHW (`to_uint8`
brings them back to uint8 NHWC arrays); masks are float tensors in {0, 1}, N1HW, where 1 marks a hole. A hole is shown
to the networks as gray (0 in [-1, 1]), the paper's "gray fill".

Every network is rebuilt from a dataclass config; a released model is the pair
``config.json`` (``InpainterConfig.to_dict``) + ``model.safetensors``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ARCH = "restore.inpainter/2"
# Configs written before ApproxNet's seam layer; they load with the layer off, as they were trained.
ARCH_BEFORE_SEAM = "restore.inpainter/1"
ARCHS = (ARCH_BEFORE_SEAM, ARCH)


def _from_dict(cls, data: dict):
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**kwargs)


@dataclass
class ApproxNetConfig:
    """Dense network on a coarse grid: masked image + mask in, rough image out."""

    size: int = 64  # image side the model works at
    grid: int = 16  # the dense layers see and predict a grid x grid image
    hidden: int = 512
    layers: int = 2  # hidden dense layers
    dropout: float = 0.3
    # Seam layer (no weights): spread the dense prediction's error on the known
    # pixels into the hole, so the fill meets its border without the constant
    # colour offset the paper reports.
    seam: bool = True  # off in restore.inpainter/1 configs, written before it existed
    seam_sweeps: int = 4  # smoothing sweeps per pyramid level of the seam fill


@dataclass
class RefinerConfig:
    """Encoder-decoder with dilated residual blocks and self-attention."""

    size: int = 64
    widths: tuple[int, int, int] = (16, 56, 112)  # channels at size, size/2, size/4
    dilations: tuple[int, ...] = (1, 2, 4, 8)  # one residual block each, at size/4
    attention: tuple[int, ...] = (16,)  # feature-map sides that get a self-attention layer
    blocks32: int = 0  # residual blocks at size/2 after the decoder's first layer; each starts as the identity


@dataclass
class DiscriminatorConfig:
    size: int = 64
    widths: tuple[int, ...] = (32, 64, 128, 128)  # one stride-2 conv each
    hidden: int = 128


@dataclass
class InpainterConfig:
    """What a released model is: ApproxNet followed by the refiner."""

    approx: ApproxNetConfig = field(default_factory=ApproxNetConfig)
    refiner: RefinerConfig = field(default_factory=RefinerConfig)
    arch: str = ARCH
    # The framing the pipeline gives this model: a window of `context` times each hole's size,
    # brought to 64x64. Models trained on whole photos shrunk to 64x64 (faces) see best in wide windows.
    context: float = 3.0
    # Whether the pipeline adds the full-resolution detail of the known part into holes filled
    # from downscaled windows (restore/inpainting/detail.py): for models whose fills are otherwise a blur.
    detail: bool = False
    # The softmax scale of that detail's attention (detail.SCALE by default): higher copies sharper texture.
    detail_scale: float = 100.0
    # Whether the pipeline fills each window scaled down from the photo twice, as it is and mirrored,
    # and averages the two: for models whose fills gain from it (faces are mirror images of themselves).
    mirror: bool = False
    # Whether a thin hole (a scratch) is filled from windows at native resolution along it, where it
    # would otherwise shrink to a hairline. Models that learnt whole photos shrunk to 64x64 (faces) see
    # a part of a photo at native size as nothing they learnt: for them a scratch gets the whole photo.
    tile_thin: bool = True
    # The texture stage (a released name or a folder; "" = none) that the pipeline runs over this model's
    # fills at the photo's own resolution (restore/inpainting/texture.py), for photos larger than 64x64.
    texture: str = ""
    # The share of that stage's correction this model's fills take (the stage's own thin_gain applies on top):
    # 1 for the photos it was trained on, less where its texture costs more fidelity than it gains in look.
    texture_gain: float = 1.0
    # Holes at most `blend_thin` px thick (strokes, scratches; 0 = none) get the smoothest continuation of
    # their border (a biharmonic interpolation) averaged into the fill, which keeps `blend_weight` of itself;
    # with `blend_sigma` > 0 only the fill's low frequencies are averaged, so that its texture stays
    # (restore/inpainting/thin.py's blend_smooth). Photos larger than 64x64 only.
    blend_thin: float = 0.0
    blend_weight: float = 1.0
    blend_sigma: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> InpainterConfig:
        data = dict(data)
        arch = data.pop("arch", ARCH)
        if arch not in ARCHS:
            raise ValueError(f"architecture {arch!r} is not one of {', '.join(map(repr, ARCHS))}")
        approx = data.pop("approx", {})
        if arch == ARCH_BEFORE_SEAM:
            approx = {"seam": False, **approx}
        return cls(
            approx=_from_dict(ApproxNetConfig, approx),
            refiner=_from_dict(RefinerConfig, data.pop("refiner", {})),
            **data,
        )


def gray_fill(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The paper's masked input: holes set to mid-gray (0 in [-1, 1])."""
    return image * (1 - mask)


def _neighbour_mean(x: torch.Tensor) -> torch.Tensor:
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    out = p[..., :-2, 1:-1] + p[..., 2:, 1:-1]  # one new tensor, summed into in place
    out += p[..., 1:-1, :-2]
    out += p[..., 1:-1, 2:]
    return out.mul_(0.25)


def seam_fill(values: torch.Tensor, known: torch.Tensor, sweeps: int = 4) -> torch.Tensor:
    """Smooth interpolation of ``values`` from the pixels where ``known`` is 1 into the rest.

    Push-pull on an image pyramid: halve the (values * known, known) pair down to
    1x1 (an odd side's last cell averages what it covers), then come back up,
    keeping at each level the known share of every cell and taking the rest from the coarser level, with ``sweeps`` neighbour-mean
    sweeps per level to smooth it (a few Jacobi steps of Laplace's equation).
    Known pixels come back unchanged. Linear in ``values``, so it backpropagates.
    """
    rs, ws = [values * known], [known]
    while max(ws[-1].shape[-2:]) > 1:
        rs.append(F.avg_pool2d(rs[-1], 2, ceil_mode=True))
        ws.append(F.avg_pool2d(ws[-1], 2, ceil_mode=True))
    est = rs[-1] / ws[-1].clamp_min(1e-6)
    for r, w in zip(reversed(rs[:-1]), reversed(ws[:-1]), strict=True):
        est = F.interpolate(est, size=r.shape[-2:], mode="bilinear", align_corners=False)
        hole = 1 - w
        est = torch.addcmul(r, hole, est)
        for _ in range(sweeps):
            est = torch.addcmul(r, hole, _neighbour_mean(est))
    return est


class ApproxNet(nn.Module):
    """The paper's ApproxNet: dense layers with dropout 0.3 giving a rough fill.

    Dense layers over a full 64x64x4 input would need tens of millions of weights,
    so the input is area-averaged to a coarse grid, the dense layers predict that
    grid, and the prediction is upsampled bilinearly. With ``cfg.seam`` the
    prediction's error on the known pixels is then spread into the hole
    (:func:`seam_fill`), so the rough fill joins its border without a seam.
    """

    def __init__(self, cfg: ApproxNetConfig):
        super().__init__()
        self.cfg = cfg
        n_in = 4 * cfg.grid * cfg.grid
        layers: list[nn.Module] = []
        width = n_in
        for _ in range(cfg.layers):
            layers += [nn.Linear(width, cfg.hidden), nn.ReLU(inplace=True), nn.Dropout(cfg.dropout)]
            width = cfg.hidden
        layers.append(nn.Linear(width, 3 * cfg.grid * cfg.grid))
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        g = self.cfg.grid
        x = torch.cat([gray_fill(image, mask), mask], dim=1)
        x = F.adaptive_avg_pool2d(x, g).flatten(1)
        y = torch.tanh(self.net(x)).view(-1, 3, g, g)
        y = F.interpolate(y, size=image.shape[-2:], mode="bilinear", align_corners=False)
        if self.cfg.seam:
            y = y + seam_fill(image - y, 1 - mask, self.cfg.seam_sweeps)
        return y


class SelfAttention(nn.Module):
    """SAGAN self-attention: 1x1 query/key/value, softmax over positions, y = gamma * o + x.

    gamma starts at 0 so the layer begins as the identity and learns how much
    non-local context to mix in.
    """

    def __init__(self, channels: int):
        super().__init__()
        inner = max(channels // 8, 1)
        self.query = nn.Conv2d(channels, inner, 1)
        self.key = nn.Conv2d(channels, inner, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        n, c, h, w = x.shape
        q = self.query(x).flatten(2).transpose(1, 2)  # n, hw, c'
        k = self.key(x).flatten(2).transpose(1, 2)  # n, hw, c'
        v = self.value(x).flatten(2).transpose(1, 2)  # n, hw, c
        # SAGAN does not scale the logits. Written out rather than with
        # F.scaled_dot_product_attention: at 16x16 this is twice as fast on a CPU
        # (batch 64), and the maps are there for return_attention.
        attn = torch.softmax(q @ k.transpose(1, 2), dim=-1)  # n, hw(query), hw(key)
        o = attn @ v
        y = self.gamma * o.transpose(1, 2).reshape(n, c, h, w) + x
        return (y, attn) if return_attention else y


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


class _ResBlock(nn.Module):
    def __init__(self, channels: int, dilation: int, identity: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = _act()
        if identity:  # the block adds nothing until training moves conv2 off zero
            nn.init.zeros_(self.conv2.weight)
            nn.init.zeros_(self.conv2.bias)

    def forward(self, x):
        return x + self.conv2(self.act(self.conv1(x)))


def _phase_taps() -> torch.Tensor:
    """0/1 map from a 3x3 kernel over a 2x nearest-upsampled image to 2x2 kernels over the original.

    A 3x3 window on the upsampled image covers only a 2x2 window of the low-resolution
    image, which one depends on the output pixel's row and column parity (py, px).
    Entry [py, px, a, b, ky, kx] is 1 when tap (ky, kx), applied at an output pixel of
    that parity, reads low-resolution pixel (py + a - 1, px + b - 1) relative to the
    pixel the output lies in.
    """
    taps = torch.zeros(2, 2, 2, 2, 3, 3)
    for py in range(2):
        for px in range(2):
            for ky in range(3):
                for kx in range(3):
                    taps[py, px, (py + ky - 1) // 2 + 1 - py, (px + kx - 1) // 2 + 1 - px, ky, kx] = 1
    return taps


_PHASE_TAPS = _phase_taps()


def upsample_conv(conv: nn.Conv2d, low: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """``conv(cat([nearest 2x upsample of low, skip]))`` without building the upsampled image.

    The part of ``conv`` that reads the upsampled channels becomes, for each of the four
    output pixel parities, a 2x2 convolution at low resolution (sub-pixel convolution):
    one convolution with four output groups over the padded low-resolution image, each
    group added into its parity of the output. Same weights and same result up to float
    rounding, with 4/9 of the multiply-adds of that part, and the 4x larger upsampled
    and concatenated tensors never written (on some CPUs, at batch 64, those copies took
    longer than all the convolutions).
    """
    c, o = low.shape[1], conv.out_channels
    h, w = low.shape[-2:]
    w_low, w_skip = conv.weight[:, :c], conv.weight[:, c:]
    w_sub = torch.einsum("oikl,pqabkl->pqoiab", w_low, _PHASE_TAPS.to(w_low)).reshape(4 * o, c, 2, 2)
    y = F.conv2d(skip, w_skip, conv.bias, padding=1)
    # z[:, group of (py, px), i + py, j + px] is the output at (2i + py, 2j + px)
    z = F.conv2d(F.pad(low, (1, 1, 1, 1)), w_sub)
    for p in range(4):
        py, px = divmod(p, 2)
        y[..., py::2, px::2] += z[:, p * o : (p + 1) * o, py : py + h, px : px + w]
    return y


class Refiner(nn.Module):
    """The paper's attention encoder-decoder generator.

    Input: the ApproxNet-filled image and the mask. Encoder 64 -> 32 -> 16,
    dilated residual blocks and self-attention at 16x16 (the whole 64x64 image
    is in view), decoder back to 64 with skip connections and optional
    residual blocks at 32x32. Layers that start as the identity (attention,
    the 32x32 blocks) can be added to a trained model without changing what
    it computes, then fine-tuned. Full-resolution
    layers are kept thin because they dominate the cost on a CPU.
    """

    def __init__(self, cfg: RefinerConfig):
        super().__init__()
        self.cfg = cfg
        c0, c1, c2 = cfg.widths
        s = cfg.size
        self.stem = nn.Sequential(nn.Conv2d(4, c0, 3, padding=1), _act())
        self.down1 = nn.Sequential(nn.Conv2d(c0, c1, 4, stride=2, padding=1), _act())
        self.down2 = nn.Sequential(nn.Conv2d(c1, c2, 4, stride=2, padding=1), _act())
        self.blocks = nn.ModuleList(_ResBlock(c2, d) for d in cfg.dilations)
        self.attn16 = SelfAttention(c2) if s // 4 in cfg.attention else None
        self.up1 = nn.Sequential(nn.Conv2d(c2 + c1, c1, 3, padding=1), _act())
        self.blocks32 = nn.ModuleList(_ResBlock(c1, 1, identity=True) for _ in range(cfg.blocks32))
        self.attn32 = SelfAttention(c1) if s // 2 in cfg.attention else None
        self.up2 = nn.Sequential(nn.Conv2d(c1 + c0, c0, 3, padding=1), _act())
        self.head = nn.Conv2d(c0, 3, 3, padding=1)

    def attention_layers(self) -> list[SelfAttention]:
        return [a for a in (self.attn16, self.attn32) if a is not None]

    def forward(self, filled: torch.Tensor, mask: torch.Tensor, return_attention: bool = False):
        maps = []
        x0 = self.stem(torch.cat([filled, mask], dim=1))
        x1 = self.down1(x0)
        x = self.down2(x1)
        half = len(self.blocks) // 2
        for block in self.blocks[:half]:
            x = block(x)
        if self.attn16 is not None:
            x = self.attn16(x, return_attention)
            if return_attention:
                x, a = x
                maps.append(a)
        for block in self.blocks[half:]:
            x = block(x)
        x = self.up1[1](upsample_conv(self.up1[0], x, x1))
        for block in self.blocks32:
            x = block(x)
        if self.attn32 is not None:
            x = self.attn32(x, return_attention)
            if return_attention:
                x, a = x
                maps.append(a)
        x = self.up2[1](upsample_conv(self.up2[0], x, x0))
        # Predict a correction to the rough fill: the refiner starts from ApproxNet's answer.
        out = torch.clamp(filled + self.head(x), -1, 1)
        return (out, maps) if return_attention else out


class Inpainter(nn.Module):
    """ApproxNet -> paste into known pixels -> Refiner -> paste into known pixels."""

    def __init__(self, cfg: InpainterConfig):
        super().__init__()
        self.cfg = cfg
        self.approx = ApproxNet(cfg.approx)
        self.refiner = Refiner(cfg.refiner)

    def forward(self, image: torch.Tensor, mask: torch.Tensor, return_attention: bool = False, paste: bool = True):
        """Returns (coarse, refined[, attention maps]).

        Both outputs keep every known pixel; ``paste=False`` returns the refiner's raw
        output instead (the benchmark's "no paste-back" row).
        """
        coarse = self.approx(image, mask)
        coarse = mask * coarse + (1 - mask) * image
        res = self.refiner(coarse, mask, return_attention)
        refined, maps = res if return_attention else (res, None)
        if paste:
            refined = mask * refined + (1 - mask) * image
        return (coarse, refined, maps) if return_attention else (coarse, refined)


class Discriminator(nn.Module):
    """Stride-2 convolutions followed by two dense layers; outputs a logit per image."""

    def __init__(self, cfg: DiscriminatorConfig):
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        c_in = 3
        for c in cfg.widths:
            layers += [nn.Conv2d(c_in, c, 4, stride=2, padding=1), _act()]
            c_in = c
        self.features = nn.Sequential(*layers)
        side = cfg.size // 2 ** len(cfg.widths)
        self.dense = nn.Sequential(nn.Linear(c_in * side * side, cfg.hidden), _act(), nn.Linear(cfg.hidden, 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.dense(self.features(image).flatten(1)).squeeze(1)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def to_uint8(t) -> np.ndarray:
    """A [-1, 1] NCHW (or CHW) tensor to uint8 NHWC (or HWC) numpy, rounding to nearest."""
    x = ((t.detach().float().clamp(-1, 1) + 1) * 127.5).round().to("cpu").numpy().astype(np.uint8)
    return np.moveaxis(x, -3, -1)
