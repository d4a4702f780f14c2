"""The damage detector on damage drawn differently from what it learnt: does it find damage, or our generator's?

    python benchmarks/damage_drawn_differently.py [--data-dir ../shared/data] [--n 18] [--dataset natural]

`restore bench --damage` draws its old prints with restore/damage/synthetic.py, the generator the detector was
trained on. This script draws them with a second generator written apart from it, with its own old-print look:
gray or tinted, blacks lifted and whites lowered, softened; scratches as antialiased quadratic curves 1-4 px wide,
light or dark, partly transparent; cracks as branching random walks; dust as antialiased ellipses and short curled
fibres; then grain and JPEG on the damaged and the clean copy alike. A pixel is damage where the drawing moved it
by more than 12 levels. On the `val` photos at their own size, each made a print with lines, with spots, with both
and with none (seeded by its index), it prints F1 with restore's 2-pixel tolerance, the share of a clean print
flagged, and the PSNR against the clean print of the mixed print as it is, filled where the detector says (as
`restore run --detect-damage` fills) and filled where the damage truly is.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

KINDS = ("lines", "spots", "mixed")
SUPERSAMPLE = 4  # the drawing is made this many times larger and box-averaged down: antialiased edges
CHANGED = 12.0  # levels a pixel must move to count as damage


def aged(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    """The print's look, float (H, W, 3) in 0..255: gray or tinted, low contrast, soft."""
    gray = rgb.astype(np.float32) @ np.array([0.3, 0.59, 0.11], np.float32)
    lo, hi = rng.uniform(25, 60), rng.uniform(190, 235)
    gray = lo + gray / 255 * (hi - lo)
    if rng.random() < 0.5:
        tint = np.array([1.0, 0.9, 0.72]) if rng.random() < 0.7 else np.array([0.95, 1.0, 1.05])
        out = np.clip(gray[..., None] * tint, 0, 255)
    else:
        out = np.repeat(gray[..., None], 3, -1)
    soft = Image.fromarray(out.astype(np.uint8)).filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    return np.asarray(soft).astype(np.float32)


def _curve(p0, p1, p2, n: int = 60) -> np.ndarray:
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def drawn(rng: np.random.Generator, h: int, w: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(opacity (H, W) in 0..1, value (H, W) in 0..255) of the damage of one `kind`."""
    s = SUPERSAMPLE
    alpha, value = Image.new("L", (w * s, h * s), 0), Image.new("L", (w * s, h * s), 0)
    da, dv = ImageDraw.Draw(alpha), ImageDraw.Draw(value)

    def light() -> bool:
        return rng.random() < 0.6

    def line(points: np.ndarray, width: float, level: float, opacity: float) -> None:
        xy = [(float(x) * s, float(y) * s) for x, y in points]
        da.line(xy, fill=int(opacity * 255), width=max(1, int(width * s)), joint="curve")
        dv.line(xy, fill=int(level), width=max(1, int(width * s)), joint="curve")

    def blot(cx: float, cy: float, rx: float, ry: float, level: float, opacity: float) -> None:
        box = [(cx - rx) * s, (cy - ry) * s, (cx + rx) * s, (cy + ry) * s]
        da.ellipse(box, fill=int(opacity * 255))
        dv.ellipse(box, fill=int(level))

    if kind in ("lines", "mixed"):
        for _ in range(rng.integers(2, 7)):  # scratches: long, gently curved
            p0 = np.array([rng.uniform(0, w), rng.uniform(0, h)])
            angle, length = rng.uniform(0, np.pi), rng.uniform(0.2, 0.9) * max(h, w)
            p2 = p0 + length * np.array([np.cos(angle), np.sin(angle)])
            p1 = (p0 + p2) / 2 + rng.normal(0, length * 0.08, 2)
            level = rng.uniform(225, 255) if light() else rng.uniform(5, 45)
            line(_curve(p0, p1, p2), rng.uniform(1, 4), level, rng.uniform(0.55, 1.0))
        for _ in range(rng.integers(0, 3)):  # cracks: dark random walks that branch
            stack = [(np.array([rng.uniform(0, w), rng.uniform(0, h)]), rng.uniform(0, 2 * np.pi), 0)]
            while stack:
                p, angle, depth = stack.pop()
                points = [p]
                for _ in range(rng.integers(8, 30)):
                    angle += rng.normal(0, 0.35)
                    p = p + rng.uniform(3, 8) * np.array([np.cos(angle), np.sin(angle)])
                    points.append(p)
                    if depth < 2 and rng.random() < 0.06:
                        stack.append((p, angle + rng.choice([-1, 1]) * rng.uniform(0.4, 1.2), depth + 1))
                line(np.array(points), rng.uniform(1, 2.2), rng.uniform(10, 60), rng.uniform(0.6, 1.0))
    if kind in ("spots", "mixed"):
        per = h * w / 1e5
        for _ in range(int(rng.integers(10, 40) * per)):  # dust and specks
            r = rng.uniform(0.7, 1.5) if rng.random() < 0.6 else rng.uniform(1.5, 4)
            level = rng.uniform(220, 255) if light() else rng.uniform(5, 50)
            blot(rng.uniform(0, w), rng.uniform(0, h), r, r * rng.uniform(0.6, 1.4), level, rng.uniform(0.7, 1.0))
        for _ in range(int(rng.integers(2, 8) * per)):  # fibres: short, curled
            p0 = np.array([rng.uniform(0, w), rng.uniform(0, h)])
            p2 = p0 + rng.normal(0, 15, 2)
            p1 = (p0 + p2) / 2 + rng.normal(0, 8, 2)
            line(_curve(p0, p1, p2, 30), rng.uniform(0.8, 1.6), rng.uniform(220, 255) if light() else 20.0,
                 rng.uniform(0.6, 1.0))
    opacity = np.asarray(alpha.resize((w, h), Image.Resampling.BOX), np.float32) / 255
    # The value layer averaged over the drawn part of each pixel only.
    level = np.asarray(value.resize((w, h), Image.Resampling.BOX), np.float32)
    drawn_part = Image.fromarray((np.asarray(alpha) > 0).astype(np.uint8) * 255).resize((w, h), Image.Resampling.BOX)
    cover = np.asarray(drawn_part, np.float32) / 255
    return opacity, np.where(cover > 0, level / np.maximum(cover, 1e-3), 0)


def scanned(rng: np.random.Generator, print_: np.ndarray) -> np.ndarray:
    """Grain and JPEG, uint8 RGB."""
    grainy = print_ + rng.normal(0, rng.uniform(2, 6), print_.shape[:2])[..., None]
    buf = io.BytesIO()
    Image.fromarray(np.clip(np.rint(grainy), 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=int(rng.integers(75, 92)))
    return np.asarray(Image.open(buf).convert("RGB"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=None, help="the datasets' folder (default: restore's own lookup)")
    ap.add_argument("--dataset", default="natural")
    ap.add_argument("--n", type=int, default=18, help="val photos (default 18)")
    ap.add_argument("--precision", default="auto", help="as restore run --precision")
    args = ap.parse_args()

    from restore import hub
    from restore.damage.detector import detect
    from restore.damage.fill import FILL
    from restore.eval.damage import val_photos
    from restore.eval.detection import Counts, counts
    from restore.eval.metrics import psnr
    from restore.precision import apply, resolve

    photos = val_photos(args.dataset, args.data_dir, args.n)
    detector, _ = hub.load(hub.DEFAULT_DETECTOR, kind="damage")
    apply(detector, resolve(args.precision, "cpu"))
    restorer = FILL.restorer(hub.load(hub.DEFAULT_MODEL)[0], "cpu", precision=args.precision)
    found = {k: Counts() for k in KINDS}
    alarms, untouched, by_detected, by_truth = [], [], [], []
    t0 = time.perf_counter()
    for i, (name, rgb) in enumerate(photos):
        look = aged(np.random.default_rng(1000 + i), rgb)
        alarms.append(float(detect(detector, scanned(np.random.default_rng([1000 + i, 9]), look)).mean()))
        for k, kind in enumerate(KINDS):
            rng = np.random.default_rng([1000 + i, k])
            opacity, level = drawn(rng, *look.shape[:2], kind)
            damaged_print = look * (1 - opacity[..., None]) + level[..., None] * opacity[..., None]
            truth = np.abs(damaged_print - look).max(-1) > CHANGED
            seed = int(rng.integers(1 << 30))
            damaged = scanned(np.random.default_rng(seed), damaged_print)
            mask = detect(detector, damaged)
            found[kind] += counts(mask, truth)
            if kind == "mixed":
                clean = scanned(np.random.default_rng(seed), look)  # the same grain and JPEG, no damage
                untouched.append(psnr(damaged, clean))
                by_detected.append(psnr(restorer.restore(damaged, mask) if mask.any() else damaged, clean))
                by_truth.append(psnr(restorer.restore(damaged, truth), clean))
        print(f"{i + 1}/{len(photos)} {name} {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"\n{len(photos)} {args.dataset} val photos, damage drawn by benchmarks/damage_drawn_differently.py\n")
    print("| damage | precision | recall | F1 |\n|---|---|---|---|")
    for kind, c in found.items():
        print(f"| {kind} | {c.precision:.3f} | {c.recall:.3f} | {c.f1:.3f} |")
    print(f"\nfalse alarms on clean prints: {np.mean(alarms) * 100:.3f} % on average, {np.max(alarms) * 100:.3f} % at most")
    print(f"mixed prints against the clean print: untouched {np.mean(untouched):.2f} dB, detected + restore "
          f"{np.mean(by_detected):.2f} dB, true mask + restore {np.mean(by_truth):.2f} dB")


if __name__ == "__main__":
    main()
