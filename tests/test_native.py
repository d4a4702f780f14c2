"""The native-size benchmark: holes scaled to each photo, the sharpness measure, and `restore bench --size native`."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from restore.cli import main
from restore.eval import native_size as native
from restore.eval.datasets import dataset_splits
from restore.eval.metrics import sharpness
from restore.inpainting.holes import blob_hole, rect_hole, stroke_hole

from .conftest import smooth_photo


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


def test_bench_native_on_photos_writes_every_kind_and_method(tmp_path, model_dir):
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

    monkeypatch.setattr(native, "biharmonic_one", classical)
    monkeypatch.setattr(native, "telea_one", classical)
    monkeypatch.setattr(native, "have_opencv", lambda: True)
    photos = [("a.png", smooth_photo(96, 128, 1)), ("b.png", smooth_photo(120, 90, 2))]
    native.run(photos, Recorder(), classical=True)
    assert len(seen) > 3 * 2 * 3
    for rgb, mask in seen:
        if mask.any():  # the warm-up and every scored case
            assert not rgb[mask].any()
