"""The native-size benchmark: holes scaled to each photo, the sharpness measure, and `restore bench --size native`."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from restore.cli import main
from restore.eval import classical as C
from restore.eval import native_size as native
from restore.eval.datasets import dataset_splits
from restore.eval.metrics import sharpness
from restore.inpainting.holes import blob_hole, rect_hole, stroke_hole

from .conftest import smooth_photo
from .test_lpips import _random_model


@pytest.mark.parametrize("h, w", [(218, 178), (768, 1024), (96, 128)])
def test_holes_scale_with_the_photo(h, w):
    rng = np.random.default_rng(0)
    for _ in range(30):
        r = rect_hole(rng, h, w)
        ys, xs = np.nonzero(r)
        sides = np.array([np.ptp(ys) + 1, np.ptp(xs) + 1]) / min(h, w)
        assert r.sum() == (np.ptp(ys) + 1) * (np.ptp(xs) + 1)  # one filled rectangle
        assert sides.min() >= 10 / 64 - 0.02 and sides.max() <= 20 / 64 + 0.02
        assert 0.06 <= blob_hole(rng, h, w).mean() <= 0.15
        s = stroke_hole(rng, h, w)
        assert 0 < s.mean() < 0.2


def test_holes_are_the_same_for_every_method_and_run():
    a = native.hole_for("blob", 3, 7, 120, 160)
    assert np.array_equal(a, native.hole_for("blob", 3, 7, 120, 160))
    assert not np.array_equal(a, native.hole_for("blob", 3, 8, 120, 160))
    assert not np.array_equal(a, native.hole_for("blob", 4, 7, 120, 160))


def test_sharpness_is_one_for_the_truth_and_low_for_a_blur():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 256, (80, 80, 3), dtype=np.uint8)
    mask = np.zeros((80, 80), bool)
    mask[20:60, 20:60] = True
    assert sharpness(truth, truth, mask) == pytest.approx(1.0)
    flat = truth.copy()
    flat[mask] = truth[mask].mean(axis=0).astype(np.uint8)
    assert sharpness(truth, flat, mask) == pytest.approx(0.0)
    noisy = truth.copy()
    noisy[mask] = np.clip(truth[mask].astype(int) // 2 + 64, 0, 255)
    assert 0.4 < sharpness(truth, noisy, mask) < 0.6  # half the contrast, half the gradients
    thin = np.zeros((80, 80), bool)
    thin[10, :] = True  # no pixel whose upper neighbour is a hole too
    assert np.isnan(sharpness(truth, truth, thin))


def test_bench_native_on_photos_writes_every_kind_and_method(tmp_path, model_dir, monkeypatch):
    # shiftmap and FSR take seconds a photo even this small: their rows are tested on run() below.
    monkeypatch.setattr(C, "have_xphoto", lambda: False)
    photos = tmp_path / "p"
    photos.mkdir()
    for i, (h, w) in enumerate([(90, 120), (130, 100), (64, 64)]):
        Image.fromarray(smooth_photo(h, w, i)).save(photos / f"{i}.png")
    out = tmp_path / "b"
    res = CliRunner().invoke(main, ["bench", "--size", "native", "--photos", str(photos), "--masks-per-photo", "2",
                                    "--model", str(model_dir), "-o", str(out)])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["meta"]["photos"] == 3 and summary["meta"]["size"] == "native"
    assert summary["meta"]["photo_sizes"] == "64x64 to 100x130"
    rows = summary["rows"]
    assert set(rows) == {"rect", "blob", "stroke"}
    for kind in rows:
        assert {"full model", "scikit-image biharmonic"} <= set(rows[kind])
        for r in rows[kind].values():
            assert 0.5 < r["ssim"] <= 1 and r["psnr_hole"] > 5 and r["images_per_second"] > 0
            assert np.isfinite(r["sharpness"])
    lines = (out / "results.csv").read_text().strip().splitlines()
    methods = len(rows["rect"])
    assert len(lines) == 1 + 3 * 2 * 3 * methods  # kinds x masks per photo x photos x methods
    for kind in rows:
        fig = Image.open(out / f"compare_{kind}.png")
        assert fig.width == (2 + methods) * (160 * 120 // 90 + 6)  # masked, the methods, original
    assert "| blob | full model |" in res.stdout
    assert f"note: {C.XPHOTO_MISSING}" in res.stderr


def test_natural_split_holds_every_tenth_photo(tmp_path):
    folder = tmp_path / "natural"
    folder.mkdir()
    for i in range(25):
        Image.fromarray(smooth_photo(8, 8, i)).save(folder / f"p{i:02d}.jpg")
    splits = dataset_splits("natural", tmp_path)
    assert [p.name for p in splits["val"]] == ["p00.jpg", "p10.jpg", "p20.jpg"]
    assert len(splits["train"]) == 22 and not set(splits["val"]) & set(splits["train"])


def test_every_method_gets_the_photo_with_its_hole_wiped(monkeypatch):
    # No method may read the truth under the hole: the bench hands each a damaged photo.
    seen = []

    class Recorder:
        def restore_many(self, items):
            seen.extend(items)
            return [rgb for rgb, _ in items]

    def classical(rgb, mask):
        seen.append((rgb, mask))
        return rgb

    for name in ("biharmonic_one", "telea_one", "shiftmap_one", "fsr_one"):
        monkeypatch.setattr(native, name, classical)
    monkeypatch.setattr(C, "have_opencv", lambda: True)
    monkeypatch.setattr(C, "have_xphoto", lambda: True)
    photos = [("a.png", smooth_photo(96, 128, 1)), ("b.png", smooth_photo(120, 90, 2))]
    native.run(photos, Recorder(), classical=True)
    assert len(seen) == 1 + 3 * 2 * 5  # warm-up + kinds x photos x (model + 4 classical)
    for rgb, mask in seen:
        if mask.any():  # the warm-up and every scored case
            assert not rgb[mask].any()


def _photos():
    return [("a.png", smooth_photo(48, 64, 1)), ("b.png", smooth_photo(56, 40, 2))]


def test_lpips_columns_first_with_a_model(tmp_path):
    from restore.eval import lpips

    net = _random_model()
    result = native.run(_photos(), None, classical=("biharmonic",), kinds=("rect", "blob"), lpips_model=net)
    assert result["metrics"] == ("lpips_hole", "lpips", "ssim", "psnr_hole", "mae_hole", "sharpness")
    assert not any("LPIPS" in n for n in result["notes"])
    for kind, cases in result["cases"].items():
        outs = result["outputs"][kind][native.BIHARMONIC_ROW]
        lines = [r for r in result["per_image"] if r["kind"] == kind]
        want = [lpips.hole_crop_distance(c.rgb, o, c.mask, net) for c, o in zip(cases, outs, strict=True)]
        assert [r["lpips_hole"] for r in lines] == pytest.approx(want, abs=1e-6) and min(want) > 0
        assert [r["lpips"] for r in lines] == pytest.approx(
            [lpips.distance(c.rgb, o, net) for c, o in zip(cases, outs, strict=True)], abs=1e-6)
        s = result["rows"][kind][native.BIHARMONIC_ROW]
        assert s["lpips_hole"] == pytest.approx(np.mean(want), abs=1e-6) and "lpips_se" in s
    md = native.table(result["rows"])
    assert md.splitlines()[0] == ("| holes | method | hole LPIPS | LPIPS | SSIM | hole PSNR dB | hole MAE | "
                                  "hole sharpness | img/s |")
    s = result["rows"]["rect"][native.BIHARMONIC_ROW]
    assert (f"| rect | {native.BIHARMONIC_ROW} | {s['lpips_hole']:.4f} ± {s['lpips_hole_se']:.4f} | {s['lpips']:.4f} | "
            f"{s['ssim']:.4f} ±") in md
    native.write(tmp_path, result, {}, md, figure_photos=1)
    lines = (tmp_path / "results.csv").read_text().splitlines()
    assert lines[0] == "image,kind,method,hole_fraction,lpips_hole,lpips,ssim,psnr_hole,mae_hole,sharpness"
    assert len(lines) == 1 + 2 * 2
    assert float(lines[1].split(",")[4]) == result["per_image"][0]["lpips_hole"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["rows"]["blob"][native.BIHARMONIC_ROW]["lpips"] == result["rows"]["blob"][native.BIHARMONIC_ROW]["lpips"]


def test_lpips_left_out_without_a_model(tmp_path):
    result = native.run(_photos(), None, classical=("biharmonic",), kinds=("rect",), lpips_note="weights not found")
    assert result["notes"] == ["LPIPS left out: weights not found"]
    assert result["metrics"] == native.METRICS
    assert not any(k.startswith("lpips") for r in result["per_image"] for k in r)
    assert not any(k.startswith("lpips") for k in result["rows"]["rect"][native.BIHARMONIC_ROW])
    md = native.table(result["rows"])
    assert "LPIPS" not in md and md.splitlines()[0].startswith("| holes | method | SSIM |")
    native.write(tmp_path, result, {}, md, figure_photos=1)
    assert (tmp_path / "results.csv").read_text().splitlines()[0] == "image,kind,method,hole_fraction,ssim,psnr_hole,mae_hole,sharpness"


@pytest.mark.skipif(not C.have_xphoto(), reason="cv2.xphoto missing")
def test_xphoto_rows_keep_known_pixels():
    result = native.run(_photos(), None, classical=("shiftmap", "fsr"), kinds=("blob",))
    assert list(result["rows"]["blob"]) == ["OpenCV shiftmap (xphoto)", "OpenCV FSR fast (xphoto)"]
    assert C.XPHOTO_MISSING not in result["notes"]
    for row, outs in result["outputs"]["blob"].items():
        for c, o in zip(result["cases"]["blob"], outs, strict=True):
            assert np.array_equal(o[~c.mask], c.rgb[~c.mask]), row
            assert (o[c.mask] > 0).any(-1).mean() > 0.9, row  # filled: the wiped hole was black
            if row == native.FSR_ROW:  # deterministic; shiftmap's fill varies on small photos
                assert np.abs(o[c.mask].astype(float) - c.rgb[c.mask]).mean() < 15, row
        assert result["rows"]["blob"][row]["images_per_second"] > 0


def test_classical_rows_chosen_and_xphoto_note(monkeypatch):
    """Rows by name only (nothing is filled), so OpenCV need not be installed: its presence is patched."""
    monkeypatch.setattr(C, "have_opencv", lambda: False)
    monkeypatch.setattr(C, "have_xphoto", lambda: False)
    fills, notes = native.methods(None, True)
    assert list(fills) == [native.BIHARMONIC_ROW] and notes == [C.OPENCV_MISSING, C.XPHOTO_MISSING]
    monkeypatch.setattr(C, "have_opencv", lambda: True)
    fills, notes = native.methods(None, True)
    assert list(fills) == [native.BIHARMONIC_ROW, native.TELEA_ROW] and notes == [C.XPHOTO_MISSING]
    assert native.methods(None, False) == ({}, [])
    fills, notes = native.methods(None, ("telea",))
    assert list(fills) == [native.TELEA_ROW] and notes == []
    monkeypatch.setattr(C, "have_xphoto", lambda: True)
    assert list(native.methods(None, True)[0]) == [native.BIHARMONIC_ROW, native.TELEA_ROW, native.SHIFTMAP_ROW,
                                                   native.FSR_ROW]
    assert list(native.methods(None, "fsr")[0]) == [native.FSR_ROW]
    with pytest.raises(ValueError, match="unknown classical method"):
        native.run(_photos(), None, classical=("telea", "inpaint"))
