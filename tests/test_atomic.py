"""The one atomic writer: a failed write leaves the old file and no temporary; a backup keeps the previous
version; checkpoints and model cards go through it."""

import os
import stat

import pytest
import torch

from restore.io.atomic import atomic_write, atomic_write_bytes
from trainer import checkpoint


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.bin"
    atomic_write_bytes(path, b"old")

    def broken(f):
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, broken)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_outputs_get_the_usual_permissions_and_a_backup_keeps_the_previous_version(tmp_path):
    path, backup = tmp_path / "last.pt", tmp_path / "prev.pt"
    atomic_write(path, lambda f: f.write(b"one"), fsync=True, backup=backup)
    assert not backup.exists()  # nothing to keep yet
    atomic_write(path, lambda f: f.write(b"two"), fsync=True, backup=backup)
    assert path.read_bytes() == b"two" and backup.read_bytes() == b"one"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600


def test_checkpoints_keep_the_previous_one_and_leave_no_temporary(tmp_path):
    checkpoint.save({"step": 1, "w": torch.ones(2)}, tmp_path)
    checkpoint.save({"step": 2, "w": torch.zeros(2)}, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "prev.pt"]
    assert checkpoint.load(tmp_path)["step"] == 2
    assert torch.load(tmp_path / "prev.pt", weights_only=True)["step"] == 1
    (tmp_path / "last.pt").write_bytes(b"damaged")
    with pytest.warns(UserWarning) as said:
        assert checkpoint.load(tmp_path)["step"] == 1
    assert "unreadable checkpoint" in str(said[0].message) and "resuming from" in str(said[1].message)
