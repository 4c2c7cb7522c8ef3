"""The metrics msssim and stlpips_alex against their references on Set5 (HR vs bicubic down-up), and the three new
metrics (with dists) in the one conventions table: short names, directions, crop borders, option files."""
import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view

from srgan_kit.config.options import load_options
from srgan_kit.eval import metrics
from srgan_kit.eval.conventions import CONVENTIONS, Scorer, metric_label, metric_plan
from srgan_kit.registry import METRICS
from test_dists import as_batch, set5_pairs

MSSSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al. 2003


def numpy_msssim(x, y):
    """MS-SSIM (Wang et al. 2003) of HxWxC float64 images in [0, 1], written out in numpy: an 11x11 Gaussian
    window (sigma 1.5) in 'valid' mode, 2x2 averaging between the five scales (even sides only here), contrast-
    structure at the first four scales and SSIM at the last, each clipped at 0, per channel, then the channel mean."""
    taps = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
    taps /= taps.sum()

    def blur(a):
        a = sliding_window_view(a, 11, axis=0) @ taps
        return sliding_window_view(a, 11, axis=1) @ taps

    c1, c2 = 0.01**2, 0.03**2
    value = np.ones(x.shape[-1])
    for level, weight in enumerate(MSSSIM_WEIGHTS):
        mx, my = blur(x), blur(y)
        vx, vy, cov = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        cs = (2 * cov + c2) / (vx + vy + c2)
        if level < len(MSSSIM_WEIGHTS) - 1:
            value *= np.maximum(cs.mean(axis=(0, 1)), 0) ** weight
            h, w, c = x.shape
            x = x.reshape(h // 2, 2, w // 2, 2, c).mean(axis=(1, 3))
            y = y.reshape(h // 2, 2, w // 2, 2, c).mean(axis=(1, 3))
        else:
            ssim = ((2 * mx * my + c1) / (mx * mx + my * my + c1) * cs).mean(axis=(0, 1))
            value *= np.maximum(ssim, 0) ** weight
    return float(value.mean())


def test_msssim_is_pytorch_msssim_and_the_written_out_formula_on_set5(shared_dir):
    from pytorch_msssim import ms_ssim

    hr, up = set5_pairs(shared_dir, 200)  # 192 after the x4 crop border: every scale has even sides
    c = 4
    want = ms_ssim(torch.from_numpy(up.transpose(0, 3, 1, 2) / 255.0)[..., c:-c, c:-c],
                   torch.from_numpy(hr.transpose(0, 3, 1, 2) / 255.0)[..., c:-c, c:-c],
                   data_range=1.0, size_average=False)  # the channel mean per image
    for i in range(len(hr)):
        got = metrics.calculate_msssim(up[i], hr[i], crop_border=c)
        assert 0.5 < got < 1 and got == pytest.approx(float(want[i]), abs=1e-10)
        by_hand = numpy_msssim(up[i, c:-c, c:-c] / 255.0, hr[i, c:-c, c:-c] / 255.0)
        # pytorch-msssim computes its Gaussian taps in float32 (off by ~1e-8); the E[x^2] - mu^2 variances
        # magnify that to ~1e-6 of MS-SSIM against float64 taps.
        assert got == pytest.approx(by_hand, abs=1e-5)
    assert metrics.calculate_msssim(hr[0], hr[0], crop_border=c) == pytest.approx(1.0, abs=1e-12)


def test_msssim_on_images_too_small_says_the_minimum_in_one_line():
    img = np.zeros((168, 240, 3), np.uint8)
    with pytest.raises(ValueError) as err:
        metrics.calculate_msssim(img, img, crop_border=4)
    assert str(err.value) == ("MS-SSIM needs images of at least 161x161 pixels after cropping (five scales of an "
                              "11x11 window), got 160x232")
    fits = np.zeros((169, 169, 3), np.uint8)
    assert metrics.calculate_msssim(fits, fits, crop_border=4) == pytest.approx(1.0)


def test_stlpips_alex_is_the_packages_shift_tolerant_alexnet_on_set5(shared_dir):
    stlpips = pytest.importorskip("stlpips_pytorch.stlpips")
    ref = stlpips.LPIPS(net="alex", variant="shift_tolerant", verbose=False)  # its shipped weights
    hr, up = set5_pairs(shared_dir, 128)
    with torch.no_grad():
        want = ref(as_batch(up), as_batch(hr), normalize=True).flatten()
    for i in range(len(hr)):
        got = metrics.calculate_stlpips_alex(up[i], hr[i])
        assert got > 0 and got == pytest.approx(float(want[i]), rel=1e-5, abs=1e-7)
    # The existing stlpips metric means the same network by default (its net: 'alex').
    assert metrics.calculate_stlpips(up[0], hr[0]) == metrics.calculate_stlpips_alex(up[0], hr[0])
    assert metrics.metric_unavailable_reason("stlpips_alex") is None


def test_the_new_metrics_follow_the_conventions_table():
    assert {"calculate_msssim", "calculate_stlpips_alex", "calculate_dists"} <= set(CONVENTIONS)
    plan = {m.key: m for m in metric_plan("msssim,stlpips_alex,dists,stlpips", scale=4)}
    assert list(plan) == ["msssim", "stlpips_alex", "dists", "stlpips"]
    assert plan["msssim"].kwargs == {"crop_border": 4} and plan["msssim"].better == "higher"
    assert plan["stlpips_alex"].kwargs == {} and plan["stlpips_alex"].better == "lower"
    assert plan["dists"].kwargs == {} and plan["dists"].better == "lower"
    assert METRICS.get("calculate_dists") is METRICS.get("dists") is metrics.calculate_dists
    assert [metric_label(n) for n in ("msssim", "calculate_stlpips_alex", "dists")] == [
        "MS-SSIM", "ST-LPIPS (AlexNet)", "DISTS"]
    scorer = Scorer({"m": {"type": "calculate_msssim"}, "a": {"type": "stlpips_alex"}}, scale=2)
    assert scorer.header()["better"] == {"m": "higher", "a": "lower"}
    assert scorer.header()["settings"]["m"] == {"crop_border": 2}


def test_val_metrics_and_best_metric_accept_them(tmp_path):
    path = tmp_path / "o.yml"
    path.write_text("""\
name: m
model_type: sr
scale: 4
datasets:
  train: {name: t, type: GTOnlyDataset, dataroot_gt: gt, gt_size: 32, batch_size_per_gpu: 1}
  val: {name: v, type: GTOnlyDataset, dataroot_gt: val}
network_g: {type: MSRResNet, num_feat: 8, num_block: 1, upscale: 4}
train:
  optim_g: {type: Adam, lr: 1.0e-4}
  total_iter: 1
  pixel_opt: {type: L1Loss}
val:
  val_freq: 1
  best_metric: dists
  metrics:
    msssim: {type: calculate_msssim}
    stlpips_alex: {type: stlpips_alex}
    dists: {type: dists, better: lower}
""")
    opt = load_options(path, check_paths=False, root=tmp_path)
    assert opt["val"]["best_metric"] == "dists"
    assert {k: v["type"] for k, v in opt["val"]["metrics"].items()} == {
        "msssim": "calculate_msssim", "stlpips_alex": "stlpips_alex", "dists": "dists"}
