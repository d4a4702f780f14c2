"""examples/closeups.py's figure layout: each row as tall as its tallest crop, labels right under the pictures."""

import importlib.util
from pathlib import Path

import numpy as np

spec = importlib.util.spec_from_file_location("closeups", Path(__file__).parent.parent / "examples" / "closeups.py")
closeups = importlib.util.module_from_spec(spec)
spec.loader.exec_module(closeups)


def _row(h: int, w: int) -> tuple[str, list[str], list[np.ndarray]]:
    return ("title", ["input", "truth"], [np.zeros((h, w, 3), np.uint8)] * 2)


def test_a_row_of_wide_crops_is_no_taller_than_its_crops():
    tile, label = closeups.TILE, closeups.LABEL
    wide = closeups.layout([_row(50, 100)])  # scaled to TILE x TILE/2
    square = closeups.layout([_row(80, 80)])
    assert square.height - wide.height == tile // 2
    assert wide.height == 2 * label + tile // 2 + 2 * label + 12
    # the picture is black down to its last row, and the label starts right under it (not TILE below its top)
    px = np.asarray(wide.convert("L"))
    top = 2 * label + label + 2
    assert px[top : top + tile // 2, 5].max() == 0 and px[top + tile // 2 + 1, 5] == 255
    assert (px[top + tile // 2 + 2 : top + tile // 2 + 2 + label, : tile] < 128).any()  # the label's text


def test_rows_of_different_heights_stack_without_overlap():
    tile, label = closeups.TILE, closeups.LABEL
    fig = np.asarray(closeups.layout([_row(100, 50), _row(50, 100)]).convert("L"))  # a tall row, then a wide one
    assert fig.shape[0] == 2 * label + (tile + 2 * label + 12) + (tile // 2 + 2 * label + 12)
    second = 2 * label + tile + 2 * label + 12 + label + 2  # where the second row's pictures begin
    assert fig[second - 1, 5] == 255 and fig[second : second + tile // 2, 5].max() == 0
