"""Shared fixtures: tiny models and synthetic photos, all made on the fly (no network, no datasets)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restore.inpainting.networks import ApproxNetConfig, Inpainter, InpainterConfig, RefinerConfig

TINY = InpainterConfig(
    approx=ApproxNetConfig(grid=8, hidden=32),
    refiner=RefinerConfig(widths=(4, 8, 16), dilations=(1, 2), attention=(16,)),
)


def tiny_model(seed: int = 0) -> Inpainter:
    import torch

    torch.manual_seed(seed)
    model = Inpainter(copy.deepcopy(TINY))  # a test may change its model's config; TINY stays as it is
    with torch.no_grad():  # gamma starts at 0; make attention matter in tests
        model.refiner.attn16.gamma.fill_(0.5)
    return model.eval()


@pytest.fixture(autouse=True)
def _auto_is_float32(monkeypatch):
    """--precision auto resolves to float32 in tests, whatever the CPU: routes compared pixel for pixel agree, and
    no result hangs on the machine running the tests. tests/test_precision.py asks for bfloat16 where it tests it."""
    from restore import precision

    monkeypatch.setattr(precision, "native_bfloat16", lambda: False)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    from restore.hub import save_pretrained

    folder = tmp_path_factory.mktemp("model")
    save_pretrained(tiny_model(), folder)
    return folder


def smooth_photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth RGB picture (gradients + blobs): something an inpainter can continue."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    chans = [np.sin(2 * np.pi * (rng.uniform(0.5, 2) * xx + rng.uniform(0.5, 2) * yy) + rng.uniform(0, 6)) for _ in range(3)]
    return np.clip(np.stack(chans, -1) * 100 + 128, 0, 255).astype(np.uint8)


def write_photo(path: Path, h: int, w: int, mode: str = "RGB", seed: int = 0) -> Path:
    im = Image.fromarray(smooth_photo(h, w, seed))
    if mode == "RGBA":
        a = np.full((h, w), 200, np.uint8)
        a[: h // 2] = 90
        im = im.convert("RGBA")
        im.putalpha(Image.fromarray(a))
    elif mode != "RGB":
        im = im.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)
    return path


def write_mask(path: Path, h: int, w: int, box=None) -> Path:
    m = np.zeros((h, w), np.uint8)
    y0, x0, y1, x1 = box or (h // 3, w // 3, h // 3 + max(2, h // 5), w // 3 + max(2, w // 5))
    m[y0:y1, x0:x1] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(m).save(path)
    return path
