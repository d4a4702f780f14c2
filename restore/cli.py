"""The `restore` command line. Heavy imports (torch) happen inside commands so --help is instant."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from . import hub  # the registry only: no torch
from .damage.fill import DAMAGE_THIN_PX, REVIEW_OPTIONS  # settings only: no numpy
from .precision import PRECISIONS  # no torch either

PATH = click.Path(path_type=Path)


def _errors(fn):
    """User errors become one red line (exit 1); tracebacks only with --debug."""

    @functools.wraps(fn)
    def wrapper(*args, debug: bool = False, **kw):
        try:
            return fn(*args, **kw)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:  # `restore models | head -1`: the reader has what it wanted; no message to it
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that the final flush is quiet too
            sys.exit(1)
        except Exception as e:
            if debug:
                raise
            # ModelError, DeviceError, DataError, MaskError... are ValueErrors whose text is the message.
            if isinstance(e, (ValueError, OSError)):
                raise click.ClickException(str(e)) from None
            raise click.ClickException(f"{type(e).__name__}: {e} (run with --debug for the traceback)") from None

    return click.option("--debug", is_flag=True, help="show full tracebacks")(wrapper)


def _model_options(fn, default: str | None = hub.DEFAULT_MODEL, note: str = ""):
    names = ", ".join(n for n, r in hub.REGISTRY.items() if r.kind == "inpaint")
    fn = click.option("--model", default=default, show_default=default is not None,
                      help=f"{names}, a model folder, or hf:OWNER/REPO[@REVISION]{note}")(fn)
    fn = click.option("--device", default="auto", show_default=True, help="auto (CUDA when present), cpu or cuda")(fn)
    fn = click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads for torch")(fn)
    return fn


_DETECT_SIDE = click.option(
    "--detect-side", type=click.IntRange(min=0), default=None, metavar="PX",
    help="with --detect-damage: a photo whose long side is over PX is also searched on a copy brought down to PX, the "
         "scale at which the detector learnt scratches and dust (a high-resolution scan shows them wider); 0 reads "
         "every photo at its own size, however large, never brought down  [default: the detector's own, config.json's "
         "max_side]")


_PRECISION = click.option(
    "--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
    help="the networks' arithmetic: bfloat16 runs about twice as fast on CPUs that compute it natively (AVX512-BF16, "
         "AMX), with fills and masks that score the same; auto takes it there, float32 elsewhere (other CPUs, GPUs)")


def _detector_check(name: str):
    """A click callback running restore.damage.detector's check `name` on a given value: the detector's own rule,
    as one red line (imported only when the option is given, so --help stays instant)."""

    def callback(ctx, param, value):
        if value is not None:
            from .damage import detector

            try:
                getattr(detector, name)(value)
            except ValueError as e:
                raise click.BadParameter(str(e), ctx, param) from None
        return value

    return callback


_DETECT_ENLARGE = click.option(
    "--detect-enlarge", type=float, callback=_detector_check("check_enlarge"), default=None, metavar="X",
    help="with --detect-damage: also read a copy X times larger and average it in, where faint scratches and small "
         "specks are larger; 0 leaves it out, for about 1.9 times faster detection of photos up to 1024 px (of "
         "larger ones only the 1024-px copy is enlarged, a small part of the work) and less found (README's Old "
         "photos); 0, or above 1 up to 4  [default: the detector's own, config.json's enlarge: 1.5 for damage]")


_DAMAGE_THRESHOLD = click.option(  # not FloatRange: it lets nan through
    "--damage-threshold", type=float, callback=_detector_check("check_threshold"), default=None, metavar="P",
    help="with --detect-damage: the detector's probability above which a pixel is damage; lower finds fainter "
         "scratches and smaller specks and flags more of the photo's own texture, higher the reverse (README's Old "
         "photos has the trade-off)  [default: the detector's own, config.json's threshold: 0.4 for damage]")


def _what_masks_hold(orphans: list) -> str:
    if not orphans:
        return "no mask files"
    return f"it holds {orphans[0].name}" + (f" and {len(orphans) - 1} more" if len(orphans) > 1 else "")


def _mask_naming_hint(photos: list, masks, recursive: bool) -> str:
    """How the masks of these photos must be named, for the layout they are in."""
    here = masks.resolve()
    if any(p.resolve().parent == here for p, _ in photos):
        return "beside its photo, the mask of a.jpg is a_mask.png (a plain a.png there is a photo)"
    if recursive and any(len(rel.parts) > 1 for _, rel in photos):
        return "with --recursive the masks folder mirrors the photos' sub-folders: the mask of sub/a.jpg is sub/a.png"
    return "the mask of a.jpg is a.png or a_mask.png"


def _needs_detection(detect_damage: bool, **given) -> None:
    """Options that set how --detect-damage reads the photos (--detect-side, --damage-threshold, --detect-enlarge,
    and restore masks' --threads) would do nothing without it: refused, before any folder is made or model loaded."""
    for name, value in given.items():
        if value is not None and not detect_damage:
            flag = "--" + name.replace("_", "-")
            raise click.UsageError(f"{flag} sets how --detect-damage reads the photos; give --detect-damage too")


def _detect_options(fn):
    fn = _DETECT_ENLARGE(fn)
    fn = _DAMAGE_THRESHOLD(fn)
    fn = _DETECT_SIDE(fn)
    fn = click.option("--damage-model", default=hub.DEFAULT_DETECTOR, show_default=True,
                      help="the damage detector for --detect-damage: a released name, a folder, or hf:OWNER/REPO[@REVISION]")(fn)
    return click.option("--detect-damage", is_flag=True,
                        help="find scratches, cracks, dust and specks (scans of old prints) and fill them; the mask "
                             "found is saved beside each output as NAME_mask.png. With --masks, both are filled.")(fn)


def _load_detector(spec: str, dev, max_side: int | None = None, threshold: float | None = None,
                   enlarge: float | None = None, precision: str = "float32"):
    """The damage detector `spec` on `dev`; `max_side` (--detect-side) replaces the side its config reads photos at,
    `threshold` (--damage-threshold) the probability it draws the line at, `enlarge` (--detect-enlarge) the copy it
    also reads, `precision` (--precision) its arithmetic."""
    from . import precision as arithmetic

    net, where = hub.load(spec, dev, kind="damage")
    arithmetic.apply(net, arithmetic.resolve(precision, dev))
    if max_side is not None:
        net.cfg.max_side = max_side
    if enlarge is not None:
        net.cfg.enlarge = enlarge
    if threshold is not None:
        net.cfg.threshold = threshold
    click.echo(f"damage detector {spec} ({where.source}: {where.folder}) on {dev} in {arithmetic.of(net)}, threshold "
               f"{net.cfg.threshold:g}", err=True)
    return net


def _load_model(model: str, device: str, threads: int | None, precision: str = "float32"):
    """The inpainting model and the device; `precision` (--precision) is only said here, the Restorer applies it."""
    import torch

    from .device import pick_device
    from .precision import resolve

    if threads:
        torch.set_num_threads(threads)
    dev = pick_device(device)
    net, where = hub.load(model, dev)
    click.echo(f"model {model} ({where.source}: {where.folder}) on {dev} in {resolve(precision, dev)}", err=True)
    return net, dev


def _finite(ctx, param, value):
    """A number option's value, refused when it is nan or infinite (FloatRange lets both through)."""
    import math

    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value}: give a finite number", ctx, param)
    return value


_MAX_MEGAPIXELS = click.option(
    "--max-megapixels", type=click.FloatRange(min=0, min_open=True), callback=_finite, default=None, metavar="MP",
    help="refuse photos of more than MP million pixels, a safeguard against files that decode to more memory than the "
         "machine has; raise it for large scans (a 108-megapixel scan with --detect-damage peaked at 5.8 GB)  "
         "[default: Pillow's, 89.5]")


def _limit_pixels(megapixels: float | None) -> None:
    """--max-megapixels, for the rest of the command: set once its options have parsed (a later option's error
    leaves nothing changed), and Pillow's own limit again when the command ends, whichever way it ends."""
    from .io.decode import pixel_limit

    click.get_current_context().with_resource(pixel_limit(megapixels))


def _say_kept(count: int, what: str, output: Path) -> None:
    """The note, once at the end of a run, for the photos skipped because their `what` (output, mask) was there."""
    if count:
        whose = f"their {what}s" if count > 1 else f"its {what}"
        click.echo(f"note: {count} photo{'s' if count > 1 else ''} skipped, {whose} being in {output} already; "
                   "--overwrite replaces them", err=True)


def _remove_if_empty(folder: Path) -> None:
    """`folder` and the folders below it removed, as long as they hold no file (another process's output stays)."""
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        try:
            sub.rmdir()
        except OSError:
            pass
    try:
        folder.rmdir()
    except OSError:
        pass


def _named(paths: list[Path]) -> str:
    return ", ".join(str(p) for p in paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")


def _say_what_was_left(unreadable: list[Path], passed_over: list[Path], done: str, masks_hint: bool = False) -> None:
    """The warning for image files restore does not read, and the note for its own masks and figures beside their
    photos, found in the folders given (find_photos); with `masks_hint`, how to fill masks found beside photos."""
    from .io.files import mask_stem

    if unreadable:
        kinds = " ".join(sorted({p.suffix.lower() for p in unreadable}))
        click.echo(f"warning: {len(unreadable)} file{'s' if len(unreadable) > 1 else ''} not {done}: restore does not "
                   f"read {kinds} ({_named(unreadable)}); convert them to JPEG, PNG or TIFF", err=True)
    if passed_over:
        hint = ("; to fill the masks beside the photos, give --masks with their folder"
                if masks_hint and any(mask_stem(p) != p.stem for p in passed_over) else "")
        click.echo(f"note: {len(passed_over)} file{'s' if len(passed_over) > 1 else ''} passed over as masks or figures "
                   f"that restore writes beside a photo, their photo being there ({_named(passed_over)}); name a file "
                   f"itself to take it as a photo{hint}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="restore")
def main():
    """Fill holes in photos with the attention-based inpainting models of restore."""


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", type=PATH, default=Path("restored"), show_default=True, help="output folder")
@click.option("--masks", type=click.Path(exists=True, path_type=Path),
              help="folder of masks named like the photos (a.jpg <-> a.png or a_mask.png), or one mask file for "
                   "every photo; white = hole. Without it (and without --detect-damage), holes are drawn as in the "
                   "paper and saved beside the outputs.")
@click.option("--dilate", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help="grow every hole by N pixels before filling (swallows the halo a hand-drawn or detected mask leaves)")
@click.option("--concat", is_flag=True,
              help="also write NAME_compare.png beside each output: input with the hole, result, close-ups")
@click.option("--jpeg-quality", type=click.IntRange(1, 100), default=None,
              help="re-encode JPEG (and lossy WebP) outputs at this quality; by default a JPEG keeps its own "
                   "quantization tables and subsampling, so pixels away from the hole barely move")
@click.option("--seed", type=int, default=0, show_default=True,
              help="seed for drawn holes (without --masks and --detect-damage)")
@click.option("--holes", type=click.IntRange(min=1), default=1, show_default=True,
              help="holes drawn per photo (without --masks and --detect-damage)")
@click.option("--overwrite", is_flag=True, help="replace outputs that already exist (otherwise they are skipped)")
@click.option("-r", "--recursive", is_flag=True, help="descend into sub-folders")
@click.option("--strict-masks", is_flag=True,
              help="a photo without a mask is a failure, not a skip; a mask of another size (a single --masks FILE, "
                   "or a paired mask of its photo's shape) is an error instead of being scaled")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="64x64 windows per forward pass, and photos read ahead together (at most 16 megapixels of them): "
                   "lower it to use less memory")
@click.option("--context", type=click.FloatRange(min=1.0), default=None, callback=_finite,
              help="window side around each hole, in hole sizes  [default: the model's own: 2 for photo, 6 for celeba, 3 for cars]")
@click.option("--detail/--no-detail", default=None,
              help="add the detail of the photo's known part into the model's fill (contextual residual "
                   "aggregation): texture in holes, perceptually closer, slightly further in PSNR  "
                   "[default: the model's own: on for photo and celeba; off with --detect-damage]")
@click.option("--mirror/--no-mirror", default=None,
              help="fill each window scaled down from the photo twice, as it is and mirrored, and average the "
                   "two fills  "
                   "[default: the model's own: on for celeba]")
@click.option("--tile-thin/--no-tile-thin", default=None,
              help="fill a thin hole (a scratch) from windows at its native resolution along it, rather than "
                   "from one window around all of it  [default: the model's own: off for celeba]")
@click.option("--blend-thin/--no-blend-thin", default=None,
              help="average the smoothest continuation of a thin hole's border (biharmonic) into its fill, as "
                   "the model's config.json says: closer on strokes and scratches  [default: on where the model "
                   "sets it: celeba]")
@click.option("--smooth-thin", type=click.FloatRange(min=0), default=None, metavar="PX", callback=_finite,
              help="interpolate holes at most PX pixels thick from their border instead of filling them with the "
                   "networks: as good on scratches and dust, and many times faster  "
                   f"[default: {DAMAGE_THIN_PX:g} with --detect-damage, else 0 = off]")
@click.option("--texture", default=None, metavar="NAME|DIR|none",
              help="the texture stage run over the fills at the photo's own resolution: a released stage, a "
                   "folder, or none  [default: the model's own, config.json's \"texture\"; none with --detect-damage, "
                   "whose scratches and specks it was not trained on]")
@click.option("--shard", default=None, metavar="I/N",
              help="process only shard I of N (0 <= I < N): several processes or machines share one folder")
@_detect_options
@_MAX_MEGAPIXELS
@_PRECISION
@_model_options
@_errors
def run(inputs, output, masks, dilate, concat, jpeg_quality, seed, holes, overwrite, recursive, strict_masks, batch_size,
        context, detail, mirror, tile_thin, blend_thin, smooth_thin, texture, shard, model, device, threads, precision,
        max_megapixels, detect_damage, damage_model, detect_side, damage_threshold, detect_enlarge):
    """Restore the photos in INPUTS (files or folders) into the output folder."""
    _needs_detection(detect_damage, detect_side=detect_side, damage_threshold=damage_threshold,
                     detect_enlarge=detect_enlarge)
    _limit_pixels(max_megapixels)
    from tqdm import tqdm

    from .inpainting.pipeline import Restorer
    from .io.files import PHOTO_EXTS, find_photos
    from .runner import Runner, overwritten_input, plan

    out_dir = output.resolve()
    for p in inputs:
        if p.is_dir() and p.resolve() == out_dir:
            raise click.UsageError(f"-o {output} is the input folder {p}; choose another output folder")
        if p.is_file() and (out_dir / p.name).resolve() == p.resolve():
            raise click.UsageError(f"-o {output} would overwrite the input {p}; choose another output folder")
    if masks is not None and masks.is_dir() and (out_dir == masks.resolve()
                                                 or (recursive and out_dir.is_relative_to(masks.resolve()))):
        # restored photos among the masks would be read as masks by the next run
        raise click.UsageError(f"-o {output} is the masks folder {masks}; choose another output folder")
    unreadable: list[Path] = []
    duplicates: list[tuple[Path, Path]] = []
    passed_over: list[Path] = []
    photos = find_photos(list(inputs), recursive, exclude=[out_dir] + ([masks] if masks is not None else []),
                         unreadable=unreadable, duplicates=duplicates, passed_over=passed_over)
    for again, first in duplicates:
        click.echo(f"warning: {again} is the same file as {first}; it is restored once, as {first.name}", err=True)
    _say_what_was_left(unreadable, passed_over, "restored", masks_hint=masks is None)
    if not photos:
        raise click.UsageError(f"no photos found in {', '.join(map(str, inputs))} "
                               f"(looked for {' '.join(PHOTO_EXTS)}"
                               f"{'' if recursive else '; use --recursive for sub-folders'})")
    # Planned over the whole folder, then cut to the shard: masks are paired and clashing outputs found the same
    # way in every shard's process, and a mask whose photo is in another shard is not an orphan.
    jobs, orphans = plan(photos, out_dir, masks, recursive, concat, detect=detect_damage)
    if (hit := overwritten_input(jobs, orphans)) is not None:
        raise click.UsageError(f"-o {output} would write over the input {hit}; choose another output folder")
    if masks is not None and masks.is_dir() and not detect_damage and not any(j.mask_file for j in jobs):
        raise click.UsageError(f"--masks {masks}: no mask is named after a photo ({_what_masks_hold(orphans)}); "
                               f"{_mask_naming_hint(photos, masks, recursive)}")
    if shard is not None:
        from .runner import in_shard, parse_shard

        try:
            index, count = parse_shard(shard)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--shard") from None
        jobs = [j for j in jobs if in_shard(j.rel, index, count)]
    for m in orphans:
        click.echo(f"warning: {m}: mask has no photo with the same name", err=True)
    if masks is not None and masks.is_file():  # one mask for every photo: a bad one is said once, not per photo
        from .io.masks import decode_mask

        try:
            decode_mask(masks)
        except ValueError as e:
            raise click.ClickException(str(e)) from None
    net, dev = _load_model(model, device, threads, precision)
    detector = (_load_detector(damage_model, dev, detect_side, damage_threshold, detect_enlarge, precision)
                if detect_damage else None)
    made = not out_dir.exists()
    try:  # made once the models load, so a bad --model or --device leaves no empty folder behind
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise click.ClickException(f"{output}: cannot create the output folder ({e.strerror})") from None
    options = {"batch_size": batch_size, "context": context, "mirror": mirror, "tile_thin": tile_thin,
               "blend_thin": blend_thin}
    if detect_damage:  # filled as restore/damage/fill.py says, the user's --smooth-thin, --detail and --texture first
        from .damage.fill import FILL

        restorer = FILL.given(smooth_thin, detail, texture).restorer(net, dev, precision, **options)
    else:
        restorer = Restorer(net, dev, detail=detail, smooth_thin=smooth_thin or 0.0,
                            texture=hub.load_texture(net, texture, dev), precision=precision, **options)
    runner = Runner(restorer, seed, overwrite, strict_masks, holes,
                    photos_per_batch=batch_size, dilate=dilate, jpeg_quality=jpeg_quality, detector=detector, device=dev)
    counts = {"restored": 0, "skipped": 0, "failed": 0}
    kept = 0
    with tqdm(total=len(jobs), unit="photo", desc="restoring", file=sys.stderr, dynamic_ncols=True) as bar:
        for outcome in runner.run(jobs):
            counts[outcome.status] += 1
            kept += outcome.kept
            for note in outcome.notes:
                bar.write(f"note: {note}", file=sys.stderr)
            for w in outcome.warnings:
                bar.write(f"warning: {w}", file=sys.stderr)
            if outcome.status == "failed":
                bar.write(f"error: {outcome.message}", file=sys.stderr)
            elif outcome.status == "skipped" and outcome.job.mask_file is None and (outcome.job.mask_out is None
                                                                                  or outcome.job.paired):
                bar.write(f"skipped: {outcome.message}", file=sys.stderr)  # no mask; existing outputs skip quietly
            bar.update(1)
    _say_kept(kept, "output", output)  # quiet one by one (a re-run after an interruption skips most of a folder)
    click.echo(f"{counts['restored']} restored, {counts['skipped']} skipped, {counts['failed']} failed")
    if made and not counts["restored"] and shard is None:  # (shards may share the folder as it fills)
        _remove_if_empty(out_dir)  # a run that restored nothing leaves no empty folder behind either
    if counts["failed"]:
        sys.exit(1)


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", type=PATH, required=True, help="folder for the masks")
@click.option("--seed", type=int, default=0, show_default=True,
              help="seed of the drawn holes, the same as restore run --seed draws")
@click.option("--holes", type=click.IntRange(min=1), default=1, show_default=True, help="holes drawn per photo")
@click.option("-r", "--recursive", is_flag=True, help="descend into sub-folders")
@click.option("--overwrite", is_flag=True, help="replace masks that already exist (otherwise they are skipped)")
@click.option("--detect-damage", is_flag=True,
              help="write the damage the detector finds (scratches, cracks, dust, specks) instead of drawing holes: "
                   f"review and touch them up, then `restore run PHOTOS --masks FOLDER {REVIEW_OPTIONS}`, which fills "
                   "them as --detect-damage does")
@click.option("--damage-model", default=hub.DEFAULT_DETECTOR, show_default=True,
              help="the damage detector: a released name, a folder, or hf:OWNER/REPO[@REVISION]")
@_DETECT_SIDE
@_DAMAGE_THRESHOLD
@_DETECT_ENLARGE
@click.option("--device", default="auto", show_default=True, help="auto (CUDA when present), cpu or cuda (for --detect-damage)")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads for torch (for --detect-damage)")
@_PRECISION
@_MAX_MEGAPIXELS
@click.option("--overlay", is_flag=True,
              help="also write NAME_overlay.png beside each mask: the photo at its own size with what the mask covers "
                   "painted magenta, to review before filling")
@_errors
def masks(inputs, output, seed, holes, recursive, overwrite, detect_damage, damage_model, detect_side, damage_threshold,
          detect_enlarge, device, threads, precision, max_megapixels, overlay):
    """Draw the paper's Gaussian-rectangle masks for photos (the same ones `run --seed` draws), or with
    --detect-damage the damage found on them (the same masks `run --detect-damage` fills)."""
    _limit_pixels(max_megapixels)
    from PIL import Image
    from tqdm import tqdm

    from .io.decode import open_photo, read_view
    from .io.files import OVERLAY_SUFFIX, find_photos
    from .io.masks import save_mask
    from .runner import draw_mask

    unreadable: list[Path] = []
    passed_over: list[Path] = []
    photos = find_photos(list(inputs), recursive, exclude=output.resolve(), unreadable=unreadable,
                         passed_over=passed_over)
    _say_what_was_left(unreadable, passed_over, "read")
    if not photos:
        raise click.UsageError(f"no photos found in {', '.join(map(str, inputs))}")
    given = {p.resolve() for p, _ in photos}
    for _, rel in photos:
        for suffix in ("_mask", OVERLAY_SUFFIX) if overlay else ("_mask",):
            if (target := output / rel.with_name(f"{rel.stem}{suffix}.png")).resolve() in given:
                raise click.UsageError(f"-o {output} would write over the input {target}; choose another output "
                                       "folder")
    find = None
    _needs_detection(detect_damage, detect_side=detect_side, damage_threshold=damage_threshold,
                     detect_enlarge=detect_enlarge, threads=threads)
    if detect_damage:
        from .damage.detector import detect
        from .device import pick_device

        if threads:
            import torch

            torch.set_num_threads(threads)
        dev = pick_device(device)
        detector = _load_detector(damage_model, dev, detect_side, damage_threshold, detect_enlarge, precision)

        def find(rgb):
            return detect(detector, rgb, dev)

    written = failed = skipped = 0
    claimed: dict[Path, Path] = {}  # mask file -> the photo it was written for: x.jpg and x.png share x_mask.png
    bar = tqdm(photos, unit="photo", desc="finding damage" if find else "drawing", file=sys.stderr, disable=not find,
               dynamic_ncols=True)
    for photo, rel in bar:
        target = output / rel.with_name(f"{rel.stem}_mask.png")
        if target in claimed:
            bar.write(f"error: {photo}: its mask would be {target}, which {claimed[target]} writes; rename one of "
                      "the two photos", file=sys.stderr)
            failed += 1
            continue
        claimed[target] = photo
        if target.exists() and not overwrite:
            skipped += 1
            continue
        try:
            if find or overlay:
                rgb = read_view(photo)
                height, width = rgb.shape[:2]
            else:
                im, _, _ = open_photo(photo)
                height, width = im.height, im.width
            mask = find(rgb) if find else draw_mask(seed, rel, height, width, holes)
            target.parent.mkdir(parents=True, exist_ok=True)
            save_mask(mask, target)
            if overlay:
                from .eval.figures import show_holes
                from .io.atomic import atomic_save

                atomic_save(Image.fromarray(show_holes(rgb, mask)), target.with_name(f"{rel.stem}{OVERLAY_SUFFIX}.png"),
                            format="PNG")
            written += 1
        except (ValueError, OSError) as e:
            bar.write(f"error: {e}", file=sys.stderr)
            failed += 1
    bar.close()
    _say_kept(skipped, "mask", output)
    click.echo(f"{written} mask{'' if written == 1 else 's'} written, {skipped} skipped, {failed} failed")
    if failed:
        sys.exit(1)


@main.command(name="models")
@_errors
def models_():
    """List the released models, where each would load from, size and sha256; the files are checked against
    the registry, and a damaged or missing one is named (exit code 1)."""
    if not hub.REGISTRY:
        click.echo("no released models registered")
    damaged = False
    for name, rel in hub.REGISTRY.items():
        where = hub.resolve(name)
        weights = where.folder / "model.safetensors"
        size = f"{weights.stat().st_size / 1e6:.1f} MB" if weights.exists() else "missing"
        found = hub.problems(where.folder, rel.sha256)
        state = "damaged" if found else "checked"
        click.echo(f"{name}\t{where.source}\t{where.folder}\t{size}\tsha256 {rel.sha256['model.safetensors']}"
                   f"\t{state}")
        click.echo(f"\t{hub.KINDS[rel.kind][0]} ({hub.KINDS[rel.kind][1]}), for: {rel.suits}")
        click.echo(f"\t{rel.description} (Hub: {rel.repo_id}@{rel.revision})")
        for line in found:
            click.echo(f"error: {line}", err=True)
        damaged = damaged or bool(found)
    if damaged:
        sys.exit(1)


@main.command()
@click.argument("names", nargs=-1)
@_errors
def download(names):
    """Fetch released models into the Hugging Face cache (HF_HOME); all of them without NAMES."""
    for name in names or list(hub.REGISTRY):
        click.echo(f"{name}: {hub.download(name)}")


@main.command()
@click.option("--dataset", help="celeba, cars or natural (held-out split of the data directory)")
@click.option("--photos", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="your own ground-truth photos instead of a dataset")
@click.option("--size", type=click.Choice(["64", "native"]), default="64", show_default=True,
              help="64: the paper's Table 1 protocol (64x64 crops); native: photos at their own size through "
                   "the pipeline of restore run, with rectangles, object-shaped blobs and strokes")
@click.option("--masks-per-photo", type=click.IntRange(min=1), default=1, show_default=True,
              help="with --size native: holes of each kind per photo")
@click.option("--context", type=click.FloatRange(min=1.0), default=None, callback=_finite,
              help="with --size native: as restore run --context  [default: the model's own]")
@click.option("--detail/--no-detail", default=None, help="with --size native: as restore run --detail/--no-detail")
@click.option("--mirror/--no-mirror", default=None, help="with --size native: as restore run --mirror/--no-mirror")
@click.option("--tile-thin/--no-tile-thin", default=None,
              help="with --size native: as restore run --tile-thin/--no-tile-thin")
@click.option("--blend-thin/--no-blend-thin", default=None,
              help="with --size native: as restore run --blend-thin/--no-blend-thin")
@click.option("--smooth-thin", type=click.FloatRange(min=0), default=None, metavar="PX", callback=_finite,
              help="with --size native or --damage: as restore run --smooth-thin  [default: "
                   f"{DAMAGE_THIN_PX:g} with --damage, as restore run --detect-damage; else 0]")
@click.option("--texture", default=None, metavar="NAME|DIR|none",
              help="with --size native: as restore run --texture  [default: the model's own]")
@click.option("--masks", "masks_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="with --size 64: masks for --photos, paired by name; drawn with --seed when absent")
@click.option("--data-dir", type=PATH, default=None,
              help="folder holding celeba/, stanford_cars/ and natural/ in their official layouts  [env: RESTORE_DATA_DIR]")
@click.option("--split", default="val", show_default=True, type=click.Choice(["val", "train"]))
@click.option("--n", type=click.IntRange(min=1), default=None, help="first N images of the split (default: all)")
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the drawn holes")
@click.option("--mask-kind", type=click.Choice(["paper", "strokes"]), default="paper", show_default=True,
              help="with --size 64: the paper's Gaussian rectangles, or free-form strokes of similar area")
@click.option("--classical/--no-classical", default=True, show_default=True, help="rows of classical inpainting")
@click.option("--methods", "methods", default=None, metavar="NAMES",
              help="the classical rows, comma-separated, of biharmonic, telea, shiftmap, fsr  [default: all four with "
                   "--size native; at 64x64 all but shiftmap, which xphoto cannot fill reproducibly that small]")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="64x64 windows per forward pass (not read by --damage)")
@click.option("--damage", is_flag=True,
              help="the damage protocol instead: old prints made of the photos, with synthetic scratches, cracks, dust "
                   "and specks; scores the detector (--damage-model) and the restorations it gives")
@click.option("--damage-model", default=hub.DEFAULT_DETECTOR, show_default=True, help="with --damage: the detector")
@click.option("--damage-threshold", type=float, callback=_detector_check("check_threshold"), default=None, metavar="P",
              help="with --damage: as restore run --damage-threshold; the scores at other thresholds are in the "
                   "summary's sensitivity table either way  [default: the detector's own]")
@click.option("--lpips-weights", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="LPIPS (AlexNet) weights for the perceptual scores  [env: RESTORE_LPIPS_WEIGHTS; default "
                   "../shared/weights/alexnet_lpips.safetensors]")
@click.option("-o", "--output", type=PATH, default=None,
              help="results folder  [default: bench/DATASET at 64x64, bench/DATASET-strokes with --mask-kind strokes, "
                   "bench/DATASET-native with --size native, bench/damage-DATASET with --damage; the --photos "
                   "folder's name for DATASET]")
@_PRECISION
@functools.partial(_model_options, default=None, note=f"  [default: the dataset's own model, else {hub.DEFAULT_MODEL}]")
@_errors
def bench(dataset, photos, size, masks_per_photo, context, detail, mirror, tile_thin, blend_thin, smooth_thin, texture, masks_dir,
          data_dir, split,
          n, seed, mask_kind, classical, methods, batch_size, damage, damage_model, damage_threshold, lpips_weights, output, model,
          device, threads, precision):
    """Score the model against classical inpainting: the paper's Table 1 at 64x64, or photos at their own size;
    with --damage, the damage detector on old prints."""
    import time

    import numpy as np
    from tqdm import tqdm

    from .eval import paper
    from .eval.datasets import DATASETS, dataset_splits, load_stack, square_mask
    from .inpainting.pipeline import Restorer

    if (dataset is None) == (photos is None):
        raise click.UsageError(f"give either --dataset {'|'.join(DATASETS)} or --photos DIR")
    if dataset is not None and dataset not in DATASETS:
        raise click.BadParameter(f"{dataset!r} is not one of {', '.join(DATASETS)} (use --photos DIR for a folder)",
                                 param_hint="--dataset")
    from .eval.classical import chosen

    try:
        picked = chosen(methods) if methods is not None else None
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--methods") from None
    if not classical:
        picked = ()
    if damage_threshold is not None and not damage:
        raise click.UsageError("--damage-threshold sets the detector of --damage; give --damage too")
    _refuse_unused_bench_options(damage, size)
    if output is not None:  # made now: a folder that cannot be should not cost the whole run first
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise click.ClickException(f"-o {output}: cannot create the results folder ({e.strerror or e})") from None
    lp, lp_note = _lpips_or_note(lpips_weights)
    if damage:
        return _bench_damage(dataset, photos, data_dir, split, n, seed, damage_model, lp, lp_note, classical, output,
                             model, device, threads, smooth_thin, damage_threshold, precision)
    if size == "native":
        return _bench_native(dataset, photos, data_dir, split, n, seed, masks_per_photo, context, detail, mirror,
                             tile_thin, smooth_thin or 0.0, picked if picked is not None else True, lp, lp_note,
                             batch_size, output, model, device, threads, texture, blend_thin, precision)
    t0 = time.perf_counter()
    if dataset is not None:
        files = dataset_splits(dataset, data_dir)[split][:n]
        label = dataset
    else:
        from .io.files import find_photos

        files = [p for p, _ in find_photos([photos], exclude=masks_dir)][:n]
        if not files:
            raise click.UsageError(f"no photos found in {photos}")
        label = photos.name
    images = load_stack(files, 64, progress=True)
    names = [f.name for f in files]
    if masks_dir is not None:
        from .io.decode import open_photo
        from .io.files import index_masks
        from .io.masks import read_mask

        # Photos in the masks folder itself (a.png beside a_mask.png), as restore run takes them.
        index = index_masks(masks_dir, marked_only=photos is not None and photos.resolve() == masks_dir.resolve())
        masks = []
        for f in files:
            if f.stem not in index:
                raise click.ClickException(f"{f}: no mask with the same name in {masks_dir}")
            im, _, _ = open_photo(f)
            masks.append(square_mask(read_mask(index[f.stem], im.size)))
        masks = np.stack(masks)
    elif mask_kind == "paper":
        masks = paper.paper_masks_for(len(images), seed)
    else:
        masks = paper.stroke_masks_for(len(images), seed)
    model = model or _default_bench_model(dataset)
    net, dev = _load_model(model, device, threads, precision)
    restorer = Restorer(net, dev, batch_size, precision=precision)

    def bar(desc, total):
        return tqdm(total=total, desc=desc, unit="img", file=sys.stderr, leave=False)

    picked = picked if picked is not None else ("biharmonic", "telea", "fsr")
    rows, notes = paper.run_rows(images, masks, restorer, picked, bar, lpips_model=lp, lpips_note=lp_note)
    per_image, summary = paper.score_rows(images, masks, rows, lambda rows: tqdm(rows, desc="scoring", unit="row",
                                                                                 file=sys.stderr, leave=False),
                                          lpips_model=lp)
    md = paper.table(summary, paper.PAPER.get(dataset) if mask_kind == "paper" and dataset else None)
    out_dir = output or Path("bench") / f"{label}{'' if mask_kind == 'paper' else '-' + mask_kind}"
    meta = {"dataset": label, "split": split if dataset else None, "images": len(images), "seed": seed,
            "mask_kind": mask_kind, "model": model, "device": str(dev), "precision": restorer.precision,
            "seconds": round(time.perf_counter() - t0, 1), "command": " ".join(["restore", *sys.argv[1:]])}
    paper.write(out_dir, names, images, masks, rows, per_image, summary, meta, md)
    click.echo(md)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"{len(images)} images, {meta['seconds']:.0f} s; results in {out_dir}", err=True)


# restore bench's options that only one protocol reads: given to another, they would change nothing.
_NATIVE_ONLY = ("masks_per_photo", "context", "detail", "mirror", "tile_thin", "blend_thin", "texture")


def _refuse_unused_bench_options(damage: bool, size: str) -> None:
    """A UsageError naming the options given on the command line that the chosen protocol does not read."""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    if damage:
        unused, protocol = (*_NATIVE_ONLY, "size", "masks_dir", "mask_kind", "methods", "batch_size"), "--damage"
    elif size == "64":
        unused, protocol = (*_NATIVE_ONLY, "smooth_thin", "damage_model"), "--size 64 (the default)"
    else:
        unused, protocol = ("mask_kind", "damage_model", "masks_dir"), "--size native (which draws its own holes)"
    given = [(p.secondary_opts or p.opts)[0] if ctx.params[p.name] is False else p.opts[0]  # --no-detail as typed
             for p in ctx.command.params
             if p.name in unused and ctx.get_parameter_source(p.name) == ParameterSource.COMMANDLINE]
    if given:
        them = "it" if len(given) == 1 else "them"
        raise click.UsageError(f"{', '.join(given)}: not read by {protocol}; leave {them} out, or choose the protocol "
                               f"that reads {them}")


# Datasets whose released model has another name
DATASET_MODEL = {"natural": "photo"}


def _default_bench_model(dataset: str | None) -> str:
    """A dataset's own model where one is released, else the default of restore run."""
    name = DATASET_MODEL.get(dataset, dataset)
    return name if name in hub.REGISTRY else hub.DEFAULT_MODEL


def _lpips_or_note(weights: Path | None):
    """(the loaded LPIPS network, None), or (None, why not) when the default weights cannot be had: the bench then
    runs without LPIPS and says so. Weights asked for by name (--lpips-weights, or $RESTORE_LPIPS_WEIGHTS) that
    cannot be used are an error, before any scoring."""
    import os

    from .eval.lpips import ENV, LpipsError
    from .eval.lpips import load as load_lpips

    try:
        return load_lpips(weights), None
    except LpipsError as e:
        if weights is not None or os.environ.get(ENV):
            raise click.ClickException(str(e)) from None
        return None, str(e)


def _bench_damage(dataset, photos, data_dir, split, n, seed, damage_model, lp, lp_note, classical, output, model,
                  device, threads, smooth_thin=None, threshold=None, precision="float32"):
    """restore bench --damage: see restore/eval/damage.py."""
    import time

    from tqdm import tqdm

    from .damage.detector import read
    from .damage.fill import FILL
    from .eval import damage
    from .eval.classical import have_opencv, telea_one

    t0 = time.perf_counter()
    if photos is not None:
        from .io.decode import read_view
        from .io.files import find_photos

        files = [p for p, _ in find_photos([photos])][:n]
        if not files:
            raise click.UsageError(f"no photos found in {photos}")
        loaded, label = [(f.name, read_view(f)) for f in files], photos.name
    else:
        dataset = dataset or "natural"
        loaded, label = damage.val_photos(dataset, data_dir, n, split), dataset
    model = model or _default_bench_model(dataset if photos is None else None)
    net, dev = _load_model(model, device, threads, precision)
    detector = _load_detector(damage_model, dev, threshold=threshold, precision=precision)
    restorer = FILL.given(smooth_thin).restorer(net, dev, precision)  # as restore run --detect-damage fills
    if lp is None:
        click.echo(f"note: LPIPS left out: {lp_note}", err=True)
    classical_fill = telea_one if classical and have_opencv() else None
    bar = tqdm(total=len(loaded) * len(damage.VARIANTS), desc="old prints", unit="print", file=sys.stderr, leave=False)
    result = damage.run(loaded, lambda rgb: read(detector, rgb, dev), restorer.restore, lp, seed, classical_fill,
                        progress=lambda: bar.update(1), sweep=damage.sweep_thresholds(detector.cfg.threshold))
    bar.close()
    md = damage.table(result, detector.cfg.threshold)
    out_dir = output or Path("bench") / f"damage-{label}"
    meta = {"dataset": label, "split": split if photos is None else None, "photos": len(loaded), "seed": seed,
            "model": model, "damage_model": damage_model, "damage_threshold": detector.cfg.threshold,
            "smooth_thin": restorer.smooth_thin, "device": str(dev), "precision": restorer.precision,
            "seconds": round(time.perf_counter() - t0, 1), "command": " ".join(["restore", *sys.argv[1:]])}
    damage.write(out_dir, result, meta, md)
    click.echo(md)
    click.echo(f"{len(loaded)} photos, {meta['seconds']:.0f} s; results in {out_dir}", err=True)


def _bench_native(dataset, photos, data_dir, split, n, seed, masks_per_photo, context, detail, mirror, tile_thin,
                  smooth_thin, classical, lp, lp_note, batch_size, output, model, device, threads, texture=None,
                  blend_thin=None, precision="float32"):
    """restore bench --size native: see restore/eval/native_size.py."""
    import time

    from tqdm import tqdm

    from .eval import native_size
    from .eval.datasets import dataset_splits
    from .inpainting.pipeline import Restorer
    from .io.decode import read_view
    from .io.files import find_photos

    t0 = time.perf_counter()
    if dataset is not None:
        files, label = dataset_splits(dataset, data_dir)[split][:n], dataset
    else:
        files, label = [p for p, _ in find_photos([photos])][:n], photos.name
    if not files:
        raise click.UsageError(f"no photos found in {photos}")
    loaded = [(f.name, read_view(f)) for f in tqdm(files, desc="reading photos", unit="photo",
                                                                     file=sys.stderr, leave=False)]
    model = model or _default_bench_model(dataset)
    net, dev = _load_model(model, device, threads, precision)
    texture = hub.texture_spec(texture)
    texture = net.cfg.texture if texture is None else texture
    restorer = Restorer(net, dev, batch_size, context, detail, mirror, tile_thin, smooth_thin,
                        hub.load_texture(net, texture, dev), blend_thin, precision)
    total = len(loaded) * masks_per_photo * len(native_size.KINDS)
    bars: dict = {}

    def progress(kind, method, k):
        if (kind, method) not in bars:
            for b in bars.values():
                b.close()
            bars.clear()
            bars[kind, method] = tqdm(total=total // len(native_size.KINDS), desc=f"{kind}: {method}", unit="img",
                                      file=sys.stderr, leave=False)
        bars[kind, method].update(k)

    result = native_size.run(loaded, restorer, classical, seed, masks_per_photo, progress=progress, lpips_model=lp,
                             lpips_note=lp_note)
    for b in bars.values():
        b.close()
    md = native_size.table(result["rows"])
    out_dir = output or Path("bench") / f"{label}-native"
    sizes = sorted({rgb.shape[:2] for _, rgb in loaded})
    meta = {"dataset": label, "split": split if dataset else None, "size": "native", "photos": len(loaded),
            "masks_per_photo": masks_per_photo, "photo_sizes": f"{sizes[0][1]}x{sizes[0][0]} to {sizes[-1][1]}x{sizes[-1][0]}",
            "seed": seed, "model": model, "context": restorer.context, "detail": restorer.detail,
            "mirror": restorer.mirror, "tile_thin": restorer.tile_thin, "blend_thin": restorer.blend_thin,
            "smooth_thin": restorer.smooth_thin,
            "texture": texture or None, "device": str(dev), "precision": restorer.precision,
            "seconds": round(time.perf_counter() - t0, 1), "command": " ".join(["restore", *sys.argv[1:]])}
    native_size.write(out_dir, result, meta, md)
    click.echo(md)
    for note in result["notes"]:
        click.echo(f"note: {note}", err=True)
    click.echo(f"{len(loaded)} photos, {meta['seconds']:.0f} s; results in {out_dir}", err=True)


@main.command()
@click.argument("photo", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mask", "mask_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--at", "at", required=True, help="query pixel X,Y in the photo")
@click.option("-o", "--output", type=PATH, default=Path("attention.png"), show_default=True)
@_model_options
@_errors
def explain(photo, mask_file, at, output, model, device, threads):
    """Figure 10: where the self-attention of pixel X,Y looks, next to the restored photo."""
    from .eval.attention_figure import attention_figure
    from .io.decode import open_photo
    from .io.masks import read_mask

    try:
        x, y = (int(v) for v in at.split(","))
    except ValueError:
        raise click.BadParameter(f"{at!r}: expected X,Y in pixels, e.g. 120,80", param_hint="--at") from None
    im, _, _ = open_photo(photo)
    if not (0 <= x < im.width and 0 <= y < im.height):
        raise click.BadParameter(f"{x},{y} is outside the {im.width}x{im.height} photo", param_hint="--at")
    mask = read_mask(mask_file, im.size)
    net, _ = _load_model(model, device, threads)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise click.ClickException(f"{output.parent}: cannot create the output folder ({e.strerror})") from None
    attention_figure(net, im, mask, (x, y), output)
    click.echo(str(output))


if __name__ == "__main__":
    main()
