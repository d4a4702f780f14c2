"""Classical inpainting beside the models: the paper's gray fill, scikit-image's biharmonic, OpenCV's
Telea, and OpenCV contrib's shiftmap (He & Sun, ECCV 2012) and FSR fast (Genser et al., 2018), on uint8
(H, W, 3) photos with bool (H, W) masks (True = hole). Every method keeps the known pixels exactly.

The bench protocols choose their classical rows with ``classical``: True (all of CLASSICAL), False (none),
or some of CLASSICAL's names (a tuple, or one string "biharmonic,telea")."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

OPENCV_MISSING = "OpenCV Telea left out: opencv is not installed (pip install -e '.[classical]')"
XPHOTO_MISSING = ("OpenCV shiftmap and FSR left out: cv2.xphoto missing (pip install -e '.[classical]', "
                  "which installs opencv-contrib-python-headless)")

CLASSICAL = ("biharmonic", "telea", "shiftmap", "fsr")
ROW_NAMES = {"biharmonic": "scikit-image biharmonic", "telea": "OpenCV Telea",
             "shiftmap": "OpenCV shiftmap (xphoto)", "fsr": "OpenCV FSR fast (xphoto)"}


def chosen(classical: bool | str | Iterable[str]) -> tuple[str, ...]:
    """The classical methods a bench runs, in CLASSICAL's order: True = all, False/None = none, or the names given."""
    if classical is None or isinstance(classical, bool):
        return CLASSICAL if classical else ()
    names = [n.strip() for n in (classical.split(",") if isinstance(classical, str) else classical)]
    unknown = [n for n in names if n not in CLASSICAL]
    if unknown:
        raise ValueError(f"unknown classical method {', '.join(map(repr, unknown))}: choose from {', '.join(CLASSICAL)}")
    return tuple(n for n in CLASSICAL if n in names)


def available(classical: bool | str | Iterable[str]) -> tuple[tuple[str, ...], list[str]]:
    """The chosen methods (see `chosen`) that can run here, and a note for each kind left out for a
    missing OpenCV module: what both bench protocols make their rows and notes from."""
    keys, notes = [], []
    for key in chosen(classical):
        if key == "telea" and not have_opencv():
            notes.append(OPENCV_MISSING)
        elif key in ("shiftmap", "fsr") and not have_xphoto():
            if XPHOTO_MISSING not in notes:
                notes.append(XPHOTO_MISSING)
        else:
            keys.append(key)
    return tuple(keys), notes


def gray_fill(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """The paper's baseline: holes painted mid-gray (128)."""
    out = images.copy()
    out[masks] = 128
    return out


def biharmonic_one(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """scikit-image's biharmonic inpainting of one uint8 photo; known pixels kept exactly."""
    from skimage.restoration import inpaint_biharmonic

    out = rgb.copy()
    if mask.any():
        f = inpaint_biharmonic(rgb, mask, channel_axis=-1)
        out[mask] = np.clip(np.rint(f * 255), 0, 255).astype(np.uint8)[mask]
    return out


def telea_one(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """OpenCV's Telea inpainting (radius 3) of one uint8 photo."""
    import cv2

    return cv2.inpaint(np.ascontiguousarray(rgb), mask.astype(np.uint8), 3, cv2.INPAINT_TELEA)


def _xphoto(rgb: np.ndarray, mask: np.ndarray, algorithm: int, to_code: int, from_code: int) -> np.ndarray:
    import cv2

    out = rgb.copy()
    if not mask.any():
        return out
    src = cv2.cvtColor(np.ascontiguousarray(rgb), to_code)
    dst = np.zeros_like(src)
    # xphoto's mask is the other way round: nonzero = a valid pixel, zero = to inpaint.
    cv2.xphoto.inpaint(src, np.where(mask, 0, 255).astype(np.uint8), dst, algorithm)
    # xphoto alters known pixels too (FSR re-synthesises the whole block): take only the hole from it.
    out[mask] = cv2.cvtColor(dst, from_code)[mask]
    return out


def shiftmap_one(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """OpenCV xphoto's shiftmap inpainting of one uint8 photo (in CIELab, as xphoto asks); known pixels kept exactly.

    Not reproducible on small photos: xphoto's shiftMapInpaint tries nTransform + 1 = 61 offsets whatever
    number dominantTransforms found, so where it finds fewer (seen at 64x64, not at 178x218 or 1024x768) it
    reads past its offset list (valgrind: invalid read after a 480-byte block, opencv-contrib 5.0.0.93) and
    the fill depends on what lies there, e.g. on whether torchvision was imported first."""
    import cv2

    return _xphoto(rgb, mask, cv2.xphoto.INPAINT_SHIFTMAP, cv2.COLOR_RGB2Lab, cv2.COLOR_Lab2RGB)


def fsr_one(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """OpenCV xphoto's FSR fast (frequency selective reconstruction) of one uint8 photo; known pixels kept exactly."""
    import cv2

    return _xphoto(rgb, mask, cv2.xphoto.INPAINT_FSR_FAST, cv2.COLOR_RGB2BGR, cv2.COLOR_BGR2RGB)


def wipe(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """A copy of uint8 images (..., H, W, 3) with the hole pixels set to black, as in a damaged photo."""
    return np.where(masks[..., None], np.uint8(0), images)


def _each(fn, images: np.ndarray, masks: np.ndarray, progress=None) -> np.ndarray:
    out = images.copy()
    for i, (im, m) in enumerate(zip(images, masks, strict=True)):
        out[i] = fn(im, m)
        if progress:
            progress(1)
    return out


def biharmonic(images: np.ndarray, masks: np.ndarray, progress=None) -> np.ndarray:
    return _each(biharmonic_one, images, masks, progress)


def telea(images: np.ndarray, masks: np.ndarray, progress=None) -> np.ndarray:
    return _each(telea_one, images, masks, progress)


def shiftmap(images: np.ndarray, masks: np.ndarray, progress=None) -> np.ndarray:
    return _each(shiftmap_one, images, masks, progress)


def fsr(images: np.ndarray, masks: np.ndarray, progress=None) -> np.ndarray:
    return _each(fsr_one, images, masks, progress)


def have_opencv() -> bool:
    try:
        import cv2  # noqa: F401
    except ImportError:
        return False
    return True


def have_xphoto() -> bool:
    """Whether OpenCV's contrib module xphoto is there (opencv-contrib-python-headless; plain opencv lacks it)."""
    try:
        import cv2
    except ImportError:
        return False
    return hasattr(getattr(cv2, "xphoto", None), "inpaint")
