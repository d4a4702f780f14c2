"""Thin holes interpolated from their border (inpainting/thin.py) instead of filled by the networks."""

import numpy as np
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


def test_run_smooth_thin_option(tmp_path, model_dir):
    photos, masks = tmp_path / "photos", tmp_path / "masks"
    photos.mkdir()
    masks.mkdir()
    rgb = smooth_photo(96, 128)
    line, _ = _holes()
    Image.fromarray(rgb).save(photos / "a.png")
    Image.fromarray(line.astype(np.uint8) * 255).save(masks / "a.png")
    outs = {}
    for px in ("0", "9"):
        res = CliRunner().invoke(main, ["run", str(photos), "--masks", str(masks), "-o", str(tmp_path / px),
                                        "--model", str(model_dir), "--smooth-thin", px])
        assert res.exit_code == 0, res.output
        outs[px] = np.asarray(Image.open(tmp_path / px / "a.png"))
    interpolated = np.clip(np.rint(smooth_fill(rgb.astype(np.float32), ~line)), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(outs["9"][line], interpolated[line])
    assert not np.array_equal(outs["0"][line], interpolated[line])  # off by default without --detect-damage
