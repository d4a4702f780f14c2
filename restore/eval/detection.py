"""Scoring a damage mask against the true one: pixel precision, recall and F1 with a tolerance.

A detected pixel counts as right when a true damaged pixel lies within `tol` pixels of it, and a
true pixel as found when a detected one lies within `tol` of it (the boundary tolerance of edge and
crack detection benchmarks): a mask one pixel wider or narrower than the truth is not an error.
Counts add up over photos, so a set's scores weigh every pixel alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

TOLERANCE = 2


def _near(mask: np.ndarray, tol: int) -> np.ndarray:
    if tol <= 0 or not mask.any():
        return mask
    return ndimage.distance_transform_edt(~mask) <= tol


@dataclass
class Counts:
    hit: int = 0  # detected pixels near a true one
    detected: int = 0
    found: int = 0  # true pixels near a detected one
    true: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.hit + other.hit, self.detected + other.detected, self.found + other.found, self.true + other.true)

    @property
    def precision(self) -> float:
        return self.hit / self.detected if self.detected else float("nan")

    @property
    def recall(self) -> float:
        return self.found / self.true if self.true else float("nan")

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0


def counts(detected: np.ndarray, truth: np.ndarray, tol: int = TOLERANCE) -> Counts:
    """The tolerant counts of one photo's detected mask against its true mask (both bool (H, W))."""
    detected, truth = detected.astype(bool), truth.astype(bool)
    return Counts(
        hit=int((detected & _near(truth, tol)).sum()),
        detected=int(detected.sum()),
        found=int((truth & _near(detected, tol)).sum()),
        true=int(truth.sum()),
    )
