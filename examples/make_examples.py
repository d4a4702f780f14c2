"""Rebuild examples/photos and examples/masks from public-domain / CC0 pictures shipped with scikit-image.

    python examples/make_examples.py

Sources and licences (from scikit-image's own docstrings):
  astronaut  NASA, public domain          rocket  SpaceX, public domain
  chelsea    Stefan van der Walt, CC0     coffee  Rachel Michetti, CC0
  camera     Lav Varshney, CC0            retina  Mikael Häggström, CC0
  brick      CC0Textures, CC0
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from skimage import data

HERE = Path(__file__).parent
PHOTOS, MASKS = HERE / "photos", HERE / "masks"


def shrink(a: np.ndarray, longest: int = 384) -> Image.Image:
    im = Image.fromarray(a)
    s = longest / max(im.size)
    return im.resize((round(im.width * s), round(im.height * s)), Image.Resampling.LANCZOS) if s < 1 else im


def rectangles(size, boxes):
    im = Image.new("L", size, 0)
    d = ImageDraw.Draw(im)
    for b in boxes:
        d.rectangle(b, fill=255)
    return im


def strokes(size, lines, width):
    im = Image.new("L", size, 0)
    d = ImageDraw.Draw(im)
    for pts in lines:
        d.line(pts, fill=255, width=width, joint="curve")
    return im


def blobs(size, circles):
    im = Image.new("L", size, 0)
    d = ImageDraw.Draw(im)
    for x, y, r in circles:
        d.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return im


def main() -> None:
    PHOTOS.mkdir(exist_ok=True)
    MASKS.mkdir(exist_ok=True)
    photos = {
        "astronaut.png": shrink(data.astronaut()),
        "chelsea.jpg": shrink(data.chelsea()),
        "coffee.jpg": shrink(data.coffee()),
        "rocket.jpg": shrink(data.rocket()),
        "camera.png": shrink(data.camera()),  # grayscale
        "retina.jpg": shrink(data.retina()),
        "brick.png": shrink(data.brick()),  # grayscale texture
    }
    for name, im in photos.items():
        if name.endswith(".jpg"):
            im.save(PHOTOS / name, quality=90)
        else:
            im.save(PHOTOS / name)
    s = {n: im.size for n, im in photos.items()}
    masks = {
        # a face: one rectangle over an eye, as in the paper
        "astronaut": rectangles(s["astronaut.png"], [(150, 70, 180, 95)]),
        # scratches across a cat
        "chelsea": strokes(s["chelsea.jpg"], [[(40, 60), (120, 110), (200, 90)], [(250, 200), (330, 150)]], 5),
        # several small blobs (dust spots)
        "coffee": blobs(s["coffee.jpg"], [(60, 60, 6), (200, 80, 8), (300, 200, 5), (120, 220, 7)]),
        # a long thin vertical scratch
        "rocket": strokes(s["rocket.jpg"], [[(160, 20), (170, 150), (165, 240)]], 4),
        # two rectangles in a grayscale photo, saved as JPEG to show thresholding
        "camera": rectangles(s["camera.png"], [(240, 60, 270, 95), (60, 280, 110, 310)]),
        # a free-form stroke
        "retina": strokes(s["retina.jpg"], [[(100, 180), (160, 140), (220, 190), (260, 160)]], 7),
        # a regular texture with one square hole
        "brick": rectangles(s["brick.png"], [(170, 170, 200, 200)]),
    }
    for stem, m in masks.items():
        if stem == "camera":
            m.save(MASKS / f"{stem}_mask.jpg", quality=85)
        else:
            m.save(MASKS / f"{stem}.png")


if __name__ == "__main__":
    main()
