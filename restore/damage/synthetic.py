"""Synthetic damage on old prints: what the detector is trained on and `restore bench --damage` scores.

A clean photo first gets things that look like damage but are part of the picture (wires, branches,
text, stars, highlights: the hard negatives), then the look of an old print (gray or sepia, faded,
soft). Damage is laid on the print's surface after that, so it is sharp and untoned where the
picture's own thin lines are blurred and toned with it. Grain, a last softening and JPEG, as a
scan adds them, go on the clean and the damaged copy alike.

Images are uint8 RGB (H, W, 3); a damage mask is bool (H, W), True = damaged (a pixel the
damage changed by more than `VISIBLE` levels). Every draw takes a numpy Generator.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

KINDS = ("scratch", "crack", "dust", "crease", "edge")
LINES = ("scratch", "crack", "crease")  # scored together as "scratches and cracks"
SPOTS = ("dust",)  # dust and specks
VISIBLE = 12.0  # levels (of 255) a damaged pixel differs from the clean one in some channel
SEPIA = np.array([1.07, 0.96, 0.78], np.float32)


@dataclass
class Damaged:
    clean: np.ndarray  # uint8 (H, W, 3): the aged, scanned photo without damage
    damaged: np.ndarray  # uint8 (H, W, 3): the same with damage
    mask: np.ndarray  # bool (H, W): where the damage is
    kinds: dict  # kind -> bool (H, W) mask of that kind alone


@dataclass(frozen=True)
class DamageMix:
    """How a random mix of damage is drawn: the odds that a print gets each of KINDS, and the share of
    scratches and of cracks that are light (the rest are dark)."""

    odds: tuple[float, ...] = (0.55, 0.35, 0.55, 0.12, 0.1)
    scratch_light: float = 0.7
    crack_light: float = 0.5


# ---------------------------------------------------------------------------------------------
# Strokes: a polyline rasterised with a width along it, antialiased, through one distance transform.


def _stroke_alpha(shape: tuple[int, int], points: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Coverage in [0, 1] of a polyline (N, 2) of (y, x) points with a width at each point."""
    h, w = shape
    if len(points) < 2:
        return np.zeros(shape, np.float32)
    # Resample at half a pixel so the centreline has no gaps.
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    t = np.concatenate([[0], np.cumsum(seg)])
    n = max(2, int(t[-1] * 2) + 1)
    s = np.linspace(0, t[-1], n)
    ys, xs = np.interp(s, t, points[:, 0]), np.interp(s, t, points[:, 1])
    ws = np.interp(s, t, widths)
    pad = int(np.ceil(ws.max())) + 2
    y0, y1 = max(0, int(np.floor(ys.min())) - pad), min(h, int(np.ceil(ys.max())) + pad + 1)
    x0, x1 = max(0, int(np.floor(xs.min())) - pad), min(w, int(np.ceil(xs.max())) + pad + 1)
    out = np.zeros(shape, np.float32)
    if y0 >= y1 or x0 >= x1:
        return out
    iy, ix = np.round(ys).astype(int) - y0, np.round(xs).astype(int) - x0
    keep = (iy >= 0) & (iy < y1 - y0) & (ix >= 0) & (ix < x1 - x0)
    if not keep.any():
        return out
    centre = np.ones((y1 - y0, x1 - x0), bool)
    width_at = np.zeros((y1 - y0, x1 - x0), np.float32)
    centre[iy[keep], ix[keep]] = False
    np.maximum.at(width_at, (iy[keep], ix[keep]), ws[keep])
    dist, (ny, nx) = ndimage.distance_transform_edt(centre, return_indices=True)
    half = width_at[ny, nx] / 2
    out[y0:y1, x0:x1] = np.clip(half + 0.5 - dist, 0, 1)
    return out


def _curve(rng: np.random.Generator, h: int, w: int, length: float, bend: float) -> np.ndarray:
    """A smooth random curve of about `length` px, starting anywhere; `bend` is its turning in radians."""
    n = max(2, int(length / 4))
    start = np.array([rng.uniform(0, h), rng.uniform(0, w)])
    angle = rng.uniform(0, 2 * np.pi)
    turns = np.cumsum(rng.normal(0, bend / np.sqrt(n), n)) + angle
    steps = np.stack([np.sin(turns), np.cos(turns)], 1) * (length / n)
    return np.concatenate([start[None], start + np.cumsum(steps, 0)])


def _crack_paths(rng: np.random.Generator, h: int, w: int, size: float) -> list[np.ndarray]:
    """A branching crack: a jagged random walk whose branches split off and walk on their own."""
    paths = []
    todo = [(np.array([rng.uniform(0, h), rng.uniform(0, w)]), rng.uniform(0, 2 * np.pi), size, 0)]
    while todo and len(paths) < 12:
        p, a, length, depth = todo.pop()
        pts = [p]
        for _ in range(max(2, int(length / 3))):
            a += rng.normal(0, 0.45)
            p = p + 3 * np.array([np.sin(a), np.cos(a)])
            pts.append(p)
            if depth < 3 and rng.random() < 0.04:
                todo.append((p, a + rng.choice([-1, 1]) * rng.uniform(0.4, 1.2), length * rng.uniform(0.25, 0.6), depth + 1))
        paths.append(np.array(pts))
    return paths


def _tone(rng: np.random.Generator, light: float) -> float:
    """A damage's brightness: light (exposed paper or a scratch in the emulsion) or dark (dirt, ink)."""
    return float(rng.uniform(215, 255) if rng.random() < light else rng.uniform(0, 55))


def _lay(base: np.ndarray, alpha: np.ndarray, value: float | np.ndarray) -> np.ndarray:
    a = alpha[..., None]
    return base * (1 - a) + np.asarray(value, np.float32) * a


def scratches(rng: np.random.Generator, img: np.ndarray, n: int, light: float = 0.7) -> np.ndarray:
    """`n` long scratches, each light with probability `light` (else dark)."""
    h, w = img.shape[:2]
    side = max(h, w)
    for _ in range(n):
        length = side * rng.uniform(0.3, 1.5)
        pts = _curve(rng, h, w, length, bend=rng.choice([0.0, rng.uniform(0.1, 1.5)]))
        base_w = float(np.exp(rng.uniform(np.log(1.0), np.log(6.0))))
        widths = np.clip(base_w * (1 + 0.35 * rng.standard_normal(len(pts))), 0.8, 6.5)
        alpha = _stroke_alpha((h, w), pts, widths) * rng.uniform(0.55, 1.0)
        if rng.random() < 0.35:  # a scratch that skips: broken into pieces along its length
            yy, xx = np.mgrid[0:h, 0:w]
            phase = rng.uniform(0, 2 * np.pi)
            period = rng.uniform(15, 60)
            alpha *= (np.sin((yy * rng.uniform(-1, 1) + xx * rng.uniform(-1, 1)) / period * 2 * np.pi + phase) > -0.3)
        img = _lay(img, alpha, _tone(rng, light))
    return img


def cracks(rng: np.random.Generator, img: np.ndarray, n: int, light: float = 0.5) -> np.ndarray:
    """`n` branching cracks, each light with probability `light` (else dark)."""
    h, w = img.shape[:2]
    for _ in range(n):
        value = _tone(rng, light)
        base_w = rng.uniform(1.0, 3.0)
        alpha = np.zeros((h, w), np.float32)
        for path in _crack_paths(rng, h, w, max(h, w) * rng.uniform(0.2, 0.8)):
            widths = np.clip(base_w * rng.uniform(0.6, 1.0) * (1 + 0.3 * rng.standard_normal(len(path))), 0.8, 4)
            alpha = np.maximum(alpha, _stroke_alpha((h, w), path, widths))
        img = _lay(img, alpha * rng.uniform(0.6, 1.0), value)
    return img


def dust(rng: np.random.Generator, img: np.ndarray, n: int) -> np.ndarray:
    """Specks and dust of every size, from single pixels to blots, and short curly fibres (lint)."""
    h, w = img.shape[:2]
    light = rng.uniform(0.2, 0.8)
    for _ in range(n):
        value = _tone(rng, light)
        opacity = rng.uniform(0.6, 1.0)
        if rng.random() < 0.15:  # a fibre
            pts = _curve(rng, h, w, rng.uniform(6, 40), bend=rng.uniform(1, 4))
            img = _lay(img, _stroke_alpha((h, w), pts, np.full(len(pts), rng.uniform(0.8, 2.0))) * opacity, value)
            continue
        r = float(np.exp(rng.uniform(np.log(0.6), np.log(9.0))))
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        y0, y1 = max(0, int(cy - 2 * r) - 2), min(h, int(cy + 2 * r) + 3)
        x0, x1 = max(0, int(cx - 2 * r) - 2), min(w, int(cx + 2 * r) + 3)
        if y0 >= y1 or x0 >= x1:
            continue
        dy, dx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        dy, dx = dy - cy, dx - cx
        wobble = 1 + 0.3 * np.sin(rng.integers(2, 6) * np.arctan2(dy, dx) + rng.uniform(0, 6.3)) * rng.uniform(0, 1)
        alpha = np.clip((1 - np.sqrt(dy**2 + dx**2) / (r * wobble)) * r + 0.5, 0, 1) * opacity
        img[y0:y1, x0:x1] = _lay(img[y0:y1, x0:x1], alpha, value)
    return img


def creases(rng: np.random.Generator, img: np.ndarray, n: int) -> np.ndarray:
    """A fold across the print: a sharp broken line in the middle of a soft band."""
    h, w = img.shape[:2]
    for _ in range(n):
        pts = _curve(rng, h, w, max(h, w) * rng.uniform(0.6, 1.6), bend=rng.uniform(0, 0.3))
        band = _stroke_alpha((h, w), pts, np.full(len(pts), rng.uniform(6, 18)))
        band = ndimage.gaussian_filter(band, rng.uniform(1.5, 3))
        img = img * (1 - 0.12 * band[..., None]) + 0.12 * band[..., None] * 255
        line = _stroke_alpha((h, w), pts, np.clip(rng.uniform(1, 3) * (1 + 0.3 * rng.standard_normal(len(pts))), 0.8, 4))
        img = _lay(img, line * rng.uniform(0.7, 1.0), _tone(rng, 0.8))
    return img


def worn_edge(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """A torn or worn border: the paper shows through along part of one edge, with a ragged line."""
    h, w = img.shape[:2]
    side = int(rng.integers(4))
    along = w if side in (0, 1) else h
    depth = max(h, w) * rng.uniform(0.01, 0.06)
    t = np.arange(along)
    rough = ndimage.gaussian_filter1d(rng.normal(0, 1, along), rng.uniform(1, 6))
    rough = rough / (np.abs(rough).max() + 1e-6)
    lo, hi = sorted(rng.uniform(0, along, 2))
    if hi - lo < along * 0.2:
        lo, hi = 0, along
    reach = np.where((t >= lo) & (t <= hi), depth * (0.6 + 0.4 * rough), -1)
    yy, xx = np.mgrid[0:h, 0:w]
    dist = {0: yy, 1: h - 1 - yy, 2: xx, 3: w - 1 - xx}[side]
    pos = {0: xx, 1: xx, 2: yy, 3: yy}[side]
    alpha = np.clip(reach[pos] - dist + 0.5, 0, 1).astype(np.float32)
    return _lay(img, alpha, np.array([rng.uniform(225, 250)] * 3) * rng.uniform([0.97, 0.93, 0.82], 1))


# ---------------------------------------------------------------------------------------------
# Things that are not damage: part of the picture, so they go in before the print is aged.


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap size only
        return ImageFont.load_default()


def negatives(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Wires, branches, text, stars and highlights drawn into the picture itself."""
    h, w = img.shape[:2]
    for _ in range(int(rng.integers(1, 4))):
        kind = rng.choice(["wire", "branch", "text", "stars", "highlight", "hair"])
        if kind == "wire":
            y0, y1 = rng.uniform(0, h, 2)
            sag = rng.uniform(0, 0.15) * h
            xs = np.linspace(-5, w + 5, 40)
            ys = y0 + (y1 - y0) * (xs / w) + sag * 4 * (xs / w) * (1 - xs / w)
            alpha = _stroke_alpha((h, w), np.stack([ys, xs], 1), np.full(40, rng.uniform(0.8, 2.5)))
            img = _lay(img, alpha, rng.uniform(0, 70) if rng.random() < 0.8 else rng.uniform(180, 240))
        elif kind in ("branch", "hair"):
            paths = _crack_paths(rng, h, w, max(h, w) * rng.uniform(0.1, 0.5)) if kind == "branch" else \
                [_curve(rng, h, w, max(h, w) * rng.uniform(0.1, 0.4), bend=rng.uniform(0.5, 2)) for _ in range(int(rng.integers(3, 12)))]
            value = np.array([rng.uniform(10, 90)] * 3) * rng.uniform([0.9, 0.8, 0.6], 1.1)
            alpha = np.zeros((h, w), np.float32)
            for p in paths:
                alpha = np.maximum(alpha, _stroke_alpha((h, w), p, np.full(len(p), rng.uniform(0.8, 3))))
            img = _lay(img, alpha, value)
        elif kind == "text":
            im = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
            d = ImageDraw.Draw(im)
            letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 "
            for _ in range(int(rng.integers(1, 4))):
                text = "".join(rng.choice(list(letters), int(rng.integers(3, 14))))
                tone = int(rng.choice([rng.integers(0, 60), rng.integers(200, 256)]))
                d.text((float(rng.uniform(0, w * 0.8)), float(rng.uniform(0, h * 0.9))), text, fill=(tone,) * 3,
                       font=_font(int(rng.integers(8, 28))))
            img = np.asarray(im).astype(np.float32)
        elif kind == "stars":
            y0, x0 = int(rng.integers(0, max(1, h // 2))), int(rng.integers(0, max(1, w // 2)))
            y1, x1 = min(h, y0 + int(rng.integers(16, max(17, h // 2)))), min(w, x0 + int(rng.integers(16, max(17, w // 2))))
            img[y0:y1, x0:x1] *= rng.uniform(0.05, 0.3)
            k = int(rng.integers(5, 40))
            sy, sx = rng.integers(y0, y1, k), rng.integers(x0, x1, k)
            img[sy, sx] = rng.uniform(160, 255, (k, 1))
        else:  # specular highlights: soft bright spots
            spot = np.zeros((h, w), np.float32)
            k = int(rng.integers(1, 6))
            spot[rng.integers(0, h, k), rng.integers(0, w, k)] = 1
            spot = ndimage.gaussian_filter(spot, rng.uniform(1, 4))
            img = _lay(img, np.clip(spot / (spot.max() + 1e-6), 0, 1) * rng.uniform(0.5, 0.9), 250)
    return img


# ---------------------------------------------------------------------------------------------
# The print and the scan.


def age(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """The look of an old print: gray, sepia or faded colour, low contrast, lifted blacks, soft focus."""
    img = img.astype(np.float32)
    look = rng.choice(["gray", "sepia", "colour"], p=[0.4, 0.35, 0.25])
    if look != "colour":
        gray = img @ np.array([0.299, 0.587, 0.114], np.float32)
        img = np.repeat(gray[..., None], 3, axis=2)
        if look == "sepia":
            img = img * (SEPIA * rng.uniform(0.95, 1.05, 3))
    else:
        mean = img.mean(axis=2, keepdims=True)
        img = mean + (img - mean) * rng.uniform(0.4, 0.9)  # faded dyes
        img = img * rng.uniform([0.95, 0.9, 0.8], [1.08, 1.02, 1.0])
    lo, hi = rng.uniform(0, 50), rng.uniform(195, 255)
    img = lo + np.clip(img, 0, 255) * (hi - lo) / 255
    if rng.random() < 0.6:
        img = ndimage.gaussian_filter(img, (rng.uniform(0.3, 1.3),) * 2 + (0,))
    return img


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def scan(rng: np.random.Generator, copies: list[np.ndarray]) -> list[np.ndarray]:
    """The same grain, softening and JPEG on every copy of one print."""
    h, w = copies[0].shape[:2]
    grain = rng.normal(0, rng.uniform(0, 7), (h, w, 1)).astype(np.float32)
    if rng.random() < 0.5:
        grain = ndimage.gaussian_filter(grain, (rng.uniform(0.4, 1.0),) * 2 + (0,)) * 1.8
    soft = rng.uniform(0.3, 0.7) if rng.random() < 0.3 else 0.0
    quality = int(rng.integers(60, 96)) if rng.random() < 0.5 else 0
    out = []
    for c in copies:
        c = c + grain
        if soft:
            c = ndimage.gaussian_filter(c, (soft, soft, 0))
        c = np.clip(np.round(c), 0, 255).astype(np.uint8)
        out.append(_jpeg(c, quality) if quality else c)
    return out


def _visible(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return np.abs(after.astype(np.float32) - before.astype(np.float32)).max(axis=2) > VISIBLE


def apply(rng: np.random.Generator, rgb: np.ndarray, kinds: tuple[str, ...] | None = None, strength: float = 1.0,
          hard_negatives: float = 0.5, mix: DamageMix = DamageMix()) -> Damaged:
    """An old print of `rgb` with damage of the given kinds (None: a random mix drawn by `mix`; () : none).

    `strength` scales how much damage of each kind (counts grow with the photo's area). The default `mix`
    is the one `restore bench --damage` draws; a training run may draw some kinds more often.
    """
    h, w = rgb.shape[:2]
    img = rgb.astype(np.float32)
    if rng.random() < hard_negatives:
        img = negatives(rng, img)
    clean = age(rng, img)
    if kinds is None:
        picks = [k for k, p in zip(KINDS, mix.odds, strict=True) if rng.random() < p]
        kinds = tuple(picks) or (str(rng.choice(KINDS[:3])),)
    area = h * w / (256 * 256)
    scale = np.sqrt(area)
    damaged = clean.copy()
    per_kind = {}
    for kind in kinds:
        before = damaged
        if kind == "scratch":
            damaged = scratches(rng, damaged, max(1, int(rng.poisson(2.0 * strength * scale)) + 1), mix.scratch_light)
        elif kind == "crack":
            damaged = cracks(rng, damaged, max(1, int(rng.poisson(1.0 * strength * scale))), mix.crack_light)
        elif kind == "dust":
            damaged = dust(rng, damaged, max(1, int(rng.poisson(25 * strength * area * rng.uniform(0.2, 1.5)))))
        elif kind == "crease":
            damaged = creases(rng, damaged, 1)
        elif kind == "edge":
            damaged = worn_edge(rng, damaged)
        else:
            raise ValueError(f"unknown damage kind {kind!r}; known: {', '.join(KINDS)}")
        per_kind[kind] = _visible(before, damaged)
    clean8, damaged8 = scan(rng, [clean, damaged])
    mask = _visible(np.clip(np.round(clean), 0, 255), np.clip(np.round(damaged), 0, 255))
    kinds_masks = {k: m & mask for k, m in per_kind.items()}
    return Damaged(clean8, damaged8, mask, kinds_masks)
