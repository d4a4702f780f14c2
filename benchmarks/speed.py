"""Speed of restore against classical inpainting, on the same files, in one run.

    python benchmarks/speed.py [--model photo] [--small 1000] [--large 20] [--blobs 10] [--prints 10] [--faces 300]
                               [--huge 0] [--rounds 3] [--precision auto]

Writes benchmarks/RESULTS.md. Photos are crops of the public-domain pictures that
scikit-image ships, with the paper's masks; everything is timed disk to disk
except the row marked "forward pass only". Ratios against the classical peers are
the headline: absolute times vary from machine to machine. Each ratio to biharmonic is
that of the median times of `--rounds` alternating rounds (restore, biharmonic, restore, ...),
with the lowest and highest ratio of a single round beside it, since a shared machine's
speed drifts within minutes. The profile written by
benchmarks/profile_run.py (PROFILE.md), when present, is appended to RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from restore.precision import PRECISIONS

HERE = Path(__file__).parent


def sources() -> list[np.ndarray]:
    from skimage import data

    return [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.retina()]


def make_small(folder: Path, n: int, seed: int = 0) -> None:
    """n 64x64 crops with one paper rectangle each (photos/ and masks/)."""
    from restore.inpainting.holes import paper_masks

    rng = np.random.default_rng(seed)
    srcs = sources()
    (folder / "photos").mkdir(parents=True)
    (folder / "masks").mkdir()
    masks = paper_masks(rng, n)
    for i in range(n):
        s = srcs[i % len(srcs)]
        side = int(rng.integers(64, min(s.shape[:2])))
        y, x = (int(rng.integers(0, d - side + 1)) for d in s.shape[:2])
        im = Image.fromarray(s[y : y + side, x : x + side]).resize((64, 64), Image.Resampling.BICUBIC)
        im.save(folder / "photos" / f"{i:05d}.png")
        Image.fromarray(masks[i].astype(np.uint8) * 255).save(folder / "masks" / f"{i:05d}.png")


def _make_1024(folder: Path, n: int, seed: int, holes) -> None:
    """n 1024x768 JPEGs of the sources with masks from `holes(rng)` (a bool 768x1024 array)."""
    rng = np.random.default_rng(seed)
    srcs = sources()
    (folder / "photos").mkdir(parents=True)
    (folder / "masks").mkdir()
    for i in range(n):
        im = Image.fromarray(srcs[i % len(srcs)]).resize((1024, 768), Image.Resampling.BICUBIC)
        im.save(folder / "photos" / f"{i:03d}.jpg", quality=92)
        Image.fromarray(holes(rng).astype(np.uint8) * 255).save(folder / "masks" / f"{i:03d}.png")


def _three_small(rng: np.random.Generator) -> np.ndarray:
    m = np.zeros((768, 1024), bool)
    for _ in range(3):
        h, w = rng.integers(20, 61, size=2)
        y, x = rng.integers(0, 768 - h), rng.integers(0, 1024 - w)
        m[y : y + h, x : x + w] = True
    return m


def make_large(folder: Path, n: int, seed: int = 1) -> None:
    """n 1024x768 photos, three holes of 20-60 px each."""
    _make_1024(folder, n, seed, _three_small)


def make_blobs(folder: Path, n: int, seed: int = 3) -> None:
    """n 1024x768 photos, one object-shaped hole each (6-15 % of the photo, as `restore bench --size native`)."""
    from restore.inpainting.holes import blob_hole

    _make_1024(folder, n, seed, lambda rng: blob_hole(rng, 768, 1024))


def make_faces(folder: Path, n: int, seed: int = 4) -> None:
    """n photos at CelebA's 178x218 (crops of the sources), one object-shaped hole each, for `celeba`."""
    from restore.inpainting.holes import blob_hole

    rng = np.random.default_rng(seed)
    srcs = sources()
    (folder / "photos").mkdir(parents=True)
    (folder / "masks").mkdir()
    for i in range(n):
        s = srcs[i % len(srcs)]
        h = int(rng.integers(218, min(s.shape[:2]) + 1))
        w = h * 178 // 218
        y, x = int(rng.integers(0, s.shape[0] - h + 1)), int(rng.integers(0, s.shape[1] - w + 1))
        im = Image.fromarray(s[y : y + h, x : x + w]).resize((178, 218), Image.Resampling.BICUBIC)
        im.save(folder / "photos" / f"{i:04d}.jpg", quality=95)
        Image.fromarray(blob_hole(rng, 218, 178).astype(np.uint8) * 255).save(folder / "masks" / f"{i:04d}.png")


def make_prints(folder: Path, n: int, seed: int = 5) -> None:
    """n 1024x768 old prints (the sources aged, with synthetic scratches, cracks and dust), their true damage as masks."""
    from restore.damage import synthetic

    rng = np.random.default_rng(seed)
    srcs = sources()
    (folder / "photos").mkdir(parents=True)
    (folder / "masks").mkdir()
    for i in range(n):
        rgb = np.asarray(Image.fromarray(srcs[i % len(srcs)]).resize((1024, 768), Image.Resampling.BICUBIC))
        d = synthetic.apply(rng, rgb)
        Image.fromarray(d.damaged).save(folder / "photos" / f"{i:03d}.jpg", quality=92)
        Image.fromarray(d.mask.astype(np.uint8) * 255).save(folder / "masks" / f"{i:03d}.png")


def classical(folder: Path, out: Path, method: str) -> float:
    """Disk to disk with a classical method, one process like restore; returns seconds."""
    from restore.io.masks import read_mask

    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    for p in sorted((folder / "photos").iterdir()):
        rgb = np.asarray(Image.open(p).convert("RGB"))
        mask = read_mask(folder / "masks" / f"{p.stem}.png")
        if method == "biharmonic":
            from skimage.restoration import inpaint_biharmonic

            f = np.clip(np.rint(inpaint_biharmonic(rgb, mask, channel_axis=-1) * 255), 0, 255).astype(np.uint8)
        else:
            import cv2

            f = cv2.inpaint(np.ascontiguousarray(rgb), mask.astype(np.uint8), 3, cv2.INPAINT_TELEA)
        res = rgb.copy()
        res[mask] = f[mask]
        Image.fromarray(res).save(out / p.name)
    return time.perf_counter() - t


# A process's own peak RSS. Not getrusage's ru_maxrss: Linux carries that across exec from the
# parent, so a child of this (large) script would report this script's peak.
_PEAK = "max(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM'))"

# `restore` in a fresh interpreter that reports its own peak RSS as it exits.
_CLI = f"""import sys
from restore.cli import main
try:
    main(sys.argv[1:], prog_name="restore")
finally:
    sys.stderr.write(f"\\nPEAK_RSS_KB {{{_PEAK}}}\\n")
"""


def restore_cli(args: list[str]) -> tuple[float, int]:
    """Run `restore ...` in a fresh process; returns (seconds, peak RSS in MB of that process)."""
    t = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", _CLI, *args], capture_output=True, text=True, check=False)
    dt = time.perf_counter() - t
    if res.returncode != 0:
        raise SystemExit(f"restore {' '.join(args)} failed:\n{res.stderr[-2000:]}")
    peak_kb = int(res.stderr.rsplit("PEAK_RSS_KB", 1)[1].split()[0])
    return dt, peak_kb // 1024


def forward_inputs(model_name: str, batch: int = 64, precision: str = "float32"):
    """The released model in channels_last and `precision` (as restore run resolves it on the CPU), a batch of random
    images and paper masks."""
    import torch

    from restore import hub
    from restore import precision as arithmetic
    from restore.inpainting.holes import paper_masks

    model, _ = hub.load(model_name)
    model = arithmetic.apply(model.to(memory_format=torch.channels_last), arithmetic.resolve(precision, "cpu"))
    x = (torch.rand(batch, 3, 64, 64) * 2 - 1).contiguous(memory_format=torch.channels_last)
    m = torch.from_numpy(paper_masks(np.random.default_rng(0), batch)[:, None].astype(np.float32))
    return model, x, m


def forward_only(model_name: str, n: int = 1024, batch: int = 64, precision: str = "float32") -> float:
    import torch

    model, x, m = forward_inputs(model_name, batch, precision)
    with torch.inference_mode():
        model(x, m)
        t = time.perf_counter()
        for _ in range(n // batch):
            model(x, m)
    return (n // batch) * batch / (time.perf_counter() - t)


@dataclass
class Compared:
    """`restore run` against biharmonic on the same folder, over alternating rounds."""

    n: int  # photos
    restore_s: list[float]
    biharmonic_s: list[float]
    peak_mb: int  # the largest peak RSS of the restore runs

    @property
    def restore_rate(self) -> float:
        return self.n / statistics.median(self.restore_s)

    @property
    def biharmonic_rate(self) -> float:
        return self.n / statistics.median(self.biharmonic_s)

    def ratio(self) -> str:
        """"1.02x biharmonic (0.95-1.10 over 3 rounds)": the ratio of the medians, and the range of the
        rounds' own ratios."""
        text = f"{self.restore_rate / self.biharmonic_rate:.2f}x biharmonic"
        if len(self.restore_s) > 1:
            each = [b / r for r, b in zip(self.restore_s, self.biharmonic_s, strict=True)]
            text += f" ({min(each):.2f}-{max(each):.2f} over {len(each)} rounds)"
        return text


def compare(folder: Path, work: Path, n: int, model: str, rounds: int, detect: bool = False,
            precision: str = "auto") -> Compared:
    """Alternate `restore run` and biharmonic on `folder` for `rounds` rounds. With `detect`, restore finds
    the damage itself (--detect-damage) while biharmonic is given the true masks."""
    restore_s, biharmonic_s, peak = [], [], 0
    masks = ["--detect-damage"] if detect else ["--masks", str(folder / "masks")]
    for _ in range(rounds):
        for out in (work / f"o_{folder.name}", work / f"b_{folder.name}"):
            shutil.rmtree(out, ignore_errors=True)
        dt, mb = restore_cli(["run", str(folder / "photos"), *masks,
                              "-o", str(work / f"o_{folder.name}"), "--model", model, "--precision", precision])
        restore_s.append(dt)
        peak = max(peak, mb)
        biharmonic_s.append(classical(folder, work / f"b_{folder.name}", "biharmonic"))
    return Compared(n, restore_s, biharmonic_s, peak)


def fresh_python(code: str) -> list[str]:
    """Run ``code`` in a new interpreter (nothing imported yet); its printed words."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()


def model_load_seconds(model_name: str) -> float:
    code = (f"import time; t=time.perf_counter(); from restore import hub; hub.load({model_name!r}); "
            "print(time.perf_counter()-t)")
    return float(fresh_python(code)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="photo")
    ap.add_argument("--small", type=int, default=1000, help="64x64 photos")
    ap.add_argument("--large", type=int, default=20, help="1024x768 photos")
    ap.add_argument("--blobs", type=int, default=10, help="1024x768 photos with one large object-shaped hole")
    ap.add_argument("--faces", type=int, default=300,
                    help="photos at CelebA's 178x218 with one blob hole, restored with --model celeba")
    ap.add_argument("--prints", type=int, default=10,
                    help="1024x768 old prints with synthetic damage: restore run --detect-damage against biharmonic "
                         "given the true masks")
    ap.add_argument("--huge", type=int, default=0, help="photos in the peak-RSS folder (10000 for the issue's check)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of each restore / biharmonic comparison")
    ap.add_argument("--precision", default="auto", choices=PRECISIONS,
                    help="restore run --precision (and the forward pass's)")
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = ap.parse_args()

    import torch

    rows: list[tuple[str, str, str]] = []
    work = Path(tempfile.mkdtemp(prefix="restore-speed-"))
    try:
        small, large = work / "small", work / "large"
        make_small(small, args.small)
        make_large(large, args.large)

        fwd = forward_only(args.model, precision=args.precision)
        rows.append(("restore forward pass only, 64x64, batch 64", f"{fwd:.0f} img/s", ""))

        c = compare(small, work, args.small, args.model, args.rounds, precision=args.precision)
        rss_small, bh = c.peak_mb, c.biharmonic_rate
        rows.append((f"restore run, {args.small} x 64x64, disk to disk (process start included)",
                     f"{c.restore_rate:.0f} img/s", c.ratio()))
        rows.append(("scikit-image biharmonic, same files, disk to disk", f"{bh:.0f} img/s", "1.00x"))
        try:
            te = args.small / classical(small, work / "t_small", "telea")
            rows.append(("OpenCV Telea, same files, disk to disk", f"{te:.0f} img/s", f"{te / bh:.2f}x biharmonic"))
        except ImportError:
            rows.append(("OpenCV Telea", "not installed", "pip install -e '.[classical]'"))

        c = compare(large, work, args.large, args.model, args.rounds, precision=args.precision)
        dt_large, bl = statistics.median(c.restore_s), c.biharmonic_rate
        rows.append((f"restore run, {args.large} x 1024x768, 3 holes each", f"{c.restore_rate:.1f} img/s", c.ratio()))
        rows.append(("scikit-image biharmonic, same files", f"{bl:.2f} img/s", "1.00x"))

        if args.blobs:
            blobs = work / "blobs"
            make_blobs(blobs, args.blobs)
            c = compare(blobs, work, args.blobs, args.model, args.rounds, precision=args.precision)
            rows.append((f"restore run, {args.blobs} x 1024x768, one blob hole of 6-15 % each (process start included)",
                         f"{c.restore_rate:.2f} img/s", c.ratio()))
            rows.append(("scikit-image biharmonic, same files", f"{c.biharmonic_rate:.2f} img/s", "1.00x"))

        if args.prints:
            prints = work / "prints"
            make_prints(prints, args.prints)
            c = compare(prints, work, args.prints, args.model, args.rounds, detect=True, precision=args.precision)
            rows.append((f"restore run --detect-damage, {args.prints} x 1024x768 old prints with synthetic scratches, "
                         "cracks and dust: finding and filling them (process start included)",
                         f"{c.restore_rate:.2f} img/s", c.ratio()))
            rows.append(("scikit-image biharmonic, same files, given the true damage masks", f"{c.biharmonic_rate:.2f} img/s",
                         "1.00x"))

        if args.faces:
            faces = work / "faces"
            make_faces(faces, args.faces)
            c = compare(faces, work, args.faces, "celeba", args.rounds, precision=args.precision)
            rows.append((f"restore run --model celeba, {args.faces} x 178x218 (CelebA's size), one blob hole of "
                         "6-15 % each (process start included)", f"{c.restore_rate:.1f} img/s", c.ratio()))
            rows.append(("scikit-image biharmonic, same files", f"{c.biharmonic_rate:.1f} img/s", "1.00x"))

        helps = []
        for _ in range(5):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "restore.cli", "--help"], capture_output=True, check=True)
            helps.append(time.perf_counter() - t)
        rows.append(("restore --help (best of 5)", f"{min(helps):.3f} s", ""))
        # Best of three, alternating: the two differ by less than one run's noise.
        floor = f"import time; t = time.perf_counter(); import torch; print(time.perf_counter() - t, {_PEAK})"
        loads, imports = [], []
        for _ in range(3):
            loads.append(model_load_seconds(args.model))
            imports.append(fresh_python(floor))
        load_s = min(loads)
        import_s, import_mb = min(float(out[0]) for out in imports), max(int(out[1]) for out in imports) // 1024
        rows.append(("model load (import included, best of 3)", f"{load_s:.2f} s", ""))
        rows.append(("`import torch` alone: time (best of 3), peak RSS (the floor under the rows above and below)",
                     f"{import_s:.2f} s, {import_mb} MB", ""))
        one = work / "one"
        one.mkdir()
        shutil.copy(sorted((large / "photos").iterdir())[0], one)
        dt, _ = restore_cli(["run", str(one), "--masks", str(large / "masks"), "-o", str(work / "o_one"),
                             "--model", args.model, "--precision", args.precision])
        rows.append(("time to first restored 1024x768 photo (process start to exit)", f"{dt:.2f} s", ""))
        if args.large > 1 and dt_large > dt:
            # The folder run minus the one-photo run: the other photos, without start-up and model load.
            steady = (args.large - 1) / (dt_large - dt)
            rows.append((f"restore run, 1024x768, photos 2-{args.large} (start-up excluded)", f"{steady:.1f} img/s",
                         f"{steady / bl:.2f}x biharmonic"))
        rows.append((f"peak RSS, restore run on {args.small} photos", f"{rss_small} MB", ""))
        if args.huge:
            huge = work / "huge"
            make_small(huge, args.huge, seed=2)
            dt, rss = restore_cli(["run", str(huge / "photos"), "--masks", str(huge / "masks"),
                                   "-o", str(work / "o_huge"), "--model", args.model, "--precision", args.precision])
            rows.append((f"peak RSS, restore run on {args.huge} photos", f"{rss} MB", f"{args.huge / dt:.0f} img/s"))
            rss_small = max(rss_small, rss)
        beyond = (f"loading the model takes {load_s - import_s:.2f} s beyond the import" if load_s - import_s >= 0.05
                  else "loading the model takes no measurable time beyond the import")
        notes = [f"The largest peak RSS of `restore run` above is {rss_small - import_mb:+d} MB from that of "
                 f"`import torch` alone, and {beyond}."]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    from restore.precision import native_bfloat16, resolve

    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
               f"torch threads {torch.get_num_threads()}, device cpu, precision {resolve(args.precision, 'cpu')} "
               f"(native bfloat16: {'yes' if native_bfloat16() else 'no'}), Python {platform.python_version()}")
    lines = ["| measurement | result | ratio |", "|---|---|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]
    table = "\n".join(lines)
    print(table)
    text = f"""# Speed

Machine: {machine}. Model: `{args.model}`. Command: `python benchmarks/speed.py{' ' + ' '.join(sys.argv[1:]) if sys.argv[1:] else ''}`
({time.strftime('%Y-%m-%d')}).

{table}

{" ".join(notes)}
"""
    extra = HERE / "PROFILE.md"
    if extra.exists():
        text += "\n" + extra.read_text()
    args.out.write_text(text)


if __name__ == "__main__":
    main()
