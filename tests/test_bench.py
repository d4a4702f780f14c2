import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from restore.cli import main
from restore.eval import classical as C
from restore.eval import paper as B
from restore.eval.metrics import psnr, ssim

from .conftest import smooth_photo


@pytest.fixture(scope="module")
def celeba_layout(tmp_path_factory):
    """A tiny dataset in CelebA's official layout: 6 train and 5 val images."""
    root = tmp_path_factory.mktemp("data")
    imgs = root / "celeba" / "img_align_celeba"
    imgs.mkdir(parents=True)
    lines = []
    for i in range(11):
        name = f"{i:06d}.jpg"
        Image.fromarray(smooth_photo(109, 89, i)).save(imgs / name, quality=95)
        lines.append(f"{name} {0 if i < 6 else 1}")
    (root / "celeba" / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
    return root


def test_identical_images_score_one():
    a = smooth_photo(64, 64)
    assert ssim(a, a) == 1.0 and ssim(a, a, gaussian=True) == 1.0 and psnr(a, a) == float("inf")


def test_bench_writes_every_row_and_file(celeba_layout, tmp_path, model_dir):
    out = tmp_path / "b"
    res = CliRunner().invoke(main, ["bench", "--dataset", "celeba", "--data-dir", str(celeba_layout),
                                    "--model", str(model_dir), "-o", str(out)])
    assert res.exit_code == 0, res.output
    for f in ["summary.md", "summary.json", "results.csv", "ssim_histograms.png", "steps.png"]:
        assert (out / f).exists(), f
    summary = json.loads((out / "summary.json").read_text())
    rows = summary["rows"]
    expected = {"gray fill (paper baseline)", "ApproxNet", "full model", "full model, raw (no paste-back)",
                "scikit-image biharmonic"}
    assert expected <= set(rows)
    assert summary["meta"]["images"] == 5  # the val split only
    assert "| gray fill (paper baseline) |" in res.stdout
    assert len((out / "results.csv").read_text().strip().splitlines()) == 1 + 5 * len(rows)
    for r in rows.values():
        assert {"ssim", "ssim_se", "ssim_gauss", "psnr", "psnr_hole", "mae_hole", "images_per_second"} <= set(r)
    # steps.png: 8 (here 5) rows of original | masked | ApproxNet | full model, scaled x2
    grid = Image.open(out / "steps.png")
    assert grid.size == ((4 * 64 + 3 * 2) * 2, (5 * 64 + 4 * 2) * 2)


def test_baseline_row_equals_direct_skimage(celeba_layout):
    from skimage.metrics import structural_similarity

    from restore.eval.datasets import dataset_splits, load_stack

    images = load_stack(dataset_splits("celeba", celeba_layout)["val"])
    masks = B.paper_masks_for(len(images), 0)
    rows, _ = B.run_rows(images, masks, None, classical=False)
    got = B.summarize(B.score(images, masks, rows[0].outputs))["ssim"]
    direct = []
    for im, m in zip(images, masks, strict=True):
        gray = im.copy()
        gray[m] = 128
        direct.append(structural_similarity(im, gray, channel_axis=-1, data_range=255))
    assert got == pytest.approx(float(np.mean(direct)), abs=1e-12)


def test_bad_dataset_and_missing_data(tmp_path):
    res = CliRunner().invoke(main, ["bench", "--dataset", "imagenet"])
    assert res.exit_code == 2 and "'imagenet' is not one of celeba, cars, natural" in res.output
    res = CliRunner().invoke(main, ["bench", "--dataset", "cars", "--data-dir", str(tmp_path)])
    assert res.exit_code == 1
    line = res.output.strip().splitlines()[-1]
    assert f"cars data not found under {tmp_path}" in line and "stanford_cars/cars_train" in line
    assert "--data-dir or RESTORE_DATA_DIR" in line


def test_bench_on_own_photos(tmp_path, model_dir):
    photos = tmp_path / "p"
    photos.mkdir()
    for i in range(3):
        Image.fromarray(smooth_photo(120, 90, i)).save(photos / f"{i}.png")
    res = CliRunner().invoke(main, ["bench", "--photos", str(photos), "--model", str(model_dir), "--no-classical",
                                    "-o", str(tmp_path / "b")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["meta"]["images"] == 3


def test_dataset_bench_defaults_to_that_datasets_model(tmp_path):
    """`bench --dataset cars` scores the released cars model, not the default celeba one."""
    root = tmp_path / "data"
    cars = root / "stanford_cars" / "cars_train"
    cars.mkdir(parents=True)
    for i in range(6):
        Image.fromarray(smooth_photo(96, 128, i)).save(cars / f"{i:05d}.jpg", quality=95)
    out = tmp_path / "b"
    res = CliRunner().invoke(main, ["bench", "--dataset", "cars", "--data-dir", str(root), "--no-classical",
                                    "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "model cars (bundled" in res.stderr
    assert json.loads((out / "summary.json").read_text())["meta"]["model"] == "cars"


def test_methods_get_the_images_with_their_holes_wiped(monkeypatch):
    seen = []

    def classical(rgb, mask):
        seen.append((rgb.copy(), mask))
        return rgb

    monkeypatch.setattr(C, "biharmonic_one", classical)
    monkeypatch.setattr(B, "have_opencv", lambda: False)
    images = np.full((3, 64, 64, 3), 200, np.uint8)
    masks = np.zeros((3, 64, 64), bool)
    masks[:, 10:30, 20:40] = True
    B.run_rows(images, masks, classical=True)
    assert len(seen) == 3 and all(not rgb[m].any() and rgb[~m].min() == 200 for rgb, m in seen)
    assert images[masks].min() == 200  # the caller's images are left as they were
