"""`restore bench --size native`: photos at their own size, through the same pipeline as `restore run`.

Protocol: every photo keeps its size; each gets `masks_per_photo` holes of each kind, drawn
from (seed, kind, photo index) and scaled to the photo, so every method sees the same holes:

- rect: one Gaussian-placed rectangle, sides U{10..20}/64 of the short side (16-31 %), its
  top-left corner at N(25, 10)/64 of each side (the paper's hole, scaled);
- blob: an object-shaped hole, a union of 2-5 rotated ellipses covering 6-15 % of the photo;
- stroke: 1-3 free-form brush strokes, 1.5-4 % of the short side wide.

Every method gets the photo with its hole wiped (black), as a damaged photo would be, so no
method can read the truth under the hole; the scores compare its output with the original.

Scores over the whole photo (SSIM, 7x7 window as the paper) and over the hole (PSNR, MAE,
sharpness); with a loaded LPIPS model (`lpips_model=`, see eval/lpips.py) LPIPS too, over the
whole photo (`lpips`) and over the hole crop (`lpips_hole`: the hole's box grown by half its size
a side, at least 32 px), else those columns are left out and the notes say why. Sharpness is the
mean gradient magnitude (grayscale, differences to the left and upper neighbours) over the hole
pixels whose left and upper neighbours are holes too, in the result divided by the same in the
original: 1.0 is as detailed as the truth, a blur is near 0.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..inpainting.holes import blob_hole, rect_hole, stroke_hole
from ..io.atomic import atomic_save
from .classical import ROW_NAMES, available, biharmonic_one, fsr_one, shiftmap_one, telea_one, wipe
from .figures import GAP, close_up_box, show_holes
from .metrics import hole_mae, psnr, sharpness, ssim
from .report import lpips_notes, summarize, write_summary

KINDS = ("rect", "blob", "stroke")
METRICS = ("ssim", "psnr_hole", "mae_hole", "sharpness")
MODEL_ROW = "full model"
BIHARMONIC_ROW = ROW_NAMES["biharmonic"]
TELEA_ROW = ROW_NAMES["telea"]
SHIFTMAP_ROW = ROW_NAMES["shiftmap"]
FSR_ROW = ROW_NAMES["fsr"]


# --- holes -----------------------------------------------------------------------------------

HOLES: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    "rect": rect_hole, "blob": blob_hole, "stroke": stroke_hole}


def hole_for(kind: str, seed: int, index: int, h: int, w: int) -> np.ndarray:
    """The `index`-th photo's hole of `kind`: the same for every method and every run with `seed`."""
    return HOLES[kind](np.random.default_rng([seed, KINDS.index(kind), index]), h, w)


# --- metrics ---------------------------------------------------------------------------------

def score(original: np.ndarray, result: np.ndarray, mask: np.ndarray, lpips_model=None) -> dict[str, float]:
    """METRICS of one result; LPIPS_METRICS too when `lpips_model` (a loaded lpips.Lpips) is given."""
    out = {"ssim": ssim(original, result), "psnr_hole": psnr(original, result, mask),
           "mae_hole": hole_mae(original, result, mask), "sharpness": sharpness(original, result, mask)}
    if lpips_model is not None:
        from .lpips import distance, hole_crop_distance

        out |= {"lpips": distance(original, result, lpips_model),
                "lpips_hole": hole_crop_distance(original, result, mask, lpips_model)}
    return out


# --- methods ---------------------------------------------------------------------------------

@dataclass
class Case:
    name: str  # photo file name
    kind: str
    rgb: np.ndarray
    mask: np.ndarray


def methods(restorer, classical=True) -> tuple[dict[str, Callable[[list[Case]], list[np.ndarray]]], list[str]]:
    """Row name -> a function filling a list of cases; and notes on rows left out.
    `classical`: True (every classical method), False, or some of classical.CLASSICAL's names."""
    rows: dict[str, Callable[[list[Case]], list[np.ndarray]]] = {}
    if restorer is not None:
        rows[MODEL_ROW] = lambda cases: restorer.restore_many([(wipe(c.rgb, c.mask), c.mask) for c in cases])
    # Looked up at call time, not import, so that each fill can be replaced (as the tests do).
    fills = {"biharmonic": biharmonic_one, "telea": telea_one, "shiftmap": shiftmap_one, "fsr": fsr_one}
    keys, notes = available(classical)
    for key in keys:
        rows[ROW_NAMES[key]] = lambda cases, fill=fills[key]: [fill(wipe(c.rgb, c.mask), c.mask) for c in cases]
    return rows, notes


def run(photos: list[tuple[str, np.ndarray]], restorer, classical=True, seed: int = 0,
        masks_per_photo: int = 1, kinds: tuple[str, ...] = KINDS, progress=None, chunk: int = 16, *,
        lpips_model=None, lpips_note: str | None = None) -> dict:
    """Score every method on every photo and hole kind.

    `classical`: True (every classical method), False, or some of classical.CLASSICAL's names (shiftmap
    and FSR take 35 and 11 s a hole on a 1024x768 photo, one CPU thread). `lpips_model`: a loaded lpips.Lpips, or None to
    leave LPIPS out with the note "LPIPS left out: `lpips_note`".
    Returns {"rows": {kind: {method: summary}}, "per_image": [...], "cases": {kind: [Case]},
    "outputs": {kind: {method: [uint8 arrays]}}, "metrics": (the metrics scored), "notes": [...]}.
    Photos are filled in chunks of `chunk` so that the model batches windows across photos, as `restore run` does.
    """
    fills, notes = methods(restorer, classical)
    notes += lpips_notes(lpips_model, lpips_note)
    metrics = (("lpips_hole", "lpips") if lpips_model is not None else ()) + METRICS
    if restorer is not None:  # one-time allocations are not part of the speed
        rgb0 = photos[0][1]
        m0 = hole_for("rect", seed, 0, *rgb0.shape[:2])
        restorer.restore_many([(wipe(rgb0, m0), m0)])
    rows: dict[str, dict[str, dict]] = {}
    per_image = []
    cases_by_kind: dict[str, list[Case]] = {}
    outputs: dict[str, dict[str, list[np.ndarray]]] = {}
    for kind in kinds:
        cases = [Case(name, kind, rgb, hole_for(kind, seed, i * masks_per_photo + j, *rgb.shape[:2]))
                 for i, (name, rgb) in enumerate(photos) for j in range(masks_per_photo)]
        cases_by_kind[kind] = cases
        outputs[kind] = {}
        rows[kind] = {}
        for method, fill in fills.items():
            t = time.perf_counter()
            outs: list[np.ndarray] = []
            for i in range(0, len(cases), chunk):
                outs += fill(cases[i : i + chunk])
                if progress:
                    progress(kind, method, len(cases[i : i + chunk]))
            seconds = time.perf_counter() - t
            values: dict[str, list[float]] = {k: [] for k in metrics}
            for c, o in zip(cases, outs, strict=True):
                s = score(c.rgb, o, c.mask, lpips_model)
                for k in metrics:
                    values[k].append(s[k])
                per_image.append({"image": c.name, "kind": kind, "method": method, "hole_fraction": float(c.mask.mean()),
                                  **{k: round(s[k], 6) for k in metrics}})
            rows[kind][method] = summarize(values) | {"images_per_second": len(cases) / max(seconds, 1e-9)}
            outputs[kind][method] = outs
    return {"rows": rows, "per_image": per_image, "cases": cases_by_kind, "outputs": outputs, "metrics": metrics,
            "notes": notes}


# --- reporting -------------------------------------------------------------------------------

def table(rows: dict[str, dict[str, dict]]) -> str:
    """Markdown table, one line per kind of hole and method; LPIPS (lower is better) first where the rows have it."""
    lp = any("lpips" in s for by_method in rows.values() for s in by_method.values())
    head = ("| holes | method |" + (" hole LPIPS | LPIPS |" if lp else "")
            + " SSIM | hole PSNR dB | hole MAE | hole sharpness | img/s |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for kind, by_method in rows.items():
        for method, s in by_method.items():
            line = f"| {kind} | {method} |"
            if lp:
                line += f" {s['lpips_hole']:.4f} ± {s['lpips_hole_se']:.4f} | {s['lpips']:.4f} |" if "lpips" in s else " - | - |"
            lines.append(line + f" {s['ssim']:.4f} ± {s['ssim_se']:.4f} | {s['psnr_hole']:.2f} | "
                         f"{s['mae_hole']:.2f} | {s['sharpness']:.2f} | {s['images_per_second']:.2f} |")
    return "\n".join(lines)


def write(out_dir: Path, result: dict, meta: dict, md: str, figure_photos: int = 6) -> None:
    """summary.md, summary.json, results.csv (one line per photo, hole and method) and a figure per kind of hole."""
    metrics = result.get("metrics", METRICS)
    write_summary(out_dir, md, meta, result["rows"], ["image", "kind", "method", "hole_fraction", *metrics],
                  ([r["image"], r["kind"], r["method"], f"{r['hole_fraction']:.4f}", *(r[k] for k in metrics)]
                   for r in result["per_image"]))
    for kind, cases in result["cases"].items():
        figure(cases[:figure_photos], result["outputs"][kind], out_dir / f"compare_{kind}.png")


def figure(cases: list[Case], outputs: dict[str, list[np.ndarray]], path: Path, height: int = 160) -> None:
    """Per photo: masked | each method | original, and under it the close-up of the hole in each."""
    names = ["masked", *outputs, "original"]
    blocks = []
    for i, c in enumerate(cases):
        panels = [show_holes(c.rgb, c.mask), *(outs[i] for outs in outputs.values()), c.rgb]
        w = max(1, round(c.rgb.shape[1] * height / c.rgb.shape[0]))
        box = close_up_box(c.mask)
        top = [Image.fromarray(p).resize((w, height), Image.Resampling.LANCZOS) for p in panels]
        side = min(w, height)
        bottom = [Image.fromarray(p).crop(box).resize((side, side), Image.Resampling.NEAREST) for p in panels]
        blocks.append((top, bottom))
    col = max(t[0].width for t, _ in blocks) if blocks else 1
    label_h = 14
    row_h = height + GAP + min(col, height) + 2 * GAP
    canvas = Image.new("RGB", (len(names) * (col + GAP), label_h + len(blocks) * row_h), "white")
    draw = ImageDraw.Draw(canvas)
    for j, n in enumerate(names):
        draw.text((j * (col + GAP) + 2, 1), n, fill="black")
    y = label_h
    for top, bottom in blocks:
        for j, (t, b) in enumerate(zip(top, bottom, strict=True)):
            canvas.paste(t, (j * (col + GAP), y))
            canvas.paste(b, (j * (col + GAP), y + height + GAP))
        y += row_h
    atomic_save(canvas, path, format="PNG")
