"""restore: fill holes in photos with the attention-based inpainting models of Denoyer et al. (2019).

Kept free of heavy imports so that `restore --help` starts instantly; see restore.pipeline for the API.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("restore")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
