"""A photo's pixels as restore handles them: the 8-bit RGB view the networks see, a fill merged
back into the photo's own mode (grayscale, palette, 16-bit, CMYK, alpha), and PhotoError."""

from __future__ import annotations

import numpy as np
from PIL import Image


class PhotoError(ValueError):
    """A photo that cannot be restored; the message says why."""


SUPPORTED_MODES = {"RGB", "RGBA", "L", "LA", "P", "I;16", "I;16L", "I;16B", "I", "CMYK", "1", "F"}
WIDE = ("I;16", "I;16L", "I;16B", "I", "F")  # gray modes of more than 8 bits, seen through an 8-bit view
BITS = (8, 10, 12, 14, 16)  # the depths integer samples are taken to have, the fewest that hold them


def white_level(samples: np.ndarray, known: np.ndarray | None = None) -> int:
    """The white of integer samples held in 16 bits: 2**k - 1 for the fewest bits k of 8, 10, 12, 14 and 16 that
    hold the largest sample (of the `known` pixels, bool (H, W), when there are any: what lies under a hole is never
    read). Scanners write 10-, 12- and 14-bit data into 16-bit files; taken as 16 bits, such a scan is near black to
    the networks, and their fill, brought back from its 8-bit view, a few flat levels."""
    if known is not None and known.any():
        samples = samples[known]
    top = int(samples.max()) if samples.size else 0
    return next((2**k - 1 for k in BITS if top < 2**k), 2**16 - 1)


def eight_bits(samples: np.ndarray, white: float) -> np.ndarray:
    """uint8 view of samples whose white is `white`."""
    return np.clip(np.rint(samples.astype(np.float64) * (255.0 / white)), 0, 255).astype(np.uint8)


def from_eight_bits(values: np.ndarray, white: float, dtype) -> np.ndarray:
    """uint8 values of a view brought back to samples whose white is `white`, of `dtype`."""
    scaled = values.astype(np.float64) * (white / 255.0)
    return scaled.astype(dtype) if np.dtype(dtype).kind == "f" else np.rint(scaled).astype(dtype)


def deep_view(samples: np.ndarray, known: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """The 8-bit RGB view of a 16-bit colour photo's samples (H, W, 3 or 4), and their white (alpha aside; of the
    `known` pixels when given)."""
    white = white_level(samples[..., :3], known)
    return eight_bits(samples[..., :3], white), white


def _gray_white(im: Image.Image, a: np.ndarray, known: np.ndarray | None = None) -> float:
    """The white of a gray image of more than 8 bits, from its `known` pixels (all when None): 1 or 255 for floats,
    white_level for integers. Values restore cannot bring to 8 bits and back (negative, past 16 bits, not finite) are
    a PhotoError: clipped, the fill would not match the photo around it."""
    s = a[known] if known is not None and known.any() else a
    if im.mode == "F":
        if s.size and not np.isfinite(s).all():
            raise PhotoError("a 32-bit floating-point image with NaN or infinite values; replace them (numpy's "
                             "nan_to_num) first")
        top = float(s.max()) if s.size else 0.0
        if s.size and (s.min() < 0 or top > 255):
            raise PhotoError(f"a 32-bit floating-point image with values from {float(s.min()):g} to {top:g}; restore "
                             "reads floats from 0 to 1 (or to 255): scale it into that range first")
        return 1.0 if top <= 1 else 255.0
    if s.size and (s.min() < 0 or s.max() > 65535):
        raise PhotoError(f"a 32-bit integer image with values from {int(s.min())} to {int(s.max())}; restore reads "
                         "integer samples from 0 to 65535: scale it into that range first")
    return float(white_level(a, known))


def photo_rgb(im: Image.Image, like: Image.Image | None = None, known: np.ndarray | None = None) -> np.ndarray:
    """The 8-bit RGB view of a photo that the networks see: a gray photo of more than 8 bits at the white_level of its
    `known` pixels (bool (H, W); all when None), or at that of `like`'s (the photo a restored one came from)."""
    if im.mode not in SUPPORTED_MODES:
        raise PhotoError(f"unsupported image mode {im.mode}; convert the photo to RGB first")
    if im.mode in WIDE:
        a = np.asarray(im)
        g = eight_bits(np.nan_to_num(a) if im.mode == "F" else a,  # (a hole may hold anything)
                       _gray_white(im, a, known) if like is None else _gray_white(like, np.asarray(like), known))
        return np.repeat(g[..., None], 3, axis=2)
    return np.asarray(im.convert("RGB"))


def palette_rgba(im: Image.Image) -> np.ndarray:
    """A palette image's entries as int (N, 4) RGBA: the opacity from an RGBA palette, or from the transparency (one
    index, or a PNG's tRNS table), else opaque."""
    if im.palette is not None and im.palette.mode == "RGBA":
        return np.asarray(im.getpalette("RGBA"), np.int32).reshape(-1, 4)
    rgb = np.asarray(im.getpalette() or [0, 0, 0], np.int32).reshape(-1, 3)
    alpha = np.full(len(rgb), 255, np.int32)
    t = im.info.get("transparency")
    if isinstance(t, int) and 0 <= t < len(rgb):
        alpha[t] = 0
    elif isinstance(t, bytes):
        alpha[: len(t)] = np.frombuffer(t, np.uint8)[: len(rgb)]
    return np.concatenate([rgb, alpha[:, None]], axis=1)


def palette_indices(im: Image.Image, colours: np.ndarray, was: np.ndarray) -> np.ndarray:
    """For each uint8 RGB colour (N, 3), the palette entry nearest to it and to the opacity of the entry the pixel had
    (`was`, N indices), among the visible entries for a pixel that was visible and the invisible ones for one that was
    not: a fill keeps each pixel's transparency, as in an RGBA photo, and a visible pixel never turns into an invisible
    entry whose colour happens to be nearest. An index past the palette's end counts as opaque."""
    entries = palette_rgba(im)
    alpha = entries[:, 3]
    own = np.where(was < len(entries), alpha[np.minimum(was, len(entries) - 1)], 255)
    want = np.concatenate([colours.astype(np.int32), own[:, None]], axis=1)
    out = np.asarray(was, np.uint8).copy()
    for visible in (False, True):
        rows = np.flatnonzero((own > 0) == visible)
        choices = np.flatnonzero((alpha > 0) == visible)
        if not len(rows) or not len(choices):
            continue  # no entry of that kind: those pixels keep their index
        for start in range(0, len(rows), 4096):  # (4096, entries) distances at a time
            part = rows[start : start + 4096]
            d = ((want[part, None, :] - entries[None, choices, :]) ** 2).sum(-1)
            out[part] = choices[d.argmin(1)]
    return out


def merge_into(im: Image.Image, restored_rgb: np.ndarray, mask: np.ndarray) -> Image.Image:
    """A copy of `im` (same mode, palette, alpha) whose hole pixels come from `restored_rgb`."""
    filled = Image.fromarray(restored_rgb, "RGB")
    mode = im.mode
    orig = np.array(im)
    if mode in ("RGB", "RGBA"):
        orig[mask, :3] = restored_rgb[mask]
    elif mode in ("L", "LA"):
        gray = np.asarray(filled.convert("L"))
        if mode == "L":
            orig[mask] = gray[mask]
        else:
            orig[mask, 0] = gray[mask]
    elif mode == "P":
        orig[mask] = palette_indices(im, restored_rgb[mask], orig[mask])
    elif mode == "CMYK":
        orig[mask] = np.asarray(filled.convert("CMYK"))[mask]
    elif mode == "1":
        orig[mask] = np.asarray(filled.convert("L"))[mask] > 127
    else:  # 16-bit, 32-bit integer and float grayscale: the 8-bit answer brought back to the photo's range
        gray = np.asarray(filled.convert("L"))
        orig[mask] = from_eight_bits(gray[mask], _gray_white(im, orig, ~mask), orig.dtype)
    if mode in ("P", "CMYK"):  # arrays alone would read as L / RGBA
        out = Image.frombytes(mode, im.size, np.ascontiguousarray(orig).tobytes())
    else:
        out = Image.fromarray(orig)
    if mode == "P":
        rawmode = im.palette.mode if im.palette is not None and im.palette.mode == "RGBA" else "RGB"
        out.putpalette(im.getpalette(rawmode), rawmode)
    for key in ("transparency", "icc_profile", "dpi"):
        if key in im.info:
            out.info[key] = im.info[key]
    return out
