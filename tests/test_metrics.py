"""PSNR / SSIM agree with BasicSR's reference functions (which take BGR; ours take RGB)."""
import math

import cv2
import numpy as np
import pytest
import torch

from srgan_kit.compat import import_basicsr
from srgan_kit.eval.metrics import calculate_psnr, calculate_ssim, psnr_torch, rgb2y, ssim_torch
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


# ---- ST-LPIPS, LPIPS, NIQE -------------------------------------------------------------------------------

import skimage.data  # noqa: E402

from srgan_kit.eval import metrics  # noqa: E402
from srgan_kit.errors import UserError  # noqa: E402
from srgan_kit.eval.metrics import (  # noqa: E402
    MetricUnavailable, calculate_lpips, calculate_niqe, calculate_stlpips, get_stlpips, lpips_distance,
    lpips_trunk_file, stlpips_distance, stlpips_weights_file,
)

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"


def photo(size=64):
    """A textured RGB crop (astronaut's face and suit) in [0, 1], float32."""
    img = skimage.data.astronaut()[60:60 + 4 * size, 150:150 + 4 * size]
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return img.astype(np.float32) / 255.0


def blur(img, sigma):
    return cv2.GaussianBlur(img, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def test_stlpips_loads_the_shipped_weights_offline(empty_torch_home):
    metrics._stlpips_scorer.cache_clear()  # build it here, with no torchvision cache and no network
    scorer = get_stlpips("alex")
    shipped = torch.load(stlpips_weights_file("alex"), map_location="cpu", weights_only=True)
    state = scorer.model.state_dict()
    assert len(shipped) == 20
    for key, value in shipped.items():
        torch.testing.assert_close(state[key], value, rtol=0, atol=0)
    # 'lins.<k>' is the very module 'lin<k>': the calibrated heads are in use, not random ones.
    assert scorer.model.lins[3].model[1].weight is scorer.model.lin3.model[1].weight


def test_stlpips_identical_images_give_zero():
    img = photo()
    assert stlpips_distance(img, img.copy()) == 0.0
    assert calculate_stlpips(img * 255, img * 255) == 0.0


def test_stlpips_grows_with_blur():
    img = photo()
    d = [stlpips_distance(blur(img, s), img) for s in (0.7, 1.5, 3.0)]
    assert 0 < d[0] < d[1] < d[2]


def test_stlpips_equals_the_package_metric():
    """Ours (inputs scaled to [-1, 1] by us) == stlpips_pytorch's own LPIPS loading its shipped file."""
    stlpips = pytest.importorskip("stlpips_pytorch.stlpips")
    ref = stlpips.LPIPS(net="alex", variant="shift_tolerant", verbose=False)
    img = photo()
    other = blur(img, 1.0)
    with torch.no_grad():
        want = ref(torch.from_numpy(other.transpose(2, 0, 1))[None], torch.from_numpy(img.transpose(2, 0, 1))[None],
                   normalize=True).item()
    assert stlpips_distance(other, img) == pytest.approx(want, rel=1e-5, abs=1e-7)
    # The registered metric takes [0, 255] images (uint8 here) like PSNR/SSIM: same value up to rounding.
    u8 = lambda x: (x * 255).round().astype(np.uint8)  # noqa: E731
    assert calculate_stlpips(u8(other), u8(img)) == pytest.approx(
        stlpips_distance(u8(other) / 255.0, u8(img) / 255.0), rel=1e-5)


def test_stlpips_torch_batch_and_vgg():
    a, b = photo(), blur(photo(), 1.5)
    batch = torch.from_numpy(np.stack([a, b]).transpose(0, 3, 1, 2))
    ref = torch.from_numpy(np.stack([a, a]).transpose(0, 3, 1, 2))
    d = stlpips_distance(batch, ref)
    assert d.shape == (2,) and d[0] == 0
    assert float(d[1]) == pytest.approx(stlpips_distance(b, a), rel=1e-5)
    vgg = stlpips_distance(b, a, net="vgg")
    assert vgg > 0 and vgg != pytest.approx(float(d[1]))
    with pytest.raises(ValueError, match="net must be one of alex, vgg"):
        stlpips_distance(a, a, net="squeeze")
    with pytest.raises(ValueError, match=r"values in \[0, 1\].*255"):  # a [0, 255] image by mistake
        stlpips_distance(a * 255, a * 255)


def test_lpips_unavailable_without_cached_alexnet(empty_torch_home):
    img = (photo() * 255).astype(np.uint8)
    with pytest.raises(MetricUnavailable) as err:
        calculate_lpips(img, img)
    exc = err.value
    expected = empty_torch_home / "hub" / "checkpoints" / ALEXNET_FILE
    assert isinstance(exc, UserError) and exc.metric == "lpips"
    assert str(expected) in exc.reason and "\n" not in str(exc)
    assert metrics.metric_unavailable_reason("lpips") == exc.reason
    assert metrics.metric_unavailable_reason("calculate_stlpips") is None
    assert metrics.metric_unavailable_reason("psnr") is None
    # ... and only that metric is lost: the others still work on the same images.
    assert calculate_psnr(img, img, 0) == math.inf and calculate_stlpips(img, img) == 0.0


@pytest.fixture
def fake_alexnet_cache(empty_torch_home):
    """A random AlexNet (right names and shapes) where torchvision's cache keeps the real one."""
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    state = torchvision.models.alexnet(weights=None).state_dict()
    path = empty_torch_home / "hub" / "checkpoints" / ALEXNET_FILE
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    return state


def test_lpips_with_cached_alexnet_equals_the_package(fake_alexnet_cache):
    lpips = pytest.importorskip("lpips")
    assert lpips_trunk_file().is_file() and metrics.metric_unavailable_reason("lpips") is None
    # The package's own LPIPS reads the same file through torchvision (cached: no download, see no_download).
    with pytest.warns(UserWarning):  # torchvision's deprecated 'pretrained=' argument, inside lpips
        ref = lpips.LPIPS(net="alex", version="0.1", verbose=False)
    img = photo()
    other = np.clip(img + 0.2 * np.random.default_rng(0).standard_normal(img.shape), 0, 1).astype(np.float32)
    t = lambda x: torch.from_numpy(x.transpose(2, 0, 1))[None]  # noqa: E731
    with torch.no_grad():
        want = ref(t(other), t(img), normalize=True).item()
    got = lpips_distance(other, img)
    assert got > 0 and got == pytest.approx(want, rel=1e-5, abs=1e-8)
    assert lpips_distance(img, img.copy()) == 0.0
    assert calculate_lpips(img * 255, img * 255) == 0.0
    trunk = metrics.get_lpips().model.net.state_dict()  # lpips keeps torchvision's indices in its slices
    for i, k in ((0, 1), (3, 2), (6, 3), (8, 4), (10, 5)):
        torch.testing.assert_close(trunk[f"slice{k}.{i}.weight"], fake_alexnet_cache[f"features.{i}.weight"],
                                   rtol=0, atol=0)


def test_niqe_is_basicsrs_on_rgb_and_blur_scores_worse(shared_dir):
    ref = import_basicsr("basicsr.metrics.niqe")
    rgb = cv2.imread(str(shared_dir / "data/Set5/X4/HR/baby.png"))[..., ::-1]
    rgb = cv2.resize(np.ascontiguousarray(rgb), (256, 256), interpolation=cv2.INTER_AREA)
    got = calculate_niqe(rgb, crop_border=4)
    assert got == pytest.approx(ref.calculate_niqe(bgr(rgb), 4, input_order="HWC", convert_to="y"), abs=1e-9)
    # Without the RGB -> BGR flip the Y channel (and the score) would differ.
    assert got != pytest.approx(ref.calculate_niqe(rgb, 4, input_order="HWC", convert_to="y"), abs=1e-6)
    chw = rgb.transpose(2, 0, 1)
    assert calculate_niqe(chw, crop_border=4, input_order="CHW") == pytest.approx(got, abs=1e-12)
    assert calculate_niqe(blur(rgb.astype(np.float32), 2.0), crop_border=4) > got
    # Called like every metric in validation, fn(sr, gt, crop_border=...): the reference is not used.
    assert METRICS.get("niqe")(rgb, np.zeros_like(rgb), crop_border=4) == pytest.approx(got, abs=1e-12)


def test_niqe_rejects_images_too_small_to_measure():
    img = np.full((128, 128, 3), 100, np.uint8)
    with pytest.raises(ValueError, match=r"two 96x96 blocks.*128x128"):
        calculate_niqe(img)
    with pytest.raises(TypeError, match="crop_border by keyword"):
        calculate_niqe(img, 4)


def test_new_metrics_registered_with_direction():
    for name, alias, better in (("calculate_stlpips", "stlpips", "lower"), ("calculate_lpips", "lpips", "lower"),
                                ("calculate_niqe", "niqe", "lower"), ("calculate_psnr", "psnr", "higher"),
                                ("calculate_ssim", "ssim", "higher")):
        assert METRICS.get(name) is METRICS.get(alias)
        assert METRICS.get(name).better == better
        assert "crop_border" in METRICS.arguments(name)
    assert METRICS.arguments("stlpips")["net"] == "alex"
