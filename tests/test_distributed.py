"""restore-train under torchrun: 2 CPU processes with gloo, rank 0 alone writes the run directory."""

import json
import subprocess
import sys

from .conftest import write_photo
from .test_train import TINY


def test_torchrun_two_processes(tmp_path):
    for i in range(24):
        write_photo(tmp_path / "imgs" / f"{i:02d}.png", 64, 64, seed=i)
    cfg = dict(TINY, approx_epochs=1, gan_steps_per_epoch=2)
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "trainer.cli", "all", "--dataset", str(tmp_path / "imgs"), "--config", str(tmp_path / "c.json"),
           "--run-dir", str(run_dir), "--device", "cpu"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "world size: 2" in res.stderr
    assert res.stderr.count("run directory:") == 1  # only rank 0 reports and writes
    from trainer import checkpoint

    state = checkpoint.load(run_dir / "gan")
    assert state["global_step"] == 2
    lines = (run_dir / "gan" / "metrics.csv").read_text().strip().splitlines()
    assert len(lines) == 2  # header + one epoch, written once
