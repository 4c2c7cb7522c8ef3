"""When training or a command goes wrong: divergence stops the run with the last good weights, an interrupt
saves a state that resumes bit for bit, a full disk or a bad number is one line, and no file is left half
written or with the wrong permissions."""
import errno
import os
import signal
import stat

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from srgan_kit import fileio
from srgan_kit.cli import EX_IOERR, guarded
from srgan_kit.cli.evaluate import main as evaluate_main
from srgan_kit.cli.infer import main as infer_main
from srgan_kit.cli.train import main as train_main
from srgan_kit.data.imageio import save_image
from srgan_kit.models.base import GeneratorStep
from srgan_kit.registry import LOSSES


class NaNAfter(nn.Module):
    """A loss term that is NaN from its (after+1)-th call on: a run that diverges at a known iteration."""

    def __init__(self, after=2):
        super().__init__()
        self.after, self.calls = after, 0

    def generator_terms(self, view):
        self.calls += 1
        scale = float("nan") if self.calls > self.after else 0.0
        return {"nan": scale * view.sr.float().mean()}


if "NaNAfter" not in LOSSES:
    LOSSES.register()(NaNAfter)

OPTIONS = {
    "name": "wrong", "model_type": "sr", "scale": 2, "num_gpu": 0, "manual_seed": 7,
    "datasets": {"train": {"type": "GTOnlyDataset", "dataroot_gt": "data", "gt_size": 16, "batch_size_per_gpu": 2,
                           "use_hflip": True, "use_rot": True}},
    "network_g": {"type": "MSRResNet", "num_feat": 8, "num_block": 1, "upscale": 2},
    "train": {"ema_decay": 0.9, "optim_g": {"type": "Adam", "lr": 1e-3}, "total_iter": 6,
              "pixel_opt": {"type": "L1Loss"}},
    "logger": {"print_freq": 1, "save_checkpoint_freq": 2},
}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    for i in range(3):
        save_image(tmp_path / "data" / f"{i}.png", rng.uniform(0.1, 0.9, (24, 24, 3)).astype(np.float32))
    return tmp_path


def write_options(root, **train):
    data = yaml.safe_load(yaml.safe_dump(OPTIONS))
    data["train"].update(train)
    path = root / "wrong.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def run_dir(root):
    return root / "experiments" / "wrong"


def weights(path, key="params"):
    return torch.load(path, weights_only=True)[key]


# ------------------------------------------------------------------------------------------- divergence


def test_divergence_stops_the_run_naming_the_iteration_and_keeps_the_last_good_weights(workdir, capsys):
    opt = write_options(workdir, losses=[{"type": "NaNAfter", "after": 2}], nan_tolerance=2)
    assert train_main(["-opt", str(opt), "--no-progress"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "training diverged at iteration 4" in err[0] and "l_nan is nan" in err[0]
    assert "train.nan_tolerance: 2" in err[0] and "(iteration 2)" in err[0]
    models = run_dir(workdir) / "models"
    assert (models / "net_g_latest.pth").read_bytes() == (models / "net_g_2.pth").read_bytes()
    assert not (models / "net_g_4.pth").exists()
    log = next(run_dir(workdir).glob("train_*.log")).read_text()
    assert "iteration 3: g update skipped: l_nan is nan (1 in a row, 1 in total)" in log


def test_a_skipped_update_leaves_the_weights_and_the_ema_as_they_were(workdir):
    from srgan_kit.config.options import load_options
    from srgan_kit.training.runtime import Runtime

    opt = load_options(write_options(workdir, losses=[{"type": "NaNAfter", "after": 0}]), root=workdir)
    torch.manual_seed(0)
    step = GeneratorStep(opt, Runtime())
    before = {k: v.clone() for k, v in step.net_g.state_dict().items()}
    ema_before = {k: v.clone() for k, v in step.ema.module.state_dict().items()}
    g = torch.Generator().manual_seed(0)
    step.run({"lq": torch.rand(2, 3, 8, 8, generator=g), "gt": torch.rand(2, 3, 16, 16, generator=g)}, 1)
    assert step.skipped == [("g", "l_nan is nan")]
    assert all(torch.equal(before[k], v) for k, v in step.net_g.state_dict().items())
    assert all(torch.equal(ema_before[k], v) for k, v in step.ema.module.state_dict().items())


def test_weights_with_nan_are_refused_by_inference(workdir, capsys):
    from srgan_kit.archs.generators import MSRResNet

    sd = MSRResNet(num_feat=8, num_block=1, upscale=2).state_dict()
    sd["conv_first.weight"][0, 0, 0, 0] = float("nan")
    torch.save({"params": sd}, workdir / "nan.pth")
    code = infer_main(["-i", str(workdir / "data"), "-o", str(workdir / "out"), "--model", str(workdir / "nan.pth")])
    err = capsys.readouterr().err
    assert code == 2 and "conv_first.weight holds NaN or Inf" in err and not (workdir / "out").exists()


# ------------------------------------------------------------------------------------------- interrupts


@pytest.fixture
def signal_at(monkeypatch):
    """Send the given signals to this process right after iteration ``iteration``'s step."""

    def arm(iteration, *signals):
        original = GeneratorStep.run

        def run(self, batch, it):
            out = original(self, batch, it)
            if it == iteration:
                for sig in signals:
                    os.kill(os.getpid(), sig)
            return out

        monkeypatch.setattr(GeneratorStep, "run", run)

    return arm


def test_sigterm_saves_the_iteration_and_resume_equals_an_uninterrupted_run(workdir, signal_at, capsys):
    straight = write_options(workdir)
    assert train_main(["-opt", str(straight), "--no-progress", "--set", "name=straight"]) == 0
    signal_at(3, signal.SIGTERM)
    opt = write_options(workdir)
    assert train_main(["-opt", str(opt), "--no-progress"]) == 130
    err = capsys.readouterr().err
    assert "SIGTERM at iteration 3: its complete training state is saved" in err and "--auto_resume" in err
    assert (run_dir(workdir) / "training_states" / "3.state").is_file()
    signal_at(0)  # disarmed
    assert train_main(["-opt", str(opt), "--no-progress", "--auto_resume"]) == 0
    for key in ("params", "params_ema"):
        a = weights(run_dir(workdir) / "models" / "net_g_6.pth", key)
        b = weights(workdir / "experiments" / "straight" / "models" / "net_g_6.pth", key)
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_second_interrupt_stops_at_once_without_saving(workdir, signal_at, capsys):
    signal_at(3, signal.SIGINT, signal.SIGINT)
    assert train_main(["-opt", str(write_options(workdir)), "--no-progress"]) == 130
    assert "SIGINT again: stopped at once" in capsys.readouterr().err
    assert sorted(p.name for p in (run_dir(workdir) / "training_states").iterdir()) == ["2.state"]


# ------------------------------------------------------------------------------------------- files


def test_temporary_files_of_an_interrupted_write_are_removed_at_the_next_start(workdir):
    opt = write_options(workdir, total_iter=2)
    assert train_main(["-opt", str(opt), "--no-progress"]) == 0
    stale = run_dir(workdir) / "models" / ".net_g_4.pth.x1y2.tmp"
    stale.write_bytes(b"half a checkpoint")
    assert train_main(["-opt", str(opt), "--no-progress", "--auto_resume", "--set", "train.total_iter=4"]) == 0
    assert not stale.exists()
    assert "Removed 1 unfinished temporary file(s)" in sorted(run_dir(workdir).glob("train_*.log"))[-1].read_text()


def test_atomic_writes_honour_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        path = fileio.write_text_atomic(tmp_path / "shared.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_full_disk_is_one_line_and_exit_74(capsys):
    def body():
        raise OSError(errno.ENOSPC, "No space left on device", "/data/run/models/net_g_5.pth")

    assert guarded(body) == EX_IOERR
    err = capsys.readouterr().err.strip()
    assert err == ("error: /data/run/models/net_g_5.pth: No space left on device (earlier files were left as "
                   "they were)")


@pytest.mark.parametrize("argv, words", [
    (["-s", "nan"], "argument -s/--outscale: 'nan': expected a number > 0"),
    (["-s", "0"], "argument -s/--outscale: '0': expected a number > 0"),
    (["--tile", "-1"], "argument --tile: '-1': expected a number >= 0"),
    (["--tile-batch", "x"], "argument --tile-batch/--tile_batch: 'x' is not an integer"),
])
def test_numeric_infer_arguments_are_checked_before_any_work(tmp_path, capsys, argv, words):
    with pytest.raises(SystemExit) as info:
        infer_main(["-i", str(tmp_path), "-o", str(tmp_path / "o"), "--model", "w.pth", *argv])
    assert info.value.code == 2 and words in capsys.readouterr().err


def test_evaluate_refuses_scale_zero(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        evaluate_main(["--bicubic", "--datasets", "Set5", "--scale", "0"])
    assert info.value.code == 2 and "argument --scale: '0': expected a number >= 1" in capsys.readouterr().err


def test_an_unwritable_output_folder_stops_inference_before_any_image(workdir, capsys):
    from srgan_kit.archs.generators import MSRResNet

    torch.save({"params": MSRResNet(num_feat=8, num_block=1, upscale=2).state_dict()}, workdir / "g.pth")
    out = "/proc/srgan_kit_output"  # a folder nobody can create, root included
    assert infer_main(["-i", str(workdir / "data"), "-o", out, "--model", str(workdir / "g.pth")]) == 74
    err = capsys.readouterr().err.strip()
    assert err == f"error: output folder {out} cannot be written (No such file or directory)"


def test_a_text_file_named_pth_says_what_it_is(tmp_path):
    from srgan_kit.archs.weights import read_checkpoint
    from srgan_kit.errors import WeightsError

    (tmp_path / "notes.pth").write_text("these are my notes\n")
    with pytest.raises(WeightsError, match=r"notes.pth: cannot read weights file \(not a PyTorch file but text "
                                           r"starting 'these are my notes'\)"):
        read_checkpoint(tmp_path / "notes.pth")


def test_skip_bad_images_trains_without_them_and_the_log_records_it(workdir, capsys):
    data = (workdir / "data" / "0.png").read_bytes()
    (workdir / "data" / "3.png").write_bytes(data[: len(data) // 2])  # header intact, pixels cut
    opt = write_options(workdir, total_iter=2)
    assert train_main(["-opt", str(opt), "--no-progress"]) == 2  # by default: an error naming the file
    assert not run_dir(workdir).exists()
    capsys.readouterr()
    assert train_main(["-opt", str(opt), "--no-progress", "--set", "datasets.train.skip_bad_images=true"]) == 0
    assert "skipped 1 image(s) that cannot be decoded (skip_bad_images)" in capsys.readouterr().out
    log = next(run_dir(workdir).glob("train_*.log")).read_text()
    assert "skipped 1 image(s) that cannot be decoded (skip_bad_images)" in log and "3.png" in log


def test_a_data_worker_that_stops_answering_ends_the_run_with_one_line(workdir, monkeypatch, capsys):
    import time

    from srgan_kit.data.datasets import GTOnlyDataset
    from srgan_kit.training import runtime

    monkeypatch.setattr(runtime, "WORKER_TIMEOUT", 1)
    monkeypatch.setattr(GTOnlyDataset, "__getitem__", lambda self, i: time.sleep(30))
    opt = write_options(workdir, total_iter=2)
    code = train_main(["-opt", str(opt), "--no-progress", "--set", "datasets.train.num_worker_per_gpu=1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "datasets.train (GTOnlyDataset): DataLoader timed out" in err[0]


def test_a_loss_weight_of_1e39_stops_the_run_and_no_weight_turns_nan(workdir, capsys):
    opt = write_options(workdir, pixel_opt={"type": "L1Loss", "loss_weight": 1e39})
    assert train_main(["-opt", str(opt), "--no-progress"]) == 3
    assert "training diverged at iteration 3: g update skipped: l_pix is inf" in capsys.readouterr().err
    models = run_dir(workdir) / "models"
    assert sorted(p.name for p in models.glob("*.pth")) == ["net_g_2.pth", "net_g_latest.pth"]
    latest = weights(models / "net_g_latest.pth")
    assert all(torch.isfinite(v).all() for v in latest.values())


def test_a_resume_that_cannot_start_records_why_in_the_run_s_log(workdir):
    opt = write_options(workdir, total_iter=2)
    assert train_main(["-opt", str(opt), "--no-progress"]) == 0
    data = (workdir / "data" / "0.png").read_bytes()
    (workdir / "data" / "0.png").write_bytes(data[: len(data) // 2])
    assert train_main(["-opt", str(opt), "--no-progress", "--auto_resume", "--set", "train.total_iter=4"]) == 2
    log = next(run_dir(workdir).glob("train_*.log")).read_text()
    assert "ERROR: the run could not resume: " in log and "0.png" in log and "cannot be decoded" in log


def test_a_data_worker_that_dies_ends_the_run_with_one_line(workdir, monkeypatch, capsys):
    from srgan_kit.data.datasets import GTOnlyDataset

    monkeypatch.setattr(GTOnlyDataset, "__getitem__", lambda self, i: os._exit(9))  # as the OOM killer would
    opt = write_options(workdir, total_iter=2)
    code = train_main(["-opt", str(opt), "--no-progress", "--set", "datasets.train.num_worker_per_gpu=1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "datasets.train (GTOnlyDataset): DataLoader worker" in err[0]
