"""Training data, fresh holes for every sample: the paper's 64x64 images in memory, or (`crops`)
random windows of large photos at random scales, brought to 64x64 as the pipeline brings the
windows it cuts around a hole, so that a model learns the framings `restore run` shows it.

Every random draw comes from a generator seeded by (seed, stage, epoch, batch),
so a resumed run sees exactly the batches it would have seen without the stop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from restore.eval.datasets import dataset_splits, load_stack, seeded_split
from restore.inpainting.holes import blob_hole, paper_masks, stroke_mask
from restore.io.atomic import atomic_write_bytes

# Large photos: the stage-1 validation part lends this many photos to the monitor, the rest train stage 2.
CROP_MONITOR_PHOTOS = 8


@dataclass
class Splits:
    """File lists of a run. stage-1 trains on approx_train and validates on approx_val
    (the paper's 70/30 cut of the training images); stage 2 trains on everything but
    `monitor`, a slice of approx_val. The dataset's own 'val' split is never touched."""

    approx_train: list[str]
    approx_val: list[str]
    gan_train: list[str]
    monitor: list[str]

    @classmethod
    def make(cls, dataset: str, data_dir: Path | None, seed: int, val_images: int, crops: bool = False) -> Splits:
        """With `crops`, the monitor is a few whole photos (its crops are drawn from them), not one image per sample."""
        pool = [str(p) for p in dataset_splits(dataset, data_dir)["train"]]
        a_train, a_val = seeded_split(pool, 0.7, seed)
        monitor = a_val[: max(1, min(CROP_MONITOR_PHOTOS if crops else val_images, len(a_val)))]
        held = set(monitor)
        return cls(a_train, a_val, [p for p in pool if p not in held], monitor)

    def save(self, path: Path) -> None:
        atomic_write_bytes(Path(path), (json.dumps(self.__dict__, indent=1) + "\n").encode())

    @classmethod
    def load(cls, path: Path) -> Splits:
        return cls(**json.loads(Path(path).read_text()))


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 NHWC -> float [-1, 1] NCHW."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(127.5).sub_(1)


def draw_masks(rng: np.random.Generator, n: int, stroke_fraction: float, blob_fraction: float = 0.0) -> np.ndarray:
    """n 64x64 holes: the paper's rectangles, a `stroke_fraction` share replaced by strokes and a
    `blob_fraction` share by object-shaped blobs of 4-30 % of the window (large, varied holes as LaMa trains on)."""
    masks = paper_masks(rng, n)
    pick = rng.random(n)
    for i in np.flatnonzero(pick < stroke_fraction):
        masks[i] = stroke_mask(rng, 64)
    if blob_fraction > 0:  # no draw otherwise: runs from before blobs see the masks they saw
        for i in np.flatnonzero((pick >= stroke_fraction) & (pick < stroke_fraction + blob_fraction)):
            masks[i] = blob_hole(rng, 64, 64, coverage=(0.04, 0.30))
    return masks


class Batches:
    """Shuffled batches of (image, mask) tensors for one epoch, deterministic in (seed, stage, epoch)."""

    def __init__(self, images: np.ndarray, batch_size: int, seed: int, stage: int,
                 stroke_fraction: float, hflip: bool, rank: int = 0, world: int = 1, blob_fraction: float = 0.0):
        self.images = images
        self.batch_size = min(batch_size, len(images))
        self.seed, self.stage = seed, stage
        self.rank, self.world = rank, world
        self.stroke_fraction, self.hflip, self.blob_fraction = stroke_fraction, hflip, blob_fraction

    def __len__(self) -> int:
        """Steps in one pass; with several processes each takes its own share of every pass."""
        return max(1, len(self.images) // (self.batch_size * self.world))

    def batch(self, epoch: int, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The index-th batch of `epoch`; len(self) batches make one pass."""
        n = len(self.images)
        order = np.random.default_rng([self.seed, self.stage, epoch]).permutation(n)
        start = (index * self.world + self.rank) * self.batch_size
        idx = order[start % n:][: self.batch_size]
        if len(idx) < self.batch_size:
            idx = np.concatenate([idx, order[: self.batch_size - len(idx)]])
        rng = np.random.default_rng([self.seed, self.stage, epoch, index, self.rank])
        imgs = self.images[idx]
        if self.hflip:
            flip = rng.random(len(idx)) < 0.5
            imgs = np.where(flip[:, None, None, None], imgs[:, :, ::-1], imgs)
        masks = draw_masks(rng, len(idx), self.stroke_fraction, self.blob_fraction)
        return to_tensor(np.ascontiguousarray(imgs)), torch.from_numpy(masks[:, None].astype(np.float32))


def random_crop(photo: np.ndarray, rng: np.random.Generator, crop_min: int, size: int = 64) -> np.ndarray:
    """A square window of a photo, its side log-uniform between `crop_min` and the photo's short side,
    anywhere in the photo, brought to size x size as the pipeline brings its windows (bicubic)."""
    from PIL import Image

    h, w = photo.shape[:2]
    short = min(h, w)
    lo = min(crop_min, short)
    side = int(round(np.exp(rng.uniform(np.log(lo), np.log(short)))))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = Image.fromarray(photo[y : y + side, x : x + side])
    # reducing_gap: a box pre-shrink before the bicubic step; 10x faster on 1024-pixel windows, alike to the eye
    return np.asarray(crop.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=3.0))


class CropBatches(Batches):
    """Batches of random windows of large photos (`random_crop`): `epoch_size` windows make an epoch."""

    def __init__(self, photos: list[np.ndarray], batch_size: int, seed: int, stage: int, stroke_fraction: float,
                 hflip: bool, rank: int = 0, world: int = 1, blob_fraction: float = 0.0, epoch_size: int = 4096,
                 crop_min: int = 64):
        self.photos = photos
        self.batch_size = batch_size
        self.seed, self.stage = seed, stage
        self.rank, self.world = rank, world
        self.stroke_fraction, self.hflip, self.blob_fraction = stroke_fraction, hflip, blob_fraction
        self.epoch_size, self.crop_min = epoch_size, crop_min

    def __len__(self) -> int:
        return max(1, self.epoch_size // (self.batch_size * self.world))

    def batch(self, epoch: int, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.stage, epoch, index, self.rank])
        picks = rng.integers(0, len(self.photos), size=self.batch_size)
        imgs = np.stack([random_crop(self.photos[i], rng, self.crop_min) for i in picks])
        if self.hflip:
            flip = rng.random(len(imgs)) < 0.5
            imgs = np.where(flip[:, None, None, None], imgs[:, :, ::-1], imgs)
        masks = draw_masks(rng, len(imgs), self.stroke_fraction, self.blob_fraction)
        return to_tensor(np.ascontiguousarray(imgs)), torch.from_numpy(masks[:, None].astype(np.float32))


def fixed_crops(photos: list[np.ndarray], n: int, seed: int, crop_min: int) -> np.ndarray:
    """n windows of the monitor photos, drawn once from `seed`: the same every epoch."""
    rng = np.random.default_rng([seed, 99])
    return np.stack([random_crop(photos[i % len(photos)], rng, crop_min) for i in range(n)])


def load_photos(files: list[str]) -> list[np.ndarray]:
    """Photos at their own size, upright, RGB uint8."""
    from tqdm import tqdm

    from restore.io.decode import read_view

    return [read_view(Path(f)) for f in tqdm(files, desc="reading photos", unit="photo", leave=False)]


def fixed_val(images: np.ndarray, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Validation images with paper masks drawn once from `seed`, identical every epoch."""
    masks = paper_masks(np.random.default_rng(seed), len(images))
    return to_tensor(images), torch.from_numpy(masks[:, None].astype(np.float32))


def load_images(files: list[str], cache_dir: Path | None) -> np.ndarray:
    return load_stack([Path(f) for f in files], 64, cache_dir=cache_dir, progress=True)
