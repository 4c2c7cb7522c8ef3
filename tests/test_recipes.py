"""The option files shipped in options/ validate, without warnings, and carry the published recipes."""
from pathlib import Path

import pytest

from srgan_kit.config.options import load_options

OPTIONS = Path(__file__).resolve().parents[1] / "options"


def load(name):
    return load_options(OPTIONS / name, check_paths=False)


@pytest.mark.parametrize("path", sorted(OPTIONS.glob("*.yml")), ids=lambda p: p.name)
def test_every_shipped_option_file_validates_without_warnings(path):
    assert load_options(path, check_paths=False)["_warnings"] == []


def test_esrgan_recipe_has_the_papers_settings():
    opt = load("train_esrgan_x4.yml")
    train = opt["train"]
    assert opt["model_type"] == "gan" and opt["network_g"]["type"] == "RRDBNet"
    assert train["pixel_opt"]["loss_weight"] == pytest.approx(1e-2)
    assert train["perceptual_opt"]["layer_weights"] == {"conv5_4": 1}
    assert train["perceptual_opt"]["perceptual_weight"] == 1.0
    assert train["gan_opt"]["loss_weight"] == pytest.approx(5e-3)
    assert train["gan_opt"]["relativistic"] == "average" and train["gan_opt"]["gan_type"] == "vanilla"
    for key in ("optim_g", "optim_d"):
        assert train[key]["lr"] == pytest.approx(1e-4) and train[key]["betas"] == [0.9, 0.99]
    assert train["scheduler"]["milestones"] == [50000, 100000, 200000, 300000]
    assert train["scheduler"]["gamma"] == 0.5 and train["total_iter"] == 400000
    assert opt["datasets"]["train"]["batch_size_per_gpu"] == 16 and opt["datasets"]["train"]["gt_size"] == 128
    assert opt["path"]["pretrain_network_g"]


def test_realesrgan_recipe_uses_unet_sn_and_its_layer_weights():
    opt = load("train_realesrgan_x4.yml")
    assert opt["network_d"]["type"] == "UNetDiscriminatorSN"
    train = opt["train"]
    assert train["gan_opt"]["gan_type"] == "vanilla" and train["gan_opt"]["loss_weight"] == pytest.approx(0.1)
    assert train["perceptual_opt"]["layer_weights"] == {
        "conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1, "conv4_4": 1, "conv5_4": 1}


def test_srgan_and_wgan_gp_recipes():
    srgan = load("train_srgan_x4.yml")
    assert srgan["network_g"]["type"] == "MSRResNet" and srgan["network_d"]["type"] == "VGGStyleDiscriminator"
    assert srgan["train"]["gan_opt"]["gan_type"] == "vanilla"
    assert "conv5_4" in srgan["train"]["perceptual_opt"]["layer_weights"]
    wgan = load("train_wgan_gp_x4.yml")
    assert wgan["train"]["gan_opt"]["gan_type"] == "wgan_gp" and wgan["train"]["gan_opt"]["gp_weight"] == 10
    assert wgan["train"]["net_d_iters"] == 5 and not wgan["train"].get("d_clip")


def test_r3gan_recipe_pairs_rpgan_with_r1_and_r2():
    gan_opt = load("train_r3gan_x4.yml")["train"]["gan_opt"]
    assert gan_opt["gan_type"] == "rpgan" and gan_opt["r1_gamma"] > 0 and gan_opt["r2_gamma"] > 0
