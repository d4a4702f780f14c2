"""Thin holes, filled by smooth interpolation instead of the networks.

A scratch, a crack or a dust speck a few pixels across hides almost nothing: the photo on either
side says what lies under it, and a smooth interpolation from its border (push-pull,
pipeline.smooth_fill) restores it as well as the networks do, for a small share of their time.
On old prints with synthetic damage (benchmarks/speed.py's prints: five 1024x768 photos made of
scikit-image's pictures, never the val photos), with the true damage masks, PSNR against the
clean photo was 43.61 dB through the networks alone, 43.67 dB with the holes at most 9 px thick
interpolated and the rest through the networks, and 43.74 dB with everything interpolated, in
8.9, 1.9 and 0.5 s. Wide holes (worn edges, large specks) still need the networks, so the
threshold is a thickness, per hole. It is not the default for drawn holes: on free-form strokes
3-7 px wide across faces the networks are closer (80 CelebA monitor faces: 26.09 dB with them,
25.18 interpolated; docs/training.md).

A model may also average a biharmonic interpolation into the networks' fill of its thin holes
(`blend_smooth`, config.json's `blend_thin`): for `celeba`, whose strokes across smooth skin biharmonic
fills better than the network and the two together better than either.

Arrays: uint8 (H, W, 3) photos, bool (H, W) masks (True = hole).
"""

from __future__ import annotations

import numpy as np


def thin_part(mask: np.ndarray, max_px: float) -> np.ndarray:
    """The holes of `mask` (connected components, 8-neighbour) at most `max_px` thick (twice the largest
    distance from a hole pixel to the nearest known one), as a bool mask."""
    from scipy import ndimage

    if max_px <= 0 or not mask.any():
        return np.zeros_like(mask, dtype=bool)
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    r = max_px / 2  # a hole is thin when no pixel of it lies farther than r from the known pixels
    # The chessboard distance is at least the Euclidean one over sqrt(2), and takes a few ms where the
    # Euclidean transform of a whole photo takes 0.1 s: only the holes with a pixel deeper than
    # r / sqrt(2) by it can be thick, and only those get the exact distance, in their own box grown by
    # r + 1, which holds the nearest known pixel of every pixel that is at most that deep.
    # A pixel deeper than r by the chessboard distance is deeper than r by the Euclidean one too: its hole
    # is thick without the exact transform (a 1024x768 photo's blob at 40 px: 11 ms in all instead of 14).
    chess = ndimage.distance_transform_cdt(mask, metric="chessboard")
    deep = chess > r / np.sqrt(2)
    keep = np.ones(n + 1, bool)
    keep[0] = False
    keep[np.unique(labels[chess > r])] = False
    deep &= keep[labels]
    if deep.any():
        h, w = mask.shape
        pad = int(np.ceil(r)) + 1
        boxes = ndimage.find_objects(labels)
        for i in np.unique(labels[deep]):
            sy, sx = boxes[i - 1]
            y0, x0 = max(sy.start - pad, 0), max(sx.start - pad, 0)
            crop = mask[y0 : min(sy.stop + pad, h), x0 : min(sx.stop + pad, w)]
            own = labels[y0 : y0 + crop.shape[0], x0 : x0 + crop.shape[1]] == i
            keep[i] = ndimage.distance_transform_edt(crop)[own].max() <= r
    return keep[labels]


def fill_smooth(rgb: np.ndarray, holes: np.ndarray, known: np.ndarray) -> np.ndarray:
    """A copy of `rgb` with the `holes` pixels interpolated smoothly from the `known` ones (push-pull);
    every other pixel as it was."""
    from .pipeline import smooth_fill

    out = rgb.copy()
    if holes.any():
        # A channel at a time: push-pull is per channel, and over a whole photo its pyramid and sweeps hold
        # several float copies of what they fill (a 4800x3600 scan peaked 1.3 GB above the photo for all three).
        for c in range(rgb.shape[2]):
            filled = smooth_fill(rgb[..., c : c + 1].astype(np.float32), known)
            out[..., c][holes] = np.clip(np.rint(filled[..., 0][holes]), 0, 255).astype(np.uint8)
    return out


def biharmonic(rgb: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """`rgb` (float32 (H, W, 3)) with the `holes` pixels the smoothest continuation of the rest: the fill
    that minimises the squared Laplacian over the holes and the pixels next to them (a least-squares
    biharmonic interpolation, as scikit-image's inpaint_biharmonic solves it; one sparse system for every
    hole of the photo, factorised once for the three channels). Every other pixel as it was.

    The Laplacian at a pixel is the sum of (neighbour - pixel) over its in-photo 4-neighbours, so the
    photo's edges need no padding. The unknowns are the hole pixels alone: a thin hole is a small system
    (a 1024x768 photo's strokes, 20k pixels: about 0.1 s).
    """
    from scipy import ndimage, sparse
    from scipy.sparse.linalg import splu

    out = np.array(rgb, np.float32, copy=True)
    if not holes.any() or holes.all():  # a photo that is all hole has no border to continue
        return out
    h, w = holes.shape
    index = np.full((h, w), -1, np.int64)
    ys, xs = np.nonzero(holes)
    n = len(ys)
    index[ys, xs] = np.arange(n)
    rows_mask = ndimage.binary_dilation(holes, np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool))
    ry, rx = np.nonzero(rows_mask)
    row = np.arange(len(ry))
    entries_r, entries_c, entries_v = [], [], []
    known = np.zeros((len(ry), 3), np.float64)  # the Laplacian's known part at each row
    centre = np.zeros(len(ry))
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        qy, qx = ry + dy, rx + dx
        ok = (qy >= 0) & (qy < h) & (qx >= 0) & (qx < w)
        centre[ok] -= 1
        r, qy, qx = row[ok], qy[ok], qx[ok]
        col = index[qy, qx]
        unknown = col >= 0
        entries_r.append(r[unknown])
        entries_c.append(col[unknown])
        entries_v.append(np.ones(unknown.sum()))
        np.add.at(known, r[~unknown], out[qy[~unknown], qx[~unknown]])
    own = index[ry, rx]
    unknown = own >= 0
    entries_r.append(row[unknown])
    entries_c.append(own[unknown])
    entries_v.append(centre[unknown])
    known[~unknown] += centre[~unknown, None] * out[ry[~unknown], rx[~unknown]]
    a = sparse.csr_matrix((np.concatenate(entries_v), (np.concatenate(entries_r), np.concatenate(entries_c))),
                          shape=(len(ry), n))
    solve = splu((a.T @ a).tocsc())
    out[ys, xs] = solve.solve(-(a.T @ known)).astype(np.float32)
    return out


def blend_smooth(fill: np.ndarray, holes: np.ndarray, weight: float, sigma: float = 0.0) -> np.ndarray:
    """The networks' `fill` (uint8 (H, W, 3)) of thin `holes` averaged with the smoothest continuation of
    their border (`biharmonic`): the fill keeps `weight` of itself, and with `sigma` > 0 only its low
    frequencies are averaged (the difference of the two, smoothed inside the holes by a Gaussian of that
    sigma), so that its texture stays. Every other pixel as it was.

    Two estimates that err differently are closer together than either: on 23 CelebA monitor faces'
    strokes (4 each) `celeba`'s hole PSNR / hole-crop LPIPS went 25.93 -> 27.54 dB / .0078 -> .0065 at weight
    .25, sigma 0, where biharmonic alone gives 27.45 / .0070; on CelebA `val`, 25.46 -> 27.04 / .0081 ->
    .0066 (`celeba` v3.4). `photo` gained on its 8 monitor photos at weight .6, sigma 3, but not on `val`,
    and goes without (docs/training.md)."""
    from scipy import ndimage

    out = fill.copy()
    if not holes.any() or weight >= 1:
        return out
    base = fill.astype(np.float32)
    smooth = biharmonic(base, holes)  # reads only the pixels around the holes
    diff = smooth - base
    if sigma > 0:  # the difference's low-pass inside the holes (a normalised convolution)
        ys, xs = ndimage.find_objects(holes.astype(np.uint8))[0]
        pad = int(np.ceil(4 * sigma))
        box = (slice(max(ys.start - pad, 0), ys.stop + pad), slice(max(xs.start - pad, 0), xs.stop + pad))
        m = holes[box].astype(np.float32)
        norm = np.maximum(ndimage.gaussian_filter(m, sigma), 1e-6)
        low = np.stack([ndimage.gaussian_filter(diff[box][..., c] * m, sigma) for c in range(3)], -1) / norm[..., None]
        diff = np.zeros_like(diff)
        diff[box] = low
    mixed = base + (1 - weight) * diff
    out[holes] = np.clip(np.rint(mixed[holes]), 0, 255).astype(np.uint8)
    return out
