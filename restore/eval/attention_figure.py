"""Figure 10 of the paper: the self-attention weights of one query pixel, drawn over the photo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..inpainting.windows import SIZE
from ..io.photos import photo_rgb

_STOPS = np.array([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], np.float64)


def heat(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] to RGB uint8 along a dark-to-bright colour ramp."""
    pos = np.clip(values, 0, 1) * (len(_STOPS) - 1)
    i = np.minimum(pos.astype(int), len(_STOPS) - 2)
    t = (pos - i)[..., None]
    return np.rint(_STOPS[i] * (1 - t) + _STOPS[i + 1] * t).astype(np.uint8)


def attention_map(model, rgb64: np.ndarray, mask64: np.ndarray, query: tuple[int, int]):
    """(attention weights over the feature grid as a 2-D array, restored uint8 64x64 image)."""
    import torch

    from ..inpainting.networks import to_uint8

    x = torch.from_numpy(np.array(rgb64)).permute(2, 0, 1)[None].float() / 127.5 - 1
    m = torch.from_numpy(np.array(mask64))[None, None].float()
    with torch.inference_mode():
        _, refined, maps = model.to("cpu")(x, m, return_attention=True)
    if not maps:
        raise ValueError("this model has no self-attention layer to show")
    attn = maps[0][0]  # (queries, keys) on the first attention layer's grid
    side = int(round(attn.shape[0] ** 0.5))
    qx, qy = (min(side - 1, int(v * side / SIZE)) for v in query)
    return attn[qy * side + qx].reshape(side, side).float().numpy(), to_uint8(refined)[0]


def attention_figure(model, photo: Image.Image, mask: np.ndarray, at: tuple[int, int], out: Path, panel: int = 256) -> None:
    """Write [photo with the hole and the query | attention over the photo | restored] as one PNG."""
    from ..io.atomic import atomic_save

    rgb = photo_rgb(photo)
    h, w = rgb.shape[:2]
    rgb64 = np.asarray(Image.fromarray(rgb).resize((SIZE, SIZE), Image.Resampling.BICUBIC))
    mask64 = np.asarray(Image.fromarray(mask.astype(np.float32)).resize((SIZE, SIZE), Image.Resampling.BOX)) > 0
    q = (int(at[0] * SIZE / w), int(at[1] * SIZE / h))
    weights, restored = attention_map(model, rgb64, mask64, q)
    weights = weights / max(float(weights.max()), 1e-12)

    def big(a, resample=Image.Resampling.NEAREST):
        return Image.fromarray(a).resize((panel, panel), resample)

    masked = rgb64.copy()
    masked[mask64] = 128
    left = big(masked)
    hm = np.asarray(Image.fromarray((weights * 255).astype(np.uint8)).resize((panel, panel), Image.Resampling.BILINEAR))
    overlay = (0.45 * np.asarray(big(rgb64)) + 0.55 * heat(hm / 255.0)).astype(np.uint8)
    mid = Image.fromarray(overlay)
    canvas = Image.new("RGB", (3 * panel + 8, panel + 18), "white")
    for i, (img, title) in enumerate([(left, "masked input + query"), (mid, "attention of the query"),
                                      (big(restored), "restored")]):
        canvas.paste(img, (i * (panel + 4), 18))
        ImageDraw.Draw(canvas).text((i * (panel + 4) + 4, 3), title, fill="black")
    d = ImageDraw.Draw(canvas)
    cx, cy = (q[0] + 0.5) * panel / SIZE, 18 + (q[1] + 0.5) * panel / SIZE
    for dx in (0, panel + 4):
        d.ellipse((dx + cx - 6, cy - 6, dx + cx + 6, cy + 6), outline=(255, 140, 0), width=2)
    atomic_save(canvas, Path(out), format="PNG")
