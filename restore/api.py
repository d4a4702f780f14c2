"""`restore.inpaint` and `restore.detect_damage`: what `restore run` does, for one image already in memory.

    from PIL import Image
    from restore import inpaint

    out = inpaint(Image.open("photo.jpg"), Image.open("mask.png"))  # white = hole
    out.save("restored.png")

    from restore import detect_damage
    scan = Image.open("old_print.jpg")
    # no mask: the detector finds the damage; thin damage is interpolated, the texture stage and the borrowed
    # detail left out, as restore run --detect-damage does
    inpaint(scan, detect_damage(scan), smooth_thin=9, texture="none", detail=False).save("repaired.png")

A PIL image comes back as a PIL image of the same mode, size and info (ICC profile, dpi,
transparency), with only the hole's pixels changed; a numpy array comes back as an array of
its shape and dtype. Models are loaded once per (model, device, settings) and kept for the
next call, so a loop over many images pays the load once; `inpaint_many` fills a list of images
with the windows of all of them in shared batches, as `restore run` does. The same image and mask
give the same fill every time: nothing is random.
"""

from __future__ import annotations

import math
import numbers
import os
import warnings
from functools import lru_cache

import numpy as np
from PIL import Image

from . import hub
from .inpainting.pipeline import Restorer
from .inpainting.tone import luma
from .io.masks import DIM, FAINT, MaskError, decode_mask, mask_from_image
from .io.photos import PhotoError, eight_bits, from_eight_bits, merge_into, photo_rgb, white_level
from .io.thumbnail import without_thumbnail
from .precision import check as check_precision


def inpaint(image, mask, model: str | os.PathLike = hub.DEFAULT_MODEL, device="auto", *, context: float | None = None,
            detail: bool | None = None, mirror: bool | None = None, tile_thin: bool | None = None,
            smooth_thin: float = 0.0, texture: str | os.PathLike | None = None, blend_thin: bool | None = None,
            precision: str = "auto"):
    """Fill the holes of `image` that `mask` marks.

    image: a PIL image of any mode `restore run` reads, or a numpy array, (H, W) or (H, W, 1) gray, (H, W, 3) RGB or
        (H, W, 4) RGBA (the alpha channel is kept as it is): uint8, uint16 (all 16 bits kept outside the hole, its
        fill the 8-bit one scaled up to its samples' white, as `restore run` fills a 16-bit file) or float in [0, 1]
        (as scikit-image's img_as_float gives). Pixels are taken as stored: unlike `restore run`, no EXIF rotation
        is applied (PIL.ImageOps.exif_transpose does). Pillow opens a 16-bit colour file as 8-bit, keeping
        each sample's high byte: give such a file as a uint16 array (tifffile, imageio) to keep its bits.
    mask: a mask file's path or a PIL image, read as `restore run` reads mask files (white, or opaque
        where the alpha varies, = hole; a 0/1 label image warns), or a numpy
        array of the image's height and width where nonzero = hole (as OpenCV's and scikit-image's
        inpainting take it; a trailing channel axis is merged, and a uint8 RGBA one is read as its image is).
    model: photo, celeba, cars, a model folder (a path or a string), or hf:OWNER/REPO[@REVISION], as `--model`.
    device: auto (CUDA when present; also None), cpu or cuda (or a torch.device).
    context, detail, mirror, tile_thin: as the options of `restore run`; None takes the model's own.
    smooth_thin: as `restore run --smooth-thin`: holes at most this many pixels thick are interpolated
        from their border, not filled by the networks (0 = none; `restore run --detect-damage` uses 9).
    texture: as `restore run --texture`: a released texture stage or a folder, "none" (or "", or False) for none; None
        takes the model's own.
    blend_thin: as `restore run --blend-thin/--no-blend-thin`; None takes the model's own.
    precision: as `restore run --precision`: auto (bfloat16 on a CPU that computes it natively, about twice as
        fast, else float32), float32 or bfloat16.
    """
    settings = _settings(model, device, context, detail, mirror, tile_thin, smooth_thin, texture, blend_thin,
                         precision)
    rgb, holes, finish = _prepare(image, mask)  # the image and the mask are checked before a model is loaded
    return finish(_restorer(*settings).restore(rgb, holes))


def inpaint_many(pairs, model: str | os.PathLike = hub.DEFAULT_MODEL, device="auto", **options) -> list:
    """Fill many images at once: `pairs` is [(image, mask), ...], each as `inpaint` takes them, and the answer is the
    list of what `inpaint` would return for each, in order, with the same fills. The windows of all the images go
    through the networks in shared batches, as `restore run` sends a folder's: on a GPU much faster than a loop over
    `inpaint`. Every image is held in memory together, so give a long folder's worth a few dozen at a time.
    `options` are `inpaint`'s keyword arguments. A pair that is not right is a ValueError naming its place."""
    settings = _settings(model, device, options.pop("context", None), options.pop("detail", None),
                         options.pop("mirror", None), options.pop("tile_thin", None), options.pop("smooth_thin", 0.0),
                         options.pop("texture", None), options.pop("blend_thin", None),
                         options.pop("precision", "auto"))
    if options:
        raise TypeError(f"inpaint_many: unknown keyword argument {sorted(options)[0]!r} (it takes inpaint's)")
    prepared = []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"pairs[{i}]: a {type(pair).__name__}; give (image, mask) pairs")
        try:
            prepared.append(_prepare(*pair))
        except (PhotoError, MaskError) as e:
            raise type(e)(f"pairs[{i}]: {e}") from None
    filled = _restorer(*settings).restore_many([(rgb, holes) for rgb, holes, _ in prepared]) if prepared else []
    return [finish(f) for (_, _, finish), f in zip(prepared, filled, strict=True)]


def _settings(model, device, context, detail, mirror, tile_thin, smooth_thin, texture, blend_thin,
              precision) -> tuple:
    """These arguments of `inpaint`, each checked (a ValueError says which is wrong), as `_restorer` takes them."""
    check_precision(precision)
    model, device = _spec(model, "model"), _device(device)
    if texture is True:
        raise ValueError("texture=True: give a texture stage's name or folder, 'none' (or False) for none, or None "
                         "for the model's own")
    texture = "none" if texture is False else (None if texture is None else _spec(texture, "texture"))
    for name, value in (("detail", detail), ("mirror", mirror), ("tile_thin", tile_thin), ("blend_thin", blend_thin)):
        if value is not None and not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{name} {value!r}: True, False, or None for the model's own")
    if context is not None and (isinstance(context, bool) or not isinstance(context, numbers.Real) or not context >= 1
                                or not math.isfinite(context)):
        raise ValueError(f"context {context!r}: how many times the hole's size the window around it is (at least 1), "
                         "or None for the model's own")
    if (isinstance(smooth_thin, bool) or not isinstance(smooth_thin, numbers.Real) or not smooth_thin >= 0
            or not math.isfinite(smooth_thin)):
        raise ValueError(f"smooth_thin {smooth_thin!r}: the thickness in pixels up to which holes are interpolated "
                         "(0 for none)")
    texture = hub.texture_spec(texture)  # one cached pipeline for every spelling of none
    return model, device, context, detail, mirror, tile_thin, float(smooth_thin), texture, blend_thin, precision


def _prepare(image, mask):
    """(the 8-bit RGB view the networks see, the holes, and how to put their fill back into an image like `image`)."""
    holes = _mask(mask, _size(image))
    if holes.all():
        warnings.warn("mask: it covers the whole image, which is filled from nothing", stacklevel=3)
    if isinstance(image, Image.Image):
        def finish(filled: np.ndarray) -> Image.Image:
            out = merge_into(image, filled, holes)
            out.info.update({k: v for k, v in image.info.items() if k not in out.info})  # EXIF, XMP, PNG text, ...
            if isinstance(out.info.get("exif"), bytes):  # as restore run writes it: no thumbnail of the photo as it was
                out.info["exif"] = without_thumbnail(out.info["exif"])
            return out

        try:
            return photo_rgb(image, known=~holes), holes, finish
        except PhotoError as e:
            raise PhotoError(f"image: {e}") from None
    arr = _array(image)
    # 16 bits or floats: the networks see an 8-bit view, the fill is scaled back up, known pixels keep theirs.
    rgb, white = _view(arr, ~holes)

    def finish(filled: np.ndarray) -> np.ndarray:
        fill = luma(filled[holes]) if arr.ndim == 2 else filled[holes]
        fill = from_eight_bits(fill, white, arr.dtype) if white else fill.astype(arr.dtype)
        out = arr.copy()
        if arr.ndim == 2:
            out[holes] = fill
        else:
            out[holes, :3] = fill
        return out.reshape(np.shape(image))  # (H, W, 1) as it came

    return rgb, holes, finish


def _spec(value, name: str):
    """A model or texture given as a path (pathlib, os.PathLike) as the string the hub takes; a string as it is."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if not isinstance(value, str):
        raise ValueError(f"{name}={value!r}: give a released model's name, a model folder (a path or a string) or "
                         "'hf:OWNER/REPO'")
    return value


def _device(value) -> str:
    """device= as pick_device takes it: None is auto, a torch.device its name."""
    if value is None:
        return "auto"
    if isinstance(value, str) or type(value).__name__ == "device":
        return str(value)
    raise ValueError(f"device={value!r}: give 'auto', 'cpu' or 'cuda' (or a torch.device)")


def _array(image) -> np.ndarray:
    """An image given as an array, checked (a PhotoError says what is wrong), (H, W, 1) as (H, W)."""
    if image is None or isinstance(image, (str, bytes, os.PathLike)):
        raise PhotoError(f"image: {'None' if image is None else 'a ' + type(image).__name__}; give a PIL image "
                         "(Image.open(path)) or a numpy array")
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if (not (arr.dtype in (np.uint8, np.uint16) or arr.dtype.kind == "f")
            or not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))) or 0 in arr.shape[:2]):
        raise PhotoError(f"image: a {arr.dtype} array of shape {arr.shape}; give uint8, uint16 or float (0 to 1) "
                         "(H, W), (H, W, 3) or (H, W, 4), or a PIL image")
    return arr


def _view(arr: np.ndarray, known: np.ndarray | None = None) -> tuple[np.ndarray, float | None]:
    """The uint8 RGB (H, W, 3) that the networks and the detector see of an image array, and the white of its samples
    (None for 8 bits): a uint16 array at the white_level of its `known` pixels, as `restore run` reads a 16-bit file of
    those samples; a float array at 1."""
    samples = arr if arr.ndim == 2 else arr[..., :3]
    white = None
    if arr.dtype == np.uint16:
        white = white_level(samples, known)
    elif arr.dtype.kind == "f":
        seen = samples[known] if known is not None and known.any() else samples
        if not np.isfinite(seen).all() or seen.min() < 0 or seen.max() > 1:
            raise PhotoError(f"image: a {arr.dtype} array with values outside 0 to 1 (from {np.nanmin(seen):g} to "
                             f"{np.nanmax(seen):g}, or not finite); give floats from 0 to 1, as "
                             "skimage.img_as_float gives them")
        white, samples = 1.0, np.nan_to_num(samples)  # (a hole may hold anything)
    view = eight_bits(samples, white) if white else samples
    return np.ascontiguousarray(np.repeat(view[..., None], 3, axis=2) if arr.ndim == 2 else view), white


def _size(image) -> tuple[int, int]:
    """(height, width) of a supported image; a PhotoError says what is not."""
    if isinstance(image, Image.Image):
        return image.height, image.width
    arr = _array(image)
    return arr.shape[0], arr.shape[1]


def _mask(mask, size: tuple[int, int]) -> np.ndarray:
    """The holes as a bool (H, W) array of the image's size; a MaskError says what does not fit."""
    if mask is None:
        raise MaskError("mask: None; give a PIL image, a numpy array of the image's size (nonzero = hole) or a mask "
                        "file's path")
    if isinstance(mask, (str, os.PathLike)):
        holes, source = decode_mask(mask)  # as restore run reads mask files
    elif isinstance(mask, Image.Image):
        try:
            holes, source = mask_from_image(mask)
        except MaskError as e:
            raise MaskError(f"mask: {e}") from None
    else:
        holes, source = np.asarray(mask), ""
        if (holes.dtype.kind not in "biuf" or holes.ndim not in (2, 3)
                or (holes.ndim == 3 and not 1 <= holes.shape[2] <= 4)):
            raise MaskError(f"mask: a {holes.dtype} array of shape {holes.shape}; give numbers (H, W) or (H, W, "
                            "channels) of the image's size, nonzero = hole")
        if holes.dtype.kind == "f" and np.isnan(holes).any():
            raise MaskError("mask: it holds NaN values; give 0 where the image is kept and nonzero in the holes")
        if holes.ndim == 3 and holes.shape[2] == 4 and holes.dtype == np.uint8:
            holes, source = mask_from_image(Image.fromarray(holes, "RGBA"))  # an RGBA mask: as its image is read
        elif holes.ndim == 3:
            holes = holes.any(axis=2)
        holes = holes != 0
    if source in ("faint", "dim"):
        warnings.warn(f"mask: {FAINT}, or give it as a numpy array" if source == "faint" else f"mask: {DIM}",
                      stacklevel=4)
    if holes.shape != size:
        turned = ("; it is the image turned a quarter: draw it on the pixels as stored, or give the image turned "
                  "upright (PIL.ImageOps.exif_transpose)" if holes.shape == size[::-1] else "")
        raise MaskError(f"mask is {holes.shape[1]}x{holes.shape[0]} but the image is {size[1]}x{size[0]}; give a mask "
                        f"of the image's size{turned}")
    return holes


def detect_damage(image, model: str | os.PathLike = hub.DEFAULT_DETECTOR, device="auto", max_side: int | None = None,
                  threshold: float | None = None, enlarge: float | None = None, precision: str = "auto"):
    """The damage on `image` (scratches, cracks, creases, dust, specks, worn edges) as a bool (H, W)
    numpy mask, True = damaged, grown by the detector's rim so that `inpaint(image, mask)` fills it whole.

    image: as `inpaint` takes it (a PIL image, or a uint8, uint16 or float array (H, W), (H, W, 1), (H, W, 3) or
        (H, W, 4)); the detector sees its colours at 8 bits, the alpha channel is not looked at.
    model: damage (the released detector), a detector folder, or hf:OWNER/REPO[@REVISION], as `--damage-model`.
    max_side: as `--detect-side`: an image whose long side is over it is also searched on a copy brought down
        to it (default: the detector's own); 0 reads it at its own size, never brought down.
    threshold: as `--damage-threshold`: the probability above which a pixel is damage (default: the detector's
        own); lower finds fainter damage and flags more of the image's own texture.
    enlarge: as `--detect-enlarge`: also read a copy this many times larger and average it in (default: the
        detector's own, 1.5 for damage); 0 leaves it out, for about 1.9 times faster detection of images up to
        1024 px (of larger ones only the 1024-px copy is enlarged, a small part of the work) and less found.
    precision: as `inpaint`'s.
    """
    from .damage.detector import check_enlarge, check_threshold, detect

    check_threshold(threshold)
    if enlarge is not None:
        check_enlarge(enlarge)
    check_precision(precision)
    if max_side is not None and (isinstance(max_side, bool) or not isinstance(max_side, (int, np.integer)) or max_side < 0):
        raise ValueError(f"max_side {max_side!r}: give a side in pixels, 0 to search at the image's own size only, or "
                         "None for the detector's own")

    try:
        rgb = photo_rgb(image) if isinstance(image, Image.Image) else _view(_array(image))[0]
    except PhotoError as e:
        raise PhotoError(f"image: {e}" if not str(e).startswith("image:") else str(e)) from None
    net, dev = _detector(_spec(model, "model"), _device(device), precision)
    return detect(net, np.ascontiguousarray(rgb), dev, max_side, threshold, enlarge)


@lru_cache(maxsize=2)
def _detector(model: str, device: str, precision: str = "auto"):
    from . import precision as arithmetic
    from .device import pick_device

    dev = pick_device(device, python=True)
    net, _ = hub.load(model, dev, kind="damage", python=True)
    return arithmetic.apply(net, arithmetic.resolve(precision, dev)), dev


@lru_cache(maxsize=4)
def _restorer(model: str, device: str, context, detail, mirror, tile_thin, smooth_thin: float = 0.0,
              texture: str | None = None, blend_thin: bool | None = None, precision: str = "auto") -> Restorer:
    from .device import pick_device

    dev = pick_device(device, python=True)
    net, _ = hub.load(model, dev, python=True)
    return Restorer(net, dev, context=context, detail=detail, mirror=mirror, tile_thin=tile_thin, smooth_thin=smooth_thin,
                    texture=hub.load_texture(net, texture, dev, python=True), blend_thin=blend_thin,
                    precision=precision)
