"""PNG files at the level of their chunks: the one reader (metadata kept, 16-bit files) and a chunk writer."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import NamedTuple

SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Chunk(NamedTuple):
    kind: bytes  # b"IHDR", b"tEXt", ...
    whole: bytes  # the chunk as stored: length, type, data and CRC

    @property
    def data(self) -> bytes:
        (length,) = struct.unpack(">I", self.whole[:4])
        return self.whole[8 : 8 + length]


def read_chunks(path: Path, kinds: tuple[bytes, ...] | None = None) -> list[Chunk] | None:
    """The chunks of a PNG file in file order, up to IEND; None when the file is not a PNG.

    With `kinds`, only chunks of those types are read (the others, image data included, are skipped
    on disk and left out).
    """
    out = []
    with open(path, "rb") as f:
        if f.read(len(SIGNATURE)) != SIGNATURE:
            return None
        while len(head := f.read(8)) == 8:
            length, kind = struct.unpack(">I4s", head)
            if kinds is None or kind in kinds:
                out.append(Chunk(kind, head + f.read(length + 4)))
            else:
                f.seek(length + 4, 1)
            if kind == b"IEND":
                break
    return out


def make_chunk(kind: bytes, body: bytes) -> bytes:
    """One chunk as stored: length, type, body and CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
