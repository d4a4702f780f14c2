"""A patch discriminator for the texture stage's adversarial term (training only; never released).

The paper's discriminator gives one logit per 64x64 image. At the photo's own resolution what
matters is whether each patch of a fill has the photo's texture, so this one is fully
convolutional: three stride-2 convolutions and a 3x3 head give a logit per patch of about 46 px on
a grid an eighth of the crop's side (16x16 for 128-pixel crops), as in pix2pix's PatchGAN (Isola et
al., CVPR 2017). It sees the mask too, so it can judge the seam as well as the hole. Spectral norm
on every layer keeps it Lipschitz, as SAGAN (the paper's attention) trains its discriminator.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm


class PatchDiscriminator(nn.Module):
    """(image in [-1, 1] N x 3 x H x W, mask N x 1 x H x W) -> N x 1 x H/8 x W/8 logits."""

    def __init__(self, width: int = 32):
        super().__init__()
        w = width
        self.convs = nn.ModuleList(
            spectral_norm(nn.Conv2d(a, b, 4, stride=2, padding=1)) for a, b in ((4, w), (w, 2 * w), (2 * w, 4 * w))
        )
        self.head = spectral_norm(nn.Conv2d(4 * w, 1, 3, padding=1))

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = torch.cat([image, mask * 2 - 1], 1)
        for conv in self.convs:
            h = F.leaky_relu(conv(h), 0.2)
        return self.head(h)
