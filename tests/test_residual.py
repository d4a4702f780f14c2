"""Contextual residual aggregation: detail from the known part of a large window, never from the hole."""

import dataclasses

import numpy as np
from PIL import Image

from restore.eval.metrics import sharpness
from restore.inpainting.detail import aggregate, attention
from restore.inpainting.pipeline import Restorer

from .conftest import tiny_model


def striped(side: int = 256) -> np.ndarray:
    """Vertical stripes of period 4 px: too fine to survive 64x64, the same in every cell of 4k pixels."""
    x = np.arange(side)
    row = np.where(x % 4 < 2, 200, 60).astype(np.uint8)
    return np.repeat(np.repeat(row[None, :, None], side, axis=0), 3, axis=2)


def test_the_hole_gets_the_known_cells_detail_and_nothing_of_its_own_pixels():
    window = striped()
    hole = np.zeros((256, 256), bool)
    hole[96:160, 96:160] = True
    fill64 = np.asarray(Image.fromarray(window).resize((64, 64), Image.Resampling.BICUBIC))
    plain = np.asarray(Image.fromarray(fill64).resize((256, 256), Image.Resampling.BICUBIC))
    sharp = np.clip(np.rint(aggregate(window, hole, fill64)), 0, 255).astype(np.uint8)
    assert sharpness(window, plain, hole) < 0.2
    assert sharpness(window, sharp, hole) > 0.8
    err_plain = np.abs(plain.astype(int) - window)[hole].mean()
    err_sharp = np.abs(sharp.astype(int) - window)[hole].mean()
    assert err_sharp < 0.5 * err_plain  # the stripes come back in phase
    garbage = window.copy()
    garbage[hole] = 255  # what the hole held (the object removed) is never read
    assert np.array_equal(sharp, np.clip(np.rint(aggregate(garbage, hole, fill64)), 0, 255).astype(np.uint8))
    assert aggregate(window, np.ones((256, 256), bool), fill64) is None  # nothing known to borrow from


def test_restore_with_detail_keeps_known_pixels_and_sharpens_large_holes():
    photo = striped(384)
    mask = np.zeros((384, 384), bool)
    mask[160:224, 160:224] = True  # a 192-pixel window: cells of 12 pixels, three stripe periods each
    model = tiny_model()
    soft = Restorer(model, "cpu").restore(photo, mask)
    sharp = Restorer(model, "cpu", detail=True).restore(photo, mask)
    assert np.array_equal(sharp[~mask], photo[~mask])
    assert sharpness(photo, sharp, mask) > sharpness(photo, soft, mask) + 0.2


def test_detail_defaults_to_the_models_own_setting():
    model = tiny_model()
    assert Restorer(model, "cpu").detail is False
    model.cfg = dataclasses.replace(model.cfg, detail=True)  # as a config.json with "detail": true
    assert Restorer(model, "cpu").detail is True
    assert Restorer(model, "cpu", detail=False).detail is False  # --no-detail


def test_the_models_detail_scale_sets_the_attentions_softmax_scale(monkeypatch):
    import restore.inpainting.detail as detail

    photo = striped(384)
    mask = np.zeros((384, 384), bool)
    mask[160:224, 160:224] = True
    model = tiny_model()
    assert model.cfg.detail_scale == detail.SCALE  # the default is the module's
    seen = []
    real = detail.attention
    monkeypatch.setattr(detail, "attention", lambda fill, known, scale=detail.SCALE: seen.append(scale) or real(fill, known, scale))
    outs = {}
    for scale in (10.0, 300.0):
        model.cfg = dataclasses.replace(model.cfg, detail_scale=scale)
        outs[scale] = Restorer(model, "cpu", detail=True).restore(photo, mask)
        assert seen and set(seen) == {scale}
        seen.clear()
    assert not np.array_equal(outs[10.0][mask], outs[300.0][mask])


def test_attention_weights_hold_no_subnormal_floats():
    # A peaked softmax underflows into subnormals, which x86 multiplies many times slower.
    rng = np.random.default_rng(0)
    fill64 = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    known = np.ones(256, bool)
    known[100:140] = False
    w = attention(fill64, known, scale=300.0)
    assert w.shape == (256, 216) and w.dtype == np.float32
    assert np.allclose(w.sum(axis=1), 1, atol=1e-5)
    assert not ((w > 0) & (w < np.finfo(np.float32).tiny)).any()
    assert (w == 0).mean() > 0.5  # the dropped weights are many: the case that was slow


def test_windows_scaled_down_only_a_little_get_detail_too():
    photo = striped(160)
    mask = np.zeros((160, 160), bool)
    mask[64:88, 64:88] = True  # 24 px: a window of 72 px, brought down to 64 by 1.1x
    model = tiny_model()
    soft = Restorer(model, "cpu").restore(photo, mask)
    sharp = Restorer(model, "cpu", detail=True).restore(photo, mask)
    assert np.array_equal(sharp[~mask], photo[~mask])
    assert not np.array_equal(sharp, soft)


def test_small_holes_at_native_resolution_get_the_finer_band_but_64x64_photos_do_not():
    photo = striped(256)
    mask = np.zeros((256, 256), bool)
    mask[120:136, 120:136] = True  # 16 px: a 64x64 window at native resolution
    model = tiny_model()
    soft = Restorer(model, "cpu").restore(photo, mask)
    sharp = Restorer(model, "cpu", detail=True).restore(photo, mask)
    assert np.array_equal(sharp[~mask], photo[~mask])
    assert sharpness(photo, sharp, mask) > sharpness(photo, soft, mask) + 0.2
    small, hole = striped(64), np.zeros((64, 64), bool)
    hole[24:40, 24:40] = True
    assert np.array_equal(Restorer(model, "cpu", detail=True).restore(small, hole), Restorer(model, "cpu").restore(small, hole))


def test_borrowed_detail_fades_in_from_the_holes_border(monkeypatch):
    from restore.inpainting import detail
    from restore.inpainting.windows import resize_float

    window = striped()
    hole = np.zeros((256, 256), bool)
    hole[96:160, 96:160] = True
    fill64 = np.asarray(Image.fromarray(window).resize((64, 64), Image.Resampling.BICUBIC))
    up = resize_float(fill64.astype(np.float32), (256, 256))
    faded = aggregate(window, hole, fill64)
    monkeypatch.setattr(detail, "FADE", 0.0)
    full = aggregate(window, hole, fill64)
    # cells of 16 px: the detail reaches full strength 4 px in; the hole's outer pixels get a quarter
    np.testing.assert_allclose(faded[96, 100:156] - up[96, 100:156], 0.25 * (full[96, 100:156] - up[96, 100:156]), atol=1e-3)
    np.testing.assert_allclose(faded[97, 100:156] - up[97, 100:156], 0.5 * (full[97, 100:156] - up[97, 100:156]), atol=1e-3)
    np.testing.assert_allclose(faded[100:156, 100:156], full[100:156, 100:156], atol=1e-3)
    # the known pixels keep the plain fill: the border join measures the fill against the photo itself
    np.testing.assert_allclose(faded[~hole], up[~hole], atol=1e-3)
    assert np.abs(full[96] - up[96])[100:156].max() > 10  # there is detail to fade
