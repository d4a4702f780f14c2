"""Training checkpoints: written atomically, the previous one kept as a fallback."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from restore.io.atomic import atomic_write

NAMES = ("last.pt", "prev.pt")
_DAMAGED: set[Path] = set()  # last.pt files `load` found unreadable: `save` must not keep one as prev.pt


def save(state: dict, folder: Path) -> Path:
    """Write `state` to folder/last.pt atomically, flushed to disk; the old last.pt becomes prev.pt."""
    folder.mkdir(parents=True, exist_ok=True)
    last, prev = folder / NAMES[0], folder / NAMES[1]
    if last.resolve() in _DAMAGED:  # the run resumed from prev.pt: it stays the fallback until a new last.pt is in
        _DAMAGED.discard(last.resolve())
        last.unlink(missing_ok=True)
    atomic_write(last, lambda f: torch.save(state, f), fsync=True, backup=prev)
    return last


def present(folder: Path) -> bool:
    """Whether `folder` holds a checkpoint to resume from (readable or not: `load` decides)."""
    return any((folder / name).exists() for name in NAMES)


class CheckpointError(ValueError):
    """Checkpoints that are there but cannot be read: resuming would silently start the run again."""


def load(folder: Path) -> dict | None:
    """The newest readable checkpoint in `folder`, or None when there is none.

    A damaged last.pt (a kill while the disk was full, say) falls back to prev.pt
    with a warning rather than losing the run; when every checkpoint there is damaged,
    a CheckpointError says so rather than training again from the start over them.
    """
    for i, name in enumerate(NAMES):
        path = folder / name
        if not path.exists():
            continue
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # any unreadable file: try the older one
            warnings.warn(f"{path}: unreadable checkpoint ({type(e).__name__}); trying the previous one", stacklevel=2)
            if i == 0:
                _DAMAGED.add(path.resolve())
            continue
        if i > 0:
            warnings.warn(f"resuming from {path} (the newer checkpoint was unreadable)", stacklevel=2)
        return state
    if present(folder):
        damaged = [name for name in NAMES if (folder / name).exists()]
        raise CheckpointError(f"{folder}: no readable checkpoint ({' and '.join(damaged)} "
                              f"{'is' if len(damaged) == 1 else 'are'} damaged); put back a copy from a backup, or "
                              "start the run again in a new --run-dir")
    return None
