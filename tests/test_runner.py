"""Runner.run: the order of outcomes and how many photos are restored at once."""

import threading
import time

import numpy as np
import pytest
from PIL import Image

from restore.imageio import find_photos
from restore.runner import Runner, plan

from .conftest import write_mask, write_photo


class FakeRestorer:
    """Fills every hole with white after a pause; records which batches were restored at once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.active: list[int] = []  # pixels of each batch under way
        self.most_at_once = 0
        self.most_pixels = 0
        self.overlaps: list[tuple[int, int]] = []  # pixels of the batches that ran together

    def restore_many(self, items):
        pixels = sum(rgb.shape[0] * rgb.shape[1] for rgb, _ in items)
        with self.lock:
            self.active.append(pixels)
            self.most_at_once = max(self.most_at_once, len(self.active))
            self.most_pixels = max(self.most_pixels, sum(self.active))
            if len(self.active) > 1:
                self.overlaps.append(tuple(self.active))
        time.sleep(0.1)
        outs = []
        for rgb, mask in items:
            out = rgb.copy()
            out[mask] = 255
            outs.append(out)
        with self.lock:
            self.active.remove(pixels)
        return outs


@pytest.fixture
def folder(tmp_path):
    photos, masks = tmp_path / "photos", tmp_path / "masks"
    sizes = [(40, 40)] * 6 + [(100, 80)] * 2 + [(40, 40)] * 4  # 1600 pixels, then two of 8000
    for i, (h, w) in enumerate(sizes):
        write_photo(photos / f"{i:02d}.png", h, w, seed=i)
        write_mask(masks / f"{i:02d}.png", h, w)
    return photos, masks


def outcomes(folder, tmp_path, restorer, **kw):
    photos, masks = folder
    jobs, _ = plan(find_photos([photos]), tmp_path / "out", masks)
    return jobs, list(Runner(restorer, photos_per_batch=2, **kw).run(jobs))


def test_small_batches_are_restored_two_at_a_time_and_reported_in_order(folder, tmp_path):
    fake = FakeRestorer()
    jobs, done = outcomes(folder, tmp_path, fake, max_pixels=100_000)
    assert [o.job for o in done] == jobs
    assert all(o.status == "restored" for o in done)
    assert fake.most_at_once == 2
    for o in done:  # every output holds its own photo, filled
        src, out = np.asarray(Image.open(o.job.photo)), np.asarray(Image.open(o.job.out))
        m = np.asarray(Image.open(folder[1] / o.job.photo.name).convert("L")) > 127
        assert np.array_equal(out[~m], src[~m]) and (out[m] == 255).all()


def test_batches_restored_together_stay_within_max_pixels(folder, tmp_path):
    # Batches of two photos: 3200 pixels, and one of 16000 (the two larger photos).
    fake = FakeRestorer()
    jobs, done = outcomes(folder, tmp_path, fake, max_pixels=18_000)
    assert [o.job for o in done] == jobs
    assert fake.overlaps and fake.most_pixels <= 18_000  # 3200 + 16000 would not fit
    assert all(16_000 not in pair for pair in fake.overlaps)


def test_the_batch_after_a_large_one_waits_for_it(folder, tmp_path):
    # 16000 is more than half of 20000: the next batch is read only when it is done, though a
    # small batch started before it may still be under way beside it.
    fake = FakeRestorer()
    jobs, done = outcomes(folder, tmp_path, fake, max_pixels=20_000)
    assert [o.job for o in done] == jobs
    assert fake.most_pixels <= 20_000
    assert all(pair[0] != 16_000 for pair in fake.overlaps)
