import numpy as np
import pytest
from PIL import Image

from restore.inpainting.holes import grow, paper_mask, paper_masks, stroke_mask
from restore.io.files import index_masks, mask_key
from restore.io.masks import MaskError, decode_mask, read_mask, scaled


def test_white_is_hole_and_threshold(tmp_path):
    a = np.zeros((10, 12), np.uint8)
    a[2:5, 3:7] = 255
    a[8, 1] = 127  # not white enough (and no hole's soft edge: it touches none)
    a[9, 9] = 128
    Image.fromarray(a).save(tmp_path / "m.png")
    m = read_mask(tmp_path / "m.png", (12, 10))
    assert m.dtype == bool and m.sum() == 12 + 1
    assert m[3, 4] and not m[8, 1] and m[9, 9]


def test_rgba_mask_uses_alpha(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., :3] = 255  # all white colour...
    rgba[2:4, 2:4, 3] = 255  # ...but only this square is opaque
    Image.fromarray(rgba, "RGBA").save(tmp_path / "m.png")
    assert read_mask(tmp_path / "m.png").sum() == 4
    assert decode_mask(tmp_path / "m.png")[1] == "alpha"


def test_a_black_and_white_mask_with_parts_erased_is_read_from_both(tmp_path):
    """A mask from restore masks, opened in an editor and partly erased to transparent: its black is no hole (read by
    alpha alone, every opaque black pixel was one, and half a photo was filled)."""
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[5:8, :, :3] = 255  # a scratch across the mask
    rgba[:, 12:, 3] = 0  # its right part erased: not damage after all
    Image.fromarray(rgba, "RGBA").save(tmp_path / "m.png")
    mask, source = decode_mask(tmp_path / "m.png")
    assert source == "both" and mask.sum() == 3 * 12 and mask[5:8, :12].all()


def test_strokes_of_several_colours_on_a_transparent_layer_are_read_by_alpha(tmp_path):
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[2:4, :, :3] = (255, 0, 0)  # red strokes (dark to a threshold on gray)...
    rgba[10:12, :, :3] = (255, 255, 0)  # ...and yellow ones (light)
    rgba[2:4, :, 3] = rgba[10:12, :, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "m.png")
    mask, source = decode_mask(tmp_path / "m.png")
    assert source == "alpha" and mask.sum() == 80 and mask[2:4].all() and mask[10:12].all()


@pytest.mark.parametrize("alpha", [255, 0])
def test_constant_alpha_falls_back_to_the_colours(tmp_path, alpha):
    # IOPaint's mask.png: RGBA, fully opaque, white strokes on black
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 3] = alpha
    rgba[1:3, 2:7, :3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "m.png")
    mask, source = decode_mask(tmp_path / "m.png")
    assert source == "colour" and mask.sum() == 10 and mask[1:3, 2:7].all()


def test_scaled_mask_stays_two_valued():
    m = np.zeros((10, 20), bool)
    m[2:6, 4:12] = True
    big = scaled(m, (40, 20))
    assert big.shape == (20, 40) and big.sum() == 4 * m.sum()
    assert big[4:12, 8:24].all() and not big[:4].any()


def test_grow_by_n_pixels_is_euclidean_and_leaves_far_pixels():
    m = np.zeros((40, 50), bool)
    m[20, 25] = True
    g = grow(m, 3)
    assert g[20, 22] and g[20, 28] and g[17, 25] and g[22, 27]  # distance 3 and sqrt(8)
    assert not g[20, 21] and not g[17, 22]  # distance 4 and sqrt(18)
    assert g.sum() == 29  # the lattice points of a disc of radius 3
    assert grow(m, 0) is m and not grow(np.zeros((5, 5), bool), 4).any()
    edge = np.zeros((10, 10), bool)
    edge[0, 0] = True
    assert grow(edge, 2).sum() == 6  # clipped at the photo's border


def test_jpeg_mask_is_thresholded(tmp_path):
    a = np.zeros((64, 64), np.uint8)
    a[10:30, 20:40] = 255
    Image.fromarray(a).save(tmp_path / "m.jpg", quality=60)
    m = read_mask(tmp_path / "m.jpg")
    assert abs(int(m.sum()) - 400) <= 8
    assert m[20, 30] and not m[50, 50]


def test_wrong_size_mask_names_file_and_fix(tmp_path):
    Image.new("L", (10, 10)).save(tmp_path / "a.png")
    with pytest.raises(MaskError, match=r"a\.png: mask is 10x10 but its photo is 20x10; resize"):
        read_mask(tmp_path / "a.png", (20, 10))


def test_pairing_by_stem(tmp_path):
    for name in ["a.png", "b_mask.png", "c.jpg", "notes.txt"]:
        (tmp_path / name).write_bytes(b"x")
    index = index_masks(tmp_path)
    assert set(index) == {"a", "b", "c"}
    assert index["b"].name == "b_mask.png"
    assert mask_key(__import__("pathlib").Path("a.jpg")) == "a"


def test_paper_masks_cover_paper_range_and_repeat():
    m = paper_masks(np.random.default_rng(0), 2000)
    cover = m.mean(axis=(1, 2))
    assert cover.min() >= 100 / 4096 - 1e-9 and cover.max() <= 400 / 4096 + 1e-9  # 2.4% .. 9.8%
    assert np.array_equal(m, paper_masks(np.random.default_rng(0), 2000))
    assert not np.array_equal(m, paper_masks(np.random.default_rng(1), 2000))
    # every mask is one filled rectangle whose sides are 10..20 px
    for k in m[:50]:
        ys, xs = np.nonzero(k)
        h, w = np.ptp(ys) + 1, np.ptp(xs) + 1
        assert 10 <= h <= 20 and 10 <= w <= 20 and k.sum() == h * w
    # top-left corners centre on ~25 as in the paper (clipping pulls the mean a little)
    tops = np.array([np.nonzero(k.any(1))[0][0] for k in m])
    assert 22 < tops.mean() < 28


def test_paper_mask_scales_to_photo():
    m = paper_mask(np.random.default_rng(3), 640, 320)
    assert m.shape == (640, 320)
    assert 0.02 <= m.mean() <= 0.11


def test_stroke_masks_within_coverage():
    rng = np.random.default_rng(0)
    cov = [stroke_mask(rng).mean() for _ in range(50)]
    assert min(cov) >= 0.024 and max(cov) <= 0.10


def test_a_soft_brush_edge_is_hole_too_where_it_joins_a_hole(tmp_path):
    """An editor's brush leaves an anti-aliased edge; cut at 127 it would leave the removed object's own edge, a halo,
    around the fill. The edge down to SOFT is hole where it joins one; a faint speck elsewhere is not."""
    from scipy import ndimage

    from restore.io.masks import SOFT, decode_mask

    hard = np.zeros((40, 50), np.uint8)
    hard[12:28, 15:35] = 255
    soft = ndimage.gaussian_filter(hard.astype(float), 2.0).round().astype(np.uint8)  # feathered by a blur
    soft[2, 2] = 100  # a faint speck on its own
    Image.fromarray(soft).save(tmp_path / "soft.png")
    holes, _ = decode_mask(tmp_path / "soft.png")
    assert np.array_equal(holes, (soft > SOFT) & ~((np.arange(40)[:, None] < 5) & (np.arange(50)[None] < 5)))
    assert holes.sum() > (soft > 127).sum() + 60 and not holes[2, 2] and holes[12:28, 15:35].all()
    Image.fromarray(hard).save(tmp_path / "hard.png")  # black and white: as it always was read
    assert np.array_equal(decode_mask(tmp_path / "hard.png")[0], hard > 127)


def test_a_stroke_of_any_bright_colour_is_a_hole(tmp_path):
    rgb = np.zeros((20, 24, 3), np.uint8)
    rgb[5:9, 4:20] = (255, 0, 0)  # red paint on black: dark as gray (76), bright in its own channel
    Image.fromarray(rgb).save(tmp_path / "red.png")
    assert np.array_equal(read_mask(tmp_path / "red.png"), rgb[..., 0] > 127)


def test_a_photo_given_as_a_mask_is_refused_and_a_mask_of_no_hole_says_why(tmp_path, model_dir):
    from click.testing import CliRunner

    from restore.cli import main
    from restore.io.masks import MaskError

    from .conftest import smooth_photo, write_photo

    Image.fromarray(smooth_photo(30, 40)).save(tmp_path / "photo_as_mask.png")
    with pytest.raises(MaskError, match=r"photo_as_mask.png: \d+% of its pixels are gray, neither black nor white"):
        read_mask(tmp_path / "photo_as_mask.png")
    photos, masks = tmp_path / "p", tmp_path / "m"
    for name in ("dim", "inverted"):
        write_photo(photos / f"{name}.png", 30, 40)
    masks.mkdir()
    dim = np.zeros((30, 40), np.uint8)
    dim[10:20, 10:30] = 102  # a brush at 40 % opacity
    Image.fromarray(dim).save(masks / "dim.png")
    inverted = np.full((30, 40), 255, np.uint8)
    inverted[10:20, 10:30] = 0  # black on white
    Image.fromarray(inverted).save(masks / "inverted.png")
    res = CliRunner().invoke(main, ["run", str(photos), "--masks", str(masks), "-o", str(tmp_path / "o"),
                                    "--model", str(model_dir)])
    assert res.exit_code == 0, res.output
    assert "dim.png: no hole: nothing in it is brighter than 127" in res.stderr
    assert "inverted.png: marks 83% of" in res.stderr and "if this mask's holes are black on white, invert it" in res.stderr
