"""SSIMLoss and MSSSIMLoss: SSIM as scikit-image computes it (Gaussian window, population covariance), zero on
identical images, named in the log, and MS-SSIM's size limit said in one line."""
import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from srgan_kit.errors import ArgumentError
from srgan_kit.losses.structural import MSSSIMLoss, SSIMLoss
from srgan_kit.cli.train import main as train_main
from test_zoo import option_text, write_training_data


def as_tensor(image):
    return torch.from_numpy(image).permute(2, 0, 1)[None]


def test_ssim_loss_is_one_minus_scikit_images_ssim():
    rng = np.random.default_rng(0)
    a = rng.random((48, 40, 3))
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1)
    reference = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                      data_range=1.0, channel_axis=-1)
    assert SSIMLoss(loss_weight=2.0)(as_tensor(a), as_tensor(b)).item() == pytest.approx(2 * (1 - reference), abs=1e-6)


@pytest.mark.parametrize("loss", [SSIMLoss(), MSSSIMLoss()])
def test_identical_images_cost_nothing_and_noise_costs_more_the_more_there_is(loss):
    x = torch.rand(1, 3, 176, 176, generator=torch.Generator().manual_seed(0))
    noisy = [(x + s * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
             for s in (0.02, 0.1)]
    assert loss(x, x).item() == pytest.approx(0, abs=1e-6)
    assert 0 < loss(noisy[0], x).item() < loss(noisy[1], x).item()


def test_ms_ssim_on_images_too_small_for_its_window_is_one_line():
    with pytest.raises(ArgumentError, match="win_size: MS-SSIM with win_size 11 takes images of at least 161"):
        MSSSIMLoss()(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64))


def test_ms_ssim_on_training_crops_too_small_is_refused_by_key_before_anything_is_written(tmp_path, monkeypatch,
                                                                                           capsys):
    monkeypatch.chdir(tmp_path)
    write_training_data(tmp_path)
    network = "network_g: {type: MSRResNet, num_feat: 8, num_block: 1, upscale: 4}"
    extra = "  losses: [{type: MSSSIMLoss}]\n"
    (tmp_path / "o.yml").write_text(option_text("small", network).replace(
        "  pixel_opt: {type: L1Loss, loss_weight: 1.0}\n", extra))
    assert train_main(["-opt", "o.yml"]) == 2
    assert ("train.losses.0: MSSSIMLoss takes images of at least 161 pixels, but the training crops are 64 "
            "(datasets.train.gt_size)") in capsys.readouterr().err
    assert not (tmp_path / "experiments").exists()


def test_both_terms_train_and_are_logged_by_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_training_data(tmp_path)
    network = "network_g: {type: MSRResNet, num_feat: 8, num_block: 1, upscale: 4}"
    extra = "  losses: [{type: SSIMLoss, loss_weight: 0.5}, {type: MSSSIMLoss, loss_weight: 0.5, win_size: 3}]\n"
    text = option_text("ssim", network).replace("  pixel_opt: {type: L1Loss, loss_weight: 1.0}\n", extra)
    (tmp_path / "o.yml").write_text(text)
    assert train_main(["-opt", "o.yml", "--no-progress"]) == 0
    log = next((tmp_path / "experiments" / "ssim").glob("train_*.log")).read_text()
    assert "l_ssim:" in log and "l_msssim:" in log and "nan" not in log.lower()


def test_ms_ssim_l1_of_a_constant_offset_is_the_hand_computed_mix():
    from srgan_kit.losses.structural import MSSSIML1Loss

    a, b = (torch.full((1, 3, 40, 40), v, dtype=torch.float64) for v in (0.6, 0.4))  # no float32 rounding
    c1 = 0.01**2  # flat images: every contrast-structure factor is 1, luminance (2ab + C1) / (a^2 + b^2 + C1)
    luminance = (2 * 0.6 * 0.4 + c1) / (0.6**2 + 0.4**2 + c1)
    expected = 0.84 * (1 - luminance) + 0.16 * 0.2
    assert MSSSIML1Loss(loss_weight=2.0)(a, b).item() == pytest.approx(2 * expected, rel=1e-5)


def test_ms_ssim_l1_with_alpha_0_is_the_l1_and_with_identical_images_nothing():
    from srgan_kit.losses.structural import MSSSIML1Loss

    x = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    assert MSSSIML1Loss(alpha=0.0)(x + 0.1, x).item() == pytest.approx(0.1, rel=1e-5)
    assert MSSSIML1Loss()(x, x).item() == pytest.approx(0, abs=1e-6)
