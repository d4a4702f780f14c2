"""The released models bundled in the package: registered, verified, small, and actually trained."""

import numpy as np
import pytest
from PIL import Image

from restore import hub
from restore.inpainting.pipeline import Restorer
from restore.io.files import index_masks
from restore.io.masks import read_mask
from restore.io.photos import photo_rgb

EXAMPLES = __import__("pathlib").Path(__file__).parent.parent / "examples"


@pytest.mark.parametrize("name", ["photo", "celeba", "cars"])
def test_bundled_release_verifies_and_loads(name, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache: the bundled copy is used
    assert name in hub.REGISTRY
    where = hub.resolve(name)
    assert where.source == "bundled" and where.folder == hub.BUNDLED_DIR / name
    weights = where.folder / "model.safetensors"
    assert weights.stat().st_size <= 15e6
    assert hub.sha256_file(weights) == hub.REGISTRY[name].sha256["model.safetensors"]
    model, _ = hub.load(name)
    assert not model.training
    card = (where.folder / "README.md").read_text()
    assert "restore-train" in card
    for file, digest in hub.REGISTRY[name].sha256.items():  # the card's file table is the release's
        assert f"| {file} | `{digest}` |" in card


@pytest.mark.parametrize("name", ["photo", "celeba", "cars"])
def test_release_is_trained(name):
    """On the example photos (whose holes we know the truth of) the model is far closer than gray fill;
    random or untrained weights would not be."""
    model, _ = hub.load(name)
    restorer = Restorer(model)
    masks = index_masks(EXAMPLES / "masks")
    err_model, err_gray = [], []
    for photo in sorted((EXAMPLES / "photos").iterdir()):
        im = Image.open(photo)
        rgb = photo_rgb(im)
        mask = read_mask(masks[photo.stem], im.size)
        out = restorer.restore(rgb, mask)
        err_model.append(np.abs(out[mask].astype(float) - rgb[mask]).mean())
        err_gray.append(np.abs(128.0 - rgb[mask]).mean())
    assert np.mean(err_model) < 0.6 * np.mean(err_gray), (err_model, err_gray)
