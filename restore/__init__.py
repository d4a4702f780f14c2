"""restore: fill holes in photos with the attention-based inpainting models of Denoyer et al. (2019).

Kept free of heavy imports so that `restore --help` starts instantly. `restore.inpaint(image, mask)`
fills one image in memory, `restore.inpaint_many(pairs)` many at once, and `restore.detect_damage(image)` finds the
scratches, dust and cracks of an old print (restore/api.py).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("restore")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"


__all__ = ["inpaint", "inpaint_many", "detect_damage", "__version__"]


def __getattr__(name: str):
    if name in ("inpaint", "inpaint_many", "detect_damage"):  # imported on first use: `import restore` stays light
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'restore' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
