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
    with pytest.raises(PhotoError, match="give uint8 or uint16"):
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
