"""A running training owns its run folder: a second start with its name refuses, a killed run's lock is taken
over, a folder deleted under a run stops it; val.best_metric names a validation metric."""
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from srgan_kit.cli.train import main as train_main
from srgan_kit.config.options import load_options
from srgan_kit.data.imageio import save_image
from srgan_kit.errors import OptionError
from srgan_kit.models.base import GeneratorStep
from srgan_kit.run_lock import lock_path

REPO = Path(__file__).resolve().parents[1]
OPTIONS = {
    "name": "owned", "model_type": "sr", "scale": 2, "num_gpu": 0, "manual_seed": 7,
    "datasets": {"train": {"type": "GTOnlyDataset", "dataroot_gt": "data", "gt_size": 16, "batch_size_per_gpu": 2}},
    "network_g": {"type": "MSRResNet", "num_feat": 4, "num_block": 1, "upscale": 2},
    "train": {"optim_g": {"type": "Adam", "lr": 1e-3}, "total_iter": 4, "pixel_opt": {"type": "L1Loss"}},
    "logger": {"print_freq": 1, "save_checkpoint_freq": 2},
}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for i in range(2):
        save_image(tmp_path / "data" / f"{i}.png", np.random.default_rng(i).uniform(size=(16, 16, 3)))
    (tmp_path / "o.yml").write_text(yaml.safe_dump(OPTIONS))
    return tmp_path


def test_a_second_run_with_a_running_run_s_name_refuses_and_a_killed_run_s_lock_is_taken_over(workdir, capsys):
    run_dir = workdir / "experiments" / "owned"
    first = subprocess.Popen([sys.executable, str(REPO / "tools" / "train.py"), "-opt", "o.yml", "--no-progress",
                              "--set", "train.total_iter=1000000"], cwd=workdir, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not (run_dir / "models").is_dir() and first.poll() is None and time.time() < deadline:
            time.sleep(0.1)
        assert first.poll() is None and lock_path(run_dir).is_file()
        assert train_main(["-opt", "o.yml", "--no-progress"]) == 75
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"in use by a running training (PID {first.pid} on " in err[0]
        assert run_dir.is_dir() and not list(workdir.glob("experiments/owned_archived_*"))  # left to its owner
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert lock_path(run_dir).is_file()  # a killed run cannot remove its lock ...
    assert train_main(["-opt", "o.yml", "--no-progress"]) == 0  # ... and the next start takes it over
    assert len(list(workdir.glob("experiments/owned_archived_*"))) == 1 and not lock_path(run_dir).exists()


def test_a_run_folder_deleted_under_the_run_stops_it_with_one_line_and_status_74(workdir, monkeypatch, capsys):
    original = GeneratorStep.run

    def run(self, batch, it):
        if it == 3:
            shutil.rmtree(workdir / "experiments" / "owned")
        return original(self, batch, it)

    monkeypatch.setattr(GeneratorStep, "run", run)
    assert train_main(["-opt", "o.yml", "--no-progress"]) == 74
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ") and "owned: the run folder was deleted while the run was writing" in err
    assert "iteration 3" in err and not (workdir / "experiments" / "owned").exists()


@pytest.mark.parametrize("val, says", [
    ({"val_freq": 2, "best_metric": "lpipz", "metrics": {"psnr": {"type": "calculate_psnr"},
                                                        "lpips": {"type": "calculate_lpips"}}},
     r"val\.best_metric: 'lpipz' is not one of the validation metrics \(lpips, psnr\) \(did you mean 'lpips'\?\)"),
    ({"val_freq": 2, "best_metric": "ssim", "metrics": {"psnr": {"type": "calculate_psnr"}}},
     r"val\.best_metric: 'ssim' is not one of the validation metrics \(psnr\)"),
    ({"val_freq": 2, "best_metric": "niqe"},
     r"val\.best_metric: 'niqe' is not one of the validation metrics \(psnr, ssim: the default"),
])
def test_a_best_metric_that_is_not_validated_is_refused_naming_the_choices(workdir, val, says):
    (workdir / "v.yml").write_text(yaml.safe_dump({**OPTIONS, "val": val, "datasets": {
        **OPTIONS["datasets"], "val": {"type": "GTOnlyDataset", "dataroot_gt": "data"}}}))
    with pytest.raises(OptionError, match=says):
        load_options(workdir / "v.yml")
