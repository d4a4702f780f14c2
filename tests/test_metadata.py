"""Outputs keep what their inputs carried: one small synthetic file per format and key, through `restore run`."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import ExifTags, Image, ImageCms, PngImagePlugin

from restore.cli import main
from restore.io.metadata import png_chunks

from .conftest import smooth_photo, write_mask

ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' \
      b'<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="4"/></rdf:RDF></x:xmpmeta>'
ARTIST = 315
EXPOSURE = 0x829A


def exif_with_artist() -> Image.Exif:
    exif = Image.Exif()
    exif[ARTIST] = "Ann Example"
    return exif


def png_info(*chunks) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    for add in chunks:
        add(info)
    return info


# (format extension, key) -> keyword arguments of Image.save that put the key in the input
CASES = {
    ("jpg", "icc_profile"): dict(icc_profile=ICC),
    ("jpg", "exif"): dict(exif=exif_with_artist()),
    ("jpg", "xmp"): dict(xmp=XMP),
    ("jpg", "dpi"): dict(dpi=(300, 300)),
    ("jpg", "comment"): dict(comment=b"scanned by the archive"),
    ("png", "icc_profile"): dict(icc_profile=ICC),
    ("png", "exif"): dict(exif=exif_with_artist()),
    ("png", "xmp"): dict(pnginfo=png_info(lambda i: i.add_itxt("XML:com.adobe.xmp", XMP.decode()))),
    ("png", "dpi"): dict(dpi=(300, 300)),
    ("png", "tEXt"): dict(pnginfo=png_info(lambda i: i.add_text("parameters", "a cat, steps 20, seed 1"))),
    ("png", "zTXt"): dict(pnginfo=png_info(lambda i: i.add_text("Comment", "kept compressed " * 20, zip=True))),
    ("png", "iTXt"): dict(pnginfo=png_info(lambda i: i.add_itxt("Title", "Tür", lang="de", tkey="Titel"))),
    ("png", "gamma"): dict(pnginfo=png_info(lambda i: i.add(b"gAMA", (45455).to_bytes(4, "big")))),
    ("png", "chromaticity"): dict(pnginfo=png_info(lambda i: i.add(b"cHRM", b"".join(
        v.to_bytes(4, "big") for v in (31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000))))),
    ("png", "srgb"): dict(pnginfo=png_info(lambda i: i.add(b"sRGB", b"\x01"))),
    ("tif", "icc_profile"): dict(icc_profile=ICC),
    ("tif", "exif"): "tiff_exif",
    ("tif", "xmp"): dict(tiffinfo={700: XMP}),
    ("tif", "dpi"): dict(dpi=(300, 300)),
    ("tif", "description"): dict(tiffinfo={270: "harbour at dusk", ARTIST: "Ann Example", 33432: "(c) Ann"}),
    ("webp", "icc_profile"): dict(icc_profile=ICC, lossless=True),
    ("webp", "exif"): dict(exif=exif_with_artist(), lossless=True),
    ("webp", "xmp"): dict(xmp=XMP, lossless=True),
    ("gif", "comment"): dict(comment=b"scanned by the archive"),
    ("bmp", "dpi"): dict(dpi=(300, 300)),
}


def tiff_exif_params() -> dict:
    return dict(tiffinfo={0x8769: {EXPOSURE: 0.02}})


def kept(src: Image.Image, out: Image.Image, ext: str, key: str, src_path, out_path) -> None:
    if key == "icc_profile":
        assert out.info.get("icc_profile") == ICC
    elif key == "exif" and ext == "tif":
        assert out.getexif().get_ifd(0x8769).get(EXPOSURE) == pytest.approx(0.02)
    elif key == "exif":
        assert out.getexif().get(ARTIST) == "Ann Example"
    elif key == "xmp":
        xmp = out.info.get("xmp")
        assert xmp is not None and b'xmp:Rating="4"' in (xmp.encode() if isinstance(xmp, str) else xmp)
    elif key == "dpi":
        assert tuple(round(v) for v in out.info["dpi"]) == (300, 300)
    elif key == "comment":
        assert out.info.get("comment") == b"scanned by the archive"
    elif key == "description":
        assert (out.tag_v2.get(270), out.tag_v2.get(ARTIST), out.tag_v2.get(33432)) == \
               ("harbour at dusk", "Ann Example", "(c) Ann")
    elif key in ("tEXt", "zTXt", "iTXt", "gamma", "chromaticity", "srgb"):
        # the chunk itself, byte for byte: zTXt stays compressed, iTXt keeps its language tags
        want = [c for c in png_chunks(src_path) if c[0] not in (b"gAMA",) or key == "gamma"]
        assert want and all(c in png_chunks(out_path) for c in want)
        assert out.info.get(key, src.info.get(key)) == src.info.get(key)
        if key in ("gamma", "chromaticity", "srgb"):
            assert out.info[key] == src.info[key]
        else:
            assert out.text == src.text
    else:  # pragma: no cover
        raise AssertionError(key)


@pytest.mark.parametrize("ext, key", sorted(CASES), ids=[f"{e}-{k}" for e, k in sorted(CASES)])
def test_output_keeps_what_the_input_carried(tmp_path, model_dir, ext, key):
    params = CASES[ext, key]
    if params == "tiff_exif":
        params = tiff_exif_params()
    photos = tmp_path / "p"
    photos.mkdir()
    im = Image.fromarray(smooth_photo(48, 64))
    if ext == "gif":
        im = im.convert("P")
    src_path = photos / f"x.{ext}"
    im.save(src_path, **params)
    write_mask(tmp_path / "m.png", 48, 64)
    res = CliRunner().invoke(main, ["run", str(photos), "--masks", str(tmp_path / "m.png"), "-o", str(tmp_path / "o"),
                                    "--model", str(model_dir)])
    assert res.exit_code == 0, res.output
    out_path = tmp_path / "o" / f"x.{ext}"
    src, out = Image.open(src_path), Image.open(out_path)
    assert out.format == src.format
    mask = np.asarray(Image.open(tmp_path / "m.png")) > 127
    assert not np.array_equal(np.asarray(src.convert("RGB"))[mask], np.asarray(out.convert("RGB"))[mask])
    kept(src, out, ext, key, src_path, out_path)


def test_tiff_keeps_its_compression(tmp_path, model_dir):
    photos = tmp_path / "p"
    photos.mkdir()
    Image.fromarray(smooth_photo(48, 64)).save(photos / "x.tif", compression="tiff_lzw", tiffinfo={270: "lzw"})
    write_mask(tmp_path / "m.png", 48, 64)
    res = CliRunner().invoke(main, ["run", str(photos), "--masks", str(tmp_path / "m.png"), "-o", str(tmp_path / "o"),
                                    "--model", str(model_dir)])
    assert res.exit_code == 0, res.output
    out = Image.open(tmp_path / "o" / "x.tif")
    assert out.info["compression"] == "tiff_lzw" and out.tag_v2[270] == "lzw"


def test_compressed_tiff_with_exif_is_written_uncompressed_keeping_the_exif(tmp_path):
    from PIL import ImageOps

    from restore.io.metadata import read_carried

    # Pillow's writer (libtiff) cannot put an EXIF directory in a compressed TIFF, so the test file is
    # written raw and then told it was LZW, as a camera's or an editor's file would be.
    Image.fromarray(smooth_photo(48, 64)).save(tmp_path / "x.tif", tiffinfo={0x8769: {EXPOSURE: 0.5}, 270: "d"})
    src = Image.open(tmp_path / "x.tif")
    src.info["compression"] = "tiff_lzw"
    params, notes = read_carried(src, ImageOps.exif_transpose(src), tmp_path / "x.tif", "TIFF")
    assert "compression" not in params
    assert notes == [f"{tmp_path / 'x.tif'}: written uncompressed (tiff_lzw in the input), since Pillow cannot "
                     "write its EXIF directory into a compressed TIFF"]
    Image.fromarray(smooth_photo(48, 64)).save(tmp_path / "y.tif", **params)
    out = Image.open(tmp_path / "y.tif")
    assert out.getexif().get_ifd(0x8769)[EXPOSURE] == 0.5 and out.tag_v2[270] == "d"


def test_webp_lossless_stays_lossless(tmp_path, model_dir):
    photos = tmp_path / "p"
    photos.mkdir()
    Image.fromarray(smooth_photo(48, 64)).save(photos / "x.webp", lossless=True)
    write_mask(tmp_path / "m.png", 48, 64)
    res = CliRunner().invoke(main, ["run", str(photos), "--masks", str(tmp_path / "m.png"), "-o", str(tmp_path / "o"),
                                    "--model", str(model_dir)])
    assert res.exit_code == 0, res.output
    mask = np.asarray(Image.open(tmp_path / "m.png")) > 127
    src, out = np.asarray(Image.open(photos / "x.webp")), np.asarray(Image.open(tmp_path / "o" / "x.webp"))
    assert np.array_equal(src[~mask], out[~mask])


@pytest.mark.parametrize("ext", ["jpg", "png", "tif"])
def test_rotated_photo_gets_its_orientation_reset_in_exif_and_xmp(tmp_path, model_dir, ext):
    photos = tmp_path / "p"
    photos.mkdir()
    xmp = XMP.replace(b'xmp:Rating="4"', b'xmp:Rating="4" xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"')
    if ext == "tif":
        params = dict(tiffinfo={0x0112: 6, ARTIST: "Ann Example", 700: xmp})
    else:
        exif = exif_with_artist()
        exif[0x0112] = 6
        params = dict(exif=exif, xmp=xmp) if ext == "jpg" else \
            dict(exif=exif, pnginfo=png_info(lambda i: i.add_itxt("XML:com.adobe.xmp", xmp.decode(), zip=True)))
    Image.fromarray(smooth_photo(40, 60)).save(photos / f"r.{ext}", **params)
    write_mask(tmp_path / "m.png", 60, 40)  # drawn on the upright photo, 40 wide and 60 high
    res = CliRunner().invoke(main, ["run", str(photos), "--masks", str(tmp_path / "m.png"), "-o", str(tmp_path / "o"),
                                    "--model", str(model_dir)])
    assert res.exit_code == 0, res.output
    out = Image.open(tmp_path / "o" / f"r.{ext}")
    assert out.size == (40, 60)
    assert out.getexif().get(0x0112, 1) == 1 and out.getexif()[ARTIST] == "Ann Example"
    kept_xmp = out.info["xmp"] if isinstance(out.info["xmp"], bytes) else out.info["xmp"].encode()
    assert b'tiff:Orientation="6"' not in kept_xmp and b'xmp:Rating="4"' in kept_xmp


def textured(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(smooth_photo(h, w, seed).astype(float) + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("subsampling", [0, 2])
def test_jpeg_keeps_its_tables_and_subsampling(tmp_path, model_dir, subsampling):
    from PIL import JpegImagePlugin

    photos = tmp_path / "p"
    photos.mkdir()
    Image.fromarray(textured(96, 128)).save(photos / "x.jpg", quality=70, subsampling=subsampling)
    write_mask(tmp_path / "m.png", 96, 128, box=(32, 48, 56, 80))
    args = ["run", str(photos), "--masks", str(tmp_path / "m.png"), "--model", str(model_dir)]
    assert CliRunner().invoke(main, [*args, "-o", str(tmp_path / "keep")]).exit_code == 0
    assert CliRunner().invoke(main, [*args, "-o", str(tmp_path / "q95"), "--jpeg-quality", "95"]).exit_code == 0
    src = Image.open(photos / "x.jpg")
    keep, q95 = Image.open(tmp_path / "keep" / "x.jpg"), Image.open(tmp_path / "q95" / "x.jpg")
    assert keep.quantization == src.quantization and q95.quantization != src.quantization
    assert JpegImagePlugin.get_sampling(keep) == JpegImagePlugin.get_sampling(src) == subsampling
    # 8x8 blocks (16x16 with subsampling) that do not touch the hole change far less with the kept tables
    far = np.ones((96, 128), bool)
    far[16:72, 32:96] = False
    a = np.asarray(src).astype(int)
    moved_keep = np.abs(np.asarray(keep).astype(int) - a)[far].mean()
    moved_q95 = np.abs(np.asarray(q95).astype(int) - a)[far].mean()
    assert moved_keep < 0.25 * moved_q95 and moved_keep < 0.2
    assert (photos / "x.jpg").stat().st_size * 1.1 > (tmp_path / "keep" / "x.jpg").stat().st_size


def _run(tmp_path, model_dir, photos, h, w):
    write_mask(tmp_path / "m.png", h, w)
    res = CliRunner().invoke(main, ["run", str(photos), "--masks", str(tmp_path / "m.png"), "-o", str(tmp_path / "o"),
                                    "--model", str(model_dir)])
    assert res.exit_code == 0, res.output
    return np.asarray(Image.open(tmp_path / "m.png")) > 127


def test_a_jpeg_without_a_resolution_gets_none(tmp_path, model_dir):
    """Pillow says 72 dpi of a JPEG whose JFIF gives only an aspect ratio and whose EXIF has no resolution; the output
    must not state one either. A resolution the JPEG does state (in its JFIF, or in its EXIF alone) is kept."""
    photos = tmp_path / "p"
    photos.mkdir()
    exif = exif_with_artist()
    Image.fromarray(smooth_photo(48, 64)).save(photos / "none.jpg", exif=exif.tobytes())
    Image.fromarray(smooth_photo(48, 64)).save(photos / "jfif.jpg", exif=exif.tobytes(), dpi=(300, 300))
    exif[0x011A], exif[0x011B], exif[0x0128] = 240.0, 240.0, 2
    Image.fromarray(smooth_photo(48, 64)).save(photos / "exif.jpg", exif=exif.tobytes())
    _run(tmp_path, model_dir, photos, 48, 64)
    out = {n: Image.open(tmp_path / "o" / f"{n}.jpg").info for n in ("none", "jfif", "exif")}
    assert out["none"].get("jfif_unit") == 0 and out["none"].get("jfif_density") == (1, 1)
    assert out["jfif"]["dpi"] == (300, 300) and out["exif"]["dpi"] == (240, 240)


def test_a_fax_compressed_tiff_keeps_its_compression(tmp_path, model_dir):
    photos = tmp_path / "p"
    photos.mkdir()
    Image.fromarray(smooth_photo(48, 64)[..., 0] > 127).save(photos / "lineart.tif", compression="group4")
    _run(tmp_path, model_dir, photos, 48, 64)
    out = Image.open(tmp_path / "o" / "lineart.tif")
    assert out.mode == "1" and out.info["compression"] == "group4"


@pytest.mark.parametrize("ext", ["png", "gif"])
def test_a_palette_fill_keeps_each_pixels_transparency(tmp_path, model_dir, ext):
    """The fill of a palette photo takes the nearest entry as opaque as the pixel's own: a mid-gray transparent
    entry, nearest to most fills, never turns opaque pixels see-through, and transparent pixels in the hole stay so."""
    photos = tmp_path / "p"
    photos.mkdir()
    rgb = smooth_photo(48, 64)
    index = np.where(rgb[..., 0] > 127, 2, 1).astype(np.uint8)
    index[18:22, 24:30] = 0  # transparent, inside the hole of write_mask
    im = Image.fromarray(index, "P")
    im.putpalette([128, 128, 128, 0, 0, 0, 255, 255, 255] + [0, 0, 0] * 253)
    im.save(photos / f"x.{ext}", transparency=0)
    mask = _run(tmp_path, model_dir, photos, 48, 64)
    assert mask[18:22, 24:30].all()
    out = np.asarray(Image.open(tmp_path / "o" / f"x.{ext}"))
    assert ((out == 0) == (index == 0)).all()
    assert np.isin(out[mask & (index != 0)], [1, 2]).all()


def test_a_jpeg_whose_exif_gives_a_resolution_without_its_unit_gets_none(tmp_path, model_dir):
    photos = tmp_path / "p"
    photos.mkdir()
    exif = exif_with_artist()
    exif[0x011A], exif[0x011B] = 300.0, 300.0  # no ResolutionUnit: Pillow says 72 dpi
    Image.fromarray(smooth_photo(48, 64)).save(photos / "x.jpg", exif=exif.tobytes())
    _run(tmp_path, model_dir, photos, 48, 64)
    info = Image.open(tmp_path / "o" / "x.jpg").info
    assert info.get("jfif_unit") == 0 and info["exif"] == Image.open(photos / "x.jpg").info["exif"]


def test_a_palette_with_alpha_given_to_inpaint_keeps_it(model_dir):
    """An RGBA palette holds its own opacity (no "transparency" key): the fill keeps each pixel's, and the output
    keeps the palette's alpha."""
    from restore import inpaint

    rgba = np.dstack([smooth_photo(48, 64), np.where(np.arange(64) < 32, 255, 0).astype(np.uint8)[None].repeat(48, 0)])
    im = Image.fromarray(rgba, "RGBA").quantize(16)
    assert im.palette.mode == "RGBA"
    m = np.zeros((48, 64), bool)
    m[10:40, 20:44] = True  # over both halves
    out = inpaint(im, m, model=str(model_dir), device="cpu")
    before, after = np.asarray(im.convert("RGBA"))[..., 3], np.asarray(out.convert("RGBA"))[..., 3]
    np.testing.assert_array_equal(after > 0, before > 0)


def test_unreadable_files_are_told_apart_from_damaged_ones():
    from pathlib import Path

    from restore.io.decode import unreadable

    said = unreadable(Path("/nonexistent/x.png"), PermissionError(13, "Permission denied"))
    assert said == "cannot open the file (Permission denied); check that it can be read"
    assert "save it again" in unreadable(Path("/nonexistent/x.png"), OSError("image file is truncated"))


def exif_with_thumbnail(thumbnail: bytes, byteorder: str = "<", tags=(513, 514), at: int | None = None,
                        repeat: bool = False) -> bytes:
    """An EXIF block as a camera writes it: IFD0 (the maker, its string out of line; with `repeat` a second entry of
    the same tag, as some writers leave), then IFD1 pointing to a thumbnail of the photo (`tags`: a JPEG's, or an
    uncompressed one's strip) at its place after the maker's string, or at `at`."""
    import struct

    e, make, n0 = byteorder, b"Camera\0\0", 2 if repeat else 1
    ifd1 = 8 + 2 + 12 * n0 + 4
    make_at = ifd1 + 2 + 2 * 12 + 4
    thumb_at = make_at + len(make) if at is None else at
    tiff = (b"II*\0" if e == "<" else b"MM\0*") + struct.pack(e + "I", 8)
    tiff += struct.pack(e + "H", n0) + struct.pack(e + "HHII", 0x010F, 2, len(make), make_at) * n0
    tiff += struct.pack(e + "I", ifd1)
    tiff += struct.pack(e + "HHHIIHHII", 2, tags[0], 4, 1, thumb_at, tags[1], 4, 1, len(thumbnail))
    return b"Exif\0\0" + tiff + struct.pack(e + "I", 0) + make + thumbnail


@pytest.mark.parametrize("byteorder", ["<", ">"])
def test_the_exif_thumbnail_of_the_photo_as_it_was_is_not_carried(tmp_path, model_dir, byteorder):
    """The thumbnail would still show what the fill removed: it is cut off (its bytes zeroed, IFD0 pointing nowhere),
    the rest of the block kept as it was, offsets and all."""
    import io

    from restore.io.thumbnail import without_thumbnail

    photos = tmp_path / "p"
    photos.mkdir()
    thumb = io.BytesIO()
    Image.fromarray(smooth_photo(48, 64, seed=3)).resize((32, 24)).save(thumb, "JPEG")
    block = exif_with_thumbnail(thumb.getvalue(), byteorder)
    Image.fromarray(smooth_photo(48, 64)).save(photos / "cam.jpg", exif=block)
    assert Image.open(photos / "cam.jpg").info["exif"] == block
    _run(tmp_path, model_dir, photos, 48, 64)
    out = Image.open(tmp_path / "o" / "cam.jpg")
    carried = out.info["exif"]
    assert len(carried) == len(block) and thumb.getvalue() not in carried
    exif = out.getexif()
    assert exif.get(0x010F).rstrip("\0") == "Camera" and exif.get_ifd(ExifTags.IFD.IFD1) == {}  # IFD0 links no IFD1
    assert without_thumbnail(carried) == carried
    plain = exif_with_artist().tobytes()  # no thumbnail: as it was, to the byte
    assert without_thumbnail(plain) == plain and without_thumbnail(b"Exif\0\0junk") == b"Exif\0\0junk"


def test_a_thumbnail_is_cut_off_whatever_its_directory_says():
    """An uncompressed thumbnail's strip is zeroed as a JPEG one is; a thumbnail said to lie over the header and IFD0
    zeroes none of them; a repeated tag in IFD0 does not hide the link to IFD1."""
    from restore.io.thumbnail import without_thumbnail

    pixels = bytes(range(1, 97))
    for block in (exif_with_thumbnail(pixels, tags=(273, 279)), exif_with_thumbnail(pixels, repeat=True)):
        cut = without_thumbnail(block)
        assert pixels not in cut and len(cut) == len(block)
        exif = Image.Exif()
        exif.load(cut)
        assert exif.get(0x010F).rstrip("\0") == "Camera" and exif.get_ifd(ExifTags.IFD.IFD1) == {}
    over_header = exif_with_thumbnail(pixels, at=0)
    cut = without_thumbnail(over_header)
    exif = Image.Exif()
    exif.load(cut)  # the header and IFD0 are whole
    assert cut[:14] == over_header[:14] and exif.get(0x010F).rstrip("\0") == "Camera"
    assert exif.get_ifd(ExifTags.IFD.IFD1) == {}


def test_the_python_api_hands_back_no_thumbnail_either(model_dir):
    """restore.inpaint's PIL image carries its input's info; its EXIF block is the one restore run would write."""
    import io

    from restore import inpaint

    thumb = io.BytesIO()
    Image.fromarray(smooth_photo(48, 64, seed=3)).resize((32, 24)).save(thumb, "JPEG")
    buf = io.BytesIO()
    Image.fromarray(smooth_photo(48, 64)).save(buf, "JPEG", exif=exif_with_thumbnail(thumb.getvalue()))
    im = Image.open(io.BytesIO(buf.getvalue()))
    m = np.zeros((48, 64), bool)
    m[10:30, 20:40] = True
    out = inpaint(im, m, model=str(model_dir), device="cpu")
    assert thumb.getvalue() in im.info["exif"] and thumb.getvalue() not in out.info["exif"]
