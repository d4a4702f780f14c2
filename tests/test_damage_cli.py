"""--detect-damage through restore run, restore masks and restore.detect_damage; the detector's release
path (save, load, kinds kept apart); and a tiny `restore-train damage` run exported and used."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import restore
from restore import hub
from restore.cli import main
from restore.damage.detector import DamageDetector, DetectorConfig, probabilities

from .conftest import write_mask, write_photo


def _detector(bias: float, seed: int = 0) -> DamageDetector:
    """A detector whose answer is known: every pixel damaged (bias > 0) or none (bias < 0)."""
    torch.manual_seed(seed)
    net = DamageDetector(DetectorConfig(widths=(4, 8, 8)))
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.head.bias.fill_(bias)
    return net.eval()


@pytest.fixture(scope="module")
def detectors(tmp_path_factory):
    root = tmp_path_factory.mktemp("detectors")
    hub.save_pretrained(_detector(-10.0), root / "none")
    hub.save_pretrained(_detector(10.0), root / "all")
    torch.manual_seed(1)
    hub.save_pretrained(DamageDetector(DetectorConfig(widths=(4, 8, 8))).eval(), root / "random")
    return root


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_a_photo_with_no_damage_comes_out_byte_for_byte(tmp_path, model_dir, detectors):
    photos = tmp_path / "photos"
    write_photo(photos / "a.png", 40, 48)
    Image.fromarray(np.asarray(Image.open(photos / "a.png"))).save(photos / "b.jpg", quality=90)
    res = run("run", photos, "-o", tmp_path / "out", "--model", model_dir, "--detect-damage", "--damage-model",
              detectors / "none")
    assert res.exit_code == 0, res.output
    assert "2 restored, 0 skipped, 0 failed" in res.output
    for name in ("a.png", "b.jpg"):
        assert (tmp_path / "out" / name).read_bytes() == (photos / name).read_bytes()
        mask = np.asarray(Image.open(tmp_path / "out" / f"{Path(name).stem}_mask.png"))
        assert mask.shape == (40, 48) and not mask.any()


def test_detected_damage_is_filled_and_saved(tmp_path, model_dir, detectors):
    photos = tmp_path / "photos"
    write_photo(photos / "a.png", 40, 48)
    res = run("run", photos, "-o", tmp_path / "out", "--model", model_dir, "--detect-damage", "--damage-model",
              detectors / "all", "--concat")
    assert res.exit_code == 0, res.output
    mask = np.asarray(Image.open(tmp_path / "out" / "a_mask.png"))
    assert mask.all()
    assert (tmp_path / "out" / "a_compare.png").exists()
    before, after = np.asarray(Image.open(photos / "a.png")), np.asarray(Image.open(tmp_path / "out" / "a.png"))
    assert (before != after).any()


def test_given_and_detected_holes_are_both_filled(tmp_path, model_dir, detectors):
    photos, masks = tmp_path / "photos", tmp_path / "masks"
    write_photo(photos / "a.png", 40, 48)
    write_photo(photos / "b.png", 40, 48, seed=1)  # no mask of its own: the detector's alone
    write_mask(masks / "a.png", 40, 48, box=(10, 10, 20, 22))
    res = run("run", photos, "--masks", masks, "-o", tmp_path / "out", "--model", model_dir, "--detect-damage",
              "--damage-model", detectors / "none", "--dilate", "1")
    assert res.exit_code == 0, res.output
    assert "2 restored" in res.output
    saved = np.asarray(Image.open(tmp_path / "out" / "a_mask.png")) > 127
    expected = np.zeros((40, 48), bool)
    expected[9:21, 9:23] = True  # the drawn box, grown by --dilate 1 (a round brush: not into the corners)
    expected[[9, 9, 20, 20], [9, 22, 9, 22]] = False
    np.testing.assert_array_equal(saved, expected)
    before, after = np.asarray(Image.open(photos / "a.png")), np.asarray(Image.open(tmp_path / "out" / "a.png"))
    np.testing.assert_array_equal(before[~expected], after[~expected])
    assert (before[expected] != after[expected]).any()
    assert (tmp_path / "out" / "b.png").read_bytes() == (photos / "b.png").read_bytes()


def test_masks_command_writes_what_run_fills(tmp_path, model_dir, detectors):
    photos = tmp_path / "photos"
    write_photo(photos / "a.png", 37, 45)
    # (at 0.55 the random detector flags a part of the photo, not all of it: a mask of nothing but hole is refused)
    res = run("masks", photos, "-o", tmp_path / "masks", "--detect-damage", "--damage-model", detectors / "random",
              "--overlay", "--damage-threshold", 0.55)
    assert res.exit_code == 0, res.output
    assert "1 mask written" in res.output
    written = np.asarray(Image.open(tmp_path / "masks" / "a_mask.png")) > 127
    assert 0 < written.mean() < 1
    # --overlay: the photo with what the mask covers in magenta, the rest as it is.
    overlay, rgb = np.asarray(Image.open(tmp_path / "masks" / "a_overlay.png")), np.asarray(Image.open(photos / "a.png"))
    assert written.any() and (overlay[written] == [255, 0, 255]).all()
    np.testing.assert_array_equal(overlay[~written], rgb[~written][:, :3])
    res = run("run", photos, "-o", tmp_path / "out", "--model", model_dir, "--detect-damage", "--damage-model",
              detectors / "random", "--damage-threshold", 0.55)
    assert res.exit_code == 0, res.output
    np.testing.assert_array_equal(written, np.asarray(Image.open(tmp_path / "out" / "a_mask.png")) > 127)
    direct = restore.detect_damage(np.asarray(Image.open(photos / "a.png")), model=str(detectors / "random"),
                                   threshold=0.55)
    np.testing.assert_array_equal(written, direct)
    # README's review route: the masks filled as --detect-damage fills what it finds, to the byte.
    res = run("run", photos, "--masks", tmp_path / "masks", "--smooth-thin", 9, "--texture", "none", "--no-detail", "-o",
              tmp_path / "out2", "--model", model_dir)
    assert res.exit_code == 0, res.output
    assert "overlay" not in res.output  # the overlay beside each mask is not a mask without a photo
    assert (tmp_path / "out2" / "a.png").read_bytes() == (tmp_path / "out" / "a.png").read_bytes()
    by_python = restore.inpaint(Image.open(photos / "a.png"), direct, model=str(model_dir), smooth_thin=9, texture="none",
                                detail=False)
    np.testing.assert_array_equal(np.asarray(by_python), np.asarray(Image.open(tmp_path / "out" / "a.png")))


def test_detected_damage_is_filled_without_the_borrowed_detail_unless_asked(tmp_path, detectors):
    """--detect-damage fills what it finds without detail.py's borrowed detail, even for a model whose own setting
    is detail (as closely, in about half the time, docs/damage.md); --detail brings it back."""
    from dataclasses import replace

    from .conftest import tiny_model

    model = tiny_model()
    model.cfg = replace(model.cfg, detail=True)  # as photo and celeba; a copy: the tiny models share one config
    model_dir = tmp_path / "model"
    hub.save_pretrained(model, model_dir)
    photos = tmp_path / "photos"
    write_photo(photos / "a.png", 150, 200)
    write_mask(tmp_path / "masks" / "a.png", 150, 200, box=(60, 40, 110, 80))  # wide: filled by the networks
    outs = {}
    for label, extra in (("default", []), ("detail", ["--detail"]), ("none", ["--no-detail"])):
        res = run("run", photos, "--masks", tmp_path / "masks", "-o", tmp_path / label, "--model", model_dir,
                  "--detect-damage", "--damage-model", detectors / "none", *extra)
        assert res.exit_code == 0, res.output
        outs[label] = (tmp_path / label / "a.png").read_bytes()
    assert outs["default"] == outs["none"] and outs["default"] != outs["detail"]


def test_damage_fill_takes_the_users_settings_first():
    from restore.damage.fill import DAMAGE_THIN_PX, FILL, DamageFill

    assert FILL == DamageFill(DAMAGE_THIN_PX, False, "")
    assert FILL.given() == FILL
    assert FILL.given(smooth_thin=0, detail=True, texture="texture") == DamageFill(0.0, True, "texture")
    assert FILL.given(texture="none") == FILL.given(texture="off") == FILL  # as --texture spells none


def test_run_and_bench_fill_detected_damage_as_fill_py_says(tmp_path, monkeypatch, detectors):
    """restore run --detect-damage and restore bench --damage take their fill from restore/damage/fill.py, one place:
    changing a setting there changes the fill as the option that sets it does."""
    from dataclasses import replace

    from restore.damage import fill

    from .conftest import tiny_model

    model = tiny_model()
    model.cfg = replace(model.cfg, detail=False)  # so that only FILL can bring detail in; a copy: the config is shared
    model_dir = tmp_path / "model"
    hub.save_pretrained(model, model_dir)
    photos = tmp_path / "photos"
    write_photo(photos / "a.png", 150, 200)
    mask = np.zeros((150, 200), np.uint8)
    mask[60:110, 40:80] = 255  # wide: filled by the networks, with or without detail
    mask[20:23, 100:190] = 255  # 3 px thin: interpolated at smooth_thin 9, through the networks at 0
    (tmp_path / "masks").mkdir()
    Image.fromarray(mask).save(tmp_path / "masks" / "a.png")
    args = ("run", photos, "--masks", tmp_path / "masks", "--model", model_dir, "--detect-damage", "--damage-model",
            detectors / "none")

    def filled(name, *extra):
        res = run(*args, "-o", tmp_path / name, *extra)
        assert res.exit_code == 0, res.output
        return (tmp_path / name / "a.png").read_bytes()

    default, original = filled("default"), fill.FILL
    for name, change, option in (("detail", {"detail": True}, ["--detail"]),
                                 ("smooth", {"smooth_thin": 0.0}, ["--smooth-thin", 0])):
        asked = filled(f"{name}-asked", *option)
        monkeypatch.setattr(fill, "FILL", replace(original, **change))
        assert filled(f"{name}-changed") == asked != default
        monkeypatch.setattr(fill, "FILL", original)
    monkeypatch.setattr(fill, "FILL", replace(original, smooth_thin=3.0))
    res = run("bench", "--damage", "--photos", photos, "--model", model_dir, "--damage-model", detectors / "none",
              "--no-classical", "-o", tmp_path / "bench")
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "bench" / "summary.json").read_text())["meta"]["smooth_thin"] == 3.0


def test_detect_side_reads_a_large_photo_from_a_smaller_copy(tmp_path, model_dir, detectors):
    """--detect-side PX (restore run and restore masks) and max_side= (restore.detect_damage) read a photo longer
    than PX from a copy brought down to PX; the same masks by every route, and others than at the photo's own size."""
    import shutil

    photos = tmp_path / "photos"
    write_photo(photos / "a.png", 40, 48)
    # The random detector with its line drawn at the median of what it says of this photo, nothing grown or
    # dropped: half of it is damage.
    detector = tmp_path / "half"
    shutil.copytree(detectors / "random", detector)
    cfg = json.loads((detector / "config.json").read_text())
    net, _ = hub.load(str(detector), kind="damage")
    cfg["threshold"] = float(np.median(probabilities(net, np.asarray(Image.open(photos / "a.png").convert("RGB")))))
    cfg["grow"], cfg["min_area"] = 0, 1
    (detector / "config.json").write_text(json.dumps(cfg))
    masks = {}
    for side in (0, 24):
        res = run("masks", photos, "-o", tmp_path / f"m{side}", "--detect-damage", "--damage-model", detector,
                  "--detect-side", side)
        assert res.exit_code == 0, res.output
        masks[side] = np.asarray(Image.open(tmp_path / f"m{side}" / "a_mask.png")) > 127
        res = run("run", photos, "-o", tmp_path / f"o{side}", "--model", model_dir, "--detect-damage", "--damage-model",
                  detector, "--detect-side", side)
        assert res.exit_code == 0, res.output
        np.testing.assert_array_equal(masks[side], np.asarray(Image.open(tmp_path / f"o{side}" / "a_mask.png")) > 127)
        direct = restore.detect_damage(Image.open(photos / "a.png"), model=str(detector), max_side=side)
        np.testing.assert_array_equal(masks[side], direct)
    assert masks[0].shape == masks[24].shape == (40, 48) and 0.2 < masks[0].mean() < 0.9 and (masks[0] != masks[24]).any()
    for command in (["run", photos, "-o", tmp_path / "o", "--model", model_dir], ["masks", photos, "-o", tmp_path / "m"]):
        res = run(*command, "--detect-side", 24)
        assert res.exit_code == 2 and "--detect-side sets how --detect-damage reads the photos" in res.output


def test_damage_threshold_moves_the_line(tmp_path, model_dir, detectors):
    """--damage-threshold P (restore run, restore masks) and threshold= (restore.detect_damage) flag what the detector
    puts above P, the same by every route: lower flags more; out of range, or without --detect-damage, is refused."""
    from restore.damage.detector import to_mask

    photos = tmp_path / "photos"
    write_photo(photos / "a.png", 40, 48)
    rgb = np.asarray(Image.open(photos / "a.png").convert("RGB"))
    net, _ = hub.load(str(detectors / "random"), kind="damage")
    prob = probabilities(net, rgb)
    found = {}
    for q in (0.3, 0.7):
        p = float(np.quantile(prob, q))
        res = run("masks", photos, "-o", tmp_path / f"m{q}", "--detect-damage", "--damage-model", detectors / "random",
                  "--damage-threshold", p)
        assert res.exit_code == 0, res.output
        found[q] = np.asarray(Image.open(tmp_path / f"m{q}" / "a_mask.png")) > 127
        np.testing.assert_array_equal(found[q], to_mask(prob, net.cfg, threshold=p))
        res = run("run", photos, "-o", tmp_path / f"o{q}", "--model", model_dir, "--detect-damage", "--damage-model",
                  detectors / "random", "--damage-threshold", p)
        assert res.exit_code == 0, res.output
        assert f"threshold {p:g}" in res.output  # the line it drew is said
        np.testing.assert_array_equal(found[q], np.asarray(Image.open(tmp_path / f"o{q}" / "a_mask.png")) > 127)
        direct = restore.detect_damage(rgb, model=str(detectors / "random"), threshold=p)
        np.testing.assert_array_equal(found[q], direct)
    assert found[0.3].sum() > found[0.7].sum() and (found[0.3] | found[0.7]).sum() == found[0.3].sum()
    for command in (["run", photos, "-o", tmp_path / "o", "--model", model_dir], ["masks", photos, "-o", tmp_path / "m"]):
        res = run(*command, "--damage-threshold", 0.5)
        assert res.exit_code == 2 and "--damage-threshold sets how --detect-damage reads the photos" in res.output
        for bad in (1, 0, "nan", "abc"):
            res = run(*command, "--detect-damage", "--damage-model", detectors / "random", "--damage-threshold", bad)
            assert res.exit_code == 2 and "--damage-threshold" in res.output
    for bad in (1.5, 0, "abc", float("nan")):
        with pytest.raises(ValueError, match=f"damage threshold {bad!r}: give a probability between 0 and 1"):
            restore.detect_damage(rgb, model=str(detectors / "random"), threshold=bad)
    for bad in (-1, 0.5):
        with pytest.raises(ValueError, match=f"max_side {bad!r}: give a side in pixels"):
            restore.detect_damage(rgb, model=str(detectors / "random"), max_side=bad)
    res = run("masks", photos, "-o", tmp_path / "m1", "--threads", 1)
    assert res.exit_code == 2 and "--threads sets how --detect-damage reads the photos" in res.output
    # Refused before anything is written: no output folder is left behind.
    res = run("run", photos, "-o", tmp_path / "never", "--model", model_dir, "--damage-threshold", 0.5)
    assert res.exit_code == 2 and not (tmp_path / "never").exists()


def test_detect_enlarge_sets_the_enlarged_reading(tmp_path, model_dir, detectors):
    """--detect-enlarge X (restore run, restore masks) averages in a copy X times larger, 0 leaves it out; by every
    route the same mask as the detector with that setting; a factor of 1 or less, or without --detect-damage, is
    refused."""
    import shutil

    from restore.damage.detector import detect

    photos = tmp_path / "photos"
    write_photo(photos / "a.png", 40, 48)
    rgb = np.asarray(Image.open(photos / "a.png").convert("RGB"))
    # The random detector drawing its line at the median of what it says of this photo, nothing grown or dropped:
    # half of it is damage, and masks that differ show it.
    detector = tmp_path / "half"
    shutil.copytree(detectors / "random", detector)
    net, _ = hub.load(str(detector), kind="damage")
    cfg = json.loads((detector / "config.json").read_text())
    cfg.update(threshold=float(np.median(probabilities(net, rgb))), grow=0, min_area=1)
    (detector / "config.json").write_text(json.dumps(cfg))
    net, _ = hub.load(str(detector), kind="damage")
    masks = {}
    for x in (0, 1.5):
        net.cfg.enlarge = x
        expected = detect(net, rgb)
        res = run("masks", photos, "-o", tmp_path / f"m{x}", "--detect-damage", "--damage-model", detector,
                  "--detect-enlarge", x)
        assert res.exit_code == 0, res.output
        masks[x] = np.asarray(Image.open(tmp_path / f"m{x}" / "a_mask.png")) > 127
        np.testing.assert_array_equal(masks[x], expected)
        res = run("run", photos, "-o", tmp_path / f"o{x}", "--model", model_dir, "--detect-damage", "--damage-model",
                  detector, "--detect-enlarge", x)
        assert res.exit_code == 0, res.output
        np.testing.assert_array_equal(masks[x], np.asarray(Image.open(tmp_path / f"o{x}" / "a_mask.png")) > 127)
        np.testing.assert_array_equal(masks[x], restore.detect_damage(rgb, model=str(detector), enlarge=x))
    assert (masks[0] != masks[1.5]).any()
    for bad in (1, 0.5, -1, 4.5, 1e9):
        res = run("masks", photos, "-o", tmp_path / "mb", "--detect-damage", "--damage-model", detectors / "random",
                  "--detect-enlarge", bad)
        assert res.exit_code == 2 and "--detect-enlarge" in res.output
    res = run("masks", photos, "-o", tmp_path / "mb", "--detect-enlarge", 1.5)
    assert res.exit_code == 2 and "--detect-enlarge sets how --detect-damage reads the photos" in res.output


def test_bench_damage_scores_every_threshold(tmp_path, model_dir, detectors):
    """restore bench --damage adds the sensitivity table: the same prints at each threshold, the one used marked;
    recall falls and false alarms fall as the threshold rises."""
    photos = tmp_path / "photos"
    for i in range(2):
        write_photo(photos / f"p{i}.png", 72, 80, seed=i)
    out = tmp_path / "bench"
    res = run("bench", "--damage", "--photos", photos, "--model", model_dir, "--damage-model", detectors / "random",
              "--damage-threshold", 0.45, "--no-classical", "-o", out)
    from restore.eval.damage import sweep_thresholds

    assert sweep_thresholds(0.12345) == (0.12345, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)  # its own, exactly
    assert sweep_thresholds(0.4) == (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
    assert res.exit_code == 0, res.output
    md = (out / "summary.md").read_text()
    assert "| threshold | scratches, cracks | dust, specks | mixed | false alarms: mean / max | mixed, filled: PSNR dB |" in md
    assert "| 0.45 (used above) |" in md and "| 0.2 |" in md and "| 0.7 |" in md
    summary = json.loads((out / "summary.json").read_text())
    sweep = summary["rows"]["sensitivity"]
    assert list(sweep) == ["0.2", "0.3", "0.4", "0.45", "0.5", "0.6", "0.7"]
    assert summary["meta"]["damage_threshold"] == 0.45
    recalls = [sweep[t]["lines"]["recall"] for t in sweep]
    alarms = [sweep[t]["false_alarms"]["mean"] for t in sweep]
    assert recalls == sorted(recalls, reverse=True) and alarms == sorted(alarms, reverse=True)
    assert recalls[0] > recalls[-1] and alarms[0] > alarms[-1]
    assert sweep["0.45"]["lines"]["f1"] == pytest.approx(summary["rows"]["detection"]["lines"]["f1"])
    restored = summary["rows"]["restoration"]
    assert sweep["0.45"]["restored_psnr"] == pytest.approx(restored["detected + restore"]["psnr"])
    assert sweep["0.2"]["restored_psnr"] != sweep["0.7"]["restored_psnr"]  # every pixel filled, against none
    assert sweep["0.7"]["restored_psnr"] == pytest.approx(restored["damaged, untouched"]["psnr"])
    res = run("bench", "--photos", photos, "--model", model_dir, "--damage-threshold", 0.45)
    assert res.exit_code == 2 and "--damage-threshold sets the detector of --damage" in res.output


def test_detect_damage_from_python(detectors):
    rgb = np.zeros((33, 40, 3), np.uint8)
    mask = restore.detect_damage(rgb, model=str(detectors / "all"))
    assert mask.dtype == bool and mask.shape == (33, 40) and mask.all()
    assert not restore.detect_damage(Image.fromarray(rgb).convert("L"), model=str(detectors / "none")).any()
    assert not restore.detect_damage(rgb.astype(np.uint16) * 257, model=str(detectors / "none")).any()
    with pytest.raises(ValueError, match="give uint8, uint16 or float"):
        restore.detect_damage(np.zeros((4, 4, 2), np.uint8), model=str(detectors / "none"))
    # a float image in [0, 1] is seen as its 8-bit copy is
    assert restore.detect_damage(rgb / 255.0, model=str(detectors / "all")).all()


def test_models_of_the_other_kind_are_refused(tmp_path, model_dir, detectors):
    photos = tmp_path / "photos"
    write_photo(photos / "a.png", 32, 32)
    res = run("run", photos, "-o", tmp_path / "out", "--model", model_dir, "--detect-damage", "--damage-model", model_dir)
    assert res.exit_code == 1
    assert f"--damage-model {model_dir}: this is an inpainting model; give it to --model" in res.output
    res = run("run", photos, "-o", tmp_path / "out", "--model", detectors / "none")
    assert res.exit_code == 1
    assert "this is a damage detector; give it to --damage-model" in res.output
    res = run("run", photos, "-o", tmp_path / "out", "--model", model_dir, "--detect-damage", "--damage-model", "nope")
    assert res.exit_code == 1
    assert "--damage-model nope: no such file or folder, and not a released model (known: damage)" in res.output
    with pytest.raises(ValueError, match="^model='nope': no such file or folder, and not a released model .known: dam"):
        restore.detect_damage(np.zeros((8, 8, 3), np.uint8), model="nope")


def test_save_load_gives_the_same_probabilities(tmp_path):
    torch.manual_seed(3)
    net = DamageDetector(DetectorConfig(widths=(4, 8, 8))).eval()
    digests = hub.save_pretrained(net, tmp_path, half=False)
    loaded = hub.load_pretrained(tmp_path, digests)
    rgb = np.random.default_rng(0).integers(0, 256, (30, 41, 3), dtype=np.uint8)
    np.testing.assert_array_equal(probabilities(net, rgb), probabilities(loaded, rgb))
    assert loaded.cfg == net.cfg


def test_the_released_detector_is_listed_and_verified():
    assert hub.REGISTRY[hub.DEFAULT_DETECTOR].kind == "damage"
    net, where = hub.load(hub.DEFAULT_DETECTOR, kind="damage")
    assert isinstance(net, DamageDetector) and where.source in ("bundled", "hub-cache")
    assert (where.folder / "model.safetensors").stat().st_size < 5e6
    res = run("models")
    assert res.exit_code == 0 and "damage\t" in res.output and "a damage detector (--damage-model)" in res.output


def test_train_export_and_use_a_tiny_detector(tmp_path, model_dir):
    from trainer.cli import main as train_main

    for i in range(12):
        write_photo(tmp_path / "data" / "natural" / f"p{i:02d}.png", 70, 90, seed=i)
    run_dir = tmp_path / "run"
    args = ["damage", "--data-dir", tmp_path / "data", "--run-dir", run_dir, "--epochs", "1", "--steps-per-epoch", "2",
            "--batch-size", "2", "--crop", "32", "--monitor-crops", "4", "--threads", "1"]
    res = CliRunner().invoke(train_main, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    assert (run_dir / "damage" / "last.pt").exists() and (run_dir / "damage" / "metrics.csv").exists()
    assert "restore-train damage --data-dir" in (run_dir / "command.txt").read_text()
    res = CliRunner().invoke(train_main, ["damage", "--resume", str(run_dir), "--epochs", "2"])
    assert res.exit_code == 1 and "drop the flags that change it: ['epochs']" in res.output
    res = CliRunner().invoke(train_main, ["export", str(run_dir), "--name", "tiny", "--flips", "h,x"])
    assert res.exit_code == 1 and "--flips h,x: x is not one of h, v, hv (or none)" in res.output
    res = CliRunner().invoke(train_main, ["export", str(run_dir), "--name", "tiny", "--data-dir", str(tmp_path / "data"),
                                          "--n", "1", "--threshold", "0.4", "--flips", "h,v", "--max-side", "512",
                                          "--enlarge", "1.5"])
    assert res.exit_code == 0, res.output
    folder = run_dir / "export" / "tiny"
    card = (folder / "README.md").read_text()
    assert "damage detector" in card and "CPU-hours" in card and "| lines |" in card
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["threshold"] == 0.4 and cfg["flips"] == ["h", "v"] and cfg["max_side"] == 512 and cfg["enlarge"] == 1.5
    assert f"restore-train export {run_dir} --name tiny --threshold 0.4 --flips h,v --max-side 512 --enlarge 1.5" in card
    assert "averaged with one of a copy 1.5 times larger, read once" in card
    assert "a photo whose long side is over 512 px is also read from a copy brought down to it" in card
    assert ("where its probability, averaged over the photo and its mirror images (left to right, top to bottom), "
            "is above 0.4;") in card
    # A run started from the release takes its lineage (commands and hours) from the release's card.
    (folder / "README.md").write_text(re.sub(r"training: [0-9.]+ CPU-hours", "training: 1.25 CPU-hours", card))
    res = CliRunner().invoke(train_main, [str(a) for a in [*args[:4], tmp_path / "run2", *args[5:], "--init", folder,
                                                            "--crack-odds", "1", "--crack-light", "0"]])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(train_main, ["export", str(tmp_path / "run2"), "--name", "tiny2", "--data-dir",
                                          str(tmp_path / "data"), "--n", "1"])
    assert res.exit_code == 0, res.output
    card2 = (tmp_path / "run2" / "export" / "tiny2" / "README.md").read_text()
    assert f"# how {folder} was trained (from its card):" in card2
    import hashlib

    digest = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    assert f"# --init {folder} below was the release whose model.safetensors has sha256 {digest}" in card2
    assert card2.count("restore-train damage --data-dir") == 2 and "--crack-light 0" in card2
    assert "100% of damaged crops had cracks (0% of them light)" in card2
    assert 1.25 <= float(re.search(r"training: ([0-9.]+) CPU-hours", card2).group(1)) < 1.3
    photos = tmp_path / "photos"
    write_photo(photos / "a.png", 40, 48)
    res = run("run", photos, "-o", tmp_path / "out", "--model", model_dir, "--detect-damage", "--damage-model", folder)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / "a_mask.png").exists()


def test_masks_command_refuses_two_photos_for_one_mask_file(tmp_path):
    """x.jpg and x.png would both write x_mask.png: the second is an error naming the file, not a silent skip
    (or, with --overwrite, a replaced mask)."""
    photos = tmp_path / "photos"
    write_photo(photos / "x.png", 30, 30)
    Image.open(photos / "x.png").save(photos / "x.jpg")
    for extra in ([], ["--overwrite"]):
        res = run("masks", photos, "-o", tmp_path / "m", *extra)
        assert res.exit_code == 1
        assert f"its mask would be {tmp_path / 'm' / 'x_mask.png'}, which" in res.output
