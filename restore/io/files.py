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
COMPARE_SUFFIX = "_compare"  # restore run --concat: NAME_compare.png, the photo before and after
SIDE_SUFFIXES = (OVERLAY_SUFFIX, COMPARE_SUFFIX)  # figures restore writes beside a photo or its mask
FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".webp": "WEBP",
           ".tif": "TIFF", ".tiff": "TIFF", ".gif": "GIF"}


def find_photos(paths: list[Path], recursive: bool = False, exclude: Path | list[Path] | None = None,
                unreadable: list[Path] | None = None, duplicates: list[tuple[Path, Path]] | None = None,
                passed_over: list[Path] | None = None) -> list[tuple[Path, Path]]:
    """(photo, path relative to its input root) for each image file in `paths`, sorted.

    Folders are scanned for image extensions (recursively with `recursive`), and a photo named twice
    is taken once. `exclude` (the output folder, the masks) is passed over where it lies inside a
    folder being scanned; where it holds that folder (photos and their a_mask.png side by side,
    or an output folder above the photos), only its files named as masks are. Elsewhere too, what restore
    writes beside a photo is not a photo when that photo is there: NAME_mask.png, NAME_overlay.png and
    NAME_compare.png beside NAME.jpg (added to `passed_over` when it is given). Image files of a
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
        stems = {(p.parent, p.stem) for p, _ in candidates if p.suffix.lower() in PHOTO_EXTS}
        for p, rel in candidates:
            photo = p.suffix.lower() in PHOTO_EXTS
            if p.name.startswith(".") or not (photo or (unreadable is not None and p.suffix.lower() in OTHER_IMAGE_EXTS)):
                continue
            rp = p.resolve()
            if any(rp.is_relative_to(e) for e in inside):
                continue
            if around and (mask_stem(p) != p.stem or side_output(p, stems)):
                continue
            if not around and side_output(p, stems, masks_too=True):
                if passed_over is not None:
                    passed_over.append(p)
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
    if passed_over is not None:  # a file named itself is a photo, whatever its folder's scan said
        passed_over[:] = [p for p in passed_over if p.resolve() not in seen]
    return out


def side_output(path: Path, stems: set[tuple[Path, str]], masks_too: bool = False) -> bool:
    """Whether `path` is NAME_overlay.* or NAME_compare.* beside NAME.* or NAME_mask.* (`stems`: (folder, stem) of the
    image files there), what `restore masks --overlay` and `restore run --concat` write; with `masks_too`, also
    NAME_mask.* beside NAME.*."""
    if masks_too and mask_stem(path) != path.stem and (path.parent, mask_stem(path)) in stems:
        return True
    for side in SIDE_SUFFIXES:
        if path.stem.endswith(side) and len(path.stem) > len(side):
            base = path.stem[: -len(side)]
            if any((path.parent, base + suffix) in stems for suffix in ("", *MASK_SUFFIXES)):
                return True
    return False


def index_masks(folder: Path, recursive: bool = False, marked_only: bool = False) -> dict[str, Path]:
    """Mask files by the photo stem they belong to (see mask_stem); relative paths keep folders apart.

    `marked_only`: only files named as masks (a_mask.png), for a folder that holds the photos too. The
    NAME_overlay.png that `restore masks --overlay` and the NAME_compare.png that `restore run --concat` write
    beside NAME_mask.png are not masks."""
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
    # NAME_overlay.png or NAME_compare.png beside NAME_mask.png (or a restored NAME.png); an explicit
    # NAME_overlay_mask.png is the mask of a photo NAME_overlay
    figures = [k for k, p in index.items()
               if mask_stem(p) == p.stem and any(k.endswith(side) and k[: -len(side)] in index for side in SIDE_SUFFIXES)]
    for key in figures:
        del index[key]
    return index


def mask_key(rel: Path) -> str:
    """The key `index_masks` uses for a photo at relative path `rel`."""
    return str(rel.with_name(rel.stem))


def mask_stem(path: Path) -> str:
    """The photo stem a mask file belongs to: ``a.png`` and ``a_mask.png`` both give ``a``."""
    stem = path.stem
    for suffix in MASK_SUFFIXES:
        if stem.lower().endswith(suffix) and len(stem) > len(suffix):  # a_mask, a_Mask, a_MASK
            return stem[: -len(suffix)]
    return stem
