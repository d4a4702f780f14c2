"""README's results tables say what the recorded bench runs in docs/bench measured."""

import json
import re
from pathlib import Path

import pytest

from restore import hub

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()

# README row label -> row of summary.json
ROWS = {
    "gray fill": "gray fill (paper baseline)",
    "ApproxNet": "ApproxNet",
    "full model": "full model",
    "scikit-image biharmonic": "scikit-image biharmonic",
    "OpenCV Telea": "OpenCV Telea",
}


def table_after(heading: str) -> dict[str, list[str]]:
    """The markdown table whose header row starts with ``heading``: row label -> cells."""
    lines = README[README.index(f"| {heading}"):].splitlines()
    rows = {}
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        label, *cells = (c.strip() for c in line.strip("|").split("|"))
        label = re.sub(r"\*\*|\(.*?\)|`", "", label).strip()
        rows[label] = [c.strip("*") for c in cells]
    return rows


def summary(name: str) -> dict:
    return json.loads((ROOT / "docs" / "bench" / name / "summary.json").read_text())


def fmt(x: float, digits: int) -> str:
    s = f"{x:.{digits}f}"
    return s[1:] if s.startswith("0.") else s


@pytest.mark.parametrize("heading, bench", [("CelebA", "celeba"), ("Stanford Cars", "cars")])
def test_paper_mask_tables_match_the_recorded_bench(heading, bench):
    s = summary(bench)
    assert f"| {heading}, {s['meta']['images']} images |" in README
    table = table_after(f"{heading}, ")
    assert set(table) == set(ROWS)
    for label, row in ROWS.items():
        r = s["rows"][row]
        ssim, psnr_hole, mae_hole = table[label][:3]
        assert ssim == f"{fmt(r['ssim'], 4)} ± {fmt(r['ssim_se'], 4)}", (bench, label)
        assert psnr_hole == fmt(r["psnr_hole"], 2), (bench, label)
        assert mae_hole == fmt(r["mae_hole"], 1), (bench, label)


def test_stroke_table_matches_the_recorded_bench():
    table = table_after("strokes")
    celeba, cars = summary("celeba-strokes"), summary("cars-strokes")
    assert celeba["meta"]["mask_kind"] == cars["meta"]["mask_kind"] == "strokes"
    for label, row in ROWS.items():
        if label == "ApproxNet":
            continue
        a, b = celeba["rows"][row], cars["rows"][row]
        want = [fmt(a["ssim"], 4), fmt(a["psnr_hole"], 2), fmt(b["ssim"], 4), fmt(b["psnr_hole"], 2)]
        assert table[label] == want, label


CLASSICAL_ROWS = {"scikit-image biharmonic": "scikit-image biharmonic", "OpenCV Telea": "OpenCV Telea",
                  "OpenCV shiftmap": "OpenCV shiftmap (xphoto)", "OpenCV FSR fast": "OpenCV FSR fast (xphoto)"}


def lpips_fmt(x: float) -> str:
    return fmt(x, 4 if x < 0.05 else 3)


@pytest.mark.parametrize("heading, model, bench, no_texture, before, classical", [
    ("natural `val`", "photo", "natural-native", "natural-native-no-texture", "natural-native-no-detail",
     "natural-native-classical"),
    ("CelebA `val`", "celeba", "celeba-native", "celeba-native-no-texture", "celeba-native-no-detail", "celeba-native"),
])
def test_native_size_tables_match_the_recorded_bench(heading, model, bench, no_texture, before, classical):
    """Each row of README's native-size tables (hole-crop LPIPS / hole PSNR / sharpness) is that of a recorded
    run: the model with its defaults (detail on, and the texture stage its config names), the model without
    the texture stage, the model without detail either, and the four classical methods."""
    now, old, ref = summary(bench), summary(before), summary(classical)
    assert now["meta"]["model"] == old["meta"]["model"] == model
    assert now["meta"]["detail"] is True and old["meta"]["detail"] is False
    assert now["meta"].get("texture") == (hub.load(model)[0].cfg.texture or None)
    assert now["meta"]["photos"] == old["meta"]["photos"] == ref["meta"]["photos"]
    assert now["meta"]["seed"] == old["meta"]["seed"] == ref["meta"]["seed"]
    assert now["meta"]["masks_per_photo"] == old["meta"]["masks_per_photo"] == ref["meta"]["masks_per_photo"]
    per = now["meta"]["masks_per_photo"]
    assert f"| {heading}, {now['meta']['photos']} photos" + (f" x {per} holes |" if per > 1 else " |") in README
    table = table_after(f"{heading}, ")
    rows = {model: (now, "full model"), f"{model} --no-detail": (old, "full model")}
    if no_texture:
        plain = summary(no_texture)
        assert plain["meta"]["detail"] is True and plain["meta"].get("texture") is None
        assert all(plain["meta"][k] == now["meta"][k] for k in ("photos", "seed", "masks_per_photo"))
        rows[f"{model} --texture none"] = (plain, "full model")
    rows |= {label: (ref, row) for label, row in CLASSICAL_ROWS.items()}
    assert set(table) == set(rows)
    for label, (s, row) in rows.items():
        want = []
        for kind in ("rect", "blob", "stroke"):
            r = s["rows"][kind][row]
            want.append(f"{lpips_fmt(r['lpips_hole'])} / {fmt(r['psnr_hole'], 2)} / {fmt(r['sharpness'], 2)}")
        assert [c.replace("*", "") for c in table[label]] == want, label


def test_readmes_python_example_runs_as_written(tmp_path, monkeypatch):
    """The `From Python` block, run as it stands on an example photo and its mask."""
    import shutil

    import numpy as np
    from PIL import Image

    code = README[README.index("## From Python"):].split("```python\n", 1)[1].split("```", 1)[0]
    shutil.copy(ROOT / "examples" / "photos" / "coffee.jpg", tmp_path / "photo.jpg")
    shutil.copy(ROOT / "examples" / "masks" / "coffee.png", tmp_path / "mask.png")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    before, after = (np.asarray(Image.open(p).convert("RGB")) for p in ("photo.jpg", "restored.png"))
    holes = np.asarray(Image.open("mask.png").convert("L")) > 127
    assert after.shape == before.shape and np.array_equal(after[~holes], before[~holes])
