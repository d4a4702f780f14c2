"""Classical inpainting beside the models: the paper's gray fill, scikit-image's biharmonic and
OpenCV's Telea, on uint8 (H, W, 3) photos with bool (H, W) masks (True = hole)."""

from __future__ import annotations

import numpy as np

OPENCV_MISSING = "OpenCV Telea left out: opencv is not installed (pip install -e '.[classical]')"


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


def have_opencv() -> bool:
    try:
        import cv2  # noqa: F401
    except ImportError:
        return False
    return True
