"""Thin holes interpolated from their border (inpainting/thin.py) instead of filled by the networks."""

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from restore import inpaint
from restore.cli import main
from restore.inpainting.pipeline import Restorer, smooth_fill
from restore.inpainting.thin import thin_part

from .conftest import smooth_photo, tiny_model


def _holes(h=96, w=128):
    line = np.zeros((h, w), bool)
    line[20:23, 10:110] = True  # a scratch 3 px thick
    square = np.zeros((h, w), bool)
    square[50:80, 60:90] = True  # a hole 30 px across
    return line, square


def test_thin_part_keeps_the_holes_up_to_the_thickness():
    line, square = _holes()
    np.testing.assert_array_equal(thin_part(line | square, 9), line)
    assert not thin_part(line | square, 2).any()  # the scratch is 3 px thick
    np.testing.assert_array_equal(thin_part(line | square, 40), line | square)
    assert not thin_part(line | square, 0).any()


def test_thin_part_is_exactly_the_thickness_from_the_whole_photos_distance_transform():
    from scipy import ndimage

    rng = np.random.default_rng(0)
    for _ in range(60):
        mask = ndimage.binary_opening(rng.random((60, 80)) < rng.uniform(0.3, 0.8), iterations=int(rng.integers(0, 3)))
        labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
        depth = ndimage.distance_transform_edt(mask)
        thickness = 2 * np.asarray(ndimage.maximum(depth, labels, np.arange(1, n + 1)))
        for max_px in (2, 4.5, 7, 9, 12):
            want = np.concatenate([[False], thickness <= max_px])[labels]
            np.testing.assert_array_equal(thin_part(mask, max_px), want)


def test_thin_holes_are_interpolated_and_wide_ones_still_go_to_the_networks():
    rgb = smooth_photo(96, 128)
    line, square = _holes()
    mask = line | square
    model = tiny_model()
    out = Restorer(model, smooth_thin=9).restore(rgb, mask)
    np.testing.assert_array_equal(out[~mask], rgb[~mask])
    interpolated = np.clip(np.rint(smooth_fill(rgb.astype(np.float32), ~mask)), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(out[line], interpolated[line])
    # The square is the networks' fill, as without the option (up to the rounding of other batches).
    networks = Restorer(model).restore(rgb, mask)
    assert np.abs(out[square].astype(int) - networks[square]).max() <= 2
    assert np.abs(out[square].astype(int) - interpolated[square]).mean() > 5
    assert not np.array_equal(out[line], networks[line])


def test_inpaint_takes_smooth_thin(model_dir):
    rgb = smooth_photo(96, 128)
    line, _ = _holes()
    out = inpaint(rgb, line, model=str(model_dir), smooth_thin=9)
    interpolated = np.clip(np.rint(smooth_fill(rgb.astype(np.float32), ~line)), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(out[line], interpolated[line])


def _line_files(tmp_path):
    """A smooth photo and its scratch mask as files: (photos folder, masks folder, the photo, the scratch)."""
    photos, masks = tmp_path / "photos", tmp_path / "masks"
    photos.mkdir()
    masks.mkdir()
    rgb = smooth_photo(96, 128)
    line, _ = _holes()
    Image.fromarray(rgb).save(photos / "a.png")
    Image.fromarray(line.astype(np.uint8) * 255).save(masks / "a.png")
    return photos, masks, rgb, line


def test_run_smooth_thin_option(tmp_path, model_dir):
    photos, masks, rgb, line = _line_files(tmp_path)
    outs = {}
    for px in ("0", "9"):
        res = CliRunner().invoke(main, ["run", str(photos), "--masks", str(masks), "-o", str(tmp_path / px),
                                        "--model", str(model_dir), "--smooth-thin", px])
        assert res.exit_code == 0, res.output
        outs[px] = np.asarray(Image.open(tmp_path / px / "a.png"))
    interpolated = np.clip(np.rint(smooth_fill(rgb.astype(np.float32), ~line)), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(outs["9"][line], interpolated[line])
    assert not np.array_equal(outs["0"][line], interpolated[line])  # off by default without --detect-damage


def test_biharmonic_continues_a_ramp_exactly_and_agrees_with_scikit_image():
    from skimage.restoration import inpaint_biharmonic

    from restore.inpainting.thin import biharmonic

    yy, xx = np.mgrid[0:40, 0:50].astype(np.float32)
    ramp = np.stack([2 * yy + xx, 100 - xx, 50 + 0.5 * yy], -1)
    holes = np.zeros((40, 50), bool)
    holes[10:20, 5:45] = True
    wiped = np.where(holes[..., None], 0, ramp)
    np.testing.assert_allclose(biharmonic(wiped, holes), ramp, atol=1e-2)
    rgb = smooth_photo(64, 80)
    line = np.zeros((64, 80), bool)
    line[20:23, 10:70] = True
    ours = biharmonic(np.where(line[..., None], 0, rgb).astype(np.float32), line)
    theirs = inpaint_biharmonic(np.where(line[..., None], 0, rgb), line, channel_axis=-1) * 255
    assert np.abs(ours[line] - theirs[line]).max() < 1
    np.testing.assert_array_equal(ours[~line], rgb[~line])
    edges = np.zeros((64, 80), bool)  # holes on the photo's edges: its Laplacian there takes the in-photo neighbours
    edges[0:4, 10:40] = edges[30:60, 77:80] = True
    ours = biharmonic(np.where(edges[..., None], 0, rgb).astype(np.float32), edges)
    theirs = inpaint_biharmonic(np.where(edges[..., None], 0, rgb), edges, channel_axis=-1) * 255
    assert np.abs(ours[edges] - theirs[edges]).max() < 3


def test_blend_keeps_the_fills_texture_when_low_passed():
    from restore.inpainting.thin import biharmonic, blend_smooth

    rgb = smooth_photo(64, 80)
    holes = np.zeros((64, 80), bool)
    holes[30:36, 5:75] = True
    smooth = biharmonic(np.where(holes[..., None], 0, rgb).astype(np.float32), holes)
    yy, xx = np.mgrid[0:64, 0:80]
    checker = np.where((yy + xx) % 2, 20.0, -20.0)[..., None]
    fill = np.clip(np.where(holes[..., None], smooth + 15 + checker, rgb), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(blend_smooth(fill, holes, 1.0, 3.0), fill)
    whole = blend_smooth(fill, holes, 0.0, 0.0)  # all the smooth fill: offset and texture gone
    assert np.abs(whole[holes].astype(float) - smooth[holes]).max() <= 0.5
    low = blend_smooth(fill, holes, 0.0, 3.0).astype(float)  # the offset goes, the checkerboard stays
    texture = (low - smooth)[holes] * np.sign(checker[..., 0][holes])[:, None]
    assert np.mean(np.abs((low - smooth)[holes].mean(axis=0))) < 3  # the +15 is gone
    assert texture.mean() > 15
    for out in (whole, low):
        np.testing.assert_array_equal(out[~holes], fill[~holes])


def _blending_model():
    model = tiny_model()
    model.cfg.blend_thin, model.cfg.blend_weight, model.cfg.blend_sigma = 9.0, 0.25, 0.0
    return model


def test_the_models_config_blends_thin_holes_and_leaves_wide_ones():
    from restore.inpainting.thin import blend_smooth

    rgb = smooth_photo(96, 128)
    line, square = _holes()
    mask = line | square
    plain = Restorer(tiny_model()).restore(rgb, mask)
    blended = Restorer(_blending_model()).restore(rgb, mask)
    np.testing.assert_array_equal(blended[~line], plain[~line])
    np.testing.assert_array_equal(blended, blend_smooth(plain, line, 0.25, 0.0))
    assert not np.array_equal(blended[line], plain[line])
    np.testing.assert_array_equal(Restorer(_blending_model(), blend_thin=False).restore(rgb, mask), plain)
    small = smooth_photo(64, 64)  # 64x64 photos stay as the model fills them (Table 1)
    np.testing.assert_array_equal(Restorer(_blending_model()).restore(small, line[:64, :64]),
                                  Restorer(tiny_model()).restore(small, line[:64, :64]))


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 40)])
def test_a_photo_that_is_all_hole_is_filled_by_the_network_alone(shape):
    """Nothing is known to continue: the blend leaves the networks' fill as it is, where the biharmonic system had
    no known pixel to hold it (a 1x1 photo failed on a singular factor, larger ones read the solver's noise)."""
    rgb = np.full((*shape, 3), 120, np.uint8)
    mask = np.ones(shape, bool)
    np.testing.assert_array_equal(Restorer(_blending_model()).restore(rgb, mask), Restorer(tiny_model()).restore(rgb, mask))


def test_the_config_of_one_test_model_is_not_every_test_models():
    """_blending_model changes its own model's config, never the shared TINY that other tests' models are built on
    (which made tests/test_pipeline.py fail when it ran after this file)."""
    _blending_model()
    assert tiny_model().cfg.blend_thin != 9.0


def test_run_blend_thin_option(tmp_path):
    from restore.hub import save_pretrained

    save_pretrained(_blending_model(), tmp_path / "model")
    photos, masks, _, line = _line_files(tmp_path)
    outs = {}
    for flag in ("--blend-thin", "--no-blend-thin", None):
        out = tmp_path / str(flag)
        args = ["run", str(photos), "--masks", str(masks), "-o", str(out), "--model", str(tmp_path / "model")]
        res = CliRunner().invoke(main, args + ([flag] if flag else []))
        assert res.exit_code == 0, res.output
        outs[flag] = np.asarray(Image.open(out / "a.png"))
    np.testing.assert_array_equal(outs[None], outs["--blend-thin"])  # on where the model's config sets it
    assert not np.array_equal(outs["--blend-thin"][line], outs["--no-blend-thin"][line])
    np.testing.assert_array_equal(outs["--blend-thin"][~line], outs["--no-blend-thin"][~line])
