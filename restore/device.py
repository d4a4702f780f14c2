"""Choosing the torch device from --device auto|cpu|cuda."""

from __future__ import annotations


class DeviceError(ValueError):
    pass


def pick_device(name: str = "auto"):
    """'auto' takes CUDA when present, else the CPU; 'cuda' without CUDA is an error."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError("--device cuda: no CUDA GPU is available here; use --device cpu or auto")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DeviceError(f"--device {name}: unknown device; use auto, cpu or cuda") from None
    if device.type not in ("cpu", "cuda"):  # mps, meta, xpu...: not what restore runs or is tested on
        raise DeviceError(f"--device {name}: restore runs on cpu or cuda; use auto, cpu or cuda")
    return device
