"""The epoch/step loop both stages share: progress bar, metrics.csv, sample grids, checkpoints, resume."""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from restore.io.atomic import atomic_write_bytes

from . import checkpoint


class Stage:
    """What a stage provides to the loop."""

    name: str
    epochs: int
    steps_per_epoch: int

    def step(self, epoch: int, index: int, global_step: int) -> dict: ...  # losses of one batch
    def evaluate(self, epoch: int) -> dict: ...  # validation metrics
    def samples(self) -> list[np.ndarray]: ...  # uint8 NHWC columns for the grid
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> None: ...


def save_grid(columns: list[np.ndarray], path: Path) -> None:
    """Rows of images, one column per array (e.g. masked | ApproxNet | refined | original)."""
    from restore.io.atomic import atomic_save

    rows = [np.concatenate([c[i] for c in columns], axis=1) for i in range(len(columns[0]))]
    atomic_save(Image.fromarray(np.concatenate(rows, axis=0)), path, format="PNG")


def _columns(header: list[str], row: dict) -> list[str]:
    """`header` with the keys of `row` it lacks, each placed after the key that precedes it in the row."""
    columns = list(header)
    for i, key in enumerate(row):
        if key not in columns:
            columns.insert(columns.index(list(row)[i - 1]) + 1 if i else 0, key)
    return columns


def append_metrics(path: Path, row: dict) -> None:
    """Add one epoch's row to metrics.csv. Every key of every epoch has its own column: a key the
    earlier rows lack (gradient norms are logged only every `log_every` steps, so an epoch may have
    none) widens the header, and the file is rewritten with an empty cell in the rows before. An epoch that has
    its row already keeps it: a run stopped between writing the row and the epoch's checkpoint goes through the
    epoch's last steps again on --resume, and the row written first covers all of its steps."""
    rows: list[dict] = []
    header: list[str] = []
    if path.exists():
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            rows, header = list(reader), list(reader.fieldnames or [])
    if any(r.get("epoch") == str(row.get("epoch")) for r in rows):
        return
    columns = _columns(header, row)
    text = io.StringIO()
    # extrasaction: a file written before this fix may hold rows longer than its header (under the key None)
    w = csv.DictWriter(text, fieldnames=columns, restval="", extrasaction="ignore")
    w.writeheader()
    w.writerows([*rows, row])
    atomic_write_bytes(path, text.getvalue().encode(), fsync=True)


def run(stage: Stage, run_dir: Path, checkpoint_every: int = 200, checkpoint_seconds: float = 300,
        is_main: bool = True, log: Callable[[str], None] = print, max_steps: int | None = None) -> None:
    """Train `stage` to its last epoch, resuming from run_dir/<stage.name>/last.pt when present."""
    from tqdm import tqdm

    folder = run_dir / stage.name
    folder.mkdir(parents=True, exist_ok=True)
    state = checkpoint.load(folder)
    epoch, index, global_step, elapsed = 0, 0, 0, 0.0
    if state is not None:
        stage.load_state_dict(state["stage"])
        epoch, index, global_step, elapsed = state["epoch"], state["index"], state["global_step"], state["elapsed"]
        if "torch_rng" in state:  # dropout draws continue as if the run had not stopped
            torch.random.set_rng_state(state["torch_rng"])
        log(f"{stage.name}: done already, {stage.epochs} epoch{'s' if stage.epochs != 1 else ''} (step {global_step})"
            if epoch >= stage.epochs
            else f"{stage.name}: resuming at epoch {epoch + 1}, step {global_step}")
    total = stage.epochs * stage.steps_per_epoch

    def save_state():
        if is_main:
            checkpoint.save({"stage": stage.state_dict(), "epoch": epoch, "index": index, "global_step": global_step,
                             "elapsed": elapsed, "torch_rng": torch.random.get_rng_state()}, folder)

    bar = tqdm(total=total, initial=global_step, desc=stage.name, unit="step", disable=not is_main,
               dynamic_ncols=True, mininterval=2)
    last_save = time.time()
    sums: dict[str, float] = {}
    count = 0
    while epoch < stage.epochs:
        t_epoch = time.time()
        while index < stage.steps_per_epoch:
            t0 = time.time()
            losses = stage.step(epoch, index, global_step)
            index += 1
            global_step += 1
            elapsed += time.time() - t0
            for k, v in losses.items():
                if not math.isnan(v):
                    sums[k] = sums.get(k, 0.0) + v
            count += 1
            bar.update(1)
            bar.set_postfix({k: f"{v:.4f}" for k, v in list(losses.items())[:3]}, refresh=False)
            if is_main and (global_step % checkpoint_every == 0 or time.time() - last_save > checkpoint_seconds):
                save_state()
                last_save = time.time()
            if max_steps is not None and global_step >= max_steps:
                save_state()
                bar.close()
                return
        t_eval = time.time()
        metrics = stage.evaluate(epoch) if is_main else {}
        if is_main:
            row = {"epoch": epoch + 1, "step": global_step}
            row.update({f"train_{k}": round(v / max(count, 1), 6) for k, v in sums.items()})
            row.update({k: round(v, 6) for k, v in metrics.items()})
            row.update({"seconds": round(time.time() - t_epoch, 1), "train_seconds_total": round(elapsed, 1)})
            append_metrics(folder / "metrics.csv", row)
            save_grid(stage.samples(), folder / f"samples-epoch{epoch + 1:03d}.png")
            shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
            bar.write(f"{stage.name} epoch {epoch + 1}/{stage.epochs}: {shown} ({time.time() - t_eval:.0f}s eval)")
        sums, count = {}, 0
        epoch, index = epoch + 1, 0
        save_state()
        last_save = time.time()
    bar.close()
