"""The CUDA paths (fp16 with its gradient scaler, bf16, compile, half-precision inference, NCCL): checks for a
machine with a GPU, run by ``make gpu-check``; skipped where there is no CUDA device (every CPU run of the suite)."""
import os
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import write_photos

from srgan_kit.archs.generators import RRDBNet
from srgan_kit.config.options import load_options
from srgan_kit.inference import Upscaler
from srgan_kit.training.trainer import train

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (make gpu-check)")]
REPO = Path(__file__).resolve().parents[1]
# What the CPU tests allow between precisions (tests/test_speed_options.py, tests/test_inference.py).
BF16_PIXEL_REL = 0.02
HALF_INFERENCE_DB = 40.0


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cuda")
    write_photos(root / "data", 4, 64, 64, block=4)
    return root


def options(root, name, amp="fp32", total_iter=4, **train_extra):
    data = {
        "name": name, "model_type": "gan", "scale": 2, "num_gpu": 1, "manual_seed": 3, "deterministic": True,
        "datasets": {"train": {"type": "GTOnlyDataset", "dataroot_gt": "data", "gt_size": 32,
                               "batch_size_per_gpu": 4, "use_hflip": True, "use_rot": True}},
        "network_g": {"type": "MSRResNet", "num_feat": 16, "num_block": 2, "upscale": 2},
        "network_d": {"type": "UNetDiscriminatorSN", "num_feat": 16},
        "train": {"amp": amp, "channels_last": amp != "fp32", "ema_decay": 0.9,
                  "optim_g": {"type": "Adam", "lr": 1e-4}, "optim_d": {"type": "Adam", "lr": 1e-4},
                  "total_iter": total_iter, "pixel_opt": {"type": "L1Loss"},
                  "gan_opt": {"type": "GANLoss", "gan_type": "vanilla", "loss_weight": 0.1}, **train_extra},
        "logger": {"print_freq": 1, "save_checkpoint_freq": 2},
    }
    path = root / f"{name}.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_options(path, root=root)


def weights(root, name, iteration):
    return torch.load(root / "experiments" / name / "models" / f"net_g_{iteration}.pth", weights_only=True)


def test_an_fp16_run_interrupted_and_resumed_ends_bit_identical_to_a_straight_one(workdir):
    train(options(workdir, "straight16", "fp16"), progress=False)
    train(options(workdir, "parts16", "fp16", total_iter=2), progress=False)
    train(options(workdir, "parts16", "fp16"), auto_resume=True, progress=False)
    a, b = weights(workdir, "straight16", 4), weights(workdir, "parts16", 4)
    for key in ("params", "params_ema"):
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key]), key
    states = [torch.load(workdir / "experiments" / n / "training_states" / "4.state", weights_only=False)
              for n in ("straight16", "parts16")]
    assert states[0]["scalers"] and states[0]["scalers"] == states[1]["scalers"]  # the scale it reached, too


def test_bf16_steps_agree_with_fp32_within_the_cpu_tolerance(workdir):
    first = {}
    for amp in ("fp32", "bf16"):
        result = train(options(workdir, f"step_{amp}", amp, total_iter=1), progress=False)
        first[amp] = result.losses
    assert all(np.isfinite(v) for v in first["bf16"].values())
    assert first["bf16"]["l_g_pix"] == pytest.approx(first["fp32"]["l_g_pix"], rel=BF16_PIXEL_REL)


def test_compile_runs_or_falls_back_with_one_warning(workdir):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train(options(workdir, "compiled", total_iter=2, compile="default"), progress=False)
    fell_back = [w for w in caught if "torch.compile" in str(w.message)]
    assert result.iteration == 2 and len(fell_back) <= 1


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_half_precision_inference_stays_within_the_documented_psnr_of_fp32(precision):
    torch.manual_seed(0)
    net = RRDBNet(num_feat=16, num_block=2, num_grow_ch=8, scale=4).eval()
    img = np.random.default_rng(0).uniform(size=(48, 40, 3)).astype(np.float32)
    fp32 = Upscaler(net, 4, device="cuda").upscale(img)
    half = Upscaler(net, 4, device="cuda", precision=precision, channels_last=True).upscale(img)
    assert 10 * np.log10(1 / np.mean((half - fp32) ** 2)) > HALF_INFERENCE_DB


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
def test_two_nccl_processes_train_like_one_process_with_the_global_batch(workdir):
    options(workdir, "nccl", total_iter=2)  # writes nccl.yml
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", str(port), str(REPO / "tools" / "train.py"), "-opt", "nccl.yml", "--no-progress",
               "--set", "datasets.train.batch_size_per_gpu=2"]
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "CUBLAS_WORKSPACE_CONFIG": ":4096:8"})
    assert done.returncode == 0, done.stderr[-3000:]
    train(options(workdir, "one", total_iter=2), progress=False)
    a, b = weights(workdir, "nccl", 2)["params"], weights(workdir, "one", 2)["params"]
    for k in a:  # the same global batch; NCCL's all-reduce sums in another order than one process does
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-6)
