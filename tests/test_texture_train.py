"""The native-resolution texture stage's trainer (trainer/texture.py): the network leaves known pixels
alone and starts as the identity; a tiny `restore-train texture` run cuts its crops once, trains,
monitors, and resumes only as configured."""

from __future__ import annotations

import csv
import json

import numpy as np
import torch
from click.testing import CliRunner

from restore.cli import main as cli_main
from restore.inpainting.texture import TextureConfig, TextureNet
from tests.conftest import write_mask, write_photo


def _inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 3, 32, 48, generator=g) * 2 - 1
    m = (torch.rand(2, 1, 32, 48, generator=g) > 0.6).float()
    return x, m


def test_an_untrained_stage_returns_the_fill():
    x, m = _inputs()
    with torch.no_grad():
        assert torch.equal(TextureNet()(x, m), x)


def test_known_pixels_pass_through_and_the_hole_changes():
    torch.manual_seed(0)
    net = TextureNet(TextureConfig(width=8, dilations=(1, 2)))
    with torch.no_grad():
        net.out.weight.normal_(0, 0.1)
    x, m = _inputs(1)
    with torch.no_grad():
        y = net(x, m)
    known = m.expand_as(x) == 0
    assert torch.equal(y[known], x[known])
    assert (y[~known] - x[~known]).abs().mean() > 1e-3


def test_tiny_texture_run_cuts_crops_once_trains_and_resumes(tmp_path, model_dir):
    from trainer.cli import main as train_main

    for i in range(12):
        write_photo(tmp_path / "data" / "natural" / f"p{i:02d}.png", 70, 90, seed=i)
    run_dir = tmp_path / "run"
    args = ["texture", "--data-dir", tmp_path / "data", "--run-dir", run_dir, "--base", model_dir, "--crop", "32",
            "--rounds", "1", "--crops-per-hole", "2", "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "2",
            "--perceptual-weight", "0", "--threads", "1"]
    res = CliRunner().invoke(train_main, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    crops = run_dir / "crops-train.npz"
    assert crops.exists() and (run_dir / "crops-monitor.npz").exists()
    with np.load(crops) as z:
        assert z["fill"].shape[1:] == (32, 32, 3) and z["mask"].dtype == bool and len(z["fill"]) == len(z["truth"])
        # the fills are the base model's: known pixels are the photo's own, the hole is filled
        known = ~z["mask"]
        assert np.array_equal(z["fill"][known], z["truth"][known])
    with open(run_dir / "texture" / "metrics.csv") as f:
        row = list(csv.DictReader(f))[-1]
    assert float(row["val_l1_input"]) > 0 and float(row["val_l1"]) > 0 and "val_lpips" not in row
    assert (run_dir / "texture" / "last.pt").exists()

    res = CliRunner().invoke(train_main, ["texture", "--resume", str(run_dir), "--crop", "48"])
    assert res.exit_code == 1 and "drop the flags that change it: ['crop']" in res.output
    stamp = crops.stat().st_mtime_ns
    res = CliRunner().invoke(train_main, ["texture", "--resume", str(run_dir)])
    assert res.exit_code == 0, res.output
    assert crops.stat().st_mtime_ns == stamp  # the same crops, not cut again

    res = CliRunner().invoke(train_main, ["export", str(run_dir), "--name", "t", "--data-dir", str(tmp_path / "data"),
                                          "--n", "1"])
    assert res.exit_code == 0, res.output
    folder = run_dir / "export" / "t"
    card = (folder / "README.md").read_text()
    assert "texture stage" in card and "CPU-hours" in card and "with this stage" in card
    assert json.loads((folder / "config.json").read_text())["arch"] == "restore.texture/1"
    photos = tmp_path / "photos"
    write_photo(photos / "a.png", 40, 48)
    write_mask(tmp_path / "m.png", 40, 48, box=(10, 10, 30, 30))
    for texture in (str(folder), "none"):
        res = CliRunner().invoke(cli_main, ["run", str(photos), "--masks", str(tmp_path / "m.png"), "-o",
                                            str(tmp_path / ("out-" + texture[-4:])), "--model", str(model_dir),
                                            "--texture", texture])
        assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli_main, ["run", str(photos), "-o", str(tmp_path / "out-x"), "--model", str(folder)])
    assert res.exit_code != 0 and "a texture stage; give it to --texture" in res.output

    # --init: a new run starts from a release's (or a run's) weights, not from zero
    from restore.hub import load_pretrained
    from trainer.texture import TextureStage, TextureTrainConfig

    released = load_pretrained(folder).state_dict()
    for spec in (folder, run_dir):
        cfg = TextureTrainConfig.from_dict({**json.loads((run_dir / "config.json").read_text()), "init": str(spec)})
        with np.load(crops) as z:
            data = {k: z[k] for k in z.files}
        stage = TextureStage(cfg, data, data, torch.device("cpu"))
        for k, v in stage.net.state_dict().items():
            assert torch.allclose(v, released[k], atol=1e-2), k  # the release is float16
    res = CliRunner().invoke(train_main, ["texture", "--data-dir", str(tmp_path / "data"), "--run-dir",
                                          str(tmp_path / "bad"), "--init", str(tmp_path), "--perceptual-weight", "0"])
    assert res.exit_code == 1 and "neither a texture run directory" in res.output  # (LPIPS, checked first, left out)

    # a run started from a release: its card gives the whole lineage, and export sets how thin holes are treated
    run2 = tmp_path / "run2"
    res = CliRunner().invoke(train_main, [str(a) for a in args[:3]] + ["--run-dir", str(run2), "--init", str(folder)]
                             + [str(a) for a in args[5:]])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(train_main, ["export", str(run2), "--name", "t2", "--thin-px", "9", "--thin-gain", "0.5",
                                          "--data-dir", str(tmp_path / "data"), "--n", "1"])
    assert res.exit_code == 0, res.output
    out2 = run2 / "export" / "t2"
    config = json.loads((out2 / "config.json").read_text())
    assert config["thin_px"] == 9 and config["thin_gain"] == 0.5
    card2 = (out2 / "README.md").read_text()
    assert f"# how {folder} was trained (from its card):" in card2 and str(run_dir) in card2
    assert "get 0.5 of its correction" in card2 and "--thin-px 9 --thin-gain 0.5" in card2
    assert "with the 0.00 of its start" in card2
    # --model-NAME sets the network's config: attention added to a start without it comes fresh, the rest loads
    run3 = tmp_path / "run3"
    res = CliRunner().invoke(train_main, [str(a) for a in args[:3]] + ["--run-dir", str(run3), "--init", str(folder),
                                          "--model-attention", "1", "--model-margin", "12"] + [str(a) for a in args[5:]])
    assert res.exit_code == 0, res.output
    model = json.loads((run3 / "config.json").read_text())["model"]
    assert model["attention"] == 1 and model["margin"] == 12 and model["width"] == 32
    res = CliRunner().invoke(train_main, ["texture", "--resume", str(run3), "--model-attention", "1", "--model-margin", "12"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(train_main, ["texture", "--resume", str(run3), "--model-margin", "20"])
    assert res.exit_code == 1 and "drop the flags that change it: ['model']" in res.output
    # the run's command log gives the flags as they are typed, so that the card's commands run again
    assert "--model-attention 1 --model-margin 12" in (run3 / "command.txt").read_text()
    cfg = TextureTrainConfig.from_dict(json.loads((run3 / "config.json").read_text()))
    stage = TextureStage(cfg, data, data, torch.device("cpu"))
    assert torch.allclose(stage.net.down2.weight, released["down2.weight"], atol=1e-2)
    assert not stage.net.attn.o.weight.any()  # fresh: passes through until trained
    res = CliRunner().invoke(train_main, [str(a) for a in args[:3]] + ["--run-dir", str(tmp_path / "run4"), "--init",
                                          str(folder), "--model-width", "8"] + [str(a) for a in args[5:]])
    assert res.exit_code == 1 and "do not fit this stage's network" in res.output
    other = tmp_path / "detector-run"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"kind": "damage"}))
    res = CliRunner().invoke(train_main, ["export", str(other), "--name", "x", "--thin-px", "9"])
    assert res.exit_code == 1 and "settings of a texture stage" in res.output


def test_hole_patches_mark_the_patches_that_hold_hole():
    from trainer.losses import hole_patches

    m = torch.zeros(1, 1, 32, 32)
    m[..., 9:11, 17:18] = 1  # in the patch (1, 2) of a 4x4 grid of 8-pixel patches
    p = hole_patches(m, (4, 4))
    assert p.shape == (1, 1, 4, 4) and p.sum() == 1 and p[0, 0, 1, 2] == 1


def test_hinge_losses_judge_only_the_patches_that_hold_hole():
    from trainer.losses import d_hinge_loss, g_hinge_loss

    real = torch.full((1, 1, 2, 2), 2.0)  # confidently real: no real loss
    fake = torch.tensor([[[[-3.0, 5.0], [5.0, 5.0]]]])  # only the first patch holds hole, and D calls it fake
    w = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    assert float(d_hinge_loss(real, fake, w)) == 0.0  # the known patches' "real" logits are not counted
    assert float(g_hinge_loss(fake, w)) == 3.0


def test_the_adversarial_term_trains_a_patch_discriminator_that_the_generator_step_leaves_alone():
    from trainer.texture import TextureStage, TextureTrainConfig

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    mask = np.zeros((6, 32, 32), bool)
    mask[:, 8:24, 8:24] = True
    fill = truth.copy()
    fill[mask] = 128
    data = {"fill": fill, "mask": mask, "truth": truth}
    cfg = TextureTrainConfig(batch_size=2, epochs=1, steps_per_epoch=2, adversarial_weight=0.1, disc_width=8,
                             model=TextureConfig(width=8, dilations=(1,)))
    stage = TextureStage(cfg, data, data, torch.device("cpu"))
    before = {k: v.clone() for k, v in stage.disc.state_dict().items()}
    grads = []
    disc_step = stage.disc_step

    def recorded(*args):
        out = disc_step(*args)
        grads.append([p.grad.clone() for p in stage.disc.parameters()])
        return out

    stage.disc_step = recorded
    parts = stage.step(0, 0, 0)
    assert {"g_adv", "d", "d_real", "d_fake"} <= set(parts) and len(grads) == 1
    assert any(not torch.equal(before[k], v) for k, v in stage.disc.state_dict().items())
    assert all(p.requires_grad for p in stage.disc.parameters())
    # the generator's backward added nothing to the discriminator's gradients
    assert all(torch.equal(p.grad, g) for p, g in zip(stage.disc.parameters(), grads[0], strict=True))
    state = stage.state_dict()
    assert {"disc", "opt_d"} <= set(state)
    again = TextureStage(cfg, data, data, torch.device("cpu"))
    again.load_state_dict(state)
    for k, v in again.disc.state_dict().items():
        assert torch.equal(v, state["disc"][k]), k
    assert TextureStage(TextureTrainConfig(model=TextureConfig(width=8, dilations=(1,))), data, data,
                        torch.device("cpu")).disc is None
