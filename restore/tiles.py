"""A fully convolutional network over a large image in overlapping tiles, blended so that seams do not
show: the damage detector over a scan, the texture stage over a hole's region."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def padded(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, int, int]:
    """(x padded on the right and bottom to sides that are multiples of `multiple`, edges repeated; its height, width)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    return x, h, w


def starts(size: int, tile: int, overlap: int) -> list[int]:
    """Where the tiles of one side begin: `tile` apart less `overlap`, the last flush with the end."""
    if size <= tile:
        return [0]
    return sorted(set(range(0, size - tile, tile - overlap)) | {size - tile})


def spans(size: int, tile: int, overlap: int, balanced: bool = False, multiple: int = 1) -> list[tuple[int, int]]:
    """The (start, stop) of the tiles of one side. Plain: tiles of `tile` (see `starts`). Balanced: as few tiles
    as plain but of equal length (rounded up to a `multiple`; `tile` should be one), no longer than `tile`,
    overlapping by at least `overlap`; `tile` must be larger than `overlap`. A 1536x1152 image in tiles of at most
    1024 is then read as four of 800x608 rather than four of 1024x1024: half the pixels, and half the time."""
    if not balanced or size <= tile:
        return [(s, min(s + tile, size)) for s in starts(size, tile, overlap)]
    n = -(-(size - overlap) // (tile - overlap))
    length = -(-(size + (n - 1) * overlap) // n)
    length = min(-(-length // multiple) * multiple, tile)
    return [(s, s + length) for s in starts(size, length, overlap)]


def _tent(n: int, overlap: int, device) -> torch.Tensor:
    i = torch.arange(n, device=device)
    return torch.minimum(i + 1, n - i).float().clamp(max=overlap)


def blend(channels: int, h: int, w: int, tile: int, overlap: int,
          run: Callable[[slice, slice], torch.Tensor | None], device, balanced: bool = False,
          multiple: int = 1) -> torch.Tensor:
    """(channels, h, w): `run(rows, cols)`'s output (channels x the tile's size) for every tile, or None to skip
    one, averaged where tiles overlap with tent weights: a tile's rim, which saw less context, counts less
    than its centre. Pixels that no tile covered are 0. `balanced`: tiles of equal length, a `multiple` (`spans`)."""
    out = torch.zeros((channels, h, w), device=device)
    weight = torch.zeros((h, w), device=device)
    for y0, y1 in spans(h, tile, overlap, balanced, multiple):
        for x0, x1 in spans(w, tile, overlap, balanced, multiple):
            rows, cols = slice(y0, y1), slice(x0, x1)
            y = run(rows, cols)
            if y is None:
                continue
            th, tw = y.shape[-2:]
            wt = torch.minimum(_tent(th, overlap, device)[:, None], _tent(tw, overlap, device)[None, :])
            out[:, rows, cols] += y * wt
            weight[rows, cols] += wt
    return out / weight.clamp_min(1e-6)
