"""Where the time of `restore run` goes, to decide what to optimise.

    python benchmarks/profile_run.py [--model celeba] [--n 1000]

Two views, written to benchmarks/PROFILE.md (speed.py appends that file to RESULTS.md):
the operators of one forward pass (torch.profiler, batch 64) and the Python functions of
`restore run` on n 64x64 photos from disk to disk (cProfile).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))


def operator_table(model_name: str, batch: int = 64, top: int = 8) -> str:
    import torch
    from speed import forward_inputs
    from torch.profiler import ProfilerActivity, profile

    model, x, m = forward_inputs(model_name, batch)
    with torch.inference_mode():
        model(x, m)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(5):
                model(x, m)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    lines = ["| operator | share of forward time |", "|---|---|"]
    lines += [f"| `{e.key}` | {100 * e.self_cpu_time_total / total:.0f} % |" for e in events[:top]]
    return "\n".join(lines)


def multiply_adds(model_name: str) -> float:
    """Multiply-adds of one 64x64 image's forward pass, in millions (convolutions and matrix products)."""
    import torch
    from speed import forward_inputs
    from torch.utils.flop_counter import FlopCounterMode

    model, x, m = forward_inputs(model_name, 1)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(x, m)
    return counter.get_total_flops() / 2 / 1e6


def function_table(model_name: str, n: int) -> str:
    from speed import make_small

    from restore.cli import main

    work = Path(tempfile.mkdtemp(prefix="restore-profile-"))
    try:
        make_small(work / "small", n)
        args = ["run", str(work / "small" / "photos"), "--masks", str(work / "small" / "masks"),
                "-o", str(work / "out"), "--model", model_name]
        prof = cProfile.Profile()
        prof.enable()
        try:
            main(args, prog_name="restore", standalone_mode=False)
        finally:
            prof.disable()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    stats = pstats.Stats(prof, stream=io.StringIO())
    total = max(v[3] for v in stats.stats.values())  # cumulative time of the outermost call
    wanted = {  # the stages of a run, by the function that does each
        "waiting for decoded photos (thread pool)": ("runner.py", "_loaded"),
        "cut 64x64 windows around holes": ("inpainting/windows.py", "make_windows"),
        "model forward passes": ("inpainting/pipeline.py", "infer"),
        "paste back and encode outputs": ("runner.py", "_finish"),
        "load the model": ("hub.py", "load"),
    }
    lines = ["| stage of `restore run` | cumulative time |", "|---|---|"]
    for label, (file, func) in wanted.items():
        cum = sum(v[3] for k, v in stats.stats.items() if k[0].endswith(file) and k[2] == func)
        lines.append(f"| {label} (`{func}`) | {100 * cum / total:.0f} % |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="celeba")
    ap.add_argument("--n", type=int, default=1000)
    args = ap.parse_args()
    ops = operator_table(args.model)
    madds = multiply_adds(args.model)
    funcs = function_table(args.model, args.n)
    text = f"""## Profile

`python benchmarks/profile_run.py --model {args.model} --n {args.n}`. The forward pass costs
{madds:.0f} million multiply-adds per image (convolutions and matrix products, counted by
`torch.utils.flop_counter`). Its self time per operator (batch 64):

{ops}

`restore run` on {args.n} 64x64 photos, disk to disk, share of the whole run (decoding runs
in a thread pool beside the model, so shares can overlap):

{funcs}
"""
    print(text)
    (HERE / "PROFILE.md").write_text(text)


if __name__ == "__main__":
    main()
