"""16-bit colour PNGs and TIFFs (uncompressed, compressed or tiled) come out at 16 bits, with the rest of the file
as it was; deep files restore cannot write back are refused, not brought down to 8 bits."""

import io
import struct
import zlib

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from restore.cli import main
from restore.io.depth16 import stored, upright

from .conftest import smooth_photo


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def exif_orientation(value: int) -> bytes:
    """A little-endian TIFF header with one IFD entry: Orientation = value."""
    return b"II*\x00" + struct.pack("<IH", 8, 1) + struct.pack("<HHIHH", 0x0112, 3, 1, value, 0) + struct.pack("<I", 0)


EXTRA = [(b"gAMA", struct.pack(">I", 45455)), (b"pHYs", struct.pack(">IIB", 11811, 11811, 1)),
         (b"tEXt", b"Title\x00a scanned print")]


def write_png16(path, pixels: np.ndarray, extra=EXTRA) -> None:
    """A 16-bit PNG (colour type from the channels), unfiltered, with `extra` chunks before the data."""
    h, w, c = pixels.shape
    colour = {2: 4, 3: 2, 4: 6}[c]
    rows = b"".join(b"\x00" + pixels[y].astype(">u2").tobytes() for y in range(h))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour, 0, 0, 0))
                     + b"".join(chunk(k, v) for k, v in extra) + chunk(b"IDAT", zlib.compress(rows))
                     + chunk(b"tEXt", b"Comment\x00after the data") + chunk(b"IEND", b""))


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    pos, out = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        out.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return out


def read_png16(path) -> np.ndarray:
    """A reference decoder, independent of Pillow: non-interlaced 16-bit PNGs, any row filter."""
    parts = chunks(path.read_bytes())
    w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", parts[0][1])
    assert (depth, interlace) == (16, 0)
    c = {0: 1, 4: 2, 2: 3, 6: 4}[colour]
    raw = zlib.decompress(b"".join(body for kind, body in parts if kind == b"IDAT"))
    bpp, stride = 2 * c, 2 * c * w
    rows, prev = [], [0] * stride
    for y in range(h):
        kind, line = raw[y * (stride + 1)], list(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, cc = prev[i], (prev[i - bpp] if i >= bpp else 0)
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - cc
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - cc)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else cc)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return np.frombuffer(b"".join(rows), ">u2").reshape(h, w, c).astype(np.uint16)


def deep_photo(h, w, channels, seed=0) -> np.ndarray:
    """Smooth 16-bit colour with low bytes of their own (noise an 8-bit copy would lose)."""
    rng = np.random.default_rng(seed)
    rgb = smooth_photo(h, w, seed).astype(np.uint16) * 257 + rng.integers(-100, 101, (h, w, 3))
    if channels == 4:
        rgb = np.concatenate([rgb, rng.integers(0, 65536, (h, w, 1))], axis=2)
    return np.clip(rgb, 0, 65535).astype(np.uint16)


def hole(h, w) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[h // 3 : h // 3 + h // 4, w // 4 : w // 4 + w // 3] = True
    return m


def hole_masks(tmp_path, h, w, *names) -> np.ndarray:
    """masks/NAME.png for each name, each the `hole` of an h x w photo, as a mask file is drawn; returns the hole."""
    m = hole(h, w)
    (tmp_path / "masks").mkdir(exist_ok=True)
    for name in names:
        Image.fromarray(m.astype(np.uint8) * 255).save(tmp_path / "masks" / f"{name}.png")
    return m


def run(tmp_path, model_dir, *extra):
    return CliRunner().invoke(main, ["run", str(tmp_path / "photos"), "--masks", str(tmp_path / "masks"),
                                     "-o", str(tmp_path / "out"), "--model", str(model_dir), *extra])


@pytest.mark.parametrize("channels", [3, 4])
def test_a_16_bit_colour_png_keeps_its_16_bits_and_its_chunks(tmp_path, model_dir, channels):
    h, w = 40, 52
    pixels = deep_photo(h, w, channels)
    src = tmp_path / "photos" / "scan.png"
    write_png16(src, pixels)
    m = hole_masks(tmp_path, h, w, "scan")
    before = src.read_bytes()
    res = run(tmp_path, model_dir, "--concat")
    assert res.exit_code == 0, res.output
    assert src.read_bytes() == before
    out = tmp_path / "out" / "scan.png"
    got = read_png16(out)
    assert got.shape == pixels.shape
    assert np.array_equal(got[~m], pixels[~m])  # every known pixel, all 16 bits
    assert np.array_equal(got[..., 3:], pixels[..., 3:])  # alpha untouched, in the hole too
    fill = got[m, :3]
    assert (fill % 257 == 0).all() and not np.array_equal(fill, pixels[m, :3])
    # every chunk but the image data is the original's, in its order
    keep = [(k, v) for k, v in chunks(before) if k != b"IDAT"]
    assert [(k, v) for k, v in chunks(out.read_bytes()) if k != b"IDAT"] == keep
    assert (tmp_path / "out" / "scan_compare.png").exists()


def test_numpy_orientation_steps_match_pillows():
    a = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    methods = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
               5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
               8: Image.Transpose.ROTATE_90}
    for orientation, method in methods.items():
        assert np.array_equal(upright(a, orientation), np.asarray(Image.fromarray(a).transpose(method)))
        assert np.array_equal(stored(upright(a, orientation), orientation), a)


def test_an_exif_rotated_16_bit_png_is_masked_upright_and_stored_as_it_was(tmp_path, model_dir):
    h, w = 30, 48  # as stored; orientation 6 shows it 48 high and 30 wide
    pixels = deep_photo(h, w, 3, seed=1)
    write_png16(tmp_path / "photos" / "turned.png", pixels, EXTRA + [(b"eXIf", exif_orientation(6))])
    m_up = hole_masks(tmp_path, w, h, "turned")  # the mask is drawn on the photo as it is seen
    res = run(tmp_path, model_dir)
    assert res.exit_code == 0, res.output
    got = read_png16(tmp_path / "out" / "turned.png")
    assert got.shape == pixels.shape  # stored as it was, with its eXIf chunk
    seen, truth = upright(got, 6), upright(pixels, 6)
    assert np.array_equal(seen[~m_up], truth[~m_up]) and not np.array_equal(seen[m_up], truth[m_up])


@pytest.mark.parametrize("byteorder", ["<", ">"])
def test_an_uncompressed_16_bit_tiff_keeps_its_bits_tags_and_other_pages(tmp_path, model_dir, byteorder):
    tifffile = pytest.importorskip("tifffile")
    h, w = 40, 30
    pages = np.stack([deep_photo(h, w, 3, seed=2), deep_photo(h, w, 3, seed=3)])
    src = tmp_path / "photos" / "scan.tif"
    src.parent.mkdir()
    tifffile.imwrite(src, pages, photometric="rgb", byteorder=byteorder, rowsperstrip=7, resolution=(600, 600),
                     description="a scanned print")
    m = hole_masks(tmp_path, h, w, "scan")
    before = src.read_bytes()
    res = run(tmp_path, model_dir)
    assert res.exit_code == 0, res.output
    assert src.read_bytes() == before
    out = tmp_path / "out" / "scan.tif"
    with tifffile.TiffFile(out) as t:
        first, second = t.pages[0].asarray(), t.pages[1].asarray()
        strips = [(o, o + n) for o, n in zip(t.pages[0].dataoffsets, t.pages[0].databytecounts, strict=True)]
    assert first.dtype == np.uint16
    assert np.array_equal(first[~m], pages[0][~m])
    fill = first[m]
    assert (fill % 257 == 0).all() and not np.array_equal(fill, pages[0][m])
    assert np.array_equal(second, pages[1])
    after = out.read_bytes()
    assert len(after) == len(before)
    outside = np.ones(len(before), bool)  # every byte but the first page's pixels: tags, other pages
    for a, b in strips:
        outside[a:b] = False
    assert np.array_equal(np.frombuffer(after, np.uint8)[outside], np.frombuffer(before, np.uint8)[outside])


@pytest.mark.parametrize("layout", [dict(compression="zlib", rowsperstrip=8),
                                    dict(compression="zlib", predictor=True, byteorder=">"),
                                    dict(tile=(16, 16)), dict(tile=(16, 16), compression="zlib", byteorder=">")])
def test_a_compressed_or_tiled_16_bit_tiff_keeps_its_bits_tags_and_other_pages(tmp_path, model_dir, layout):
    """Its first page is encoded again (Deflate), the other tags (a colour profile among them) and pages as they were."""
    tifffile = pytest.importorskip("tifffile")
    h, w = 40, 36
    pages = np.stack([deep_photo(h, w, 3, seed=4), deep_photo(h, w, 3, seed=5)])
    profile = bytes(range(256)) * 2
    src = tmp_path / "photos" / "scan.tif"
    src.parent.mkdir()
    tifffile.imwrite(src, pages, photometric="rgb", resolution=(600, 600), extratags=[(34675, 7, len(profile), profile,
                                                                                           True)], **layout)
    m = hole_masks(tmp_path, h, w, "scan")
    before = src.read_bytes()
    res = run(tmp_path, model_dir)
    assert res.exit_code == 0, res.output
    assert src.read_bytes() == before
    with tifffile.TiffFile(tmp_path / "out" / "scan.tif") as t, tifffile.TiffFile(src) as s:
        first, second = t.pages[0].asarray(), t.pages[1].asarray()
        assert t.pages[0].compression == 8 and t.pages[0].predictor == 2
        kept = {c: v.value for c, v in s.pages[0].tags.items() if c not in (259, 273, 279, 317, 324, 325)}
        assert {c: t.pages[0].tags[c].value for c in kept} == kept and kept[34675] == profile
        assert t.pages[0].resolution == (600, 600)
    assert first.dtype == np.uint16
    assert np.array_equal(first[~m], pages[0][~m])
    fill = first[m]
    assert (fill % 257 == 0).all() and not np.array_equal(fill, pages[0][m])
    assert np.array_equal(second, pages[1])


def test_a_tiff_that_would_not_read_back_as_restored_is_not_written(tmp_path, model_dir, monkeypatch):
    """The re-encoded file is decoded again before it is written: a wrong one is a failure, not a damaged output; a
    compressed BigTIFF, which restore does not encode, is refused with a line too."""
    tifffile = pytest.importorskip("tifffile")
    from restore.io import depth16

    photos = tmp_path / "photos"
    photos.mkdir()
    tifffile.imwrite(photos / "scan.tif", deep_photo(20, 24, 3), photometric="rgb", compression="zlib")
    tifffile.imwrite(photos / "big.tif", deep_photo(20, 24, 3), photometric="rgb", compression="zlib", bigtiff=True)
    hole_masks(tmp_path, 20, 24, "scan", "big")
    real = depth16.rewrite_first_page
    monkeypatch.setattr(depth16, "rewrite_first_page", lambda data, pixels: real(data, pixels ^ 1))
    res = run(tmp_path, model_dir)
    assert res.exit_code == 1
    assert res.stdout.strip().splitlines()[-1] == "0 restored, 0 skipped, 2 failed"
    assert ("scan.tif: cannot write this 16-bit colour TIFF back at 16 bits (the written file did not read back as "
            "the restored pixels)") in res.stderr
    assert "big.tif: a compressed or tiled 16-bit colour BigTIFF, which restore cannot write back" in res.stderr
    assert not (tmp_path / "out" / "scan.tif").exists() and not (tmp_path / "out" / "big.tif").exists()


def test_the_old_page_is_gone_and_what_other_pages_share_with_it_is_kept(tmp_path, model_dir):
    """The restored page's old strips are overwritten or zeroed (a fill often removes something: it must not stay
    in the file), except where another page points into them too (writers may share identical strips), which
    then reads as before."""
    import struct

    tifffile = pytest.importorskip("tifffile")
    h, w = 48, 40
    a = deep_photo(h, w, 3, seed=6)
    src = tmp_path / "photos" / "scan.tif"
    src.parent.mkdir()
    with tifffile.TiffWriter(src) as tw:
        for _ in range(2):
            # packed tighter than restore's Deflate: the new strips do not all fit where the old ones were
            tw.write(a, photometric="rgb", compression="zlib", compressionargs={"level": 9}, predictor=True, rowsperstrip=16, metadata=None)
    data = bytearray(src.read_bytes())
    with tifffile.TiffFile(src) as t:
        p0, p1 = t.pages
        old = list(zip(p0.dataoffsets, p0.databytecounts, strict=True))
        first_ifd = struct.unpack("<I", data[4:8])[0]
    shared = tmp_path / "photos" / "shared.tif"  # the second page points to the first page's strips
    for tag in (273, 279):
        n = 4 * len(old)
        data[p1.tags[tag].valueoffset : p1.tags[tag].valueoffset + n] = data[p0.tags[tag].valueoffset :
                                                                             p0.tags[tag].valueoffset + n]
    shared.write_bytes(bytes(data))
    hole_masks(tmp_path, h, w, "scan", "shared")
    res = run(tmp_path, model_dir)
    assert res.exit_code == 0, res.output
    out = (tmp_path / "out" / "scan.tif").read_bytes()
    before = src.read_bytes()
    assert all(out[o : o + n] != before[o : o + n] for o, n in old)  # the old strips are gone...
    assert len(out) <= 1.25 * len(before)  # ...the new ones mostly where they were, not the page twice over
    stale = bytearray(out)
    stale[4:8] = struct.pack("<I", first_ifd)  # the old directory, left unused: its pixels do not decode
    try:
        with tifffile.TiffFile(io.BytesIO(bytes(stale))) as t:
            left = t.pages[0].asarray()
    except Exception:  # noqa: BLE001 - whatever tifffile raises on zeroed Deflate data
        left = None
    assert left is None or not np.array_equal(left, a)
    with tifffile.TiffFile(tmp_path / "out" / "shared.tif") as t:
        m = hole(h, w)
        assert np.array_equal(t.pages[0].asarray()[~m], a[~m]) and np.array_equal(t.pages[1].asarray(), a)


def test_a_tiff_whose_tags_do_not_add_up_fails_alone(tmp_path, model_dir):
    """An uncompressed 16-bit TIFF whose StripByteCounts lie past its end is one failed photo, not the batch's end."""
    import struct

    tifffile = pytest.importorskip("tifffile")
    photos = tmp_path / "photos"
    photos.mkdir()
    tifffile.imwrite(photos / "a.tif", deep_photo(20, 24, 3), photometric="rgb", rowsperstrip=4, metadata=None)
    data = bytearray((photos / "a.tif").read_bytes())
    with tifffile.TiffFile(photos / "a.tif") as t:
        at = t.pages[0].tags[279].offset
    data[at + 4 : at + 8] = struct.pack("<I", 0x10000000)  # a count of values past the end of the file
    (photos / "a.tif").write_bytes(bytes(data))
    tifffile.imwrite(photos / "b.tif", deep_photo(20, 24, 3), photometric="rgb", compression="zlib")
    hole_masks(tmp_path, 20, 24, "a", "b")
    res = run(tmp_path, model_dir)
    assert "Traceback" not in res.output and "Error: " not in res.output
    assert (tmp_path / "out" / "b.tif").exists() and not (tmp_path / "out" / "a.tif").exists()
    assert res.stdout.strip().splitlines()[-1] == "1 restored, 0 skipped, 1 failed"
    assert "a.tif: cannot write this 16-bit colour TIFF back at 16 bits (a tag's values lie past the end" in res.stderr


@pytest.mark.parametrize("compression", [None, "zlib"])
def test_a_tag_that_points_into_the_restored_pages_strips_is_kept(tmp_path, model_dir, compression):
    """Whatever else points into the old strips (here the colour profile, moved there) keeps its bytes: an uncompressed
    page is then encoded again rather than overwritten, a compressed one's new strips go round it."""
    import struct

    tifffile = pytest.importorskip("tifffile")
    h, w = 32, 24
    a = deep_photo(h, w, 3, seed=8)
    src = tmp_path / "photos" / "scan.tif"
    src.parent.mkdir()
    profile = bytes(range(200, 256)) * 2
    tifffile.imwrite(src, a, photometric="rgb", compression=compression, rowsperstrip=h, metadata=None,
                     extratags=[(34675, 7, len(profile), profile, True)])
    data = bytearray(src.read_bytes())
    with tifffile.TiffFile(src) as t:
        page = t.pages[0]
        strip, tag = page.dataoffsets[0], page.tags[34675]
    at = strip + 10  # the profile now lies inside the strip's bytes
    data[tag.offset + 8 : tag.offset + 12] = struct.pack("<I", at)  # the entry's field: where the value lies
    expected = bytes(data[at : at + len(profile)])
    src.write_bytes(bytes(data))
    hole_masks(tmp_path, h, w, "scan")
    res = run(tmp_path, model_dir)
    assert res.exit_code == 0, res.output
    with tifffile.TiffFile(tmp_path / "out" / "scan.tif") as t:
        assert t.pages[0].tags[34675].value == expected
        assert np.array_equal(t.pages[0].asarray()[~hole(h, w)], a[~hole(h, w)])


def test_a_strip_takes_its_padding_byte_from_the_free_space_too():
    from restore.io.tiffpage import _place

    assert _place([[0, 9]], 9) is None  # 9 bytes and the byte that pads them to a word
    free = [[0, 10]]
    assert _place(free, 9) == 0 and free == [[10, 10]]


def test_a_16_bit_png_keeps_no_exif_thumbnail(tmp_path, model_dir):
    from .test_metadata import exif_with_thumbnail

    thumb = bytes(range(7, 107))
    block = exif_with_thumbnail(thumb)[6:]  # an eXIf chunk holds the TIFF block without the Exif prefix
    write_png16(tmp_path / "photos" / "scan.png", deep_photo(20, 24, 3), extra=[*EXTRA, (b"eXIf", block)])
    hole_masks(tmp_path, 20, 24, "scan")
    res = run(tmp_path, model_dir)
    assert res.exit_code == 0, res.output
    carried = dict(chunks((tmp_path / "out" / "scan.png").read_bytes()))[b"eXIf"]
    assert len(carried) == len(block) and thumb not in carried and thumb in block


def test_deep_files_that_cannot_be_written_back_are_refused(tmp_path, model_dir):
    tifffile = pytest.importorskip("tifffile")
    photos = tmp_path / "photos"
    write_png16(photos / "gray_alpha.png", np.full((20, 24, 2), 40000, np.uint16))
    tifffile.imwrite(photos / "print.tif", deep_photo(20, 24, 4), photometric="separated")  # CMYK
    Image.fromarray(smooth_photo(20, 24)).save(photos / "fine.png")
    res = CliRunner().invoke(main, ["run", str(photos), "-o", str(tmp_path / "out"), "--model", str(model_dir)])
    assert res.exit_code == 1
    assert res.stdout.strip().splitlines()[-1] == "1 restored, 0 skipped, 2 failed"
    assert "gray_alpha.png: a 16-bit gray + alpha PNG" in res.stderr
    assert "print.tif: a 16-bit CMYK TIFF" in res.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.endswith("_mask.png")) == ["fine.png"]


@pytest.mark.parametrize("mode", ["L", "I;16", "RGBA", "RGB16"])
def test_a_tiff_with_an_orientation_tag_is_turned_upright_or_refused(tmp_path, model_dir, mode):
    """Pillow turns a TIFF upright as it loads it, and from a file it turned uncompressed one-channel and RGBA
    strips wrong (orientations 5-8): restore decodes TIFFs from memory. A 16-bit colour TIFF, which restore writes
    back at 16 bits in its stored orientation, is refused with the fix when it has an orientation tag."""
    from PIL import TiffImagePlugin

    photos = tmp_path / "photos"
    photos.mkdir()
    gray = smooth_photo(40, 56)[..., 1]
    arr = {"L": gray, "I;16": gray.astype(np.uint16) * 257, "RGBA": np.dstack([smooth_photo(40, 56), gray]),
           "RGB16": smooth_photo(40, 56).astype(np.uint16) * 257}[mode]
    tags = TiffImagePlugin.ImageFileDirectory_v2()
    tags[274] = 6  # stored 56 wide and 40 high; shown turned a quarter clockwise
    if mode == "RGB16":
        tifffile = pytest.importorskip("tifffile")
        tifffile.imwrite(photos / "scan.tif", arr, photometric="rgb", extratags=[(274, "H", 1, 6, True)])
    else:
        Image.fromarray(arr).save(photos / "scan.tif", tiffinfo=tags)
    res = CliRunner().invoke(main, ["run", str(photos), "-o", str(tmp_path / "out"), "--model", str(model_dir)])
    if mode == "RGB16":
        assert res.exit_code == 1 and "scan.tif: a 16-bit colour TIFF with an orientation tag (6)" in res.stderr
        return
    assert res.exit_code == 0, res.output
    out = np.asarray(Image.open(tmp_path / "out" / "scan.tif"))
    hole = np.asarray(Image.open(tmp_path / "out" / "scan_mask.png")) > 127
    want = np.rot90(arr, -1)  # upright
    assert out.shape == want.shape and (out[~hole] == want[~hole]).all()


def test_commands_that_only_read_photos_take_deep_files_at_8_bits(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    from restore.io.decode import open_photo

    tifffile.imwrite(tmp_path / "scan.tif", deep_photo(20, 24, 3), photometric="rgb")
    im, fmt, _ = open_photo(tmp_path / "scan.tif")
    assert (im.mode, im.size, fmt) == ("RGB", (24, 20), "TIFF")


def write_adam7(path, pixels: np.ndarray) -> None:
    """An interlaced (Adam7) 16-bit colour PNG, unfiltered."""
    h, w, c = pixels.shape
    data = b""
    for x0, y0, dx, dy in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]:
        data += b"".join(b"\x00" + row.astype(">u2").tobytes() for row in pixels[y0::dy, x0::dx] if row.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, {3: 2, 4: 6}[c], 0, 0, 1))
                     + chunk(b"IDAT", zlib.compress(data)) + chunk(b"IEND", b""))


def test_an_interlaced_16_bit_png_is_read_whole_and_written_progressive_no_more(tmp_path, model_dir):
    h, w = 37, 29  # not multiples of 8: the last passes' partial rows and columns
    pixels = deep_photo(h, w, 3, seed=5)
    write_adam7(tmp_path / "photos" / "i.png", pixels)
    m = hole_masks(tmp_path, h, w, "i")
    res = run(tmp_path, model_dir)
    assert res.exit_code == 0, res.output
    got = read_png16(tmp_path / "out" / "i.png")  # the reference decoder reads non-interlaced files only
    assert np.array_equal(got[~m], pixels[~m])


def test_a_png_that_does_not_match_the_pixels_is_not_written(tmp_path):
    from restore.io.depth16 import deep_png_bytes
    from restore.io.photos import PhotoError

    write_png16(tmp_path / "a.png", deep_photo(10, 12, 3))
    with pytest.raises(PhotoError, match="does not match"):
        deep_png_bytes(tmp_path / "a.png", deep_photo(12, 10, 3))
    with pytest.raises(PhotoError, match="does not match"):
        deep_png_bytes(tmp_path / "a.png", deep_photo(10, 12, 4))


def twelve_bit_levels(fill: np.ndarray) -> bool:
    """Whether every value is an 8-bit level brought to a white of 4095."""
    return bool(np.isin(fill, np.rint(np.arange(256) * 4095 / 255).astype(np.uint16)).all())


@pytest.mark.parametrize("channels", [1, 3])
def test_a_scan_of_12_bits_in_a_16_bit_file_is_seen_and_filled_at_12_bits(tmp_path, model_dir, channels):
    """Scanners write 12-bit samples into 16-bit files. Taken as 16 bits, such a scan is near black: the networks saw
    levels 0-16 and the fill came back as a few flat steps of 257. It is seen with 4095 as its white, the fill comes
    back in steps of 4095/255, and restore run, the commands that only read photos and restore.inpaint see it alike."""
    from restore import inpaint
    from restore.io.decode import read_view

    h, w = 40, 52
    pixels = (deep_photo(h, w, 3) >> 4).astype(np.uint16)  # 0-4095
    src = tmp_path / "photos" / "scan.png"
    if channels == 1:
        src.parent.mkdir(parents=True)
        Image.fromarray(pixels[..., 1]).save(src)  # I;16
    else:
        write_png16(src, pixels)
    m = hole_masks(tmp_path, h, w, "scan")
    res = run(tmp_path, model_dir)
    assert res.exit_code == 0, res.output
    out = tmp_path / "out" / "scan.png"
    got = np.asarray(Image.open(out)) if channels == 1 else read_png16(out)
    want = pixels[..., 1] if channels == 1 else pixels
    assert np.array_equal(got[~m], want[~m])
    fill = got[m]
    assert twelve_bit_levels(fill) and len(np.unique(fill)) > 17
    assert read_view(src).max() > 128  # not black
    np.testing.assert_array_equal(got, inpaint(want, m, model=str(model_dir), device="cpu"))


def test_a_planar_16_bit_tiff_is_refused_not_read_as_8_bit_noise(tmp_path, model_dir):
    """Pillow unpacks a 16-bit TIFF stored channel by channel a byte at a time: stripes, which were written back as an
    8-bit TIFF. It is refused with the fix, by restore run and by the commands that only read photos."""
    tifffile = pytest.importorskip("tifffile")
    from restore.io.decode import read_view
    from restore.io.photos import PhotoError

    photos = tmp_path / "photos"
    photos.mkdir()
    tifffile.imwrite(photos / "planar.tif", np.moveaxis(deep_photo(20, 24, 3), -1, 0), photometric="rgb",
                     planarconfig="separate")
    tifffile.imwrite(photos / "planar8.tif", np.moveaxis(smooth_photo(20, 24), -1, 0), photometric="rgb",
                     planarconfig="separate")  # 8 bits: Pillow reads it whole
    res = CliRunner().invoke(main, ["run", str(photos), "-o", str(tmp_path / "out"), "--model", str(model_dir)])
    assert res.exit_code == 1
    assert res.stdout.strip().splitlines()[-1] == "1 restored, 0 skipped, 1 failed"
    assert "planar.tif: a 16-bit RGB TIFF stored channel by channel (planar)" in res.stderr
    assert not (tmp_path / "out" / "planar.tif").exists()
    with pytest.raises(PhotoError, match="planar"):
        read_view(photos / "planar.tif")


def test_a_restored_gray_photo_is_shown_at_the_white_of_the_photo_it_came_from():
    """The --concat figure shows a restored photo at its input's white: a fill that covered the only bright samples
    would otherwise lower the white a step and brighten the whole "after" half."""
    from restore.io.photos import photo_rgb

    before = np.full((20, 24), 500, np.uint16)
    before[5, 5] = 4000  # the one sample above 1023: a 12-bit white
    after = np.full((20, 24), 500, np.uint16)
    assert photo_rgb(Image.fromarray(after))[0, 0, 0] == 125  # at 1023, on its own
    np.testing.assert_array_equal(photo_rgb(Image.fromarray(after), like=Image.fromarray(before)),
                                  np.full((20, 24, 3), 31, np.uint8))


def test_what_only_reads_photos_sees_them_as_restore_run_does(tmp_path):
    """restore bench's 64x64 crops and read_view take a 12-bit scan at its own white and turn a photo upright; a
    compressed 16-bit colour TIFF is seen at full depth as its uncompressed copy is, not through its high bytes
    (black), and restore masks finds the damage in it."""
    tifffile = pytest.importorskip("tifffile")
    from restore.eval.datasets import load_64, square
    from restore.io.decode import read_view
    from restore.io.photos import PhotoError

    eight = smooth_photo(40, 52)[..., 1]
    Image.fromarray(((eight.astype(np.uint32) * 4095 + 127) // 255).astype(np.uint16)).save(tmp_path / "scan12.png")
    Image.fromarray(eight).save(tmp_path / "scan8.png")
    np.testing.assert_array_equal(load_64(tmp_path / "scan12.png"), load_64(tmp_path / "scan8.png"))
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(smooth_photo(40, 52)).save(tmp_path / "turned.png", exif=exif.tobytes())
    upright_rgb = np.rot90(smooth_photo(40, 52), -1)
    np.testing.assert_array_equal(read_view(tmp_path / "turned.png"), upright_rgb)
    np.testing.assert_array_equal(load_64(tmp_path / "turned.png"), np.asarray(square(Image.fromarray(upright_rgb))))
    twelve = deep_photo(20, 24, 3) >> 4
    tifffile.imwrite(tmp_path / "packed.tif", twelve, photometric="rgb", compression="zlib")
    tifffile.imwrite(tmp_path / "plain.tif", twelve, photometric="rgb")
    assert read_view(tmp_path / "packed.tif").max() > 200
    np.testing.assert_array_equal(read_view(tmp_path / "packed.tif"), read_view(tmp_path / "plain.tif"))
    tifffile.imwrite(tmp_path / "cmyk.tif", deep_photo(20, 24, 4), photometric="separated")
    with pytest.raises(PhotoError, match="16-bit CMYK TIFF"):  # cannot be seen as restore run would see it
        read_view(tmp_path / "cmyk.tif")
    # restore masks --detect-damage reads it so: the detector's mask of the compressed file is the uncompressed one's.
    from restore import hub
    from restore.damage.detector import DamageDetector, DetectorConfig

    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    hub.save_pretrained(DamageDetector(DetectorConfig(widths=(4, 8, 8), grow=0, min_area=1, threshold=0.5)).eval(),
                        tmp_path / "detector")
    masks = {}
    for name in ("packed", "plain"):
        res = CliRunner().invoke(main, ["masks", str(tmp_path / f"{name}.tif"), "-o", str(tmp_path / name),
                                        "--detect-damage", "--damage-model", str(tmp_path / "detector")])
        assert res.exit_code == 0, res.output
        masks[name] = np.asarray(Image.open(tmp_path / name / f"{name}_mask.png"))
    np.testing.assert_array_equal(masks["packed"], masks["plain"])


@pytest.mark.parametrize("channels", [1, 3])
def test_what_lies_under_the_hole_does_not_move_the_white_a_fill_is_made_at(tmp_path, model_dir, channels):
    """The white of a 16-bit photo's 8-bit view is its known pixels': a bright stamp under the hole (never read)
    would otherwise make the fill a few coarse levels, through restore run and restore.inpaint alike."""
    from restore import inpaint

    h, w = 40, 52
    pixels = (deep_photo(h, w, 3) >> 4).astype(np.uint16)  # 12 bits
    m = hole(h, w)
    stamped = pixels.copy()
    stamped[m] = 65535
    image, stamp = (pixels[..., 1], stamped[..., 1]) if channels == 1 else (pixels, stamped)
    np.testing.assert_array_equal(inpaint(image, m, model=str(model_dir), device="cpu"),
                                  np.where(m if channels == 1 else m[..., None],
                                           inpaint(stamp, m, model=str(model_dir), device="cpu"), image))
    outs = []
    for name, arr in (("plain", image), ("stamped", stamp)):
        src = tmp_path / name / "photos" / "scan.png"
        if channels == 1:
            src.parent.mkdir(parents=True)
            Image.fromarray(arr).save(src)
        else:
            write_png16(src, arr)
        (tmp_path / name / "masks").mkdir()
        Image.fromarray(m.astype(np.uint8) * 255).save(tmp_path / name / "masks" / "scan.png")
        assert run(tmp_path / name, model_dir).exit_code == 0
        out = tmp_path / name / "out" / "scan.png"
        outs.append(np.asarray(Image.open(out)) if channels == 1 else read_png16(out))
    np.testing.assert_array_equal(outs[0][m], outs[1][m])
