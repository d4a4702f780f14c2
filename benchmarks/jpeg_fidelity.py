"""How much a JPEG changes away from its hole: the source's own tables (the default) against quality 95.

    python benchmarks/jpeg_fidelity.py DIR [DIR ...] [--n 20] [--model celeba]

Runs `restore run` on the first N JPEGs of each folder twice, with holes drawn as in the
paper (`--seed 0`): once with the defaults, once with `--jpeg-quality 95` (what restore did
before it kept the tables). Prints, per folder, the mean absolute change of the 8-bit
channel values outside the hole, the share of those values that changed at all, and the
output's size against the input's.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps


def measure(photos: list[Path], out: Path) -> tuple[float, float, float]:
    """(mean |change| outside the hole, fraction of changed values outside the hole, size ratio)."""
    total = changed = count = 0
    size_in = size_out = 0
    for p in photos:
        src = np.asarray(ImageOps.exif_transpose(Image.open(p)).convert("RGB")).astype(np.int16)
        dst = np.asarray(Image.open(out / p.name).convert("RGB")).astype(np.int16)
        keep = np.asarray(Image.open(out / f"{p.stem}_mask.png")) <= 127
        d = np.abs(dst - src)[keep]
        total += int(d.sum())
        changed += int((d > 0).sum())
        count += d.size
        size_in += p.stat().st_size
        size_out += (out / p.name).stat().st_size
    return total / count, changed / count, size_out / size_in


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--model", default="celeba")
    args = ap.parse_args()
    print("| photos | encoding | mean change outside the hole | values changed | size vs input |")
    print("|---|---|---|---|---|")
    for folder in args.folders:
        photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))[: args.n]
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "in"
            src.mkdir()
            for p in photos:  # a folder of just these files, so restore run sees exactly them
                (src / p.name).symlink_to(p.resolve())
            for label, extra in [("source tables (default)", []), ("--jpeg-quality 95", ["--jpeg-quality", "95"])]:
                out = Path(tmp) / label.split()[0]
                cmd = [sys.executable, "-m", "restore.cli", "run", str(src), "-o", str(out), "--seed", "0",
                       "--model", args.model, *extra]
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                mae, frac, ratio = measure(photos, out)
                print(f"| {folder.name}, {len(photos)} | {label} | {mae:.3f} | {frac:.1%} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
