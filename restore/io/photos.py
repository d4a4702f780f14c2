"""A photo's pixels as restore handles them: the 8-bit RGB view the networks see, a fill merged
back into the photo's own mode (grayscale, palette, 16-bit, CMYK, alpha), and PhotoError."""

from __future__ import annotations

import numpy as np
from PIL import Image


class PhotoError(ValueError):
    """A photo that cannot be restored; the message says why."""


SUPPORTED_MODES = {"RGB", "RGBA", "L", "LA", "P", "I;16", "I;16L", "I;16B", "I", "CMYK", "1", "F"}


def photo_rgb(im: Image.Image) -> np.ndarray:
    """The 8-bit RGB view of a photo that the networks see."""
    if im.mode not in SUPPORTED_MODES:
        raise PhotoError(f"unsupported image mode {im.mode}; convert the photo to RGB first")
    if im.mode in ("I;16", "I;16L", "I;16B", "I", "F"):
        a = np.asarray(im).astype(np.float64)
        top = 65535.0 if im.mode != "F" and a.max() > 255 else (1.0 if im.mode == "F" and a.max() <= 1 else 255.0)
        g = np.clip(np.rint(a / top * 255), 0, 255).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    return np.asarray(im.convert("RGB"))


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
        orig[mask] = np.asarray(filled.quantize(palette=im, dither=Image.Dither.NONE))[mask]
    elif mode == "CMYK":
        orig[mask] = np.asarray(filled.convert("CMYK"))[mask]
    elif mode == "1":
        orig[mask] = np.asarray(filled.convert("L"))[mask] > 127
    else:  # 16-bit, 32-bit integer and float grayscale: scale the 8-bit answer back to the photo's range
        gray = np.asarray(filled.convert("L")).astype(np.float64)
        a = np.asarray(im)
        top = 65535.0 if mode != "F" and a.max() > 255 else (1.0 if mode == "F" and a.max() <= 1 else 255.0)
        orig[mask] = np.rint(gray[mask] / 255 * top).astype(orig.dtype) if mode != "F" else (gray[mask] / 255 * top)
    if mode in ("P", "CMYK"):  # arrays alone would read as L / RGBA
        out = Image.frombytes(mode, im.size, np.ascontiguousarray(orig).tobytes())
    else:
        out = Image.fromarray(orig)
    if mode == "P":
        out.putpalette(im.getpalette())
    for key in ("transparency", "icc_profile", "dpi"):
        if key in im.info:
            out.info[key] = im.info[key]
    return out
