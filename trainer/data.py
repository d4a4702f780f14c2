"""Training data: the paper's 64x64 images in memory, fresh holes for every sample.

Every random draw comes from a generator seeded by (seed, stage, epoch, batch),
so a resumed run sees exactly the batches it would have seen without the stop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from restore.datasets import dataset_splits, load_stack, seeded_split
from restore.imageio import atomic_write_bytes
from restore.masks import paper_masks, stroke_mask


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
    def make(cls, dataset: str, data_dir: Path | None, seed: int, val_images: int) -> Splits:
        pool = [str(p) for p in dataset_splits(dataset, data_dir)["train"]]
        a_train, a_val = seeded_split(pool, 0.7, seed)
        monitor = a_val[: max(1, min(val_images, len(a_val)))]
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


def draw_masks(rng: np.random.Generator, n: int, stroke_fraction: float) -> np.ndarray:
    """n 64x64 holes: the paper's rectangles, a `stroke_fraction` share replaced by strokes."""
    masks = paper_masks(rng, n)
    for i in np.flatnonzero(rng.random(n) < stroke_fraction):
        masks[i] = stroke_mask(rng, 64)
    return masks


class Batches:
    """Shuffled batches of (image, mask) tensors for one epoch, deterministic in (seed, stage, epoch)."""

    def __init__(self, images: np.ndarray, batch_size: int, seed: int, stage: int,
                 stroke_fraction: float, hflip: bool, rank: int = 0, world: int = 1):
        self.images = images
        self.batch_size = min(batch_size, len(images))
        self.seed, self.stage = seed, stage
        self.rank, self.world = rank, world
        self.stroke_fraction, self.hflip = stroke_fraction, hflip

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
        masks = draw_masks(rng, len(idx), self.stroke_fraction)
        return to_tensor(np.ascontiguousarray(imgs)), torch.from_numpy(masks[:, None].astype(np.float32))


def fixed_val(images: np.ndarray, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Validation images with paper masks drawn once from `seed`, identical every epoch."""
    masks = paper_masks(np.random.default_rng(seed), len(images))
    return to_tensor(images), torch.from_numpy(masks[:, None].astype(np.float32))


def load_images(files: list[str], cache_dir: Path | None) -> np.ndarray:
    return load_stack([Path(f) for f in files], 64, cache_dir=cache_dir, progress=True)
