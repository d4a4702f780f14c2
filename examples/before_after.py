"""Restore the example photos and draw the README's before/after figure.

    python examples/before_after.py [--model photo] [--face-model celeba] [-o docs/before_after.png]

Each row: the photo with its hole(s) shown in magenta | the restored photo | a close-up of the
largest hole before and after (the rows of `restore run --concat`). Every photo is restored with
--model; the photos of faces get a second row restored with --face-model.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

from restore import hub
from restore.eval.figures import comparison_row
from restore.inpainting.pipeline import Restorer
from restore.io.atomic import atomic_save
from restore.io.files import index_masks
from restore.io.masks import read_mask
from restore.io.photos import photo_rgb

HERE = Path(__file__).parent
FACES = {"astronaut"}  # example photos of a face
LABEL = 14


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="photo")
    ap.add_argument("--face-model", default="celeba", help="a second row for the photos of faces")
    ap.add_argument("-o", "--output", type=Path, default=HERE.parent / "docs" / "before_after.png")
    ap.add_argument("--height", type=int, default=160)
    args = ap.parse_args()

    nets = {name: hub.load(name)[0] for name in dict.fromkeys([args.model, args.face_model])}
    restorers = {name: Restorer(net, texture=hub.load_texture(net)) for name, net in nets.items()}
    masks = index_masks(HERE / "masks")
    rows = []
    for photo in sorted((HERE / "photos").iterdir()):
        im = Image.open(photo)
        rgb = photo_rgb(im)
        mask = read_mask(masks[photo.stem], im.size)
        for name in [args.model] + ([args.face_model] if photo.stem in FACES and args.face_model != args.model else []):
            rows.append((f"{photo.name}, --model {name}",
                         comparison_row(rgb, restorers[name].restore(rgb, mask), mask, args.height)))
    width = max(r.width for _, r in rows)
    canvas = Image.new("RGB", (width, sum(r.height + LABEL + 6 for _, r in rows) + 16), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 2), "input (hole in magenta) | restored | close-up before | after", fill="black")
    y = 16
    for label, r in rows:
        draw.text((4, y), label, fill="black")
        canvas.paste(r, (0, y + LABEL))
        y += r.height + LABEL + 6
    args.output.parent.mkdir(parents=True, exist_ok=True)
    atomic_save(canvas, args.output, format="PNG")
    print(args.output)


if __name__ == "__main__":
    main()
