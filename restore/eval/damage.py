"""`restore bench --damage`: finding damage on old prints, and what filling it gives back.

Every photo of a `val` split is made into an old print (`restore.damage.synthetic`) four times:
with scratches and cracks ("lines"), with dust and specks ("spots"), with a random mix of every
kind ("mixed"), and with no damage at all ("clean"); no wires or text are drawn in (the photos' own
wires, hair, text and edges are the hard negatives). The detector is scored on each by pixel
precision, recall and F1 with a 2-pixel tolerance (`restore.eval.detection`), and on the clean
copies by the share of pixels it flags. Then the damaged prints are filled, with the detected
mask, with the true mask and with a classical detector's, and each result is compared with the
clean print (PSNR and LPIPS over the whole photo).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import ndimage

from restore.damage import synthetic

from .detection import Counts, counts
from .metrics import psnr

VARIANTS = {"lines": synthetic.LINES, "spots": synthetic.SPOTS, "mixed": None, "clean": ()}
SWEEP = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)  # the thresholds of the sensitivity table, beside the detector's own
TOPHAT_SIZE, TOPHAT_THRESHOLD = 7, 28  # the classical baseline: white and black top-hat on brightness


def tophat_mask(rgb: np.ndarray, size: int = TOPHAT_SIZE, threshold: float = TOPHAT_THRESHOLD) -> np.ndarray:
    """The classical detector: what stands out of its 7x7 neighbourhood by more than 28 levels, grown 1 px."""
    luma = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    mask = (ndimage.white_tophat(luma, size=size) > threshold) | (ndimage.black_tophat(luma, size=size) > threshold)
    return ndimage.binary_dilation(mask, structure=np.ones((3, 3), bool))


def prints(photos: list[tuple[str, np.ndarray]], seed: int = 0) -> list[dict]:
    """The damaged prints of the protocol: one dict per (photo, variant), the same for every method."""
    cases = []
    for i, (name, rgb) in enumerate(photos):
        for j, (variant, kinds) in enumerate(VARIANTS.items()):
            # No drawn-in wires or text here: the photos' own wires, hair, text and edges are the hard negatives.
            d = synthetic.apply(np.random.default_rng([seed, i, j]), rgb, kinds, hard_negatives=0.0)
            cases.append({"name": name, "variant": variant, "clean": d.clean, "damaged": d.damaged, "mask": d.mask})
    return cases


def sweep_thresholds(own: float) -> tuple[float, ...]:
    """The thresholds the sensitivity table scores: SWEEP and, exactly, the detector's own (or --damage-threshold)."""
    return tuple(sorted([own, *(t for t in SWEEP if abs(t - own) > 1e-9)]))


def run(photos: list[tuple[str, np.ndarray]], detect: Callable[[np.ndarray], np.ndarray],
        fill: Callable[[np.ndarray, np.ndarray], np.ndarray], lpips_model=None, seed: int = 0,
        classical_fill: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None, progress=None,
        sweep: tuple[float, ...] = ()) -> dict:
    """Score `detect` and `fill` (uint8 RGB, bool mask -> uint8 RGB) on the protocol.

    `detect` takes a uint8 RGB print and gives its bool mask, or a `restore.damage.detector.Reading`, whose
    mask at each threshold of `sweep` is scored too (the sensitivity table; the rest uses its own threshold).
    Returns {'detection': {variant: scores}, 'false_alarms': {...}, 'restoration': {method: scores},
    'sensitivity': {threshold: {...}}, 'per_image': [...], 'timing': {...}, 'figure': [...]}.
    """
    from .lpips import distance

    cases = prints(photos, seed)
    at = {t: {v: Counts() for v in VARIANTS if v != "clean"} for t in sweep}
    at_alarms: dict[float, list[float]] = {t: [] for t in sweep}
    at_psnr: dict[float, list[float]] = {t: [] for t in sweep}  # mixed prints filled with the mask at each threshold
    found = {v: Counts() for v in VARIANTS if v != "clean"}
    baseline = {v: Counts() for v in VARIANTS if v != "clean"}
    alarms, base_alarms = [], []
    methods = {"damaged, untouched": [], "top-hat + " + ("Telea" if classical_fill else "restore"): [],
               "detected + restore": [], "true mask + restore": []}
    per_image, figure = [], []
    timing = {"detect": 0.0, "fill": 0.0}
    for case in cases:
        t0 = time.perf_counter()
        reading = detect(case["damaged"])
        detected = reading.mask() if hasattr(reading, "mask") else reading
        t1 = time.perf_counter()
        timing["detect"] += t1 - t0
        if sweep and not hasattr(reading, "mask"):
            raise TypeError("a sensitivity sweep needs detect to give a Reading, not a mask")
        by_detected = None
        if case["variant"] == "mixed":
            t2 = time.perf_counter()
            by_detected = fill(case["damaged"], detected) if detected.any() else case["damaged"]
            timing["fill"] += time.perf_counter() - t2
        for t in sweep:
            mask = reading.mask(t)
            if case["variant"] == "clean":
                at_alarms[t].append(float(mask.mean()))
                continue
            at[t][case["variant"]] += counts(mask, case["mask"])
            if case["variant"] == "mixed":
                if np.array_equal(mask, detected):  # the threshold used: filled once
                    out = by_detected
                else:
                    out = fill(case["damaged"], mask) if mask.any() else case["damaged"]
                at_psnr[t].append(psnr(out, case["clean"]))
        classic = tophat_mask(case["damaged"])
        row = {"photo": case["name"], "variant": case["variant"]}
        if case["variant"] == "clean":
            alarms.append(float(detected.mean()))
            base_alarms.append(float(classic.mean()))
            row.update(false_alarm=alarms[-1], tophat_false_alarm=base_alarms[-1])
            per_image.append(row)
            if progress:
                progress()
            continue
        c, b = counts(detected, case["mask"]), counts(classic, case["mask"])
        found[case["variant"]] += c
        baseline[case["variant"]] += b
        row.update(precision=c.precision, recall=c.recall, f1=c.f1, tophat_f1=b.f1)
        if case["variant"] == "mixed":
            outs = {
                "damaged, untouched": case["damaged"],
                next(k for k in methods if k.startswith("top-hat")): (classical_fill or fill)(case["damaged"], classic),
                "detected + restore": by_detected,
                "true mask + restore": fill(case["damaged"], case["mask"]),
            }
            for method, out in outs.items():
                score = {"psnr": psnr(out, case["clean"])}
                if lpips_model is not None:
                    score["lpips"] = distance(out, case["clean"], lpips_model)
                methods[method].append(score)
                row[f"{method}: psnr"] = score["psnr"]
            if len(figure) < 4:
                figure.append((case["damaged"], detected, by_detected, case["clean"]))
        per_image.append(row)
        if progress:
            progress()

    def mean(values):
        finite = [v for v in values if np.isfinite(v)]
        return float(np.mean(finite)) if finite else float("nan")

    return {
        "detection": {v: {"precision": c.precision, "recall": c.recall, "f1": c.f1, "tophat_f1": baseline[v].f1}
                      for v, c in found.items()},
        "false_alarms": {"mean": mean(alarms), "max": max(alarms, default=float("nan")),
                         "photos_over_1pct": int(sum(a > 0.01 for a in alarms)),
                         "tophat_mean": mean(base_alarms)},
        "restoration": {m: {k: mean([s[k] for s in scores]) for k in (scores[0] if scores else {})}
                        for m, scores in methods.items()},
        "sensitivity": {t: {**{v: {"precision": c.precision, "recall": c.recall, "f1": c.f1} for v, c in at[t].items()},
                            "false_alarms": {"mean": mean(at_alarms[t]), "max": max(at_alarms[t], default=float("nan"))},
                            "restored_psnr": mean(at_psnr[t])}
                        for t in sweep},
        "per_image": per_image,
        "timing": {"detect_s_per_photo": timing["detect"] / max(1, len(cases)),
                   "fill_s_per_photo": timing["fill"] / max(1, sum(c["variant"] == "mixed" for c in cases))},
        "figure": figure,
    }


def _score(x: float) -> str:
    return f"{x:.3f}" if np.isfinite(x) else "-"  # no pixel flagged: no precision


def table(result: dict, threshold: float | None = None) -> str:
    """The summary as markdown: detection by variant, false alarms, restoration by method, and the sensitivity
    table when the run swept thresholds (`threshold`, the one the rest was scored at, is marked in it)."""
    lines = ["| damage | precision | recall | F1 | top-hat F1 |", "|---|---|---|---|---|"]
    for v, s in result["detection"].items():
        lines.append(f"| {v} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['tophat_f1']:.3f} |")
    fa = result["false_alarms"]
    lines += ["", f"False alarms on clean prints: {100 * fa['mean']:.3f} % of pixels on average, at most "
                  f"{100 * fa['max']:.3f} % on one photo, {fa['photos_over_1pct']} photos over 1 % "
                  f"(top-hat: {100 * fa['tophat_mean']:.2f} %)", ""]
    lines += ["| mixed damage, filled | PSNR dB | LPIPS |", "|---|---|---|"]
    for m, s in result["restoration"].items():
        lp = f"{s['lpips']:.4f}" if "lpips" in s else "-"
        lines.append(f"| {m} | {s['psnr']:.2f} | {lp} |")
    if result.get("sensitivity"):
        lines += ["", "Sensitivity (`--damage-threshold`): the same prints at other thresholds, precision / recall / F1, "
                      "and the mixed prints filled with what each finds",
                  "", "| threshold | scratches, cracks | dust, specks | mixed | false alarms: mean / max | mixed, filled: PSNR dB |",
                  "|---|---|---|---|---|---|"]
        for t, s in result["sensitivity"].items():
            cells = [" / ".join(_score(s[v][k]) for k in ("precision", "recall", "f1")) for v in ("lines", "spots", "mixed")]
            fa = s["false_alarms"]
            mark = " (used above)" if threshold is not None and abs(t - threshold) < 1e-9 else ""
            lines.append(f"| {t:g}{mark} | {' | '.join(cells)} | {100 * fa['mean']:.3f} / {100 * fa['max']:.3f} % | "
                         f"{s['restored_psnr']:.2f} |")
    t = result["timing"]
    lines += ["", f"Detection {t['detect_s_per_photo']:.2f} s a photo, fill {t['fill_s_per_photo']:.2f} s a photo "
                  "(in process, one thread pool; disk-to-disk speed is benchmarks/speed.py's)"]
    return "\n".join(lines) + "\n"


CSV = ("photo", "variant", "precision", "recall", "f1", "tophat_f1", "false_alarm", "tophat_false_alarm")


def write(out_dir: Path, result: dict, meta: dict, md: str) -> None:
    """summary.md, summary.json, results.csv (one line per print) and damage.png (the figure)."""
    from .report import write_summary

    summary = {k: result[k] for k in ("detection", "false_alarms", "restoration", "timing")}
    if result.get("sensitivity"):
        summary["sensitivity"] = {f"{t:g}": s for t, s in result["sensitivity"].items()}
    methods = list(result["restoration"])
    header = [*CSV, *(f"{m}: psnr" for m in methods)]
    rows = ([r.get(k, "") for k in header] for r in result["per_image"])
    write_summary(out_dir, f"# restore bench --damage: {meta['dataset']}\n\n`{meta['command']}`\n\n{md}", meta, summary,
                  header, rows)
    if result["figure"]:
        figure(result["figure"], out_dir / "damage.png")


def figure(rows: list[tuple], path: Path, width: int = 1600) -> None:
    """damaged | detected mask | restored | clean, one row per print, each row scaled to `width`."""
    from PIL import Image, ImageDraw

    from restore.io.atomic import atomic_save

    out = []
    for damaged, mask, restored, clean in rows:
        mask_rgb = np.repeat((mask * 255).astype(np.uint8)[..., None], 3, axis=2)
        gap = np.full((damaged.shape[0], max(2, damaged.shape[1] // 100), 3), 255, np.uint8)
        row = np.concatenate([damaged, gap, mask_rgb, gap, restored, gap, clean], axis=1)
        height = round(row.shape[0] * width / row.shape[1])
        out.append(np.asarray(Image.fromarray(row).resize((width, height), Image.Resampling.LANCZOS)))
    label = Image.new("RGB", (width, 16), "white")
    draw = ImageDraw.Draw(label)
    for i, name in enumerate(("damaged", "damage found", "restored", "clean")):
        draw.text((i * width // 4 + 4, 2), name, fill="black")
    atomic_save(Image.fromarray(np.concatenate([np.asarray(label), *out], axis=0)), path, format="PNG")


def val_photos(dataset: str = "natural", data_dir: Path | None = None, n: int | None = None,
               split: str = "val") -> list[tuple[str, np.ndarray]]:
    """The photos of a dataset's split (`val` unless told) at their own size, upright RGB."""
    from restore.eval.datasets import dataset_splits
    from restore.io.decode import read_view

    files = dataset_splits(dataset, data_dir)[split][:n]
    return [(f.name, read_view(f)) for f in files]


def score_release(folder: Path, data_dir: Path | None = None, n: int | None = None, dataset: str = "natural") -> str:
    """The protocol's tables for a detector folder, filling with the default inpainting model (for its card)."""
    from restore import hub
    from restore.damage.detector import read
    from restore.damage.fill import FILL

    from .lpips import LpipsError, load

    detector = hub.load_pretrained(folder)
    # As restore run --detect-damage fills; in float32, so that a card's figures do not hang on the CPU that made them.
    restorer = FILL.restorer(hub.load(hub.DEFAULT_MODEL)[0], "cpu", precision="float32")
    try:
        lp = load()
    except LpipsError:
        lp = None
    photos = val_photos(dataset, data_dir, n)
    own = detector.cfg.threshold
    result = run(photos, lambda rgb: read(detector, rgb), restorer.restore, lp, sweep=sweep_thresholds(own))
    return (f"{len(photos)} `val` photos of {dataset}/ at their own size, each made an old print with lines, spots, "
            f"mixed and no damage, seed 0 (`restore bench --damage`):\n\n" + table(result, own))
