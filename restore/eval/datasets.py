"""The two benchmark datasets in their official layouts, and the paper's 64x64 preparation.

Shared by ``restore bench`` and by the trainer so both see exactly the same
images and splits.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..io.atomic import atomic_write
from ..io.files import PHOTO_EXTS

DATASETS = ("celeba", "cars", "natural")
LAYOUTS = {
    "celeba": "celeba/img_align_celeba/*.jpg and celeba/list_eval_partition.txt",
    "cars": "stanford_cars/cars_train/*.jpg",
    "natural": "natural/*.jpg",
}
SPLIT_SEED = 0  # fixes the Cars 70/30 split and the stage-1 split of CelebA's training ids


class DataError(ValueError):
    """The data directory does not hold what was asked for."""


def default_data_dir() -> Path:
    """RESTORE_DATA_DIR, else ../shared/data (where it lives on the project's machines)."""
    env = os.environ.get("RESTORE_DATA_DIR")
    return Path(env) if env else Path("../shared/data")


def _find(data_dir: Path, *parts: str) -> Path | None:
    # Accept both DATA/celeba/img_align_celeba and DATA pointing at the dataset folder itself.
    for base in (data_dir / parts[0], data_dir):
        p = base.joinpath(*parts[1:])
        if p.exists():
            return p
    return None


def _missing(name: str, data_dir: Path) -> DataError:
    return DataError(
        f"{name} data not found under {data_dir}: expected {LAYOUTS[name]}; "
        "set --data-dir or RESTORE_DATA_DIR to the folder that holds it"
    )


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_EXTS and p.is_file())


def seeded_split(files: list, fraction: float = 0.7, seed: int = SPLIT_SEED) -> tuple[list, list]:
    """Deterministic shuffle-and-cut: (first `fraction`, rest)."""
    order = np.random.default_rng(seed).permutation(len(files))
    cut = int(round(fraction * len(files)))
    return [files[i] for i in sorted(order[:cut])], [files[i] for i in sorted(order[cut:])]


def dataset_splits(name: str, data_dir: Path | None = None) -> dict[str, list[Path]]:
    """{'train': ..., 'val': ...} for 'celeba', 'cars', 'natural' or a folder of images.

    CelebA: the official partition (0 = train, 1 = val). Natural: every tenth photo (sorted
    by name, starting with the first) is 'val', a fixed slice of a small set of large photos.
    Cars and plain folders: a seeded 70/30 split. 'val' is held out from every training run.
    """
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    if name == "celeba":
        images = _find(data_dir, "celeba", "img_align_celeba")
        part = _find(data_dir, "celeba", "list_eval_partition.txt")
        if images is None or part is None:
            raise _missing(name, data_dir)
        splits: dict[str, list[Path]] = {"train": [], "val": []}
        for line in part.read_text().split("\n"):
            fields = line.split()
            if len(fields) == 2 and fields[1] in ("0", "1") and (images / fields[0]).exists():
                splits["train" if fields[1] == "0" else "val"].append(images / fields[0])
        if not splits["train"] or not splits["val"]:
            raise _missing(name, data_dir)
        return splits
    if name == "natural":
        folder = _find(data_dir, "natural")
        files = list_images(folder) if folder is not None and folder.is_dir() else []
        if len(files) < 10:
            raise _missing(name, data_dir)
        return {"train": [f for i, f in enumerate(files) if i % 10], "val": files[::10]}
    if name == "cars":
        folder = _find(data_dir, "stanford_cars", "cars_train")
        if folder is None:
            raise _missing(name, data_dir)
    else:
        folder = Path(name)
        if not folder.is_dir():
            raise DataError(f"{name}: not a dataset name ({', '.join(DATASETS)}) nor a folder of images")
    files = list_images(folder)
    if len(files) < 2:
        raise DataError(f"{folder}: needs at least 2 images, found {len(files)}")
    train, val = seeded_split(files)
    return {"train": train, "val": val}


def square(im: Image.Image, size: int = 64, resample=Image.Resampling.BICUBIC) -> Image.Image:
    """Shorter side to `size`, then the centre size x size crop."""
    w, h = im.size
    s = size / min(w, h)
    nw, nh = max(size, round(w * s)), max(size, round(h * s))
    im = im.resize((nw, nh), resample)
    left, top = (nw - size) // 2, (nh - size) // 2
    return im.crop((left, top, left + size, top + size))


def load_64(path: Path, size: int = 64) -> np.ndarray:
    """The paper's preparation: RGB, shorter side to `size`, centre crop; uint8 (size, size, 3). The photo is read as
    restore run reads it (upright, a 16-bit file at its own white: io.decode.read_view)."""
    from ..io.decode import read_view

    return np.asarray(square(Image.fromarray(read_view(Path(path))), size))


def square_mask(mask: np.ndarray, size: int = 64) -> np.ndarray:
    """A photo's mask given the same geometry as `square`: a pixel is a hole where most of it was."""
    im = Image.fromarray(mask.astype(np.float32))
    return np.asarray(square(im, size, Image.Resampling.BOX)) >= 0.5


def _identity(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def load_stack(files: list[Path], size: int = 64, cache_dir: Path | None = None, progress: bool = False) -> np.ndarray:
    """All files prepared at size x size as one (N, size, size, 3) uint8 array, cached as .npy."""
    cache = None
    if cache_dir is not None:
        # each file by its path, size and time of change: a folder whose pictures were replaced is prepared again
        key = hashlib.sha256(("\n".join(_identity(Path(f)) for f in files) + f"|{size}").encode()).hexdigest()[:16]
        cache = Path(cache_dir) / f"images-{size}-{key}.npy"
        if cache.exists():
            return np.load(cache)
    it = files
    if progress:
        from tqdm import tqdm

        it = tqdm(files, desc="preparing images", unit="img", leave=False)
    out = np.stack([load_64(f, size) for f in it]) if files else np.zeros((0, size, size, 3), np.uint8)
    if cache is not None:  # several training processes may race here: each writes its own temporary file
        cache.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(cache, lambda f: np.save(f, out))
    return out
