"""LPIPS: the official values on the authors' example pairs, the hole crop, and where the weights come from."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter
from safetensors.torch import load_file, save_file
from torchvision.models import AlexNet_Weights

from restore.eval import lpips

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "weights"


@pytest.fixture(scope="module")
def weights() -> Path:
    """The weights file as the module finds it, but relative to the repository root, not the current directory."""
    env = os.environ.get(lpips.ENV)
    file = Path(env) if env else SHARED / lpips.FILENAME
    if not file.is_file():
        pytest.skip(f"LPIPS weights absent: no {file} (set {lpips.ENV} or put {lpips.FILENAME} in {SHARED})")
    return file


@pytest.fixture(scope="module")
def model(weights) -> lpips.Lpips:
    return lpips.load(weights)


@pytest.fixture(scope="module")
def examples(weights) -> dict[str, np.ndarray]:
    folder = next((d for d in (weights.parent / "lpips_check", SHARED / "lpips_check") if (d / "ex_ref.png").is_file()), None)
    if folder is None:
        pytest.skip(f"LPIPS example images absent (lpips_check/ next to {weights})")
    return {name: np.asarray(Image.open(folder / f"{name}.png").convert("RGB")) for name in ("ex_ref", "ex_p0", "ex_p1")}


def _random_model(seed: int = 0) -> lpips.Lpips:
    """Lpips with seeded random weights (He-scaled convolutions, positive heads like the trained ones)."""
    g = torch.Generator().manual_seed(seed)
    net = lpips.Lpips()
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.startswith("heads."):
                p.copy_(torch.rand(p.shape, generator=g) / p.shape[1])
            elif name.endswith("weight"):
                p.copy_(torch.randn(p.shape, generator=g) * math.sqrt(2 / p[0].numel()))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.01)
    return net.eval()


def _photo(h: int, w: int, seed: int) -> np.ndarray:
    """Smooth colour gradients plus a few flat squares (edges): a stand-in for a photo."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([np.sin(2 * np.pi * (rng.uniform(0.5, 2) * xx + rng.uniform(0.5, 2) * yy) + rng.uniform(0, 6)) for _ in range(3)], -1)
    img = img * 100 + 128
    for _ in range(6):
        y, x = rng.integers(0, h - 12), rng.integers(0, w - 12)
        img[y : y + 12, x : x + 12] = rng.uniform(0, 255, 3)
    return np.clip(img, 0, 255).astype(np.uint8)


# --- the official values -------------------------------------------------------------------------------


def test_official_values_on_the_example_pairs(model, examples):
    assert round(lpips.distance(examples["ex_ref"], examples["ex_p0"], model), 3) == 0.722
    assert round(lpips.distance(examples["ex_ref"], examples["ex_p1"], model), 3) == 0.138


def test_load_is_cached_frozen_float32_eval(weights, model):
    assert lpips.load(str(weights)) is model
    assert not model.training
    assert all(p.dtype == torch.float32 and not p.requires_grad for p in model.parameters())


def test_blur_is_farther_than_noise_of_the_same_mse(model):
    # L2 calls these equal; a perceptual metric must not (checked on 3 pictures: blur scores 2-5x noise).
    for seed in range(3):
        a = _photo(48, 48, seed)
        blur = np.asarray(Image.fromarray(a).filter(ImageFilter.BoxBlur(1)))
        mse = float(np.mean((blur.astype(float) - a) ** 2))
        noise = np.clip(a + np.random.default_rng(seed).normal(0, math.sqrt(mse), a.shape), 0, 255).round().astype(np.uint8)
        assert np.mean((noise.astype(float) - a) ** 2) == pytest.approx(mse, rel=0.1)
        assert lpips.distance(a, blur, model) > 1.5 * lpips.distance(a, noise, model)


# --- the network, on random weights (no file needed) ---------------------------------------------------


def test_forward_matches_a_direct_reference():
    """Taps after ReLUs 1,4,7,9,11, scaling layer, unit norm over channels, heads, spatial mean, sum."""
    net = _random_model()
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(2, 3, 40, 48, generator=g) * 2 - 1, torch.rand(2, 3, 40, 48, generator=g) * 2 - 1
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)
    convs = [net.features[i] for i in (0, 3, 6, 8, 10)]

    def taps(x):
        x = (x - shift) / scale
        out = []
        for k, conv in enumerate(convs):
            if k in (1, 2):
                x = torch.nn.functional.max_pool2d(x, 3, 2)
            x = torch.relu(torch.nn.functional.conv2d(x, conv.weight, conv.bias, conv.stride, conv.padding))
            out.append(x)
        return out

    def unit(f):
        return f / (f.norm(dim=1, keepdim=True) + 1e-10)

    want = sum(
        torch.einsum("nchw,c->n", (unit(fa) - unit(fb)) ** 2, head.weight.flatten()) / (fa.shape[2] * fa.shape[3])
        for fa, fb, head in zip(taps(a), taps(b), net.heads, strict=True)
    )
    with torch.no_grad():
        got = net(a, b)
    assert got.shape == (2,)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(net(a[1:], b[1:]), got[1:], rtol=1e-5, atol=1e-7)


def test_identical_zero_symmetric_gray_and_small_images():
    net = _random_model()
    a, b = _photo(40, 36, 0), _photo(40, 36, 1)
    assert lpips.distance(a, a.copy(), net) == 0.0
    d = lpips.distance(a, b, net)
    assert d > 0
    assert lpips.distance(b, a, net) == pytest.approx(d, rel=1e-6)
    gray_a, gray_b = a[..., 0], b[..., 0]
    assert lpips.distance(gray_a, gray_b, net) == lpips.distance(np.dstack([gray_a] * 3), np.dstack([gray_b] * 3), net)
    # Under 32 px a side AlexNet has nothing left; these are reflect-padded to 32 instead of failing.
    for h, w in ((8, 8), (1, 50), (20, 31)):
        assert lpips.distance(a[:h, :w], b[:h, :w], net) > 0
        assert lpips.distance(a[:h, :w], a[:h, :w], net) == 0.0


def test_distance_rejects_bad_images():
    net = _random_model()
    a = _photo(40, 40, 0)
    with pytest.raises(ValueError, match="same size"):
        lpips.distance(a, a[:32], net)
    with pytest.raises(ValueError, match="uint8"):
        lpips.distance(a.astype(np.float32), a.astype(np.float32), net)
    with pytest.raises(ValueError, match="HxWx3"):
        lpips.distance(np.dstack([a, a[..., :1]]), np.dstack([a, a[..., :1]]), net)


# --- the hole crop ---------------------------------------------------------------------------------------


def _mask(h, w, y0, y1, x0, x1):
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


@pytest.mark.parametrize(
    "shape, hole, rows, cols",
    [
        ((100, 120), (40, 60, 50, 90), (30, 70), (30, 110)),  # grown by half a side: 20 -> 40 rows, 40 -> 80 cols
        ((100, 100), (49, 51, 49, 51), (34, 66), (34, 66)),  # a 2x2 hole still gets a 32 px crop
        ((100, 100), (0, 2, 0, 2), (0, 32), (0, 32)),  # ... at a corner it slides inward
        ((100, 100), (98, 100, 97, 100), (68, 100), (68, 100)),
        ((100, 100), (0, 40, 30, 70), (0, 60), (10, 90)),  # the growth itself is clipped, not slid
        ((20, 50), (9, 11, 0, 2), (0, 20), (0, 32)),  # a photo shorter than 32 px gives all it has
        ((100, 100), (10, 15, 10, 15), (0, 32), (0, 32)),  # 5 px grows ceil(2.5) = 3 a side, then to 32
        ((200, 200), (50, 75, 50, 75), (37, 88), (37, 88)),  # 25 px -> 13 a side: 51 px
    ],
)
def test_crop_box(shape, hole, rows, cols):
    got = lpips.crop_box(_mask(*shape, *hole))
    assert (got[0].start, got[0].stop) == rows
    assert (got[1].start, got[1].stop) == cols


def test_crop_box_holds_the_hole_and_the_minimum():
    rng = np.random.default_rng(0)
    for _ in range(50):
        h, w = rng.integers(10, 90, 2)
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        y1, x1 = rng.integers(y0 + 1, h + 1), rng.integers(x0 + 1, w + 1)
        rows, cols = lpips.crop_box(_mask(h, w, y0, y1, x0, x1))
        assert 0 <= rows.start <= y0 and y1 <= rows.stop <= h and 0 <= cols.start <= x0 and x1 <= cols.stop <= w
        assert rows.stop - rows.start >= min(32, h) and cols.stop - cols.start >= min(32, w)
    with pytest.raises(ValueError, match="no hole"):
        lpips.crop_box(np.zeros((40, 40), bool))


def test_hole_crop_distance_sees_only_the_crop():
    net = _random_model()
    original = _photo(96, 96, 0)
    mask = _mask(96, 96, 40, 50, 40, 50)
    rows, cols = lpips.crop_box(mask)
    assert (rows.start, rows.stop) == (29, 61)
    inside = original.copy()
    inside[mask] = 0
    assert lpips.hole_crop_distance(original, inside, mask, net) == lpips.distance(original[rows, cols], inside[rows, cols], net) > 0
    outside = original.copy()
    outside[:20] = 255  # outside the crop: does not count
    assert lpips.hole_crop_distance(original, outside, mask, net) == 0.0
    assert lpips.hole_crop_distance(original, inside, np.zeros((96, 96), bool), net) == 0.0


# --- where the weights come from ----------------------------------------------------------------------


def test_resolution_order(tmp_path, monkeypatch):
    work = tmp_path / "work"
    (tmp_path / "shared" / "weights").mkdir(parents=True)
    work.mkdir()
    dev = tmp_path / "shared" / "weights" / lpips.FILENAME
    given, env = tmp_path / "given.safetensors", tmp_path / "env.safetensors"
    for f in (dev, given, env):
        f.write_bytes(b"x")
    monkeypatch.chdir(work)
    monkeypatch.setenv(lpips.ENV, str(env))
    assert lpips.find_weights(given) == given
    assert lpips.find_weights() == env
    monkeypatch.delenv(lpips.ENV)
    assert lpips.find_weights().resolve() == dev


def test_missing_file_names_the_flag_and_env_var(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(lpips.ENV, raising=False)
    with pytest.raises(lpips.LpipsError) as err:
        lpips.load()
    msg = str(err.value)
    assert "\n" not in msg and lpips.FILENAME in msg and "--lpips-weights" in msg and lpips.ENV in msg
    gone = tmp_path / "gone.safetensors"
    with pytest.raises(lpips.LpipsError, match="not found") as err:
        lpips.load(gone)
    assert str(gone) in str(err.value) and "--lpips-weights" in str(err.value)
    monkeypatch.setenv(lpips.ENV, str(gone))
    with pytest.raises(lpips.LpipsError, match=f"not found: {gone} \\(from {lpips.ENV}\\)"):
        lpips.load()
    assert issubclass(lpips.LpipsError, ValueError)


def test_sha256_mismatch_names_the_file(tmp_path):
    net = _random_model()
    wrong = tmp_path / "alexnet_lpips.safetensors"
    state = {f"features.{i}.{p}": t for i in (0, 3, 6, 8, 10) for p in ("weight", "bias") for t in [getattr(net.features[i], p).detach()]}
    state.update({f"lin{i}.model.1.weight": h.weight.detach() for i, h in enumerate(net.heads)})
    save_file(state, wrong)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not safetensors")
    for file in (wrong, garbage):
        with pytest.raises(lpips.LpipsError, match="sha256") as err:
            lpips.load(file)
        assert str(file) in str(err.value) and "\n" not in str(err.value)


# --- a heads-only file: the backbone from torchvision (monkeypatched: no network) ----------------------


@pytest.fixture
def fake_torchvision(monkeypatch):
    """Replaces torchvision's IMAGENET1K_V1 loader; ``fake.state`` is what it returns, ``fake.calls`` its kwargs."""

    class Fake:
        state: dict = {}
        calls: list = []

    def get_state_dict(self, *args, **kwargs):
        assert self is AlexNet_Weights.IMAGENET1K_V1
        Fake.calls.append(kwargs)
        if isinstance(Fake.state, Exception):
            raise Fake.state
        return Fake.state

    monkeypatch.setattr(AlexNet_Weights, "get_state_dict", get_state_dict)
    return Fake


def test_heads_only_file_takes_torchvision_backbone(tmp_path, monkeypatch, fake_torchvision):
    src = _random_model(seed=3)
    heads = {f"lin{i}.model.1.weight": h.weight.detach().clone() for i, h in enumerate(src.heads)}
    file = tmp_path / "heads.safetensors"
    save_file(heads, file)
    monkeypatch.setattr(lpips, "HEADS_SHA256", lpips._heads_sha256(heads))  # random heads stand in for the real ones
    fake_torchvision.state = {f"features.{k}": v.clone() for k, v in src.features.state_dict().items()}
    fake_torchvision.state["classifier.1.weight"] = torch.zeros(4, 4)  # the classifier is not wanted
    net = lpips.load(file)
    assert fake_torchvision.calls and fake_torchvision.calls[0]["check_hash"] is True
    for (name, got), want in zip(net.state_dict().items(), src.state_dict().values(), strict=True):
        assert torch.equal(got, want), name
    a, b = _photo(40, 40, 0), _photo(40, 40, 1)
    assert lpips.distance(a, b, net) == lpips.distance(a, b, src)


def test_heads_only_file_of_the_real_heads(weights, model, examples, tmp_path, fake_torchvision):
    tensors = load_file(weights)
    file = tmp_path / "heads.safetensors"
    save_file({k: v for k, v in tensors.items() if k.startswith("lin")}, file)
    fake_torchvision.state = {k: v for k, v in tensors.items() if k.startswith("features.")}
    net = lpips.load(file)
    ref, p0 = examples["ex_ref"], examples["ex_p0"]
    assert lpips.distance(ref, p0, net) == lpips.distance(ref, p0, model)


def test_heads_only_without_torchvision_weights(tmp_path, monkeypatch, fake_torchvision):
    heads = {f"lin{i}.model.1.weight": h.weight.detach().clone() for i, h in enumerate(_random_model().heads)}
    file = tmp_path / "heads.safetensors"
    save_file(heads, file)
    monkeypatch.setattr(lpips, "HEADS_SHA256", lpips._heads_sha256(heads))
    fake_torchvision.state = OSError("<urlopen error [Errno -3] Temporary failure in name resolution>\nmore")
    with pytest.raises(lpips.LpipsError) as err:
        lpips.load(file)
    msg = str(err.value)
    assert "\n" not in msg and str(file) in msg and "--lpips-weights" in msg and lpips.ENV in msg and "OSError" in msg
