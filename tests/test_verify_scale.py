"""The up-front decode check on big sets: a check stopped part-way keeps what it verified, and the cache file
keeps what other processes added meanwhile (a JSON map of path -> [size, mtime_ns])."""
import json
import os

import numpy as np
import pytest

from srgan_kit.data import verify
from srgan_kit.data.imageio import save_image


@pytest.fixture()
def images(tmp_path, monkeypatch):
    monkeypatch.setenv("SRGAN_KIT_CACHE", str(tmp_path / "cache"))
    paths = [tmp_path / "img" / f"{i}.png" for i in range(6)]
    for i, p in enumerate(paths):
        save_image(p, np.full((4, 4, 3), i / 8, np.float32))
    return paths


def test_a_stopped_check_keeps_the_images_it_verified(images, monkeypatch):
    real, decoded = verify.decode_image, []

    def stopped_at_4(path):
        decoded.append(path)
        if path == images[3]:
            raise KeyboardInterrupt
        return real(path)

    monkeypatch.setattr(verify, "decode_image", stopped_at_4)
    with pytest.raises(KeyboardInterrupt):
        verify.verify_images(images, "set")
    decoded.clear()
    monkeypatch.setattr(verify, "decode_image", lambda path: decoded.append(path) or real(path))
    assert verify.verify_images(images, "set") == []
    assert sorted(decoded) == images[3:]  # the three before the stop are not decoded again


def test_the_cache_keeps_entries_other_processes_wrote_meanwhile(images, monkeypatch):
    other = str(images[0].parent / "other.png")
    real = verify.decode_image

    def another_run_saves_meanwhile(path):
        if path == images[0]:
            verify.cache_file().parent.mkdir(parents=True, exist_ok=True)
            verify.cache_file().write_text(json.dumps({other: [1, 2]}))
        return real(path)

    monkeypatch.setattr(verify, "decode_image", another_run_saves_meanwhile)
    assert verify.verify_images(images[:2], "set") == []
    cache = json.loads(verify.cache_file().read_text())
    stat = os.stat(images[1])
    assert cache == {other: [1, 2], str(images[0]): [os.stat(images[0]).st_size, os.stat(images[0]).st_mtime_ns],
                     str(images[1]): [stat.st_size, stat.st_mtime_ns]}
