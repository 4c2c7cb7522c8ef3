"""Every loss term added for today's objectives in one short GAN run (each logged by name, finite), the modern
recipe's settings, and the one-line refusals of bad terms."""
import math
import re

import pytest
import torch
import yaml

from srgan_kit.cli.train import main as train_main
from srgan_kit.config.options import load_options
from test_dists import random_vgg16_features
from test_zoo import option_text, write_training_data

NEW_TERMS = [{"type": "SSIMLoss", "loss_weight": 0.1}, {"type": "MSSSIMLoss", "loss_weight": 0.1, "win_size": 3},
             {"type": "MSSSIML1Loss", "loss_weight": 1.0}, {"type": "fftloss", "loss_weight": 0.05},
             {"type": "FFLoss", "loss_weight": 0.2}, {"type": "LDLLoss", "loss_weight": 1.0},
             {"type": "ColorLoss"}, {"type": "hsluvloss"}, {"type": "LumaLoss"}, {"type": "SobelEdgeLoss"},
             {"type": "DISTSLoss", "loss_weight": 0.3, "pretrained_path": "vgg16.pth"}]
LOGGED = ("ssim", "msssim", "msssiml1", "fft", "ff", "ldl", "color", "hsluv", "luma", "sobel", "dists")
GAN = """\
network_d: {type: UNetDiscriminatorSN, num_feat: 8}
"""


def gan_text(name, losses, extra=""):
    network = "network_g: {type: MSRResNet, num_feat: 8, num_block: 1, upscale: 4}\n" + GAN
    text = option_text(name, network).replace("model_type: sr", "model_type: gan")
    return text.replace("  pixel_opt: {type: L1Loss, loss_weight: 1.0}\n", (
        "  optim_d: {type: Adam, lr: 1.0e-4}\n  total_iter: 3\n"
        "  gan_opt: {type: GANLoss, gan_type: vanilla, loss_weight: 0.1}\n"
        f"  losses: {yaml.safe_dump(losses, default_flow_style=True, width=10**6).strip()}\n{extra}")).replace(
        "  total_iter: 2\n", "").replace("val: {val_freq: 2", "val: {val_freq: 3")


def test_a_three_iteration_gan_run_logs_every_new_term_by_name_and_finite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_training_data(tmp_path)
    torch.save({f"features.{k}": v for k, v in random_vgg16_features().state_dict().items()}, tmp_path / "vgg16.pth")
    (tmp_path / "o.yml").write_text(gan_text("modern", NEW_TERMS))
    assert train_main(["-opt", "o.yml", "--no-progress"]) == 0
    log = next((tmp_path / "experiments" / "modern").glob("train_*.log")).read_text()
    logged = dict(re.findall(r"\bl_g_(\w+): (\S+)", log))
    assert set(LOGGED) <= set(logged)
    assert all(math.isfinite(float(value)) for value in logged.values())


@pytest.mark.parametrize("term, words", [
    ({"type": "FFTLos"}, "train.losses.0.type: unknown loss type 'FFTLos' (did you mean 'FFTLoss'?)"),
    ({"type": "HSLuvLoss", "loss_weight": -1.0}, "train.losses.0.loss_weight: expected a number >= 0, got -1.0"),
    ({"type": "DISTSLoss"}, "vgg16-397923af.pth"),
])
def test_a_bad_term_is_one_line_before_anything_is_written(tmp_path, monkeypatch, capsys, term, words):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))  # no VGG16 ImageNet file there
    write_training_data(tmp_path)
    (tmp_path / "o.yml").write_text(gan_text("bad", [term]))
    assert train_main(["-opt", "o.yml", "--no-progress"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and words in error[0]
    assert not (tmp_path / "experiments").exists()


def test_the_modern_recipe_has_today_s_objective():
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    opt = load_options(repo / "options" / "train_modern_gan_x4.yml", root=repo, check_paths=False)
    terms = {t["type"]: t["loss_weight"] for t in opt["train"]["losses"]}
    assert opt["network_g"]["type"] == "SPAN" and opt["network_d"]["type"] == "UNetDiscriminatorSN"
    assert terms == {"MSSSIML1Loss": 1.0, "ColorLoss": 1.0, "LDLLoss": 1.0} and not opt["train"].get("pixel_opt")
    assert opt["train"]["gan_opt"]["loss_weight"] == 0.1 and opt["train"]["optim_g"]["type"] == "AdamW"
    assert opt["train"]["perceptual_opt"]["perceptual_weight"] < 1 and opt["train"]["ema_decay"] > 0
