"""Every training hyper-parameter in one dataclass, saved as config.json in the run directory."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from restore.inpainting.networks import ApproxNetConfig, DiscriminatorConfig, InpainterConfig, RefinerConfig


@dataclass
class TrainConfig:
    dataset: str = "celeba"  # celeba | cars | a folder of images
    seed: int = 0
    batch_size: int = 32
    stroke_fraction: float = 0.25  # share of free-form stroke masks among the paper's rectangles
    blob_fraction: float = 0.0  # share of object-shaped blobs (4-30 % of the window) among them
    crops: bool = False  # random windows of the photos at random scales instead of whole images shrunk to 64x64
    crop_min: int = 64  # smallest window side in photo pixels (the largest is the photo's short side)
    epoch_size: int = 4096  # windows per epoch with crops (a few large photos give any number of windows)
    hflip: bool = True
    workers_threads: int = 0  # torch threads; 0 = torch's default
    val_images: int = 512  # monitoring images per epoch, taken from the stage-1 validation part (windows, with crops)

    # stage 1: ApproxNet alone, L1 on the hole, on 70% of the training images
    approx_epochs: int = 200  # the paper's number; a dense net on 16x16 is cheap enough for it
    approx_lr: float = 1e-3
    approx_batch_size: int = 64

    # stage 2: refiner + discriminator
    init: str = ""  # start the generator from this model (folder or released name) instead of --approx's ApproxNet
    gan_epochs: int = 12
    gan_steps_per_epoch: int = 0  # 0 = one pass over the training images
    lr: float = 1e-3
    lr_min: float = 2e-5  # cosine decay target
    d_lr: float = 2e-4
    approx_trainable: bool = True  # fine-tune ApproxNet (at lr * approx_lr_scale) in stage 2
    approx_lr_scale: float = 0.1
    alpha: float = 1000.0  # L_G = BCE + alpha * reconstruction; adversarial gradient ends at 19-33 % of it (metrics.csv)
    border_weight: float = 2.0  # extra L1 weight on hole pixels within `border_px` of known ones
    border_px: int = 3
    ssim_weight: float = 0.5  # weight of (1 - SSIM) inside the reconstruction term
    psnr_weight: float = 0.0  # weight of the per-image log of hole MSE (what mean hole PSNR measures)
    # weight of LPIPS-AlexNet (restore/eval/lpips.py) between the pasted-back fill and the truth: a term
    # that sees texture, where L1 and SSIM reward a blur; 0 leaves it out
    perceptual_weight: float = 0.0
    perceptual_file: str = ""  # the LPIPS weights; "" = restore.eval.lpips's lookup (RESTORE_LPIPS_WEIGHTS, ../shared/weights)
    ema: float = 0.999  # decay of the released generator's weight average; 0 disables
    log_every: int = 50

    model: InpainterConfig = field(default_factory=InpainterConfig)
    disc: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        data = dict(data)
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        model = InpainterConfig.from_dict(data.pop("model")) if "model" in data else InpainterConfig()
        disc_d = data.pop("disc", None)
        disc_d = {k: tuple(v) if isinstance(v, list) else v for k, v in (disc_d or {}).items()}
        disc = DiscriminatorConfig(**disc_d)
        return cls(model=model, disc=disc, **data)

    def save(self, path: Path) -> None:
        from restore.io.atomic import atomic_write_bytes

        atomic_write_bytes(Path(path), (json.dumps(self.to_dict(), indent=2) + "\n").encode())

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        from .runs import read_json

        return cls.from_dict(read_json(path))


TINY = dict(  # for tests: a few seconds on a CPU
    approx_epochs=1,
    gan_epochs=1,
    gan_steps_per_epoch=2,
    batch_size=4,
    approx_batch_size=4,
    val_images=4,
    log_every=1,
    model=InpainterConfig(
        approx=ApproxNetConfig(grid=8, hidden=32),
        refiner=RefinerConfig(widths=(4, 8, 8), dilations=(1, 2)),
    ),
    disc=DiscriminatorConfig(widths=(8, 8, 8, 8), hidden=8),
)
