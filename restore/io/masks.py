"""Mask files: reading them as holes, fitting them to their photo, writing drawn ones.

A mask is a boolean (H, W) numpy array, True = hole. On disk a mask is an image
where white (> 127; of a colour mask, its brightest channel) marks the hole, with the soft,
anti-aliased edge a brush leaves around it down to SOFT: a hole cut at 127 would leave the
removed object's own edge around the fill, as a dark halo (on a wire over a photo, its fill
came out 46 levels too dark; with the edge down to 64, 5.5 from the truth; down to 8 or 32 the
hole grew further into the photo for a fill no closer). A mask with an alpha channel that varies is read
from its alpha (opaque = hole: strokes painted on a transparent layer), unless its opaque
pixels are black and white (a black-and-white mask with parts erased to transparent: white
and opaque = hole); one whose alpha is constant (a fully opaque RGBA export, as IOPaint
writes) is read from its colours. JPEG masks are read the same way: their compression noise stays
under SOFT. An image mostly gray
(a photo given as its mask) is refused. Masks are paired with photos by file name in files.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .atomic import atomic_save
from .decode import first_line, open_checked, too_many_pixels

# What a 0/1 label image given as a mask is told (mask_from_image's 'faint'): its marks of 1 are black, no hole.
FAINT = "no hole: its values are 0 and 1 (a label image?); holes are white (over 127): multiply its values by 255"
# ... and a mask whose strokes are all too dark ('dim'): a brush at low opacity, or a dark colour.
DIM = "no hole: nothing in it is brighter than 127 (a brush at low opacity?); holes are white (over 127)"
SOFT = 64  # the soft edge of a hole, down to this value (of 255: a quarter), is hole too
GRAY = 0.3  # a mask with more of its pixels than this neither near black nor near white is a photo, not a mask


class MaskError(ValueError):
    """A mask file that cannot be used for its photo."""


def decode_mask(path: str | Path) -> tuple[np.ndarray, str]:
    """A mask file as (bool array, True = hole; the channel it was read from: 'alpha', 'colour' or 'gray')."""
    path = Path(path)
    try:
        with open_checked(path) as im:
            im.load()
            return mask_from_image(im)
    except MaskError as e:
        raise e if str(e).startswith(str(path)) else MaskError(f"{path}: {e}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise MaskError(too_many_pixels(path, e)) from None
    except Exception as e:  # noqa: BLE001 - a damaged file makes Pillow's decoders raise almost anything
        raise MaskError(f"{path}: cannot read mask ({first_line(e)}); masks must be image files") from None


def mask_from_image(im: Image.Image) -> tuple[np.ndarray, str]:
    """A mask image as (bool array, True = hole; the channel it was read from: 'alpha', 'colour' or 'gray', 'both' for
    a black-and-white mask with parts made transparent (white and opaque = hole), 'faint' for a 0/1 label image,
    whose marks of 1 are no holes, or 'dim' for one whose marks are all too dark to be). A mask that is mostly gray,
    a photo rather than a mask, is a MaskError."""
    source = "gray"
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (im.mode == "P" and "transparency" in im.info):
        rgba = np.asarray(im.convert("RGBA"))
        alpha = rgba[..., 3]
        if alpha.min() != alpha.max():
            arr, source = alpha, "alpha"
            if _black_and_white_where_opaque(rgba):
                # A black-and-white mask with parts erased to transparent in an editor: its colours still say
                # where the hole is, and read by alpha alone its black would be a hole too.
                arr, source = np.where(alpha > 127, np.asarray(Image.fromarray(rgba[..., :3]).convert("L")), 0), "both"
        else:  # a constant alpha says nothing about the hole: the colours do
            arr, source = rgba[..., :3].max(axis=2), "colour"
    elif im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        a = np.asarray(im).astype(np.float64)
        arr = a / max(a.max(), 1) * 255 if a.max() > 255 else a
    elif im.mode in ("L", "1"):
        arr = np.asarray(im.convert("L"))
    else:  # colours: a stroke of any bright colour (red paint) is a hole, as white is
        arr = np.asarray(im.convert("RGB")).max(axis=2)
    gray = float(((arr > 16) & (arr < 239)).mean()) if arr.size else 0.0
    if gray > GRAY:
        raise MaskError(f"{gray:.0%} of its pixels are gray, neither black nor white: a photo, not a mask? Paint the "
                        "holes white on black (or opaque on a transparent layer) and save that alone")
    holes = _with_soft_edges(arr)
    if arr.size and arr.max() == 1:  # marks of 1 and nothing whiter: a 0/1 label image, black to the eye
        source = "faint"
    elif arr.size and not holes.any() and arr.max() > SOFT:
        source = "dim"
    return holes, source


def _with_soft_edges(arr: np.ndarray) -> np.ndarray:
    """The pixels over 127, and the soft edge around them: pixels over SOFT that join them (hysteresis). A mask
    with no soft edge (black and white) is read as it always was, at 127."""
    holes = arr > 127
    soft = (arr > SOFT) & ~holes
    if not soft.any() or not holes.any():
        return holes
    from scipy import ndimage

    labels, _ = ndimage.label(holes | soft, structure=np.ones((3, 3), bool))
    joined = np.unique(labels[holes])
    return np.isin(labels, joined[joined > 0])


def _black_and_white_where_opaque(rgba: np.ndarray) -> bool:
    """Whether the opaque pixels of an RGBA mask are black and white (grays within 32 of either end, at least 1 % of
    each, 95 % of them in all), as a black-and-white mask is, not strokes of one or more colours on a transparent
    layer."""
    opaque = rgba[..., 3] > 127
    n = int(opaque.sum())
    if not n:
        return False
    rgb = rgba[..., :3][opaque].astype(np.int16)
    gray = (rgb.max(axis=1) - rgb.min(axis=1)) <= 16
    black = gray & (rgb.max(axis=1) <= 32)
    white = gray & (rgb.min(axis=1) >= 223)
    return black.sum() >= 0.01 * n and white.sum() >= 0.01 * n and black.sum() + white.sum() >= 0.95 * n


def check_size(mask: np.ndarray, path: str | Path, size: tuple[int, int], photo: str | Path | None = None) -> None:
    """A MaskError naming the file (and the `photo`, for a mask shared by several) unless the mask is `size`
    (width, height)."""
    if (mask.shape[1], mask.shape[0]) != tuple(size):
        whose = f"the photo {photo}" if photo is not None else "its photo"
        raise MaskError(
            f"{path}: mask is {mask.shape[1]}x{mask.shape[0]} but {whose} is {size[0]}x{size[1]}; "
            "resize the mask to the photo's size"
        )


def read_mask(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """Read a mask file as a bool array (True = hole); ``size`` is the photo's (width, height)."""
    mask, _ = decode_mask(path)
    if size is not None:
        check_size(mask, path, size)
    return mask


def scaled(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The mask brought to `size` (width, height) by nearest neighbour, so it stays two-valued and sharp."""
    if (mask.shape[1], mask.shape[0]) == tuple(size):
        return mask
    im = Image.fromarray(mask.astype(np.uint8) * 255, "L").resize(tuple(size), Image.Resampling.NEAREST)
    return np.asarray(im) > 127


def save_mask(mask: np.ndarray, path: str | Path) -> None:
    """Write a mask as a black/white PNG (white = hole)."""
    atomic_save(Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), "L"), Path(path), format="PNG")
