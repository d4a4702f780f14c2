"""Restore the example photos and draw the README's before/after figure.

    python examples/before_after.py [--model celeba] [-o docs/before_after.png]

Each row: the photo with its hole(s) shown in magenta | the restored photo | a close-up of the
first hole before and after.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from restore import hub
from restore.imageio import atomic_save, index_masks
from restore.masks import read_mask
from restore.pipeline import Restorer, hole_groups, photo_rgb

HERE = Path(__file__).parent


def close_up(rgb: np.ndarray, mask: np.ndarray, side: int) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(hole_groups(mask)[0])
    size = max(48, 3 * max(np.ptp(ys), np.ptp(xs)))
    cy, cx = (ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2
    y0 = int(np.clip(cy - size // 2, 0, max(0, rgb.shape[0] - size)))
    x0 = int(np.clip(cx - size // 2, 0, max(0, rgb.shape[1] - size)))
    return x0, y0, min(rgb.shape[1], x0 + size), min(rgb.shape[0], y0 + size)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="celeba")
    ap.add_argument("-o", "--output", type=Path, default=HERE.parent / "docs" / "before_after.png")
    ap.add_argument("--height", type=int, default=160)
    args = ap.parse_args()

    model, _ = hub.load(args.model)
    restorer = Restorer(model)
    masks = index_masks(HERE / "masks")
    rows = []
    for photo in sorted((HERE / "photos").iterdir()):
        im = Image.open(photo)
        rgb = photo_rgb(im)
        mask = read_mask(masks[photo.stem], im.size)
        out = restorer.restore(rgb, mask)
        shown = rgb.copy()
        shown[mask] = (255, 0, 255)
        h = args.height
        w = round(rgb.shape[1] * h / rgb.shape[0])
        box = close_up(rgb, mask, h)
        tiles = [Image.fromarray(a).resize((w, h), Image.Resampling.LANCZOS) for a in (shown, out)]
        tiles += [Image.fromarray(a).crop(box).resize((h, h), Image.Resampling.NEAREST) for a in (shown, out)]
        row = Image.new("RGB", (sum(t.width for t in tiles) + 6 * len(tiles), h), "white")
        x = 0
        for t in tiles:
            row.paste(t, (x, 0))
            x += t.width + 6
        rows.append(row)
    width = max(r.width for r in rows)
    canvas = Image.new("RGB", (width, sum(r.height + 6 for r in rows) + 16), "white")
    ImageDraw.Draw(canvas).text((4, 2), f"input (hole in magenta) | restored with --model {args.model} | "
                                        "close-up before | after", fill="black")
    y = 16
    for r in rows:
        canvas.paste(r, (0, y))
        y += r.height + 6
    args.output.parent.mkdir(parents=True, exist_ok=True)
    atomic_save(canvas, args.output, format="PNG")
    print(args.output)


if __name__ == "__main__":
    main()
