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


def test_span_recipes_chain_psnr_into_gan():
    psnr, gan = load("train_span_x4_psnr.yml"), load("train_span_x4_gan.yml")
    for opt in (psnr, gan):  # the official 48-channel SPAN with its mean shift, so the GAN stage loads strictly
        net = opt["network_g"]
        assert net["type"] == "SPAN" and net["feature_channels"] == 48 and net["norm"] is True
        assert net["upscale"] == 4 and net["img_range"] == 255.0
    assert psnr["model_type"] == "sr" and psnr["train"]["pixel_opt"]["type"] == "L1Loss"
    assert psnr["datasets"]["train"]["gt_size"] == 256 and psnr["train"]["total_iter"] == 1000000
    assert gan["network_g"] == psnr["network_g"]
    assert gan["model_type"] == "gan" and gan["network_d"]["type"] == "UNetDiscriminatorSN"
    assert gan["path"]["pretrain_network_g"] == str(Path(psnr["path"]["models"]) / "net_g_latest.pth")
    assert gan["path"]["param_key_g"] == "params_ema" and psnr["train"]["ema_decay"] > 0
    assert gan["train"]["gan_opt"]["loss_weight"] == pytest.approx(0.1) and gan["train"]["perceptual_opt"]


def test_compact_recipe_is_realesr_general_x4v3_in_real_esrgans_gan_stage():
    opt = load("train_compact_x4_realesrgan.yml")
    assert opt["model_type"] == "realesrgan"
    assert {k: opt["network_g"][k] for k in ("type", "num_feat", "num_conv", "upscale", "act_type")} == {
        "type": "Compact", "num_feat": 64, "num_conv": 32, "upscale": 4, "act_type": "prelu"}
    assert opt["network_d"]["type"] == "UNetDiscriminatorSN"
    x4plus = load("train_realesrgan_x4plus.yml")  # the same degradations and losses as Real-ESRGAN x4plus
    for key in ("resize_range", "noise_range", "jpeg_range", "second_blur_prob", "resize_range2", "noise_range2",
                "jpeg_range2", "gt_size", "queue_size", "l1_gt_usm", "percep_gt_usm", "gan_gt_usm"):
        assert opt[key] == x4plus[key], key
    for key in ("pixel_opt", "perceptual_opt", "gan_opt", "total_iter"):
        assert opt["train"][key] == x4plus["train"][key], key
    batch = opt["datasets"]["train"]["batch_size_per_gpu"] * opt["train"]["accumulate_grad_batches"]
    assert batch == 48  # x4plus: 12 x 4 GPUs


def test_realplksr_recipe_has_trainner_redux_defaults():
    opt = load("train_realplksr_x4_gan.yml")
    net = opt["network_g"]
    assert opt["model_type"] == "gan" and net["type"] == "RealPLKSR"
    assert (net["dim"], net["n_blocks"], net["kernel_size"], net["split_ratio"]) == (64, 28, 17, 0.25)
    assert net["use_ea"] is True and net["layer_norm"] is True and net["upscaling_factor"] == 4
    assert opt["datasets"]["train"]["gt_size"] == 384 and opt["train"]["total_iter"] == 250000


def test_swinir_m_recipe_has_basicsrs_scratch_settings():
    opt = load("train_swinir_m_x4_psnr.yml")
    net, train = opt["network_g"], opt["train"]
    assert net["type"] == "SwinIR" and net["embed_dim"] == 180 and net["window_size"] == 8
    assert net["depths"] == [6] * 6 and net["num_heads"] == [6] * 6 and net["mlp_ratio"] == 2
    assert net["upsampler"] == "pixelshuffle" and net["resi_connection"] == "1conv" and net["img_size"] == 48
    assert opt["datasets"]["train"]["gt_size"] == 192
    assert opt["datasets"]["train"]["batch_size_per_gpu"] * train["accumulate_grad_batches"] == 32
    assert train["optim_g"]["lr"] == pytest.approx(2e-4) and train["total_iter"] == 500000
    assert train["scheduler"]["milestones"] == [250000, 400000, 450000, 475000]


def test_dat_light_recipe_uses_pixelshuffledirect():
    opt = load("train_dat_light_x4_psnr.yml")
    net = opt["network_g"]
    assert net["type"] == "DAT" and net["upsampler"] == "pixelshuffledirect" and net["resi_connection"] == "3conv"
    assert net["embed_dim"] == 60 and net["depth"] == [18] and net["num_heads"] == [6]
    assert net["split_size"] == [8, 32] and net["expansion_factor"] == 2
    assert opt["datasets"]["train"]["batch_size_per_gpu"] * opt["train"]["accumulate_grad_batches"] == 32


def test_hat_s_recipe_has_the_small_models_settings():
    opt = load("train_hat_s_x4_psnr.yml")
    net = opt["network_g"]
    assert net["type"] == "HAT" and net["embed_dim"] == 144 and net["window_size"] == 16
    assert net["compress_ratio"] == 24 and net["squeeze_factor"] == 24 and net["depths"] == [6] * 6
    assert net["overlap_ratio"] == 0.5 and net["mlp_ratio"] == 2 and net["img_size"] == 64
    assert opt["datasets"]["train"]["gt_size"] // opt["scale"] >= net["window_size"]
    assert opt["datasets"]["train"]["batch_size_per_gpu"] * opt["train"]["accumulate_grad_batches"] == 32
