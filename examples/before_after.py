"""Restore the example photos and draw the README's before/after figure.

    python examples/before_after.py [--model celeba] [-o docs/before_after.png]

Each row: the photo with its hole(s) shown in magenta | the restored photo | a close-up of the
largest hole before and after (the rows of `restore run --concat`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

from restore import hub
from restore.figures import comparison_row
from restore.imageio import atomic_save, index_masks
from restore.masks import read_mask
from restore.pipeline import Restorer, photo_rgb

HERE = Path(__file__).parent


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
        rows.append(comparison_row(rgb, restorer.restore(rgb, mask), mask, args.height))
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
