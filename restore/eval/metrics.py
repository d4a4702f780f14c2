"""Image quality metrics on uint8 HxWx3 arrays, as the paper and the benchmark compute them."""

from __future__ import annotations

import numpy as np


def ssim(a: np.ndarray, b: np.ndarray, gaussian: bool = False) -> float:
    """SSIM as the paper computes it: skimage, 7x7 uniform window, data_range=255, over channels.

    ``gaussian=True`` gives the Wang et al. variant (11x11 Gaussian window, sigma 1.5). NaN for an image smaller
    than the window (a photo a few pixels wide has no SSIM of that window; the bench goes on without it).
    """
    from skimage.metrics import structural_similarity

    if min(a.shape[:2]) < (11 if gaussian else 7):
        return float("nan")
    kwargs = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False) if gaussian else {}
    return float(structural_similarity(a, b, channel_axis=-1, data_range=255, **kwargs))


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR in dB over the image, or over the pixels where ``mask`` (HxW bool) is True."""
    d = a.astype(np.float64) - b.astype(np.float64)
    if mask is not None:
        d = d[mask]
    mse = float(np.mean(d * d)) if d.size else 0.0
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def hole_mae(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Mean absolute error in the hole, in 0-255 units."""
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))[mask]
    return float(d.mean()) if d.size else 0.0


def _gradient(rgb: np.ndarray) -> np.ndarray:
    g = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    gx = g[1:, 1:] - g[1:, :-1]
    gy = g[1:, 1:] - g[:-1, 1:]
    return np.hypot(gx, gy)


def sharpness(original: np.ndarray, result: np.ndarray, mask: np.ndarray) -> float:
    """Hole detail of `result` relative to `original` (1.0 = as detailed; nan when no interior)."""
    inner = mask[1:, 1:] & mask[1:, :-1] & mask[:-1, 1:]
    if not inner.any():
        return float("nan")
    truth = _gradient(original)[inner].mean()
    return float(_gradient(result)[inner].mean() / truth) if truth > 0 else float("nan")
