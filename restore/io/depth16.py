"""Colour photos with 16 bits per channel (scans, raw conversions), kept at 16 bits.

Pillow reads a 16-bit RGB or RGBA PNG or TIFF as 8-bit, keeping each sample's high byte, and
cannot write one back; saved through it, the whole photo would lose its low bytes, not only the
hole. Here such a file is read at full depth: Pillow's decoder runs a second time with the
samples' byte order swapped, which gives their low bytes. The networks see the 8-bit view. The
restored file is the original with its pixel data replaced: every known pixel keeps its 16
bits, the fill is scaled up to 16 bits, and everything else is copied byte for byte (a PNG's
other chunks: colour profile, gamma, text, EXIF; an uncompressed TIFF's tags and its other
pages). Pixels are written in the orientation they were stored in, so an EXIF orientation stays
true. A compressed or tiled TIFF's first page is encoded again (Deflate) with a directory of its
own, every other byte of the file kept (tiffpage.py). Either way the written file is decoded again
and must give back exactly the pixels meant, or nothing is written.

Deep files that cannot be written back this way (a 16-bit colour TIFF with an orientation tag or
stored channel by channel, a 16-bit CMYK TIFF, a 16-bit gray + alpha PNG) are refused rather than
silently brought down to 8 bits.
"""

from __future__ import annotations

import io
import re
import struct
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from .photos import PhotoError
from .png import SIGNATURE, make_chunk, read_chunks
from .thumbnail import without_thumbnail
from .tiffpage import STRIP_BYTES, STRIPS, TiffLayoutError, referenced, rewrite_first_page

COLOUR = {"RGB", "RGBA"}  # the modes kept at 16 bits
SAMPLES16 = re.compile(r"^[A-Za-z]+;16[BLN]$")  # 16 bits a sample, in some byte order
ANIMATION = {b"acTL", b"fcTL", b"fdAT"}  # only the first frame is restored: the output is a still


def rawmode(im: Image.Image) -> str | None:
    """How the file stores its pixels, as Pillow's raw mode (read before the image is loaded)."""
    if not im.tile:
        return None
    args = im.tile[0].args
    return args if isinstance(args, str) else (args[0] if args and isinstance(args[0], str) else None)


def check_decodable(im: Image.Image, raw: str | None, path: Path) -> None:
    """A PhotoError for a TIFF of more than 8 bits a sample that Pillow would decode as 8-bit garbage: one stored
    channel by channel (planar), whose samples it unpacks a byte at a time."""
    if im.format != "TIFF" or im.mode.startswith("I") or im.mode == "F" or (raw and SAMPLES16.match(raw)):
        return
    bits = im.tag_v2.get(258, (1,))
    bits = bits if isinstance(bits, tuple) else (bits,)
    if max(bits) > 8:
        planar = " stored channel by channel (planar)" if im.tag_v2.get(284, 1) == 2 else ""
        raise PhotoError(f"{path}: a {max(bits)}-bit {im.mode} TIFF{planar}, which restore cannot read at full depth; "
                         "save it with its channels interleaved (contiguous, uncompressed), or as a 16-bit PNG, first")


def is_deep(im: Image.Image, raw: str | None, path: Path, write_back: bool = True) -> bool:
    """Whether `im` is a 16-bit colour PNG or TIFF this module keeps at 16 bits; a PhotoError for
    deep colour files that would lose bits. Without `write_back` (the photo is only looked at: restore masks, the
    bench), a turned 16-bit colour TIFF is read at full depth too."""
    if raw is None or not SAMPLES16.match(raw) or im.mode.startswith("I") or im.mode == "F":
        return False  # 8 bits a sample (BGR;16 is 5-6-5 bits a pixel), or 16-bit gray (I;16), which Pillow keeps whole
    colour = im.mode in COLOUR and raw.split(";")[0] in COLOUR
    if im.format == "PNG" and colour and raw.endswith("B"):
        return True
    if im.format == "TIFF" and colour:
        tags = im.tag_v2
        if not write_back and raw[-1] in "BLN":
            return True
        if tags.get(274, 1) != 1:
            raise PhotoError(f"{path}: a 16-bit colour TIFF with an orientation tag ({tags[274]}), which restore "
                             "cannot yet write back at 16 bits; save it upright (orientation 1), or as a 16-bit PNG, "
                             "first")
        if raw[-1] in "BLN" and tags.get(284, 1) == 1:
            if _bigtiff(path) and (tags.get(259, 1) != 1 or 322 in tags):
                raise PhotoError(f"{path}: a compressed or tiled 16-bit colour BigTIFF, which restore cannot write back "
                                 "at 16 bits; save it as a 16-bit PNG, or as an uncompressed TIFF, first")
            return True  # uncompressed strips are overwritten in place, anything else encoded again (tiffpage.py)
        raise PhotoError(f"{path}: a 16-bit colour TIFF stored channel by channel (planar), which restore cannot "
                         "write back without losing 8 of its bits; save it with its channels interleaved, or as a "
                         "16-bit PNG, first")
    kind = "gray + alpha PNG" if raw.startswith("LA") else f"{raw.split(';')[0]} {im.format or 'image'}"
    raise PhotoError(f"{path}: a 16-bit {kind}, which restore cannot write back without losing 8 of its bits; "
                     "save it as a 16-bit RGB PNG (or as 8-bit) first")


def _bigtiff(path: Path) -> bool:
    """Whether the file is a BigTIFF (tiffpage.py writes classic TIFFs only)."""
    try:
        with open(path, "rb") as f:
            return f.read(4) in (b"II+\0", b"MM\0+")
    except OSError:
        return False


def read_deep(path, high: np.ndarray) -> np.ndarray:
    """The file's pixels as uint16 (H, W, C) as stored, from `high` (Pillow's 8-bit decode) and a
    second decode that keeps the low bytes; `path` is a file's path or a file object."""
    # libtiff's decoder (compressed TIFFs) gives the samples in the machine's own order ("N")
    swap = {"B": "L", "L": "B", "N": "B" if sys.byteorder == "little" else "L"}
    with Image.open(path) as im:
        # With the byte order swapped, the unpacker takes each sample's other byte: the low one.
        im.tile = [t._replace(args=(t.args[:-1] + swap[t.args[-1]]) if isinstance(t.args, str)
                              else (t.args[0][:-1] + swap[t.args[0][-1]], *t.args[1:])) for t in im.tile]
        low = np.asarray(im)
    return (high.astype(np.uint16) << 8) | low


def deep_bytes(source: Path, fmt: str, pixels: np.ndarray) -> bytes | bytearray:
    """`source`'s file with its pixels replaced by `pixels` (uint16 (H, W, C) as stored)."""
    return deep_png_bytes(source, pixels) if fmt == "PNG" else deep_tiff_bytes(source, pixels)


def deep_tiff_bytes(source: Path, pixels: np.ndarray) -> bytes | bytearray:
    """A TIFF with the first page's pixels replaced by `pixels`; every tag, and every other page, stays as it was.
    An uncompressed TIFF's strips are overwritten; a compressed or tiled one's first page is encoded again
    (tiffpage.py). Either way the written file is decoded again and must give back `pixels`, or it is a PhotoError."""
    data = Path(source).read_bytes()
    why = "its layout is not one restore can write"
    try:
        out = _overwritten(data, pixels)
        if out is None:
            out = rewrite_first_page(data, np.ascontiguousarray(pixels))
    except TiffLayoutError as e:
        why = str(e)
    except (ValueError, TypeError, IndexError, KeyError, OverflowError, struct.error) as e:
        why = f"{why} ({type(e).__name__})"
    else:
        try:
            with warnings.catch_warnings():  # (Pillow's warnings about the file were given when it was read)
                warnings.simplefilter("ignore")
                with Image.open(io.BytesIO(out)) as im:
                    im.load()
                    back = read_deep(io.BytesIO(out), np.asarray(im))
            if np.array_equal(back, pixels):
                return out  # (a bytearray: a large scan is not copied once more)
            why = "the written file did not read back as the restored pixels"
        except Exception as e:  # noqa: BLE001 - Pillow failing on the written file: the check failed
            why = f"the written file could not be read back ({type(e).__name__})"
    raise PhotoError(f"{source}: cannot write this 16-bit colour TIFF back at 16 bits ({why}); save it again as a "
                     "16-bit PNG, or as a TIFF from another program, first")


def _overwritten(data: bytes, pixels: np.ndarray) -> bytearray | None:
    """An uncompressed, untiled TIFF with the first page's strips overwritten by `pixels` (same length: nothing else in
    the file moves); None for any other TIFF, to be encoded again."""
    endian = {b"II": "<", b"MM": ">"}.get(bytes(data[:2]))  # the byte order the TIFF header declares
    with Image.open(io.BytesIO(data)) as im:
        tags = im.tag_v2
        h, w = im.size[1], im.size[0]
        if tags.get(259, 1) != 1 or 273 not in tags or 279 not in tags or 322 in tags or endian is None:
            return None
        offsets, counts = list(tags[273]), list(tags[279])
        per = int(tags.get(278, h))
    if pixels.shape[:2] != (h, w) or pixels.shape[2] not in (3, 4) or len(offsets) != len(counts):
        raise TiffLayoutError("its first page is not the size of the pixels to write")
    first = struct.unpack(endian + "I", data[4:8])[0]
    others = referenced(data, endian, first, first, {(STRIPS, STRIP_BYTES)})
    if any(o < t1 and t0 < o + n for o, n in zip(offsets, counts, strict=True) for t0, t1 in others):
        return None  # another page or tag points into these strips (writers may share them): encoded again instead
    out = bytearray(data)
    samples = pixels.astype(f"{endian}u2")
    for i, (offset, count) in enumerate(zip(offsets, counts, strict=True)):
        strip = samples[i * per : (i + 1) * per].tobytes()
        if len(strip) != count or offset + count > len(data):
            return None  # strips not where and as long as their rows: encoded again instead
        out[offset : offset + count] = strip
    return out


# EXIF orientation -> the numpy steps that turn stored pixels upright (as ImageOps.exif_transpose)
def upright(a: np.ndarray, orientation: int) -> np.ndarray:
    steps = {2: lambda x: x[:, ::-1], 3: lambda x: x[::-1, ::-1], 4: lambda x: x[::-1],
             5: lambda x: x.swapaxes(0, 1), 6: lambda x: np.rot90(x, -1), 7: lambda x: x[::-1, ::-1].swapaxes(0, 1),
             8: lambda x: np.rot90(x, 1)}
    return steps[orientation](a) if orientation in steps else a


def stored(a: np.ndarray, orientation: int) -> np.ndarray:
    """The inverse of `upright`."""
    return upright(a, {6: 8, 8: 6}.get(orientation, orientation))


def _paeth_rows(a: np.ndarray, rows_at_once: int = 256) -> bytes:
    """uint16 (H, W, C) -> PNG scanlines, each Paeth-filtered. The predictors are the unfiltered
    neighbours, so rows are filtered many at a time (a few MB of temporaries for each of them)."""
    h, w, c = a.shape
    bpp = 2 * c
    data = a.astype(">u2").view(np.uint8).reshape(h, w * bpp)
    out = []
    for y0 in range(0, h, rows_at_once):
        x = data[y0 : y0 + rows_at_once].astype(np.int16)
        up = np.empty_like(x)
        up[0] = data[y0 - 1] if y0 else 0
        up[1:] = x[:-1]
        left, corner = np.zeros_like(x), np.zeros_like(x)
        left[:, bpp:], corner[:, bpp:] = x[:, :-bpp], up[:, :-bpp]
        p = left + up - corner
        pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - corner)
        pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, corner))
        rows = np.empty((len(x), 1 + x.shape[1]), np.uint8)
        rows[:, 0] = 4  # Paeth
        rows[:, 1:] = (x - pred) & 0xFF
        out.append(rows.tobytes())
    return b"".join(out)


def deep_png_bytes(source: Path, pixels: np.ndarray) -> bytes:
    """`source`'s PNG file with its image data replaced by `pixels` (uint16 (H, W, C) as stored, its
    size and channels); the other chunks are kept as they are, but for interlacing, which is
    dropped, and animation chunks (the output is the first frame)."""
    chunks = read_chunks(source)
    if chunks is None:
        raise PhotoError(f"{source}: no longer a PNG file")
    out, wrote = [SIGNATURE], False
    for kind, whole in chunks:
        if kind == b"IHDR":
            w, h, depth, colour, comp, filt, _ = struct.unpack(">IIBBBBB", whole[8:21])
            if (h, w, depth) != (*pixels.shape[:2], 16) or {2: 3, 6: 4}.get(colour) != pixels.shape[2]:
                raise PhotoError(f"{source}: its PNG header does not match the pixels to write")
            out.append(make_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour, comp, filt, 0)))
        elif kind == b"IDAT":
            if not wrote:
                out.append(make_chunk(b"IDAT", zlib.compress(_paeth_rows(pixels), 6)))
                wrote = True
        elif kind == b"eXIf":  # without the thumbnail of the photo as it was (thumbnail.py)
            out.append(make_chunk(b"eXIf", without_thumbnail(whole[8:-4])))
        elif kind not in ANIMATION:
            out.append(whole)
    return b"".join(out)
