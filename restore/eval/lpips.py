"""LPIPS (Zhang et al., CVPR 2018), AlexNet, v0.1: the perceptual distance `restore bench` reports.

Conventions: tensors are float32 NCHW images in [-1, 1]; numpy images are uint8 HxWx3 (HxW or HxWx1
gray is repeated to 3 channels); masks are HxW, nonzero = hole.

    Lpips()                                      the network; ``forward(a, b)`` -> per-image distances (N,)
    load(path=None, device="cpu") -> Lpips       verified weights, eval mode, cached per (file, device)
    find_weights(path=None) -> Path              which weights file ``load`` would use
    distance(a, b, model=None) -> float          two uint8 images of equal size
    crop_box(mask, grow=0.5, minimum=32)         the hole crop: (rows, cols) slices
    hole_crop_distance(original, result, mask, model=None) -> float
    LpipsError(ValueError)                       missing or wrong weights; a one-line message

The network is the official one: inputs in [-1, 1] go through the LPIPS scaling layer (shift
(-.030, -.088, -.188), scale (.458, .448, .450)), torchvision's AlexNet ``features`` are tapped after
each of its 5 ReLUs, each tap is unit-normalised over channels (eps 1e-10), the squared difference goes
through a 1x1 head (no bias), is averaged over space, and the 5 layers are summed.

Weights: ``alexnet_lpips.safetensors`` (torchvision's ImageNet AlexNet convolutions + the LPIPS v0.1
heads). ``load`` takes, in this order, the ``path`` argument (the CLI's ``--lpips-weights``), the
environment variable ``RESTORE_LPIPS_WEIGHTS``, or ``../shared/weights/alexnet_lpips.safetensors``
relative to the current directory (the dev layout). The file must have the published sha256. A file that
holds only the five heads (``lin{0..4}.model.1.weight``, checked by the sha256 of their contents) is
accepted too; the backbone then comes from torchvision's ``IMAGENET1K_V1`` weights (its cache under
$TORCH_HOME, or a download).

The hole crop, as read here: take the hole's bounding box (h x w); grow it by ceil(grow * h) rows above
and below and ceil(grow * w) columns left and right; if a side is still under ``minimum``, grow it
evenly to ``minimum``; clip to the photo. The growth by half is simply clipped at a border, but the
minimum is not: a short side that hits a border extends the other way, so every side is at least
``min(minimum, photo side)`` px.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

ENV = "RESTORE_LPIPS_WEIGHTS"
FILENAME = "alexnet_lpips.safetensors"
FILE_SHA256 = "0b3d24e78181cfe4c6d11cdd453ee4b824efc9c47dda4e39dcd10662833d78ce"
# sha256 of the five heads' float32 little-endian bytes, lin0 to lin4: identifies a heads-only file
# whatever its metadata or key order.
HEADS_SHA256 = "718a8b40b0d22f96192d34ab93c0db5c7943558ff6c2407f44812dce2f29b5f4"

_CONVS = (0, 3, 6, 8, 10)
_TAPS = (1, 4, 7, 9, 11)
_CHANNELS = (64, 192, 384, 256, 256)
_HEAD_KEYS = tuple(f"lin{i}.model.1.weight" for i in range(5))
_EPS = 1e-10
# AlexNet needs >= 31 px: conv1 (k11, s4) and two 3x3/2 max-pools would leave nothing of a smaller input.
_MIN_SIDE = 32
_HOW = f"give {FILENAME} with --lpips-weights PATH or {ENV}=PATH"


class LpipsError(ValueError):
    """The LPIPS weights are missing or wrong; the message is one line naming the file and the fix."""


class Lpips(nn.Module):
    """LPIPS-AlexNet v0.1. Build it with ``load()``; ``Lpips()`` alone holds zeros until ``load_state_dict``."""

    def __init__(self) -> None:
        super().__init__()
        import torchvision

        # Built on meta, then zeroed: alexnet() would otherwise spend ~1.5 s drawing random weights
        # (from the global RNG) for a classifier that is thrown away, and load() overwrites the rest.
        with torch.device("meta"):
            features = torchvision.models.alexnet(weights=None).features[: _TAPS[-1] + 1]
            heads = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in _CHANNELS)
        self.features, self.heads = features.to_empty(device="cpu"), heads.to_empty(device="cpu")
        with torch.no_grad():
            for p in self.parameters():
                p.zero_()
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1), persistent=False)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Distances (N,) between two NCHW batches in [-1, 1] (3 channels, sides >= 31 px)."""
        if a.shape != b.shape or a.dim() != 4 or a.shape[1] != 3:
            raise ValueError(f"LPIPS needs two N x 3 x H x W batches of the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
        n = a.shape[0]
        x = (torch.cat([a, b]) - self.shift) / self.scale
        total = x.new_zeros(n)
        taps = iter(self.heads)
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in _TAPS:
                unit = x / (x.pow(2).sum(1, keepdim=True).sqrt() + _EPS)
                total = total + next(taps)((unit[:n] - unit[n:]).pow(2)).mean((1, 2, 3))
        return total


def find_weights(path: str | Path | None = None) -> Path:
    """The weights file ``load`` uses: ``path``, else $RESTORE_LPIPS_WEIGHTS, else ../shared/weights/."""
    if path is not None and str(path) != "":
        file, source = Path(path).expanduser(), ""
    elif os.environ.get(ENV):
        file, source = Path(os.environ[ENV]).expanduser(), f" (from {ENV})"
    else:
        file = Path("..", "shared", "weights", FILENAME)
        if file.is_file():
            return file
        raise LpipsError(f"LPIPS needs {FILENAME} (AlexNet + the LPIPS v0.1 heads; torchvision has no heads): {_HOW}")
    if not file.is_file():
        raise LpipsError(f"LPIPS weights file not found: {file}{source}; {_HOW}")
    return file


def load(path: str | Path | None = None, device: str | torch.device = "cpu") -> Lpips:
    """The LPIPS network from verified weights (see the module docstring), in eval mode, frozen, cached."""
    return _load(find_weights(path).resolve(), str(torch.device(device)))


@functools.cache
def _load(file: Path, device: str) -> Lpips:
    tensors = _read_verified(file)
    if "features.0.weight" not in tensors:
        tensors.update(_imagenet_features(file))
    state = {f"features.{i}.{p}": tensors[f"features.{i}.{p}"] for i in _CONVS for p in ("weight", "bias")}
    state.update({f"heads.{i}.weight": tensors[key] for i, key in enumerate(_HEAD_KEYS)})
    model = Lpips()
    model.load_state_dict(state, strict=True)
    return model.to(device=device, dtype=torch.float32).eval().requires_grad_(False)


def _read_verified(file: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load as load_bytes

    data = file.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest == FILE_SHA256:
        return load_bytes(data)
    try:
        tensors = load_bytes(data)
    except Exception:  # not even safetensors: same answer as any other wrong file
        tensors = {}
    if set(tensors) == set(_HEAD_KEYS) and _heads_sha256(tensors) == HEADS_SHA256:
        return tensors
    raise LpipsError(
        f"LPIPS weights {file}: sha256 {digest[:16]}... is not that of {FILENAME} ({FILE_SHA256[:16]}...) "
        f"nor of its heads alone; use the published file (shared/weights/README.md)"
    )


def _heads_sha256(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for key in _HEAD_KEYS:
        h.update(tensors[key].to(torch.float32).contiguous().numpy().astype("<f4", copy=False).tobytes())
    return h.hexdigest()


def _imagenet_features(file: Path) -> dict[str, torch.Tensor]:
    """torchvision's ImageNet AlexNet convolutions, from its cache or a download."""
    from torchvision.models import AlexNet_Weights

    try:
        state = AlexNet_Weights.IMAGENET1K_V1.get_state_dict(progress=False, check_hash=True)
    except Exception as exc:
        why = (str(exc).splitlines() or [""])[0][:120]
        raise LpipsError(
            f"{file} holds only the LPIPS heads, and torchvision's ImageNet AlexNet is neither in "
            f"{Path(torch.hub.get_dir(), 'checkpoints')} nor downloadable ({type(exc).__name__}: {why}); "
            f"give the full {FILENAME} with --lpips-weights PATH or {ENV}=PATH"
        ) from exc
    return {k: v for k, v in state.items() if k.startswith("features.")}


def _rgb(image: np.ndarray, name: str) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"LPIPS: {name} must be uint8, got {image.dtype}")
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3):
        raise ValueError(f"LPIPS: {name} must be HxWx3 or HxW, got shape {image.shape}")
    return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image


def _pad(image: np.ndarray) -> np.ndarray:
    # The official lpips does nothing for small inputs and AlexNet then fails below 31 px. Reflecting
    # keeps the image's own statistics (no flat border, no resampling blur); both images get the same padding.
    h, w = image.shape[:2]
    dh, dw = max(0, _MIN_SIDE - h), max(0, _MIN_SIDE - w)
    if not dh and not dw:
        return image
    return np.pad(image, ((dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2), (0, 0)), mode="reflect")


def distance(a: np.ndarray, b: np.ndarray, model: Lpips | None = None) -> float:
    """LPIPS between two uint8 images of the same size (sides under 32 px are reflect-padded to 32)."""
    a, b = _rgb(a, "first image"), _rgb(b, "second image")
    if a.shape != b.shape:
        raise ValueError(f"LPIPS needs images of the same size, got {a.shape} and {b.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"LPIPS: empty image {a.shape}")
    model = load() if model is None else model
    device = next(model.parameters()).device
    pair = np.stack([_pad(a), _pad(b)]).transpose(0, 3, 1, 2)
    with torch.inference_mode():
        x = torch.from_numpy(np.ascontiguousarray(pair)).to(device=device, dtype=torch.float32) / 127.5 - 1
        return float(model(x[:1], x[1:])[0])


def crop_box(mask: np.ndarray, grow: float = 0.5, minimum: int = 32) -> tuple[slice, slice]:
    """(rows, cols) of the hole crop: the hole's box grown by ``grow`` of its size a side, >= ``minimum`` px."""
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[-1] == 1:
        mask = mask[..., 0]
    if mask.ndim != 2:
        raise ValueError(f"crop_box needs an HxW mask, got shape {mask.shape}")
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        raise ValueError("crop_box: the mask has no hole")
    return (
        _span(int(rows.min()), int(rows.max()) + 1, mask.shape[0], grow, minimum),
        _span(int(cols.min()), int(cols.max()) + 1, mask.shape[1], grow, minimum),
    )


def _span(lo: int, hi: int, size: int, grow: float, minimum: int) -> slice:
    margin = math.ceil(grow * (hi - lo))
    lo, hi = lo - margin, hi + margin
    short = minimum - (hi - lo)
    if short > 0:
        lo, hi = lo - short // 2, hi + short - short // 2
    lo, hi = max(lo, 0), min(hi, size)
    want = min(minimum, size)
    if hi - lo < want:  # cut by a border: slide inward rather than drop under the minimum
        lo, hi = (0, want) if lo == 0 else (size - want, size)
    return slice(lo, hi)


def hole_crop_distance(original: np.ndarray, result: np.ndarray, mask: np.ndarray, model: Lpips | None = None) -> float:
    """LPIPS over ``crop_box(mask)``; 0.0 when the mask has no hole (nothing was filled)."""
    mask = np.asarray(mask)
    if mask.shape[:2] != np.shape(original)[:2] or np.shape(original)[:2] != np.shape(result)[:2]:
        raise ValueError(f"hole_crop_distance: sizes differ: {np.shape(original)}, {np.shape(result)}, mask {mask.shape}")
    if not mask.any():
        return 0.0
    rows, cols = crop_box(mask)
    return distance(np.asarray(original)[rows, cols], np.asarray(result)[rows, cols], model)
