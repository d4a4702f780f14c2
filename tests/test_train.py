"""Training on tiny synthetic images: each stage, resume, export, and loading the export in `restore run`."""

import json

import pytest
import torch
from click.testing import CliRunner

from restore.cli import main as restore_main
from trainer import checkpoint
from trainer.cli import main

from .conftest import write_mask, write_photo

TINY = {
    "approx_epochs": 2, "gan_epochs": 1, "gan_steps_per_epoch": 2, "batch_size": 4, "approx_batch_size": 4,
    "val_images": 4, "log_every": 1,
    "model": {"approx": {"grid": 8, "hidden": 16}, "refiner": {"widths": [4, 8, 8], "dilations": [1, 2]}},
    "disc": {"widths": [8, 8, 8, 8], "hidden": 8},
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    for i in range(24):
        write_photo(root / "imgs" / f"{i:02d}.png", 70 + i % 3, 64 + i % 5, seed=i)
    cfg = root / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    return root


def train(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_two_stages_resume_and_export(data, tmp_path):
    run_dir = tmp_path / "run"
    common = ["--dataset", data / "imgs", "--config", data / "tiny.json"]
    res = train("approx", *common, "--run-dir", run_dir)
    assert res.exit_code == 0, res.output
    for f in ["config.json", "split.json", "command.txt", "approx/last.pt", "approx/metrics.csv", "approx/samples-epoch002.png"]:
        assert (run_dir / f).exists(), f
    split = json.loads((run_dir / "split.json").read_text())
    assert len(split["approx_train"]) + len(split["approx_val"]) == 24 - 7  # 70% of the images are the pool
    assert not set(split["approx_train"]) & set(split["approx_val"])
    header = (run_dir / "approx" / "metrics.csv").read_text().splitlines()[0]
    assert "val_l1" in header and "val_ssim" in header and "seconds" in header

    res = train("gan", "--resume", run_dir)
    assert res.exit_code == 0, res.output
    state = checkpoint.load(run_dir / "gan")
    assert state["global_step"] == 2 and state["epoch"] == 1
    header = (run_dir / "gan" / "metrics.csv").read_text().splitlines()[0].split(",")
    for col in ["train_d", "train_g_adv", "train_rec", "train_l1", "train_gradnorm_adv", "train_gradnorm_rec",
                "val_ssim", "val_psnr_hole", "seconds"]:
        assert col in header

    out = tmp_path / "release"
    res = train("export", run_dir, "--name", "toy", "-o", out)
    assert res.exit_code == 0, res.output
    assert {p.name for p in out.iterdir()} == {"config.json", "model.safetensors", "README.md"}
    card = (out / "README.md").read_text()
    assert "sha256" in card and "restore-train approx" in card and "| full model |" in card

    # Stage 2 in its own run directory on top of the first run's ApproxNet: the card still
    # gives both stages' commands and times.
    run2 = tmp_path / "run2"
    res = train("gan", *common, "--run-dir", run2, "--approx", run_dir)
    assert res.exit_code == 0, res.output
    # ... and it resumes without being told again where its ApproxNet came from, on another
    # number of threads if asked (how it runs, not what it computes)
    res = train("gan", "--resume", run2, "--workers-threads", 1)
    assert res.exit_code == 0 and "gan: done already, 1 epoch (step 2)" in res.output, res.output
    assert json.loads((run2 / "config.json").read_text())["workers_threads"] == 1
    res = train("gan", "--resume", run2, "--lr", 0.5)
    assert res.exit_code != 0 and "drop the flags that change it: ['lr']" in res.output
    res = train("export", run2, "--name", "toy2", "-o", tmp_path / "release2")
    assert res.exit_code == 0, res.output
    card = (tmp_path / "release2" / "README.md").read_text()
    assert f"# stage 1, in {run_dir}:" in card and "restore-train approx" in card and "--approx" in card
    # how `restore run` uses a release is set at export, and the card gives the flags
    res = train("export", run2, "--name", "toy3", "-o", tmp_path / "release3", "--context", "4", "--detail",
                "--mirror", "--no-tile-thin", "--texture", "texture", "--texture-gain", "0.5")
    assert res.exit_code == 0, res.output
    exported = json.loads((tmp_path / "release3" / "config.json").read_text())
    assert exported["context"] == 4.0 and exported["detail"] is True and exported["mirror"] is True
    assert exported["tile_thin"] is False and exported["texture"] == "texture" and exported["texture_gain"] == 0.5
    card = (tmp_path / "release3" / "README.md").read_text()
    assert "--name toy3 --context 4 --detail --mirror --no-tile-thin --texture texture --texture-gain 0.5" in card
    assert "the texture stage `texture` then adds texture at the photo's own resolution (0.5 of its correction)" in card
    # a texture stage that does not exist is refused at export, not by every `restore run` of the release
    res = train("export", run2, "--name", "toy5", "-o", tmp_path / "release5", "--texture", "nosuch")
    assert res.exit_code != 0 and "Error: --texture nosuch: no such file or folder" in res.output
    assert not (tmp_path / "release5").exists()
    res = train("export", run2, "--name", "toy4", "-o", tmp_path / "release4", "--blend-thin", "64", "--blend-weight", "0.6",
                "--blend-sigma", "3", "--detail-scale", "200")
    assert res.exit_code == 0, res.output
    exported = json.loads((tmp_path / "release4" / "config.json").read_text())
    assert (exported["blend_thin"], exported["blend_weight"], exported["blend_sigma"]) == (64.0, 0.6, 3.0)
    assert exported["detail_scale"] == 200.0
    card4 = (tmp_path / "release4" / "README.md").read_text()
    assert "--name toy4 --blend-thin 64 --blend-weight 0.6 --blend-sigma 3 --detail-scale 200" in card4
    assert "holes at most 64 px thick keep 0.6 of its frequencies below a Gaussian of sigma 3" in card4
    assert "contextual residual aggregation" in card and "filled also mirrored" in card
    assert "a thin hole (a scratch) is filled from one" in card
    from trainer.export import approx_run

    assert approx_run(run2) == run_dir and approx_run(run_dir) == run_dir

    photos = tmp_path / "photos"
    write_photo(photos / "p.png", 50, 60)
    write_mask(tmp_path / "masks" / "p.png", 50, 60)
    res = CliRunner().invoke(restore_main, ["run", str(photos), "--masks", str(tmp_path / "masks"),
                                            "-o", str(tmp_path / "restored"), "--model", str(out)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "restored" / "p.png").exists()


def test_resume_continues_the_step_count(data, tmp_path):
    run_dir = tmp_path / "run"
    cfg = dict(TINY, approx_epochs=1, gan_epochs=2, gan_steps_per_epoch=3)
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    assert train("approx", "--dataset", data / "imgs", "--config", tmp_path / "c.json", "--run-dir", run_dir).exit_code == 0

    from trainer import loop
    from trainer.config import TrainConfig
    from trainer.data import Splits
    from trainer.stages import GanStage

    c = TrainConfig.load(run_dir / "config.json")
    approx = checkpoint.load(run_dir / "approx")["stage"]["model"]

    def stage():
        return GanStage(c, Splits.load(run_dir / "split.json"), torch.device("cpu"), None, approx)

    loop.run(stage(), run_dir, max_steps=4, log=lambda s: None)  # "killed" after step 4
    assert checkpoint.load(run_dir / "gan")["global_step"] == 4
    logs = []
    loop.run(stage(), run_dir, log=logs.append)
    assert logs == ["gan: resuming at epoch 2, step 4"]
    state = checkpoint.load(run_dir / "gan")
    assert state["global_step"] == 6 and state["epoch"] == 2


def test_corrupt_last_checkpoint_falls_back(tmp_path):
    checkpoint.save({"n": 1}, tmp_path)
    checkpoint.save({"n": 2}, tmp_path)
    (tmp_path / "last.pt").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="unreadable"):
        assert checkpoint.load(tmp_path)["n"] == 1
    # the run resumed from prev.pt: the damaged file does not become the next fallback
    checkpoint.save({"n": 3}, tmp_path)
    assert checkpoint.load(tmp_path)["n"] == 3
    assert torch.load(tmp_path / "prev.pt", weights_only=True)["n"] == 1


def test_a_run_whose_checkpoints_are_all_damaged_is_not_started_again(data, tmp_path):
    run_dir = tmp_path / "run"
    res = train("approx", "--dataset", data / "imgs", "--config", data / "tiny.json", "--run-dir", run_dir)
    assert res.exit_code == 0, res.output
    for name in checkpoint.NAMES:
        (run_dir / "approx" / name).write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="unreadable checkpoint"):
        res = CliRunner().invoke(main, ["approx", "--resume", str(run_dir)])
    assert res.exit_code == 1 and "no readable checkpoint" in res.output and "new --run-dir" in res.output
    assert all((run_dir / "approx" / name).read_bytes() == b"garbage" for name in checkpoint.NAMES)  # not trained over


def test_a_first_start_that_failed_can_be_started_again(data, tmp_path):
    run_dir = tmp_path / "run"
    res = CliRunner().invoke(main, ["approx", "--dataset", str(tmp_path / "no-such-folder"), "--config",
                                    str(data / "tiny.json"), "--run-dir", str(run_dir)])
    assert res.exit_code == 1 and (run_dir / "config.json").exists()  # it failed after writing its config
    res = train("approx", "--dataset", data / "imgs", "--config", data / "tiny.json", "--run-dir", run_dir)
    assert res.exit_code == 0, res.output  # the corrected command, not "already holds a run"
    assert json.loads((run_dir / "config.json").read_text())["dataset"] == str(data / "imgs")
    res = train("approx", "--dataset", data / "imgs", "--config", data / "tiny.json", "--run-dir", run_dir)
    assert res.exit_code != 0 and "already holds a run" in res.output  # one that began is kept


def test_export_and_resume_of_what_is_not_a_run_are_one_line_errors(tmp_path):
    res = CliRunner().invoke(main, ["export", str(tmp_path), "--name", "t"])
    assert res.exit_code == 1 and f"{tmp_path}: no config.json" in res.output and "Traceback" not in res.output
    (tmp_path / "config.json").write_text("{bad")
    for args in (["export", str(tmp_path), "--name", "t"], ["approx", "--resume", str(tmp_path)]):
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 1 and f"{tmp_path / 'config.json'}: not valid JSON" in res.output


def test_set_reaches_nested_hyper_parameters(data, tmp_path):
    run_dir = tmp_path / "run"
    res = train("approx", "--dataset", data / "imgs", "--config", data / "tiny.json", "--run-dir", run_dir,
                "--set", "model.refiner.widths=4,8,16", "--set", "approx_epochs=1", "--set", "hflip=false")
    assert res.exit_code == 0, res.output
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["model"]["refiner"]["widths"] == [4, 8, 16] and cfg["approx_epochs"] == 1 and cfg["hflip"] is False
    assert "--set model.refiner.widths=4,8,16" in (run_dir / "command.txt").read_text()
    res = CliRunner().invoke(main, ["approx", "--dataset", str(data / "imgs"), "--run-dir", str(tmp_path / "r2"),
                                    "--set", "model.refiner.depth=3"])
    assert res.exit_code == 2 and "model.refiner.depth: no such hyper-parameter" in res.output


def test_gan_refuses_an_approx_run_with_other_approx_settings(data, tmp_path):
    common = ["--dataset", data / "imgs", "--config", data / "tiny.json"]
    assert train("approx", *common, "--run-dir", tmp_path / "a", "--set", "model.approx.seam=false").exit_code == 0
    res = CliRunner().invoke(main, ["gan", *map(str, common), "--approx", str(tmp_path / "a"), "--run-dir", str(tmp_path / "g")])
    assert res.exit_code == 1 and "its ApproxNet was trained as" in res.output and "seam=False" in res.output
    assert not (tmp_path / "g" / "gan").exists()
    res = train("gan", *common, "--approx", tmp_path / "a", "--run-dir", tmp_path / "g2", "--set", "model.approx.seam=false")
    assert res.exit_code == 0, res.output


def test_missing_data_is_a_one_line_error(tmp_path):
    res = CliRunner().invoke(main, ["approx", "--dataset", "celeba", "--data-dir", str(tmp_path / "none"),
                                    "--run-dir", str(tmp_path / "r")])
    assert res.exit_code == 1
    assert "celeba data not found under" in res.output and "RESTORE_DATA_DIR" in res.output
    assert "Traceback" not in res.output


def test_gan_init_fine_tunes_a_released_model(data, tmp_path):
    """`gan --init MODEL` starts from a whole exported generator, takes its architecture, and the
    exported card gives the whole lineage (the first model's commands, then the fine-tuning)."""
    common = ["--dataset", data / "imgs", "--config", data / "tiny.json"]
    assert train("all", *common, "--run-dir", tmp_path / "a", "--set", "model.refiner.widths=4,8,16").exit_code == 0
    first = tmp_path / "first"
    assert train("export", tmp_path / "a", "--name", "toy", "-o", first).exit_code == 0

    # The architecture comes from the model, not from tiny.json's (different) refiner widths.
    res = train("gan", *common, "--init", first, "--run-dir", tmp_path / "ft", "--psnr-weight", "0.1")
    assert res.exit_code == 0, res.output
    cfg = json.loads((tmp_path / "ft" / "config.json").read_text())
    assert cfg["model"]["refiner"]["widths"] == [4, 8, 16] and cfg["init"] == str(first)
    res = train("export", tmp_path / "ft", "--name", "toy-ft", "-o", tmp_path / "second")
    assert res.exit_code == 0, res.output
    card = (tmp_path / "second" / "README.md").read_text()
    assert f"# how {first} was trained (from its card):" in card and "restore-train all" in card
    assert f"# fine-tuning, started from {first}:" in card and "--init" in card and "0.1 mean log hole MSE" in card

    # The stage really starts from the model's weights, discriminator aside.
    from restore.hub import load_pretrained
    from trainer.config import TrainConfig
    from trainer.data import Splits
    from trainer.stages import GanStage

    model = load_pretrained(first)
    c = TrainConfig.load(tmp_path / "ft" / "config.json")
    stage = GanStage(c, Splits.load(tmp_path / "ft" / "split.json"), torch.device("cpu"), None, None,
                     gen_state=model.state_dict())
    for (name, p), q in zip(model.state_dict().items(), stage.ema.state_dict().values(), strict=True):
        assert torch.equal(p, q), name

    # Growing: new 32x32 blocks and attention start as the identity, so the run starts from the same function.
    res = train("gan", *common, "--init", first, "--run-dir", tmp_path / "grown",
                "--set", "model.refiner.blocks32=2", "--set", "model.refiner.attention=16,32")
    assert res.exit_code == 0, res.output
    c = TrainConfig.load(tmp_path / "grown" / "config.json")
    assert c.model.refiner.blocks32 == 2 and c.model.refiner.attention == (16, 32)
    from restore.inpainting.networks import Inpainter
    from trainer.cli import _init_state

    grown = Inpainter(c.model).eval()
    grown.load_state_dict(_init_state(c))
    x, m = torch.rand(2, 3, 64, 64) * 2 - 1, torch.zeros(2, 1, 64, 64)
    m[..., 10:30, 20:40] = 1
    with torch.no_grad():
        torch.testing.assert_close(grown(x, m)[1], model.eval()(x, m)[1])
    assert len(grown.refiner.blocks32) == 2 and grown.refiner.attn32 is not None
    assert train("export", tmp_path / "grown", "--name", "toy-grown", "-o", tmp_path / "third").exit_code == 0
    card = (tmp_path / "third" / "README.md").read_text()
    assert "starting as the identity: 2 residual blocks at 32x32, self-attention at 32x32" in card
    assert "(here with 2 residual blocks at 32x32 in its decoder)" in card


def test_gan_init_errors(data, tmp_path):
    common = ["--dataset", str(data / "imgs"), "--config", str(data / "tiny.json")]
    res = CliRunner().invoke(main, ["gan", *common, "--init", str(tmp_path / "nothing"), "--run-dir", str(tmp_path / "r")])
    assert res.exit_code == 1 and "--init" in res.output and "nothing" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(main, ["approx", *common, "--init", "cars", "--run-dir", str(tmp_path / "r")])
    assert res.exit_code == 1 and "restore-train gan --init" in res.output
    res = CliRunner().invoke(main, ["gan", *common, "--init", "cars", "--approx", str(tmp_path), "--run-dir", str(tmp_path / "r")])
    assert res.exit_code == 1 and "pass one" in res.output
    res = CliRunner().invoke(main, ["gan", *common, "--init", "cars", "--run-dir", str(tmp_path / "r1"),
                                    "--set", "model.refiner.widths=4,8,8"])
    assert res.exit_code == 1 and "changes the shape of its layers" in res.output, res.output
    res = CliRunner().invoke(main, ["gan", *common, "--init", "cars", "--run-dir", str(tmp_path / "r2"),
                                    "--set", "model.approx.seam_sweeps=1"])
    assert res.exit_code == 1 and "change what the model computes" in res.output, res.output
    res = CliRunner().invoke(main, ["gan", *common, "--init", "cars", "--run-dir", str(tmp_path / "r3"),
                                    "--set", "model.refiner.dilations=1,2"])
    assert res.exit_code == 1 and "drops some of its layers (refiner.blocks.2.conv1" in res.output, res.output
    assert not (tmp_path / "r3").exists()  # refused before anything was written


def test_crops_train_on_windows_of_large_photos(tmp_path):
    import numpy as np

    from trainer.data import CropBatches, random_crop

    photos = [np.random.default_rng(i).integers(0, 256, (150, 200, 3), dtype=np.uint8) for i in range(3)]
    rng = np.random.default_rng(0)
    for _ in range(50):
        assert random_crop(photos[0], rng, crop_min=64).shape == (64, 64, 3)
    # a window the photo's full height is the photo's middle square brought to 64x64, nothing else
    flat = np.zeros((64, 64, 3), np.uint8)
    flat[:, :32] = 200
    assert np.array_equal(random_crop(flat, rng, crop_min=64), flat)
    batches = CropBatches(photos, 8, seed=0, stage=2, stroke_fraction=0.3, hflip=True, blob_fraction=0.4,
                          epoch_size=64)
    assert len(batches) == 8
    x, m = batches.batch(0, 3)
    assert x.shape == (8, 3, 64, 64) and m.shape == (8, 1, 64, 64)
    x2, m2 = batches.batch(0, 3)
    assert torch.equal(x, x2) and torch.equal(m, m2)  # a resumed run sees the same batch
    assert not torch.equal(x, batches.batch(1, 3)[0])

    root = tmp_path / "big"
    for i in range(12):
        write_photo(root / f"{i:02d}.png", 150, 200, seed=i)
    run_dir = tmp_path / "run"
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY | {"epoch_size": 8}))
    res = train("all", "--dataset", root, "--config", cfg, "--crops", "--blob-fraction", "0.4", "--run-dir", run_dir)
    assert res.exit_code == 0, res.output
    split = json.loads((run_dir / "split.json").read_text())
    assert len(split["monitor"]) <= 8 and not set(split["monitor"]) & set(split["gan_train"])
    assert json.loads((run_dir / "config.json").read_text())["crops"] is True
    assert checkpoint.load(run_dir / "gan") is not None
    res = train("export", run_dir, "--name", "photo")
    assert res.exit_code == 0, res.output
    card = (run_dir / "export" / "photo" / "README.md").read_text()
    assert "square windows of the photos at their own size" in card and "40% object-shaped blobs" in card
    assert "at their own size, one hole of each kind per photo" in card  # scored as restore bench --size native
    assert "| blob | full model |" in card and "| stroke | scikit-image biharmonic |" in card


def test_metrics_csv_keeps_a_key_that_first_appears_in_a_later_epoch(tmp_path):
    """`train_gradnorm_*` is logged only on steps that are multiples of log_every: an epoch without one
    has no such column. A later epoch that has it must neither drop it nor shift val_ssim out of its column."""
    import csv

    import numpy as np

    from trainer import loop
    from trainer.export import _last_metrics

    class Stage:
        name, epochs, steps_per_epoch = "gan", 3, 2

        def step(self, epoch, index, global_step):
            logged = global_step % 3 == 0 and global_step > 0  # steps 3 and (epoch 3) none
            return {"l1": 0.25, "gradnorm_adv": 1.5 if logged else float("nan")}

        def evaluate(self, epoch):
            return {"val_l1": 0.125, "val_ssim": 0.5 + epoch / 10}

        def samples(self):
            return [np.zeros((2, 8, 8, 3), np.uint8)]

        def state_dict(self):
            return {}

        def load_state_dict(self, state):
            pass

    loop.run(Stage(), tmp_path, log=lambda s: None)
    with open(tmp_path / "gan" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert [r["val_ssim"] for r in rows] == ["0.5", "0.6", "0.7"]
    gradnorms = [r["train_gradnorm_adv"] for r in rows]
    assert gradnorms[0] == gradnorms[2] == "" and float(gradnorms[1]) > 0
    assert all(r["train_l1"] == "0.25" and r["val_l1"] == "0.125" for r in rows)
    assert all(None not in r for r in rows)  # no value beyond the header
    header = (tmp_path / "gan" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header.index("train_gradnorm_adv") == header.index("train_l1") + 1  # beside the other train_ keys
    assert _last_metrics(tmp_path, "gan")["val_ssim"] == "0.7"  # what the model card shows


def test_perceptual_weight_adds_lpips_of_the_pasted_fill(data, tmp_path, monkeypatch):
    """--perceptual-weight W adds W x LPIPS(pasted-back fill, truth) to the reconstruction term, and the
    monitor reports val_lpips; a random LPIPS network stands in for the real weights."""
    import dataclasses

    import restore.eval.lpips as lpips_module
    from trainer.config import TrainConfig
    from trainer.data import Splits
    from trainer.stages import GanStage

    from .test_lpips import _random_model

    run_dir = tmp_path / "run"
    assert train("approx", "--dataset", data / "imgs", "--config", data / "tiny.json", "--run-dir", run_dir).exit_code == 0
    net = _random_model()
    asked = []
    monkeypatch.setattr(lpips_module, "load", lambda path=None, device="cpu": asked.append(path) or net)
    c = TrainConfig.load(run_dir / "config.json")
    approx = checkpoint.load(run_dir / "approx")["stage"]["model"]
    splits = Splits.load(run_dir / "split.json")
    plain = GanStage(c, splits, torch.device("cpu"), None, approx)
    seeing = GanStage(dataclasses.replace(c, perceptual_weight=2.0, perceptual_file="w.safetensors"), splits,
                      torch.device("cpu"), None, approx)
    assert plain.perceptual is None and seeing.perceptual is net and asked == ["w.safetensors"]
    x, m = plain.batches.batch(0, 0)
    with torch.no_grad():
        coarse, refined = plain.gen(x, m)
        pasted = refined * m + x * (1 - m)
        extra = seeing.reconstruction(coarse, refined, x, m) - plain.reconstruction(coarse, refined, x, m)
        torch.testing.assert_close(extra, 2.0 * net(pasted, x).mean())
    assert extra > 0
    assert "val_lpips" in seeing.evaluate(0) and "val_lpips" not in plain.evaluate(0)


def test_an_epoch_evaluated_again_after_a_stop_keeps_its_first_metrics_row(tmp_path):
    """A run stopped between writing an epoch's row and its checkpoint evaluates that epoch again on --resume, after
    only the steps since its last checkpoint: the first row, over the whole epoch, is kept."""
    import csv

    from trainer import loop

    path = tmp_path / "metrics.csv"
    loop.append_metrics(path, {"epoch": 1, "step": 2, "val_l1": 0.5})
    loop.append_metrics(path, {"epoch": 2, "step": 4, "val_l1": 0.4})
    loop.append_metrics(path, {"epoch": 2, "step": 4, "val_l1": 0.375})
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["epoch"], r["val_l1"]) for r in rows] == [("1", "0.5"), ("2", "0.4")]


def test_a_bad_config_is_refused_before_stage_1_trains(data, tmp_path):
    """A value of the wrong type, a network that cannot be built, a batch of 0, or a --config that is not a JSON
    object is a one-line error before anything trains; `all` used to train stage 1 and fail in stage 2."""
    bad_lr = tmp_path / "bad_lr.json"
    bad_lr.write_text(json.dumps({**TINY, "lr": "abc"}))
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    broken = tmp_path / "broken.json"
    broken.write_text("{lr: 1")
    for args, said in (
        (["--config", bad_lr], "lr: 'abc' is not a number"),
        (["--config", data / "tiny.json", "--set", "model.refiner.widths=4,8"], "model.refiner.widths: (4, 8) is not"),
        (["--config", data / "tiny.json", "--batch-size", "0"], "batch_size: 0; a batch holds at least 1"),
        (["--config", listed], f"--config {listed}: a JSON object of settings"),
        (["--config", broken], f"--config {broken}: not valid JSON"),
    ):
        run_dir = tmp_path / f"run{len(said)}"
        res = CliRunner().invoke(main, ["all", "--dataset", str(data / "imgs"), "--run-dir", str(run_dir),
                                        *map(str, args)])
        assert res.exit_code == 1 and said in res.output and "Traceback" not in res.output, res.output
        assert not (run_dir / "approx").exists()


def test_a_run_keeps_its_dataset_folder_whole_and_resumes_from_anywhere(data, tmp_path, monkeypatch):
    monkeypatch.chdir(data)
    run_dir = tmp_path / "run"
    res = train("approx", "--dataset", "imgs", "--config", "tiny.json", "--run-dir", run_dir)
    assert res.exit_code == 0, res.output
    assert json.loads((run_dir / "config.json").read_text())["dataset"] == str(data / "imgs")
    monkeypatch.chdir(tmp_path)
    res = train("all", "--resume", run_dir)
    assert res.exit_code == 0, res.output
    res = train("all", "--resume", run_dir, "--config", data / "tiny.json")
    assert res.exit_code == 1 and "--config cannot change it" in res.output


def test_a_stage_2_run_on_another_runs_approxnet_is_not_resumed_by_all(data, tmp_path):
    common = ["--dataset", data / "imgs", "--config", data / "tiny.json"]
    assert train("approx", *common, "--run-dir", tmp_path / "s1").exit_code == 0
    assert train("gan", *common, "--run-dir", tmp_path / "s2", "--approx", tmp_path / "s1").exit_code == 0
    res = train("all", "--resume", tmp_path / "s2")
    assert res.exit_code == 1 and f"restore-train gan --resume {tmp_path / 's2'}" in res.output
    assert not (tmp_path / "s2" / "approx").exists()


def test_a_missing_lpips_file_is_refused_before_training_naming_restore_trains_option(data, tmp_path, monkeypatch):
    monkeypatch.setenv("RESTORE_LPIPS_WEIGHTS", str(tmp_path / "none.safetensors"))
    res = train("all", "--dataset", data / "imgs", "--config", data / "tiny.json", "--run-dir", tmp_path / "run",
                "--perceptual-weight", "0.1")
    assert res.exit_code == 1 and "--perceptual-file PATH" in res.output and "--lpips-weights" not in res.output
    assert not (tmp_path / "run" / "approx").exists()


def test_two_processes_do_not_train_one_run_folder(tmp_path):
    import subprocess
    import sys
    import time

    from trainer.runs import lock_run

    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                               "from trainer.runs import lock_run; lock_run(Path(sys.argv[1])); print('held', flush=True); "
                               "time.sleep(30)", str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ValueError, match="being trained by another process"):
            lock_run(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    lock_run(tmp_path)  # free again once it ended


def test_prepared_images_are_prepared_again_when_the_pictures_change(tmp_path):
    import numpy as np

    from restore.eval.datasets import load_stack

    write_photo(tmp_path / "imgs" / "a.png", 40, 40, seed=1)
    first = load_stack([tmp_path / "imgs" / "a.png"], 16, cache_dir=tmp_path / "cache")
    write_photo(tmp_path / "imgs" / "a.png", 40, 40, seed=2)
    again = load_stack([tmp_path / "imgs" / "a.png"], 16, cache_dir=tmp_path / "cache")
    assert not np.array_equal(first, again)


def test_export_refuses_settings_of_another_kind_of_network_and_no_photos(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"kind": "damage"}))
    res = CliRunner().invoke(main, ["export", str(run_dir), "--name", "d", "--context", "2"])
    assert res.exit_code == 1 and "are settings of an inpainting model; this run is not one" in res.output
    res = CliRunner().invoke(main, ["export", str(run_dir), "--name", "d", "--n", "0"])
    assert res.exit_code == 2 and "--n" in res.output


def test_a_dataset_name_stays_a_name_beside_a_folder_of_that_name(data, tmp_path, monkeypatch):
    """`--dataset cars` is Stanford Cars in --data-dir, with its split, even run from a folder holding a cars/ folder;
    the data dir is kept whole, the default one too."""
    from PIL import Image

    cars = tmp_path / "data" / "stanford_cars" / "cars_train"
    cars.mkdir(parents=True)
    for i in range(12):
        Image.open(data / "imgs" / f"{i:02d}.png").convert("RGB").save(cars / f"{i:05d}.jpg")
    work = tmp_path / "work"
    (work / "cars").mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.setenv("RESTORE_DATA_DIR", "../data")  # relative, as ../shared/data is
    res = train("approx", "--dataset", "cars", "--config", data / "tiny.json", "--run-dir", tmp_path / "run")
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "run" / "config.json").read_text())["dataset"] == "cars"
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    files = [f for part in split.values() if isinstance(part, list) for f in part]
    assert files and all(f.startswith(str(cars)) for f in files)


def test_a_discriminator_that_cannot_run_on_the_windows_is_refused_before_stage_1(data, tmp_path):
    res = CliRunner().invoke(main, ["all", "--dataset", str(data / "imgs"), "--config", str(data / "tiny.json"),
                                    "--run-dir", str(tmp_path / "run"), "--set", "disc.widths=8,8,8,8,8,8,8"])
    assert res.exit_code == 1 and res.output.startswith("Error: config:") and "Traceback" not in res.output, res.output
    assert not (tmp_path / "run" / "approx").exists()
