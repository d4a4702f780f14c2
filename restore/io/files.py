"""Finding photos in folders and pairing masks with them by file name."""

from __future__ import annotations

from pathlib import Path

# The image files restore reads: photos, masks, and the images of a dataset folder (in the order
# messages name them).
PHOTO_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")
# Image files restore does not read, reported when a folder holds them rather than passed over
# in silence: phone photos (HEIC), camera raw, newer and layered formats.
OTHER_IMAGE_EXTS = {".heic", ".heif", ".avif", ".jxl", ".jp2", ".dng", ".cr2", ".cr3", ".nef", ".arw", ".orf",
                    ".rw2", ".raf", ".psd", ".exr"}
MASK_SUFFIXES = ("_mask", "-mask", ".mask")
OVERLAY_SUFFIX = "_overlay"  # restore masks --overlay: NAME_overlay.png, the photo with its mask painted in
FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".webp": "WEBP",
           ".tif": "TIFF", ".tiff": "TIFF", ".gif": "GIF"}


def find_photos(paths: list[Path], recursive: bool = False, exclude: Path | list[Path] | None = None,
                unreadable: list[Path] | None = None,
                duplicates: list[tuple[Path, Path]] | None = None) -> list[tuple[Path, Path]]:
    """(photo, path relative to its input root) for each image file in `paths`, sorted.

    Folders are scanned for image extensions (recursively with `recursive`), and a photo named twice
    is taken once. `exclude` (the output folder, the masks) is passed over where it lies inside a
    folder being scanned; where it holds that folder (photos and their a_mask.png side by side,
    or an output folder above the photos), only its files named as masks are. Image files of a
    kind restore does not read (HEIC, camera raw, ...) are added to `unreadable` when it is given, and
    (name, first name) of a file found again under another name (a link) to `duplicates`.
    """
    seen: dict[Path, Path] = {}  # the file -> the name it was first found by
    out: list[tuple[Path, Path]] = []
    excl = [p.resolve() for p in ([exclude] if isinstance(exclude, Path) else exclude or [])]
    for root in paths:
        if root.is_file():
            candidates, inside, around = [(root, Path(root.name))], [], []
        else:
            it = root.rglob("*") if recursive else root.iterdir()
            candidates = sorted((p, p.relative_to(root)) for p in it if p.is_file())
            here = root.resolve()
            inside = [e for e in excl if e != here and e.is_relative_to(here)]
            around = [e for e in excl if here.is_relative_to(e)]
        stems = {(p.parent, p.stem) for p, _ in candidates} if around else set()
        for p, rel in candidates:
            photo = p.suffix.lower() in PHOTO_EXTS
            if p.name.startswith(".") or not (photo or (unreadable is not None and p.suffix.lower() in OTHER_IMAGE_EXTS)):
                continue
            rp = p.resolve()
            if any(rp.is_relative_to(e) for e in inside):
                continue
            if around and (mask_stem(p) != p.stem or _overlay_of_a_neighbour(p, stems)):
                continue
            if not photo:  # an image file of a kind restore does not read
                unreadable.append(p)
                continue
            if rp in seen:
                if duplicates is not None and p != seen[rp]:
                    duplicates.append((p, seen[rp]))
                continue
            seen[rp] = p
            out.append((p, rel))
    return out


def _overlay_of_a_neighbour(path: Path, stems: set[tuple[Path, str]]) -> bool:
    """Whether `path` is NAME_overlay.* beside NAME.* or NAME_mask.*: what `restore masks --overlay` writes."""
    if not path.stem.endswith(OVERLAY_SUFFIX):
        return False
    base = path.stem[: -len(OVERLAY_SUFFIX)]
    return any((path.parent, base + suffix) in stems for suffix in ("", *MASK_SUFFIXES))


def index_masks(folder: Path, recursive: bool = False, marked_only: bool = False) -> dict[str, Path]:
    """Mask files by the photo stem they belong to (see mask_stem); relative paths keep folders apart.

    `marked_only`: only files named as masks (a_mask.png), for a folder that holds the photos too. The
    NAME_overlay.png that `restore masks --overlay` writes beside NAME_mask.png is not a mask."""
    it = folder.rglob("*") if recursive else folder.iterdir()
    index: dict[str, Path] = {}
    for p in sorted(it):
        if p.is_file() and p.suffix.lower() in PHOTO_EXTS and not p.name.startswith("."):
            if marked_only and mask_stem(p) == p.stem:
                continue
            key = str(p.relative_to(folder).with_name(mask_stem(p)))
            # a plain a.png wins over a_mask.png only if both exist; prefer the explicit _mask name
            if key not in index or mask_stem(p) != p.stem:
                index[key] = p
    # NAME_overlay.png beside NAME_mask.png; an explicit NAME_overlay_mask.png is the mask of a photo NAME_overlay
    overlays = [k for k, p in index.items()
                if k.endswith(OVERLAY_SUFFIX) and k[: -len(OVERLAY_SUFFIX)] in index and mask_stem(p) == p.stem]
    for key in overlays:
        del index[key]
    return index


def mask_key(rel: Path) -> str:
    """The key `index_masks` uses for a photo at relative path `rel`."""
    return str(rel.with_name(rel.stem))


def mask_stem(path: Path) -> str:
    """The photo stem a mask file belongs to: ``a.png`` and ``a_mask.png`` both give ``a``."""
    stem = path.stem
    for suffix in MASK_SUFFIXES:
        if stem.endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)]
    return stem
