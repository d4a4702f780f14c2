"""A TIFF's first page given new 16-bit pixels, written back compressed, the rest of the file kept.

A compressed or tiled TIFF cannot have its pixels overwritten in place as an uncompressed one can
(depth16.deep_tiff_bytes): the new pixels compress to other lengths. Here the first page's strips
or tiles are encoded again with Deflate (TIFF compression 8, read by libtiff, Photoshop, GIMP and
Pillow) and horizontal differencing (predictor 2), and the page gets a new directory (IFD), a copy
of the old one with those tags changed, at the end of the file; the header points to it. Every
other byte stays where it was, so every other tag (colour profile, EXIF and GPS directories, XMP,
resolution, text) and every other page reads as before. Python's zlib is enough: no codec package
is needed, whatever the input's compression was (LZW, Deflate, PackBits, ZSTD: whatever Pillow reads).

The old page's pixels must not stay in the file (a fill often removes something), and nothing else
may be overwritten. So every directory the file holds is walked (the chain of pages, SubIFDs, the
EXIF, GPS and Interop directories) and every byte range something points to is noted; the old
strips, less those ranges, are free space. The encoded strips are placed in it first (they are
usually smaller: Deflate compresses better than LZW), then at the end of the file, and what is
left of the free space is zeroed. Previews stored in other pages or SubIFDs are kept as they were.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

COMPRESSION, PREDICTOR, FILL_ORDER = 259, 317, 266
POINTERS = {330, 34665, 34853, 40965}  # tags whose values are offsets of further directories
DATA = {(273, 279), (324, 325), (513, 514)}  # (offsets, byte counts) of strips, tiles and a JPEG thumbnail
STRIPS, STRIP_BYTES, ROWS_PER_STRIP = 273, 279, 278
TILE_WIDTH, TILE_LENGTH, TILES, TILE_BYTES = 322, 323, 324, 325
DEFLATE, HORIZONTAL = 8, 2
SHORT, LONG = 3, 4
SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}  # bytes per value, by type
CODES = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 13: "I"}


class TiffLayoutError(ValueError):
    """The file is not a TIFF whose first page this module can write (BigTIFF, planar, odd tags)."""


def rewrite_first_page(data: bytes, pixels: np.ndarray, level: int = 6) -> bytearray:
    """`data` (a whole TIFF file) with its first page's pixels replaced by `pixels` (uint16 (H, W, C), as
    stored, the page's size and samples per pixel), Deflate-compressed; see the module's docstring."""
    e = {b"II": "<", b"MM": ">"}.get(bytes(data[:2]))
    if e is None:
        raise TiffLayoutError("its header is not a TIFF's")
    if struct.unpack(e + "H", data[2:4])[0] != 42:
        raise TiffLayoutError("it is a BigTIFF, which restore does not encode")
    first = struct.unpack(e + "I", data[4:8])[0]
    entries, next_ifd, _ = read_ifd(data, e, first)
    value = lambda tag, default=None: values(data, e, entries[tag]) if tag in entries else default  # noqa: E731
    h, w, c = pixels.shape
    if value(256) != [w] or value(257) != [h] or value(277, [1]) != [c]:
        raise TiffLayoutError("its first page is not the size of the pixels to write")
    if value(284, [1]) != [1] or set(value(258, [16])) != {16}:
        raise TiffLayoutError("its samples are not 16-bit and interleaved")
    if TILES in entries:
        tw, tl = value(TILE_WIDTH)[0], value(TILE_LENGTH)[0]
        boxes = [(y, x, tl, tw) for y in range(0, h, tl) for x in range(0, w, tw)]
        where, sizes = value(TILES), value(TILE_BYTES)
    else:
        per = min(value(ROWS_PER_STRIP, [h])[0], h)
        boxes = [(y, 0, min(per, h - y), w) for y in range(0, h, per)]
        where, sizes = value(STRIPS), value(STRIP_BYTES)
    if not (len(boxes) == len(where or []) == len(sizes or [])):
        raise TiffLayoutError("its strip or tile tags do not match its size")

    free = free_space(data, e, first, first, {(STRIPS, STRIP_BYTES), (TILES, TILE_BYTES)},
                      list(zip(where, sizes, strict=True)))
    out = bytearray(data)
    offsets, counts = [], []
    for y, x, bh, bw in boxes:
        block = np.zeros((bh, bw, c), np.uint16)  # tiles at the right and bottom edges are padded
        part = pixels[y : y + bh, x : x + bw]
        block[: part.shape[0], : part.shape[1]] = part
        block[:, 1:] -= block[:, :-1].copy()  # horizontal differencing, sample by sample (wraps at 16 bits)
        encoded = zlib.compress(block.astype(e + "u2").tobytes(), level)
        at = _place(free, len(encoded))
        if at is None:
            at = _append(out, encoded)
        else:
            out[at : at + len(encoded) + len(encoded) % 2] = encoded + bytes(len(encoded) % 2)
        offsets.append(at)
        counts.append(len(encoded))
    for start, end in free:  # what is left of the old pixels
        out[start:end] = bytes(end - start)

    changed = {COMPRESSION: (SHORT, [DEFLATE]), PREDICTOR: (SHORT, [HORIZONTAL]),
               TILES if TILES in entries else STRIPS: (LONG, offsets),
               TILE_BYTES if TILES in entries else STRIP_BYTES: (LONG, counts)}
    if FILL_ORDER in entries:
        changed[FILL_ORDER] = (SHORT, [1])  # the new data's bits are in the usual order
    new_entries = dict(entries)
    for tag, (kind, numbers) in changed.items():
        raw = struct.pack(f"{e}{len(numbers)}{CODES[kind]}", *numbers)
        field = raw.ljust(4, b"\0") if len(raw) <= 4 else struct.pack(e + "I", _append(out, raw))
        new_entries[tag] = (kind, len(numbers), field)
    table = struct.pack(e + "H", len(new_entries)) + b"".join(
        struct.pack(e + "HHI", tag, kind, count) + field for tag, (kind, count, field) in sorted(new_entries.items())
    ) + struct.pack(e + "I", next_ifd)
    out[4:8] = struct.pack(e + "I", _append(out, table))
    return out


def referenced(data: bytes, e: str, first: int, own: int, pairs: set[tuple[int, int]]) -> list[tuple[int, int]]:
    """Every byte range [start, end) that something in the TIFF `data` points to: the header, each directory (the
    chain of pages from `first`, SubIFDs, EXIF, GPS, Interop) and its values out of line, and each directory's
    strips, tiles or thumbnail, except the data `pairs` (offsets tag, byte counts tag) of the directory at `own`,
    the data about to be replaced."""
    taken: list[tuple[int, int]] = [(0, 8)]
    seen: set[int] = set()
    todo = [first]
    while todo:
        at = todo.pop()
        if at in seen or not 8 <= at < len(data) or len(seen) > 100_000:
            continue
        seen.add(at)
        entries, following, link = read_ifd(data, e, at)
        taken.append((at, link + 4))
        for tag, (kind, count, field) in entries.items():
            size = SIZES.get(kind, 1) * count
            if size > 4:
                start = struct.unpack(e + "I", field)[0]
                taken.append((start, start + size))
            if tag in POINTERS and kind in (4, 13):
                todo += values(data, e, (kind, count, field))
        for offset_tag, count_tag in DATA:
            if (at != own or (offset_tag, count_tag) not in pairs) and offset_tag in entries and count_tag in entries:
                taken += [(o, o + n) for o, n in zip(values(data, e, entries[offset_tag]),
                                                     values(data, e, entries[count_tag]), strict=False)]
        if following:
            todo.append(following)
    return taken


def free_space(data: bytes, e: str, first: int, own: int, pairs: set[tuple[int, int]],
               old: list[tuple[int, int]]) -> list[list[int]]:
    """The ranges `old` (offset, byte count) less everything `referenced` keeps, as sorted [start, end) intervals
    that start on a word boundary."""
    free: list[list[int]] = []
    for start, end in sorted((o + o % 2, min(o + n, len(data))) for o, n in old):
        if free and start <= free[-1][1]:
            free[-1][1] = max(free[-1][1], end)
        elif start < end:
            free.append([start, end])
    for t0, t1 in referenced(data, e, first, own, pairs):
        free = [piece for a, b in free for piece in ([a, min(b, t0)], [max(a, t1 + t1 % 2), b]) if piece[0] < piece[1]]
    return free


def _place(free: list[list[int]], size: int) -> int | None:
    """Where `size` bytes go in the free space (the first interval that holds them, on a word boundary), taken out
    of it; None when none does."""
    for interval in free:
        if interval[1] - interval[0] >= size + size % 2:  # (the padding byte is written too)
            at = interval[0]
            interval[0] = min(interval[1], at + size + size % 2)
            return at
    return None


def read_ifd(data: bytes, e: str, at: int) -> tuple[dict[int, tuple[int, int, bytes]], int, int]:
    """An IFD's entries {tag: (type, count, its 4-byte value or offset field)}, the next IFD's offset, and where that
    link lies (after every entry of the table, a repeated tag's too)."""
    if at + 2 > len(data):
        raise TiffLayoutError("a directory lies past the end of the file")
    n = struct.unpack(e + "H", data[at : at + 2])[0]
    end = at + 2 + 12 * n
    if end + 4 > len(data):
        raise TiffLayoutError("a directory is cut short")
    entries = {}
    for i in range(n):
        tag, kind, count = struct.unpack(e + "HHI", data[at + 2 + 12 * i : at + 10 + 12 * i])
        entries.setdefault(tag, (kind, count, bytes(data[at + 10 + 12 * i : at + 14 + 12 * i])))
    return entries, struct.unpack(e + "I", data[end : end + 4])[0], end


def values(data: bytes, e: str, entry: tuple[int, int, bytes]) -> list[int]:
    """An integer entry's values, from the entry itself or from where it points."""
    kind, count, field = entry
    if kind not in CODES:
        raise TiffLayoutError(f"a tag of type {kind} where numbers were expected")
    size = SIZES[kind] * count
    raw = field[:size] if size <= 4 else data[(at := struct.unpack(e + "I", field)[0]) : at + size]
    if len(raw) != size:
        raise TiffLayoutError("a tag's values lie past the end of the file")
    return list(struct.unpack(f"{e}{count}{CODES[kind]}", raw))


def _append(out: bytearray, raw: bytes) -> int:
    """Put `raw` at the end of `out`, on a word boundary as TIFF asks; returns where."""
    if len(out) + len(raw) + 1 >= 2**32:
        raise TiffLayoutError("it would grow past the 4 GB a classic TIFF can hold")
    if len(out) % 2:
        out.append(0)
    at = len(out)
    out += raw
    return at
