"""`restore run` as a library: plan outputs for a folder, restore in batches, report per file.

Photos are streamed: at most two batches of decoded photos are held at a time (one
being restored, one being written), so a folder of any length runs in bounded memory.
A file that fails is reported and the batch goes on.
"""

from __future__ import annotations

import threading
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from .inpainting.holes import grow, paper_mask
from .inpainting.pipeline import Restorer
from .io.atomic import atomic_save, atomic_write_bytes
from .io.decode import decode_photo, orientation
from .io.depth16 import deep_bytes, stored, upright
from .io.files import COMPARE_SUFFIX, index_masks, mask_key
from .io.masks import DIM, FAINT, MaskError, check_size, decode_mask, save_mask, scaled
from .io.metadata import read_carried
from .io.photos import WIDE, PhotoError, deep_view, from_eight_bits, merge_into, photo_rgb


@dataclass
class Job:
    photo: Path
    rel: Path  # relative path of the photo below its input root, kept below the output folder
    out: Path
    mask_file: Path | None = None  # paired mask, when --masks is given
    mask_out: Path | None = None  # where a drawn (or detected) mask is saved, when masks are drawn (or detected)
    compare_out: Path | None = None  # where the --concat comparison is saved
    shared_mask: bool = False  # mask_file is one mask for every photo (--masks FILE): scaled to fit
    paired: bool = False  # masks were given (--masks): a photo without one is skipped, or detected only
    mask_sought: str = ""  # with a masks folder: the names its mask could have, and where, for the message without one
    clash: Path | None = None  # an earlier photo of this run that writes to the same output
    clash_file: Path | None = None  # the file both would write (the output, its mask or its comparison)


@dataclass
class Outcome:
    job: Job
    status: str  # restored | skipped | failed
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the run did on its own (how a mask was read)
    kept: bool = False  # skipped because its output exists (no --overwrite)


def plan(photos: list[tuple[Path, Path]], out_dir: Path, masks: Path | None, recursive: bool = False,
         concat: bool = False, detect: bool = False) -> tuple[list[Job], list[Path]]:
    """Jobs for each photo, and the mask files that no photo claimed.

    `masks` is a folder of masks paired by name (a mask may serve several photos of one stem,
    a.jpg and a.png), a single mask file for every photo, or None to draw holes (or, with `detect`,
    to find the damage). With `detect` the mask that was filled is saved beside each output.
    """
    index = None
    if masks is not None and masks.is_dir():
        # Photos where the masks folder is scanned (a.png beside a_mask.png): only files named as masks are masks.
        here = masks.resolve()
        beside = any(photo.resolve().parent == here or (recursive and photo.resolve().is_relative_to(here))
                     for photo, _ in photos)
        index = index_masks(masks, recursive, marked_only=beside)
    used: set[str] = set()
    folded: dict[str, list[str]] = {}  # names that differ in case only: IMG_0001.JPG and img_0001_mask.png pair
    for key in index or ():
        folded.setdefault(key.casefold(), []).append(key)
    jobs = []
    claimed: dict[Path, Path] = {}  # output file -> the photo that writes it
    for photo, rel in photos:
        out = out_dir / rel
        job = Job(photo, rel, out, compare_out=out.with_name(f"{rel.stem}{COMPARE_SUFFIX}.png") if concat else None)
        if masks is None or detect:
            job.mask_out = out.with_name(f"{rel.stem}_mask.png")
        job.paired = masks is not None
        if masks is None:
            pass
        elif index is None:
            job.mask_file, job.shared_mask = masks, True
        else:
            key = mask_key(rel)
            if key not in index and len(folded.get(key.casefold(), ())) == 1:
                key = folded[key.casefold()][0]
            job.mask_file = index.get(key)
            used.add(key)
            names = f"{rel.stem}_mask.*" if beside else f"{rel.stem}.* or {rel.stem}_mask.*"
            job.mask_sought = f"no mask named {names} in {masks / rel.parent}"
        targets = [t for t in (job.out, job.mask_out, job.compare_out) if t is not None]
        job.clash_file = next((t for t in targets if t in claimed), None)
        job.clash = claimed[job.clash_file] if job.clash_file is not None else None
        if job.clash is None:
            claimed.update(dict.fromkeys(targets, photo))
        jobs.append(job)
    orphans = sorted(p for key, p in index.items() if key not in used) if index is not None else []
    return jobs, orphans


def overwritten_input(jobs: list[Job], masks: list[Path] = ()) -> Path | None:
    """The photo or mask file that some job's output would replace, if any (-o
    the masks folder, or a folder that holds the photos), else None. Such a run is refused before it begins:
    inputs are never modified."""
    inputs = {p.resolve() for p in masks}
    for job in jobs:
        inputs.add(job.photo.resolve())
        if job.mask_file is not None:
            inputs.add(job.mask_file.resolve())
    for job in jobs:
        for target in (job.out, job.mask_out, job.compare_out):
            if target is not None and target.resolve() in inputs:
                return target
    return None


def photo_seed(seed: int, rel: Path) -> np.random.Generator:
    """A photo's own generator: its drawn holes do not depend on which other photos are in the folder."""
    return np.random.default_rng([seed, zlib.crc32(rel.as_posix().encode())])


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N) with 0 <= I < N."""
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise ValueError(f"{text!r}: expected I/N, e.g. 0/4") from None
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(f"{text!r}: need 0 <= I < N")
    return i, n


def in_shard(rel: Path, index: int, count: int) -> bool:
    """Whether a photo belongs to shard `index` of `count`: by a hash of its relative path, so the
    split is the same on every machine and does not move when other files come and go."""
    return zlib.crc32(rel.as_posix().encode()) % count == index


def draw_mask(seed: int, rel: Path, height: int, width: int, holes: int = 1) -> np.ndarray:
    rng = photo_seed(seed, rel)
    mask = np.zeros((height, width), dtype=bool)
    for _ in range(holes):
        mask |= paper_mask(rng, height, width)
    return mask


@dataclass
class _Loaded:
    job: Job
    image: Image.Image | None = None
    fmt: str = "PNG"
    save_params: dict = field(default_factory=dict)
    rgb: np.ndarray | None = None
    mask: np.ndarray | None = None
    outcome: Outcome | None = None  # set when the job ends before inference
    deep: np.ndarray | None = None  # a 16-bit colour photo's pixels, uint16 (H, W, C), upright
    orientation: int = 1  # its EXIF orientation: how to store them back
    white: int = 65535  # the white of its samples (photos.white_level)


def _view(item: _Loaded, im: Image.Image, known: np.ndarray | None = None) -> np.ndarray:
    """The 8-bit RGB view the networks see of a loaded photo (`im`, upright; a 16-bit colour one's samples in
    `item.deep`, whose white it sets): of more than 8 bits, at the white of its `known` pixels (all when None), so
    that what lies under a hole never moves the fill, as decode.read_view sees a whole photo."""
    if item.deep is None:
        return photo_rgb(im, known=known)
    rgb, item.white = deep_view(item.deep, known)
    return rgb


class Runner:
    """Restores jobs in batches; `run` yields one Outcome per job, in order."""

    def __init__(self, restorer: Restorer | None, seed: int = 0, overwrite: bool = False, strict_masks: bool = False,
                 holes: int = 1, photos_per_batch: int = 64, io_threads: int = 2, max_pixels: int = 16_000_000,
                 dilate: int = 0, jpeg_quality: int | None = None, detector=None, device="cpu"):
        self.restorer = restorer
        self.seed, self.overwrite, self.strict_masks, self.holes = seed, overwrite, strict_masks, holes
        self.photos_per_batch = max(1, photos_per_batch)
        self.io_threads = max(1, io_threads)
        self.max_pixels = max_pixels  # 16 Mpx: 10 scans of 3000x2000 peaked at 3.7 GB, 7.2 GB at 48 (README)
        self.dilate, self.jpeg_quality = dilate, jpeg_quality
        self.detector, self.device = detector, device  # a DamageDetector: --detect-damage
        self._shared_masks: dict[Path, tuple[np.ndarray, str]] = {}  # --masks FILE, decoded once
        self._said: set = set()  # notes given once per run
        self._lock = threading.Lock()

    def _once(self, key, text: str) -> list[str]:
        """[text] the first time `key` comes up in this run, [] afterwards."""
        with self._lock:
            if key in self._said:
                return []
            self._said.add(key)
            return [text]

    def _mask(self, job: Job, width: int, height: int, turned: int = 1) -> tuple[np.ndarray, list[str]]:
        """The job's mask at the photo's size (upright), and the notes reading it gave; `turned` is the EXIF orientation
        the photo was stored in."""
        if job.shared_mask:
            if job.mask_file not in self._shared_masks:
                self._shared_masks[job.mask_file] = decode_mask(job.mask_file)
            mask, source = self._shared_masks[job.mask_file]
        else:
            mask, source = decode_mask(job.mask_file)
        notes = []
        if source == "alpha":
            notes += self._once(source, f"{job.mask_file}: masks with an alpha channel that varies are read from "
                                        "it in this run (opaque = hole)")
        elif source == "both":
            notes += self._once(source, f"{job.mask_file}: masks black and white where opaque, with transparent parts, "
                                        "are read from both in this run (white and opaque = hole)")
        elif source == "colour":
            notes += self._once(source, f"{job.mask_file}: masks whose alpha channel is constant are read from their "
                                        "colours in this run (white = hole)")
        elif source == "faint":
            notes.append(f"{job.mask_file}: {FAINT}")
        elif source == "dim":
            notes.append(f"{job.mask_file}: {DIM}")
        if job.shared_mask and mask.shape != (height, width):
            if self.strict_masks:
                check_size(mask, job.mask_file, (width, height), job.photo)
            notes += self._once(("scaled", width, height),
                                f"{job.mask_file}: the {mask.shape[1]}x{mask.shape[0]} mask is scaled to {width}x{height} "
                                f"(nearest neighbour) for {job.photo} and any other photo of that size")
            mask = scaled(mask, (width, height))
        else:
            if turned in (5, 6, 7, 8) and width != height and mask.shape == (width, height):
                raise MaskError(f"{job.mask_file}: mask is {mask.shape[1]}x{mask.shape[0]}, the size of {job.photo} as "
                                f"stored, which its EXIF orientation ({turned}) turns upright to {width}x{height}; draw "
                                "the mask on the photo as viewers show it, or turn the mask the same way")
            mh, mw = mask.shape
            if (mask.shape != (height, width) and not self.strict_masks and mh and mw
                    and abs(mw * height - width * mh) <= max(mh, mw)):  # the photo's shape, to a pixel: a smaller copy
                notes.append(f"{job.mask_file}: the {mw}x{mh} mask is scaled to {width}x{height}, the size of "
                             f"{job.photo} (nearest neighbour)")
                mask = scaled(mask, (width, height))
            check_size(mask, job.mask_file, (width, height))
        if mask.all():
            raise MaskError(f"{job.mask_file}: the mask marks all of {job.photo} as hole, leaving nothing to fill it "
                            "from; holes are white (or opaque) on black (or transparent)")
        if (share := mask.mean()) > 0.5:
            notes.append(f"{job.mask_file}: marks {share:.0%} of {job.photo} as hole; holes are white: if this "
                         "mask's holes are black on white, invert it")
        return mask, notes

    def _load(self, job: Job) -> _Loaded:
        item = _Loaded(job)
        if job.clash is not None:
            item.outcome = Outcome(job, "failed", f"{job.photo}: {job.clash} of this run also writes {job.clash_file}; "
                                                  f"rename one of them or restore them in separate runs")
            return item
        if job.out.exists() and not self.overwrite:
            item.outcome = Outcome(job, "skipped", f"{job.out}: exists (use --overwrite to replace it)", kept=True)
            return item
        notes: list[str] = []
        info: list[str] = []
        try:
            src, im, fmt, notes, pixels16 = decode_photo(job.photo)
            turned = orientation(src)
            if pixels16 is not None:
                item.orientation = turned
                item.deep = upright(pixels16, turned)
            rgb = None  # the networks' view, made once the mask is known unless the detector needs it first
            h, w = im.height, im.width
            if self.detector is not None:  # the damage found, and the holes of the photo's mask when it has one
                from .damage.detector import detect

                if job.mask_file is None and job.paired and self.strict_masks:
                    item.outcome = Outcome(job, "failed", f"{job.photo}: {job.mask_sought}")
                    return item
                rgb = _view(item, im)
                mask = detect(self.detector, rgb, self.device)
                if job.mask_file is not None:
                    given, info = self._mask(job, w, h, turned)
                    mask |= given
            elif job.mask_out is not None:
                mask = draw_mask(self.seed, job.rel, h, w, self.holes)
            elif job.mask_file is None:
                status = "failed" if self.strict_masks else "skipped"
                item.outcome = Outcome(job, status, f"{job.photo}: {job.mask_sought}")
                return item
            else:
                mask, info = self._mask(job, w, h, turned)
            mask = grow(mask, self.dilate)
            if rgb is None or item.deep is not None or im.mode in WIDE:  # more than 8 bits: at its known pixels' white
                rgb = _view(item, im, ~mask)
            if item.deep is None:  # (a 16-bit photo keeps all of its file but the pixels: io/depth16.py)
                item.save_params, save_notes = read_carried(src, im, job.photo, fmt, self.jpeg_quality)
                notes += save_notes
        except (PhotoError, MaskError) as e:
            msg = str(e)
            if isinstance(e, PhotoError) and not msg.startswith(str(job.photo)):
                msg = f"{job.photo}: {msg}"
            item.outcome = Outcome(job, "failed", msg, notes, info)
            return item
        except OSError as e:  # reading the input's metadata a second time
            item.outcome = Outcome(job, "failed", f"{job.photo}: cannot read ({e.strerror or e})", notes, info)
            return item
        if mask.all():
            notes.append(f"{job.photo}: the mask covers the whole photo; it is restored from nothing")
        item.image, item.fmt, item.rgb, item.mask = im, fmt, rgb, mask
        item.outcome = Outcome(job, "restored", "", notes, info)
        return item

    def _finish(self, item: _Loaded, restored: np.ndarray | None) -> Outcome:
        job = item.job
        try:
            job.out.parent.mkdir(parents=True, exist_ok=True)
            if job.mask_out is not None:
                save_mask(item.mask, job.mask_out)
            if restored is None:
                # No hole: the file is copied byte for byte.
                atomic_write_bytes(job.out, job.photo.read_bytes())
                view = item.rgb
            elif item.deep is not None:  # 16 bits a channel: the fill scaled up to them, the rest as it was
                deep = item.deep.copy()
                deep[item.mask, :3] = from_eight_bits(restored[item.mask], item.white, np.uint16)
                atomic_write_bytes(job.out, deep_bytes(job.photo, item.fmt, stored(deep, item.orientation)))
                view = restored  # the photo's 8-bit view, the fill in the hole
            else:
                out = merge_into(item.image, restored, item.mask)
                atomic_save(out, job.out, format=item.fmt, **item.save_params)
                view = photo_rgb(out, like=item.image, known=~item.mask)  # at the input's white, which a fill can move
            if job.compare_out is not None:
                from .eval.figures import compare_figure

                atomic_save(compare_figure(item.rgb, view, item.mask), job.compare_out, format="PNG")
        except OSError as e:
            return Outcome(job, "failed", f"{job.out}: cannot write ({e.strerror or e})", item.outcome.warnings,
                           item.outcome.notes)
        except PhotoError as e:  # a 16-bit photo that changed on disk since it was read
            return Outcome(job, "failed", str(e), item.outcome.warnings, item.outcome.notes)
        return item.outcome

    def _loaded(self, jobs: Iterable[Job], pool: ThreadPoolExecutor) -> Iterator[_Loaded]:
        """Jobs loaded in order; the thread pool decodes a few photos ahead (Pillow releases the GIL)."""
        in_flight: deque = deque()
        for job in jobs:
            in_flight.append(pool.submit(self._load, job))
            if len(in_flight) >= 2 * self.io_threads:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()

    def _batches(self, jobs: Iterable[Job], pool: ThreadPoolExecutor) -> Iterator[list[_Loaded]]:
        """Groups of up to `photos_per_batch` photos or `max_pixels` pixels, however long the folder."""
        batch: list[_Loaded] = []
        pixels = 0
        for item in self._loaded(jobs, pool):
            batch.append(item)
            pixels += item.rgb.shape[0] * item.rgb.shape[1] if item.rgb is not None else 0
            if len(batch) >= self.photos_per_batch or pixels >= self.max_pixels:
                yield batch
                batch, pixels = [], 0
        if batch:
            yield batch

    def _write(self, item: _Loaded, restored: np.ndarray | None) -> Outcome:
        outcome = self._finish(item, restored) if item.outcome.status == "restored" else item.outcome
        item.image = item.rgb = item.mask = item.deep = None  # release decoded pixels as soon as possible
        return outcome

    def run(self, jobs: Iterable[Job]) -> Iterator[Outcome]:
        """One Outcome per job, in order; the photos of each batch share the model's forward passes.

        Outputs are encoded and written by a second thread pool while the model restores the next
        batch: memory holds at most the batch being written and the one being restored."""
        with ThreadPoolExecutor(self.io_threads) as reader, ThreadPoolExecutor(self.io_threads) as writer:
            writing: deque = deque()
            try:
                for batch in self._batches(jobs, reader):
                    todo = [it for it in batch if it.outcome.status == "restored" and it.mask.any()]
                    restored = self.restorer.restore_many([(it.rgb, it.mask) for it in todo]) if todo else []
                    by_id = {id(it): r for it, r in zip(todo, restored, strict=True)}
                    while writing:  # the previous batch, written while this one was restored
                        yield writing.popleft().result()
                    writing.extend(writer.submit(self._write, it, by_id.get(id(it))) for it in batch)
                while writing:
                    yield writing.popleft().result()
            except BaseException:  # Ctrl-C, or a caller that stops early: outputs not yet begun are not begun
                for future in writing:
                    future.cancel()
                raise
