"""The texture stage in the pipeline (restore/inpainting/texture.py): it changes hole pixels only, leaves
64x64 photos alone, gives the same result in tiles as in one piece, and is a kind of release of its own."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from restore import hub
from restore.inpainting.pipeline import Restorer
from restore.inpainting.texture import TextureConfig, TextureNet, add_texture
from tests.conftest import smooth_photo, tiny_model


def _stage(tile: int = 768, margin: int = 8, seed: int = 0) -> TextureNet:
    torch.manual_seed(seed)
    net = TextureNet(TextureConfig(width=8, dilations=(1, 2), margin=margin, tile=tile))
    with torch.no_grad():
        net.out.weight.normal_(0, 0.2)
    return net.eval()


def _hole(h, w, box):
    m = np.zeros((h, w), bool)
    y0, x0, y1, x1 = box
    m[y0:y1, x0:x1] = True
    return m


def test_stage_changes_the_hole_and_nothing_else():
    rgb = smooth_photo(120, 150, seed=1)
    mask = _hole(120, 150, (40, 50, 80, 100))
    plain = Restorer(tiny_model()).restore(rgb, mask)
    textured = Restorer(tiny_model(), texture=_stage()).restore(rgb, mask)
    assert np.array_equal(textured[~mask], rgb[~mask])
    assert np.abs(textured[mask].astype(int) - plain[mask]).mean() > 0.5


def test_64x64_photos_are_left_as_the_model_fills_them():
    rgb = smooth_photo(64, 64, seed=2)
    mask = _hole(64, 64, (20, 20, 40, 44))
    assert np.array_equal(Restorer(tiny_model(), texture=_stage()).restore(rgb, mask),
                          Restorer(tiny_model()).restore(rgb, mask))


def test_an_identity_stage_returns_the_photo_exactly_in_tiles_or_not():
    rgb = smooth_photo(200, 260, seed=3)
    mask = _hole(200, 260, (30, 20, 170, 240))
    identity = TextureNet(TextureConfig(width=8, dilations=(1,), margin=8, tile=64))  # last layer zero: identity
    assert np.array_equal(add_texture(identity, rgb, mask), rgb)


def test_an_untrained_attention_block_passes_its_input_through():
    from restore.inpainting.texture import _Attention

    x = torch.randn(2, 16, 12, 10)
    m = (torch.rand(2, 1, 48, 40) > 0.5).float()
    with torch.no_grad():
        assert torch.equal(_Attention(16)(x, m), x)


def test_attention_copies_from_the_known_pixels_not_from_the_hole():
    from restore.inpainting.texture import _Attention

    block = _Attention(16)
    with torch.no_grad():  # logits from the known-share bias alone; values and output carry channel 0 through
        for conv in (block.q, block.k, block.v, block.o):
            conv.weight.zero_()
            conv.bias.zero_()
        block.v.weight[0, 0] = 1
        block.o.weight[0, 0] = 1
    m = torch.zeros(1, 1, 64, 64)
    m[..., 16:48, 8:56] = 1  # half the map is hole
    x = torch.zeros(1, 16, 16, 16)
    x[0, 0] = 1 - torch.nn.functional.interpolate(m, (16, 16), mode="area")[0, 0]  # 1 where known, 0 in the hole
    with torch.no_grad():
        added = block(x, m)[0, 0] - x[0, 0]
    # every query gets the mean of what its keys hold: the known ones' 1, not the hole's 0
    assert added.min() > 0.99


def test_tiles_agree_with_one_piece_inside_the_hole():
    rgb = smooth_photo(160, 200, seed=4)
    mask = _hole(160, 200, (20, 20, 140, 180))
    whole = add_texture(_stage(tile=768), rgb, mask)
    tiled = add_texture(_stage(tile=96), rgb, mask)
    assert np.array_equal(tiled[~mask], rgb[~mask])
    # Tiles see less context at their rims, which the blend weights down: close, not identical.
    assert np.abs(tiled[mask].astype(int) - whole[mask]).mean() < 2.0


def test_thin_holes_get_thin_gain_of_the_correction_and_wide_holes_all_of_it():
    rgb = smooth_photo(160, 200, seed=5)
    mask = _hole(160, 200, (20, 20, 80, 90))  # wide: 60 px
    mask |= _hole(160, 200, (120, 20, 126, 180))  # a 6 px stroke
    thin = _hole(160, 200, (120, 20, 126, 180))
    full = add_texture(_stage(), rgb, mask).astype(np.float32)
    net = _stage()
    net.cfg = dataclasses.replace(net.cfg, thin_px=9, thin_gain=0.5)
    half = add_texture(net, rgb, mask).astype(np.float32)
    wide = mask & ~thin
    assert np.array_equal(half[wide], full[wide]) and np.array_equal(half[~mask], rgb[~mask])
    want = rgb[thin] + 0.5 * (full[thin] - rgb[thin])
    assert np.abs(half[thin] - want).max() <= 1 and np.abs(full[thin] - rgb[thin]).mean() > 1


def test_a_models_texture_gain_scales_the_correction_in_every_hole():
    rgb = smooth_photo(160, 200, seed=6)
    mask = _hole(160, 200, (20, 20, 80, 90))  # wide
    mask |= _hole(160, 200, (120, 20, 126, 180))  # thin
    net = _stage()
    net.cfg = dataclasses.replace(net.cfg, thin_px=9, thin_gain=0.5)
    full = add_texture(net, rgb, mask).astype(np.float32)
    part = add_texture(net, rgb, mask, gain=0.4).astype(np.float32)
    assert np.array_equal(part[~mask], rgb[~mask]) and np.abs(full[mask] - rgb[mask]).mean() > 1
    # the gain multiplies the stage's thin_gain: a thin hole keeps 0.4 x (what 0.5 of the correction gave it)
    want = rgb.astype(np.float32) + 0.4 * (full - rgb)
    assert np.abs(part[mask] - want[mask]).max() <= 1.5
    assert np.array_equal(add_texture(net, rgb, mask, gain=0.0), rgb)
    # ... and the pipeline takes it from the inpainting model's config
    model = tiny_model()
    outs = {}
    for gain in (1.0, 0.0):
        model.cfg = dataclasses.replace(model.cfg, texture_gain=gain)
        outs[gain] = Restorer(model, "cpu", texture=net).restore(rgb, mask)
    assert np.array_equal(outs[0.0], Restorer(model, "cpu", texture=None).restore(rgb, mask))
    assert not np.array_equal(outs[1.0], outs[0.0])


def test_a_texture_stage_is_its_own_kind_of_release(tmp_path):
    folder = tmp_path / "tex"
    hub.save_pretrained(_stage(), folder)
    net, _ = hub.load(str(folder), kind="texture")
    assert isinstance(net, TextureNet) and net.cfg.margin == 8
    with pytest.raises(hub.ModelError, match="this is a texture stage; give it to --texture"):
        hub.load(str(folder))
    # An inpainting model's config names its stage; hub.load_texture finds it there, unless told otherwise.
    model = tiny_model()
    model.cfg = dataclasses.replace(model.cfg, texture=str(folder))  # not the shared TINY config
    assert isinstance(hub.load_texture(model), TextureNet)
    assert hub.load_texture(model, "") is None
    assert hub.load_texture(tiny_model()) is None


def test_run_takes_the_models_stage_but_not_with_detect_damage(tmp_path):
    from click.testing import CliRunner

    from restore.cli import main
    from tests.conftest import write_mask, write_photo

    model = tiny_model()
    model.cfg = dataclasses.replace(model.cfg, texture=str(tmp_path / "no-such-stage"))
    hub.save_pretrained(model, tmp_path / "model")
    write_photo(tmp_path / "in" / "a.png", 80, 96)
    write_mask(tmp_path / "a.png", 80, 96)

    def run(*extra):
        args = ["run", tmp_path / "in", "--masks", tmp_path / "a.png", "-o", tmp_path / "out", "--overwrite",
                "--model", tmp_path / "model", *extra]
        return CliRunner().invoke(main, [str(a) for a in args])

    res = run()  # the stage the model's config names is loaded, and here it is missing
    assert res.exit_code != 0 and "no-such-stage" in res.output
    assert run("--texture", "none").exit_code == 0
    res = run("--detect-damage")  # scratches and specks: no texture stage unless asked for
    assert res.exit_code == 0, res.output
