"""Training a texture stage at the photo's own resolution (issue 26's native-resolution stage).

The inpainting networks see 64x64 pixels: a large hole is filled from a downscaled window and
scaled back up, and what `restore run` writes there is soft even with the texture `detail`
borrows. This stage is a small fully convolutional network that takes that fill at native
resolution (the photo with `restore run`'s result in the hole, and the mask) and returns it with
texture added in the hole; known pixels pass through. It is trained on crops of `crop` pixels cut
around holes drawn as `restore bench --size native` draws them, filled by the released `base`
model exactly as `restore run` fills them, against the true photo: hole L1 plus
`perceptual_weight` times LPIPS-AlexNet on the crop, and with `adversarial_weight` a patch
discriminator's hinge term over the patches that hold hole (trainer/patchgan.py).

Training photos: the dataset's `train` split without the few photos the base model's own run kept
aside to monitor (trainer.data.Splits), which monitor this stage too; `val` is never read. The
crops are cut once, into run_dir/crops-*.npz, so a resumed run trains on the same ones; batches
are drawn from them seeded by (seed, epoch, batch).

`restore-train export RUN --name texture` writes the release (restore/inpainting/texture.py is the
network and how the pipeline runs it); an inpainting model's config.json names the stage it runs.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from restore.inpainting.texture import TextureConfig, TextureNet

from .data import Splits, load_photos, to_tensor
from .losses import d_hinge_loss, g_hinge_loss, hole_patches
from .runs import config_from_dict, initial_weights

KINDS = ("rect", "blob", "blob", "stroke")  # the holes drawn in each photo per round: blobs twice
BASE_SEED = 0  # the seed of the base model's run (restore/weights/photo), whose split picks the monitor photos


@dataclass
class TextureTrainConfig:
    kind: str = "texture"  # tells `restore-train export` what the run trained
    seed: int = 0
    dataset: str = "natural"
    base: str = "photo"  # the inpainting model whose fills the stage learns to finish
    crop: int = 128
    crops_per_hole: int = 6
    rounds: int = 3  # passes over the training photos, each drawing len(KINDS) holes in every photo
    batch_size: int = 8
    epochs: int = 8
    steps_per_epoch: int = 500
    lr: float = 2e-4
    perceptual_weight: float = 1.0  # LPIPS-AlexNet on the crop, beside the hole L1; 0 = L1 alone
    perceptual_file: str = ""  # the LPIPS weights (default: as restore bench finds them)
    adversarial_weight: float = 0.0  # a patch discriminator's hinge term on the hole (trainer.patchgan); 0 = none
    disc_width: int = 32
    disc_lr: float = 2e-4
    ema: float = 0.999
    threads: int = 0  # torch threads; 0 = torch's default
    init: str = ""  # start from this stage's weights (a run directory or a release folder), not from zero
    model: TextureConfig = field(default_factory=TextureConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TextureTrainConfig:
        return config_from_dict(cls, data, TextureConfig)


def _load_init(net: TextureNet, spec: str) -> None:
    """`net` given the weights of --init `spec`; a start without attention (v2) leaves `net`'s attention block
    as it is, fresh (it passes through until trained)."""
    state = initial_weights(spec, "texture", "texture")
    own = net.state_dict()
    misfit = sorted(k for k in state if k not in own or own[k].shape != state[k].shape)
    missing = sorted(k for k in own if k not in state and not k.startswith("attn."))
    if misfit or missing:
        raise ValueError(f"--init {spec}: its weights do not fit this stage's network ({(misfit + missing)[:3]}); "
                         "give the --model-width and --model-attention it was trained with")
    net.load_state_dict(state, strict=False)


def cut_crops(photos: list[np.ndarray], restorer, cfg: TextureTrainConfig, rng: np.random.Generator, rounds: int,
              log=print) -> dict[str, np.ndarray]:
    """{'fill', 'mask', 'truth'}: crops of cfg.crop pixels around holes drawn in each photo, filled by `restorer`.
    Photos smaller than a crop are skipped."""
    from restore.eval.native_size import HOLES

    s = cfg.crop
    fills, masks, truths = [], [], []
    for r in range(rounds):
        for i, rgb in enumerate(photos):
            h, w = rgb.shape[:2]
            if h < s or w < s:
                continue
            holes = [HOLES[k](rng, h, w) for k in KINDS]
            for m, out in zip(holes, restorer.restore_many([(rgb, m) for m in holes]), strict=True):
                ys, xs = np.nonzero(m)
                if not len(ys):
                    continue
                for _ in range(cfg.crops_per_hole):
                    k = int(rng.integers(len(ys)))
                    y = int(np.clip(ys[k] + rng.integers(-s // 3, s // 3 + 1) - s // 2, 0, h - s))
                    x = int(np.clip(xs[k] + rng.integers(-s // 3, s // 3 + 1) - s // 2, 0, w - s))
                    cm = m[y : y + s, x : x + s]
                    if cm.mean() < 0.03:  # mostly known: nothing to learn
                        continue
                    fills.append(out[y : y + s, x : x + s])
                    masks.append(cm)
                    truths.append(rgb[y : y + s, x : x + s])
            if i % 20 == 0:
                log(f"crops: round {r + 1}/{rounds}, photo {i + 1}/{len(photos)}, {len(fills)} crops")
    if not fills:
        raise ValueError(f"no crops: every photo is smaller than --crop {s}")
    return {"fill": np.stack(fills), "mask": np.stack(masks), "truth": np.stack(truths)}


def _crops(run_dir: Path, name: str, make) -> dict[str, np.ndarray]:
    """The crops cached in run_dir/crops-NAME.npz, cut by `make()` the first time."""
    from restore.io.atomic import atomic_write

    path = run_dir / f"crops-{name}.npz"
    if not path.exists():
        data = make()
        atomic_write(path, lambda f: np.savez(f, **data))
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


class TextureStage:
    """The texture stage's training, as trainer.loop runs a stage."""

    name = "texture"

    def __init__(self, cfg: TextureTrainConfig, train: dict, monitor: dict, device: torch.device, perceptual=None):
        self.cfg, self.device = cfg, device
        self.train, self.monitor = train, monitor
        torch.manual_seed(cfg.seed)
        self.net = TextureNet(cfg.model)
        if cfg.init:
            _load_init(self.net, cfg.init)
        self.net = self.net.to(device)
        self.ema = copy.deepcopy(self.net).eval().requires_grad_(False)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr, betas=(0.5, 0.9))
        self.perceptual = perceptual
        self.disc = self.opt_d = None
        if cfg.adversarial_weight > 0:
            from .patchgan import PatchDiscriminator

            self.disc = PatchDiscriminator(cfg.disc_width).to(device)
            self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=cfg.disc_lr, betas=(0.5, 0.9))
        self.epochs, self.steps_per_epoch = cfg.epochs, cfg.steps_per_epoch
        self.total_steps = self.epochs * self.steps_per_epoch

    def _batch(self, data: dict, idx: np.ndarray):
        x = to_tensor(data["fill"][idx]).to(self.device)
        y = to_tensor(data["truth"][idx]).to(self.device)
        m = torch.from_numpy(data["mask"][idx][:, None].astype(np.float32)).to(self.device)
        return x, y, m

    def losses(self, pred: torch.Tensor, y: torch.Tensor, m: torch.Tensor) -> tuple[torch.Tensor, dict]:
        l1 = ((pred - y).abs() * m).sum() / (m.sum() * 3).clamp_min(1)
        out = {"l1": l1.item()}
        loss = l1
        if self.perceptual is not None and self.cfg.perceptual_weight > 0:
            lp = self.perceptual(pred, y).mean()
            loss = loss + self.cfg.perceptual_weight * lp
            out["lpips"] = lp.item()
        if self.disc is not None:
            logits = self.disc(pred, m)
            adv = g_hinge_loss(logits, hole_patches(m, logits.shape[-2:]))
            loss = loss + self.cfg.adversarial_weight * adv
            out["g_adv"] = adv.item()
        return loss, out

    def disc_step(self, pred: torch.Tensor, y: torch.Tensor, m: torch.Tensor) -> dict:
        """One step of the patch discriminator: true crops against the stage's fills (detached)."""
        self.disc.train()
        real, fake = self.disc(y, m), self.disc(pred.detach(), m)
        loss = d_hinge_loss(real, fake, hole_patches(m, fake.shape[-2:]))
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        return {"d": loss.item(), "d_real": real.mean().item(), "d_fake": fake.mean().item()}

    def step(self, epoch: int, index: int, global_step: int) -> dict:
        cfg = self.cfg
        rng = np.random.default_rng([cfg.seed, epoch, index])
        idx = rng.integers(0, len(self.train["fill"]), cfg.batch_size)
        x, y, m = self._batch(self.train, idx)
        if rng.random() < 0.5:
            x, y, m = x.flip(3), y.flip(3), m.flip(3)
        t = min(global_step / max(self.total_steps, 1), 1.0)
        for g in self.opt.param_groups:
            g["lr"] = cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))
        self.net.train()
        pred = self.net(x, m)
        d_parts = self.disc_step(pred, y, m) if self.disc is not None else {}
        if self.disc is not None:
            self.disc.requires_grad_(False)  # the generator's step must not move the discriminator
        loss, parts = self.losses(pred, y, m)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        if self.disc is not None:
            self.disc.requires_grad_(True)
        with torch.no_grad():
            decay = min(cfg.ema, (1 + global_step) / (10 + global_step))
            for e, p in zip(self.ema.parameters(), self.net.parameters(), strict=True):
                e.lerp_(p, 1 - decay)
        return {"loss": loss.item(), **parts, **d_parts}

    @torch.inference_mode()
    def predict(self, data: dict, idx: np.ndarray) -> torch.Tensor:
        x, _, m = self._batch(data, idx)
        return self.ema(x, m).clamp(-1, 1)

    @torch.inference_mode()
    def evaluate(self, epoch: int) -> dict:
        """On the monitor crops: hole L1 and (with the perceptual model) LPIPS, of the input fill and of the stage's."""
        sums = {"val_l1_input": 0.0, "val_l1": 0.0, "val_lpips_input": 0.0, "val_lpips": 0.0}
        n = len(self.monitor["fill"])
        for start in range(0, n, 32):
            idx = np.arange(start, min(start + 32, n))
            x, y, m = self._batch(self.monitor, idx)
            pred = self.predict(self.monitor, idx)
            area = (m.sum((1, 2, 3)) * 3).clamp_min(1)
            sums["val_l1_input"] += float((((x - y).abs() * m).sum((1, 2, 3)) / area).sum())
            sums["val_l1"] += float((((pred - y).abs() * m).sum((1, 2, 3)) / area).sum())
            if self.perceptual is not None:
                sums["val_lpips_input"] += float(self.perceptual(x, y).sum())
                sums["val_lpips"] += float(self.perceptual(pred, y).sum())
        out = {k: v / n for k, v in sums.items()}
        return out if self.perceptual is not None else {k: v for k, v in out.items() if "lpips" not in k}

    def samples(self) -> list[np.ndarray]:
        from restore.inpainting.networks import to_uint8

        idx = np.arange(min(8, len(self.monitor["fill"])))
        return [self.monitor["fill"][idx], to_uint8(self.predict(self.monitor, idx)), self.monitor["truth"][idx]]

    def state_dict(self) -> dict:
        state = {"net": self.net.state_dict(), "ema": self.ema.state_dict(), "opt": self.opt.state_dict()}
        if self.disc is not None:
            state.update(disc=self.disc.state_dict(), opt_d=self.opt_d.state_dict())
        return state

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.ema.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["opt"])
        if self.disc is not None:
            self.disc.load_state_dict(state["disc"])
            self.opt_d.load_state_dict(state["opt_d"])


def train(cfg: TextureTrainConfig, run_dir: Path, device: torch.device, data_dir: Path | None, log=print,
          max_steps: int | None = None) -> TextureStage:
    """Train (or resume) the texture stage in run_dir; its photo lists are fixed in run_dir/split.json."""
    from restore import hub
    from restore.inpainting.pipeline import Restorer
    from restore.io.atomic import atomic_write_bytes

    from . import loop

    if cfg.init:  # a wrong --init is said before minutes of crop cutting, not after
        _load_init(TextureNet(cfg.model), cfg.init)
    split = run_dir / "split.json"
    if split.exists():
        lists = json.loads(split.read_text())
    else:
        s = Splits.make(cfg.dataset, data_dir, BASE_SEED, 512, crops=True)
        lists = {"train": s.gan_train, "monitor": s.monitor}
        atomic_write_bytes(split, (json.dumps(lists, indent=1) + "\n").encode())
    net, _ = hub.load(cfg.base, "cpu")
    # No texture stage: the fills the stage is to finish, in float32 so that the crops are the same on any CPU.
    restorer = Restorer(net, "cpu", precision="float32")

    def make(files: list[str], seed: int, rounds: int):
        return lambda: cut_crops(load_photos(files), restorer, cfg, np.random.default_rng([cfg.seed, seed]), rounds, log)

    train_crops = _crops(run_dir, "train", make(lists["train"], 1, cfg.rounds))
    monitor_crops = _crops(run_dir, "monitor", make(lists["monitor"], 2, 1))
    log(f"texture: {len(train_crops['fill'])} training crops, {len(monitor_crops['fill'])} monitor crops")
    perceptual = None
    if cfg.perceptual_weight > 0:
        from restore.eval.lpips import load as load_lpips

        perceptual = load_lpips(cfg.perceptual_file or None, device).eval().requires_grad_(False)
    stage = TextureStage(cfg, train_crops, monitor_crops, device, perceptual)
    loop.run(stage, run_dir, checkpoint_every=100, log=log, max_steps=max_steps)
    return stage


def score_card(folder: Path, cfg: TextureTrainConfig, data_dir: Path | None, n: int | None) -> str:
    """The base model on the dataset's `val` photos at their own size, without and with the stage in `folder`
    (restore bench --size native, no classical rows), LPIPS included when its weights are found."""
    from restore import hub
    from restore.eval import native_size
    from restore.eval.datasets import dataset_splits
    from restore.eval.lpips import LpipsError
    from restore.eval.lpips import load as load_lpips
    from restore.hub import load_pretrained
    from restore.inpainting.pipeline import Restorer
    from restore.io.decode import read_view

    files = dataset_splits(cfg.dataset, data_dir)["val"][:n]
    photos = [(f.name, read_view(f)) for f in files]
    try:
        lp, note = load_lpips(cfg.perceptual_file or None), None
    except LpipsError as e:
        lp, note = None, str(e)
    net, _ = hub.load(cfg.base, "cpu")
    rows: dict[str, dict] = {}
    for label, texture in (("`" + cfg.base + "`, no texture stage", None), ("with this stage", load_pretrained(folder))):
        result = native_size.run(photos, Restorer(net, "cpu", texture=texture, precision="float32"), classical=False,
                                 lpips_model=lp, lpips_note=note)
        for kind, by_method in result["rows"].items():
            rows.setdefault(kind, {})[label] = by_method[native_size.MODEL_ROW]
    return (f"{len(photos)} held-out photos (`val` split) at their own size, one hole of each kind per photo, seed 0 "
            f"(`restore bench --size native --texture none|DIR --no-classical`):\n\n" + native_size.table(rows))


def export_texture(run_dir: Path, name: str, out: Path | None = None, data_dir: Path | None = None,
                   n: int | None = None, thin_px: float | None = None, thin_gain: float | None = None) -> Path:
    """The release of a texture-stage run (config.json + model.safetensors, float16) with its model card;
    `thin_px` and `thin_gain` (TextureConfig's) default to the run's."""
    import platform

    from restore.io.atomic import atomic_write_bytes

    from .export import _commands, _init_commands, files_table, init_card, init_hours
    from .runs import export

    settings = {k: float(v) for k, v in (("thin_px", thin_px), ("thin_gain", thin_gain)) if v is not None}
    done = export(run_dir, "texture", TextureTrainConfig, TextureNet, name, out, lambda o, c: score_card(o, c, data_dir, n),
                  settings)
    cfg, state, net, out = done.cfg, done.state, done.net, done.out
    digests, scores, last = done.digests, done.scores, done.last
    lists = json.loads((run_dir / "split.json").read_text())
    with np.load(run_dir / "crops-train.npz") as z:
        crops = len(z["fill"])
    cpu_hours = state["elapsed"] * (cfg.threads or torch.get_num_threads()) / 3600
    params = sum(p.numel() for p in net.parameters())
    monitor = ", ".join(f"{k.removeprefix('val_')} {float(v):.4f}" for k, v in last.items() if k.startswith("val_"))
    perceptual = f" + {cfg.perceptual_weight:g} LPIPS-AlexNet on the crop" if cfg.perceptual_weight else ""
    started, lineage = "", ""
    if cfg.init:  # the card gives the whole lineage: the --init stage's commands and hours, from its own card
        init = init_card(cfg.init)
        before = init_hours(init)
        total = f"; {cpu_hours + before:.2f} with the {before:.2f} of its start" if before is not None else ""
        started = f", started from `{cfg.init}`{total}"
        lineage = _init_commands(cfg.init, init) + "\n# then:\n"
    adversarial = (f" + {cfg.adversarial_weight:g} x the hinge term of a patch discriminator (width {cfg.disc_width}, "
                   f"spectral norm, lr {cfg.disc_lr:g}) over the patches that hold hole") if cfg.adversarial_weight else ""
    m = cfg.model
    thin = (f" Holes at most {m.thin_px:g} px thick (strokes, scratches) get {m.thin_gain:g} of its correction."
            if m.thin_px > 0 and m.thin_gain != 1 else "")
    flags = "".join(f" --{k.replace('_', '-')} {v:g}" for k, v in settings.items())
    attention = (", then SAGAN self-attention there whose keys are weighted to the known pixels, so a hole's "
                 "interior copies texture from the photo around it" if m.attention else "")
    card = f"""# restore `{name}` texture stage

A fully convolutional U-Net (two halvings, dilated residual blocks {list(cfg.model.dilations)} at quarter resolution{attention};
width {cfg.model.width}) that takes `{cfg.base}`'s fill at the photo's own resolution, with the mask, and adds texture
in the hole; known pixels pass through. {params / 1e6:.2f}M parameters, stored in float16. The pipeline runs it
over each hole with {cfg.model.margin} px of the photo around it (in tiles of {cfg.model.tile} px when larger), for
photos larger than 64x64, when the inpainting model's config.json names it (`"texture"`).{thin}

- data: {crops} crops of {cfg.crop}x{cfg.crop} at native resolution from {len(lists['train'])} `{cfg.dataset}` training photos
  ({cfg.rounds} rounds of a rectangle, two blobs and a stroke per photo, drawn as `restore bench --size native`
  draws them, each filled by the released `{cfg.base}` as `restore run` fills it, {cfg.crops_per_hole} crops around each hole),
  horizontal flips; {len(lists['monitor'])} photos kept aside to monitor (those `{cfg.base}`'s run kept aside); the dataset's
  `val` split was never used in training
- loss: hole L1{perceptual}{adversarial}; Adam (betas 0.5, 0.9), cosine lr {cfg.lr:g} -> {cfg.lr / 10:g},
  batch {cfg.batch_size}, {cfg.epochs} x {cfg.steps_per_epoch} steps; weights averaged (EMA {cfg.ema})
- training: {cpu_hours:.2f} CPU-hours (training seconds x torch threads, {platform.machine()}, no GPU), crop cutting
  not included{started}; last monitor crops: {monitor}

Commands (from the run's command.txt):

```
{lineage}{_commands(run_dir)}
restore-train export {run_dir} --name {name}{flags}
```

## Scores

{scores}

## Files

""" + files_table(digests)
    atomic_write_bytes(out / "README.md", card.encode())
    return out
