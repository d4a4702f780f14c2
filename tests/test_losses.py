"""The training losses against their definitions."""

import math

import numpy as np
import torch

from restore.eval.metrics import ssim as paper_ssim
from trainer import losses


def _batch(seed=0, n=4):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, 16, 16, generator=g) * 2 - 1
    pred = (x + 0.3 * torch.randn(n, 3, 16, 16, generator=g)).clamp(-1, 1)
    m = torch.zeros(n, 1, 16, 16)
    m[0, :, 2:6, 3:9] = 1
    m[1, :, 8:15, 1:4] = 1
    m[3, :, 0:16, 5:6] = 1  # image 2 has no hole
    return pred, x, m


def test_hole_log_mse_is_the_mean_per_image_hole_psnr():
    pred, x, m = _batch()
    psnrs = []
    for i in (0, 1, 3):
        hole = m[i, 0].bool()
        mse = ((pred[i] - x[i])[:, hole] ** 2).mean()
        psnrs.append(10 * math.log10(4 / mse.item()))  # peak-to-peak 2 in [-1, 1] units
    loss = losses.hole_log_mse(pred, x, m, eps=0)
    assert math.isclose(10 * math.log10(4) - 10 / math.log(10) * loss.item(), float(np.mean(psnrs)), rel_tol=1e-5)


def test_hole_log_mse_weights_each_image_by_its_own_error():
    # An image with a small error gets a larger gradient per pixel than one with a large error,
    # which plain L1 or MSE over the batch would not give.
    pred, x, m = _batch()
    pred = x + torch.where(torch.arange(4).view(4, 1, 1, 1) == 0, 0.02, 0.4) * m
    pred.requires_grad_(True)
    losses.hole_log_mse(pred, x, m, eps=0).backward()
    per_pixel = [pred.grad[i].abs().sum() / (m[i].sum() * 3) for i in (0, 1)]
    assert per_pixel[0] > 10 * per_pixel[1]


def test_hole_log_mse_without_holes_is_zero_with_a_gradient():
    pred, x, _ = _batch()
    pred.requires_grad_(True)
    loss = losses.hole_log_mse(pred, x, torch.zeros(4, 1, 16, 16))
    loss.backward()
    assert loss.item() == 0 and pred.grad is not None


def test_border_weights_mark_the_band_inside_the_hole():
    m = torch.zeros(1, 1, 12, 12)
    m[..., 2:10, 2:10] = 1
    w = losses.border_weights(m, border_px=2, border_weight=3.0)
    assert w[0, 0, 0, 0] == 0  # known pixel
    assert w[0, 0, 2, 5] == 4 and w[0, 0, 3, 5] == 4  # within 2 px of the border
    assert w[0, 0, 5, 5] == 1  # deep inside


def test_ssim_matches_the_papers_metric():
    pred, x, _ = _batch()
    a = ((pred + 1) * 127.5).round() / 127.5 - 1  # on the uint8 grid, as the metric sees it
    b = ((x + 1) * 127.5).round() / 127.5 - 1
    ours = losses.ssim(a, b).item()

    def u8(t):
        return ((t + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()

    theirs = np.mean([paper_ssim(u8(a[i]), u8(b[i])) for i in range(4)])
    assert abs(ours - theirs) < 1e-3


def test_monitor_hole_psnr_leaves_out_exact_holes_as_the_bench_does():
    from trainer.stages import mean_hole_psnr

    target = torch.zeros(3, 3, 8, 8)
    pred = target.clone()
    mask = torch.zeros(3, 1, 8, 8)
    mask[:, :, 2:4, 2:4] = 1
    pred[1, :, 2:4, 2:4] = 0.1  # one image off in its hole; image 0 exact; image 2 has no hole
    mask[2] = 0
    value = mean_hole_psnr(pred, target, mask)
    assert math.isclose(value, 10 * math.log10(255**2 / 12**2))  # uint8 128 against 140, image 1 alone
