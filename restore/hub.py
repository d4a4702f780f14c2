"""Released weights: the registry, where each model loads from, sha256 checks, save and load.

A model is a folder holding ``config.json`` (an ``InpainterConfig``, or a ``DetectorConfig``
for a damage detector) and ``model.safetensors``. ``--model`` accepts:

- a local folder (or its model.safetensors file);
- ``hf:OWNER/REPO[@REVISION]``: downloaded from the Hugging Face Hub with
  ``hf_hub_download`` (HF_HOME / HF_HUB_CACHE / HF_HUB_OFFLINE are honoured);
- a registered name (``photo``, ``celeba``, ``cars``, and the detector ``damage``): taken from the local Hub cache when
  ``restore download`` has put it there, otherwise from the copy bundled in this
  package. Both are checked against the sha256 recorded in the registry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

FILES = ("config.json", "model.safetensors")
BUNDLED_DIR = Path(__file__).parent / "weights"


class ModelError(ValueError):
    """A model that cannot be found, verified or loaded; the message says what to do."""


@dataclass(frozen=True)
class Release:
    name: str
    repo_id: str  # where `restore download` fetches it from
    revision: str  # pinned tag or commit on the Hub
    sha256: dict  # file name -> sha256 of its bytes
    description: str
    suits: str = ""  # what photos to use it on, for `restore models`
    kind: str = "inpaint"  # inpaint (fills holes, --model), damage (finds them, --damage-model) or texture
    # (a stage an inpainting model's config.json names, run over its fills)


# Only weights produced by a recorded `restore-train` run are listed here; each model card
# (restore/weights/NAME/README.md) gives the command, the training time and the scores.
REGISTRY: dict[str, Release] = {
    "photo": Release(
        name="photo",
        repo_id="restore-inpainting/restore-photo",
        revision="v1.2",  # v1.1: "detail" on (config only); v1.2: the "texture" stage named (config only)
        sha256={
            "config.json": "2dfdd763d8a7f6b8ae0a13b42f24bf95e894f8c5aff3d915737a6d03962fc8bc",
            "model.safetensors": "8e4804f6089638858512f52b44a117da049757f8bcc3ec75ff56dfc52918edfe",
        },
        description="ordinary photos (natural/: cities, interiors, landscapes; windows of the photos at their "
        "own size), 2.3M parameters, seam layer, trained by runs/photo-s1 + runs/photo-v1",
        suits="any photo: streets, buildings, rooms, landscapes, objects to remove (the default)",
    ),
    "celeba": Release(
        name="celeba",
        repo_id="restore-inpainting/restore-celeba",
        revision="v3.5",  # v2.1 fine-tuned with object-shaped holes and a 32x32 block; v3.1: "mirror" on; v3.2: "tile_thin" off;
        # v3.3: "detail" on; v3.4: thin holes blended with a biharmonic interpolation, detail's softmax scale 200
        # (config only); v3.5: the "texture" stage named, at half its correction (config only)
        sha256={
            "config.json": "1387e707d705757ff15812214d216a79faf5f6c4f04dbe448592a15e35910a04",
            "model.safetensors": "8483531d5c4b5fc239f2190cc1a82478b94759e897c6d019890fc5e8798dc21c",
        },
        description="faces (CelebA, 64x64), 2.4M parameters, a 32x32 block; runs/celeba-v2 "
        "fine-tuned with object-shaped holes by runs/celeba-ft",
        suits="portraits and face crops; on other content it paints face texture or a blur (use photo)",
    ),
    "cars": Release(
        name="cars",
        repo_id="restore-inpainting/restore-cars",
        revision="v4",
        sha256={
            "config.json": "284ec09e8d1bc917824936d40a0463916db180203c2de538f7f230e35a7d3c94",
            "model.safetensors": "94cb080e4ee77ba55b0ba91f547a43def34cafe46722cfbe43d6c483b15d7648",
        },
        description="cars (Stanford Cars, 64x64), 2.4M parameters, seam layer, a 32x32 block; "
        "runs/cars-v4 fine-tuned by runs/cars-ft-psnr, then grown and fine-tuned by runs/cars-grow",
        suits="photos of cars (for other photos, use photo)",
    ),
    "damage": Release(
        name="damage",
        repo_id="restore-inpainting/restore-damage",
        revision="v2.3",  # v2: v1 fine-tuned on more cracks and dust, and more dark scratches and cracks;
        # v2.1: the photo's mirrored views averaged in ("flips"), threshold 0.4 (config only);
        # v2.2: photos longer than 1024 px also read from a copy brought down to 1024 ("max_side", config only);
        # v2.3: the reading at the learnt scale averaged with one of a copy 1.5x larger ("enlarge", config only)
        sha256={
            "config.json": "5dc2c73d03a8e27508dc0f36bc0682e8d2c82d637d044d0b752567a805096677",
            "model.safetensors": "c17fc432e42d2b54d15d0e16bdaf769f26e9f1589d46f15da31692513b4a4ef8",
        },
        description="damage detector (scratches, cracks, creases, dust, specks, worn edges) trained on synthetic "
        "damage over old-print versions of natural/, CelebA and Cars; 0.41M parameters; runs/damage-v1 -> v2 -> v3 -> v4",
        suits="scans of old prints without masks: restore run --detect-damage",
        kind="damage",
    ),
    "texture": Release(
        name="texture",
        repo_id="restore-inpainting/restore-texture",
        revision="v2.1",  # v2: continued from v1 with a patch discriminator; thin holes get 0.75 of the correction;
        # v2.1: thin holes get 0.5 of it (config only)
        sha256={
            "config.json": "cd0d2c302187f32256c889fd66a84a1c7682e62f546483917b57b050f4189b6c",
            "model.safetensors": "2d56d31bff0dfb23b8496cfc2c593c09430c2ca826211ab8103477a8763a7a73",
        },
        description="texture stage at native resolution over photo's fills, trained on photo's own fills of 154 "
        "natural/ photos with hole L1 + LPIPS + a patch discriminator; 1.16M parameters; runs/texture-v1 -> v2",
        suits="run by photo and celeba (their configs name it); --texture none turns it off",
        kind="texture",
    ),
}

DEFAULT_MODEL = "photo"
DEFAULT_DETECTOR = "damage"
KINDS = {"inpaint": ("an inpainting model", "--model"), "damage": ("a damage detector", "--damage-model"),
         "texture": ("a texture stage", "--texture")}
PYTHON = {"inpaint": "inpaint(model=...)", "damage": "detect_damage(model=...)", "texture": "inpaint(texture=...)"}
ARGUMENT = {"inpaint": "model", "damage": "model", "texture": "texture"}  # the Python argument that takes each kind


def _lead(spec: str, kind: str, python: bool) -> str:
    """How a message names the value it is about: `--model NAME`, or `model='NAME'` from Python."""
    return f"{ARGUMENT[kind]}={spec!r}" if python else f"{KINDS[kind][1]} {spec}"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def problems(folder: Path, expected: dict) -> list[str]:
    """What is wrong with a model folder's files against the registry's sha256: one line each, none when whole."""
    found = []
    for name, digest in expected.items():
        path = folder / name
        if not path.exists():
            found.append(f"{path}: missing; run `restore download` or reinstall restore")
            continue
        actual = sha256_file(path)
        if actual != digest:
            found.append(
                f"{path}: sha256 mismatch (expected {digest[:12]}..., got {actual[:12]}...); "
                "the file is damaged or altered: delete it and run `restore download` or reinstall restore"
            )
    return found


def verify(folder: Path, expected: dict) -> None:
    """Refuse any file whose sha256 differs from the registry's."""
    found = problems(folder, expected)
    if found:
        raise ModelError(found[0])


def _hub_location(release: Release) -> Path | None:
    """The cached snapshot folder of a release, without touching the network."""
    from huggingface_hub import try_to_load_from_cache

    found = []
    for name in FILES:
        p = try_to_load_from_cache(release.repo_id, name, revision=release.revision)
        if not isinstance(p, str):
            return None
        found.append(Path(p).parent)
    return found[0] if len(set(found)) == 1 else None


def _hub_unreachable() -> bool:
    """Whether the Hub's host cannot even be looked up, with no proxy to ask instead: then huggingface_hub would
    retry for about 20 s, printing each try, before giving the same answer."""
    import socket
    from urllib.parse import urlparse
    from urllib.request import getproxies

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or getproxies():  # the environment's proxies, and the system's on macOS and Windows
        return False
    host = urlparse(constants.ENDPOINT).hostname
    try:
        socket.getaddrinfo(host, 443)
    except (socket.gaierror, UnicodeError):
        return True
    return False


def _hub_download(repo_id: str, revision: str | None) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

    try:
        cache_only = _hub_unreachable()  # then the cache answers at once, or the error below does
        paths = [Path(hf_hub_download(repo_id, name, revision=revision, local_files_only=cache_only)) for name in FILES]
    except (LocalEntryNotFoundError, OfflineModeIsEnabled):
        from huggingface_hub import constants

        why = "HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else "no connection to huggingface.co"
        raise ModelError(
            f"hf:{repo_id}@{revision or 'main'}: not in the local Hub cache and the Hub cannot be reached ({why}); "
            "connect to the internet, or use the bundled model (--model NAME) or a local --model PATH"
        ) from None
    except Exception as e:  # huggingface_hub raises many HTTP error types
        raise ModelError(f"hf:{repo_id}@{revision or 'main'}: download failed: {str(e).splitlines()[0]}") from None
    return paths[0].parent


@dataclass
class Resolved:
    folder: Path
    source: str  # 'path', 'hub-cache', 'hub', 'bundled'
    expected: dict | None  # sha256 to verify, when known


def resolve(spec: str, kind: str = "inpaint", python: bool = False) -> Resolved:
    """Find the folder a --model value (or, by `kind`, a --damage-model or --texture value) refers to (no network
    unless spec is hf:...); errors name the option that took it (with `python`, the argument of restore.inpaint or
    restore.detect_damage), and the released models of its kind."""
    lead = _lead(spec, kind, python)
    known = ", ".join(n for n, r in REGISTRY.items() if r.kind == kind) or "none released yet"
    if not spec.strip():
        raise ModelError(f"{lead}: empty; give a released model (known: {known}), a model folder or hf:OWNER/REPO")
    if spec.startswith("hf:"):
        repo, _, rev = spec[3:].partition("@")
        if repo.count("/") != 1:
            raise ModelError(f"{lead}: expected hf:OWNER/REPO[@REVISION]")
        known = next((r for r in REGISTRY.values() if r.repo_id == repo and (not rev or r.revision == rev)), None)
        return Resolved(_hub_download(repo, rev or None), "hub", known.sha256 if known else None)
    # A released name is always the release, even beside a folder of that name (a folder of texture photos
    # named texture/ must not stand in for the texture stage); such a folder is reached as ./texture.
    if spec in REGISTRY:
        release = REGISTRY[spec]
        cached = _hub_location(release)
        if cached is not None:
            return Resolved(cached, "hub-cache", release.sha256)
        return Resolved(BUNDLED_DIR / spec, "bundled", release.sha256)
    path = Path(spec)
    if path.exists():
        folder = path.parent if path.is_file() else path
        return Resolved(folder, "path", None)
    raise ModelError(f"{lead}: no such file or folder, and not a released model (known: {known})")


def download(name: str) -> Path:
    """Fetch a released model into the Hub cache and verify it."""
    if name not in REGISTRY:
        raise ModelError(f"unknown model {name!r} (known: {', '.join(REGISTRY) or 'none'})")
    release = REGISTRY[name]
    folder = _hub_download(release.repo_id, release.revision)
    verify(folder, release.sha256)
    return folder


def save_pretrained(model, folder: Path, half: bool = True) -> dict:
    """Write config.json + model.safetensors (fp16 by default: half the size, same restorations
    to within a grey level); returns {file: sha256}."""
    from safetensors.torch import save

    from .io.atomic import atomic_write_bytes

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if half and v.is_floating_point() else v).contiguous().cpu() for k, v in model.state_dict().items()}
    atomic_write_bytes(folder / "config.json", (json.dumps(model.cfg.to_dict(), indent=2) + "\n").encode())
    # One metadata key only: safetensors writes several in a random order, so the same weights
    # would get a different sha256 on every export. The architecture is in config.json.
    atomic_write_bytes(folder / "model.safetensors", save(state, metadata={"format": "pt"}))
    return {name: sha256_file(folder / name) for name in FILES}


def _network(cfg_path: Path):
    """The untrained network a config.json describes: an Inpainter, a DamageDetector or a TextureNet, by its arch."""
    from .damage.detector import ARCH as DETECTOR_ARCH
    from .damage.detector import DamageDetector, DetectorConfig
    from .inpainting.networks import Inpainter, InpainterConfig
    from .inpainting.texture import ARCH as TEXTURE_ARCH
    from .inpainting.texture import TextureConfig, TextureNet

    try:
        data = json.loads(cfg_path.read_text())
        if isinstance(data, dict) and data.get("arch") == DETECTOR_ARCH:
            return DamageDetector(DetectorConfig.from_dict(data))
        if isinstance(data, dict) and data.get("arch") == TEXTURE_ARCH:
            return TextureNet(TextureConfig.from_dict(data))
        return Inpainter(InpainterConfig.from_dict(data))
    except (ValueError, TypeError, AttributeError) as e:
        raise ModelError(f"{cfg_path}: not a restore model config ({e})") from None


def kind_of(model) -> str:
    """'damage' for a damage detector, 'texture' for a texture stage, 'inpaint' for an inpainting model."""
    from .damage.detector import DamageDetector
    from .inpainting.texture import TextureNet

    if isinstance(model, TextureNet):
        return "texture"
    return "damage" if isinstance(model, DamageDetector) else "inpaint"


def load_pretrained(folder: Path, expected: dict | None = None, device="cpu"):
    """Rebuild a network from its config.json and load its weights strictly, in eval mode."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    if expected:
        verify(folder, expected)
    cfg_path, weights_path = folder / "config.json", folder / "model.safetensors"
    for p in (cfg_path, weights_path):
        if not p.exists():
            raise ModelError(f"{p}: missing; a model folder holds config.json and model.safetensors")
    model = _network(cfg_path)
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError) as e:
        raise ModelError(f"{weights_path}: unreadable safetensors file ({e}); re-export or re-download it") from None
    damaged = [k for k, v in state.items() if v.is_floating_point() and not bool(v.isfinite().all())]
    if damaged:  # a flipped bit in an exponent: a model that loads, and fills with garbage
        raise ModelError(f"{weights_path}: {len(damaged)} tensor{'s' if len(damaged) > 1 else ''} hold NaN or infinite "
                         f"weights ({damaged[0]}...); the file is damaged: re-export or re-download it")
    try:
        model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    except RuntimeError as e:
        # torch puts the useful part (which keys, which shapes) on the lines after its first
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        detail = "; ".join(lines[1:3]) if len(lines) > 1 else lines[0] if lines else type(e).__name__
        raise ModelError(f"{weights_path}: weights do not fit the architecture in config.json ({detail})") from None
    return model.eval().to(device)


def load(spec: str = DEFAULT_MODEL, device="cpu", kind: str = "inpaint", python: bool = False):
    """Resolve, verify and load a --model (or, with kind='damage', a --damage-model) value; returns
    (model, Resolved). A model of the other kind is refused with a message that says which option (with `python`,
    which argument) takes it."""
    where = resolve(spec, kind, python)
    model = load_pretrained(where.folder, where.expected, device)
    found = kind_of(model)
    if found != kind:
        raise ModelError(f"{_lead(spec, kind, python)}: this is {KINDS[found][0]}; give it to "
                         f"{PYTHON[found] if python else KINDS[found][1]}")
    return model, where


def texture_spec(spec: str | None) -> str | None:
    """A --texture (or `inpaint(texture=)`) value as the pipeline takes it: None (the model's own), "" (none: also
    spelt "none" or "off") or a released name or folder."""
    if spec is None:
        return None
    return "" if spec.strip().lower() in ("none", "off", "") else spec


def load_texture(model, spec: str | None = None, device="cpu", python: bool = False):
    """The texture stage to run over `model`'s fills: `spec` (a released name or a folder; none as `texture_spec`
    reads it), or when None the one the model's config.json names; None when there is none."""
    spec = model.cfg.texture if spec is None else texture_spec(spec)
    if not spec:
        return None
    net, _ = load(spec, device, kind="texture", python=python)
    return net
