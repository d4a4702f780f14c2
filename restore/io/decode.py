"""Opening a photo file: decoded safely, upright, its first frame, and a 16-bit colour file at full depth."""

from __future__ import annotations

import io
import re
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .depth16 import check_decodable, is_deep, rawmode, read_deep, upright
from .files import FORMATS
from .photos import PhotoError, deep_view, photo_rgb

_OPENING = threading.Lock()


@contextmanager
def pixel_limit(megapixels: float | None) -> Iterator[None]:
    """Photos of more than `megapixels` million pixels are refused while this is open (None: Pillow's own limit, about
    89 MP), for every thread: the safeguard against a small file that decodes to more memory than the machine has."""
    if megapixels is None:
        yield
        return
    before = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = round(megapixels * 1e6)
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = before


def too_many_pixels(path: Path, e: BaseException) -> str:
    """The one-line refusal of a file over the pixel limit, from Pillow's warning or error `e` (which holds its size)."""
    def mp(n: float, digits: int = 3) -> str:
        return f"{n / 1e6:,.1f}" if n >= 1e7 else f"{n / 1e6:.{digits}g}"

    found = re.search(r"\((\d+) pixels\)", str(e))
    pixels, limit = (int(found.group(1)) if found else None), Image.MAX_IMAGE_PIXELS
    digits = next((d for d in (3, 6, 9) if pixels is None or mp(pixels, d) != mp(limit, d)), 9)
    size = f"{mp(pixels, digits)} megapixels" if pixels is not None else "more megapixels"
    return (f"{path}: {size}, over the limit of {mp(limit, digits)} (a safeguard against files that decode "
            "to more memory than the machine has); for a large scan of your own, restore run and restore masks raise "
            "it with --max-megapixels (a 108-megapixel scan with --detect-damage peaked at 5.8 GB of memory), or "
            "downscale the file")


def open_checked(path: Path) -> Image.Image:
    """Image.open with Pillow's warning of a decompression bomb made an error (Image.DecompressionBombWarning; the
    caller turns it into its own one-line refusal with too_many_pixels). The warnings filters are the process's, and
    restore run opens photos and masks in several threads: the short open is done one thread at a time, so that no
    thread restores the filters while another has them changed."""
    with _OPENING, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(pillow_source(path))


def open_photo(path: Path) -> tuple[Image.Image, str, list[str]]:
    """Decode a photo upright (EXIF orientation applied); returns (image, format, warnings)."""
    _, upright, fmt, notes, _ = decode_photo(path, keep_depth=False)
    return upright, fmt, notes


def read_view(path: Path) -> np.ndarray:
    """The 8-bit RGB view of a photo file that the networks and the detector see, upright, as `restore run` reads it:
    a 16-bit colour file's from its full-depth samples at their white (photos.deep_view), so that a 12-bit scan is
    not seen black; a 16-bit colour TIFF that restore run cannot write back (one with an orientation tag) too, which
    restore masks can find the damage of."""
    src, im, _, _, pixels16 = decode_photo(path, write_back=False)
    if pixels16 is None:
        return photo_rgb(im)
    return deep_view(upright(pixels16, orientation(src)))[0]


def orientation(src: Image.Image) -> int:
    """The EXIF orientation a photo was stored in (1: upright)."""
    return src.getexif().get(0x0112, 1)


def decode_photo(path: Path, keep_depth: bool = True, write_back: bool = True,
                 ) -> tuple[Image.Image, Image.Image, str, list[str], np.ndarray | None]:
    """(the image as decoded, the same turned upright, its format, warnings, and for a 16-bit colour
    PNG or TIFF its uint16 pixels as stored: the decoded image holds only their high bytes). With
    `keep_depth` (the photo will be written back, or seen as it would be), a deep colour file that cannot be written
    back at full depth is a PhotoError, unless `write_back` is False (it will only be seen)."""
    notes = []
    try:
        im = open_checked(path)
        fmt = im.format or FORMATS.get(path.suffix.lower(), "PNG")
        if fmt == "MPO":  # a JPEG with extra pictures (phones' depth maps): written back as a JPEG
            fmt = "JPEG"
        if getattr(im, "n_frames", 1) > 1:
            notes.append(f"{path}: {im.n_frames} frames; only the first is restored")
            im.seek(0)
        raw = rawmode(im)
        check_decodable(im, raw, path)
        deep = keep_depth and is_deep(im, raw, path, write_back)
        im.load()
        pixels16 = read_deep(path, np.asarray(im)) if deep else None
    except PhotoError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise PhotoError(too_many_pixels(path, e)) from None
    except Exception as e:  # noqa: BLE001 - a damaged file makes Pillow's decoders raise almost anything
        raise PhotoError(f"{path}: {unreadable(path, e)}") from None
    try:
        upright = ImageOps.exif_transpose(im)
    except Exception as e:  # noqa: BLE001 - a damaged EXIF block; the pixels themselves decoded
        notes.append(f"{path}: its EXIF block is damaged ({first_line(e)}); the photo is restored as stored, "
                     "without turning it upright")
        upright = im
    return im, upright, fmt, notes, pixels16


def unreadable(path: Path, e: BaseException) -> str:
    """Why `path` could not be decoded and what to do, for a one-line error (never Pillow's name for the buffer a TIFF
    was read from)."""
    try:
        empty = path.stat().st_size == 0
    except OSError:
        empty = False
    if empty:
        return "cannot read image (the file is empty); restore it from a backup, or take it out of the folder"
    if isinstance(e, Image.UnidentifiedImageError):
        return ("cannot read image (not a picture Pillow recognises: damaged, or not the format its name says); open "
                "it in an image editor and save it again as JPEG, PNG or TIFF")
    if isinstance(e, OSError) and e.errno is not None:  # the file itself: permissions, a folder, a vanished disk
        return f"cannot open the file ({e.strerror}); check that it can be read"
    return (f"cannot read image ({first_line(e)}); it may be damaged or cut short: open it in an image editor and save "
            "it again")


def first_line(e: BaseException) -> str:
    """What an exception says, on one line (its type when it says nothing)."""
    return str(e).splitlines()[0] if str(e) else type(e).__name__


def pillow_source(path: Path):
    """What to hand Image.open for `path`: a TIFF's bytes in memory, any other file its path. Pillow (13) turns a
    TIFF upright as it loads it, and from a file it maps uncompressed one-channel or RGBA strips in place, which
    it then turns wrong (orientations 5-8)."""
    return io.BytesIO(path.read_bytes()) if path.suffix.lower() in (".tif", ".tiff") else path
