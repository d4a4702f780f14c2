"""restore-train: the paper's two-stage training, resumable, and export of release weights."""

from __future__ import annotations

import dataclasses
import functools
import json
import shlex
from pathlib import Path

import click

from .config import TrainConfig
from .damage import DamageTrainConfig
from .runs import claim_run, holds_run, log_command, read_json
from .texture import TextureTrainConfig

SCALAR_FIELDS = [f for f in dataclasses.fields(TrainConfig) if f.type in ("int", "float", "bool", "str", int, float, bool, str)]
_TYPES = {"int": int, "float": float, "bool": bool, "str": str}


def _hyper_options(fn):
    """A --flag for every scalar hyper-parameter of TrainConfig (nested model widths go in --config)."""
    for f in reversed(SCALAR_FIELDS):
        if f.name in ("dataset", "seed"):
            continue
        typ = _TYPES.get(f.type, f.type)
        flag = "--" + f.name.replace("_", "-")
        if typ is bool:
            fn = click.option(f"{flag}/--no-{f.name.replace('_', '-')}", f.name, default=None,
                              help=f"(default {f.default})")(fn)
        else:
            fn = click.option(flag, f.name, type=typ, default=None, help=f"(default {f.default})")(fn)
    return fn


def _common(fn):
    @click.option("--dataset", default=None, help="celeba, cars, natural, or a folder of images  [default: celeba]")
    @click.option("--data-dir", type=click.Path(path_type=Path), default=None,
                  help="folder with the datasets in their official layouts  [env: RESTORE_DATA_DIR; default ../shared/data]")
    @click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="JSON file of hyper-parameters (as a run's config.json); flags override it")
    @click.option("--seed", type=int, default=None, help="seed of every random draw  [default: 0]")
    @click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda")
    @click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="where checkpoints, metrics and samples go  [default: runs/DATASET]")
    @click.option("--resume", "resume", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
                  help="continue the run in this folder from its last checkpoint (its config.json is used)")
    @click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                  help="any hyper-parameter by its config.json path, e.g. --set model.refiner.widths=16,64,128")
    @click.option("--debug", is_flag=True, help="show tracebacks")
    @_hyper_options
    @functools.wraps(fn)
    def wrapper(**kw):
        debug = kw.pop("debug")
        try:
            return fn(**kw)
        except click.ClickException:
            raise
        except (ValueError, FileNotFoundError) as e:
            if debug:
                raise
            raise click.ClickException(str(e)) from None

    return wrapper


def _apply_set(data: dict, item: str) -> None:
    """Apply one --set KEY=VALUE to the config dict; the value is parsed like the default it replaces."""
    key, sep, raw = item.partition("=")
    if not sep:
        raise click.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="--set")
    *path, last = key.split(".")
    node = data
    for part in path:
        if not isinstance(node.get(part), dict):
            raise click.BadParameter(f"{key}: no such hyper-parameter", param_hint="--set")
        node = node[part]
    if last not in node or isinstance(node[last], dict):
        raise click.BadParameter(f"{key}: no such hyper-parameter", param_hint="--set")
    old = node[last]
    try:
        if isinstance(old, bool):
            value = {"true": True, "1": True, "false": False, "0": False}[raw.lower()]
        elif isinstance(old, (list, tuple)):
            value = [type(old[0])(v) if old else int(v) for v in raw.split(",") if v]
        else:
            value = type(old)(raw)
    except (KeyError, ValueError):
        raise click.BadParameter(f"{key}={raw}: not a valid {type(old).__name__}", param_hint="--set") from None
    node[last] = value


def _invocation(kw: dict) -> str:
    """The command as a shell line with every option that was set, to reproduce the run."""
    ctx = click.get_current_context()
    words = ["restore-train", ctx.info_name]
    renamed = {"config_file": "--config", "approx_dir": "--approx", "sets": "--set"}
    for key, value in {**ctx.params, **kw}.items():
        if value is None or key == "debug" or (key == "device" and value == "auto"):
            continue
        flag = renamed.get(key, "--" + key.replace(MODEL_FLAG, "model-").replace("_", "-"))
        if isinstance(value, tuple):
            for v in value:
                words += [flag, str(v)]
        elif isinstance(value, bool):
            words.append(flag if value else f"--no-{key.replace('_', '-')}")
        else:
            words += [flag, str(value)]
    return shlex.join(words)


# Settings a resumed run may change: how it runs, not what it computes.
RESUME_MAY_CHANGE = {"workers_threads"}


def _setup(kw: dict) -> tuple[TrainConfig, Path, object, Path | None, bool]:
    """Config from --resume / --config / flags, the run dir (with config.json and command.txt), the device."""
    import torch

    from restore.device import pick_device

    from . import distributed

    invocation = _invocation(kw)
    resume: Path | None = kw.pop("resume")
    data_dir = kw.pop("data_dir")
    device_name = kw.pop("device")
    run_dir = kw.pop("run_dir")
    config_file = kw.pop("config_file")
    sets = kw.pop("sets")
    overrides = {k: v for k, v in kw.items() if v is not None}
    ctx = distributed.setup(device_name)
    if resume is not None and (sets or config_file):
        raise click.ClickException(f"--resume uses the run's config.json; {'--set' if sets else '--config'} cannot "
                                   "change it")
    data_dir = _whole(data_dir)
    if resume is not None:
        if not (resume / "config.json").exists():
            raise click.ClickException(f"{resume}: no config.json here; --resume takes a run directory")
        cfg = TrainConfig.load(resume / "config.json")
        cfg = dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if k in RESUME_MAY_CHANGE})
        run_dir = resume
        changed = {k: v for k, v in overrides.items() if getattr(cfg, k) != v and k not in RESUME_MAY_CHANGE}
        if changed:
            raise click.ClickException(f"--resume uses {resume}/config.json; drop the flags that change it: {sorted(changed)}")
    else:
        data = _config_file(config_file)
        try:
            data = TrainConfig.from_dict(data).to_dict()  # defaults filled in, so --set can address any key
        except (TypeError, ValueError, AttributeError) as e:
            raise click.ClickException(f"--config {config_file}: {e}") from None
        data.update(overrides)
        if data.get("init"):
            data["model"] = _init_model(data["init"]).cfg.to_dict()  # the architecture comes with the weights
        for item in sets:
            _apply_set(data, item)
        from restore.eval.datasets import DATASETS

        if data["dataset"] not in DATASETS and Path(data["dataset"]).exists():  # a folder (a name is always the name)
            data["dataset"] = str(Path(data["dataset"]).resolve())  # kept whole: a resume from elsewhere finds it
        cfg = TrainConfig.from_dict(data)
        _check_before_training(cfg)
        if cfg.init:
            _init_state(cfg)  # refuses an architecture it cannot grow into before the run directory is written
        run_dir = run_dir or Path("runs") / Path(cfg.dataset).name
        if holds_run(run_dir):
            raise click.ClickException(f"{run_dir} already holds a run; pass --resume {run_dir} or choose --run-dir")
    if ctx.is_main:  # before the other ranks may read a split: a failed first start's is drawn again
        try:
            claim_run(run_dir, fresh=resume is None)
        except ValueError as e:
            raise click.ClickException(str(e)) from None
    ctx.barrier()  # every process has checked the run directory before rank 0 writes into it
    device = ctx.device if ctx.world > 1 else pick_device(device_name)
    if cfg.workers_threads:
        torch.set_num_threads(cfg.workers_threads)
    if ctx.is_main:
        cfg.save(run_dir / "config.json")
        log_command(run_dir, invocation, fresh=resume is None)
        click.echo(f"run directory: {run_dir}  device: {device}  world size: {ctx.world}", err=True)
    return cfg, run_dir, device, data_dir, ctx


def _whole(data_dir: Path | None) -> Path:
    """--data-dir, or the default one (RESTORE_DATA_DIR, ../shared/data), as an absolute path: a run's split keeps
    its photos' paths, and a resume from another folder must find them."""
    from restore.eval.datasets import default_data_dir

    return (data_dir or default_data_dir()).resolve()


def _config_file(path: Path | None) -> dict:
    """The settings of --config FILE: a JSON object; a one-line error naming the file otherwise."""
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise click.ClickException(f"--config {path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise click.ClickException(f"--config {path}: a JSON object of settings ({{\"lr\": 0.001, ...}}) is expected, "
                                   f"not a {type(data).__name__}")
    return data


def _check_before_training(cfg: TrainConfig) -> None:
    """Refuse, before stage 1 trains, a config that stage 2 would refuse after it: values of the wrong type, networks
    that cannot be built, an LPIPS term without its weights."""
    import torch

    from restore.inpainting.networks import Discriminator, Inpainter
    from restore.io.decode import first_line

    from .runs import check_config

    try:
        check_config(cfg)
        size = cfg.model.refiner.size
        x, m = torch.zeros(1, 3, size, size), torch.zeros(1, 1, size, size)
        m[..., size // 4 : size // 2, size // 4 : size // 2] = 1
        with torch.no_grad():  # built and run once on one image: stage 2's networks fail here, not after stage 1
            out = Inpainter(cfg.model).eval()(x, m)[1]
            Discriminator(cfg.disc).eval()(out)
    except (TypeError, ValueError, RuntimeError, ZeroDivisionError, IndexError) as e:
        raise click.ClickException(f"config: {first_line(e)}") from None
    _lpips_ready(cfg)


def _lpips_ready(cfg) -> None:
    """Refuse a run whose LPIPS term (perceptual_weight) has no weights to load, before it cuts crops or trains."""
    if getattr(cfg, "perceptual_weight", 0) > 0:
        from restore.eval.lpips import LpipsError, find_weights

        try:
            find_weights(cfg.perceptual_file or None)
        except LpipsError as e:  # its advice names restore bench's option; restore-train's is --perceptual-file
            raise click.ClickException(f"--perceptual-weight {cfg.perceptual_weight:g}: "
                                       + str(e).replace("--lpips-weights", "--perceptual-file")) from None


def _splits(cfg: TrainConfig, run_dir: Path, data_dir: Path | None, is_main: bool):
    from .data import Splits

    path = run_dir / "split.json"
    if path.exists():
        return Splits.load(path)
    splits = Splits.make(cfg.dataset, data_dir, cfg.seed, cfg.val_images, cfg.crops)  # deterministic on every rank
    if is_main:
        splits.save(path)
    return splits


def _cache_dir(run_dir: Path) -> Path:
    return run_dir.parent / ".cache" if run_dir.parent != Path("") else Path(".cache")


def _train_approx(cfg, run_dir, device, data_dir, ctx):
    from . import loop
    from .stages import ApproxStage

    splits = _splits(cfg, run_dir, data_dir, ctx.is_main)
    stage = ApproxStage(cfg, splits, device, _cache_dir(run_dir), ctx)
    loop.run(stage, run_dir, is_main=ctx.is_main, log=lambda s: click.echo(s, err=True))


def _approx_weights(approx_dir: Path, cfg: TrainConfig) -> dict:
    from . import checkpoint

    state = checkpoint.load(approx_dir / "approx")
    if state is None:
        raise click.ClickException(f"{approx_dir}/approx: no ApproxNet checkpoint; run `restore-train approx` first, or "
                                   "resume a `restore-train gan --approx DIR` run stopped before its first checkpoint "
                                   "with --approx DIR again")
    theirs = TrainConfig.load(approx_dir / "config.json").model.approx
    if theirs != cfg.model.approx:
        raise click.ClickException(
            f"{approx_dir}: its ApproxNet was trained as {theirs} but this run's config has {cfg.model.approx}; "
            "pass the same model.approx settings (--set model.approx.KEY=VALUE)")
    return state["stage"]["model"]


@functools.cache
def _init_model(spec: str):
    """The model --init names (a folder or a released name), verified and loaded."""
    from restore.hub import ModelError, load

    try:
        return load(spec)[0]
    except ModelError as e:
        raise click.ClickException(f"--init: {e}") from None


_GROWN: dict[str, dict] = {}


def _init_state(cfg: TrainConfig) -> dict:
    """:func:`_grown_state`, worked out once per (init, model, seed): ``_setup`` asks first, to
    refuse before the run directory is written, and stage 2 takes the same answer."""
    key = repr((cfg.init, cfg.model, cfg.seed))
    if key not in _GROWN:
        _GROWN[key] = _grown_state(cfg)
    return _GROWN[key]


def _grown_state(cfg: TrainConfig) -> dict:
    """Generator weights to start from: the --init model's, plus any new layers that start as the identity.

    Growing is allowed only where it leaves the function unchanged (e.g. more
    model.refiner.blocks32, or attention at another side), checked on a random batch.
    """
    import torch

    from restore.inpainting.networks import Inpainter

    model = _init_model(cfg.init)
    if model.cfg == cfg.model:
        return model.state_dict()

    def refuse(why: str):
        return click.ClickException(
            f"--init {cfg.init}: this run's model config {why}; only layers that start as the identity can be added "
            "(--set model.refiner.blocks32=N, model.refiner.attention); drop the other --set model.* options")

    torch.manual_seed(cfg.seed)
    grown = Inpainter(cfg.model)
    try:
        result = grown.load_state_dict(model.state_dict(), strict=False)
    except RuntimeError:
        raise refuse("changes the shape of its layers") from None
    if result.unexpected_keys:
        raise refuse(f"drops some of its layers ({', '.join(sorted({k.rsplit('.', 1)[0] for k in result.unexpected_keys}))})")
    gen = torch.Generator().manual_seed(0)
    size = cfg.model.refiner.size
    x = torch.rand(4, 3, size, size, generator=gen) * 2 - 1
    m = torch.zeros(4, 1, size, size)
    m[..., size // 4: size // 2, size // 3: size * 2 // 3] = 1
    with torch.no_grad():
        same = torch.allclose(model.eval()(x, m)[1], grown.eval()(x, m)[1], atol=1e-5)
    if not same:
        raise refuse("adds layers that change what the model computes")
    return grown.state_dict()


def _train_gan(cfg, run_dir, device, data_dir, ctx, approx_dir: Path | None):
    from . import checkpoint, loop
    from .stages import GanStage

    splits = _splits(cfg, run_dir, data_dir, ctx.is_main)
    if cfg.init:
        stage = GanStage(cfg, splits, device, _cache_dir(run_dir), None, ctx, gen_state=_init_state(cfg))
    elif approx_dir is None and checkpoint.present(run_dir / "gan"):
        # a resumed stage 2 holds its whole generator, ApproxNet included, whichever --approx it began from
        stage = GanStage(cfg, splits, device, _cache_dir(run_dir), None, ctx, resuming=True)
    else:
        stage = GanStage(cfg, splits, device, _cache_dir(run_dir), _approx_weights(approx_dir or run_dir, cfg), ctx)
    loop.run(stage, run_dir, is_main=ctx.is_main, log=lambda s: click.echo(s, err=True))


def _no_init(kw: dict, command: str) -> None:
    if kw.get("init"):
        raise click.ClickException(f"--init fine-tunes a whole generator in stage 2; use `restore-train gan --init`, not `{command}`")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """Train restore's models as the paper does: ApproxNet first, then the attention GAN."""


@main.command()
@_common
def approx(**kw):
    """Stage 1: train ApproxNet (L1 on the hole) on 70% of the training images."""
    _no_init(kw, "approx")
    cfg, run_dir, device, data_dir, ctx = _setup(kw)
    _train_approx(cfg, run_dir, device, data_dir, ctx)
    ctx.close()


@main.command()
@click.option("--approx", "approx_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="run directory of a finished `restore-train approx`  [default: the run directory itself]")
@_common
def gan(approx_dir, **kw):
    """Stage 2: train the attention refiner and the discriminator on top of a trained ApproxNet.

    With --init MODEL it continues from a whole trained generator instead (fine-tuning; the
    discriminator starts fresh), and --approx is not used. The model's architecture is kept,
    except that layers which start as the identity may be added to it, e.g.
    --set model.refiner.blocks32=1 (a residual block at 32x32).
    """
    if approx_dir is not None and kw.get("init"):
        raise click.ClickException("--approx and --init both name a starting point; pass one")
    cfg, run_dir, device, data_dir, ctx = _setup(kw)
    _train_gan(cfg, run_dir, device, data_dir, ctx, approx_dir)
    ctx.close()


@main.command(name="all")
@_common
def all_(**kw):
    """Both stages, one after the other, in one run directory."""
    _no_init(kw, "all")
    from . import checkpoint

    resume = kw.get("resume")
    if resume is not None and checkpoint.present(resume / "gan") and not checkpoint.present(resume / "approx"):
        # its ApproxNet came from another run (restore-train gan --approx): `all` would train a new one under it
        raise click.ClickException(f"{resume} is a stage-2 run that did not train its own ApproxNet (restore-train gan "
                                   f"--approx or --init); continue it with `restore-train gan --resume {resume}`")
    cfg, run_dir, device, data_dir, ctx = _setup(kw)
    _train_approx(cfg, run_dir, device, data_dir, ctx)
    ctx.barrier()
    _train_gan(cfg, run_dir, device, data_dir, ctx, run_dir)
    ctx.close()


def _train_standalone(cls, default: str, train, data_dir, run_dir, resume, device, kw: dict) -> None:
    """A new or resumed run of a stand-alone stage (the damage detector, the texture stage), config class
    `cls`, in runs/`default` unless told; `train(cfg, run_dir, device, data_dir, log)` does the work."""
    import torch

    from restore.device import pick_device

    from .runs import setup_run

    overrides = _model_overrides(cls, {k: v for k, v in kw.items() if v is not None})
    data_dir = _whole(data_dir)
    try:
        cfg, run_dir = setup_run(run_dir, resume, overrides, _invocation({}), cls, default)
        _lpips_ready(cfg)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        dev = pick_device(device)
        click.echo(f"run directory: {run_dir}  device: {dev}", err=True)
        train(cfg, run_dir, dev, data_dir, log=lambda s: click.echo(s, err=True))
    except (ValueError, FileNotFoundError) as e:
        raise click.ClickException(str(e)) from None


def _standalone_options(cls, default: str, holds: str):
    """The options of a stand-alone stage's command: where the data and the run are, --resume, --device, and
    a --flag for every scalar hyper-parameter of its config dataclass `cls`."""
    options = [
        click.option("--data-dir", type=click.Path(path_type=Path), default=None,
                     help="folder with the datasets in their official layouts  [env: RESTORE_DATA_DIR; default ../shared/data]"),
        click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help=f"where {holds} go  [default: runs/{default}]"),
        click.option("--resume", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
                     help="continue the run in this folder from its last checkpoint (its config.json is used)"),
        click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda"),
        functools.partial(_scalar_options, cls),
    ]

    def decorate(fn):
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


def _scalar_options(cls, fn):
    """`fn` with a --flag for every scalar hyper-parameter of the config dataclass `cls`, and a --model-NAME for
    every scalar field of its network's (the `model` field's dataclass; not its arch)."""
    for f in reversed(dataclasses.fields(cls)):
        typ = _TYPES.get(f.type, f.type)
        if f.name == "model":
            for g in reversed(dataclasses.fields(f.default_factory)):
                t = _TYPES.get(g.type, g.type)
                if g.name != "arch" and t in (int, float, str):
                    fn = click.option("--model-" + g.name.replace("_", "-"), MODEL_FLAG + g.name, type=t, default=None,
                                      help=f"the network's {g.name} (default {g.default!r})")(fn)
        if f.name == "kind" or typ not in (int, float, str):
            continue
        fn = click.option("--" + f.name.replace("_", "-"), f.name, type=typ, default=None, help=f"(default {f.default!r})")(fn)
    return fn


MODEL_FLAG = "model__"  # the keyword prefix of a --model-NAME flag: a field of the stage's network config


def _model_overrides(cls, overrides: dict) -> dict:
    """Flags as setup_run takes them: the --model-NAME ones gathered into a `model` config (the default one
    with them set), the rest as they are."""
    model = {k.removeprefix(MODEL_FLAG): v for k, v in overrides.items() if k.startswith(MODEL_FLAG)}
    out = {k: v for k, v in overrides.items() if not k.startswith(MODEL_FLAG)}
    if model:
        default = cls().model
        out["model"] = type(default).from_dict({**dataclasses.asdict(default), **model})
    return out


@main.command()
@_standalone_options(DamageTrainConfig, "damage", "checkpoints, metrics and samples")
def damage(data_dir, run_dir, resume, device, **kw):
    """Train the damage detector on synthetic damage over the training photos (resumable).

    With --init RUN_DIR it starts from another detector run's averaged weights (fine-tuning)."""
    from .damage import train

    _train_standalone(DamageTrainConfig, "damage", train, data_dir, run_dir, resume, device, kw)


@main.command()
@_standalone_options(TextureTrainConfig, "texture", "crops, checkpoints, metrics and samples")
def texture(data_dir, run_dir, resume, device, **kw):
    """Train a texture stage at native resolution on the base model's fills of the training photos (resumable).

    The first run cuts its crops (a few minutes) into the run directory; --resume reuses them.
    `restore-train export RUN --name NAME` writes the release that `restore run --texture` takes."""
    from .texture import train

    _train_standalone(TextureTrainConfig, "texture", train, data_dir, run_dir, resume, device, kw)


def _flips(value: str | None) -> tuple[str, ...] | None:
    """--flips as DetectorConfig takes it: "h,v" -> ("h", "v"), "none" -> ()."""
    if value is None:
        return None
    if value.strip().lower() in ("none", ""):
        return ()
    from restore.damage.detector import FLIPS

    flips = tuple(f.strip().lower() for f in value.split(","))
    bad = [f for f in flips if f not in FLIPS]
    if bad:
        raise ValueError(f"--flips {value}: {', '.join(bad)} is not one of h, v, hv (or none)")
    return flips


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--name", required=True, help="name of the release, e.g. celeba")
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="output folder  [default: RUN_DIR/export/NAME]")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="for the validation scores on the card")
@click.option("--n", type=click.IntRange(min=1), default=None, help="validation images to score (default: the whole split)")
@click.option("--context", type=click.FloatRange(min=1.0), default=None,
              help="the framing `restore run` gives the model (config.json's context)  [default: the run's]")
@click.option("--detail/--no-detail", default=None,
              help="whether `restore run` adds full-resolution detail into holes filled from downscaled windows "
                   "(config.json's detail)  [default: the run's]")
@click.option("--detail-scale", type=click.FloatRange(min=0, min_open=True), default=None,
              help="the softmax scale of that detail's attention; higher copies sharper texture (config.json's "
                   "detail_scale)  [default: the run's]")
@click.option("--mirror/--no-mirror", default=None,
              help="whether `restore run` fills each downscaled window also mirrored and averages the two fills "
                   "(config.json's mirror)  [default: the run's]")
@click.option("--tile-thin/--no-tile-thin", default=None,
              help="whether `restore run` fills thin holes from windows at native resolution along them "
                   "(config.json's tile_thin)  [default: the run's]")
@click.option("--texture", default=None, metavar="NAME|DIR|none",
              help="the texture stage `restore run` runs over the model's fills (config.json's texture)  [default: the run's]")
@click.option("--texture-gain", type=click.FloatRange(min=0), default=None,
              help="the share of the texture stage's correction the model's fills take (config.json's texture_gain)  "
                   "[default: the run's]")
@click.option("--blend-thin", type=click.FloatRange(min=0), default=None, metavar="PX",
              help="holes at most PX thick get a biharmonic interpolation averaged into the fill (config.json's "
                   "blend_thin; 0 = none)  [default: the run's]")
@click.option("--blend-weight", type=click.FloatRange(0, 1), default=None,
              help="the share of the fill that such holes keep (config.json's blend_weight)  [default: the run's]")
@click.option("--blend-sigma", type=click.FloatRange(min=0), default=None,
              help="average only the fill's low frequencies, below a Gaussian of this sigma (config.json's "
                   "blend_sigma; 0 = the whole fill)  [default: the run's]")
@click.option("--thin-px", type=click.FloatRange(min=0), default=None,
              help="texture stage: holes at most this thick (px) get --thin-gain of its correction  [default: the run's]")
@click.option("--thin-gain", type=click.FloatRange(min=0), default=None,
              help="texture stage: the share of its correction that thin holes get  [default: the run's]")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="damage detector: the probability above which a pixel is damage  [default: the run's]")
@click.option("--flips", default=None, metavar="h,v,hv|none",
              help="damage detector: mirrored views averaged with the photo's own (h left-right, v upside down, "
                   "hv both)  [default: the run's]")
@click.option("--max-side", type=click.IntRange(min=0), default=None,
              help="damage detector: photos with a longer side are also read from a copy brought down to this side "
                   "(0 = every photo at its own size only)  [default: the run's]")
@click.option("--enlarge", type=click.FloatRange(min=0), default=None,
              help="damage detector: average the reading at the learnt scale with one of a copy this many times "
                   "larger, read once (0 = none)  [default: the run's]")
def export(run_dir, name, out, data_dir, n, context, detail, detail_scale, mirror, tile_thin, texture, texture_gain, blend_thin,
           blend_weight, blend_sigma, thin_px, thin_gain, threshold, flips, max_side, enlarge):
    """Write the release pair (config.json + model.safetensors) and its model card (of an inpainting run or,
    for a `restore-train damage` or `texture` run, of the damage detector or the texture stage)."""
    from .export import export_run

    try:
        cfg_path = run_dir / "config.json"
        if not cfg_path.exists():
            raise ValueError(f"{run_dir}: no config.json; export takes the run directory of a restore-train run")
        kind = read_json(cfg_path).get("kind")
        model_only = {k: v for k, v in (("blend_thin", blend_thin), ("blend_weight", blend_weight), ("blend_sigma", blend_sigma),
                                         ("detail_scale", detail_scale), ("texture_gain", texture_gain)) if v is not None}
        pipeline = [k for k, v in (("context", context), ("detail", detail), ("mirror", mirror), ("tile_thin", tile_thin),
                                   ("texture", texture)) if v is not None]
        if (model_only or pipeline) and kind in ("texture", "damage"):
            raise ValueError("--context, --detail, --mirror, --tile-thin, --texture, --detail-scale, --texture-gain, "
                             "--blend-thin, --blend-weight and --blend-sigma are settings of an inpainting model; this "
                             "run is not one")
        click.echo(f"exporting {run_dir}; the card's scores are measured on the validation photos (minutes)", err=True)
        if kind == "texture":
            from .texture import export_texture

            click.echo(str(export_texture(run_dir, name, out, data_dir, n, thin_px=thin_px, thin_gain=thin_gain)))
            return
        if thin_px is not None or thin_gain is not None:
            raise ValueError("--thin-px and --thin-gain are settings of a texture stage; this run is not one")
        detector = {k: v for k, v in (("threshold", threshold), ("flips", _flips(flips)), ("max_side", max_side),
                                      ("enlarge", enlarge)) if v is not None}
        if kind == "damage":
            from .damage import export_detector

            click.echo(str(export_detector(run_dir, name, out, data_dir, n, settings=detector)))
            return
        if detector:
            raise ValueError("--threshold, --flips, --max-side and --enlarge are settings of a damage detector; this run "
                             "is not one")
        from restore.hub import texture_spec

        texture = texture_spec(texture)  # "none" as restore run --texture reads it
        if texture:  # checked now, not by every `restore run` of the release; a folder kept whole
            from restore.hub import REGISTRY, ModelError, load

            if texture not in REGISTRY and Path(texture).is_dir():  # a released name is the release, as hub reads it
                texture = str(Path(texture).resolve())
            try:
                load(texture, kind="texture")
            except ModelError as e:
                raise ValueError(str(e)) from None
        folder = export_run(run_dir, name, out, data_dir, n, context=context, detail=detail, mirror=mirror,
                            tile_thin=tile_thin, texture=texture, **model_only)
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    click.echo(str(folder))


if __name__ == "__main__":
    main()
