import numpy as np
import pytest
from PIL import Image

from restore.inpainting.pipeline import Restorer
from restore.inpainting.windows import hole_groups, make_windows
from restore.io.photos import merge_into, photo_rgb

from .conftest import smooth_photo, tiny_model


@pytest.fixture(scope="module")
def restorer():
    return Restorer(tiny_model(), "cpu", batch_size=3)


def rect_mask(h, w, boxes):
    m = np.zeros((h, w), bool)
    for y0, x0, y1, x1 in boxes:
        m[y0:y1, x0:x1] = True
    return m


@pytest.mark.parametrize("h,w", [(64, 64), (37, 91), (300, 200), (1, 1), (5, 400)])
def test_any_size_keeps_shape_and_known_pixels(restorer, h, w):
    rgb = smooth_photo(h, w)
    mask = rect_mask(h, w, [(h // 3, w // 3, h // 3 + max(1, h // 4), w // 3 + max(1, w // 4))])
    out = restorer.restore(rgb, mask)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert np.array_equal(out[~mask], rgb[~mask])
    assert not np.array_equal(out[mask], rgb[mask]) or mask.sum() == 0


def test_several_holes_batched_across_photos(restorer):
    a, b = smooth_photo(200, 260, 1), smooth_photo(90, 70, 2)
    ma = rect_mask(200, 260, [(10, 10, 30, 40), (150, 200, 170, 230), (12, 45, 28, 50)])
    mb = rect_mask(90, 70, [(40, 30, 50, 45)])
    outs = restorer.restore_many([(a, ma), (b, mb)])
    assert len(make_windows(0, a, ma)) == 2  # the two holes 5 px apart are merged, the far one is not
    for out, rgb, m in zip(outs, (a, b), (ma, mb), strict=True):
        assert np.array_equal(out[~m], rgb[~m])
    # batching does not change results
    assert np.array_equal(outs[1], restorer.restore(b, mb))


def test_windows_stay_native_for_small_holes_and_inside_the_photo():
    rgb = smooth_photo(500, 700)
    m = rect_mask(500, 700, [(490, 690, 500, 700)])  # corner hole
    (w,) = make_windows(0, rgb, m)
    x0, y0, x1, y1 = w.box
    assert (x1 - x0, y1 - y0) == (64, 64) and x1 == 700 and y1 == 500
    assert np.array_equal(w.image, rgb[y0:y1, x0:x1])  # no resampling at native scale
    big = rect_mask(500, 700, [(100, 100, 300, 400)])
    (w,) = make_windows(0, rgb, big)
    x0, y0, x1, y1 = w.box
    # 3x the hole does not fit: the square of the short side, centred on the photo as far as the hole allows
    assert (x0, y0, x1, y1) == (100, 0, 600, 500)
    assert w.image.shape == (64, 64, 3)


def test_a_whole_photo_window_is_its_centre_square_as_in_training():
    """A face photo (178x218) with a hole in the middle is seen as the models learnt whole photos:
    shorter side to 64, centre crop; not stretched to a square, nor shifted to the hole."""
    rgb = smooth_photo(218, 178)
    (w,) = make_windows(0, rgb, rect_mask(218, 178, [(90, 60, 130, 110)]), context=6)
    assert w.box == (0, 20, 178, 198)
    (w,) = make_windows(0, rgb, rect_mask(218, 178, [(5, 60, 45, 110)]), context=6)
    assert w.box == (0, 5, 178, 183)  # a hole near the top: the square moves just enough to hold it
    (w,) = make_windows(0, rgb, rect_mask(218, 178, [(10, 20, 200, 160)]), context=6)
    assert w.box == (0, 0, 178, 218)  # taller than the square: the whole photo, as before


def test_hole_groups_split_far_holes():
    m = rect_mask(100, 100, [(5, 5, 10, 10), (80, 80, 90, 90)])
    groups = hole_groups(m)
    assert len(groups) == 2 and sum(g.full().sum() for g in groups) == m.sum()
    # Each group is kept in its own box, not as a mask of the whole photo (a large scan has hundreds of groups).
    assert [(g.top, g.left, g.local.shape) for g in groups] == [(5, 5, (5, 5)), (80, 80, (10, 10))]


@pytest.mark.parametrize("specks", [6, 400])  # one by one, and many in one pass
def test_hole_groups_are_the_holes_whose_dilations_touch(specks):
    """The same groups as labelling the whole mask grown by merge_px, near the borders too."""
    from scipy import ndimage

    rng = np.random.default_rng(specks)
    for _ in range(5):
        m = np.zeros((150, 170), bool)
        for _ in range(specks):
            y, x = rng.integers(0, 150), rng.integers(0, 170)
            m[y : y + rng.integers(1, 9), x : x + rng.integers(1, 9)] = True
        for r in (0, 1, 3):
            labels, n = ndimage.label(ndimage.binary_dilation(m, iterations=r) if r else m)
            expect = [m & (labels == i) for i in range(1, n + 1)]
            expect = [g for g in expect if g.any()]
            got = hole_groups(m, merge_px=r)
            assert len(got) == len(expect)
            assert all(np.array_equal(a.full(), b) for a, b in zip(got, expect, strict=True))
    assert hole_groups(np.zeros((9, 9), bool)) == []


def test_no_hole_returns_identical(restorer):
    rgb = smooth_photo(50, 60)
    assert np.array_equal(restorer.restore(rgb, np.zeros((50, 60), bool)), rgb)


def test_all_hole_still_gives_an_image(restorer):
    rgb = smooth_photo(40, 40)
    out = restorer.restore(rgb, np.ones((40, 40), bool))
    assert out.shape == rgb.shape


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "I;16", "CMYK"])
def test_modes_round_trip_and_outside_pixels_untouched(restorer, mode):
    rgb = smooth_photo(48, 72)
    im = Image.fromarray(rgb)
    if mode == "I;16":
        im = Image.fromarray(np.asarray(im.convert("L")).astype(np.uint16) * 257)
    elif mode == "RGBA":
        im = im.convert("RGBA")
        im.putalpha(Image.fromarray(np.full((48, 72), 77, np.uint8)))
    elif mode != "RGB":
        im = im.convert(mode)
    mask = rect_mask(48, 72, [(10, 20, 25, 40)])
    out = merge_into(im, restorer.restore(photo_rgb(im), mask), mask)
    assert out.mode == im.mode and out.size == im.size
    a, b = np.asarray(im), np.asarray(out)
    assert np.array_equal(a[~mask], b[~mask])
    if mode in ("RGBA", "LA"):
        assert np.array_equal(a[..., -1], b[..., -1])  # alpha kept everywhere
    if mode == "P":
        assert out.getpalette() == im.getpalette()


def test_thin_scratch_is_tiled_at_native_resolution(restorer):
    rgb = smooth_photo(400, 300)
    m = np.zeros((400, 300), bool)
    m[20:380, 148:152] = True  # a 4 px wide, 360 px long scratch
    windows = make_windows(0, rgb, m)
    assert len(windows) > 3
    count = np.zeros((400, 300), int)
    for w in windows:
        x0, y0, x1, y1 = w.box
        assert (x1 - x0, y1 - y0) == (64, 64)  # native scale: the scratch keeps its width
        count[y0:y1, x0:x1] += w.paste
    assert np.array_equal(count, m.astype(int))  # every hole pixel is filled exactly once
    out = restorer.restore(rgb, m)
    assert np.array_equal(out[~m], rgb[~m])


def test_without_tile_thin_a_scratch_is_filled_from_one_window_around_it():
    """For models that learnt whole photos (config.json's tile_thin false): a scratch across a face
    photo is seen in the photo's centre square, as the model learnt faces, not in 64x64 native tiles."""
    import dataclasses

    rgb = smooth_photo(218, 178)
    m = np.zeros((218, 178), bool)
    m[40:170, 88:92] = True
    assert len(make_windows(0, rgb, m, context=6)) > 1
    (w,) = make_windows(0, rgb, m, context=6, tile_thin=False)
    assert w.box == (0, 20, 178, 198) and np.array_equal(w.paste, m[20:198])
    model = tiny_model()
    assert Restorer(model, "cpu").tile_thin is True
    model.cfg = dataclasses.replace(model.cfg, tile_thin=False)  # as a config.json with "tile_thin": false
    assert Restorer(model, "cpu").tile_thin is False and Restorer(model, "cpu", tile_thin=True).tile_thin is True


def test_the_window_follows_the_models_own_framing(tmp_path):
    import dataclasses

    from restore.hub import load_pretrained, save_pretrained
    from restore.inpainting.networks import Inpainter

    wide = tiny_model()
    wide.cfg = dataclasses.replace(wide.cfg, context=6.0)
    save_pretrained(wide, tmp_path / "wide")
    loaded = load_pretrained(tmp_path / "wide")
    assert isinstance(loaded, Inpainter) and loaded.cfg.context == 6.0
    assert Restorer(loaded).context == 6.0 and Restorer(loaded, context=2.0).context == 2.0
    assert Restorer(tiny_model()).context == 3.0  # configs written before the field frame as before
    rgb, mask = smooth_photo(400, 400), rect_mask(400, 400, [(180, 180, 220, 220)])
    (box,) = [w.box for w in make_windows(0, rgb, mask, Restorer(loaded).context)]
    assert box[2] - box[0] == 240  # 6 x the 40-pixel hole


@pytest.mark.parametrize("shape,box", [((300, 200), (100, 60, 180, 150)), ((64, 64), (20, 20, 40, 44)),
                                       ((500, 90), (200, 10, 260, 80))])
def test_what_lies_under_the_hole_never_reaches_the_result(restorer, shape, box):
    # A photo's hole holds the object to remove (or, in a benchmark, the truth). A scaling filter
    # reaching across the hole's edge would carry it into the fill.
    rgb = smooth_photo(*shape)
    m = rect_mask(*shape, [box])
    rng = np.random.default_rng(0)
    noisy = np.where(m[..., None], rng.integers(0, 256, rgb.shape, dtype=np.uint8), rgb)
    black = np.where(m[..., None], np.uint8(0), rgb)
    assert np.array_equal(restorer.restore(noisy, m), restorer.restore(black, m))


def test_smooth_fill_keeps_known_pixels_and_continues_them_at_any_size():
    from restore.inpainting.pipeline import smooth_fill

    h, w = 37, 53  # odd sizes: the push-pull pyramid must still reach every hole pixel
    ramp = np.broadcast_to(np.linspace(0, 200, w, dtype=np.float32)[None, :, None], (h, w, 2)).copy()
    known = np.ones((h, w), bool)
    known[10:30, 15:40] = False
    out = smooth_fill(np.where(known[..., None], ramp, 1e4), known)
    assert np.array_equal(out[known], ramp[known])
    assert np.all(np.isfinite(out)) and out.min() >= 0 and out.max() <= 200
    assert np.abs(out - ramp)[~known].mean() < 10  # a ramp is continued, not flattened to one colour


@pytest.mark.parametrize("h,w", [(200, 160), (700, 530)])  # the larger one is joined on a coarser grid
def test_a_scaled_up_fill_joins_the_known_border(h, w):
    rgb = np.full((h, w, 3), 150, np.uint8)
    m = rect_mask(h, w, [(h // 4, w // 4, 3 * h // 4, 3 * w // 4)])
    up = np.full((h, w, 3), 100, np.float32)  # a fill 50 too dark everywhere
    (joined,) = Restorer._join([up], [(rgb, m)], [(0, 0, w, h)])
    assert np.allclose(joined[m], 150, atol=0.5)
    ramp = np.broadcast_to(np.linspace(50, 250, w, dtype=np.float32)[None, :, None], (h, w, 3))
    (joined,) = Restorer._join([up], [(np.rint(ramp).astype(np.uint8), m)], [(0, 0, w, h)])
    assert np.abs(joined[m] - ramp[m]).mean() < 8  # a mismatch that varies along the border is followed


@pytest.mark.parametrize("h,w", [(120, 90), (700, 530)])
def test_windows_of_one_size_are_joined_together_as_each_alone(h, w):
    rng = np.random.default_rng(h)
    photos = [(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), rect_mask(h, w, [(10 + 5 * i, 12, h - 20, w - 15)]))
              for i in range(3)]
    photos.append((photos[0][0], np.ones((h, w), bool)))  # nothing known: nothing to join
    ups = [rng.uniform(0, 255, (h, w, 3)).astype(np.float32) for _ in photos]
    boxes = [(0, 0, w, h)] * len(photos)
    together = Restorer._join(ups, photos, boxes)
    for up, photo, box, got in zip(ups, photos, boxes, together, strict=True):
        (alone,) = Restorer._join([up], [photo], [box])
        assert np.allclose(got, alone, atol=1e-3)
    assert np.array_equal(together[-1], ups[-1])


def test_with_mirror_windows_scaled_down_are_filled_as_the_mean_of_the_window_and_its_mirror():
    # A photo and hole that are their own mirror image: the mean of the two fills is mirror-symmetric
    # (to rounding), which one random network's fill alone is not.
    import dataclasses

    half = smooth_photo(240, 150)
    rgb = np.concatenate([half, half[:, ::-1]], axis=1)
    m = rect_mask(240, 300, [(80, 100, 170, 200)])
    model = tiny_model()
    (w,) = make_windows(0, rgb, m, model.cfg.context)
    assert w.box[2] - w.box[0] > 64  # a window scaled down
    plain = Restorer(model, "cpu").restore(rgb, m).astype(int)
    assert np.abs(plain - plain[:, ::-1]).max() > 5
    model.cfg = dataclasses.replace(model.cfg, mirror=True)  # as a config.json with "mirror": true
    assert Restorer(model, "cpu").mirror is True and Restorer(model, "cpu", mirror=False).mirror is False
    out = Restorer(model, "cpu").restore(rgb, m).astype(int)
    assert np.abs(out - out[:, ::-1]).max() <= 1


def test_holes_sharing_a_window_are_filled_in_one_pass(restorer):
    # Every window of a 64x64 photo is the whole photo, and a face's holes all take its centre
    # square: one forward pass each, not one per hole.
    rgb = smooth_photo(64, 64)
    m = rect_mask(64, 64, [(2, 2, 10, 10), (40, 45, 50, 60), (30, 5, 34, 20)])
    (w,) = make_windows(0, rgb, m)
    assert w.box == (0, 0, 64, 64) and np.array_equal(w.paste, m)
    face = rect_mask(218, 178, [(60, 40, 90, 70), (140, 100, 170, 140)])
    (w,) = make_windows(0, smooth_photo(218, 178), face, context=6)
    x0, y0, x1, y1 = w.box
    assert (x1 - x0, y1 - y0) == (178, 178) and w.paste.sum() == face.sum()
    out = restorer.restore(rgb, m)
    assert np.array_equal(out[~m], rgb[~m]) and not np.array_equal(out[m], rgb[m])


@pytest.mark.parametrize("tone", [(1.0, 1.0, 1.0), (1.0, 0.82, 0.62)])  # black and white; sepia
def test_a_monochrome_photo_stored_as_rgb_gets_a_fill_in_its_own_tones(restorer, tone):
    """Scans of black-and-white or sepia prints are often RGB files: the networks, which learnt
    colour photos, must not tint their holes (a random network's fill is far from any tone)."""
    from restore.inpainting.tone import LUMA, tone_curve

    rng = np.random.default_rng(0)
    gray = smooth_photo(120, 160)[..., :1].astype(float) * np.array(tone)
    noisy = np.clip(np.rint(gray) + rng.integers(-2, 3, gray.shape), 0, 255).astype(np.uint8)  # JPEG or scanner noise
    m = rect_mask(120, 160, [(30, 40, 90, 120)])
    assert tone_curve(noisy, m) is not None and tone_curve(noisy, np.ones_like(m)) is None
    assert tone_curve(smooth_photo(120, 160), m) is None
    out = restorer.restore(noisy, m)
    assert np.array_equal(out[~m], noisy[~m])
    fill = out[m].astype(float)
    on_tone = (fill @ LUMA)[:, None] / (np.array(tone) @ LUMA) * np.array(tone)
    assert np.abs(fill - on_tone).max() <= 3  # on the photo's tone line, to rounding and noise
    if tone == (1.0, 1.0, 1.0):
        assert (out[m].max(axis=1) == out[m].min(axis=1)).all()  # gray exactly
    colour = restorer.restore(smooth_photo(120, 160), m)  # a colour photo keeps the fill's colour
    assert (colour[m].max(axis=1) - colour[m].min(axis=1)).max() > 10


def test_a_coloured_thing_next_to_the_hole_keeps_a_mostly_gray_photo_in_colour():
    from restore.inpainting.tone import tone_curve

    gray = np.repeat(smooth_photo(300, 400)[..., :1], 3, axis=2)
    m = rect_mask(300, 400, [(135, 180, 165, 220)])
    assert tone_curve(gray, m) is not None
    sign = gray.copy()
    sign[120:132, 225:237] = (200, 30, 30)  # a red sign beside the hole: 0.1 % of the photo
    assert tone_curve(sign, m) is None
    far = gray.copy()
    far[5:17, 5:17] = (200, 30, 30)  # the same sign in a far corner: the photo is still gray
    assert tone_curve(far, m) is not None


def test_windows_are_scaled_up_and_joined_a_chunk_at_a_time_with_the_same_result(restorer, monkeypatch):
    from restore.inpainting import pipeline

    items = [(smooth_photo(200, 150, seed=s), rect_mask(200, 150, [(60, 40, 140, 110)])) for s in range(3)]
    together = restorer.restore_many(items)
    monkeypatch.setattr(pipeline, "JOIN_PIXELS", 1)  # one window a chunk
    alone = restorer.restore_many(items)
    assert all(np.array_equal(a, b) for a, b in zip(together, alone, strict=True))


def test_the_cells_of_a_thick_long_hole_are_blended_into_each_other(monkeypatch):
    """A hole too long for one window is cut into cells, each filled from its own window; where it is thick (a person
    to remove), neighbouring cells' fills are blended across their border instead of meeting in a line. Each window
    here fills with a flat colour of its own, so a hard border would be a step of the colours' difference."""
    from restore.inpainting import windows as windows_module

    rgb = smooth_photo(1200, 500)
    m = np.zeros((1200, 500), bool)
    m[100:1100, 180:280] = True  # 100 px thick, 1000 px long
    cells = make_windows(0, rgb, m, context=2)
    assert len(cells) > 2 and all(w.weight is not None for w in cells)
    total = np.zeros(m.shape, np.float32)
    for w in cells:
        x0, y0, x1, y1 = w.box
        assert np.all(w.weight[w.paste] == 1) and not w.weight[~m[y0:y1, x0:x1]].any()
        total[y0:y1, x0:x1] += w.weight
    assert (total[m] >= 1).all()  # every hole pixel is filled, near a border by more than one window

    restorer = Restorer(tiny_model(), "cpu", context=2, detail=False, texture=None)
    monkeypatch.setattr(restorer, "infer", lambda images, masks, **_: np.stack(
        [np.full((64, 64, 3), 20 + 20 * (i % 11), np.uint8) for i in range(len(images))]))
    monkeypatch.setattr(restorer, "_join", staticmethod(lambda ups, photos, boxes: np.stack(ups)))
    out = restorer.restore(rgb, m).astype(int)
    column = out[100:1100, 230, 0]
    assert np.abs(np.diff(column)).max() <= 3  # a ramp between the cells' colours, no step
    assert column.max() - column.min() >= 20 * (min(len(cells), 11) - 2)  # the cells' own colours are all there
    monkeypatch.setattr(windows_module, "BLEND_FROM", 10**6)  # cut, not blended: the step it removes
    hard = restorer.restore(rgb, m).astype(int)[100:1100, 230, 0]
    assert np.abs(np.diff(hard)).max() >= 15
