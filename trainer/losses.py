"""Losses: hole L1 with a heavier border band, differentiable SSIM, and the GAN terms."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def border_weights(mask: torch.Tensor, border_px: int, border_weight: float) -> torch.Tensor:
    """1 inside the hole, 1 + border_weight on hole pixels within border_px of a known pixel."""
    if border_px <= 0 or border_weight == 0:
        return mask
    k = 2 * border_px + 1
    eroded = -F.max_pool2d(-mask, k, stride=1, padding=border_px)
    return mask * (1 + border_weight * (mask - eroded))


def hole_l1(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted mean absolute error over hole pixels (weights are 0 outside the hole)."""
    return ((pred - target).abs() * weights).sum() / (weights.sum() * pred.shape[1]).clamp_min(1.0)


def hole_log_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """Mean over images of log(hole MSE + eps): a mean of per-image hole PSNRs, up to sign and scale.

    Plain L1 or MSE over the batch weights images by their hole area and their error; this weights
    every image's hole equally in decibels, so the small, easy holes count as much as the large ones.
    Images without a hole are left out. `eps` (a grey level or so) bounds the weight of near-perfect fills.
    """
    area = mask.sum(dim=(1, 2, 3)) * pred.shape[1]
    sq = ((pred - target) ** 2 * mask).sum(dim=(1, 2, 3))
    has = area > 0
    if not bool(has.any()):
        return pred.sum() * 0
    return torch.log(sq[has] / area[has] + eps).mean()


def ssim(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None, window: int = 7) -> torch.Tensor:
    """Mean SSIM of [-1, 1] images, as skimage's default (uniform 7x7 window, sample covariance).

    With `mask`, the mean is over the windows that touch the hole: the others are
    identical after paste-back and would only dilute the gradient.
    """
    a, b = (a + 1) * 0.5, (b + 1) * 0.5  # data range 1
    c1, c2 = 0.01**2, 0.03**2
    n = window * window
    cov_norm = n / (n - 1)

    def mean(x):
        return F.avg_pool2d(x, window, stride=1)

    ma, mb = mean(a), mean(b)
    va = cov_norm * (mean(a * a) - ma * ma)
    vb = cov_norm * (mean(b * b) - mb * mb)
    cab = cov_norm * (mean(a * b) - ma * mb)
    s = ((2 * ma * mb + c1) * (2 * cab + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))
    if mask is None:
        return s.mean()
    touch = (mean(mask) > 0).to(s.dtype)
    return (s * touch).sum() / (touch.sum() * s.shape[1]).clamp_min(1.0)


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """L_D: binary cross-entropy, real -> 1, restored -> 0."""
    return F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits)) + \
        F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def g_adv_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Adversarial part of L_G (non-saturating form of -log(1 - D(G(z))) 's intent)."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def hole_patches(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """1 for each of a patch discriminator's outputs (a grid of `size`) whose patch holds some hole, else 0."""
    return F.adaptive_max_pool2d(mask, size)


def d_hinge_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, fake_weights: torch.Tensor) -> torch.Tensor:
    """Hinge L_D of a patch discriminator: every patch of a true photo is real; of a restored one, the patches
    that hold some hole (`fake_weights`) are fake. The rest of a restored crop is the true photo pasted back,
    so calling it fake would teach the discriminator nothing about fills."""
    real = F.relu(1 - real_logits).mean()
    fake = (F.relu(1 + fake_logits) * fake_weights).sum() / fake_weights.sum().clamp_min(1)
    return real + fake


def g_hinge_loss(fake_logits: torch.Tensor, fake_weights: torch.Tensor) -> torch.Tensor:
    """The generator's hinge adversarial term over the patches that hold some hole."""
    return -(fake_logits * fake_weights).sum() / fake_weights.sum().clamp_min(1)
