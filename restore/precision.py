"""The arithmetic the networks run in: float32, or bfloat16 where the CPU computes it natively.

On a CPU with AVX512-BF16 or AMX (AMD Zen 4 and later, Intel Xeons of Cooper Lake, Sapphire Rapids and later),
oneDNN runs the convolutions of restore's networks in bfloat16 about twice as fast as in float32, and the bench
scores of the fills and of the damage masks agree to the third or fourth digit (docs/performance.md). Other CPUs emulate
bfloat16, slower than float32, so "auto" keeps float32 there, and on GPUs.

Weights stay float32; each forward pass runs under torch.autocast and hands back float32 tensors, so the code
around the networks never sees another dtype.
"""

from __future__ import annotations

import functools

PRECISIONS = ("auto", "float32", "bfloat16")


def native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX tiles), as torch's CPU backend sees it."""
    import torch

    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # a torch without these probes: assume not, float32 is never wrong
        return False


def check(precision) -> None:
    """A ValueError unless `precision` is one of PRECISIONS."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: use one of {', '.join(PRECISIONS)}")


def resolve(precision: str, device) -> str:
    """'auto', 'float32' or 'bfloat16' on a torch device -> the precision the networks run in there."""
    import torch

    check(precision)
    if precision == "auto":
        return "bfloat16" if torch.device(device).type == "cpu" and native_bfloat16() else "float32"
    return precision


def _as_float32(out):
    import torch

    if isinstance(out, torch.Tensor):
        return out.float() if out.is_floating_point() else out
    if isinstance(out, (tuple, list)):
        return type(out)(_as_float32(o) for o in out)
    return out


def of(model) -> str:
    """The precision `apply` set on `model` ('float32' when none)."""
    return model.__dict__.get("_precision", "float32")


def apply(model, precision: str):
    """Make `model` (an nn.Module) run its forward passes in `precision` ('float32' or 'bfloat16'), on whichever
    device it is on when called, its floating outputs in float32; returns the model. Applying again replaces the
    earlier choice.

    The model itself is changed (its forward replaced on the instance, as accelerate does for mixed precision), so
    everything holding it shares the choice. Apply 'float32' before copying or pickling a model set to bfloat16:
    a copy would keep running the original's weights, and pickle refuses the replaced forward."""
    import torch

    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"precision {precision!r}: resolve 'auto' first (precision.resolve)")
    plain = model.__dict__.get("_plain_forward")
    if plain is None:
        plain = model.forward  # the class's forward, bound to the model
    if precision == "float32":
        model.__dict__.pop("forward", None)
        model.__dict__.pop("_plain_forward", None)
        model.__dict__.pop("_precision", None)
        return model

    @functools.wraps(plain)
    def forward(*args, **kwargs):
        device = next(model.parameters()).device.type
        with torch.autocast(device, dtype=torch.bfloat16):  # thread-local: entered in the calling thread
            out = plain(*args, **kwargs)
        return _as_float32(out)

    # An instance attribute: nn.Module.__call__ finds it before the class's forward.
    object.__setattr__(model, "_plain_forward", plain)
    object.__setattr__(model, "forward", forward)
    object.__setattr__(model, "_precision", "bfloat16")
    return model
