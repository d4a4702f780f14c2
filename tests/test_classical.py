"""Classical inpainting rows: OpenCV xphoto's shiftmap and FSR keep every known pixel, fill the hole, and
are left out with a note where cv2.xphoto is missing; `classical=` chooses the rows."""

import sys
import types

import numpy as np
import pytest

from restore.eval import classical as C

from .conftest import smooth_photo

needs_xphoto = pytest.mark.skipif(not C.have_xphoto(), reason="cv2.xphoto missing (opencv-contrib-python-headless)")


def _case(h=40, w=48, seed=1):
    rgb = smooth_photo(h, w, seed)
    mask = np.zeros((h, w), bool)
    mask[12:26, 15:33] = True
    return rgb, mask


@needs_xphoto
@pytest.mark.parametrize("fill", [C.shiftmap_one, C.fsr_one])
def test_xphoto_keeps_known_pixels_and_fills_the_hole(fill):
    rgb, mask = _case()
    damaged = C.wipe(rgb, mask)
    out = fill(damaged, mask)
    assert out.dtype == np.uint8 and out.shape == rgb.shape
    assert np.array_equal(out[~mask], damaged[~mask])  # pasted into the hole only
    # Mask polarity: the hole (black in the input; no pixel of the photo is black) is what gets filled.
    assert (out[mask] > 0).any(-1).mean() > 0.9
    if fill is C.fsr_one:  # shiftmap's fill varies with the heap on photos this small (see shiftmap_one)
        assert np.abs(out[mask].astype(float) - rgb[mask]).mean() < 10
    assert np.array_equal(fill(rgb, np.zeros_like(mask)), rgb)  # no hole: nothing changes
    assert np.array_equal(damaged, C.wipe(rgb, mask))  # the input is left as it was


@needs_xphoto
def test_raw_xphoto_changes_known_pixels():
    """Why the paste-back matters: FSR (and shiftmap through CIELab) alter pixels outside the hole."""
    import cv2

    rgb, mask = _case()
    valid = np.where(mask, 0, 255).astype(np.uint8)
    for code, back, algorithm in [(cv2.COLOR_RGB2BGR, cv2.COLOR_BGR2RGB, cv2.xphoto.INPAINT_FSR_FAST),
                                  (cv2.COLOR_RGB2Lab, cv2.COLOR_Lab2RGB, cv2.xphoto.INPAINT_SHIFTMAP)]:
        src = cv2.cvtColor(C.wipe(rgb, mask), code)
        dst = np.zeros_like(src)
        cv2.xphoto.inpaint(src, valid, dst, algorithm)
        assert not np.array_equal(cv2.cvtColor(dst, back)[~mask], rgb[~mask])


def test_have_xphoto_false_without_the_contrib_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", types.ModuleType("cv2"))  # plain opencv: no xphoto
    assert not C.have_xphoto() and C.have_opencv()
    monkeypatch.setitem(sys.modules, "cv2", None)  # no opencv at all
    assert not C.have_xphoto() and not C.have_opencv()


def test_missing_note_names_the_fix():
    assert C.XPHOTO_MISSING == ("OpenCV shiftmap and FSR left out: cv2.xphoto missing (pip install -e '.[classical]', "
                                "which installs opencv-contrib-python-headless)")


def test_chosen():
    assert C.chosen(True) == ("biharmonic", "telea", "shiftmap", "fsr")
    assert C.chosen(False) == () and C.chosen(None) == () and C.chosen(()) == ()
    assert C.chosen(("fsr", "biharmonic")) == ("biharmonic", "fsr")  # table order, whatever the order given
    assert C.chosen("telea, shiftmap") == ("telea", "shiftmap")
    with pytest.raises(ValueError, match="unknown classical method 'patchmatch': choose from biharmonic, telea, shiftmap, fsr"):
        C.chosen(["telea", "patchmatch"])
    assert [C.ROW_NAMES[k] for k in C.CLASSICAL] == [
        "scikit-image biharmonic", "OpenCV Telea", "OpenCV shiftmap (xphoto)", "OpenCV FSR fast (xphoto)"]
