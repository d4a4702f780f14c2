"""Turn a finished run into a release: config.json + model.safetensors + a model card."""

from __future__ import annotations

import csv
import dataclasses
import platform
import shlex
from pathlib import Path

from restore.hub import save_pretrained
from restore.inpainting.networks import Inpainter
from restore.io.atomic import atomic_write_bytes

from . import checkpoint
from .config import TrainConfig
from .data import CROP_MONITOR_PHOTOS


def _seconds(run_dir: Path, stage: str) -> float:
    state = checkpoint.load(run_dir / stage)
    return float(state["elapsed"]) if state else 0.0


def _last_metrics(run_dir: Path, stage: str) -> dict:
    path = run_dir / stage / "metrics.csv"
    if not path.exists():
        return {}
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return rows[-1] if rows else {}


def approx_run(run_dir: Path) -> Path:
    """The run directory that trained this run's ApproxNet: itself, or the one `gan --approx` named."""
    if (run_dir / "approx").exists() or not (run_dir / "command.txt").exists():
        return run_dir
    for line in (run_dir / "command.txt").read_text().splitlines():
        words = shlex.split(line.partition("  ")[2])
        if "--approx" in words[:-1]:
            return Path(words[words.index("--approx") + 1])
    return run_dir


def init_card(spec: str) -> str | None:
    """The model card (README.md) of the --init model `spec`, or None when it has none."""
    from restore.hub import resolve

    try:
        return (resolve(spec).folder / "README.md").read_text()
    except (OSError, ValueError):
        return None


def init_hours(card: str | None) -> float | None:
    """The CPU-hours the --init model's card records for its training (None when it gives none)."""
    import re

    if card is None:
        return None
    found = re.search(r"; ([0-9.]+) with the [0-9.]+ of its start", card) or re.search(r"training: ([0-9.]+) CPU-hours", card)
    return float(found.group(1)) if found else None


def _init_commands(spec: str, card: str | None = None) -> str:
    """The commands block of the --init model's card (`card`, read from `spec` unless given), so a fine-tuned
    model's card gives its whole lineage."""
    card = card if card is not None else init_card(spec)
    if card is None:
        return f"# {spec}: no model card found; its training is not recorded here"
    _, fence, rest = card.partition("```\n")
    block = rest.partition("\n```")[0] if fence else ""
    return f"# how {spec} was trained (from its card):\n{block}" if block else f"# {spec}: its card lists no commands"


def _blocks32(n: int) -> str:
    return f"{n} residual block{'s' if n > 1 else ''} at 32x32"


def _grown_layers(cfg: TrainConfig) -> str:
    """The layers a fine-tuning run added to its --init model (none when the architecture is the same)."""
    from restore.hub import load

    try:
        before = load(cfg.init)[0].cfg.refiner
    except ValueError:  # the card still gets written; it just cannot say what was added
        return ""
    after = cfg.model.refiner
    added = []
    if after.blocks32 > before.blocks32:
        added.append(_blocks32(after.blocks32 - before.blocks32))
    added += [f"self-attention at {s}x{s}" for s in after.attention if s not in before.attention]
    return ", ".join(added)


def _commands(run_dir: Path) -> str:
    path = run_dir / "command.txt"
    return path.read_text().strip() if path.exists() else "(not recorded)"


def files_table(digests: dict) -> str:
    """The card's table of the release's files and their sha256."""
    return "| file | sha256 |\n|---|---|\n" + "".join(f"| {k} | `{v}` |\n" for k, v in digests.items())


def score_release(folder: Path, dataset: str, data_dir: Path | None, n: int | None) -> str:
    """Markdown table of the release on the dataset's held-out split (paper masks, seed 0)."""
    from restore.eval import paper
    from restore.eval.datasets import dataset_splits, load_stack
    from restore.hub import load_pretrained
    from restore.inpainting.pipeline import Restorer

    files = dataset_splits(dataset, data_dir)["val"][:n]
    images = load_stack(files, 64)
    masks = paper.paper_masks_for(len(images), 0)
    # float32: a card's figures do not hang on whether the CPU that made them computes bfloat16.
    rows, _ = paper.run_rows(images, masks, Restorer(load_pretrained(folder), "cpu", precision="float32"),
                             classical=("biharmonic", "telea"))
    _, summary = paper.score_rows(images, masks, rows)
    return f"{len(images)} held-out images (`val` split), paper masks, seed 0:\n\n" + paper.table(summary, paper.PAPER.get(dataset))


def score_native(folder: Path, dataset: str, data_dir: Path | None, n: int | None) -> str:
    """Markdown table of the release on the dataset's held-out photos at their own size (restore bench --size native)."""
    from restore.eval import native_size
    from restore.eval.datasets import dataset_splits
    from restore.hub import load_pretrained, load_texture
    from restore.inpainting.pipeline import Restorer
    from restore.io.decode import read_view

    files = dataset_splits(dataset, data_dir)["val"][:n]
    photos = [(f.name, read_view(f)) for f in files]
    # The card's rows are the fast classical ones; restore bench --size native adds shiftmap and FSR
    # (tens of seconds a hole each on a large photo).
    model = load_pretrained(folder)
    result = native_size.run(photos, Restorer(model, "cpu", texture=load_texture(model), precision="float32"),
                             classical=("biharmonic", "telea"))
    return (f"{len(photos)} held-out photos (`val` split) at their own size, one hole of each kind per photo, "
            f"seed 0 (`restore bench --size native`):\n\n" + native_size.table(result["rows"]))


def export_run(run_dir: Path, name: str, out: Path | None = None, data_dir: Path | None = None,
               n: int | None = None, context: float | None = None, detail: bool | None = None,
               mirror: bool | None = None, tile_thin: bool | None = None, texture: str | None = None,
               blend_thin: float | None = None, blend_weight: float | None = None, blend_sigma: float | None = None,
               detail_scale: float | None = None, texture_gain: float | None = None) -> Path:
    """The release of a run's stage 2 with its card; `context`, `detail`, `mirror`, `tile_thin`, `texture` (the
    texture stage `restore run` runs over its fills, and `texture_gain`, the share of its correction they take),
    `detail_scale` and the `blend_` settings (thin holes averaged with a
    biharmonic interpolation) set how `restore run` uses it."""
    cfg = TrainConfig.load(run_dir / "config.json")
    inference = {k: v for k, v in (("context", context), ("detail", detail), ("mirror", mirror),
                                   ("tile_thin", tile_thin), ("texture", texture), ("blend_thin", blend_thin),
                                   ("blend_weight", blend_weight), ("blend_sigma", blend_sigma),
                                   ("detail_scale", detail_scale), ("texture_gain", texture_gain)) if v is not None}
    cfg.model = dataclasses.replace(cfg.model, **inference)
    state = checkpoint.load(run_dir / "gan")
    if state is None:
        raise ValueError(f"{run_dir}/gan: no stage-2 checkpoint; finish `restore-train gan` first")
    model = Inpainter(cfg.model)
    model.load_state_dict(state["stage"]["ema" if cfg.ema > 0 else "gen"])
    out = out or run_dir / "export" / name
    digests = save_pretrained(model.eval(), out)
    try:
        scores = (score_native if cfg.crops else score_release)(out, cfg.dataset, data_dir, n)
    except ValueError as e:  # data not reachable here: the card says so rather than inventing numbers
        scores = f"not scored: {e}"
    commands = _commands(run_dir)
    gan_s = _seconds(run_dir, "gan")
    if cfg.init:  # fine-tuning: the first model's card holds stage 1 and its own stage 2
        commands = f"{_init_commands(cfg.init)}\n# fine-tuning, started from {cfg.init}:\n{commands}"
        time_line = (f"training time: {gan_s / 60:.1f} min of stage-2 fine-tuning from `{cfg.init}`, on top of\n"
                     "  the training its own card gives")
        stages = f"- stage 2 continued from `{cfg.init}` (generator weights; the discriminator started fresh)\n"
        grown = _grown_layers(cfg)
        if grown:
            stages += f"- added to it before fine-tuning, starting as the identity: {grown}\n"
        stage2 = "fine-tuning"
    else:
        stage1 = approx_run(run_dir)
        if stage1 != run_dir:
            commands = f"# stage 1, in {stage1}:\n{_commands(stage1)}\n# stage 2:\n{commands}"
        cfg1 = TrainConfig.load(stage1 / "config.json") if (stage1 / "config.json").exists() else cfg
        time_line = (f"training time: stage 1 {_seconds(stage1, 'approx') / 60:.1f} min, stage 2 {gan_s / 60:.1f} min"
                     " of compute")
        stages = f"- stage 1: {cfg1.approx_epochs} epochs, batch {cfg1.approx_batch_size}, Adam lr {cfg1.approx_lr}\n"
        stage2 = "stage 2"
    psnr = f" + {cfg.psnr_weight} mean log hole MSE" if cfg.psnr_weight else ""
    if cfg.perceptual_weight:
        psnr += f"\n  + {cfg.perceptual_weight:g} LPIPS-AlexNet between the pasted-back fill and the truth"
    gan_last = _last_metrics(run_dir, "gan")
    lpips_last = f", LPIPS {gan_last['val_lpips']}" if "val_lpips" in gan_last else ""
    params = sum(p.numel() for p in model.parameters())
    n32 = cfg.model.refiner.blocks32
    blocks32 = f" (here with {_blocks32(n32)} in its decoder)" if n32 else ""
    seam = ", with the seam layer that joins its fill to the hole's border" if cfg.model.approx.seam else ""
    if cfg.crops:
        data = (f"`{cfg.dataset}`, square windows of the photos at their own size, sides log-uniform from\n"
                f"  {cfg.crop_min} px to the photo's short side, brought to 64x64 ({cfg.epoch_size} windows an epoch); stage 1\n"
                f"  on 70% of the training photos, stage 2 on all but {CROP_MONITOR_PHOTOS} kept to monitor\n"
                f"  ({cfg.val_images} fixed windows); the dataset's `val` split was never used in training")
    else:
        data = (f"`{cfg.dataset}`, 64x64 (shorter side to 64, centre crop); stage 1 on 70% of the\n"
                f"  training images, stage 2 on all training images but {cfg.val_images} kept to monitor; the\n"
                "  dataset's `val` split was never used in training")
    blobs = f", {cfg.blob_fraction:.0%} object-shaped blobs" if cfg.blob_fraction else ""
    detail_line = ("; holes filled from a downscaled window get the\n  full-resolution detail of its known part "
                   f"(contextual residual aggregation, softmax scale {cfg.model.detail_scale:g})") if cfg.model.detail else ""
    mirror_line = ("; a window scaled down is filled also mirrored, and\n  the two fills averaged"
                   if cfg.model.mirror else "")
    thin_line = ("; a thin hole (a scratch) is filled from one\n  window around all of it, not from windows at "
                 "native resolution along it" if not cfg.model.tile_thin else "")
    if cfg.model.texture:
        thin_line += f"; the texture stage `{cfg.model.texture}` then adds texture at the photo's own resolution"
        if cfg.model.texture_gain != 1:
            thin_line += f" ({cfg.model.texture_gain:g} of its correction)"
    if cfg.model.blend_thin > 0 and cfg.model.blend_weight < 1:
        part = f"its frequencies below a Gaussian of sigma {cfg.model.blend_sigma:g}" if cfg.model.blend_sigma else "itself"
        thin_line += (f";\n  holes at most {cfg.model.blend_thin:g} px thick keep {cfg.model.blend_weight:g} of {part}, the rest a "
                      "biharmonic interpolation")
    flags = "".join(f" --{k.replace('_', '-')} {v:g}" if k in ("context", "detail_scale", "texture_gain") or k.startswith("blend_")
                    else f" --texture {v or 'none'}" if k == "texture"
                    else f" --{'' if v else 'no-'}{k.replace('_', '-')}" for k, v in inference.items())
    card = f"""# restore `{name}` inpainting model

ApproxNet (dense, dropout 0.3{seam}) followed by the self-attention encoder-decoder refiner of
"Attention-based DCGAN for image inpainting"{blocks32}, trained with restore-train (two stages).
{params / 1e6:.2f}M parameters, stored in float16.

- data: {data}
- holes: the paper's Gaussian rectangles, {cfg.stroke_fraction:.0%} free-form strokes{blobs}, horizontal flips
- framing: `restore run` cuts a window of {cfg.model.context:g} times each hole's size around it{detail_line}{mirror_line}{thin_line}
{stages}- {stage2}: {cfg.gan_epochs} epochs, batch {cfg.batch_size}, L_G = BCE + {cfg.alpha} x (hole L1 with border weight
  {cfg.border_weight} + 0.5 ApproxNet L1 + {cfg.ssim_weight} (1 - SSIM){psnr}), cosine lr {cfg.lr} -> {cfg.lr_min},
  weights averaged (EMA {cfg.ema})
- {time_line}
  ({platform.machine()}, torch threads as configured); last monitor SSIM {gan_last.get('val_ssim', '?')}{lpips_last}

Commands (from the run's command.txt):

```
{commands}
restore-train export {run_dir} --name {name}{flags}
```

## Scores

{scores}

## Files

""" + files_table(digests)
    atomic_write_bytes(out / "README.md", card.encode())
    return out
