"""Bench results on disk, the same for every protocol: the summary of each row (mean and standard
error of every metric), and summary.md, summary.json and results.csv, each written atomically."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_write_bytes

MEDIAN = ("sharpness",)  # a ratio with a long tail: its median says more than its mean
# LPIPS (eval/lpips.py) over the whole photo and over the hole crop; only with a loaded LPIPS model.
LPIPS_METRICS = ("lpips", "lpips_hole")


def lpips_notes(lpips_model, reason: str | None = None) -> list[str]:
    """The note of a bench run without LPIPS ("LPIPS left out: reason"), or none when a model was given."""
    return [] if lpips_model is not None else [f"LPIPS left out: {reason or 'no LPIPS model given'}"]


def summarize(values: dict[str, Sequence[float]]) -> dict[str, float]:
    """Per metric, the mean over the images where it is finite (the median for MEDIAN metrics), and
    its standard error as `NAME_se`."""
    out = {}
    for k, v in values.items():
        a = np.asarray(v, float)
        a = a[np.isfinite(a)]
        out[k] = float(np.median(a) if k in MEDIAN else a.mean()) if len(a) else float("nan")
        out[k + "_se"] = float(a.std(ddof=1) / np.sqrt(len(a))) if len(a) > 1 else 0.0
    return out


def json_safe(value):
    """`value` with every NaN or infinite float as None (null): JSON has no NaN, and strict parsers (jq) refuse it."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def write_summary(out_dir: Path, md: str, meta: dict, rows: dict, csv_header: list[str], csv_rows: Iterable[list]) -> None:
    """summary.md (the table `md`), summary.json ({"meta": meta, "rows": rows}; a score that could not be taken is
    null) and results.csv."""
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out_dir / "summary.md", (md + "\n").encode())
    doc = json_safe({"meta": meta, "rows": rows})
    atomic_write_bytes(out_dir / "summary.json", (json.dumps(doc, indent=2, allow_nan=False) + "\n").encode())
    text = io.StringIO()
    w = csv.writer(text)
    w.writerow(csv_header)
    w.writerows(csv_rows)
    atomic_write_bytes(out_dir / "results.csv", text.getvalue().encode())
