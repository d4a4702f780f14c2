import numpy as np
import pytest
from PIL import Image

from restore.io.masks import MaskError
from restore.io.photos import PhotoError

from .conftest import smooth_photo
from .test_pipeline import rect_mask


@pytest.fixture
def inpaint(model_dir):
    from restore import inpaint

    return lambda image, mask, **kw: inpaint(image, mask, model=str(model_dir), device="cpu", **kw)


def test_an_array_comes_back_as_an_array_with_only_the_hole_changed(inpaint):
    rgb = smooth_photo(90, 120)
    m = rect_mask(90, 120, [(20, 30, 60, 80)])
    wiped = np.where(m[..., None], 0, rgb).astype(np.uint8)
    out = inpaint(wiped, m.astype(np.uint8))  # 0/1, as OpenCV and scikit-image take masks
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert np.array_equal(out[~m], rgb[~m]) and not np.array_equal(out[m], wiped[m])
    assert (wiped[m] == 0).all()  # the input is not modified
    from restore.api import _restorer

    hits = _restorer.cache_info().hits
    assert np.array_equal(inpaint(wiped, m), out)  # bool masks too; the model is loaded once
    assert _restorer.cache_info().hits == hits + 1


def test_gray_and_rgba_arrays_keep_their_shape_and_alpha(inpaint):
    m = rect_mask(70, 80, [(20, 20, 45, 50)])
    gray = smooth_photo(70, 80)[..., 0]
    out = inpaint(gray, m)
    assert out.shape == gray.shape and np.array_equal(out[~m], gray[~m])
    rgba = np.dstack([smooth_photo(70, 80), np.full((70, 80), 77, np.uint8)])
    out = inpaint(rgba, m[..., None])  # a trailing channel axis on the mask is merged
    assert np.array_equal(out[..., 3], rgba[..., 3]) and np.array_equal(out[~m], rgba[~m])


@pytest.mark.parametrize("channels", [0, 3, 4])
def test_a_16_bit_array_keeps_its_16_bits_outside_the_hole(inpaint, channels):
    rng = np.random.default_rng(channels)
    rgb = smooth_photo(60, 70).astype(np.uint16) * 257 + rng.integers(0, 200, (60, 70, 3)).astype(np.uint16)
    image = {0: rgb[..., 1], 3: rgb, 4: np.dstack([rgb, rng.integers(0, 65536, (60, 70)).astype(np.uint16)])}[channels]
    m = rect_mask(60, 70, [(15, 20, 40, 50)])
    out = inpaint(image, m)
    assert out.dtype == np.uint16 and out.shape == image.shape
    assert np.array_equal(out[~m], image[~m])
    assert channels != 4 or np.array_equal(out[..., 3], image[..., 3])  # alpha, in the hole too
    fill = out[m] if channels == 0 else out[m, :3]
    assert (fill % 257 == 0).all() and not np.array_equal(fill, image[m] if channels == 0 else image[m, :3])
    # the fill is the one the 8-bit view of the image gets, scaled up; that view is the one restore run reads from
    # a file with these pixels (16-bit samples that need all 16 bits: rounded from 0-65535 to 0-255)
    view = np.rint((image if channels == 0 else image[..., :3]) / 257).astype(np.uint8)
    eight = inpaint(view, m)
    assert np.array_equal(fill // 257, eight[m] if channels == 0 else eight[m, :3])
    if channels == 0:
        assert np.array_equal(out, np.asarray(inpaint(Image.fromarray(image), m)))  # as an I;16 image: the same


def test_a_pil_image_comes_back_in_its_own_mode_and_info(inpaint):
    im = Image.fromarray(smooth_photo(64, 96)[..., 1], "L")
    im.info.update(dpi=(300, 300), parameters="a PNG text chunk", exif=b"Exif\x00\x00MM\x00*")
    mask = Image.new("L", im.size, 0)
    mask.paste(255, (10, 10, 40, 30))  # white = hole, as in mask files
    out = inpaint(im, mask)
    assert isinstance(out, Image.Image) and out.mode == "L" and out.size == im.size
    assert out.info == im.info
    m = np.asarray(mask) > 127
    assert np.array_equal(np.asarray(out)[~m], np.asarray(im)[~m])


def test_what_does_not_fit_is_said_in_one_line(inpaint):
    rgb = smooth_photo(40, 50)
    with pytest.raises(MaskError, match="mask is 60x40 but the image is 50x40"):
        inpaint(rgb, np.zeros((40, 60), bool))
    with pytest.raises(PhotoError, match="give uint8, uint16 or float"):
        inpaint(rgb.astype(np.int64), np.zeros((40, 50), bool))
    with pytest.raises(PhotoError, match="float32 array with values outside 0 to 1 .from 28 to 227"):
        inpaint(rgb.astype(np.float32), np.zeros((40, 50), bool))
    with pytest.raises(MaskError, match="mask: None; give a PIL image, a numpy array"):
        inpaint(rgb, None)
    for bad in (0, -5, 0.5, float("nan")):
        with pytest.raises(ValueError, match=f"context {bad!r}: how many times the hole's size"):
            inpaint(rgb, np.zeros((40, 50), bool), context=bad)
    with pytest.raises(ValueError, match="smooth_thin -1: the thickness in pixels"):
        inpaint(rgb, np.zeros((40, 50), bool), smooth_thin=-1)


def test_import_restore_stays_light():
    import subprocess
    import sys

    code = "import sys, restore; restore.__version__; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
    import restore

    with pytest.raises(AttributeError):
        restore.no_such_thing  # noqa: B018


def test_a_dark_16_bit_array_is_seen_as_a_16_bit_file_with_the_same_pixels_is(inpaint):
    """A uint16 array whose samples fit 8 bits is seen as they are, as restore run reads a 16-bit gray file (Pillow's
    I;16) holding them: not divided by 257 into black, and filled within their range."""
    y, x = np.mgrid[0:60, 0:70]
    gray = (20 + (x + y) // 6).astype(np.uint16)  # 20-41
    m = rect_mask(60, 70, [(15, 20, 40, 50)])
    out = inpaint(gray, m)
    via_pil = np.asarray(inpaint(Image.fromarray(gray), m))
    assert np.array_equal(out, via_pil)
    assert out[m].max() <= 255 and np.array_equal(out[m], inpaint(gray.astype(np.uint8), m)[m])


def test_python_values_a_user_would_pass_are_taken_or_refused_in_one_line(inpaint, model_dir, tmp_path):
    """Paths for the model and the mask, a torch.device, texture=False; truthy strings for switches are refused; an
    RGBA numpy mask is read as its image is (a constant alpha says nothing); a 0/1 label mask image warns."""
    import warnings
    from pathlib import Path

    import torch

    from restore import inpaint as raw

    rgb = smooth_photo(60, 70)
    m = rect_mask(60, 70, [(15, 20, 40, 50)])
    want = inpaint(rgb, m)
    Image.fromarray(m.astype(np.uint8) * 255).save(tmp_path / "m.png")
    np.testing.assert_array_equal(raw(rgb, tmp_path / "m.png", model=Path(model_dir), device=torch.device("cpu"),
                                      texture=False), want)
    np.testing.assert_array_equal(raw(rgb, str(tmp_path / "m.png"), model=str(model_dir), device="cpu"), want)
    with pytest.raises(ValueError, match="detail 'no': True, False, or None"):
        inpaint(rgb, m, detail="no")
    with pytest.raises(ValueError, match="context inf"):
        inpaint(rgb, m, context=float("inf"))
    rgba = np.dstack([np.repeat(m[..., None].astype(np.uint8) * 255, 3, axis=2), np.full((60, 70), 255, np.uint8)])
    np.testing.assert_array_equal(inpaint(rgb, rgba), want)  # not the whole image: the alpha is constant
    with pytest.warns(UserWarning, match="its values are 0 and 1"):
        untouched = inpaint(rgb, Image.fromarray(m.astype(np.uint8)))
    assert np.array_equal(untouched, rgb)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inpaint(rgb, m.astype(np.uint8))  # a 0/1 array is nonzero = hole, as OpenCV takes it: no warning
    with pytest.raises(PhotoError, match=r"shape \(0, 10, 3\)"):
        inpaint(np.zeros((0, 10, 3), np.uint8), np.zeros((0, 10), bool))


def test_inpaint_many_gives_what_inpaint_gives_for_each_and_names_a_bad_pair(model_dir):
    from restore import inpaint, inpaint_many

    kw = dict(model=str(model_dir), device="cpu")
    rgb, gray = smooth_photo(60, 70), smooth_photo(48, 40)[..., 1]
    m1, m2 = rect_mask(60, 70, [(15, 20, 40, 50)]), rect_mask(48, 40, [(5, 5, 30, 20)])
    pairs = [(rgb, m1), (gray, m2), (Image.fromarray(rgb), m1)]
    many = inpaint_many(pairs, **kw)
    assert np.array_equal(many[0], inpaint(rgb, m1, **kw)) and np.array_equal(many[1], inpaint(gray, m2, **kw))
    assert isinstance(many[2], Image.Image) and np.array_equal(np.asarray(many[2]), many[0])
    assert inpaint_many([], **kw) == []
    with pytest.raises(MaskError, match=r"^pairs\[1\]: mask is 70x60 but the image is 40x48"):
        inpaint_many([(rgb, m1), (gray, m1)], **kw)
    with pytest.raises(ValueError, match=r"^pairs\[0\]: a ndarray; give \(image, mask\) pairs"):
        inpaint_many([rgb], **kw)
    with pytest.raises(TypeError, match="unknown keyword argument 'mask'"):
        inpaint_many(pairs, mask=m1, **kw)


def test_float_and_one_channel_arrays_come_back_as_they_went_in(inpaint):
    """A float image in [0, 1] (scikit-image's img_as_float) is filled as its 8-bit copy is and keeps its known values
    exactly; an (H, W, 1) array keeps its shape."""
    rgb = smooth_photo(60, 70)
    m = rect_mask(60, 70, [(15, 20, 40, 50)])
    eight = inpaint(rgb, m)
    for dtype in (np.float32, np.float64):
        f = rgb.astype(dtype) / 255
        f[m] = np.nan  # what lies under the hole is never read
        out = inpaint(f, m)
        assert out.dtype == dtype and out.shape == f.shape
        assert np.array_equal(out[~m], f[~m])
        np.testing.assert_allclose(out[m] * 255, eight[m], atol=1e-3)
    gray = rgb[..., 1:2]
    out = inpaint(gray, m)
    assert out.shape == gray.shape and np.array_equal(out[..., 0], inpaint(gray[..., 0], m))


def test_wide_gray_images_outside_the_range_restore_reads_are_refused_not_clipped(inpaint, model_dir, tmp_path):
    """A float image past 255 or with NaN, or a 32-bit integer one past 16 bits, would get a fill clipped to another
    range than the photo around it: refused in one line, by inpaint and by restore run (a float TIFF)."""
    from click.testing import CliRunner

    from restore.cli import main

    gray = smooth_photo(40, 50)[..., 1]
    m = rect_mask(40, 50, [(10, 10, 25, 30)])
    with pytest.raises(PhotoError, match="^image: a 32-bit floating-point image with values from .* to 908"):
        inpaint(Image.fromarray(gray.astype(np.float32) * 4, "F"), m)
    nan = gray.astype(np.float32)
    nan[0, 0] = np.nan
    with pytest.raises(PhotoError, match="NaN or infinite values"):
        inpaint(Image.fromarray(nan, "F"), m)
    nan[m] = np.nan  # under the hole: never read
    nan[0, 0] = 1
    assert np.isfinite(np.asarray(inpaint(Image.fromarray(nan, "F"), m))).all()
    with pytest.raises(PhotoError, match="32-bit integer image with values from .* to 1135000; restore reads"):
        inpaint(Image.fromarray(gray.astype(np.int32) * 5000, "I"), m)
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(gray.astype(np.float32) * 4, "F").save(photos / "depth.tif")
    Image.fromarray(m.astype(np.uint8) * 255).save(tmp_path / "m.png")
    res = CliRunner().invoke(main, ["run", str(photos), "--masks", str(tmp_path / "m.png"), "-o", str(tmp_path / "o"),
                                    "--model", str(model_dir)])
    assert res.exit_code == 1 and "depth.tif: a 32-bit floating-point image with values from" in res.stderr
    assert not (tmp_path / "o" / "depth.tif").exists()


def test_wrong_arguments_are_named_as_python_names_them(inpaint, model_dir):
    """Messages from Python name the argument (model=, device=), not restore run's options, and say what to give."""
    from restore import detect_damage

    rgb = smooth_photo(40, 50)
    m = rect_mask(40, 50, [(10, 10, 25, 30)])
    from restore import inpaint as raw

    for bad, message in [(dict(model=None), "model=None: give a released model's name"),
                         (dict(model=""), "model='': empty; give a released model"),
                         (dict(model="no-such-model"), "model='no-such-model': no such file or folder"),
                         (dict(device=5), "device=5: give 'auto', 'cpu' or 'cuda'"),
                         (dict(device="tpu"), "device='tpu': unknown device"),
                         (dict(texture=True), "texture=True: give a texture stage's name")]:
        with pytest.raises(ValueError, match=f"^{message}"):
            raw(rgb, m, **{"model": str(model_dir), "device": "cpu", **bad})
    with pytest.raises(ValueError, match=r"this is an inpainting model; give it to inpaint\(model=...\)"):
        detect_damage(rgb, model=str(model_dir), device="cpu")
    assert np.array_equal(raw(rgb, m, model=str(model_dir), device=None), inpaint(rgb, m))  # None: auto


def test_masks_of_no_use_say_so(inpaint):
    rgb = smooth_photo(40, 50)
    for mask, message in [(5, r"mask: a int64 array of shape \(\)"), (np.ones((1, 40, 50)), r"shape \(1, 40, 50\)"),
                          (np.full((40, 50), np.nan), "mask: it holds NaN values"),
                          (np.zeros((50, 40), bool), "mask is 40x50 but the image is 50x40; .* turned a quarter")]:
        with pytest.raises(MaskError, match=message):
            inpaint(rgb, mask)
    with pytest.warns(UserWarning, match="covers the whole image"):
        inpaint(rgb, np.ones((40, 50), bool))


def test_dir_lists_the_api():
    import restore

    assert {"inpaint", "inpaint_many", "detect_damage"} <= set(dir(restore))


def test_the_image_and_mask_are_checked_before_a_model_is_loaded(model_dir):
    from restore import inpaint
    from restore.api import _restorer

    _restorer.cache_clear()
    with pytest.raises(MaskError, match="mask is 60x40 but the image is 50x40"):
        inpaint(smooth_photo(40, 50), np.zeros((40, 60), bool), model="no-such-model")  # not the model's error
    assert _restorer.cache_info().currsize == 0
