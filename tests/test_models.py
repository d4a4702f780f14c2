import torch

from restore.inpainting.networks import (
    ApproxNet,
    Discriminator,
    DiscriminatorConfig,
    Inpainter,
    InpainterConfig,
    SelfAttention,
    count_parameters,
    seam_fill,
    upsample_conv,
)

from .conftest import TINY, tiny_model


def batch(n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, 64, 64, generator=g) * 2 - 1
    m = torch.zeros(n, 1, 64, 64)
    m[:, :, 20:35, 18:30] = 1
    return x, m


def test_outputs_keep_known_pixels():
    model = tiny_model()
    x, m = batch()
    coarse, refined = model(x, m)
    assert coarse.shape == refined.shape == x.shape
    known = m.expand_as(x) == 0
    assert torch.equal(refined[known], x[known])
    assert torch.equal(coarse[known], x[known])
    assert not torch.allclose(refined[~known], x[~known])  # the hole was filled, not copied


def test_hole_content_is_ignored():
    """Whatever was under the hole must not influence the result."""
    model = tiny_model()
    x, m = batch()
    y = x.clone()
    y[m.expand_as(x) == 1] = 0.77
    torch.testing.assert_close(model(x, m)[1], model(y, m)[1])


def test_every_parameter_gets_a_gradient():
    model = tiny_model().train()
    disc = Discriminator(DiscriminatorConfig(widths=(8, 8, 8, 8), hidden=8))
    x, m = batch(4)
    coarse, refined = model(x, m)
    loss = (refined - x).abs().mean() + (coarse - x).abs().mean() + disc(refined).mean()
    loss.backward()
    for name, p in [*model.named_parameters(), *disc.named_parameters()]:
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_approxnet_uses_dropout_and_dense_layers():
    net = ApproxNet(TINY.approx)
    assert any(isinstance(mod, torch.nn.Dropout) and mod.p == 0.3 for mod in net.modules())
    assert any(isinstance(mod, torch.nn.Linear) for mod in net.modules())
    x, m = batch()
    net.train()
    assert not torch.equal(net(x, m), net(x, m))  # dropout active in training
    net.eval()
    assert torch.equal(net(x, m), net(x, m))


def test_seam_fill_keeps_known_values_and_fills_smoothly():
    m = torch.zeros(1, 1, 64, 64)
    m[..., 20:36, 10:30] = 1
    known = 1 - m
    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    offset = torch.full((1, 3, 64, 64), 0.4)
    ramp = (0.02 * xx - 0.01 * yy).expand(1, 3, 64, 64)
    for values, tol in [(offset, 1e-5), (ramp, 0.05)]:
        hidden = values.clone()
        hidden[m.expand_as(values) == 1] = 7.0  # what lies under the hole must not matter
        out = seam_fill(hidden, known)
        torch.testing.assert_close(out * known, values * known)
        # a constant comes back exactly; a plane close to it (a smooth interpolant)
        assert (out - values).abs().max() < tol


def test_approxnet_seam_layer_joins_the_fill_to_its_border():
    """With the seam layer the rough fill meets the known pixels; without it a constant offset stays."""
    import dataclasses

    x, m = batch(4)
    x = torch.nn.functional.avg_pool2d(x, 9, 1, 4, count_include_pad=False)  # smooth photos: borders are meaningful
    errs = {}
    for seam in (False, True):
        torch.manual_seed(0)
        net = ApproxNet(dataclasses.replace(TINY.approx, seam=seam)).eval()
        y = net(x, m)
        ring = torch.nn.functional.max_pool2d(m, 3, 1, 1) - m  # known pixels touching the hole
        inner = m - (1 - torch.nn.functional.max_pool2d(1 - m, 3, 1, 1))  # hole pixels touching the border
        # mean colour just inside the hole vs just outside it
        errs[seam] = ((y * inner).sum((2, 3)) / inner.sum((2, 3)) - (x * ring).sum((2, 3)) / ring.sum((2, 3))).abs().mean()
    assert errs[True] < 0.25 * errs[False]


def test_configs_written_before_the_seam_layer_load_without_it():
    old = InpainterConfig().to_dict()
    del old["approx"]["seam"], old["approx"]["seam_sweeps"]
    old["arch"] = "restore.inpainter/1"
    assert InpainterConfig.from_dict(old).approx.seam is False
    del old["arch"]  # a hand-written config without "arch" is the current architecture
    assert InpainterConfig.from_dict(old).approx.seam is True
    assert InpainterConfig.from_dict(InpainterConfig().to_dict()) == InpainterConfig()


def test_self_attention_is_sagans_and_starts_as_identity():
    att = SelfAttention(16)
    x = torch.randn(2, 16, 8, 8)
    assert torch.equal(att(x), x)  # gamma = 0
    with torch.no_grad():
        att.gamma.fill_(0.7)
    y, maps = att(x, return_attention=True)
    torch.testing.assert_close(att(x), y)

    # SAGAN from its definition: 1x1 query/key/value, softmax over key positions (unscaled logits).
    def proj(conv):
        return (torch.einsum("oc,nchw->nohw", conv.weight[:, :, 0, 0], x) + conv.bias[None, :, None, None]).flatten(2)

    q, k, v = proj(att.query), proj(att.key), proj(att.value)
    ref_maps = torch.softmax(torch.einsum("ncq,nck->nqk", q, k), dim=-1)
    ref = 0.7 * torch.einsum("nqk,nck->ncq", ref_maps, v).reshape(2, 16, 8, 8) + x
    torch.testing.assert_close(maps, ref_maps)
    torch.testing.assert_close(y, ref, rtol=1e-4, atol=1e-5)
    assert maps.shape == (2, 64, 64)


def test_upsample_conv_is_the_conv_of_the_upsampled_concatenation():
    # The decoder's sub-pixel form must compute what the layer's weights were trained
    # for: conv(cat([nearest 2x upsample, skip])), values and gradients alike.
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(6 + 4, 5, 3, padding=1)
    low = torch.randn(2, 6, 7, 9, requires_grad=True)
    skip = torch.randn(2, 4, 14, 18)
    ref = conv(torch.cat([torch.nn.functional.interpolate(low, scale_factor=2, mode="nearest"), skip], 1))
    g = torch.randn_like(ref)
    ref_grads = torch.autograd.grad((ref * g).sum(), [low, conv.weight, conv.bias])
    out = upsample_conv(conv, low, skip)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    grads = torch.autograd.grad((out * g).sum(), [low, conv.weight, conv.bias])
    for a, b in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    cl = torch.channels_last
    with torch.no_grad():
        out_cl = upsample_conv(conv.to(memory_format=cl), low.contiguous(memory_format=cl), skip.contiguous(memory_format=cl))
    torch.testing.assert_close(out_cl, ref.detach(), rtol=1e-5, atol=1e-5)


def test_attention_maps_from_the_full_model():
    _, _, maps = tiny_model()(*batch(1), return_attention=True)
    assert len(maps) == 1 and maps[0].shape == (1, 256, 256)


def test_config_round_trip():
    cfg = InpainterConfig.from_dict(TINY.to_dict())
    assert cfg == TINY
    assert count_parameters(Inpainter(cfg)) == count_parameters(Inpainter(TINY))


def test_discriminator_gives_one_logit_per_image():
    disc = Discriminator(DiscriminatorConfig())
    assert disc(torch.zeros(3, 3, 64, 64)).shape == (3,)


def test_blocks32_start_as_the_identity_then_train():
    """32x32 residual blocks can be added to a trained model: they change nothing until trained."""
    from dataclasses import replace

    small = tiny_model()
    big = Inpainter(replace(TINY, refiner=replace(TINY.refiner, blocks32=2))).eval()
    missing = big.load_state_dict(small.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith("refiner.blocks32.") for k in missing)
    x, m = batch()
    torch.testing.assert_close(big(x, m)[1], small(x, m)[1])

    big.train()
    loss = (big(x, m)[1] - x).abs().mean()
    loss.backward()
    assert big.refiner.blocks32[0].conv2.weight.grad.abs().sum() > 0  # training moves them off the identity
