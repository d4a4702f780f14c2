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
from .test_lpips import _random_model


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
    if C.have_xphoto():  # at 64x64 shiftmap is left out unless --methods asks for it (not reproducible there)
        expected |= {"OpenCV FSR fast (xphoto)"}
    assert expected <= set(rows) and "OpenCV shiftmap (xphoto)" not in rows
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

    for name in ("biharmonic_one", "shiftmap_one", "fsr_one"):
        monkeypatch.setattr(C, name, classical)
    monkeypatch.setattr(C, "have_opencv", lambda: False)
    monkeypatch.setattr(C, "have_xphoto", lambda: True)
    images = np.full((3, 64, 64, 3), 200, np.uint8)
    masks = np.zeros((3, 64, 64), bool)
    masks[:, 10:30, 20:40] = True
    B.run_rows(images, masks, classical=True)
    assert len(seen) == 3 * 3 and all(not rgb[m].any() and rgb[~m].min() == 200 for rgb, m in seen)
    assert images[masks].min() == 200  # the caller's images are left as they were


def _tiny_set(n=3):
    images = np.stack([smooth_photo(64, 64, i) for i in range(n)])
    return images, B.paper_masks_for(n, 0)


def test_lpips_columns_with_a_model(tmp_path):
    from restore.eval import lpips

    net = _random_model()
    images, masks = _tiny_set()
    rows, notes = B.run_rows(images, masks, None, classical=("biharmonic",), lpips_model=net)
    assert not any("LPIPS" in n for n in notes)
    per_image, summary = B.score_rows(images, masks, rows, lpips_model=net)
    gray, bih = rows[0], rows[1]
    for i in range(len(images)):
        assert per_image[gray.name]["lpips"][i] == lpips.distance(images[i], gray.outputs[i], net) > 0
        assert per_image[gray.name]["lpips_hole"][i] == lpips.hole_crop_distance(images[i], gray.outputs[i], masks[i], net) > 0
    for name in (gray.name, bih.name):
        s = summary[name]
        assert s["lpips"] == pytest.approx(per_image[name]["lpips"].mean()) and s["lpips_hole_se"] >= 0
        assert s["lpips_hole"] == pytest.approx(per_image[name]["lpips_hole"].mean())
    # The crop is all hole and close context: the gray fill is farther there than over the whole image.
    assert summary[gray.name]["lpips_hole"] > summary[gray.name]["lpips"]
    md = B.table(summary)
    head = md.splitlines()[0]
    assert head.startswith("| method | SSIM (paper's) | SSIM (Gaussian) | hole LPIPS | LPIPS | PSNR dB |")
    s = summary[gray.name]
    assert (f"| {gray.name} | {s['ssim']:.4f} ± {s['ssim_se']:.4f} | {s['ssim_gauss']:.4f} | "
            f"{s['lpips_hole']:.4f} ± {s['lpips_hole_se']:.4f} | {s['lpips']:.4f} | {s['psnr']:.2f} |") in md
    B.write(tmp_path, [f"{i}.png" for i in range(len(images))], images, masks, rows, per_image, summary, {}, md)
    lines = (tmp_path / "results.csv").read_text().splitlines()
    assert lines[0] == "image,method,ssim,ssim_gauss,psnr,psnr_hole,mae_hole,lpips,lpips_hole"
    assert lines[1].split(",")[-2:] == [f"{per_image[gray.name][k][0]:.6f}" for k in ("lpips", "lpips_hole")]
    assert json.loads((tmp_path / "summary.json").read_text())["rows"][bih.name]["lpips_hole"] == summary[bih.name]["lpips_hole"]


def test_lpips_left_out_without_a_model(tmp_path):
    images, masks = _tiny_set(2)
    rows, notes = B.run_rows(images, masks, None, classical=False, lpips_note="no weights file here")
    assert notes == ["LPIPS left out: no weights file here"]
    assert B.run_rows(images, masks, None, classical=False)[1] == ["LPIPS left out: no LPIPS model given"]
    per_image, summary = B.score_rows(images, masks, rows)
    assert not any(k.startswith("lpips") for s in summary.values() for k in s)  # absent, not zero
    md = B.table(summary)
    assert "LPIPS" not in md and md.splitlines()[0].startswith("| method | SSIM (paper's) | SSIM (Gaussian) | PSNR dB |")
    B.write(tmp_path, ["a.png", "b.png"], images, masks, rows, per_image, summary, {}, md)
    assert (tmp_path / "results.csv").read_text().splitlines()[0] == "image,method,ssim,ssim_gauss,psnr,psnr_hole,mae_hole"


@pytest.mark.skipif(not C.have_xphoto(), reason="cv2.xphoto missing")
def test_xphoto_rows_keep_known_pixels():
    images, masks = _tiny_set(2)
    rows, notes = B.run_rows(images, masks, None, classical=("shiftmap", "fsr"), lpips_model=object())
    assert [r.name for r in rows] == ["gray fill (paper baseline)", "OpenCV shiftmap (xphoto)", "OpenCV FSR fast (xphoto)"]
    assert notes == []
    for r in rows[1:]:
        assert r.seconds > 0 and r.outputs.shape == images.shape
        assert np.array_equal(r.outputs[~masks], images[~masks])
        assert (r.outputs[masks] > 0).any(-1).mean() > 0.9  # filled: the wiped hole was black
    # FSR is deterministic; shiftmap's fill varies with the heap at 64x64 (see classical.shiftmap_one).
    assert np.abs(rows[2].outputs[masks].astype(float) - images[masks]).mean() < 20


def test_xphoto_rows_left_out_with_a_note(monkeypatch):
    monkeypatch.setattr(C, "have_xphoto", lambda: False)
    images, masks = _tiny_set(2)
    rows, notes = B.run_rows(images, masks, None, classical=("biharmonic", "shiftmap", "fsr"), lpips_model=object())
    assert [r.name for r in rows] == ["gray fill (paper baseline)", "scikit-image biharmonic"]
    assert notes == [C.XPHOTO_MISSING]
    with pytest.raises(ValueError, match="unknown classical method 'lama'"):
        B.run_rows(images, masks, None, classical=("lama",))


def _photo_dir(tmp_path, n=2, w=120, h=90):
    photos = tmp_path / "p"
    photos.mkdir()
    for i in range(n):
        Image.fromarray(smooth_photo(w, h, i)).save(photos / f"{i}.png")
    return photos


def test_cli_methods_choose_the_rows_and_lpips_is_scored(tmp_path, model_dir, monkeypatch):
    """`restore bench --methods biharmonic` gives that classical row alone, and LPIPS columns come with the
    LPIPS network (here a random one, as the real weights need not be on a test machine)."""
    import restore.cli as cli

    monkeypatch.setattr(cli, "_lpips_or_note", lambda weights: (_random_model(), None))
    photos, out = _photo_dir(tmp_path), tmp_path / "b"
    res = CliRunner().invoke(main, ["bench", "--photos", str(photos), "--model", str(model_dir),
                                    "--methods", "biharmonic", "-o", str(out)])
    assert res.exit_code == 0, res.output
    rows = json.loads((out / "summary.json").read_text())["rows"]
    assert "scikit-image biharmonic" in rows and not any("Telea" in r or "xphoto" in r for r in rows)
    assert all(np.isfinite(r["lpips_hole"]) for r in rows.values())
    assert "LPIPS" in (out / "summary.md").read_text()


def test_cli_native_without_lpips_says_so(tmp_path, model_dir, monkeypatch):
    import restore.cli as cli

    monkeypatch.setattr(cli, "_lpips_or_note", lambda weights: (None, "weights file not found: x.safetensors"))
    photos, out = _photo_dir(tmp_path), tmp_path / "b"
    res = CliRunner().invoke(main, ["bench", "--photos", str(photos), "--model", str(model_dir), "--size", "native",
                                    "--methods", "biharmonic", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "note: LPIPS left out: weights file not found: x.safetensors" in res.stderr
    rows = json.loads((out / "summary.json").read_text())["rows"]
    assert set(rows["rect"]) == {"full model", "scikit-image biharmonic"}
    assert "lpips_hole" not in rows["rect"]["full model"]


def test_cli_unknown_method_is_a_one_line_error(tmp_path, model_dir):
    photos = _photo_dir(tmp_path)
    res = CliRunner().invoke(main, ["bench", "--photos", str(photos), "--model", str(model_dir), "--methods", "telea,lama"])
    assert res.exit_code == 2
    assert "unknown classical method 'lama'" in res.output and "biharmonic, telea, shiftmap, fsr" in res.output


def test_summary_json_is_strict_json_with_null_for_scores_not_taken(tmp_path):
    from restore.eval.report import write_summary

    write_summary(tmp_path, "| x |", {"n": 1}, {"spots": {"f1": float("nan"), "max": float("inf"), "ok": 0.5}}, ["a"], [])

    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    doc = json.loads((tmp_path / "summary.json").read_text(), parse_constant=refuse)
    assert doc["rows"]["spots"] == {"f1": None, "max": None, "ok": 0.5}


def test_lpips_weights_asked_for_by_name_must_be_usable_and_a_bad_output_fails_first(tmp_path, model_dir, monkeypatch):
    from restore.eval import lpips

    photos = _photo_dir(tmp_path)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not weights")
    for args, env in ((["--lpips-weights", str(junk)], None), ([], str(tmp_path / "absent.safetensors"))):
        if env:
            monkeypatch.setenv(lpips.ENV, env)
        res = CliRunner().invoke(main, ["bench", "--photos", str(photos), "--model", str(model_dir), *args,
                                        "-o", str(tmp_path / "b")])
        assert res.exit_code == 1 and "LPIPS" in res.output and "preparing images" not in res.output, res.output
    monkeypatch.delenv(lpips.ENV)
    (tmp_path / "afile").write_text("")
    res = CliRunner().invoke(main, ["bench", "--photos", str(photos), "--model", str(model_dir), "-o",
                                    str(tmp_path / "afile")])
    assert res.exit_code == 1 and f"-o {tmp_path / 'afile'}: cannot create the results folder" in res.output
    assert "preparing images" not in res.output  # refused before any work began


def test_photos_and_their_masks_side_by_side_in_the_bench(tmp_path, model_dir):
    photos = _photo_dir(tmp_path)
    for p in list(photos.iterdir()):
        mask = Image.new("L", Image.open(p).size, 0)
        mask.paste(255, (20, 30, 40, 50))
        mask.save(photos / f"{p.stem}_mask.png")
    res = CliRunner().invoke(main, ["bench", "--photos", str(photos), "--masks", str(photos), "--model",
                                    str(model_dir), "--no-classical", "-o", str(tmp_path / "b")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["meta"]["images"] == 2
    (photos / "1_mask.png").unlink()  # 1.png has no mask now: it is not its own
    res = CliRunner().invoke(main, ["bench", "--photos", str(photos), "--masks", str(photos), "--model",
                                    str(model_dir), "--no-classical", "-o", str(tmp_path / "b2")])
    assert res.exit_code == 1 and f"{photos / '1.png'}: no mask with the same name" in res.output


def test_options_the_chosen_protocol_does_not_read_are_refused(tmp_path, model_dir):
    photos = _photo_dir(tmp_path)
    for args, named in ((["--texture", "none", "--smooth-thin", "3"], "--smooth-thin, --texture: not read by --size 64"),
                        (["--size", "native", "--mask-kind", "strokes"], "--mask-kind: not read by --size native"),
                        (["--damage", "--methods", "telea"], "--methods: not read by --damage"),
                        (["--damage-model", "damage"], "--damage-model: not read by --size 64"),
                        (["--no-detail"], "--no-detail: not read by --size 64"),
                        (["--size", "native", "--masks", str(photos)], "--masks: not read by --size native")):
        res = CliRunner().invoke(main, ["bench", "--photos", str(photos), "--model", str(model_dir), *args,
                                        "-o", str(tmp_path / "b")])
        assert res.exit_code == 2 and named in res.output, res.output
        assert not (tmp_path / "b").exists()  # refused before the results folder is made


def test_ssim_of_a_photo_smaller_than_its_window_is_nan_not_an_error():
    import math

    import numpy as np

    from restore.eval.metrics import ssim

    line = np.zeros((1, 300, 3), np.uint8)
    assert math.isnan(ssim(line, line)) and math.isnan(ssim(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8), True))
    assert ssim(np.zeros((7, 7, 3), np.uint8), np.zeros((7, 7, 3), np.uint8)) == 1.0
