"""An EXIF block without its thumbnail.

A camera's or a phone's EXIF block often holds a small JPEG of the photo (IFD1), which viewers and
file browsers show in place of the photo. Carried into a restored file as it is, it would still
show what the fill removed. Here IFD0 stops pointing to IFD1 and the thumbnail's bytes are
zeroed; nothing moves, so every offset in the block, maker notes' included, stays true. The
photo's own tags, EXIF and GPS directories are kept; a viewer makes a new thumbnail from the
restored photo.
"""

from __future__ import annotations

import struct

from .tiffpage import TiffLayoutError, free_space, read_ifd, values

PREFIX = b"Exif\x00\x00"  # before the TIFF header in a JPEG's APP1 segment, and in Pillow's info["exif"]
THUMBNAIL = ((513, 514), (273, 279))  # (offsets, byte counts): a JPEG thumbnail, or an uncompressed one's strips


def without_thumbnail(exif: bytes) -> bytes:
    """`exif` (Pillow's info["exif"], with or without the Exif prefix) with IFD1 cut off and its image zeroed (only
    bytes nothing else in the block points to); a block without one, or one that cannot be read, as it is."""
    start = len(PREFIX) if exif.startswith(PREFIX) else 0
    tiff = bytearray(exif[start:])
    e = {b"II": "<", b"MM": ">"}.get(bytes(tiff[:2]))
    if e is None or len(tiff) < 8:
        return exif
    try:
        first = struct.unpack(e + "I", tiff[4:8])[0]
        _, second, link = read_ifd(tiff, e, first)
        if not second:
            return exif
        thumb, _, _ = read_ifd(tiff, e, second)
        image = [(o, n) for offsets, counts in THUMBNAIL if offsets in thumb and counts in thumb
                 for o, n in zip(values(tiff, e, thumb[offsets]), values(tiff, e, thumb[counts]), strict=False)]
        free = free_space(tiff, e, first, second, set(THUMBNAIL), image)
    except TiffLayoutError:
        return exif
    tiff[link : link + 4] = bytes(4)  # IFD0 -> IFD1
    for a, b in free:
        tiff[a:b] = bytes(b - a)
    return bytes(exif[:start]) + bytes(tiff)
