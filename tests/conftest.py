import os
import tempfile
import time
from pathlib import Path

import pytest
import torch

# Two cores on CI: keep torch from oversubscribing them.
torch.set_num_threads(min(2, os.cpu_count() or 1))

# The record of images already decoded goes to a temporary folder, not the user's ~/.cache.
os.environ["SRGAN_KIT_CACHE"] = tempfile.mkdtemp(prefix="srgan_kit_cache_")

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def shared_dir():
    """../shared beside the checkout. Required in CI (CI=true); outside CI its absence skips the test."""
    if SHARED.is_dir():
        return SHARED
    if os.environ.get("CI") == "true":
        pytest.fail(f"{SHARED} is missing: CI must have ../shared beside the checkout")
    pytest.skip(f"{SHARED} is absent: this test reads the shared Set5 data / Real-ESRGAN weights")


@pytest.fixture(scope="session")
def fresh_registry():
    """tests/fresh_registry.py's JSON: what the classes say now, from one fresh interpreter."""
    import json
    import subprocess
    import sys

    script = Path(__file__).with_name("fresh_registry.py")
    return json.loads(subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                                     check=True).stdout)


# A VGG-like perceptual backbone small enough for CPU tests: conv(3->4), relu, pool, conv(4->6), relu.
TINY_VGG = "tiny_test_vgg"


@pytest.fixture
def no_download(monkeypatch):
    """Any attempt to fetch weights fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"tried to download: {args[:1]}")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


@pytest.fixture
def empty_torch_home(tmp_path, monkeypatch, no_download):
    """A torchvision cache without any weights (TORCH_HOME in tmp)."""
    home = tmp_path / "torch_home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home


def tiny_vgg_weights(path, seed=0):
    """Register the tiny backbone (once) and write torchvision-style weights for it to ``path``."""
    from srgan_kit.archs.features import TorchvisionVGG
    from srgan_kit.registry import BACKBONES

    if TINY_VGG not in BACKBONES:
        BACKBONES.register(TINY_VGG)(TorchvisionVGG("tiny test VGG", (4, "M", 6), "tiny-test-vgg.pth"))
    g = torch.Generator().manual_seed(seed)
    torch.save({"features.0.weight": torch.randn(4, 3, 3, 3, generator=g) * 0.5,
                "features.0.bias": torch.randn(4, generator=g) * 0.1,
                "features.3.weight": torch.randn(6, 4, 3, 3, generator=g) * 0.5,
                "features.3.bias": torch.randn(6, generator=g) * 0.1}, path)
    return path


def write_photos(folder, count, height, width, block=1, seed=0):
    """``count`` random RGB images (``block``x``block`` flat squares: some structure to learn) as PNGs."""
    import numpy as np

    from srgan_kit.data.imageio import save_image

    rng = np.random.default_rng(seed)
    for i in range(count):
        small = rng.uniform(0.1, 0.9, (height // block, width // block, 3)).astype(np.float32)
        save_image(Path(folder) / f"{i}.png", np.kron(small, np.ones((block, block, 1), np.float32)))
    return Path(folder)


def interrupted_training(calls):
    """A train function that runs for a moment, then stops as Ctrl-C does; calls gets each auto_resume flag."""
    def train(opt, auto_resume=False, progress=True):
        calls.append(auto_resume)
        time.sleep(0.05)
        raise KeyboardInterrupt
    return train
