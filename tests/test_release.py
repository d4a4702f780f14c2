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


def test_bundled_detector_verifies_loads_and_is_trained(monkeypatch, tmp_path):
    """The released damage detector finds synthetic scratches and dust on the example photos (which no training
    run has seen) and flags almost nothing on their clean prints; random weights would do neither."""
    from restore.damage import synthetic
    from restore.damage.detector import detect
    from restore.eval.detection import Counts, counts

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    where = hub.resolve("damage")
    assert where.source == "bundled" and (where.folder / "model.safetensors").stat().st_size <= 5e6
    card = (where.folder / "README.md").read_text()
    for file, digest in hub.REGISTRY["damage"].sha256.items():
        assert f"| {file} | `{digest}` |" in card
    net, _ = hub.load("damage", kind="damage")
    total, alarms = Counts(), []
    for i, photo in enumerate(sorted((EXAMPLES / "photos").iterdir())[:3]):
        rgb = photo_rgb(Image.open(photo))
        d = synthetic.apply(np.random.default_rng([7, i]), rgb, ("scratch", "dust"), hard_negatives=0)
        total = total + counts(detect(net, d.damaged), d.mask)
        clean = synthetic.apply(np.random.default_rng([8, i]), rgb, (), hard_negatives=0)
        alarms.append(detect(net, clean.damaged).mean())
    assert total.f1 > 0.7, (total.precision, total.recall)
    assert np.mean(alarms) < 0.01, alarms


def test_bundled_texture_stage_verifies_loads_and_is_trained(monkeypatch, tmp_path):
    """The released texture stage, which `photo` names, changes the example photos' large holes and
    makes them more detailed while staying as close to the truth; untrained weights would return the
    fill unchanged (their last layer starts at zero) or noise."""
    from restore.inpainting.texture import TextureNet

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    where = hub.resolve("texture")
    assert where.source == "bundled" and (where.folder / "model.safetensors").stat().st_size <= 15e6
    card = (where.folder / "README.md").read_text()
    assert "restore-train texture" in card
    for file, digest in hub.REGISTRY["texture"].sha256.items():
        assert f"| {file} | `{digest}` |" in card
    model, _ = hub.load("photo")
    stage = hub.load_texture(model)
    assert isinstance(stage, TextureNet) and model.cfg.texture == "texture"
    plain, textured = Restorer(model), Restorer(model, texture=stage)
    masks = index_masks(EXAMPLES / "masks")
    err_plain, err_tex, grad_plain, grad_tex = [], [], [], []
    for photo in sorted((EXAMPLES / "photos").iterdir()):
        im = Image.open(photo)
        rgb = photo_rgb(im)
        mask = read_mask(masks[photo.stem], im.size)
        a, b = plain.restore(rgb, mask), textured.restore(rgb, mask)
        assert np.array_equal(b[~mask], rgb[~mask])
        err_plain.append(np.abs(a[mask].astype(float) - rgb[mask]).mean())
        err_tex.append(np.abs(b[mask].astype(float) - rgb[mask]).mean())
        for out, grads in ((a, grad_plain), (b, grad_tex)):
            g = np.abs(np.diff(out.astype(float), axis=1))[mask[:, 1:]]
            grads.append(g.mean())
    # Texture costs some pixel accuracy on these small holes and strokes (hole MAE 7.5 -> 8.6 when written);
    # noise from untrained weights would cost far more.
    assert np.mean(err_tex) < 1.25 * np.mean(err_plain), (err_plain, err_tex)
    assert np.mean(grad_tex) > 1.05 * np.mean(grad_plain), (grad_plain, grad_tex)


def test_every_command_on_a_model_card_is_one_restore_train_takes():
    """The cards say how each release was made; an option renamed or dropped since would make them unrepeatable.
    Each `restore-train` line parses against today's CLI (run folders that are not on this machine aside)."""
    import re
    import shlex
    from pathlib import Path

    import click

    from trainer.cli import main

    cards = (Path(__file__).parent.parent / "restore" / "weights").glob("*/README.md")
    lines = [re.sub(r"^20[0-9-]+ [0-9:]+ +", "", line.strip()) for card in cards for line in card.read_text().splitlines()]
    commands = [shlex.split(line.split(" #")[0])[1:] for line in lines if line.startswith("restore-train ")]
    assert len(commands) >= 25
    for args in commands:
        try:
            with main.make_context("restore-train", list(args)) as ctx:
                main.get_command(ctx, args[0]).make_context(args[0], args[1:], parent=ctx)
        except click.BadParameter as e:
            assert "does not exist" in e.format_message(), (args, e.format_message())
        except click.ClickException as e:
            raise AssertionError(f"restore-train {' '.join(args)}: {e.format_message()}") from None
