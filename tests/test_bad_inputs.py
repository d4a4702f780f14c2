"""Bad input never stops a batch, never loses data, and always says what happened (issue 7)."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from restore.cli import main

from .conftest import smooth_photo, write_mask, write_photo


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def last_line(res):
    return res.stdout.strip().splitlines()[-1]


def test_corrupt_truncated_and_non_images(tmp_path, model_dir):
    photos = tmp_path / "p"
    write_photo(photos / "good.png", 40, 40)
    full = (photos / "good.png").read_bytes()
    (photos / "truncated.png").write_bytes(full[: len(full) // 2])
    Image.fromarray(smooth_photo(40, 40)).save(photos / "cut.jpg")
    (photos / "cut.jpg").write_bytes((photos / "cut.jpg").read_bytes()[:300])
    (photos / "notes.txt").write_text("not an image")
    (photos / ".DS_Store").write_bytes(b"\x00\x01")
    res = invoke("run", photos, "-o", tmp_path / "o", "--model", model_dir)
    assert res.exit_code == 1
    assert last_line(res) == "1 restored, 0 skipped, 2 failed"
    assert f"error: {photos / 'truncated.png'}: cannot read image" in res.stderr
    assert f"error: {photos / 'cut.jpg'}: cannot read image" in res.stderr
    assert "notes.txt" not in res.output and "DS_Store" not in res.output and "Traceback" not in res.output
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["good.png", "good_mask.png"]


def test_mask_edge_cases(tmp_path, model_dir):
    photos, masks = tmp_path / "p", tmp_path / "m"
    for name in ["none", "all", "ok"]:
        write_photo(photos / f"{name}.png", 30, 40)
    masks.mkdir()
    Image.new("L", (40, 30), 0).save(masks / "none.png")
    Image.new("L", (40, 30), 255).save(masks / "all.png")
    write_mask(masks / "ok.png", 30, 40)
    res = invoke("run", photos, "--masks", masks, "-o", tmp_path / "o", "--model", model_dir)
    assert res.exit_code == 1, res.output
    assert last_line(res) == "2 restored, 0 skipped, 1 failed"
    assert (tmp_path / "o" / "none.png").read_bytes() == (photos / "none.png").read_bytes()  # copied unchanged
    # a mask of nothing but hole leaves nothing to fill from (an inverted mask, most often): that photo fails
    assert f"error: {masks / 'all.png'}: the mask marks all of {photos / 'all.png'} as hole" in res.stderr
    assert not (tmp_path / "o" / "all.png").exists()


@pytest.mark.parametrize("kind", ["16bit", "palette", "LA", "cmyk_jpeg", "gif", "tiny"])
def test_odd_photo_kinds_keep_mode_and_size(tmp_path, model_dir, kind):
    photos = tmp_path / "p"
    photos.mkdir()
    rgb = smooth_photo(48, 64)
    if kind == "16bit":
        im, name = Image.fromarray(np.asarray(Image.fromarray(rgb).convert("L")).astype(np.uint16) * 257), "x.png"
    elif kind == "palette":
        im, name = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=32), "x.png"
    elif kind == "LA":
        im, name = Image.fromarray(rgb).convert("LA"), "x.png"
    elif kind == "cmyk_jpeg":
        im, name = Image.fromarray(rgb).convert("CMYK"), "x.jpg"
    elif kind == "gif":
        frames = [Image.fromarray(rgb).convert("P"), Image.fromarray(255 - rgb).convert("P")]
        frames[0].save(photos / "x.gif", save_all=True, append_images=frames[1:])
        im, name = None, "x.gif"
    else:
        im, name = Image.fromarray(rgb[:1, :1]), "x.png"
    if im is not None:
        im.save(photos / name)
    src = Image.open(photos / name)
    res = invoke("run", photos, "-o", tmp_path / "o", "--model", model_dir)
    assert res.exit_code == 0, res.output
    out = Image.open(tmp_path / "o" / name)
    assert out.size == src.size and out.mode == src.mode
    if kind == "gif":
        assert "2 frames; only the first is restored" in res.stderr
    mask = np.asarray(Image.open(tmp_path / "o" / "x_mask.png")) > 127
    if kind in ("16bit", "palette", "LA"):
        assert np.array_equal(np.asarray(src)[~mask], np.asarray(out)[~mask])


def test_exif_rotated_jpeg_is_restored_upright(tmp_path, model_dir):
    photos = tmp_path / "p"
    photos.mkdir()
    im = Image.fromarray(smooth_photo(40, 60))  # stored 60 wide, 40 high
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    im.save(photos / "r.jpg", exif=exif, quality=95)
    write_mask(tmp_path / "m" / "r.png", 60, 40)  # mask drawn on the upright (displayed) photo
    res = invoke("run", photos, "--masks", tmp_path / "m", "-o", tmp_path / "o", "--model", model_dir)
    assert res.exit_code == 0, res.output
    out = Image.open(tmp_path / "o" / "r.jpg")
    assert out.size == (40, 60)
    assert out.getexif().get(0x0112, 1) == 1


def test_damaged_exif_is_restored_as_stored_and_the_batch_goes_on(tmp_path, model_dir):
    photos = tmp_path / "p"
    photos.mkdir()
    exif = Image.Exif()
    exif[0x010E] = "a description"
    Image.fromarray(smooth_photo(40, 60)).save(photos / "b.jpg", exif=exif, quality=95, dpi=(72, 72))
    data = bytearray((photos / "b.jpg").read_bytes())
    at = data.index(b"MM\x00*")
    data[at + 3] = 0x31  # the EXIF block's TIFF header is no longer valid; the JPEG still is
    (photos / "b.jpg").write_bytes(bytes(data))
    write_photo(photos / "c.png", 30, 30)
    res = invoke("run", photos, "-o", tmp_path / "o", "--model", model_dir)
    assert res.exit_code == 0, res.output
    assert last_line(res) == "2 restored, 0 skipped, 0 failed"
    assert f"warning: {photos / 'b.jpg'}: its EXIF block is damaged" in res.stderr
    assert Image.open(tmp_path / "o" / "b.jpg").size == (60, 40)


def test_whatever_a_decoder_raises_is_one_line_and_the_batch_goes_on(tmp_path, model_dir, monkeypatch):
    photos = tmp_path / "p"
    write_photo(photos / "bad.png", 30, 30)
    write_photo(photos / "ok.png", 30, 30)
    load = Image.Image.load

    def broken(im):  # as Pillow's TIFF decoder does on a damaged IFD: TypeError("Missing dimensions")
        if getattr(im, "filename", "").endswith("bad.png"):
            raise TypeError("Missing dimensions")
        return load(im)

    monkeypatch.setattr(Image.Image, "load", broken)
    res = invoke("run", photos, "-o", tmp_path / "o", "--model", model_dir)
    assert res.exit_code == 1
    assert f"error: {photos / 'bad.png'}: cannot read image (Missing dimensions)" in res.stderr
    assert last_line(res) == "1 restored, 0 skipped, 1 failed" and "Traceback" not in res.output


def test_decompression_bomb_is_refused(tmp_path, model_dir, monkeypatch):
    photos = tmp_path / "p"
    write_photo(photos / "big.png", 300, 300)
    write_photo(photos / "ok.png", 30, 30)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 20_000)  # 300x300 = 90,000 px > 2x the limit
    res = invoke("run", photos, "-o", tmp_path / "o", "--model", model_dir)
    assert res.exit_code == 1
    assert "big.png: 0.09 megapixels, over the limit of 0.02 (a safeguard" in res.stderr
    assert "--max-megapixels" in res.stderr and "downscale" in res.stderr
    assert last_line(res) == "1 restored, 0 skipped, 1 failed"
    # A large scan of one's own: the limit raised for the command, and Pillow's own again after it.
    res = invoke("run", photos, "-o", tmp_path / "o", "--model", model_dir, "--max-megapixels", "0.1")
    assert res.exit_code == 0 and last_line(res) == "1 restored, 1 skipped, 0 failed"
    assert Image.MAX_IMAGE_PIXELS == 20_000
    res = invoke("masks", photos, "-o", tmp_path / "m")
    assert res.exit_code == 1 and "big.png: 0.09 megapixels, over the limit" in res.stderr
    res = invoke("masks", photos, "-o", tmp_path / "m", "--max-megapixels", "0.1")
    assert res.exit_code == 0 and (tmp_path / "m" / "big_mask.png").exists()
    assert Image.MAX_IMAGE_PIXELS == 20_000
    # An option that fails to parse after it changes nothing; nan and inf are no limit.
    res = invoke("masks", photos, "-o", tmp_path / "m2", "--max-megapixels", "5", "--holes", "0")
    assert res.exit_code == 2 and Image.MAX_IMAGE_PIXELS == 20_000
    for bad in ("nan", "inf"):
        res = invoke("run", photos, "-o", tmp_path / "o", "--max-megapixels", bad)
        assert res.exit_code == 2 and "give a finite number" in res.output


def test_a_mask_file_over_the_pixel_limit_is_refused_in_one_line(tmp_path, model_dir, monkeypatch):
    """A mask gets the photos' limit and message, not Pillow's warning or 'masks must be image files'; raised by
    --max-megapixels as theirs is."""
    photos = tmp_path / "p"
    write_photo(photos / "a.png", 30, 30)
    mask = tmp_path / "mask.png"
    Image.fromarray(np.zeros((120, 120), np.uint8)).save(mask)  # one mask for every photo, scaled to each
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)  # 14,400 px: over the limit, under twice it
    res = invoke("run", photos, "-o", tmp_path / "o", "--masks", mask, "--model", model_dir)
    assert res.exit_code != 0 and "Traceback" not in res.output and "DecompressionBombWarning" not in res.output
    assert f"{mask}: 0.0144 megapixels, over the limit of 0.01" in res.output and "--max-megapixels" in res.output
    res = invoke("run", photos, "-o", tmp_path / "o", "--masks", mask, "--model", model_dir, "--max-megapixels", "0.1")
    assert res.exit_code == 0 and last_line(res) == "1 restored, 0 skipped, 0 failed"


def test_same_photo_twice_and_unwritable_output(tmp_path, model_dir):
    photos = tmp_path / "p"
    write_photo(photos / "a.png", 30, 30)
    res = invoke("run", photos, photos / "a.png", "-o", tmp_path / "o", "--model", model_dir)
    assert last_line(res) == "1 restored, 0 skipped, 0 failed"
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = invoke("run", photos, "-o", blocker / "sub", "--model", model_dir)
    assert res.exit_code == 1 and "cannot create the output folder" in res.output


def test_two_photos_of_one_name_clash_on_their_mask_file(tmp_path, model_dir):
    """x.jpg and x.png have outputs of their own but one drawn mask file, x_mask.png: the second one fails and
    the message names that file, not the outputs."""
    write_photo(tmp_path / "p" / "x.png", 30, 30)
    Image.open(tmp_path / "p" / "x.png").save(tmp_path / "p" / "x.jpg")
    out = tmp_path / "o"
    res = invoke("run", tmp_path / "p", "-o", out, "--model", model_dir)
    assert res.exit_code == 1 and last_line(res) == "1 restored, 0 skipped, 1 failed"
    assert f"of this run also writes {out / 'x_mask.png'};" in res.output


def test_two_photos_with_one_output_name_never_overwrite_each_other(tmp_path, model_dir):
    """a/x.png and b/x.png given together would both land on out/x.png: the second one fails."""
    a = write_photo(tmp_path / "a" / "x.png", 30, 30)
    write_photo(tmp_path / "b" / "x.png", 30, 30, seed=1)
    out = tmp_path / "o"
    for extra in ([], ["--overwrite"]):
        res = invoke("run", tmp_path / "a", tmp_path / "b", "-o", out, "--model", model_dir, *extra)
        assert res.exit_code == 1
        assert f"{tmp_path / 'b' / 'x.png'}: {a} of this run also writes {out / 'x.png'};" in res.output
        assert last_line(res) == "1 restored, 0 skipped, 1 failed"
    assert sorted(p.name for p in out.iterdir()) == ["x.png", "x_mask.png"]
    known = np.asarray(Image.open(out / "x_mask.png")) == 0
    assert (np.asarray(Image.open(out / "x.png"))[known] == np.asarray(Image.open(a))[known]).all()


def test_altered_weights_are_refused_with_the_fix(tmp_path, model_dir, monkeypatch):
    import shutil

    from restore import hub

    bundled = tmp_path / "bundled"
    shutil.copytree(model_dir, bundled / "toy")
    digests = {n: hub.sha256_file(bundled / "toy" / n) for n in hub.FILES}
    monkeypatch.setattr(hub, "REGISTRY", {"toy": hub.Release("toy", "nobody/toy", "v1", digests, "test")})
    monkeypatch.setattr(hub, "BUNDLED_DIR", bundled)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    write_photo(tmp_path / "p" / "a.png", 30, 30)
    assert invoke("run", tmp_path / "p", "-o", tmp_path / "o", "--model", "toy").exit_code == 0
    with open(bundled / "toy" / "model.safetensors", "r+b") as f:
        f.truncate(1000)
    res = invoke("run", tmp_path / "p", "-o", tmp_path / "o2", "--model", "toy")
    assert res.exit_code == 1
    line = res.output.strip().splitlines()[-1]
    assert "model.safetensors: sha256 mismatch" in line and "restore download" in line


INTERRUPT = textwrap.dedent("""
    import sys, time
    from restore import runner
    original = runner.atomic_save
    def slow_save(image, path, **kw):
        if path.name == "p03.png":
            time.sleep(60)  # killed while this output is being written
        original(image, path, **kw)
    runner.atomic_save = slow_save
    from restore.cli import main
    sys.argv = ["restore"] + sys.argv[1:]
    main()
""")


def test_kill_leaves_no_partial_output_and_rerun_completes(tmp_path, model_dir):
    photos = tmp_path / "p"
    for i in range(6):
        write_photo(photos / f"p{i:02d}.png", 40, 40, seed=i)
    out = tmp_path / "o"
    args = ["run", str(photos), "-o", str(out), "--model", str(model_dir), "--batch-size", "2"]
    proc = subprocess.Popen([sys.executable, "-c", INTERRUPT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for _ in range(600):
        if (out / "p02.png").exists() or proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    names = sorted(os.listdir(out))
    assert "p03.png" not in names and not [n for n in names if n.startswith(".")]
    res = invoke(*args)
    assert res.exit_code == 0
    done = len([n for n in names if not n.endswith("_mask.png")])
    assert last_line(res) == f"{6 - done} restored, {done} skipped, 0 failed"
    assert len([n for n in os.listdir(out) if not n.endswith("_mask.png")]) == 6


def test_memory_does_not_grow_with_folder_size(tmp_path, model_dir):
    """Peak RSS of a 1600-photo run stays within a few MB of a 400-photo run (photos are streamed).

    The smaller run has 400 photos, not fewer: the allocators' pools keep growing over the first
    few batches (a 100-photo run peaks some 20-45 MB lower than a 400-photo one), and only
    then reach the plateau that a longer folder must not rise above. Holding the 1200 extra
    photos would add at least 88 MB (decoded image + RGB array, 37 KB each). Both runs get two
    threads and two malloc arenas, as on the 2-core machines this was measured on: on a machine
    with many cores, each extra thread's arena adds its own share of noise to the peak.
    """
    photos = tmp_path / "p"
    photos.mkdir()
    for i in range(7):
        Image.fromarray(smooth_photo(96, 128, i)).save(photos / f"{i}.jpg")
    script = textwrap.dedent("""
        import resource, sys
        from click.testing import CliRunner
        from restore.cli import main
        res = CliRunner().invoke(main, sys.argv[1:])
        assert res.exit_code == 0, res.output
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """)
    env = {**os.environ, "OMP_NUM_THREADS": "2", "MALLOC_ARENA_MAX": "2"}
    peaks = []
    for n, sub in [(400, "small"), (1600, "big")]:
        folder = tmp_path / sub
        folder.mkdir()
        for i in range(n):
            os.link(photos / f"{i % 7}.jpg", folder / f"{i:04d}.jpg")
        res = subprocess.run([sys.executable, "-c", script, "run", str(folder), "-o", str(tmp_path / f"o{sub}"),
                              "--model", str(model_dir)], capture_output=True, text=True, timeout=300, env=env)
        assert res.returncode == 0, res.stderr
        peaks.append(int(res.stdout.strip().splitlines()[-1]))
    assert peaks[1] - peaks[0] < 50_000, peaks  # kB: 1200 more photos must not be held in memory


def test_photos_are_grouped_by_count_and_by_pixels(monkeypatch):
    """restore run holds a group of photos at a time: at most 64 of them, and at most 16 megapixels, so a folder
    of large scans holds two or three at once, not eight (3.7 GB against 7.2 for 3000x2000 scans, README)."""
    from restore.runner import Runner, _Loaded

    def loaded(sides):
        return lambda jobs, pool: iter(_Loaded(None, rgb=np.zeros((h, w, 3), np.uint8)) for h, w in sides)

    runner = Runner(None)
    monkeypatch.setattr(runner, "_loaded", loaded([(2000, 3000)] * 7))
    assert [len(b) for b in runner._batches([], None)] == [3, 3, 1]  # 18 megapixels reach the limit
    monkeypatch.setattr(runner, "_loaded", loaded([(64, 64)] * 130))
    assert [len(b) for b in runner._batches([], None)] == [64, 64, 2]


def test_a_run_that_restores_nothing_leaves_no_empty_output_folder(tmp_path, model_dir):
    photos = tmp_path / "p"
    photos.mkdir()
    (photos / "bad.png").write_bytes(b"not an image")
    (photos / "sub").mkdir()
    (photos / "sub" / "bad.jpg").write_bytes(b"")
    res = invoke("run", photos, "-r", "-o", tmp_path / "out", "--model", model_dir)
    assert res.exit_code == 1 and last_line(res) == "0 restored, 0 skipped, 2 failed"
    assert not (tmp_path / "out").exists()
    # An output folder that was there before the run stays, whatever the run did.
    (tmp_path / "kept").mkdir()
    res = invoke("run", photos, "-r", "-o", tmp_path / "kept", "--model", model_dir)
    assert res.exit_code == 1 and (tmp_path / "kept").is_dir()


def test_the_pixel_refusal_shows_a_size_and_a_limit_that_differ(monkeypatch):
    from restore.io.decode import too_many_pixels

    for limit, pixels, said in [(100_000, 102_400, "0.102 megapixels, over the limit of 0.1 "),
                                (1_000_000, 1_000_001, "1.000001 megapixels, over the limit of 1 "),
                                (89_478_485, 108_000_000, "108.0 megapixels, over the limit of 89.5 ")]:
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
        message = too_many_pixels(Path("scan.tif"), Image.DecompressionBombError(
            f"Image size ({pixels} pixels) exceeds limit of {2 * limit} pixels, could be decompression bomb DOS attack."))
        assert message.startswith(f"scan.tif: {said}"), message
