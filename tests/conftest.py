import os
from pathlib import Path

import pytest
import torch

# Two cores on CI: keep torch from oversubscribing them.
torch.set_num_threads(min(2, os.cpu_count() or 1))

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def shared_dir():
    """../shared beside the checkout. Required in CI (CI=true); outside CI its absence skips the test."""
    if SHARED.is_dir():
        return SHARED
    if os.environ.get("CI") == "true":
        pytest.fail(f"{SHARED} is missing: CI must have ../shared beside the checkout")
    pytest.skip(f"{SHARED} is absent: this test reads the shared Set5 data / Real-ESRGAN weights")
