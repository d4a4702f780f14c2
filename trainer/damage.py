"""Training the damage detector on synthetic damage over clean photos of the training splits.

Each sample is a square crop of a photo from natural/, CelebA or Cars (their `train` splits only),
scaled at random as scans come at every resolution, made into an old print and damaged by
`restore.damage.synthetic`. A few training photos of each set are kept aside as the monitor; the
datasets' `val` splits are left to `restore bench --damage`. Every draw is seeded by (seed, epoch,
batch), so a resumed run sees the batches it would have seen without the stop.
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from restore.damage import synthetic
from restore.damage.detector import DamageDetector, DetectorConfig
from restore.eval.detection import Counts, counts

from .data import load_photos, to_tensor
from .export import _commands, files_table
from .runs import config_from_dict, initial_weights, load_config

SOURCES = ("natural", "celeba", "cars")


@dataclass
class DamageTrainConfig:
    kind: str = "damage"  # tells `restore-train export` what the run trained
    seed: int = 0
    crop: int = 128  # side of the training crops, in photo pixels after scaling
    batch_size: int = 16
    epochs: int = 12
    steps_per_epoch: int = 500
    lr: float = 2e-3
    lr_min: float = 5e-5
    pos_weight: float = 2.0  # weight of damaged pixels in the cross-entropy (they are a few percent)
    dice_weight: float = 0.5
    ema: float = 0.998
    clean_fraction: float = 0.15  # crops with no damage at all, to learn what is not damage
    hard_negatives: float = 0.5  # share of crops given wires, branches, text, stars or highlights
    # how the damage of a crop is drawn (restore bench --damage draws synthetic.DamageMix's defaults)
    crack_odds: float = 0.35  # share of damaged crops with cracks
    dust_odds: float = 0.55  # ... with dust and specks
    scratch_light: float = 0.7  # share of scratches that are light (the rest are dark)
    crack_light: float = 0.5  # share of cracks that are light
    weights: tuple[float, ...] = (0.6, 0.2, 0.2)  # how often each of SOURCES is drawn
    max_photos: tuple[int, ...] = (0, 3000, 2000)  # photos taken from each source (0 = all)
    monitor_photos: tuple[int, ...] = (8, 60, 60)  # training photos of each source kept aside to monitor
    monitor_crops: int = 192
    threads: int = 0  # torch threads; 0 = torch's default
    init: str = ""  # start from this run's weights (a run directory) or model folder, instead of from scratch
    model: DetectorConfig = field(default_factory=DetectorConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> DamageTrainConfig:
        return config_from_dict(cls, data, DetectorConfig)


TINY = dict(crop=32, batch_size=2, epochs=1, steps_per_epoch=2, monitor_crops=4, max_photos=(2, 2, 2),
            monitor_photos=(1, 1, 1), model=DetectorConfig(widths=(4, 8)))


def photo_lists(cfg: DamageTrainConfig, data_dir: Path | None) -> dict[str, dict[str, list[str]]]:
    """{source: {'train': files, 'monitor': files}} from each source's `train` split; sources absent from
    the data folder are left out (at least one must be there)."""
    from restore.eval.datasets import DataError, dataset_splits

    out = {}
    for name, most, keep in zip(SOURCES, cfg.max_photos, cfg.monitor_photos, strict=True):
        try:
            files = [str(p) for p in dataset_splits(name, data_dir)["train"]]
        except DataError:
            continue
        order = np.random.default_rng([cfg.seed, 7]).permutation(len(files))
        files = [files[i] for i in order]
        monitor, train = files[:keep], files[keep:]
        out[name] = {"train": train[:most] if most else train, "monitor": monitor}
    if not out:
        raise ValueError(f"no training photos under {data_dir}: need natural/, celeba/ or stanford_cars/")
    return out


def crop_of(photo: np.ndarray, rng: np.random.Generator, side: int, source: str) -> np.ndarray:
    """A side x side crop of the photo, scaled first: large photos down (to 30-100 %), small ones up."""
    from PIL import Image

    h, w = photo.shape[:2]
    lo, hi = (0.3, 1.0) if source == "natural" else (1.0, 1.8)
    scale = max(float(np.exp(rng.uniform(np.log(lo), np.log(hi)))), side / min(h, w))
    if abs(scale - 1) > 1e-3:
        nh, nw = max(side, round(h * scale)), max(side, round(w * scale))
        photo = np.asarray(Image.fromarray(photo).resize((nw, nh), Image.Resampling.BICUBIC, reducing_gap=3.0))
        h, w = nh, nw
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    out = photo[y : y + side, x : x + side]
    return out[:, ::-1] if rng.random() < 0.5 else out


def damage_mix(cfg: DamageTrainConfig) -> synthetic.DamageMix:
    """The run's way of drawing damage: the bench's, with the run's odds of cracks and dust and tones."""
    odds = list(synthetic.DamageMix().odds)
    odds[synthetic.KINDS.index("crack")] = cfg.crack_odds
    odds[synthetic.KINDS.index("dust")] = cfg.dust_odds
    return synthetic.DamageMix(tuple(odds), cfg.scratch_light, cfg.crack_light)


def sample(photos: dict[str, list[np.ndarray]], cfg: DamageTrainConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One (damaged crop uint8 (S, S, 3), damage mask bool (S, S))."""
    names = list(photos)
    p = np.array([cfg.weights[SOURCES.index(n)] for n in names], float)
    source = names[int(rng.choice(len(names), p=p / p.sum()))]
    pool = photos[source]
    crop = crop_of(pool[int(rng.integers(len(pool)))], rng, cfg.crop, source)
    kinds = () if rng.random() < cfg.clean_fraction else None
    d = synthetic.apply(rng, crop, kinds, hard_negatives=cfg.hard_negatives, mix=damage_mix(cfg))
    return d.damaged, d.mask


class DamageStage:
    """The detector's training, as trainer.loop runs a stage."""

    name = "damage"

    def __init__(self, cfg: DamageTrainConfig, lists: dict, device: torch.device):
        self.cfg, self.device = cfg, device
        self.photos = {k: load_photos(v["train"]) for k, v in lists.items()}
        monitor = {k: load_photos(v["monitor"]) for k, v in lists.items() if v["monitor"]}
        monitor = monitor or self.photos
        rng = np.random.default_rng([cfg.seed, 99])
        pairs = [sample(monitor, cfg, rng) for _ in range(cfg.monitor_crops)]
        self.val_x = np.stack([p[0] for p in pairs])
        self.val_m = np.stack([p[1] for p in pairs])
        torch.manual_seed(cfg.seed)
        self.net = DamageDetector(cfg.model)
        if cfg.init:
            self.net.load_state_dict(initial_weights(cfg.init, "damage", "detector"), strict=True)
        self.net = self.net.to(device)
        self.ema = copy.deepcopy(self.net).eval().requires_grad_(False)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)
        self.epochs, self.steps_per_epoch = cfg.epochs, cfg.steps_per_epoch
        self.total_steps = self.epochs * self.steps_per_epoch

    def batch(self, epoch: int, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.cfg.seed, epoch, index])
        pairs = [sample(self.photos, self.cfg, rng) for _ in range(self.cfg.batch_size)]
        x = to_tensor(np.stack([p[0] for p in pairs]))
        m = torch.from_numpy(np.stack([p[1] for p in pairs])[:, None].astype(np.float32))
        return x.to(self.device), m.to(self.device)

    def loss(self, logits: torch.Tensor, m: torch.Tensor) -> tuple[torch.Tensor, dict]:
        cfg = self.cfg
        bce = F.binary_cross_entropy_with_logits(logits, m, pos_weight=torch.tensor(cfg.pos_weight, device=m.device))
        p = torch.sigmoid(logits)
        dice = 1 - (2 * (p * m).sum() + 1) / (p.sum() + m.sum() + 1)
        return bce + cfg.dice_weight * dice, {"bce": bce.item(), "dice": dice.item()}

    def step(self, epoch: int, index: int, global_step: int) -> dict:
        cfg = self.cfg
        t = min(global_step / max(self.total_steps, 1), 1.0)
        lr = cfg.lr_min + (cfg.lr - cfg.lr_min) * 0.5 * (1 + math.cos(math.pi * t))
        warm = min(1.0, (global_step + 1) / 200)  # a short warm-up: the first steps see a random net
        for g in self.opt.param_groups:
            g["lr"] = lr * warm
        x, m = self.batch(epoch, index)
        self.net.train()
        loss, parts = self.loss(self.net(x), m)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        with torch.no_grad():
            decay = min(cfg.ema, (1 + global_step) / (10 + global_step))
            for e, p in zip(self.ema.parameters(), self.net.parameters(), strict=True):
                e.lerp_(p, 1 - decay)
        return {"loss": loss.item(), **parts}

    @torch.inference_mode()
    def predict(self, x: np.ndarray) -> np.ndarray:
        probs = []
        for i in range(0, len(x), 32):
            probs.append(torch.sigmoid(self.ema(to_tensor(x[i : i + 32]).to(self.device)))[:, 0].cpu().numpy())
        return np.concatenate(probs)

    def evaluate(self, epoch: int) -> dict:
        from restore.damage.detector import to_mask

        probs = self.predict(self.val_x)
        total, alarms, clean = Counts(), [], 0
        for prob, truth in zip(probs, self.val_m, strict=True):
            mask = to_mask(prob, self.cfg.model)
            total = total + counts(mask, truth)
            if not truth.any():
                alarms.append(mask.mean())
                clean += 1
        return {"val_f1": total.f1, "val_precision": total.precision, "val_recall": total.recall,
                "val_false_alarm": float(np.mean(alarms)) if alarms else float("nan")}

    def samples(self) -> list[np.ndarray]:
        probs = self.predict(self.val_x[:8])
        gray = lambda a: np.repeat((a * 255).astype(np.uint8)[..., None], 3, axis=3)  # noqa: E731
        return [self.val_x[:8], gray(probs), gray(self.val_m[:8].astype(np.float32))]

    def state_dict(self) -> dict:
        return {"net": self.net.state_dict(), "ema": self.ema.state_dict(), "opt": self.opt.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.ema.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["opt"])


def train(cfg: DamageTrainConfig, run_dir: Path, device: torch.device, data_dir: Path | None, log=print,
          max_steps: int | None = None) -> DamageStage:
    """Train (or resume) the detector in run_dir; the file lists are fixed in run_dir/split.json."""
    from restore.io.atomic import atomic_write_bytes

    from . import loop

    split = run_dir / "split.json"
    if split.exists():
        lists = json.loads(split.read_text())
    else:
        lists = photo_lists(cfg, data_dir)
        atomic_write_bytes(split, (json.dumps(lists, indent=1) + "\n").encode())
    stage = DamageStage(cfg, lists, device)
    loop.run(stage, run_dir, checkpoint_every=100, log=log, max_steps=max_steps)
    return stage


def _lineage(run_dir: Path, cfg: DamageTrainConfig) -> tuple[str, float, list[str]]:
    """(the commands of the run and of every run it started from, their training seconds x threads, run dirs).

    A run started from a released detector (--init restore/weights/damage) takes the rest of its lineage,
    commands and hours, from that release's model card."""
    from . import checkpoint
    from .export import _init_commands, init_card, init_hours

    commands, cpu_seconds, runs = [], 0.0, []
    while True:
        state = checkpoint.load(run_dir / "damage")
        cpu_seconds += (state["elapsed"] if state else 0.0) * (cfg.threads or torch.get_num_threads())
        commands.insert(0, f"# in {run_dir}:\n{_commands(run_dir)}")
        runs.insert(0, str(run_dir))
        if not cfg.init:
            break
        start = Path(cfg.init)
        if not (start / "damage").is_dir():  # a released model, not a run directory
            card = init_card(cfg.init)
            found = re.search(r"\| model\.safetensors \| `([0-9a-f]{64})` \|", card or "")
            which = f"was the release whose model.safetensors has sha256 {found.group(1)}" if found else "names a release without a card"
            commands.insert(0, f"# --init {cfg.init} below {which}\n"
                               + _init_commands(cfg.init, card) + "\n# then:")
            cpu_seconds += 3600 * (init_hours(card) or 0.0)
            runs.insert(0, f"the runs on {cfg.init}'s card")
            break
        run_dir = start
        cfg = load_config(run_dir / "config.json", DamageTrainConfig)
    return "\n".join(commands), cpu_seconds, runs


def score_card(folder: Path, data_dir: Path | None, n: int | None) -> str:
    """The `restore bench --damage` table on natural/'s `val` photos, for the card."""
    from restore.eval.damage import score_release

    return score_release(folder, data_dir, n)


def export_detector(run_dir: Path, name: str, out: Path | None = None, data_dir: Path | None = None,
                    n: int | None = None, settings: dict | None = None) -> Path:
    """The release of a detector run (config.json + model.safetensors, float16) with its model card; `settings`
    (threshold, flips) replace how the run's config says to read the network's output."""
    import platform

    from .runs import export

    settings = settings or {}
    done = export(run_dir, "damage", DamageTrainConfig, DamageDetector, name, out, lambda o, _: score_card(o, data_dir, n),
                  settings)
    cfg, model, out, digests, scores, last = done.cfg, done.net, done.out, done.digests, done.scores, done.last
    commands, cpu_seconds, runs = _lineage(run_dir, cfg)
    lists = json.loads((run_dir / "split.json").read_text())
    used = ", ".join(f"{k} {len(v['train'])}" for k, v in lists.items())
    kept = ", ".join(f"{k} {len(v['monitor'])}" for k, v in lists.items())
    params = sum(p.numel() for p in model.parameters())
    names = {"h": "left to right", "v": "top to bottom", "hv": "both ways"}
    views = (f", averaged over the photo and its mirror images ({', '.join(names[f] for f in cfg.model.flips)}),"
             if cfg.model.flips else "")
    flag = {"threshold": lambda v: f" --threshold {v:g}", "flips": lambda v: f" --flips {','.join(v) or 'none'}",
            "max_side": lambda v: f" --max-side {v}", "enlarge": lambda v: f" --enlarge {v:g}"}
    flags = "".join(flag[k](v) for k, v in settings.items())
    larger = (f"; a photo whose long side is over {cfg.model.max_side} px is also read from a copy brought down to"
              " it, and what either reading finds is damage" if cfg.model.max_side else "")
    if cfg.model.enlarge:
        larger += (f"; the reading at the learnt scale (the photo, or that copy) is averaged with one of a copy "
                   f"{cfg.model.enlarge:g} times larger, read once")
    card = f"""# restore `{name}` damage detector

A U-Net that marks scratches, cracks, creases, dust, specks and worn edges on scans of old prints,
pixel by pixel, at the photo's own resolution (in tiles of {cfg.model.tile} px when larger). It works from half
resolution down (each 2x2 block of pixels folded into channels) and gives a logit for every pixel.
Widths {list(cfg.model.widths)}, {params / 1e6:.2f}M parameters, stored in float16. `restore run --detect-damage`
fills what it finds with the inpainting model.

- data: crops of {cfg.crop}x{cfg.crop} of the `train` splits ({used} photos; {kept} more kept aside to
  monitor), scaled at random (natural/ to 30-100 %, faces and cars up to 180 %), flipped; the datasets'
  `val` splits were never used in training
- old-print look, on the clean and the damaged copy alike: gray, sepia or faded colour, low contrast,
  lifted blacks, soft focus; then grain, softening and JPEG as a scan adds them
- damage (`restore/damage/synthetic.py`), laid over the print: long scratches light or dark 1-6 px wide,
  straight or curved, partly transparent, some broken; branching cracks; dust and specks from a pixel to
  blots, and fibres; creases; torn or worn edges. {cfg.clean_fraction:.0%} of crops have none.
  In the last run {cfg.crack_odds:.0%} of damaged crops had cracks ({cfg.crack_light:.0%} of them light), {cfg.dust_odds:.0%}
  dust, and {cfg.scratch_light:.0%} of scratches were light.
- hard negatives, drawn into the picture before it is aged (so toned and softened with it): wires,
  branches, hair, text, stars, highlights, in {cfg.hard_negatives:.0%} of crops
- loss: cross-entropy (damaged pixels weighted {cfg.pos_weight:g}) + {cfg.dice_weight:g} soft Dice; Adam, cosine lr
  {cfg.lr:g} -> {cfg.lr_min:g}, batch {cfg.batch_size}, {cfg.epochs} x {cfg.steps_per_epoch} steps; weights averaged (EMA {cfg.ema})
- a pixel is damage where its probability{views} is above {cfg.model.threshold:g}; specks under
  {cfg.model.min_area} px are dropped; the mask is grown by {cfg.model.grow} px before filling{larger}
- training: {cpu_seconds / 3600:.2f} CPU-hours (training seconds x torch threads, {platform.machine()}, no GPU), over
  {', '.join(runs)}; last monitor F1 {float(last['val_f1']):.3f} (2 px tolerance), false alarms
  {100 * float(last['val_false_alarm']):.3f} % of pixels on clean crops

Commands (from the runs' command.txt):

```
{commands}
restore-train export {run_dir} --name {name}{flags}
```

## Scores

{scores}

## Files

""" + files_table(digests)
    from restore.io.atomic import atomic_write_bytes

    atomic_write_bytes(out / "README.md", card.encode())
    return out
