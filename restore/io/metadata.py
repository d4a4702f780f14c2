"""What an output file keeps of its input: metadata, and for JPEG and WebP the compression.

`read_carried` looks at the input as it was opened (before it is turned upright) and returns
the keyword arguments of `Image.save` that write the same things into an output of the same
format. Kept, where the format can hold it:

| format | kept |
|---|---|
| JPEG | ICC profile, EXIF, XMP, dpi, comment, quantization tables, chroma subsampling, progressive |
| PNG  | ICC profile, EXIF, XMP, dpi, tEXt/zTXt/iTXt chunks as they were, gAMA, cHRM, sRGB, cICP |
| TIFF | ICC profile, EXIF, XMP, IPTC, Photoshop resources, resolution, text tags (description, artist...), compression |
| WebP | ICC profile, EXIF, XMP, lossless or lossy |
| GIF  | comment |
| BMP  | dpi |

EXIF and XMP come from the upright image: when the photo was rotated by its EXIF orientation,
Pillow has reset the orientation tag, and the output must not be rotated a second time.
"""

from __future__ import annotations

import struct
from pathlib import Path

from PIL import Image, JpegImagePlugin, PngImagePlugin, TiffImagePlugin

from .png import read_chunks
from .thumbnail import without_thumbnail

# Ancillary PNG chunks copied byte for byte (text keeps its compression and language tags).
PNG_CHUNKS = (b"tEXt", b"zTXt", b"iTXt", b"gAMA", b"cHRM", b"sRGB", b"cICP")
PNG_TEXT = (b"tEXt", b"zTXt", b"iTXt")
# TIFF tags copied as they are, with their types; the EXIF and GPS sub-directories too.
TIFF_TAGS = (
    270,  # ImageDescription
    271,  # Make
    272,  # Model
    282, 283, 296,  # XResolution, YResolution, ResolutionUnit
    305,  # Software
    306,  # DateTime
    315,  # Artist
    700,  # XMP
    33432,  # Copyright
    33723,  # IPTC
    34377,  # Photoshop image resources
)
TIFF_SUB_IFDS = (0x8769, 0x8825)  # Exif, GPS
TIFF_COMPRESSIONS = {"tiff_lzw", "tiff_adobe_deflate", "packbits", "jpeg", "webp", "tiff_deflate", "tiff_jpeg",
                     "tiff_ccitt", "group3", "group4"}  # the last three: CCITT fax, bilevel (mode 1) images only


def png_chunks(path: Path) -> list[tuple[bytes, bytes]]:
    """The PNG_CHUNKS of a PNG file, in file order, as (type, data)."""
    return [(c.kind, c.data) for c in read_chunks(path, PNG_CHUNKS) or []]


def _text_keyword(cid: bytes, data: bytes) -> str:
    return data.split(b"\0", 1)[0].decode("latin-1")


def _png_info(path: Path, src: Image.Image, upright: Image.Image) -> PngImagePlugin.PngInfo | None:
    """The text and colour chunks of the input. A text chunk whose value Pillow changed while turning
    the photo upright (the orientation in XMP or in a raw EXIF profile) is written with the new value."""
    chunks = png_chunks(path)
    if not chunks:
        return None
    info = PngImagePlugin.PngInfo()
    for cid, data in chunks:
        if cid in PNG_TEXT:
            key = _text_keyword(cid, data)
            new = upright.info.get(key)
            if new is not None and new != src.info.get(key):
                if cid == b"iTXt":
                    info.add_itxt(key, str(new), zip=data[len(key) + 1] == 1)
                else:
                    info.add_text(key, str(new), zip=cid == b"zTXt")
                continue
        info.add(cid, data)
    return info


def _webp_lossless(path: Path) -> bool:
    """Whether a WebP file holds a lossless (VP8L) image rather than a lossy (VP8) one."""
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WEBP":
            return False
        while len(chunk := f.read(8)) == 8:
            cid, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid in (b"VP8L", b"VP8 "):
                return cid == b"VP8L"
            if cid == b"ANMF":  # animation frame: its own sub-chunks follow a 16-byte header
                f.seek(16, 1)
                continue
            f.seek(length + (length & 1), 1)
    return False


def _tiff_params(src: Image.Image, upright: Image.Image, path: Path) -> tuple[dict, list[str]]:
    tags = getattr(src, "tag_v2", None)
    ifd = TiffImagePlugin.ImageFileDirectory_v2()
    for tag in TIFF_TAGS:
        if tags is not None and tag in tags:
            ifd[tag] = tags[tag]
            ifd.tagtype[tag] = tags.tagtype[tag]
    if 700 in ifd and upright.info.get("xmp"):  # XMP with its orientation reset, if the photo was turned
        ifd[700] = upright.info["xmp"]
    # The EXIF and GPS directories; the orientation (274) is a base tag, not copied, so it is reset.
    src_exif = src.getexif()
    for tag in TIFF_SUB_IFDS:
        if sub := src_exif.get_ifd(tag):
            ifd[tag] = dict(sub)  # the writer stores a dict as a sub-directory
    params: dict = {"tiffinfo": ifd}
    notes = []
    compression = src.info.get("compression")
    if compression in TIFF_COMPRESSIONS:
        if any(tag in ifd for tag in TIFF_SUB_IFDS):
            # libtiff, which Pillow compresses with, refuses EXIF sub-directories: keep the data, not the size.
            notes.append(f"{path}: written uncompressed ({compression} in the input), since Pillow cannot write "
                         "its EXIF directory into a compressed TIFF")
        else:
            params["compression"] = compression
    return params, notes


def _jpeg_states_dpi(info: dict) -> bool:
    """Whether a JPEG's dpi is its own: in its JFIF header (in inches or cm), or in its EXIF (a resolution and its
    unit). Pillow says 72 dpi of a JPEG whose JFIF gives only an aspect ratio and whose EXIF lacks either; written
    back, that would be new."""
    if info.get("jfif_unit") in (1, 2):
        return True
    try:
        exif = Image.Exif()
        exif.load(info.get("exif") or b"")
        return 0x011A in exif and 0x0128 in exif  # XResolution, ResolutionUnit
    except Exception:  # noqa: BLE001 - a damaged EXIF block states nothing
        return False


def read_carried(src: Image.Image, upright: Image.Image, path: Path, fmt: str,
                 jpeg_quality: int | None = None) -> tuple[dict, list[str]]:
    """Keyword arguments of `Image.save` that give an output of format `fmt` what `src` (the input
    as opened from `path`) carried, and notes on what could not be kept as it was. `upright` is `src`
    after its EXIF orientation was applied. `jpeg_quality` re-encodes a JPEG (or lossy WebP) at that
    quality instead of with its own tables."""
    info = upright.info
    params: dict = {}
    notes: list[str] = []
    if fmt in ("JPEG", "PNG", "TIFF", "WEBP") and info.get("icc_profile"):
        params["icc_profile"] = info["icc_profile"]
    if fmt in ("JPEG", "PNG", "WEBP") and info.get("exif"):
        params["exif"] = without_thumbnail(info["exif"])  # it would still show what the fill removed
    if fmt in ("JPEG", "WEBP") and info.get("xmp"):
        params["xmp"] = info["xmp"]
    if fmt in ("JPEG", "PNG", "BMP") and "dpi" in info and (fmt != "JPEG" or _jpeg_states_dpi(info)):
        params["dpi"] = info["dpi"]
    if fmt in ("JPEG", "GIF") and info.get("comment"):
        params["comment"] = info["comment"]
    if fmt == "JPEG":
        params.update(_jpeg_compression(src, jpeg_quality))
    elif fmt == "PNG":
        if (pnginfo := _png_info(path, src, upright)) is not None:
            params["pnginfo"] = pnginfo
    elif fmt == "TIFF":
        tiff, notes = _tiff_params(src, upright, path)
        params.update(tiff)
    elif fmt == "WEBP":
        if _webp_lossless(path):
            params["lossless"] = True
        else:
            params["quality"] = jpeg_quality or 90
    return params, notes


def _jpeg_compression(src: Image.Image, quality: int | None) -> dict:
    """The input's own quantization tables and subsampling, so that 8x8 blocks away from the hole
    decode to what they decoded to before; or a fresh encoding at `quality`."""
    params: dict = {}
    if src.info.get("progressive") or src.info.get("progression"):
        params["progressive"] = True
    if not isinstance(src, JpegImagePlugin.JpegImageFile):
        params["quality"] = quality or 95
        return params
    sampling = JpegImagePlugin.get_sampling(src)
    if sampling != -1:
        params["subsampling"] = sampling
    if quality is not None:
        params["quality"] = quality
    elif getattr(src, "quantization", None):
        params["qtables"] = src.quantization
    else:
        params["quality"] = 95
    return params

