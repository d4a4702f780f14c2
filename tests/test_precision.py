"""--precision: the networks' arithmetic (restore/precision.py), through the pipeline, the detector, the CLI and
the Python API."""

import re
import threading

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from restore import hub, precision
from restore.cli import main
from restore.damage.detector import DamageDetector, DetectorConfig, probabilities
from restore.inpainting.pipeline import Restorer

from .conftest import smooth_photo, tiny_model, write_mask, write_photo
from .test_pipeline import rect_mask


def _conv_dtypes(model) -> list:
    """The dtypes the model's first convolution computes in, appended as it runs."""
    seen = []
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    conv.register_forward_hook(lambda mod, args, out: seen.append(out.dtype))
    return seen


def test_auto_takes_bfloat16_only_on_a_cpu_that_computes_it(monkeypatch):
    monkeypatch.setattr(precision, "native_bfloat16", lambda: True)
    assert precision.resolve("auto", "cpu") == "bfloat16"
    assert precision.resolve("auto", torch.device("cuda")) == "float32"  # GPUs keep float32 unless asked
    assert precision.resolve("float32", "cpu") == "float32"
    monkeypatch.setattr(precision, "native_bfloat16", lambda: False)
    assert precision.resolve("auto", "cpu") == "float32"
    assert precision.resolve("bfloat16", "cpu") == "bfloat16"  # asked for: given, if slowly
    with pytest.raises(ValueError, match="use one of auto, float32, bfloat16"):
        precision.resolve("float16", "cpu")


def test_bfloat16_runs_the_convolutions_in_it_and_hands_back_float32():
    model = tiny_model()
    seen = _conv_dtypes(model)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    m = torch.zeros(2, 1, 64, 64)
    m[..., 16:40, 20:44] = 1
    with torch.inference_mode():
        plain = model(x, m)
        precision.apply(model, "bfloat16")
        low = model(x, m)
        assert precision.of(model) == "bfloat16"
        precision.apply(model, "float32")
        again = model(x, m)
    assert seen == [torch.float32, torch.bfloat16, torch.float32]
    assert all(t.dtype == torch.float32 for t in low)
    assert all(torch.allclose(a, b, atol=0.1) and not torch.equal(a, b) for a, b in zip(plain, low, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(plain, again, strict=True))  # float32 undoes it exactly


def test_the_pipeline_in_bfloat16_keeps_every_known_pixel_and_fills_nearly_alike():
    rgb = smooth_photo(96, 128)
    mask = rect_mask(96, 128, [(20, 30, 60, 80)])
    full = Restorer(tiny_model(), "cpu", precision="float32").restore(rgb, mask)
    fast = Restorer(tiny_model(), "cpu", precision="bfloat16")
    assert fast.precision == "bfloat16"
    out = fast.restore(rgb, mask)
    assert np.array_equal(out[~mask], rgb[~mask])
    diff = np.abs(out[mask].astype(int) - full[mask].astype(int))
    assert diff.mean() < 2 and diff.max() < 24


def test_a_detector_shared_by_reader_threads_runs_in_bfloat16_in_each():
    # restore run reads and detects in worker threads; autocast is per thread, so it must be entered there.
    torch.manual_seed(0)
    net = precision.apply(DamageDetector(DetectorConfig(widths=(4, 8, 8))).eval(), "bfloat16")
    seen = _conv_dtypes(net)
    rgb = smooth_photo(80, 100)
    results = []
    worker = threading.Thread(target=lambda: results.append(probabilities(net, rgb)))
    worker.start()
    worker.join()
    assert seen and set(seen) == {torch.bfloat16}
    prob = results[0]
    assert prob.dtype == np.float32
    plain = probabilities(precision.apply(net, "float32"), rgb)
    assert np.abs(prob - plain).max() < 0.05


def test_restore_run_runs_its_networks_in_the_precision_asked_and_refuses_an_unknown_one(tmp_path, model_dir,
                                                                                         monkeypatch):
    write_photo(tmp_path / "in" / "a.png", 80, 100)
    write_mask(tmp_path / "m" / "a.png", 80, 100)
    from restore.inpainting.texture import TextureConfig, TextureNet

    hub.save_pretrained(DamageDetector(DetectorConfig(widths=(4, 8, 8))).eval(), tmp_path / "detector")
    hub.save_pretrained(TextureNet(TextureConfig(width=8, dilations=(1,), margin=8, tile=64)).eval(), tmp_path / "texture")
    seen = []  # the precision each Restorer's networks were given, as the run built them
    plain_init = Restorer.__init__

    def init(self, *args, **kwargs):
        plain_init(self, *args, **kwargs)
        seen.append((precision.of(self.model), self.texture and precision.of(self.texture)))

    monkeypatch.setattr(Restorer, "__init__", init)
    r = CliRunner().invoke(main, ["run", str(tmp_path / "in"), "--masks", str(tmp_path / "m"), "-o",
                                  str(tmp_path / "out"), "--model", str(model_dir), "--precision", "bfloat16",
                                  "--texture", str(tmp_path / "texture"), "--detect-damage", "--damage-model",
                                  str(tmp_path / "detector")])
    assert r.exit_code == 0, r.output
    assert seen == [("bfloat16", "bfloat16")]
    assert "on cpu in bfloat16" in r.output
    assert re.search(r"damage detector \S+ \(.*\) on cpu in bfloat16", r.output)  # said of the detector itself
    r = CliRunner().invoke(main, ["run", str(tmp_path / "in"), "--masks", str(tmp_path / "m"), "-o",
                                  str(tmp_path / "out2"), "--model", str(model_dir), "--precision", "half"])
    assert r.exit_code == 2 and "'half' is not one of 'auto', 'float32', 'bfloat16'" in r.output
    assert not (tmp_path / "out2").exists()


def test_the_api_runs_its_networks_in_the_precision_asked_and_refuses_an_unknown_one(model_dir, tmp_path):
    from restore import detect_damage, inpaint
    from restore.api import _detector, _restorer

    rgb = smooth_photo(64, 80)
    mask = rect_mask(64, 80, [(10, 10, 30, 40)])
    out = inpaint(rgb, mask, model=str(model_dir), device="cpu", precision="bfloat16")
    assert np.array_equal(out[~mask], rgb[~mask])
    cached = _restorer(str(model_dir), "cpu", None, None, None, None, 0.0, None, None, "bfloat16")
    assert precision.of(cached.model) == "bfloat16"
    hub.save_pretrained(DamageDetector(DetectorConfig(widths=(4, 8, 8))).eval(), tmp_path / "detector")
    found = detect_damage(rgb, model=str(tmp_path / "detector"), device="cpu", precision="bfloat16")
    assert found.shape == mask.shape
    assert precision.of(_detector(str(tmp_path / "detector"), "cpu", "bfloat16")[0]) == "bfloat16"
    with pytest.raises(ValueError, match="precision 'half'"):
        inpaint(rgb, mask, model=str(model_dir), device="cpu", precision="half")
    with pytest.raises(ValueError, match="precision 'half'"):
        detect_damage(rgb, precision="half")
