import torch

from restore.models import (
    ApproxNet,
    Discriminator,
    DiscriminatorConfig,
    Inpainter,
    InpainterConfig,
    SelfAttention,
    count_parameters,
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


def test_self_attention_matches_explicit_softmax_and_starts_as_identity():
    att = SelfAttention(16)
    x = torch.randn(2, 16, 8, 8)
    assert torch.equal(att(x), x)  # gamma = 0
    with torch.no_grad():
        att.gamma.fill_(0.7)
    y_fast = att(x)
    y, maps = att(x, return_attention=True)
    torch.testing.assert_close(y_fast, y, rtol=1e-4, atol=1e-5)
    assert maps.shape == (2, 64, 64)
    torch.testing.assert_close(maps.sum(-1), torch.ones(2, 64))


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
