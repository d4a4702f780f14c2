"""Close-ups of large holes in photos of varied texture, restore beside the strongest classical methods.

    python examples/closeups.py [--model photo] [--face-model celeba] [-o docs/closeups.png]

Public-domain / CC0 pictures shipped with scikit-image (their docstrings give the sources), at their
own size: brick, grass (foliage), gravel, the cat's fur (chelsea), a mug on a table (coffee) and a
face (astronaut; also filled with --face-model). Each gets a rectangle and an object-shaped blob
drawn as `restore bench --size native` draws them (seed 0). Each row is the hole's crop (its box
grown by half its size, the crop `restore bench` scores LPIPS on): the input with the hole in
magenta | restore | OpenCV shiftmap | OpenCV Telea | the truth, with each fill's LPIPS on the crop
(lower = closer) when the LPIPS weights are at hand. Every method gets the photo with its hole wiped.
Needs the `classical` extra (opencv-contrib-python-headless).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from restore import hub
from restore.eval.classical import shiftmap_one, telea_one, wipe
from restore.eval.figures import font, resized, show_holes
from restore.eval.lpips import LpipsError, crop_box, distance
from restore.eval.lpips import load as load_lpips
from restore.eval.native_size import hole_for
from restore.inpainting.pipeline import Restorer
from restore.io.atomic import atomic_save

HERE = Path(__file__).parent
PICTURES = ("brick", "grass", "gravel", "chelsea", "coffee", "astronaut")
FACES = {"astronaut"}
KINDS = ("rect", "blob")
TILE = 200
LABEL = 14


def picture(name: str) -> np.ndarray:
    from skimage import data

    a = getattr(data, name)()
    return np.ascontiguousarray(np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a[..., :3])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=hub.DEFAULT_MODEL)
    ap.add_argument("--face-model", default="celeba", help="a second restore column for the face")
    ap.add_argument("--lpips-weights", default=None, help="as restore bench --lpips-weights")
    ap.add_argument("-o", "--output", type=Path, default=HERE.parent / "docs" / "closeups.png")
    args = ap.parse_args()
    try:
        lp = load_lpips(args.lpips_weights)
    except LpipsError as e:
        lp = None
        print(f"note: no LPIPS figures: {e}")
    nets = {name: hub.load(name)[0] for name in dict.fromkeys([args.model, args.face_model])}
    restorers = {name: Restorer(net, texture=hub.load_texture(net)) for name, net in nets.items()}
    rows = []
    for index, name in enumerate(PICTURES):
        rgb = picture(name)
        h, w = rgb.shape[:2]
        for kind in KINDS:
            mask = hole_for(kind, 0, index, h, w)
            damaged = wipe(rgb, mask)
            fills = [(f"restore {args.model}", restorers[args.model].restore(damaged, mask))]
            if name in FACES and args.face_model != args.model:
                fills.append((f"restore {args.face_model}", restorers[args.face_model].restore(damaged, mask)))
            fills += [("shiftmap", shiftmap_one(damaged, mask)), ("Telea", telea_one(damaged, mask))]
            rs, cs = crop_box(mask)
            labels = ["input"] + [f"{label}" + (f" {distance(rgb[rs, cs], out[rs, cs], lp):.3f}" if lp else "")
                                  for label, out in fills] + ["truth"]
            crops = [show_holes(rgb, mask)[rs, cs]] + [out[rs, cs] for _, out in fills] + [rgb[rs, cs]]
            rows.append((f"{name} ({w}x{h}), {kind}", labels, crops))
            print(f"{name} {kind}: " + ", ".join(labels[1:-1]))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    atomic_save(layout(rows), args.output, format="PNG")
    print(args.output)


def layout(rows: list[tuple[str, list[str], list[np.ndarray]]]) -> Image.Image:
    """One row per hole: its title, then each crop scaled to TILE on its longer side with its label under it.
    A row is as tall as its tallest crop, so wide crops leave no gap above their labels."""
    label_font = font(LABEL - 2)

    def scaled(crop: np.ndarray) -> Image.Image:
        im = Image.fromarray(crop)
        s = TILE / max(im.size)
        return resized(im, (max(1, round(im.width * s)), max(1, round(im.height * s))))

    rows = [(title, labels, [scaled(c) for c in crops]) for title, labels, crops in rows]
    cols = max(len(c) for _, _, c in rows)
    heights = [max(im.height for im in ims) for _, _, ims in rows]
    canvas = Image.new("RGB", (cols * (TILE + 4), 2 * LABEL + sum(h + 2 * LABEL + 12 for h in heights)), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 2), "close-ups of the hole (LPIPS on the crop, lower = closer to the truth)", fill="black", font=label_font)
    y = 2 * LABEL
    for (title, labels, ims), height in zip(rows, heights, strict=True):
        draw.text((4, y), title, fill="black", font=label_font)
        for i, (label, im) in enumerate(zip(labels, ims, strict=True)):
            canvas.paste(im, (i * (TILE + 4), y + LABEL + 2))
            draw.text((i * (TILE + 4) + 2, y + LABEL + 4 + height), label, fill="black", font=label_font)
        y += height + 2 * LABEL + 12
    return canvas


if __name__ == "__main__":
    main()
