"""The one way restore and restore-train write a file: to a temporary file beside it, then renamed over it.

A crash or Ctrl-C leaves either the old file or the new one, never a partial file. Every output
goes through here: restored photos, masks, figures, bench results, model releases and cards,
training checkpoints, configs and metrics.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from .files import FORMATS


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def atomic_write(path: Path, write: Callable[[BinaryIO], object], *, fsync: bool = False,
                 backup: Path | None = None) -> None:
    """Call write(file) on a temporary file in path's folder, then rename it over path.

    `fsync` flushes the data to disk before the rename (checkpoints: a power cut must not leave an
    empty file). With `backup`, the file being replaced is first renamed there, so the previous
    version survives as a fallback.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)  # mkstemp creates 0600; outputs get the usual permissions
        if backup is not None and path.exists():
            os.replace(path, backup)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes, *, fsync: bool = False) -> None:
    atomic_write(path, lambda f: f.write(data), fsync=fsync)


def atomic_save(image: Image.Image, path: Path, format: str | None = None, **params) -> None:
    """Save a PIL image atomically, in the format its extension names unless `format` is given."""
    fmt = format or FORMATS.get(Path(path).suffix.lower(), "PNG")
    if fmt == "JPEG" and "qtables" not in params:  # a quality would rescale given tables
        params.setdefault("quality", 95)
    atomic_write(path, lambda f: image.save(f, format=fmt, **params))
