"""torchrun + DistributedDataParallel on the CPU (gloo, 2 processes): the same run as one process with the
global batch, checkpoints that load either way, and a resume under torchrun."""
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from conftest import write_photos

from srgan_kit.cli.train import main as train_main

REPO = Path(__file__).resolve().parents[1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(root, *args, nproc=2, script=REPO / "tools" / "train.py", env=None):
    """tools/train.py under PyTorch's launcher, as users run it; returns the completed process."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_addr",
               "127.0.0.1", "--master_port", str(free_port()), str(script), *args]
    return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    write_photos(root / "data", 6, 40, 48, block=4)
    options = {
        "name": "ddp", "model_type": "sr", "scale": 2, "num_gpu": 0, "manual_seed": 5,
        "datasets": {"train": {"type": "GTOnlyDataset", "dataroot_gt": "data", "gt_size": 16,
                               "batch_size_per_gpu": 2, "use_hflip": True, "use_rot": True}},
        "network_g": {"type": "MSRResNet", "num_feat": 8, "num_block": 1, "upscale": 2},
        "train": {"ema_decay": 0.5, "optim_g": {"type": "Adam", "lr": 1e-3}, "total_iter": 4,
                  "pixel_opt": {"type": "L1Loss"}},
        "logger": {"print_freq": 2, "save_checkpoint_freq": 2},
    }
    (root / "ddp.yml").write_text(yaml.safe_dump(options))
    return root


@pytest.fixture(scope="module")
def ddp_run(workdir):
    """The option file's 4 iterations under torchrun with 2 processes, once for the tests that compare with it."""
    done = torchrun(workdir, "-opt", "ddp.yml", "--no-progress", "--launcher", "pytorch")
    assert done.returncode == 0, done.stderr[-3000:]
    return workdir


def final(root, name, iteration=4):
    return torch.load(root / "experiments" / name / "models" / f"net_g_{iteration}.pth", weights_only=True)


def test_two_processes_of_batch_b_train_like_one_process_of_batch_2b(workdir, ddp_run, monkeypatch):
    monkeypatch.chdir(workdir)
    assert train_main(["-opt", "ddp.yml", "--no-progress", "--set", "name=single",
                       "--set", "datasets.train.batch_size_per_gpu=4"]) == 0
    two, one = final(workdir, "ddp"), final(workdir, "single")
    for key in ("params", "params_ema"):
        for name in one[key]:
            torch.testing.assert_close(two[key][name], one[key][name], rtol=0, atol=1e-5)
    logs = list((workdir / "experiments" / "ddp").glob("train_*.log"))
    assert len(logs) == 1  # one process writes: rank 0
    from srgan_kit.archs.loading import build_from_weights  # a DDP checkpoint is a plain one

    net, spec = build_from_weights(workdir / "experiments" / "ddp" / "models" / "net_g_4.pth")
    assert spec["type"] == "MSRResNet" and not any(k.startswith("module.") for k in two["params"])


def test_a_run_resumed_under_torchrun_from_a_single_process_state(workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    assert train_main(["-opt", "ddp.yml", "--no-progress", "--set", "name=mixed",
                       "--set", "datasets.train.batch_size_per_gpu=4", "--set", "train.total_iter=2"]) == 0
    done = torchrun(workdir, "-opt", "ddp.yml", "--no-progress", "--auto_resume", "--set", "name=mixed")
    assert done.returncode == 0, done.stderr[-3000:]
    resumed, single = final(workdir, "mixed"), final(workdir, "single")
    for name in single["params"]:  # 1 process then 2: the batches and weights of 1 process all along
        torch.testing.assert_close(resumed["params"][name], single["params"][name], rtol=0, atol=1e-5)


@pytest.mark.parametrize("gan_opt", [
    {"type": "GANLoss", "gan_type": "vanilla", "relativistic": "average", "loss_weight": 0.1},
    {"type": "GANLoss", "gan_type": "wgan_gp", "loss_weight": 0.1},
    {"type": "GANLoss", "gan_type": "rpgan", "loss_weight": 0.1, "r1_gamma": 1.0, "r2_gamma": 1.0, "reg_every": 2},
], ids=["ragan", "wgan_gp", "rpgan_r1_r2"])
def test_gan_training_under_ddp_equals_one_process(workdir, monkeypatch, gan_opt):
    """RaGAN's batch means span all processes; WGAN-GP's interpolation weights come from each sample's seed;
    R1 / R2 (double backward through the unwrapped D) average over the processes like the batch; batch
    augmentations draw each sample's partner from the global batch.
    Adam's eps is large here: D's last bias gets an exactly-zero gradient under RaGAN, whose sign noise
    Adam would otherwise turn into a full step."""
    name = f"gan_{gan_opt['gan_type']}"
    sets = [f"name={name}", "model_type=gan", "train.optim_g.eps=1.0", "network_d.type=UNetDiscriminatorSN",
            "network_d.num_feat=8", "train.optim_d.type=Adam", "train.optim_d.lr=1e-3", "train.optim_d.eps=1.0",
            f"train.gan_opt={yaml.safe_dump(gan_opt, default_flow_style=True).strip()}"]
    if gan_opt["gan_type"] == "wgan_gp":  # batch augmentations too: partners come from the global batch
        sets += ["train.use_moa=true", "train.moa_augs=[mixup, cutmix, resizemix]", "train.moa_probs=[0.4, 0.3, 0.3]"]
    done = torchrun(workdir, "-opt", "ddp.yml", "--no-progress", *[a for s in sets for a in ("--set", s)])
    assert done.returncode == 0, done.stderr[-3000:]
    monkeypatch.chdir(workdir)
    sets[0] = f"name={name}_single"
    args = ["-opt", "ddp.yml", "--no-progress", "--set", "datasets.train.batch_size_per_gpu=4"]
    assert train_main(args + [a for s in sets for a in ("--set", s)]) == 0
    for net in ("net_g", "net_d"):
        two = torch.load(workdir / "experiments" / name / "models" / f"{net}_4.pth", weights_only=True)["params"]
        one = torch.load(workdir / "experiments" / f"{name}_single" / "models" / f"{net}_4.pth",
                         weights_only=True)["params"]
        for key in one:
            torch.testing.assert_close(two[key], one[key], rtol=0, atol=1e-5)


def test_a_bad_option_file_under_torchrun_is_one_line_naming_rank_file_and_key(workdir):
    done = torchrun(workdir, "-opt", "ddp.yml", "--no-progress", "--set", "train.pixel_opt.type=L2Loss")
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert done.returncode != 0 and len(errors) in (1, 2)  # the second may be ended by torchrun first
    assert all(line.startswith("error: rank ") and "ddp.yml: train.pixel_opt.type: unknown loss type 'L2Loss'"
               in line for line in errors)


def test_accumulation_under_ddp_syncs_once_and_equals_the_global_batch(workdir, monkeypatch):
    """2 processes x batch 1 x accumulate_grad_batches 2 (no_sync on the first micro-batch) == batch 4."""
    write_photos(workdir / "data8", 8, 40, 48, block=4)
    sets = ["datasets.train.dataroot_gt=data8", "name=acc_ddp", "datasets.train.batch_size_per_gpu=1",
            "train.accumulate_grad_batches=2"]
    done = torchrun(workdir, "-opt", "ddp.yml", "--no-progress", *[a for s in sets for a in ("--set", s)])
    assert done.returncode == 0, done.stderr[-3000:]
    monkeypatch.chdir(workdir)
    assert train_main(["-opt", "ddp.yml", "--no-progress", "--set", "datasets.train.dataroot_gt=data8",
                       "--set", "name=acc_single", "--set", "datasets.train.batch_size_per_gpu=4"]) == 0
    two, one = final(workdir, "acc_ddp"), final(workdir, "acc_single")
    for key in ("params", "params_ema"):
        for name in one[key]:
            torch.testing.assert_close(two[key][name], one[key][name], rtol=0, atol=1e-5)


def test_a_killed_rank_ends_the_run_in_bounded_time_and_auto_resume_continues(workdir, ddp_run):
    start = time.monotonic()
    done = torchrun(workdir, "-opt", "ddp.yml", "--no-progress", "--set", "name=killed",
                    script=Path(__file__).parent / "signal_one_rank.py")
    assert done.returncode != 0 and time.monotonic() - start < 120
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith("error: rank 0 of 2: another process stopped")
    assert "exitcode" in done.stderr and "-9" in done.stderr  # torchrun's report names rank 1's SIGKILL
    states = workdir / "experiments" / "killed" / "training_states"
    assert sorted(p.name for p in states.iterdir()) == ["2.state"]
    done = torchrun(workdir, "-opt", "ddp.yml", "--no-progress", "--set", "name=killed", "--auto_resume")
    assert done.returncode == 0, done.stderr[-3000:]
    resumed, uninterrupted = final(workdir, "killed"), final(workdir, "ddp")
    for key in ("params", "params_ema"):  # resumed under DDP == the uninterrupted DDP run, bit for bit
        assert all(torch.equal(resumed[key][k], uninterrupted[key][k]) for k in uninterrupted[key])


def test_a_signal_to_one_rank_stops_every_rank_at_its_iteration_with_one_torchrun_hint(workdir):
    done = torchrun(workdir, "-opt", "ddp.yml", "--no-progress", "--set", "name=signalled", "--set",
                    "train.total_iter=6", script=Path(__file__).parent / "signal_one_rank.py",
                    env={"ONE_RANK_SIGNAL": "SIGINT"})
    hints = [line for line in done.stderr.splitlines() if line.startswith("interrupted: ")]
    assert done.returncode != 0 and len(hints) == 1, done.stderr[-3000:]
    assert hints[0].startswith("interrupted: SIGINT at iteration 3: its complete training state is saved")
    assert hints[0].endswith("continue with torchrun --nproc_per_node 2 tools/train.py -opt ddp.yml --auto_resume")
    states = workdir / "experiments" / "signalled" / "training_states"
    assert sorted(p.name for p in states.iterdir()) == ["2.state", "3.state"]  # 3: saved on the signal


def test_each_process_keeps_its_own_degradation_pool_across_a_resume(tmp_path):
    from test_realesrnet import OPTIONS, _photos

    _photos(tmp_path / "data" / "gt")
    data = {**OPTIONS, "train": {**OPTIONS["train"], "total_iter": 4},
            "logger": {**OPTIONS["logger"], "save_checkpoint_freq": 2}}
    (tmp_path / "real.yml").write_text(yaml.safe_dump(data))
    done = torchrun(tmp_path, "-opt", "real.yml", "--no-progress", "--set", "name=straight")
    assert done.returncode == 0, done.stderr[-3000:]
    state = torch.load(tmp_path / "experiments" / "straight" / "training_states" / "2.state", weights_only=True)
    pools = [p["pool"] for p in state["step"]["degradation_ranks"]]
    assert len(pools) == 2 and not torch.equal(pools[0]["lq"], pools[1]["lq"])  # each rank degraded its own batches
    # Both processes resume from the state the run saved at iteration 2 (its pools included).
    done = torchrun(tmp_path, "-opt", "real.yml", "--no-progress", "--set", "name=halves", "--set",
                    f"path.resume_state={tmp_path / 'experiments' / 'straight' / 'training_states' / '2.state'}")
    assert done.returncode == 0, done.stderr[-3000:]
    straight, halves = final(tmp_path, "straight"), final(tmp_path, "halves")
    assert all(torch.equal(straight["params"][k], halves["params"][k]) for k in straight["params"])


def test_a_transformer_under_ddp_equals_one_process(workdir, monkeypatch):
    # (that no architecture leaves a trained parameter without a gradient, which DDP needs: tests/test_zoo.py)
    network = {"type": "SwinIR", "upscale": 2, "upsampler": "pixelshuffle", "embed_dim": 12, "depths": [1],
               "num_heads": [2], "window_size": 4, "drop_path_rate": 0.0}  # random depth would draw per process
    sets = ["name=zoo_ddp", f"network_g={json.dumps(network)}", "datasets.train.gt_size=32"]
    done = torchrun(workdir, "-opt", "ddp.yml", "--no-progress", *[a for s in sets for a in ("--set", s)])
    assert done.returncode == 0, done.stderr[-3000:]
    monkeypatch.chdir(workdir)
    sets = ["name=zoo_single", f"network_g={json.dumps(network)}", "datasets.train.gt_size=32",
            "datasets.train.batch_size_per_gpu=4"]
    assert train_main(["-opt", "ddp.yml", "--no-progress", *[a for s in sets for a in ("--set", s)]]) == 0
    two, one = final(workdir, "zoo_ddp"), final(workdir, "zoo_single")
    for name in one["params"]:
        torch.testing.assert_close(two["params"][name], one["params"][name], rtol=0, atol=1e-5)
