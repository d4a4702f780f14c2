"""Choosing the torch device from --device auto|cpu|cuda."""

from __future__ import annotations


class DeviceError(ValueError):
    pass


def pick_device(name: str = "auto", python: bool = False):
    """'auto' takes CUDA when present, else the CPU; 'cuda' without CUDA is an error. Messages name the option
    --device, or with `python` the argument device= of restore.inpaint and restore.detect_damage."""
    import torch

    lead, use = (f"device={name!r}", "use device='cpu' or 'auto'") if python else (f"--device {name}",
                                                                                 "use --device cpu or auto")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(f"{lead}: no CUDA GPU is available here; {use}")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DeviceError(f"{lead}: unknown device; use auto, cpu or cuda") from None
    if device.type not in ("cpu", "cuda"):  # mps, meta, xpu...: not what restore runs or is tested on
        raise DeviceError(f"{lead}: restore runs on cpu or cuda; use auto, cpu or cuda")
    return device
