"""Synthetic damage, the detector network and its tiling, and the tolerant detection scores."""

import numpy as np
import pytest
import torch

from restore.damage import synthetic
from restore.damage.detector import DamageDetector, DetectorConfig, detect, probabilities, reading_scale, smaller_reading, to_mask
from restore.eval.detection import counts


def _photo(h=96, w=128, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([yy * 255 / h, xx * 255 / w, np.full((h, w), 128.0)], -1)
    return np.clip(base + rng.normal(0, 10, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("kind", synthetic.KINDS)
def test_each_kind_of_damage_is_drawn_and_masked(kind):
    d = synthetic.apply(np.random.default_rng(1), _photo(), (kind,), hard_negatives=0)
    assert d.mask.shape == (96, 128) and d.mask.dtype == bool
    assert 0 < d.mask.mean() < 0.5
    assert d.kinds[kind].any() and not (d.kinds[kind] & ~d.mask).any()
    # Outside the damage (and its one-pixel rim, which JPEG and the scan's softening reach) the copies agree.
    from scipy import ndimage

    far = ~ndimage.binary_dilation(d.mask, iterations=3)
    diff = np.abs(d.damaged.astype(int) - d.clean.astype(int)).max(axis=2)
    assert np.percentile(diff[far], 99) <= 8
    # Where the mask says damage, the pixels changed.
    assert np.median(diff[d.mask]) > synthetic.VISIBLE / 2


def test_no_damage_means_identical_copies_and_empty_mask():
    d = synthetic.apply(np.random.default_rng(3), _photo(), (), hard_negatives=1)
    assert not d.mask.any()
    np.testing.assert_array_equal(d.clean, d.damaged)


def test_same_seed_same_damage_other_seed_other_damage():
    a = synthetic.apply(np.random.default_rng(5), _photo())
    b = synthetic.apply(np.random.default_rng(5), _photo())
    c = synthetic.apply(np.random.default_rng(6), _photo())
    np.testing.assert_array_equal(a.damaged, b.damaged)
    np.testing.assert_array_equal(a.mask, b.mask)
    assert not np.array_equal(a.mask, c.mask)


def test_the_mix_sets_the_odds_of_each_kind_and_the_tone_of_cracks():
    crack = synthetic.KINDS.index("crack")
    always = [0.0] * len(synthetic.KINDS)
    always[crack] = 1.0
    for light, brighter in ((0.0, False), (1.0, True)):
        mix = synthetic.DamageMix(odds=tuple(always), crack_light=light)
        for seed in range(3):
            d = synthetic.apply(np.random.default_rng(seed), _photo(), None, hard_negatives=0, mix=mix)
            assert set(d.kinds) == {"crack"}
            m = d.kinds["crack"]
            change = d.damaged[m].astype(float).mean() - d.clean[m].astype(float).mean()
            assert (change > 0) == brighter, (light, seed, change)


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown damage kind 'mould'"):
        synthetic.apply(np.random.default_rng(0), _photo(), ("mould",))


def test_stroke_alpha_has_the_width_asked_for():
    pts = np.array([[20.0, 5.0], [20.0, 60.0]])
    for width in (1.0, 3.0, 6.0):
        alpha = synthetic._stroke_alpha((40, 64), pts, np.full(2, width))
        column = alpha[:, 30]
        assert abs(column.sum() - width) < 0.6, (width, column.sum())


def test_tolerant_scores():
    truth = np.zeros((40, 40), bool)
    truth[20, 5:35] = True
    shifted = np.roll(truth, 1, axis=0)
    c = counts(shifted, truth, tol=2)
    assert c.precision == 1 and c.recall == 1 and c.f1 == 1
    c0 = counts(shifted, truth, tol=0)
    assert c0.f1 == 0
    far = np.roll(truth, 10, axis=0)
    assert counts(far, truth).f1 == 0
    none = counts(np.zeros_like(truth), truth)
    assert none.recall == 0 and none.f1 == 0
    both = counts(truth, truth) + counts(np.zeros_like(truth), truth)
    assert both.recall == 0.5 and both.precision == 1


def test_detector_gives_a_logit_per_pixel_at_any_size():
    torch.manual_seed(0)
    net = DamageDetector(DetectorConfig(widths=(4, 8, 8))).eval()
    assert net.multiple == 8
    x = torch.rand(1, 3, 32, 48) * 2 - 1
    assert net(x).shape == (1, 1, 32, 48)
    prob = probabilities(net, _photo(37, 53))
    assert prob.shape == (37, 53) and prob.dtype == np.float32
    assert (prob >= 0).all() and (prob <= 1).all()


def test_tiles_agree_with_the_whole_photo():
    torch.manual_seed(0)
    net = DamageDetector(DetectorConfig(widths=(4, 8, 8))).eval()
    photo = _photo(150, 170)
    whole = probabilities(net, photo)
    net.cfg.tile = 96
    tiled = probabilities(net, photo)
    # the network sees a few dozen pixels; the tiles overlap by 64 and are blended, so they differ a little at most
    assert np.abs(whole - tiled).mean() < 0.01
    assert np.abs(whole - tiled).max() < 0.1


@pytest.mark.parametrize("size", [1025, 1100, 1536, 2048, 3000, 4001])
def test_balanced_tiles_are_equal_few_and_cover_the_side(size):
    from restore.tiles import spans

    plain, balanced = spans(size, 1024, 64), spans(size, 1024, 64, balanced=True, multiple=16)
    lengths = {b - a for a, b in balanced}
    assert len(balanced) == len(plain) and len(lengths) == 1
    length = lengths.pop()
    assert length % 16 == 0 and length <= 1024
    assert sum(b - a for a, b in balanced) < sum(b - a for a, b in plain)  # less to read
    assert balanced[0][0] == 0 and balanced[-1][1] == size
    assert all(a1 - b0 >= 64 for (_, a1), (b0, _) in zip(balanced, balanced[1:], strict=False))  # they overlap as asked
    assert spans(1000, 1024, 64, balanced=True, multiple=16) == [(0, 1000)]


def test_flips_average_mirrored_views():
    torch.manual_seed(0)
    net = DamageDetector(DetectorConfig(widths=(4, 8, 8))).eval()
    photo = _photo(40, 56)
    mirrored = photo[:, ::-1]
    plain = probabilities(net, photo)
    # an untrained network is not symmetric, so a mirrored photo gets other probabilities ...
    assert np.abs(probabilities(net, mirrored)[:, ::-1] - plain).max() > 1e-3
    # ... but averaged with its mirrored view, the photo's are the mean of both passes, and mirroring commutes
    net.cfg.flips = ("h",)
    both = probabilities(net, photo)
    net.cfg.flips = ()
    np.testing.assert_allclose(both, (plain + probabilities(net, mirrored)[:, ::-1]) / 2, atol=1e-6)
    net.cfg.flips = ("h",)
    np.testing.assert_allclose(probabilities(net, mirrored)[:, ::-1], both, atol=1e-6)
    net.cfg.flips = ("h", "v", "hv")
    four = probabilities(net, photo)
    np.testing.assert_allclose(probabilities(net, photo[::-1, ::-1])[::-1, ::-1], four, atol=1e-6)
    np.testing.assert_allclose(probabilities(net, photo[::-1])[::-1], four, atol=1e-6)


def test_a_large_photo_is_also_read_at_max_side():
    """A scan longer than max_side is read at its own size and from a copy brought down to max_side (where a
    scratch three times as wide as the network learnt looks as it learnt it); damage either finds is kept."""
    from PIL import Image

    assert reading_scale((300, 200, 3), 100) == 3 and reading_scale((90, 60), 100) == 1 and reading_scale((900, 600), 0) == 1
    torch.manual_seed(0)
    net = DamageDetector(DetectorConfig(widths=(4, 8, 8), max_side=60, grow=0, min_area=1)).eval()
    big = _photo(120, 90)
    small = np.asarray(Image.fromarray(big).resize((45, 60), Image.Resampling.BOX))
    up = np.asarray(Image.fromarray(probabilities(net, small)).resize((90, 120), Image.Resampling.BILINEAR))
    np.testing.assert_allclose(smaller_reading(net, big, 2.0), up, atol=1e-6)
    own = probabilities(net, big)
    net.cfg.threshold = float(np.median(own))  # half the photo at its own size
    found = detect(net, big)
    assert found.shape == (120, 90)
    np.testing.assert_array_equal(found, (own > net.cfg.threshold) | (up > net.cfg.threshold))
    assert (found != detect(net, big, max_side=0)).any()  # the copy finds more than the photo alone
    np.testing.assert_array_equal(detect(net, big, max_side=0), own > net.cfg.threshold)
    np.testing.assert_array_equal(detect(net, small), detect(net, small, max_side=0))  # not over max_side: read once
    # The copy's smallest speck is counted in its own pixels (twice the side, four times the area); its rim in
    # the photo's.
    cfg = DetectorConfig(threshold=0.5, grow=1, min_area=3)
    prob = np.zeros((40, 40), np.float32)
    prob[20, 20] = prob[20, 21] = prob[21, 20] = prob[21, 21] = 1  # a 2x2 speck: 4 px, one px of the copy
    assert to_mask(prob, cfg)[19:23, 19:23].all() and not to_mask(prob, cfg, scale=2).any()  # under 12 px here: grain
    prob[10:12, 5:35] = 1
    for scale in (1, 2):
        assert to_mask(prob, cfg, scale)[9:13, 5:35].all() and not to_mask(prob, cfg, scale)[8].any()


def test_max_side_is_a_side_or_zero():
    with pytest.raises(ValueError, match="max_side -1"):
        DetectorConfig(max_side=-1)
    assert DetectorConfig.from_dict({}).max_side == 0  # configs written before it read every photo at its own size
    assert DetectorConfig.from_dict(DetectorConfig(max_side=1024).to_dict()).max_side == 1024


def test_unknown_flips_are_refused():
    with pytest.raises(ValueError, match=r"flips \['x'\]: each is one of"):
        DetectorConfig(flips=("h", "x"))
    cfg = DetectorConfig.from_dict({"flips": ["h", "v"]})
    assert cfg.flips == ("h", "v") and DetectorConfig.from_dict(cfg.to_dict()) == cfg
    assert DetectorConfig.from_dict({}).flips == ()  # configs written before flips load as they were


def test_every_parameter_receives_a_gradient():
    net = DamageDetector(DetectorConfig(widths=(4, 8, 8)))
    net(torch.rand(2, 3, 16, 16)).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


def test_to_mask_drops_specks_and_grows():
    prob = np.zeros((20, 20), np.float32)
    prob[5, 5] = 0.9  # one pixel: grain
    prob[10, 3:15] = 0.9  # a scratch
    cfg = DetectorConfig(min_area=3, grow=1)
    mask = to_mask(prob, cfg)
    assert not mask[5, 5] and not mask[4:7, 4:7].any()
    assert mask[9:12, 3:15].all() and mask.sum() == 3 * 14
    cfg.grow = 0
    assert to_mask(prob, cfg).sum() == 12


def test_threads_sharing_a_fresh_detector_read_what_one_thread_reads():
    """restore run finds damage in its reader threads, several photos at once, on one detector: the first calls
    must not race to convert its weights (to channels-last) while another call runs it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # on one thread the old code's conversion never met another call: nothing to catch
    try:
        _threads_read_alike()
    finally:
        torch.set_num_threads(threads)


def _threads_read_alike():
    import copy
    import threading

    torch.manual_seed(0)
    fresh = DamageDetector(DetectorConfig()).eval()
    rng = np.random.default_rng(0)
    photos = [rng.integers(0, 256, (160, 192, 3), dtype=np.uint8) for _ in range(6)]
    expected = [probabilities(copy.deepcopy(fresh), p) for p in photos]
    for _ in range(4):
        net = copy.deepcopy(fresh)  # not yet converted
        start = threading.Barrier(len(photos))
        got = [None] * len(photos)

        def read(i, net=net, start=start, got=got):
            start.wait()
            got[i] = probabilities(net, photos[i])

        threads = [threading.Thread(target=read, args=(i,)) for i in range(len(photos))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_allclose(g, e, atol=1e-5)


def test_enlarge_averages_a_reading_of_a_larger_copy():
    """With `enlarge`, the reading at the learnt scale is the mean of the photo's own (mirrored views included) and
    of a copy that many times larger, read once, brought back to the photo's size; for a photo over max_side that
    reading is its copy's. Configs without it read as before, and a factor of 1 or less is refused."""
    from restore.damage.detector import larger_reading, read

    torch.manual_seed(0)
    net = DamageDetector(DetectorConfig(widths=(4, 8, 8), flips=("h",), grow=0, min_area=1)).eval()
    rgb = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    own = probabilities(net, rgb)
    big = larger_reading(net, rgb, 1.5)
    assert big.shape == own.shape and not np.allclose(big, own)
    net.cfg.enlarge = 1.5
    np.testing.assert_allclose(read(net, rgb).maps[0][0], (own + big) / 2, atol=1e-6)
    np.testing.assert_array_equal(detect(net, rgb), (own + big) / 2 > net.cfg.threshold)
    net.cfg.max_side = 28  # over it: the photo's own reading stays plain, its copy's is averaged
    reading = read(net, rgb)
    np.testing.assert_allclose(reading.maps[0][0], own, atol=1e-6)
    assert reading.maps[1][1] == 2
    from PIL import Image

    copy = np.asarray(Image.fromarray(rgb).resize((28, 20), Image.Resampling.BOX))
    averaged = (probabilities(net, copy) + larger_reading(net, copy, 1.5)) / 2
    back = np.asarray(Image.fromarray(averaged).resize((56, 40), Image.Resampling.BILINEAR))
    np.testing.assert_allclose(reading.maps[1][0], back, atol=1e-6)
    # The larger copy is read once, unmirrored, whatever the model's flips.
    plain = DamageDetector(DetectorConfig(widths=(4, 8, 8))).eval()
    plain.load_state_dict(net.state_dict())
    np.testing.assert_allclose(probabilities(net, rgb, mirrored=False), probabilities(plain, rgb), atol=1e-6)
    assert not np.allclose(probabilities(net, rgb), probabilities(plain, rgb))
    assert DetectorConfig.from_dict({}).enlarge == 0
    for bad in (1, 0.5, -2, 4.5, float("nan"), True):
        with pytest.raises(ValueError, match=f"enlarge {bad!r}"):
            DetectorConfig(enlarge=bad)
    with pytest.raises(ValueError, match="tile 64: the side of the tiles"):
        DetectorConfig(tile=64)  # no larger than the overlap: balanced tiles could not cover a photo


def test_a_print_far_darker_or_more_faded_than_learnt_is_read_with_its_levels_stretched():
    from restore.damage.detector import NARROW_LEVELS, levels_for_reading, read

    photo = _photo(60, 80)
    lo, hi = np.percentile(photo, [0.5, 99.5])
    assert hi - lo >= NARROW_LEVELS and levels_for_reading(photo) is photo  # in the learnt range: as it is
    dark = (photo.astype(np.float32) * 0.3).round().astype(np.uint8)  # levels 0-76
    faded = (160 + photo.astype(np.float32) * 0.3).round().astype(np.uint8)
    for scan in (dark, faded):
        stretched = levels_for_reading(scan)
        lo, hi = np.percentile(stretched, [0.5, 99.5])
        assert lo <= 2 and hi >= 253
        torch.manual_seed(0)
        net = DamageDetector(DetectorConfig(widths=(4, 8, 8))).eval()
        np.testing.assert_array_equal(read(net, scan).maps[0][0], read(net, stretched).maps[0][0])
    flat = np.full((30, 30, 3), 20, np.uint8)
    assert levels_for_reading(flat) is flat  # nothing to stretch
