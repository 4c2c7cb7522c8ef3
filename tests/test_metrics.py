"""PSNR / SSIM agree with BasicSR's reference functions (which take BGR; ours take RGB)."""
import math

import cv2
import numpy as np
import pytest
import torch

from srgan_kit.compat import import_basicsr
from srgan_kit.metrics import calculate_psnr, calculate_ssim, psnr_torch, rgb2y, ssim_torch
from srgan_kit.registry import METRICS

ref = import_basicsr("basicsr.metrics.psnr_ssim")


def bgr(img):
    return np.ascontiguousarray(img[..., ::-1])


def _noisy_pair(seed, shape=(40, 36, 3)):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, shape).astype(np.uint8)
    noise = rng.normal(0, 12, shape)
    b = np.clip(a + noise, 0, 255).round().astype(np.uint8)
    return a, b


@pytest.mark.parametrize("crop_border", [0, 4])
@pytest.mark.parametrize("test_y", [False, True])
def test_matches_basicsr_on_random_images(crop_border, test_y):
    a, b = _noisy_pair(0)
    want_psnr = ref.calculate_psnr(bgr(a), bgr(b), crop_border, test_y_channel=test_y)
    want_ssim = ref.calculate_ssim(bgr(a), bgr(b), crop_border, test_y_channel=test_y)
    assert abs(calculate_psnr(a, b, crop_border, test_y_channel=test_y) - want_psnr) < 1e-4
    assert abs(calculate_ssim(a, b, crop_border, test_y_channel=test_y) - want_ssim) < 1e-5


def test_matches_basicsr_on_float_images_in_0_255():
    a, b = _noisy_pair(1)
    a, b = a.astype(np.float64) + 0.3, b.astype(np.float64)  # non-integer values
    assert abs(calculate_psnr(a, b, 2) - ref.calculate_psnr(bgr(a), bgr(b), 2)) < 1e-4
    assert abs(calculate_ssim(a, b, 2) - ref.calculate_ssim(bgr(a), bgr(b), 2)) < 1e-5


def test_matches_basicsr_chw_order():
    a, b = _noisy_pair(2)
    a_chw, b_chw = a.transpose(2, 0, 1), b.transpose(2, 0, 1)
    want = ref.calculate_psnr(bgr(a), bgr(b), 1, test_y_channel=True)
    assert abs(calculate_psnr(a_chw, b_chw, 1, input_order="CHW", test_y_channel=True) - want) < 1e-4


def test_matches_basicsr_on_set5_bicubic(shared_dir):
    """Real photos: Set5 HR against a bicubic upscale of its x4 LR (what validation measures)."""
    hr = cv2.imread(str(shared_dir / "data/Set5/X4/HR/baby.png"))[..., ::-1]  # RGB
    lr = cv2.imread(str(shared_dir / "data/Set5/X4/LR/babyx4.png"))[..., ::-1]
    sr = cv2.resize(np.ascontiguousarray(lr), (hr.shape[1], hr.shape[0]), interpolation=cv2.INTER_CUBIC)
    for test_y in (True, False):
        want_p = ref.calculate_psnr(bgr(hr), bgr(sr), 4, test_y_channel=test_y)
        want_s = ref.calculate_ssim(bgr(hr), bgr(sr), 4, test_y_channel=test_y)
        got_p = calculate_psnr(hr, sr, 4, test_y_channel=test_y)
        got_s = calculate_ssim(hr, sr, 4, test_y_channel=test_y)
        assert abs(got_p - want_p) < 1e-4
        assert abs(got_s - want_s) < 1e-5
    assert 20 < got_p < 40 and 0.5 < got_s < 1  # sanity: a plausible bicubic score


def test_identical_images_give_inf_psnr_and_unit_ssim():
    a, _ = _noisy_pair(3)
    assert calculate_psnr(a, a.copy(), 4, test_y_channel=True) == math.inf
    assert calculate_ssim(a, a.copy(), 4, test_y_channel=True) == pytest.approx(1.0, abs=1e-12)
    t = torch.rand(2, 3, 16, 16)
    assert torch.isinf(psnr_torch(t, t.clone())).all()


def test_grayscale_images():
    a, b = _noisy_pair(4, shape=(30, 30))
    # HxW and HxWx1 are both one channel; test_y_channel leaves one channel as it is (BasicSR does the same).
    for x, y in ((a, b), (a[..., None], b[..., None])):
        for test_y in (False, True):
            assert abs(calculate_psnr(x, y, 2, test_y_channel=test_y) - ref.calculate_psnr(x, y, 2)) < 1e-4
            assert abs(calculate_ssim(x, y, 2, test_y_channel=test_y) - ref.calculate_ssim(x, y, 2)) < 1e-5


def test_torch_batch_matches_per_image_numpy():
    a1, b1 = _noisy_pair(5)
    a2, b2 = _noisy_pair(6)

    def to_t(*imgs):
        return torch.from_numpy(np.stack(imgs).transpose(0, 3, 1, 2).astype(np.float32) / 255.0)

    psnr = psnr_torch(to_t(a1, a2), to_t(b1, b2), crop_border=3, test_y_channel=True)
    ssim = ssim_torch(to_t(a1, a2), to_t(b1, b2), crop_border=3, test_y_channel=True)
    assert psnr.shape == (2,) and ssim.shape == (2,)
    for i, (a, b) in enumerate(((a1, b1), (a2, b2))):
        assert abs(float(psnr[i]) - ref.calculate_psnr(bgr(a), bgr(b), 3, test_y_channel=True)) < 1e-4
        assert abs(float(ssim[i]) - ref.calculate_ssim(bgr(a), bgr(b), 3, test_y_channel=True)) < 1e-5


def test_rgb2y_is_matlab_luma():
    rgb = torch.tensor([1.0, 0.5, 0.25]).view(1, 3, 1, 1)
    want = (16 + 65.481 * 1.0 + 128.553 * 0.5 + 24.966 * 0.25) / 255
    assert float(rgb2y(rgb)) == pytest.approx(want, abs=1e-7)
    assert float(rgb2y(torch.zeros(1, 3, 1, 1))) == pytest.approx(16 / 255)
    assert float(rgb2y(torch.ones(1, 3, 1, 1))) == pytest.approx(235 / 255, abs=1e-6)


def test_registered_under_names_and_aliases():
    assert METRICS.get("calculate_psnr") is calculate_psnr and METRICS.get("psnr") is calculate_psnr
    assert METRICS.get("calculate_ssim") is calculate_ssim and METRICS.get("ssim") is calculate_ssim
    assert set(METRICS.arguments("psnr")) == {"img", "img2", "crop_border", "input_order", "test_y_channel"}


def test_shape_mismatch_is_an_error():
    a, _ = _noisy_pair(7)
    with pytest.raises(ValueError, match="shapes differ"):
        calculate_psnr(a, a[:-1], 0)
