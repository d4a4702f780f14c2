import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from restore.cli import main
from restore.io.masks import read_mask

from .conftest import write_mask, write_photo


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def folder(tmp_path):
    photos, masks = tmp_path / "photos", tmp_path / "masks"
    write_photo(photos / "a.png", 80, 100)
    write_photo(photos / "b.jpg", 64, 64, seed=1)
    write_photo(photos / "c.png", 90, 50, mode="RGBA", seed=2)
    write_photo(photos / "d.png", 70, 70, mode="L", seed=3)
    write_mask(masks / "a.png", 80, 100)
    write_mask(masks / "b_mask.png", 64, 64)
    write_mask(masks / "c.png", 90, 50)
    write_mask(masks / "d.jpg", 70, 70)
    return photos, masks


def test_an_output_folder_above_the_photos_still_finds_them(folder, tmp_path, model_dir):
    photos, masks = folder
    res = run("run", photos, "--masks", masks, "-o", tmp_path, "--model", model_dir)  # tmp_path holds photos/
    assert res.exit_code == 0, res.output
    assert res.stdout.strip().splitlines()[-1] == "4 restored, 0 skipped, 0 failed"
    assert (tmp_path / "a.png").exists() and (tmp_path / "b.jpg").exists()


def test_photos_and_their_masks_side_by_side(tmp_path, model_dir):
    both = tmp_path / "both"
    write_photo(both / "a.png", 40, 50)
    write_photo(both / "b.png", 40, 50, seed=1)
    write_mask(both / "a_mask.png", 40, 50)
    res = run("run", both, "--masks", both, "-o", tmp_path / "out", "--model", model_dir)
    assert res.exit_code == 0, res.output
    assert res.stdout.strip().splitlines()[-1] == "1 restored, 1 skipped, 0 failed"  # b has no mask: skipped
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png"]  # a_mask.png is a mask, not a photo
    assert f"b.png: no mask named b_mask.* in {both}" in res.stderr  # beside the photos only _mask names are masks


def test_output_over_the_masks_is_refused_and_they_are_kept(folder, tmp_path, model_dir):
    photos, masks = folder
    before = {p.name: p.read_bytes() for p in masks.iterdir()}
    res = run("run", photos, "--masks", masks, "-o", masks, "--overwrite", "--model", model_dir)
    assert res.exit_code == 2 and f"-o {masks} is the masks folder" in res.output
    assert {p.name: p.read_bytes() for p in masks.iterdir()} == before
    # One mask for every photo, in the output folder under the name of a photo's output: refused before it begins.
    shared = masks / "a.png"
    res = run("run", photos, "--masks", shared, "-o", masks, "--overwrite", "--model", model_dir)
    assert res.exit_code == 2 and f"would write over the input {shared}" in res.output
    assert {p.name: p.read_bytes() for p in masks.iterdir()} == before
    # A photo named on its own, into its own folder.
    res = run("run", photos / "a.png", "--masks", masks, "-o", photos, "--overwrite", "--model", model_dir)
    assert res.exit_code == 2 and f"would overwrite the input {photos / 'a.png'}" in res.output


def test_masks_named_after_no_photo_are_an_error_not_a_quiet_skip(folder, tmp_path, model_dir):
    photos, _ = folder
    wrong = tmp_path / "wrong"
    write_mask(wrong / "mask_a.png", 80, 100)
    res = run("run", photos, "--masks", wrong, "-o", tmp_path / "out", "--model", model_dir)
    assert res.exit_code == 2
    assert f"--masks {wrong}: no mask is named after a photo (it holds mask_a.png)" in res.output
    assert "the mask of a.jpg is a.png or a_mask.png" in res.output and not (tmp_path / "out").exists()
    # Beside the photos, a plain a.png is a photo: the hint says so.
    res = run("run", photos, "--masks", photos, "-o", tmp_path / "out", "--model", model_dir)
    assert res.exit_code == 2 and "beside its photo, the mask of a.jpg is a_mask.png" in res.output
    # With --recursive, masks mirror the sub-folders.
    write_photo(tmp_path / "deep" / "sub" / "a.png", 30, 30)
    write_mask(tmp_path / "flat" / "a.png", 30, 30)
    res = run("run", tmp_path / "deep", "--recursive", "--masks", tmp_path / "flat", "-o", tmp_path / "out",
              "--model", model_dir)
    assert res.exit_code == 2 and "the mask of sub/a.jpg is sub/a.png" in res.output
    # A photo of a sub-folder without its mask: the skip says where its mask was looked for.
    write_mask(tmp_path / "flat" / "sub" / "a.png", 30, 30)
    write_photo(tmp_path / "deep" / "sub" / "b.png", 30, 30)
    res = run("run", tmp_path / "deep", "--recursive", "--masks", tmp_path / "flat", "-o", tmp_path / "out",
              "--model", model_dir)
    assert res.exit_code == 0 and res.stdout.strip().splitlines()[-1] == "1 restored, 1 skipped, 0 failed"
    assert f"b.png: no mask named b.* or b_mask.* in {tmp_path / 'flat' / 'sub'}" in res.stderr


def test_run_with_masks(folder, tmp_path, model_dir):
    photos, masks = folder
    before = {p.name: p.read_bytes() for p in photos.iterdir()}
    out = tmp_path / "out"
    res = run("run", photos, "--masks", masks, "-o", out, "--model", model_dir)
    assert res.exit_code == 0, res.output
    assert res.stdout.strip().splitlines()[-1] == "4 restored, 0 skipped, 0 failed"
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.jpg", "c.png", "d.png"]
    assert {p.name: p.read_bytes() for p in photos.iterdir()} == before  # inputs untouched
    for name, mask_name in [("a.png", "a.png"), ("c.png", "c.png"), ("d.png", "d.jpg")]:
        src, dst = Image.open(photos / name), Image.open(out / name)
        assert (dst.mode, dst.size, dst.format) == (src.mode, src.size, "PNG")
        m = read_mask(masks / mask_name)  # (a JPEG mask's soft edge is hole too: white over 127 and a pixel or two)
        assert (m >= (np.asarray(Image.open(masks / mask_name).convert("L")) > 127)).all() and m.mean() < 0.5
        assert np.array_equal(np.asarray(src)[~m], np.asarray(dst)[~m])
        assert not np.array_equal(np.asarray(src)[m], np.asarray(dst)[m])
    assert Image.open(out / "b.jpg").format == "JPEG"
    assert not list(out.glob(".*"))  # no temporary files left behind


def test_second_run_skips_and_overwrite_replaces(folder, tmp_path, model_dir):
    photos, masks = folder
    out = tmp_path / "out"
    run("run", photos, "--masks", masks, "-o", out, "--model", model_dir)
    stamp = (out / "a.png").stat().st_mtime_ns
    res = run("run", photos, "--masks", masks, "-o", out, "--model", model_dir)
    assert res.stdout.strip().splitlines()[-1] == "0 restored, 4 skipped, 0 failed"
    assert f"note: 4 photos skipped, their outputs being in {out} already; --overwrite replaces them" in res.stderr
    assert (out / "a.png").stat().st_mtime_ns == stamp
    res = run("run", photos, "--masks", masks, "-o", out, "--model", model_dir, "--overwrite")
    assert res.stdout.strip().splitlines()[-1] == "4 restored, 0 skipped, 0 failed"
    assert "--overwrite replaces" not in res.stderr


def test_drawn_masks_are_saved_and_reproducible(folder, tmp_path, model_dir):
    photos, _ = folder
    r1 = run("run", photos, "-o", tmp_path / "o1", "--model", model_dir, "--seed", "7")
    r2 = run("run", photos / "a.png", "-o", tmp_path / "o2", "--model", model_dir, "--seed", "7")
    assert r1.exit_code == r2.exit_code == 0
    m1 = np.asarray(Image.open(tmp_path / "o1" / "a_mask.png"))
    assert m1.shape == (80, 100) and 0.02 < (m1 > 127).mean() < 0.11
    # the same photo gets the same hole whatever else is in the folder
    assert np.array_equal(m1, np.asarray(Image.open(tmp_path / "o2" / "a_mask.png")))
    assert (tmp_path / "o1" / "a.png").read_bytes() == (tmp_path / "o2" / "a.png").read_bytes()
    res = run("masks", photos, "-o", tmp_path / "m", "--seed", "7")
    assert res.exit_code == 0 and "4 masks written" in res.stdout
    assert np.array_equal(m1, np.asarray(Image.open(tmp_path / "m" / "a_mask.png")))
    res = run("masks", photos, "-o", tmp_path / "m", "--seed", "7")  # again: the masks there are kept, and it says so
    assert res.exit_code == 0 and res.stdout.strip().splitlines()[-1] == "0 masks written, 4 skipped, 0 failed"
    assert f"note: 4 photos skipped, their masks being in {tmp_path / 'm'} already; --overwrite replaces them" in res.stderr


def test_bad_file_does_not_stop_the_batch(folder, tmp_path, model_dir):
    photos, masks = folder
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    write_mask(masks / "broken.png", 10, 10)
    write_photo(photos / "e.png", 33, 33)
    write_mask(masks / "e.png", 20, 30)  # another shape: not a smaller copy of the photo's
    res = CliRunner().invoke(main, ["run", str(photos), "--masks", str(masks), "-o", str(tmp_path / "o"),
                                    "--model", str(model_dir)])
    assert res.exit_code == 1
    assert res.stdout.strip().splitlines()[-1] == "4 restored, 0 skipped, 2 failed"
    assert f"error: {photos / 'broken.png'}: cannot read image" in res.stderr
    assert "e.png: mask is 30x20 but its photo is 33x33" in res.stderr


def test_a_mask_drawn_on_a_smaller_copy_or_named_in_another_case_is_paired(tmp_path, model_dir):
    """A mask drawn on a preview of the photo (its shape, another size) is scaled to it with a note, or refused with
    --strict-masks; a mask whose name differs from its photo's in case only pairs with it when no other does."""
    photos, masks = tmp_path / "p", tmp_path / "m"
    write_photo(photos / "big.png", 60, 80)
    write_photo(photos / "IMG_0001.png", 30, 40)
    masks.mkdir()
    half = np.zeros((30, 40), np.uint8)
    half[10:20, 10:25] = 255
    Image.fromarray(half).save(masks / "big.png")
    write_mask(masks / "img_0001_Mask.png", 30, 40)
    res = run("run", photos, "--masks", masks, "-o", tmp_path / "o", "--model", model_dir)
    assert res.exit_code == 0, res.output
    assert res.stdout.strip().splitlines()[-1] == "2 restored, 0 skipped, 0 failed"
    assert f"big.png: the 40x30 mask is scaled to 80x60, the size of {photos / 'big.png'}" in res.stderr
    src, out = np.asarray(Image.open(photos / "big.png")), np.asarray(Image.open(tmp_path / "o" / "big.png"))
    changed = (src != out).any(axis=2)
    assert changed[20:40, 20:50].any() and not changed[:18].any() and not changed[42:].any()
    assert "no photo" not in res.stderr  # the mask named in another case found its photo
    res = run("run", photos, "--masks", masks, "-o", tmp_path / "o2", "--model", model_dir, "--strict-masks")
    assert res.exit_code == 1 and "big.png: mask is 40x30 but its photo is 80x60" in res.stderr
    assert "Traceback" not in res.output


def test_photo_without_mask_is_skipped_or_strict_failure(folder, tmp_path, model_dir):
    photos, masks = folder
    write_photo(photos / "lonely.png", 40, 40)
    write_mask(masks / "orphan.png", 40, 40)
    res = run("run", photos, "--masks", masks, "-o", tmp_path / "o", "--model", model_dir)
    assert res.exit_code == 0
    assert res.stdout.strip().splitlines()[-1] == "4 restored, 1 skipped, 0 failed"
    assert f"lonely.png: no mask named lonely.* or lonely_mask.* in {masks}" in res.stderr
    assert "orphan.png: mask has no photo" in res.stderr
    res = CliRunner().invoke(main, ["run", str(photos), "--masks", str(masks), "-o", str(tmp_path / "o2"),
                                    "--model", str(model_dir), "--strict-masks"])
    assert res.exit_code == 1 and "4 restored, 0 skipped, 1 failed" in res.stdout


def test_usage_errors(tmp_path, model_dir):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("hi")
    res = CliRunner().invoke(main, ["run", str(empty), "--model", str(model_dir)])
    assert res.exit_code == 2 and "no photos found" in res.output
    res = CliRunner().invoke(main, ["run", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "does not exist" in res.output
    write_photo(empty / "x.png", 20, 20)
    res = CliRunner().invoke(main, ["run", str(empty), "-o", str(empty)])
    assert res.exit_code == 2 and "is the input folder" in res.output


def test_model_errors_are_one_line(folder, tmp_path, model_dir):
    photos, masks = folder
    res = CliRunner().invoke(main, ["run", str(photos), "--model", "no-such-model", "-o", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert res.output.strip().splitlines()[-1].startswith("Error: --model no-such-model: no such file or folder")
    res = CliRunner().invoke(main, ["run", str(photos), "--model", str(model_dir), "--device", "cuda:7",
                                    "-o", str(tmp_path / "o")])
    import torch

    if not torch.cuda.is_available():
        assert res.exit_code == 1 and "no CUDA GPU is available" in res.output


def test_output_inside_input_is_not_read_back(folder, tmp_path, model_dir):
    photos, masks = folder
    out = photos / "restored"
    assert run("run", photos, "--masks", masks, "-o", out, "--model", model_dir).exit_code == 0
    res = run("run", photos, "--masks", masks, "-o", out, "--model", model_dir)
    assert res.stdout.strip().splitlines()[-1] == "0 restored, 4 skipped, 0 failed"


def test_help_is_fast():
    t = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "restore.cli", "--help"], capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - t
    assert res.returncode == 0 and "run" in res.stdout
    assert elapsed < 1.5  # a cold interpreter included; torch would take several seconds
    res = subprocess.run([sys.executable, "-c", "import restore.cli, sys; print('torch' in sys.modules)"],
                         capture_output=True, text=True, timeout=60)
    assert res.stdout.strip() == "False"


def test_shards_cover_the_folder_exactly_once(tmp_path, model_dir):
    photos = tmp_path / "p"
    for i in range(23):
        write_photo(photos / f"{i:02d}.png", 30, 30, seed=i)
    seen = []
    for i in range(3):
        out = tmp_path / f"o{i}"
        res = run("run", photos, "-o", out, "--model", model_dir, "--shard", f"{i}/3")
        assert res.exit_code == 0
        seen += [p.name for p in out.iterdir() if not p.name.endswith("_mask.png")]
    assert sorted(seen) == sorted(p.name for p in photos.iterdir())
    res = CliRunner().invoke(main, ["run", str(photos), "--shard", "3/3"])
    assert res.exit_code == 2 and "need 0 <= I < N" in res.output


def test_shards_pair_masks_and_find_clashes_over_the_whole_folder(tmp_path, model_dir):
    """A mask whose photo falls in another shard is not an orphan, and two photos that would write the same file
    are found in whichever shards they fall: the same one fails in every shard's run."""
    from restore.runner import in_shard

    photos, masks = tmp_path / "p", tmp_path / "m"
    for i in range(12):
        write_photo(photos / f"{i:02d}.png", 30, 30, seed=i)
        write_mask(masks / f"{i:02d}.png", 30, 30)
    # x.jpg and x.png share x_mask.png when masks are drawn; put them in different shards.
    stem = next(f"x{k}" for k in range(100) if in_shard(Path(f"x{k}.jpg"), 0, 2) != in_shard(Path(f"x{k}.png"), 0, 2))
    write_photo(photos / f"{stem}.png", 30, 30, seed=50)
    Image.open(photos / f"{stem}.png").save(photos / f"{stem}.jpg")
    failed = []
    for i in range(2):
        res = run("run", photos, "-o", tmp_path / f"o{i}", "--model", model_dir, "--masks", masks, "--shard", f"{i}/2")
        assert "has no photo with the same name" not in res.output, res.output
        res = run("run", photos, "-o", tmp_path / f"d{i}", "--model", model_dir, "--shard", f"{i}/2")
        failed += [line for line in res.output.splitlines() if line.startswith("error:")]
    assert len(failed) == 1 and f"{stem}_mask.png" in failed[0], failed


def test_explain_draws_attention_figure(tmp_path, model_dir):
    write_photo(tmp_path / "a.png", 80, 100)
    write_mask(tmp_path / "m.png", 80, 100)
    res = run("explain", tmp_path / "a.png", "--mask", tmp_path / "m.png", "--at", "40,30",
              "-o", tmp_path / "att.png", "--model", model_dir)
    assert res.exit_code == 0, res.output
    assert Image.open(tmp_path / "att.png").size == (3 * 256 + 8, 256 + 18)
    res = run("explain", tmp_path / "a.png", "--mask", tmp_path / "m.png", "--at", "40,30",
              "-o", tmp_path / "new" / "folder" / "att.png", "--model", model_dir)
    assert res.exit_code == 0, res.output  # a folder that does not exist yet is made
    assert (tmp_path / "new" / "folder" / "att.png").exists()
    res = CliRunner().invoke(main, ["explain", str(tmp_path / "a.png"), "--mask", str(tmp_path / "m.png"),
                                    "--at", "500,3", "--model", str(model_dir)])
    assert res.exit_code == 2 and "outside the 100x80 photo" in res.output


def opaque_rgba_mask(path, h, w, box):
    """A mask as IOPaint writes it: RGBA, fully opaque, white hole on black."""
    a = np.zeros((h, w, 4), np.uint8)
    a[..., 3] = 255
    y0, x0, y1, x1 = box
    a[y0:y1, x0:x1, :3] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a, "RGBA").save(path)
    return a[..., 0] > 127


def changed(src, dst):
    return np.any(np.asarray(src).reshape(src.size[1], src.size[0], -1) != np.asarray(dst).reshape(dst.size[1], dst.size[0], -1), axis=2)


def test_opaque_rgba_masks_are_read_from_their_colours_once_said(tmp_path, model_dir):
    photos = tmp_path / "p"
    write_photo(photos / "a.png", 40, 50)
    write_photo(photos / "b.png", 40, 50, seed=1)
    hole = opaque_rgba_mask(tmp_path / "m" / "a.png", 40, 50, (10, 10, 20, 30))
    opaque_rgba_mask(tmp_path / "m" / "b.png", 40, 50, (10, 10, 20, 30))
    res = run("run", photos, "--masks", tmp_path / "m", "-o", tmp_path / "o", "--model", model_dir)
    assert res.exit_code == 0 and last(res) == "2 restored, 0 skipped, 0 failed"
    assert res.stderr.count("alpha channel is constant are read from their colours") == 1
    diff = changed(Image.open(photos / "a.png"), Image.open(tmp_path / "o" / "a.png"))
    assert not diff[~hole].any() and diff[hole].mean() > 0.5  # the strokes, not the whole photo


def last(res):
    return res.stdout.strip().splitlines()[-1]


def test_one_mask_serves_every_photo_of_its_stem(tmp_path, model_dir):
    photos = tmp_path / "p"
    write_photo(photos / "icc.png", 40, 50)
    write_photo(photos / "icc.jpg", 40, 50, seed=1)
    write_mask(tmp_path / "m" / "icc.png", 40, 50)
    res = run("run", photos, "--masks", tmp_path / "m", "-o", tmp_path / "o", "--model", model_dir, "--strict-masks")
    assert res.exit_code == 0 and last(res) == "2 restored, 0 skipped, 0 failed"
    assert "mask has no photo" not in res.stderr


def test_masks_file_applies_to_every_photo_scaled_to_fit(tmp_path, model_dir):
    photos = tmp_path / "p"
    write_photo(photos / "same.png", 40, 50)
    write_photo(photos / "big.png", 80, 100, seed=1)
    write_photo(photos / "big2.png", 80, 100, seed=2)
    mask_file = write_mask(tmp_path / "stamp.png", 40, 50, box=(30, 35, 38, 48))  # a date stamp, bottom right
    res = run("run", photos, "--masks", mask_file, "-o", tmp_path / "o", "--model", model_dir)
    assert res.exit_code == 0 and last(res) == "3 restored, 0 skipped, 0 failed"
    assert res.stderr.count("mask is scaled to 100x80 (nearest neighbour)") == 1
    same = changed(Image.open(photos / "same.png"), Image.open(tmp_path / "o" / "same.png"))
    assert not same[np.asarray(Image.open(mask_file)) <= 127].any()
    big = changed(Image.open(photos / "big.png"), Image.open(tmp_path / "o" / "big.png"))
    want = np.zeros((80, 100), bool)
    want[60:76, 70:96] = True
    assert not big[~want].any() and big[want].mean() > 0.5
    res = run("run", photos, "--masks", mask_file, "-o", tmp_path / "o2", "--model", model_dir, "--strict-masks")
    assert res.exit_code == 1 and last(res) == "1 restored, 0 skipped, 2 failed"
    assert f"stamp.png: mask is 50x40 but the photo {photos / 'big.png'} is 100x80" in res.stderr
    (tmp_path / "broken.png").write_bytes(b"not a png")  # one bad mask for every photo: said once, nothing made
    res = run("run", photos, "--masks", tmp_path / "broken.png", "-o", tmp_path / "o3", "--model", model_dir)
    assert res.exit_code == 1 and res.output.count("broken.png: cannot read mask") == 1
    assert not (tmp_path / "o3").exists()
    res = run("run", photos, "-o", tmp_path / "o4", "--model", tmp_path / "no-such-model")
    assert res.exit_code == 1 and not (tmp_path / "o4").exists()


def test_mask_file_inside_the_photo_folder_is_not_a_photo(tmp_path, model_dir):
    photos = tmp_path / "p"
    write_photo(photos / "a.png", 40, 50)
    write_mask(photos / "mask.png", 40, 50)
    res = run("run", photos, "--masks", photos / "mask.png", "-o", tmp_path / "o", "--model", model_dir)
    assert res.exit_code == 0 and last(res) == "1 restored, 0 skipped, 0 failed"
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a.png"]


def test_dilate_grows_the_hole_by_n_pixels(tmp_path, model_dir):
    from scipy import ndimage

    photos = tmp_path / "p"
    write_photo(photos / "a.png", 60, 60)
    mask_file = write_mask(tmp_path / "m.png", 60, 60, box=(25, 25, 35, 35))
    res = run("run", photos, "--masks", mask_file, "--dilate", 4, "-o", tmp_path / "o", "--model", model_dir)
    assert res.exit_code == 0, res.output
    diff = changed(Image.open(photos / "a.png"), Image.open(tmp_path / "o" / "a.png"))
    distance = ndimage.distance_transform_edt(np.asarray(Image.open(mask_file)) <= 127)
    assert not diff[distance > 4].any()
    assert diff[(distance > 0) & (distance <= 4)].mean() > 0.5  # the ring around the drawn hole is filled too


def test_concat_writes_a_comparison_beside_each_output(tmp_path, model_dir):
    photos = tmp_path / "p"
    write_photo(photos / "a.png", 60, 90)
    write_photo(photos / "b.jpg", 40, 40, seed=1)
    res = run("run", photos, "--concat", "-o", tmp_path / "o", "--model", model_dir)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == \
        ["a.png", "a_compare.png", "a_mask.png", "b.jpg", "b_compare.png", "b_mask.png"]
    fig = np.asarray(Image.open(tmp_path / "o" / "a_compare.png").convert("RGB"))
    # input (90 wide) | result (90) | two 64-pixel close-ups, below a 16-pixel caption line, 64 high
    assert fig.shape == (16 + 64, 2 * 96 + 2 * 64 + 3 * 6, 3)
    magenta = np.all(fig == (255, 0, 255), axis=2)
    assert magenta[:, :96].any() and not magenta[:, 96:96 + 96].any()
    # A photo with nothing to fill is copied as it is, and gets its comparison too.
    Image.new("L", (90, 60), 0).save(tmp_path / "empty.png")
    res = run("run", photos / "a.png", "--masks", tmp_path / "empty.png", "--concat", "-o", tmp_path / "o2",
              "--model", model_dir)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "o2" / "a.png").read_bytes() == (photos / "a.png").read_bytes()
    fig = np.asarray(Image.open(tmp_path / "o2" / "a_compare.png").convert("RGB"))
    assert not np.all(fig == (255, 0, 255), axis=2).any()


def test_image_files_restore_cannot_read_are_named_not_passed_over(tmp_path, model_dir):
    photos = tmp_path / "photos"
    write_photo(photos / "a.png", 40, 50)
    for name in ("IMG_0001.HEIC", "IMG_0002.heic", "raw.CR2", "notes.txt", "out/earlier.heic"):
        (photos / name).parent.mkdir(exist_ok=True)
        (photos / name).write_bytes(b"not decoded")
    # the output folder inside the photos is not read: its files are not reported either
    res = CliRunner().invoke(main, ["run", str(photos), "-o", str(photos / "out"), "--model", str(model_dir), "-r"])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip().splitlines()[-1] == "1 restored, 0 skipped, 0 failed"
    warning = [line for line in res.stderr.splitlines() if line.startswith("warning: 3 files not restored")]
    assert len(warning) == 1 and ".cr2 .heic" in warning[0] and "IMG_0001.HEIC" in warning[0]
    assert "notes.txt" not in res.stderr and "earlier.heic" not in res.stderr
    res = CliRunner().invoke(main, ["run", str(photos / "IMG_0001.HEIC"), "-o", str(tmp_path / "o2")])
    assert res.exit_code == 2
    assert "warning: 1 file not restored: restore does not read .heic" in res.stderr and "no photos found" in res.stderr


def test_masks_and_overlays_written_beside_the_photos_are_not_photos(tmp_path, model_dir):
    both = tmp_path / "both"
    write_photo(both / "a.png", 40, 50)
    for _ in range(2):  # the second time over its own earlier output
        res = run("masks", both, "-o", both, "--overlay", "--overwrite")
        assert res.exit_code == 0 and "1 mask written" in res.output, res.output
    assert sorted(p.name for p in both.iterdir()) == ["a.png", "a_mask.png", "a_overlay.png"]
    res = run("run", both, "--masks", both, "-o", tmp_path / "out", "--model", model_dir, "--strict-masks")
    assert res.exit_code == 0 and res.stdout.strip().splitlines()[-1] == "1 restored, 0 skipped, 0 failed", res.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png"]


def test_what_restore_wrote_beside_a_photo_is_not_taken_for_a_photo_or_a_mask(tmp_path, model_dir):
    """Masks, overlays and compare figures left beside their photos (restore masks -o PHOTOS --overlay, or an earlier
    output folder given as photos) are passed over with a note, not restored as photos nor failed as clashes; a file
    named so without its photo beside it is a photo. A --masks folder that holds compare figures pairs without
    warnings of masks without photos."""
    photos = tmp_path / "photos"
    write_photo(photos / "a.png", 40, 50)
    res = run("masks", photos, "-o", photos, "--overlay")
    assert res.exit_code == 0 and "1 mask written" in res.output, res.output
    write_photo(photos / "lone_mask.png", 40, 50, seed=1)  # no photo "lone" here: a photo of that name
    res = run("run", photos, "-o", tmp_path / "out", "--model", model_dir, "--concat")
    assert res.exit_code == 0, res.output
    assert res.stdout.strip().splitlines()[-1] == "2 restored, 0 skipped, 0 failed"
    assert "note: 2 files passed over as masks or figures" in res.stderr and "a_overlay.png" in res.stderr
    assert "give --masks with their folder" in res.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "a.png", "a_compare.png", "a_mask.png", "lone_mask.png", "lone_mask_compare.png", "lone_mask_mask.png"]
    res = run("run", photos, "--masks", tmp_path / "out", "-o", tmp_path / "again", "--model", model_dir)
    assert res.exit_code == 0, res.output
    assert res.stdout.strip().splitlines()[-1] == "2 restored, 0 skipped, 0 failed"
    assert "_compare.png: mask has no photo" not in res.stderr
    # a file named itself is a photo, and the note does not name it
    res = run("run", photos, photos / "a_overlay.png", "-o", tmp_path / "named", "--model", model_dir)
    assert res.stdout.strip().splitlines()[-1] == "3 restored, 0 skipped, 0 failed", res.output
    assert "note: 1 file passed over" in res.stderr and "a_overlay.png" not in res.stderr.split("note:")[1]


def test_masks_names_the_files_it_cannot_read(tmp_path):
    photos = tmp_path / "photos"
    write_photo(photos / "a.png", 40, 50)
    (photos / "IMG_0001.HEIC").write_bytes(b"not decoded")
    res = CliRunner().invoke(main, ["masks", str(photos), "-o", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    assert "warning: 1 file not read: restore does not read .heic" in res.stderr


def test_the_explicit_mask_of_a_photo_named_like_an_overlay_is_kept(tmp_path):
    from restore.io.files import index_masks

    for name in ("a_mask.png", "a_overlay.png", "a_overlay_mask.png"):
        write_mask(tmp_path / name, 10, 10)
    assert index_masks(tmp_path) == {"a": tmp_path / "a_mask.png", "a_overlay": tmp_path / "a_overlay_mask.png"}


def test_a_file_found_again_under_another_name_is_restored_once_and_said(tmp_path, model_dir):
    photos = tmp_path / "p"
    write_photo(photos / "a.png", 30, 40)
    (photos / "b.png").symlink_to(photos / "a.png")
    res = run("run", photos, photos / "a.png", "-o", tmp_path / "out", "--model", model_dir)
    assert res.exit_code == 0 and res.stdout.strip().splitlines()[-1] == "1 restored, 0 skipped, 0 failed"
    assert f"warning: {photos / 'b.png'} is the same file as {photos / 'a.png'}; it is restored once" in res.stderr
    assert res.stderr.count("is the same file") == 1  # a.png named twice is simply taken once


def test_non_finite_numbers_and_label_masks_are_said(tmp_path, model_dir):
    photos = tmp_path / "p"
    write_photo(photos / "a.png", 40, 50)
    for option in ("--context", "--smooth-thin"):
        res = CliRunner().invoke(main, ["run", str(photos), option, "nan", "-o", str(tmp_path / "o"),
                                        "--model", str(model_dir)])
        assert res.exit_code == 2 and f"Invalid value for '{option}': nan: give a finite number" in res.output
    (tmp_path / "m").mkdir()
    label = np.zeros((40, 50), np.uint8)
    label[10:20, 10:30] = 1  # a 0/1 label image: black to the eye
    Image.fromarray(label).save(tmp_path / "m" / "a.png")
    res = CliRunner().invoke(main, ["run", str(photos), "--masks", str(tmp_path / "m"), "-o", str(tmp_path / "o"),
                                    "--model", str(model_dir)])
    assert res.exit_code == 0 and "its values are 0 and 1 (a label image?)" in res.stderr and "multiply its values by 255" in res.stderr


def test_devices_restore_does_not_run_on_are_one_line_errors():
    from restore.device import DeviceError, pick_device

    for name in ("meta", "mps"):
        with pytest.raises(DeviceError, match=f"--device {name}: "):
            pick_device(name)


def test_a_mask_of_a_turned_photo_drawn_as_stored_is_told_to_turn(tmp_path, model_dir):
    """A photo stored sideways with an EXIF orientation, and its mask drawn in an editor that ignores it: the error says
    so, rather than 'resize the mask' (which would stretch it)."""
    photos, masks = tmp_path / "p", tmp_path / "m"
    photos.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.full((30, 40, 3), 120, np.uint8)).save(photos / "a.png", exif=exif.tobytes())  # upright 30x40
    write_mask(masks / "a.png", 30, 40)  # 40x30, as stored
    res = run("run", photos, "--masks", masks, "-o", tmp_path / "o", "--model", model_dir)
    assert res.exit_code == 1
    assert (f"{masks / 'a.png'}: mask is 40x30, the size of {photos / 'a.png'} as stored, which its EXIF orientation "
            "(6) turns upright to 30x40") in res.stderr
