import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from restore import hub
from restore.hub import ModelError, Release, load_pretrained, save_pretrained

from .conftest import tiny_model


def test_save_load_gives_identical_outputs(tmp_path):
    model = tiny_model()
    digests = save_pretrained(model, tmp_path, half=False)
    assert set(digests) == {"config.json", "model.safetensors"}
    loaded = load_pretrained(tmp_path, digests)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    m = torch.zeros(2, 1, 64, 64)
    m[..., 10:30, 10:30] = 1
    with torch.no_grad():
        assert torch.equal(model(x, m)[1], loaded(x, m)[1])
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["arch"] == "restore.inpainter/2"


def test_export_is_byte_reproducible(tmp_path):
    """The same weights always give the same files, so a release's sha256 can be checked by re-exporting."""
    model = tiny_model()
    digests = {str(save_pretrained(model, tmp_path / str(i))) for i in range(8)}
    assert len(digests) == 1


def test_half_precision_release_is_close(tmp_path):
    model = tiny_model()
    save_pretrained(model, tmp_path)  # fp16 on disk
    loaded = load_pretrained(tmp_path)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    m = torch.ones(1, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x, m)[1], loaded(x, m)[1], atol=2e-2, rtol=0)


def test_sha256_mismatch_is_refused(tmp_path):
    digests = save_pretrained(tiny_model(), tmp_path)
    data = bytearray((tmp_path / "model.safetensors").read_bytes())
    data[-1] ^= 1
    (tmp_path / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"model\.safetensors: sha256 mismatch .*delete it and run `restore download`"):
        load_pretrained(tmp_path, digests)


def test_other_architecture_is_a_clear_error(tmp_path):
    save_pretrained(tiny_model(), tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["refiner"]["widths"] = [8, 8, 16]
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="do not fit the architecture"):
        load_pretrained(tmp_path)


def test_unknown_name_lists_known(monkeypatch):
    monkeypatch.setattr(hub, "REGISTRY", {"celeba": Release("celeba", "o/r", "v1", {}, "")})
    with pytest.raises(ModelError, match=r"known: celeba"):
        hub.resolve("nope")


def _populate_hf_cache(cache: Path, repo_id: str, revision: str, src: Path) -> Path:
    """The documented Hub cache layout: refs/<revision> -> commit, snapshots/<commit>/<file>."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / revision).write_text(commit)
    for name in hub.FILES:
        (snap / name).write_bytes((src / name).read_bytes())
    return snap


HUB_SCRIPT = """
import sys, torch
from restore import hub
hub.REGISTRY = {"toy": hub.Release("toy", "someone/restore-toy", "v1", %r, "toy")}
where = hub.resolve("toy")
print(where.source, where.folder)
model, _ = hub.load("toy")
model2, w2 = hub.load("hf:someone/restore-toy@v1")
print(w2.source)
try:
    hub.load("hf:someone/missing@v1")
except hub.ModelError as e:
    print("ERR", e)
"""


def test_hub_path_loads_from_offline_cache(tmp_path):
    src = tmp_path / "src"
    digests = save_pretrained(tiny_model(), src)
    cache = tmp_path / "hf" / "hub"
    snap = _populate_hf_cache(cache, "someone/restore-toy", "v1", src)
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    env.pop("HF_HUB_CACHE", None)
    res = subprocess.run([sys.executable, "-c", HUB_SCRIPT % (digests,)], env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert lines[0] == f"hub-cache {snap}"
    assert lines[1] == "hub"
    assert lines[2].startswith("ERR hf:someone/missing@v1: not in the local Hub cache") and "HF_HUB_OFFLINE is set" in lines[2]


def test_registered_name_falls_back_to_bundled(monkeypatch, tmp_path):
    monkeypatch.setattr(hub, "REGISTRY", {"toy": Release("toy", "nobody/none", "v1", {}, "")})
    monkeypatch.setattr(hub, "BUNDLED_DIR", tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    where = hub.resolve("toy")
    assert where.source == "bundled" and where.folder == tmp_path / "toy"


def test_a_folder_named_like_a_release_does_not_stand_in_for_it(monkeypatch, tmp_path):
    monkeypatch.setattr(hub, "REGISTRY", {"toy": Release("toy", "nobody/none", "v1", {}, "")})
    monkeypatch.setattr(hub, "BUNDLED_DIR", tmp_path / "bundled")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "toy").mkdir()  # a user's own folder, say of photos, in the working directory
    assert hub.resolve("toy").source == "bundled"
    assert hub.resolve("./toy") == hub.Resolved(Path("toy"), "path", None)


def test_models_and_download_commands(monkeypatch, tmp_path, model_dir):
    import shutil

    from click.testing import CliRunner

    from restore.cli import main

    shutil.copytree(model_dir, tmp_path / "toy")
    digests = {n: hub.sha256_file(tmp_path / "toy" / n) for n in hub.FILES}
    monkeypatch.setattr(hub, "REGISTRY", {"toy": Release("toy", "nobody/restore-toy", "v1", digests, "a toy",
                                                         suits="photos of toys")})
    monkeypatch.setattr(hub, "BUNDLED_DIR", tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    res = CliRunner().invoke(main, ["models"])
    assert res.exit_code == 0
    first = res.stdout.splitlines()[0].split("\t")
    assert first[:3] == ["toy", "bundled", str(tmp_path / "toy")]
    assert first[4] == f"sha256 {digests['model.safetensors']}" and first[5] == "checked"
    assert res.stdout.splitlines()[1] == "\tan inpainting model (--model), for: photos of toys"
    # A copy whose bytes differ from the registry's (a damaged Hub-cache or bundled file) is named, not vouched for.
    weights = tmp_path / "toy" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    res = CliRunner().invoke(main, ["models"])
    assert res.exit_code == 1
    assert res.stdout.splitlines()[0].split("\t")[5] == "damaged"
    assert f"{weights}: sha256 mismatch" in res.stderr
    weights.unlink()
    res = CliRunner().invoke(main, ["models"])
    assert res.exit_code == 1 and f"{weights}: missing" in res.stderr
    res = CliRunner().invoke(main, ["download", "toy"])
    assert res.exit_code == 1
    assert "not in the local Hub cache and the Hub cannot be reached" in res.output


def test_defaults_photo_for_any_photo_and_each_dataset_its_own_model():
    from restore.cli import _default_bench_model

    assert hub.DEFAULT_MODEL == "photo" and "photo" in hub.REGISTRY
    assert _default_bench_model("natural") == "photo"  # natural/ is what photo was trained on
    assert _default_bench_model("celeba") == "celeba" and _default_bench_model("cars") == "cars"
    assert _default_bench_model(None) == "photo"  # --photos DIR


def test_no_network_without_hf_hub_offline_answers_at_once_from_the_cache(tmp_path):
    """A machine that cannot look up the Hub's host (and has no proxy): the cache answers, and what it lacks is the
    one-line error at once, not after huggingface_hub's retries (about 20 s)."""
    src = tmp_path / "src"
    digests = save_pretrained(tiny_model(), src)
    snap = _populate_hf_cache(tmp_path / "hf" / "hub", "someone/restore-toy", "v1", src)
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and k not in ("HF_HUB_OFFLINE", "HF_HUB_CACHE")}
    env["HF_HOME"] = str(tmp_path / "hf")
    no_dns = "import socket\ndef _fail(*a, **k): raise socket.gaierror(-2, 'Name or service not known')\n" \
             "socket.getaddrinfo = _fail\nimport time; t0 = time.time()\n"
    res = subprocess.run([sys.executable, "-c", no_dns + HUB_SCRIPT % (digests,) + "print(time.time() - t0)\n"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert lines[0] == f"hub-cache {snap}" and lines[1] == "hub"
    assert lines[2].startswith("ERR hf:someone/missing@v1: not in the local Hub cache") and "no connection" in lines[2]
    assert float(lines[3]) < 10 and "Retrying" not in res.stderr


def test_a_model_with_nan_weights_is_refused_not_run(tmp_path):
    """A flipped exponent bit can make a weight NaN: the file still loads, and its fills are garbage."""
    from safetensors.torch import load_file, save_file

    save_pretrained(tiny_model(), tmp_path)
    state = load_file(str(tmp_path / "model.safetensors"))
    name = next(iter(state))
    state[name].view(-1)[0] = float("nan")
    save_file(state, str(tmp_path / "model.safetensors"))
    with pytest.raises(ModelError, match="NaN or infinite weights .*damaged: re-export or re-download it"):
        load_pretrained(tmp_path)
