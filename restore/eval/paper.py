"""`restore bench`: the paper's Table 1 protocol, with classical inpainting beside the models.

Protocol: 64x64 images (shorter side to 64, centre crop), one of the paper's
Gaussian rectangles per image drawn from `seed`, SSIM from skimage with its
default 7x7 window on uint8 images (data_range 255). Every row is scored on the
same images and masks.

With a loaded LPIPS model (`lpips_model=`, see eval/lpips.py) every row also gets LPIPS over the
whole image (`lpips`) and over the hole crop (`lpips_hole`: the hole's box grown by half its size a
side, at least 32 px); without one those columns are left out, not zero, and the notes say why.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .classical import ROW_NAMES, available, biharmonic, fsr, gray_fill, shiftmap, telea, wipe
from .metrics import hole_mae, psnr, ssim
from .report import LPIPS_METRICS, lpips_notes, summarize, write_summary

METRICS = ("ssim", "ssim_gauss", "psnr", "psnr_hole", "mae_hole")
PAPER = {  # Table 1 of the paper
    "celeba": {"gray fill (paper baseline)": 0.9268, "ApproxNet": 0.9578, "full model": 0.9460},
    "cars": {"gray fill (paper baseline)": 0.9262, "ApproxNet": 0.9506, "full model": 0.9454},
}


@dataclass
class Row:
    name: str
    outputs: np.ndarray  # uint8 (N, 64, 64, 3)
    seconds: float


def score(images: np.ndarray, masks: np.ndarray, outputs: np.ndarray, lpips_model=None) -> dict[str, np.ndarray]:
    """Per-image metrics of one row; LPIPS_METRICS too when `lpips_model` (a loaded lpips.Lpips) is given."""
    keys = METRICS + (LPIPS_METRICS if lpips_model is not None else ())
    res = {k: np.empty(len(images)) for k in keys}
    if lpips_model is not None:
        from .lpips import distance, hole_crop_distance
    for i, (a, b, m) in enumerate(zip(images, outputs, masks, strict=True)):
        res["ssim"][i] = ssim(a, b)
        res["ssim_gauss"][i] = ssim(a, b, gaussian=True)
        res["psnr"][i] = psnr(a, b)
        res["psnr_hole"][i] = psnr(a, b, m)
        res["mae_hole"][i] = hole_mae(a, b, m)
        if lpips_model is not None:
            res["lpips"][i] = distance(a, b, lpips_model)
            res["lpips_hole"][i] = hole_crop_distance(a, b, m, lpips_model)
    return res


def run_rows(images: np.ndarray, masks: np.ndarray, restorer=None, classical=True,
             bar: Callable[[str, int], object] | None = None, *, lpips_model=None,
             lpips_note: str | None = None) -> tuple[list[Row], list[str]]:
    """Compute every row's outputs; returns (rows, notes about rows and scores that were left out).

    `classical`: True (every classical method), False, or some of classical.CLASSICAL's names.
    `lpips_model` is only looked at for the notes here (score_rows computes LPIPS): when None, the
    notes say "LPIPS left out: `lpips_note`". Every method gets the images with their holes wiped,
    so none can read the truth there."""
    rows = []
    methods, notes = available(classical)
    images = wipe(images, masks)

    def timed(name, fn):
        t = time.perf_counter()
        out = fn()
        rows.append(Row(name, out, time.perf_counter() - t))

    timed("gray fill (paper baseline)", lambda: gray_fill(images, masks))
    if restorer is not None:
        restorer.infer(images[:2], masks[:2])  # warm-up: one-time allocations are not part of the speed
        t = time.perf_counter()
        refined, coarse = restorer.infer(images, masks, with_coarse=True)
        dt = time.perf_counter() - t
        rows.append(Row("ApproxNet", coarse, dt))
        rows.append(Row("full model", refined, dt))
        timed("full model, raw (no paste-back)", lambda: restorer.infer(images, masks, paste=False))
    fills = {"biharmonic": biharmonic, "telea": telea, "shiftmap": shiftmap, "fsr": fsr}
    for key in methods:
        progress = bar(key, len(images)) if bar else None
        timed(ROW_NAMES[key], lambda fill=fills[key], step=progress.update if progress else None: fill(images, masks, step))
        if progress:
            progress.close()
    return rows, notes + lpips_notes(lpips_model, lpips_note)


def score_rows(images: np.ndarray, masks: np.ndarray, rows: list[Row],
               track: Callable[[Iterable], Iterable] | None = None, *,
               lpips_model=None) -> tuple[dict[str, dict], dict[str, dict]]:
    """(per-image metrics, summary) of every row: what `restore bench` and `restore-train export` report.
    `track` wraps the rows, e.g. in a progress bar; `lpips_model` (a loaded lpips.Lpips) adds LPIPS_METRICS."""
    per_image, summary = {}, {}
    for r in track(rows) if track else rows:
        per_image[r.name] = score(images, masks, r.outputs, lpips_model)
        summary[r.name] = summarize(per_image[r.name]) | {"images_per_second": len(images) / max(r.seconds, 1e-9)}
    return per_image, summary


def table(summary: dict[str, dict], paper: dict[str, float] | None = None) -> str:
    """Markdown table of the summary, with the paper's SSIM where it has one, and LPIPS (lower is better)
    where the rows have it."""
    lp = any("lpips" in s for s in summary.values())
    head = ("| method | SSIM (paper's) | SSIM (Gaussian) |" + (" hole LPIPS | LPIPS |" if lp else "")
            + " PSNR dB | hole PSNR dB | hole MAE | img/s |")
    if paper:
        head += " paper SSIM |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for name, s in summary.items():
        line = f"| {name} | {s['ssim']:.4f} ± {s['ssim_se']:.4f} | {s['ssim_gauss']:.4f} |"
        if lp:
            line += f" {s['lpips_hole']:.4f} ± {s['lpips_hole_se']:.4f} | {s['lpips']:.4f} |" if "lpips" in s else " - | - |"
        line += f" {s['psnr']:.2f} | {s['psnr_hole']:.2f} | {s['mae_hole']:.2f} | {s['images_per_second']:.0f} |"
        if paper:
            line += f" {paper[name]:.4f} |" if name in paper else " - |"
        lines.append(line)
    return "\n".join(lines)


def write(out_dir: Path, names: list[str], images: np.ndarray, masks: np.ndarray, rows: list[Row],
          per_image: dict[str, dict], summary: dict, meta: dict, md: str) -> None:
    """summary.md, summary.json, results.csv (one line per image and row), the SSIM histograms and the step grid."""
    keys = [*METRICS, *(k for k in LPIPS_METRICS if all(k in v for v in per_image.values()))]
    write_summary(out_dir, md, meta, summary, ["image", "method", *keys],
                  ([n, r.name, *(f"{per_image[r.name][k][i]:.6f}" for k in keys)] for r in rows for i, n in enumerate(names)))
    histograms(per_image, out_dir / "ssim_histograms.png")
    steps = [r for r in rows if r.name in ("ApproxNet", "full model")]
    if steps:
        step_grid(images, masks, steps, out_dir / "steps.png")


def histograms(per_image: dict[str, dict], path: Path, bins: int = 40) -> None:
    """Figure 7: the SSIM distribution of every row, one panel each (drawn with Pillow, no plotting library)."""
    from PIL import Image, ImageDraw

    from ..io.atomic import atomic_save

    pw, ph, pad = 300, 210, 28
    lo = max(0.5, min(float(np.min(v["ssim"])) for v in per_image.values()))
    edges = np.linspace(lo, 1.0, bins + 1)
    canvas = Image.new("RGB", (pw * len(per_image), ph), "white")
    d = ImageDraw.Draw(canvas)
    for j, (name, v) in enumerate(per_image.items()):
        counts, _ = np.histogram(np.clip(v["ssim"], lo, 1.0), bins=edges)
        x0, y0, w, h = j * pw + pad, pad + 8, pw - 2 * pad, ph - 2 * pad - 16
        top = max(int(counts.max()), 1)
        for i, c in enumerate(counts):
            bh = round(h * c / top)
            d.rectangle((x0 + i * w / bins, y0 + h - bh, x0 + (i + 1) * w / bins - 1, y0 + h), fill=(76, 114, 176))
        d.line((x0, y0 + h, x0 + w, y0 + h), fill="black")
        d.text((x0, 4), f"{name}", fill="black")
        d.text((x0, 16), f"mean SSIM {np.mean(v['ssim']):.4f}", fill="black")
        d.text((x0, y0 + h + 4), f"{lo:.2f}", fill="black")
        d.text((x0 + w - 20, y0 + h + 4), "1.00", fill="black")
        d.text((x0 + w // 2 - 14, y0 + h + 4), "SSIM", fill="black")
    atomic_save(canvas, path, format="PNG")


def step_grid(images: np.ndarray, masks: np.ndarray, rows: list[Row], path: Path, n: int = 8, scale: int = 2) -> None:
    """Figure 8: original | masked | ApproxNet | full model, for the first n images."""
    from PIL import Image

    from ..io.atomic import atomic_save

    k = min(n, len(images))
    cols = [images[:k], gray_fill(images[:k], masks[:k])] + [r.outputs[:k] for r in rows]
    sep = np.full((64, 2, 3), 255, np.uint8)
    lines = [np.concatenate([x for c in cols for x in (c[i], sep)][:-1], axis=1) for i in range(k)]
    hsep = np.full((2, lines[0].shape[1], 3), 255, np.uint8)
    grid = np.concatenate([x for line in lines for x in (line, hsep)][:-1], axis=0)
    im = Image.fromarray(grid)
    atomic_save(im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST), path, format="PNG")


def paper_masks_for(n: int, seed: int) -> np.ndarray:
    from ..inpainting.holes import paper_masks

    return paper_masks(np.random.default_rng(seed), n)


def stroke_masks_for(n: int, seed: int) -> np.ndarray:
    from ..inpainting.holes import stroke_mask

    rng = np.random.default_rng(seed)
    return np.stack([stroke_mask(rng, 64) for _ in range(n)]) if n else np.zeros((0, 64, 64), bool)
