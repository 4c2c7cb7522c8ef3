"""Real-ESRGAN's second-order degradation: kernels, the batched stage and the training-pair pool."""
import random

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from srgan_kit.compat import import_basicsr
from srgan_kit.data.realworld import (KERNEL_SIZES, PADDED_SIZE, RESIZE_STAGES, STAGE_DEFAULTS, RealWorldPairs,
                                      SecondOrderDegradation, SeparableUSM, TrainingPairPool, draw_kernels,
                                      kernel_settings, stage_settings)
from srgan_kit.errors import ArgumentError


def _photo_batch(n=2, size=64):
    skdata = pytest.importorskip("skimage.data")
    rgb = skdata.astronaut()[100:100 + 2 * size, 150:150 + 2 * size].astype(np.float32) / 255.0
    crops = [rgb[i * 16:i * 16 + size, i * 16:i * 16 + size] for i in range(n)]
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()


def _kernels(n, seed0=0, **opt):
    draws = [draw_kernels(kernel_settings(opt), seed0 + i) for i in range(n)]
    return {name: torch.stack([d[name] for d in draws]) for name in draws[0]}


def _support(kernel):
    rows = np.nonzero(np.abs(kernel).sum(axis=1) > 0)[0]
    return rows[-1] - rows[0] + 1


def test_same_seed_gives_same_kernels_and_leaves_global_generators_alone():
    np.random.seed(5)
    torch.manual_seed(5)
    random.seed(5)
    before = (np.random.get_state()[1].copy(), torch.get_rng_state(), random.getstate())
    a, b = draw_kernels(kernel_settings({}), 11), draw_kernels(kernel_settings({}), 11)
    other = draw_kernels(kernel_settings({}), 12)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["kernel1"], other["kernel1"])
    assert np.array_equal(np.random.get_state()[1], before[0])
    assert torch.equal(torch.get_rng_state(), before[1]) and random.getstate() == before[2]


def test_kernels_are_normalised_padded_and_sized_from_the_configured_list():
    for i in range(60):
        draws = draw_kernels(kernel_settings({}), i)
        for k in draws.values():
            assert k.shape == (PADDED_SIZE, PADDED_SIZE)
            assert float(k.sum()) == pytest.approx(1.0, abs=1e-4)
        assert _support(draws["kernel1"].numpy()) in KERNEL_SIZES


def test_isotropic_gaussian_widths_stay_within_blur_sigma():
    opt = {"kernel_list": ["iso"], "kernel_prob": [1.0], "sinc_prob": 0.0, "blur_sigma": [0.5, 1.5]}
    c = PADDED_SIZE // 2
    widths = []
    for i in range(200):
        k = draw_kernels(kernel_settings(opt), i)["kernel1"].numpy().astype(np.float64)
        # neighbouring taps of a sampled Gaussian differ by exp(-1 / (2 sigma^2)) whatever the size and
        # normalisation, so sigma can be read back exactly
        widths.append(np.sqrt(-1.0 / (2.0 * np.log(k[c, c + 1] / k[c, c]))))
        assert np.allclose(k, k.T, atol=1e-6)
    widths = np.array(widths)
    assert widths.min() >= 0.5 - 1e-3 and widths.max() <= 1.5 + 1e-3
    # uniform on [0.5, 1.5]: mean 1.0; 200 draws put the sample mean within 0.06 of it
    assert abs(widths.mean() - 1.0) < 0.06


def test_sinc_and_final_sinc_happen_at_the_configured_rates():
    opt = {"sinc_prob": 0.3, "final_sinc_prob": 0.6}
    pulse_count = sinc_count = 0
    n = 400
    for i in range(n):
        draws = draw_kernels(kernel_settings(opt), i)
        pulse_count += int(draws["sinc_kernel"][PADDED_SIZE // 2, PADDED_SIZE // 2] == 1.0)
        # sinc kernels ring: they have negative taps, the Gaussian family never does
        sinc_count += int(draws["kernel1"].min() < -1e-6)
    # binomial standard deviations are ~0.023-0.025; allow four
    assert abs(pulse_count / n - 0.4) < 0.1
    assert abs(sinc_count / n - 0.3) < 0.1


def test_final_sinc_probability_zero_gives_the_identity_filter():
    draws = draw_kernels(kernel_settings({"final_sinc_prob": 0.0}), 3)
    pulse = torch.zeros(PADDED_SIZE, PADDED_SIZE)
    pulse[PADDED_SIZE // 2, PADDED_SIZE // 2] = 1
    assert torch.equal(draws["sinc_kernel"], pulse)


def test_stage_is_deterministic_under_the_seed_and_makes_8bit_lr_of_the_scale():
    gt = _photo_batch()
    kernels = _kernels(2)
    stage = SecondOrderDegradation(stage_settings({}), scale=4)
    state = torch.get_rng_state()
    usm_a, lq_a = stage(gt, seed=7, **kernels)
    usm_b, lq_b = stage(gt, seed=7, **kernels)
    _, lq_c = stage(gt, seed=8, **kernels)
    assert torch.equal(lq_a, lq_b) and torch.equal(usm_a, usm_b)
    assert not torch.equal(lq_a, lq_c)
    assert lq_a.shape == (2, 3, 16, 16)
    assert torch.equal(lq_a, torch.round(lq_a * 255) / 255) and lq_a.min() >= 0 and lq_a.max() <= 1
    assert torch.equal(torch.get_rng_state(), state)


def test_mild_settings_give_an_lr_close_to_a_plain_downscale():
    # identity kernels, no resize, noise sigma 0 and JPEG q=95: what is left is USM + downscale
    gt = _photo_batch()
    kernels = _kernels(2, sinc_prob=0.0, final_sinc_prob=0.0, blur_sigma=[0.2, 0.21], kernel_list=["iso"],
                       kernel_prob=[1.0], sinc_prob2=0.0, blur_sigma2=[0.2, 0.21], kernel_list2=["iso"],
                       kernel_prob2=[1.0])
    mild = {"resize_prob": [0, 0, 1], "resize_prob2": [0, 0, 1], "gaussian_noise_prob": 1,
            "gaussian_noise_prob2": 1, "noise_range": [0, 0], "noise_range2": [0, 0],
            "jpeg_range": [95, 95], "jpeg_range2": [95, 95]}
    usm, lq = SecondOrderDegradation(stage_settings(mild), scale=4)(gt, seed=1, **kernels)
    area = torch.nn.functional.interpolate(usm, scale_factor=0.25, mode="area")
    # mode choice (area/bilinear/bicubic) and JPEG chroma subsampling account for the difference
    assert (lq - area).abs().mean() < 0.04


def test_separable_usm_equals_basicsr_usmsharp():
    img_process = import_basicsr("basicsr.utils.img_process_util")
    gt = _photo_batch(n=2)
    with torch.no_grad():
        diff = (SeparableUSM()(gt) - img_process.USMSharp()(gt)).abs()
    # float32 sums in another order: differences of 1e-4 at most, a fortieth of one 8-bit grey level
    assert diff.max() < 5e-4 and diff.mean() < 1e-5


def test_usm_sharpening_equals_basicsr_numpy_reference():
    img_process = import_basicsr("basicsr.utils.img_process_util")
    gt = _photo_batch(n=1)
    ours = img_process.USMSharp()(gt)[0].permute(1, 2, 0).numpy()
    reference = img_process.usm_sharp(gt[0].permute(1, 2, 0).numpy().astype(np.float32))
    # the numpy reference blurs with cv2's reflect-101 border as the tensor version does; float32 sums
    # over a 51x51 kernel differ in the last bits
    assert np.abs(ours - reference).max() < 5e-4


def test_filter2d_equals_opencv_filter2d():
    img_process = import_basicsr("basicsr.utils.img_process_util")
    gt = _photo_batch(n=1)
    kernel = draw_kernels(kernel_settings({}), 4)["kernel1"]
    ours = img_process.filter2D(gt, kernel[None])[0].permute(1, 2, 0).numpy()
    reference = cv2.filter2D(gt[0].permute(1, 2, 0).numpy(), -1, kernel.numpy(),
                             borderType=cv2.BORDER_REFLECT_101)
    # the kernels are symmetric under 180-degree rotation, so correlation and convolution agree
    assert np.abs(ours - reference).max() < 1e-5


def test_diffjpeg_matches_opencv_jpeg_closely():
    diffjpeg = import_basicsr("basicsr.utils.diffjpeg")
    gt = _photo_batch(n=1)
    with torch.no_grad():
        ours = diffjpeg.DiffJPEG(differentiable=False)(gt, quality=torch.tensor([50.0]))
    bgr = (gt[0].permute(1, 2, 0).numpy()[:, :, ::-1] * 255).round().astype(np.uint8)
    _, encoded = cv2.imencode(".jpg", bgr, [int(cv2.IMWRITE_JPEG_QUALITY), 50])
    reference = cv2.imdecode(encoded, cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float32) / 255.0
    ours = ours[0].permute(1, 2, 0).numpy()
    # same quantisation tables; rounding differs, so a close but not bit-exact match
    assert np.abs(ours - reference).mean() < 0.01


def test_pool_passes_batches_through_until_full_then_swaps():
    pool = TrainingPairPool(size=4, batch_size=2)
    first = (torch.full((2, 1, 2, 2), 1.0), torch.full((2, 1, 8, 8), 1.0))
    second = (torch.full((2, 1, 2, 2), 2.0), torch.full((2, 1, 8, 8), 2.0))
    third = (torch.full((2, 1, 2, 2), 3.0), torch.full((2, 1, 8, 8), 3.0))
    assert pool.swap(*first, seed=0)[0] is first[0]
    pool.swap(*second, seed=0)
    lq, gt = pool.swap(*third, seed=0)
    assert set(lq.flatten().tolist()) <= {1.0, 2.0}
    assert torch.equal(lq[:, :, :1, :1].flatten(), gt[:, :, :1, :1].flatten())  # pairs stay together
    assert sorted(pool.lq[:, 0, 0, 0].tolist()).count(3.0) == 2


def test_pool_state_round_trip_continues_identically():
    def run(pool, start, stop):
        outs = []
        for step in range(start, stop):
            batch = torch.full((2, 1, 2, 2), float(step))
            outs.append(pool.swap(batch, batch.repeat(1, 1, 4, 4), seed=step)[0])
        return outs

    straight = TrainingPairPool(size=6, batch_size=2)
    expected = run(straight, 0, 8)
    resumed = TrainingPairPool(size=6, batch_size=2)
    run(resumed, 0, 5)
    restored = TrainingPairPool(size=6, batch_size=2)
    restored.load_state_dict(resumed.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(run(restored, 5, 8), expected[5:]))


def test_pool_size_must_be_a_multiple_of_the_batch():
    with pytest.raises(ArgumentError, match="^queue_size: 5 is not a multiple of the batch size 2"):
        TrainingPairPool(size=5, batch_size=2)


def _tile_batch(step, n=2):
    batch = _kernels(n, seed0=10 * step)
    batch["gt"] = torch.roll(_photo_batch(n), shifts=step * 8, dims=-1)
    return batch


def test_pairs_are_cropped_to_gt_size_with_the_lr_matching_the_crop():
    pairs = RealWorldPairs(stage_settings({}), scale=4, gt_size=32, queue_size=0, batch_size=2)
    out = pairs(_tile_batch(0), seed=3)
    assert out["gt"].shape == (2, 3, 32, 32) and out["lq"].shape == (2, 3, 8, 8)
    # the crop is taken at the same place: the GT crop's area-downscale is close to the LR crop
    area = torch.nn.functional.interpolate(out["gt"], scale_factor=0.25, mode="area")
    other = torch.nn.functional.interpolate(torch.flip(out["gt"], dims=[-1]), scale_factor=0.25, mode="area")
    assert (out["lq"] - area).abs().mean() < (out["lq"] - other).abs().mean()
    assert torch.allclose(out["gt_usm"], SeparableUSM()(out["gt"]))


def test_pairs_with_pool_resume_to_the_same_batches():
    def run(pairs, start, stop):
        return [pairs(_tile_batch(step), seed=step) for step in range(start, stop)]

    straight = run(RealWorldPairs(stage_settings({}), 4, 32, queue_size=4, batch_size=2), 0, 5)
    first = RealWorldPairs(stage_settings({}), 4, 32, queue_size=4, batch_size=2)
    run(first, 0, 3)
    resumed = RealWorldPairs(stage_settings({}), 4, 32, queue_size=4, batch_size=2)
    resumed.load_state_dict(first.state_dict())
    for a, b in zip(run(resumed, 3, 5), straight[3:]):
        assert torch.equal(a["lq"], b["lq"]) and torch.equal(a["gt"], b["gt"])


def test_gt_size_larger_than_the_tiles_is_refused():
    pairs = RealWorldPairs(stage_settings({}), scale=4, gt_size=128, queue_size=0, batch_size=2)
    with pytest.raises(ValueError, match="gt_size 128 is larger than the HR tiles"):
        pairs(_tile_batch(0), seed=0)


def test_an_image_smaller_than_the_blur_kernel_is_filtered_not_refused():
    stage = SecondOrderDegradation(STAGE_DEFAULTS, 2)
    kernel = torch.zeros(1, 21, 21)
    kernel[0, 10, 10] = 1.0  # identity: the output must be the input, edge widening and all
    img = torch.rand(1, 3, 7, 9)
    assert torch.allclose(stage._filter(img, kernel), img, atol=1e-6)


def _stripes_downscaled(antialias, draws=12):
    # one bright column in three: finer than what a 16-pixel-wide image can hold
    stripes = (torch.arange(64) % 3 == 0).float().view(1, 1, 1, 64)
    img = stripes.expand(1, 3, 64, 64).contiguous()
    stage = SecondOrderDegradation(stage_settings({"resize_antialias": antialias}), 4)
    random.seed(0)  # the stage draws each resize's mode from python's generator
    return [stage._resize(img, "2", size=(16, 16)) for _ in range(draws)]


def test_resize_antialias_averages_what_a_downscale_would_alias():
    # low-passed first (MATLAB's imresize, image editors) the stripes become nearly flat grey; 'area' (one of the
    # modes drawn) averages 4x4 blocks and keeps a little of them
    assert max(float(out.std()) for out in _stripes_downscaled(True)) < 0.125
    # Real-ESRGAN's plain bilinear / bicubic interpolation samples them instead: strong aliased stripes remain
    assert max(float(out.std()) for out in _stripes_downscaled(False)) > 0.2


def test_each_resize_draws_its_mode_from_its_own_list():
    img = torch.rand(1, 3, 32, 32)
    stage = SecondOrderDegradation(stage_settings({"resize_mode_list": ["nearest"], "resize_mode_prob": [1],
                                                   "resize_mode_list3": ["bicubic", "area"],
                                                   "resize_mode_prob3": [1, 0]}), 4)
    nearest = F.interpolate(img, size=(8, 8), mode="nearest")
    bicubic = F.interpolate(img, size=(8, 8), mode="bicubic")
    assert all(torch.equal(stage._resize(img, "", size=(8, 8)), nearest) for _ in range(5))
    assert all(torch.equal(stage._resize(img, "3", size=(8, 8)), bicubic) for _ in range(5))


def test_resize_modes_are_drawn_with_their_probabilities():
    img = torch.rand(1, 1, 8, 8)
    stage = SecondOrderDegradation(stage_settings({"resize_mode_list2": ["nearest", "bilinear"],
                                                   "resize_mode_prob2": [3, 1]}), 4)
    nearest = F.interpolate(img, size=(4, 4), mode="nearest")
    random.seed(0)
    share = np.mean([torch.equal(stage._resize(img, "2", size=(4, 4)), nearest) for _ in range(2000)])
    assert abs(share - 0.75) < 0.04  # weights, not necessarily summing to one, as random.choices takes them


def test_jpeg_prob_is_the_share_of_batches_compressed():
    img = _photo_batch(1, 32)
    stage = SecondOrderDegradation(stage_settings({"jpeg_prob2": 0.3, "jpeg_range2": [30, 30]}), 4)
    np.random.seed(0)
    compressed = [not torch.equal(stage._compress(img, "2"), img) for _ in range(300)]
    assert abs(np.mean(compressed) - 0.3) < 0.08
    never = SecondOrderDegradation(stage_settings({"jpeg_prob": 0.0}), 4)
    assert torch.equal(never._compress(img, ""), img)


def _downscale_only(**opt):
    """A stage that only downscales (bicubic, antialiased), with identity kernels."""
    settings = stage_settings({"resize_prob": [0, 0, 1], "resize_prob2": [0, 0, 1], "second_blur_prob": 0,
                               "gaussian_noise_prob": 1, "noise_range": [0, 0], "gaussian_noise_prob2": 1,
                               "noise_range2": [0, 0], "jpeg_prob": 0, "jpeg_prob2": 0, "resize_antialias": True,
                               **{f"resize_mode_list{s}": ["bicubic"] for s in RESIZE_STAGES},
                               **{f"resize_mode_prob{s}": [1] for s in RESIZE_STAGES}, **opt})
    pulse = torch.zeros(1, PADDED_SIZE, PADDED_SIZE)
    pulse[0, PADDED_SIZE // 2, PADDED_SIZE // 2] = 1
    return SecondOrderDegradation(settings, 4), {"kernel1": pulse, "kernel2": pulse, "sinc_kernel": pulse}


@pytest.mark.parametrize("lq_usm", [True, False])
def test_lq_usm_chooses_whether_the_lr_is_made_from_the_sharpened_gt(lq_usm):
    gt = _photo_batch(1, 64)
    stage, kernels = _downscale_only(lq_usm=lq_usm)
    gt_usm, lq = stage(gt, seed=0, **kernels)
    start = gt_usm if lq_usm else gt
    expected = F.interpolate(start, size=(16, 16), mode="bicubic", antialias=True).clamp(0, 1)
    torch.testing.assert_close(lq, (expected * 255).round() / 255, rtol=0, atol=1.01 / 255)
    other = F.interpolate(gt if lq_usm else gt_usm, size=(16, 16), mode="bicubic", antialias=True)
    assert (lq - other).abs().max() > 4 / 255  # the two starts differ visibly
