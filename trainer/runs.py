"""Run directories of the trainer's stand-alone stages (the damage detector, the texture stage): the
config.json a run keeps, its command.txt, and the rule that --resume continues a run as configured (`holds_run`
serves the inpainting model's stages too)."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path


def save_config(cfg, path: Path) -> None:
    """A run's config (one of the trainer's config dataclasses, with to_dict) as JSON."""
    from restore.io.atomic import atomic_write_bytes

    atomic_write_bytes(Path(path), (json.dumps(cfg.to_dict(), indent=2) + "\n").encode())


def config_from_dict(cls, data: dict, model_cls):
    """A stand-alone stage's config dataclass `cls` from its JSON dict: unknown keys refused, `model` built as
    `model_cls` (or taken as one), and lists (JSON's tuples) made tuples again."""
    data = dict(data)
    unknown = set(data) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(f"unknown config keys: {sorted(unknown)}")
    model = data.pop("model", None) or model_cls()
    model = model if isinstance(model, model_cls) else model_cls.from_dict(model)
    return cls(model=model, **{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def check_config(cfg, where: str = "") -> None:
    """A ValueError naming the first setting of a config dataclass (nested ones included) whose value is not of its
    declared type, or a batch size under 1: a config file's "lr": "abc" is refused before a run starts, not when the
    stage that reads it does, after the stages before it have trained."""
    import typing

    hints = typing.get_type_hints(type(cfg))
    for f in fields(cfg):
        value, hint, name = getattr(cfg, f.name), hints[f.name], where + f.name
        if isinstance(hint, type) and is_dataclass(hint):
            if not isinstance(value, hint):
                raise ValueError(f"{name}: {value!r} is not a group of settings ({hint.__name__})")
            check_config(value, name + ".")
        elif not _fits(value, hint):
            raise ValueError(f"{name}: {value!r} is not {_kind(hint)}")
        elif name.endswith("batch_size") and value < 1:
            raise ValueError(f"{name}: {value!r}; a batch holds at least 1")


def _fits(value, hint) -> bool:
    import types
    import typing

    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_fits(v, args[0]) for v in value)
        return len(args) == len(value) and all(_fits(v, a) for v, a in zip(value, args, strict=True))
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if hint is type(None):
        return value is None
    return True  # a type this check does not know: left to the code that reads it


def _kind(hint) -> str:
    import typing

    if typing.get_origin(hint) is tuple:
        return f"a list ({hint})"
    return {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}.get(hint, f"a {hint}")


def read_json(path: Path) -> dict:
    """A run's JSON file; a damaged one is a ValueError naming it."""
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None


def load_config(path: Path, cls):
    return cls.from_dict(read_json(path))


_LOCKS: dict[Path, object] = {}  # run folder -> its open .lock file, held while this process trains there


def lock_run(run_dir: Path) -> None:
    """Hold `run_dir`'s .lock for the rest of this process, or a ValueError when another process holds it: two
    processes training one run folder would overwrite each other's checkpoints."""
    import fcntl

    run_dir.mkdir(parents=True, exist_ok=True)
    key = run_dir.resolve()
    if key in _LOCKS:
        return
    f = open(run_dir / ".lock", "w")  # noqa: SIM115 - held open until the process ends
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        raise ValueError(f"{run_dir} is being trained by another process; wait for it to end, or choose another "
                         "--run-dir") from None
    except OSError as e:  # a file system without locks (some network mounts): trained as before, unguarded
        import warnings

        warnings.warn(f"{run_dir}: cannot lock the run folder ({e.strerror}); make sure no other process trains "
                      "in it", stacklevel=2)
    _LOCKS[key] = f


BEFORE_TRAINING = ("config.json", "command.txt", "split.json")  # what a run writes before its first step


def holds_run(run_dir: Path) -> bool:
    """Whether `run_dir` holds a run that began: its config.json and anything more than the command log and the
    split of its photos. A first start that failed before training (a wrong --data-dir, a photo that cannot be read)
    leaves only those, and may be started again: afresh, its command log and split written anew."""
    if not (run_dir / "config.json").exists():
        return False
    return any(p.name not in BEFORE_TRAINING and not p.name.startswith(".") for p in run_dir.iterdir())


def setup_run(run_dir: Path | None, resume: Path | None, overrides: dict, invocation: str, cls, default: str):
    """(config, run directory) of a new run of `cls` (in runs/`default` unless told), or of the run `resume`
    continues, whose config.json the flags given must not change (but for threads)."""
    if resume is not None:
        if not (resume / "config.json").exists():
            raise ValueError(f"{resume}: no config.json here; --resume takes a run directory")
        cfg = load_config(resume / "config.json", cls)
        run_dir = resume
        changed = {k for k, v in overrides.items() if k != "threads" and getattr(cfg, k) != v}
        if changed:
            raise ValueError(f"--resume uses {resume}/config.json; drop the flags that change it: {sorted(changed)}")
        cfg.threads = overrides.get("threads", cfg.threads)
    else:
        cfg = cls.from_dict(overrides)
        run_dir = run_dir or Path("runs") / default
        if holds_run(run_dir):
            raise ValueError(f"{run_dir} already holds a run; pass --resume {run_dir} or choose --run-dir")
    check_config(cfg)
    claim_run(run_dir, fresh=resume is None)
    save_config(cfg, run_dir / "config.json")
    log_command(run_dir, invocation, fresh=resume is None)
    return cfg, run_dir


def claim_run(run_dir: Path, fresh: bool) -> None:
    """Lock `run_dir` for this process (lock_run); a `fresh` start (not --resume) clears the split a first start that
    failed before training (holds_run) left, to draw its own."""
    lock_run(run_dir)
    if fresh:
        (run_dir / "split.json").unlink(missing_ok=True)


def log_command(run_dir: Path, invocation: str, fresh: bool) -> None:
    """Add `invocation` to the run's command.txt, one line per invocation, --resume ones included; a `fresh` start
    begins it anew: a first start that failed before training is not part of the run's history."""
    from restore.io.atomic import atomic_write_bytes

    log = run_dir / "command.txt"
    before = log.read_bytes() if log.exists() and not fresh else b""
    atomic_write_bytes(log, before + f"{time.strftime('%Y-%m-%d %H:%M:%S')}  {invocation}\n".encode())


def initial_weights(spec: str, stage: str, what: str) -> dict:
    """The weights a run of `stage` starts from (--init): the averaged weights of another run's last
    checkpoint (spec/`stage`/last.pt), or a release folder's model.safetensors."""
    from . import checkpoint

    folder = Path(spec)
    state = checkpoint.load(folder / stage) if (folder / stage).is_dir() else None
    if state is not None:
        return state["stage"]["ema"]
    weights = folder / "model.safetensors"
    if weights.exists():
        from safetensors.torch import load_file

        return {k: v.float() for k, v in load_file(str(weights)).items()}
    raise ValueError(f"--init {spec}: neither a {what} run directory (with {stage}/last.pt) nor a model folder")


@dataclass
class Exported:
    """What `export` gives a stage's card: the run's config and last checkpoint, the averaged network as
    released, where it went and the sha256 of its files, its scores, and the last row of metrics.csv."""

    cfg: object
    state: dict
    net: object
    out: Path
    digests: dict
    scores: str
    last: dict


def export(run_dir: Path, stage: str, cls, network: Callable, name: str, out: Path | None,
           score: Callable[[Path, object], str], settings: dict | None = None) -> Exported:
    """The release of a stand-alone stage's run: `network(cfg.model)` with the averaged weights of its last
    checkpoint, saved to `out` (default run_dir/export/NAME) as config.json + float16 model.safetensors,
    and scored by `score(out, cfg)` (or told why not: data out of reach). `settings` replace fields of
    cfg.model that say how the pipeline runs the network, not what it learnt."""
    import dataclasses

    from restore.hub import save_pretrained

    from . import checkpoint

    cfg = load_config(run_dir / "config.json", cls)
    if settings:
        cfg.model = dataclasses.replace(cfg.model, **settings)
    state = checkpoint.load(run_dir / stage)
    if state is None:
        raise ValueError(f"{run_dir}/{stage}: no checkpoint; run `restore-train {stage}` first")
    net = network(cfg.model)
    net.load_state_dict(state["stage"]["ema"])
    out = out or run_dir / "export" / name
    digests = save_pretrained(net.eval(), out)
    try:
        scores = score(out, cfg)
    except ValueError as e:  # data not reachable here: the card says so rather than inventing numbers
        scores = f"not scored: {e}"
    with open(run_dir / stage / "metrics.csv") as f:
        last = list(csv.DictReader(f))[-1]
    return Exported(cfg, state, net, out, digests, scores, last)
