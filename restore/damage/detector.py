"""The damage detector: a small U-Net that marks scratches, cracks, dust and specks, pixel by pixel.

It sees the photo at its own resolution (fully convolutional, in overlapping tiles when the photo
is large) and gives one logit per pixel; above `threshold` is damage. Images go in as float
[-1, 1] NCHW; the mask comes out bool (H, W), True = damaged, as every mask in restore.
"""

from __future__ import annotations

import numbers
import threading
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ARCH = "restore.damage-detector/1"
FLIPS = {"h": (-1,), "v": (-2,), "hv": (-2, -1)}  # the image axes each mirrored view flips


TILE_OVERLAP = 64  # the network sees about this far; tiles are blended over it so seams do not show


@dataclass
class DetectorConfig:
    widths: tuple[int, ...] = (24, 32, 64, 96)  # channels at 1/2, 1/4, 1/8 and 1/16 of the photo's resolution
    threshold: float = 0.5  # probability above which a pixel is damage
    grow: int = 1  # pixels the detected damage is grown by before filling: its antialiased rim
    min_area: int = 3  # connected specks smaller than this (in pixels) are dropped as grain
    tile: int = 1024  # photos larger than tile x tile go through in tiles of this side
    flips: tuple[str, ...] = ()  # mirrored views averaged with the photo's own: "h" left-right, "v" upside down, "hv" both
    # A photo whose long side is over this is read twice: at its own size, and from a copy brought down to this
    # side, whose damage is scaled back up; a pixel either reading finds is damage (0: its own size only).
    # Damage is as many pixels wide as the scan's resolution makes it, and the network learnt it on photos of
    # about 1024 px: a 3000 px scan read at its own size shows it scratches three times as wide as any it saw,
    # and read at 1024 px alone it loses the hairlines.
    max_side: int = 0
    # The reading at the scale the network learnt (the photo itself, or for a photo over max_side its copy) is
    # averaged with a reading of a copy this many times larger, read once, unmirrored (0: none). Faint scratch ends
    # and small specks are larger there, and what only one of the two readings sees is mostly the photo's own
    # texture (docs/damage.md).
    enlarge: float = 0.0
    arch: str = ARCH

    def __post_init__(self):
        self.flips = tuple(self.flips)
        bad = [f for f in self.flips if f not in FLIPS]
        if bad:
            raise ValueError(f"flips {bad}: each is one of {sorted(FLIPS)}")
        if self.max_side < 0:
            raise ValueError(f"max_side {self.max_side}: a side in pixels, or 0 to read every photo at its own size")
        check_enlarge(self.enlarge)
        if self.tile <= TILE_OVERLAP:
            raise ValueError(f"tile {self.tile}: the side of the tiles a large photo is read in, over the {TILE_OVERLAP} "
                             "px they overlap by")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> DetectorConfig:
        data = dict(data)
        if data.get("arch", ARCH) != ARCH:
            raise ValueError(f"arch {data.get('arch')!r} is not a damage detector ({ARCH})")
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        if "widths" in data:
            data["widths"] = tuple(data["widths"])
        return cls(**data)


def _act(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.1)


class DamageDetector(nn.Module):
    """A U-Net that works from half resolution down, for speed on a CPU, yet marks single pixels.

    Each 2x2 block of pixels is folded into channels (pixel unshuffle) on the way in, and the head
    gives one logit for each of its four pixels (pixel shuffle) on the way out. The decoder adds its
    skips rather than concatenating them, which halves its cost.
    """

    def __init__(self, cfg: DetectorConfig | None = None):
        super().__init__()
        self.cfg = cfg or DetectorConfig()
        w = self.cfg.widths
        self.stem = nn.ModuleList([nn.Conv2d(12, w[0], 3, padding=1), nn.Conv2d(w[0], w[0], 3, padding=1)])
        self.down = nn.ModuleList(nn.Conv2d(a, b, 3, stride=2, padding=1) for a, b in zip(w[:-1], w[1:], strict=True))
        self.enc = nn.ModuleList(
            nn.ModuleList([nn.Conv2d(b, b, 3, padding=1), nn.Conv2d(b, b, 3, padding=1)]) for b in w[1:]
        )
        self.lateral = nn.ModuleList(nn.Conv2d(b, a, 1) for a, b in zip(w[:-1], w[1:], strict=True))
        self.dec = nn.ModuleList(nn.Conv2d(a, a, 3, padding=1) for a in w[:-1])
        self.head = nn.Conv2d(w[0], 4, 1)

    @property
    def multiple(self) -> int:
        return 2 ** len(self.cfg.widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, 1, H, W) of damage; H and W must be multiples of `multiple`."""
        y = F.pixel_unshuffle(x, 2)
        y = _act(self.stem[1](_act(self.stem[0](y))))
        skips = [y]
        for down, (a, b) in zip(self.down, self.enc, strict=True):
            y = _act(down(y))
            y = _act(y + b(_act(a(y))))
            skips.append(y)
        y = skips.pop()
        for lateral, dec in zip(reversed(self.lateral), reversed(self.dec), strict=True):
            skip = skips.pop()
            y = F.interpolate(lateral(y), size=skip.shape[-2:], mode="bilinear", align_corners=False) + skip
            y = _act(y + dec(y))
        return F.pixel_shuffle(self.head(y), 2)


def reading_scale(shape: tuple[int, ...], max_side: int) -> float:
    """How many times larger than the copy the detector reads a photo of `shape` (H, W, ...) is: 1 unless its
    long side is over `max_side` (0 = never)."""
    side = max(shape[:2])
    return side / max_side if max_side and side > max_side else 1.0


def smaller_reading(model: DamageDetector, rgb: np.ndarray, scale: float, device="cpu",
                    enlarge: float | None = None) -> np.ndarray:
    """Damage probability (H, W) float32 of a uint8 RGB photo read from a copy `scale` times smaller (area
    average; with the `enlarge` reading, as at the learnt scale), scaled back up (bilinear)."""
    from PIL import Image

    h, w = rgb.shape[:2]
    small = Image.fromarray(rgb).resize((max(1, round(w / scale)), max(1, round(h / scale))), Image.Resampling.BOX)
    prob = learnt_scale_reading(model, np.asarray(small), device, enlarge)
    return np.asarray(Image.fromarray(prob).resize((w, h), Image.Resampling.BILINEAR))


def larger_reading(model: DamageDetector, rgb: np.ndarray, factor: float, device="cpu") -> np.ndarray:
    """Damage probability (H, W) float32 of a uint8 RGB photo read once, unmirrored, from a copy `factor` times
    larger (bicubic), brought back to the photo's size (area average)."""
    from PIL import Image

    h, w = rgb.shape[:2]
    big = Image.fromarray(rgb).resize((round(w * factor), round(h * factor)), Image.Resampling.BICUBIC)
    prob = probabilities(model, np.asarray(big), device, mirrored=False)
    return np.asarray(Image.fromarray(prob).resize((w, h), Image.Resampling.BOX))


def learnt_scale_reading(model: DamageDetector, rgb: np.ndarray, device="cpu", enlarge: float | None = None) -> np.ndarray:
    """The probability (H, W) float32 of a photo at about the scale the network learnt: its own reading (mirrored
    views included), averaged with the reading of a copy `enlarge` times larger (default: the model's config's; 0
    for none)."""
    enlarge = model.cfg.enlarge if enlarge is None else enlarge
    prob = probabilities(model, rgb, device)
    if enlarge:
        prob = (prob + larger_reading(model, rgb, enlarge, device)) / 2
    return prob


_CONVERTING = threading.Lock()


def channels_last(model: DamageDetector) -> None:
    """Store the model's weights channels-last, once: on a CPU, oneDNN runs these convolutions 2-3x faster so
    (docs/performance.md). restore run reads photos in several threads that share one detector, and converting it
    while another thread runs it corrupted its weights for the rest of the run, so the first call converts it
    under a lock and the others wait for it."""
    with _CONVERTING:
        if not getattr(model, "_channels_last", False):
            model.to(memory_format=torch.channels_last)
            model._channels_last = True


@torch.inference_mode()
def probabilities(model: DamageDetector, rgb: np.ndarray, device="cpu", mirrored: bool = True) -> np.ndarray:
    """Damage probability (H, W) float32 for a uint8 RGB photo at its own size, in overlapping tiles when large;
    the mean over the photo and (when `mirrored`) the mirrored views of the model's `flips`."""
    from ..tiles import blend, padded

    overlap = TILE_OVERLAP
    # Kept in bytes, each tile brought to [-1, 1] as it is read: a scan's float copy, and a float copy of each
    # mirrored view, would be four times its size.
    x = torch.from_numpy(np.array(rgb, dtype=np.uint8, copy=True)).to(device).permute(2, 0, 1)[None]
    cpu = x.device.type == "cpu"
    if cpu:
        channels_last(model)
    h, w = rgb.shape[:2]
    total = None
    views = [()] + ([FLIPS[f] for f in model.cfg.flips] if mirrored else [])
    for dims in views:
        view = x.flip(dims) if dims else x

        def run(rows: slice, cols: slice, view=view) -> torch.Tensor:
            tile, th, tw = padded(view[..., rows, cols].float() / 127.5 - 1, model.multiple)
            if cpu:
                tile = tile.contiguous(memory_format=torch.channels_last)
            return torch.sigmoid(model(tile))[0, :, :th, :tw]

        prob = blend(1, h, w, model.cfg.tile, overlap, run, device, balanced=True, multiple=model.multiple)[0]
        prob = prob.flip(dims) if dims else prob
        total = prob if total is None else total.add_(prob)
    return total.div_(len(views)).cpu().numpy()


def to_mask(prob: np.ndarray, cfg: DetectorConfig, scale: float = 1.0, threshold: float | None = None) -> np.ndarray:
    """Probabilities to the mask restore fills: above `threshold` (default: the model's), specks under `min_area`
    pixels of the copy the detector read (`scale` times smaller than `prob`) dropped, grown by `grow` pixels of
    the photo.

    The rim is not scaled: a copy's damage scaled back up is already as wide as the photo shows it, and a rim of
    `scale` pixels flagged the clean pixels around fine damage on large photos (docs/damage.md)."""
    from scipy import ndimage

    mask = prob > (cfg.threshold if threshold is None else threshold)
    min_area = round(cfg.min_area * scale * scale)
    if min_area > 1 and mask.any():
        labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
        sizes = np.bincount(labels.ravel(), minlength=n + 1)
        mask = (sizes >= min_area)[labels] & mask
    if cfg.grow > 0 and mask.any():
        mask = ndimage.binary_dilation(mask, structure=np.ones((3, 3), bool), iterations=cfg.grow)
    return mask


def _number(value) -> bool:
    """Whether `value` is a real number (numpy's included), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


MAX_ENLARGE = 4.0  # a 1024-px photo read 4x larger is 16 times the work already


def check_enlarge(factor: float) -> None:
    """An `enlarge` factor is 0 (no enlarged reading) or over 1, up to MAX_ENLARGE."""
    if not _number(factor) or (factor != 0 and not 1 < factor <= MAX_ENLARGE):
        raise ValueError(f"enlarge {factor!r}: how many times larger a copy to read as well (over 1, at most "
                         f"{MAX_ENLARGE:g}), or 0 for none")


def check_threshold(threshold) -> None:
    """A damage threshold is None (the detector's own) or a probability strictly between 0 and 1."""
    if threshold is None:
        return
    if not _number(threshold) or not 0 < threshold < 1:
        raise ValueError(f"damage threshold {threshold!r}: give a probability between 0 and 1, or none at all for "
                         "the detector's own (its config.json's threshold)")


@dataclass
class Reading:
    """What the detector read on one photo: its probability maps, each with how many times smaller than the photo
    the copy it read was (1 for the photo itself). `mask` thresholds them at any level without reading again."""

    maps: list[tuple[np.ndarray, float]]
    cfg: DetectorConfig

    def __post_init__(self):
        if not self.maps:
            raise ValueError("a Reading holds at least one probability map: the photo's own")

    def mask(self, threshold: float | None = None) -> np.ndarray:
        """The damage mask (H, W) bool at `threshold` (default: the model's): what any reading finds."""
        check_threshold(threshold)
        out = None
        for prob, scale in self.maps:
            found = to_mask(prob, self.cfg, scale, threshold)
            out = found if out is None else out | found
        return out


# A print whose levels span fewer than this many (0.5th to 99.5th percentile) is far darker or more faded than any
# the detector learnt (the `val` prints span 124 or more) and is read with its levels stretched to 0-255: on a dark
# scan (levels 0-89) recall went from .28 to .86, on a faded one (161-237) from .65 to .85 (docs/damage.md).
NARROW_LEVELS = 100


def levels_for_reading(rgb: np.ndarray) -> np.ndarray:
    """`rgb` as the detector reads it: as it is, or, when its levels are narrower than NARROW_LEVELS, stretched
    from its 0.5th and 99.5th percentiles to 0-255."""
    step = max(1, int(np.sqrt(rgb.shape[0] * rgb.shape[1] / 250_000)))  # about 250k pixels are enough to tell
    lo, hi = np.percentile(rgb[::step, ::step], [0.5, 99.5])
    if hi - lo >= NARROW_LEVELS or hi - lo < 8:  # in the learnt range, or (nearly) flat: nothing to stretch
        return rgb
    return np.clip((rgb.astype(np.float32) - lo) * (255.0 / (hi - lo)), 0, 255).round().astype(np.uint8)


def read(model: DamageDetector, rgb: np.ndarray, device="cpu", max_side: int | None = None,
         enlarge: float | None = None) -> Reading:
    """The detector's readings of a uint8 RGB photo: at its own size and, on a photo longer than `max_side`
    (default: the model's), on a copy brought down to it. The one at the scale the network learnt (the copy when
    there is one) is averaged with the reading of a copy `enlarge` times larger (default: the model's). A print far
    darker or more faded than the detector learnt is read with its levels stretched (`levels_for_reading`)."""
    rgb = levels_for_reading(rgb)
    scale = reading_scale(rgb.shape, model.cfg.max_side if max_side is None else max_side)
    if scale == 1:
        return Reading([(learnt_scale_reading(model, rgb, device, enlarge), 1.0)], model.cfg)
    # The copy's smallest speck is `scale` x `scale` times larger here.
    return Reading([(probabilities(model, rgb, device), 1.0),
                    (smaller_reading(model, rgb, scale, device, enlarge), scale)], model.cfg)


def detect(model: DamageDetector, rgb: np.ndarray, device="cpu", max_side: int | None = None,
           threshold: float | None = None, enlarge: float | None = None) -> np.ndarray:
    """The damage mask (H, W) bool, True = damaged, of a uint8 RGB photo: what the model finds at the photo's own
    size and, on a photo longer than `max_side` (default: the model's), on a copy brought down to it, above
    `threshold` (default: the model's; lower finds fainter damage and flags more of the photo), with the reading of
    a copy `enlarge` times larger averaged in at the learnt scale (default: the model's; 0 for none)."""
    check_threshold(threshold)
    if enlarge is not None:
        check_enlarge(enlarge)
    return read(model, rgb, device, max_side, enlarge).mask(threshold)
