"""Real-ESRGAN's second-order degradation: synthetic real-world LR made on the fly from HR crops.

Two halves, as in Real-ESRGAN, so that the expensive part runs batched on the training device:
- :func:`draw_kernels` runs in the data workers, one call per sample: the two blur kernels and the final
  sinc filter, drawn with basicsr's kernel functions from the dataset's ``blur_*``/``*2``/``final_sinc_prob``
  keys.
- :class:`SecondOrderDegradation` runs on the device, one call per batch: USM-sharpened GT, blur, random
  resize, Gaussian/Poisson noise and JPEG, twice, then resize-back + sinc and JPEG in a random order.
  The filters, JPEG and noise are basicsr's, reached through :mod:`srgan_kit.compat`; the unsharp mask is
  basicsr's computed with a separable blur (:class:`SeparableUSM`).

Both take an explicit integer seed and run their draws under it with the process-wide generators saved and
restored around them (basicsr's functions draw from numpy's and torch's global generators), so the same seed
gives the same kernels and the same degraded batch, and the caller's random streams are left untouched.
:class:`TrainingPairPool` is Real-ESRGAN's ``queue_size`` pool, with its contents in the training state;
:class:`RealWorldPairs` chains the stage, the ``gt_size`` crop, the pool and the USM target for one batch.
"""
import contextlib
import math
import random

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from srgan_kit.compat import import_basicsr
from srgan_kit.data.degradation_keys import (KERNEL_DEFAULTS, KERNEL_SIZES, RESIZE_CHOICES, RESIZE_MODES,
                                            RESIZE_STAGES, STAGE_DEFAULTS, check_degradation, check_pool_size)

PADDED_SIZE = KERNEL_SIZES[-1]  # every kernel is zero-padded to the largest size
ANTIALIASED_MODES = ("bilinear", "bicubic")  # 'area' averages already; nearest modes pick pixels by design


@contextlib.contextmanager
def seeded_global_rngs(seed, devices=()):
    """Run a block with python's, numpy's and torch's global generators seeded, then restore them."""
    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=list(devices)):
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


def _one_kernel(settings, suffix):
    degradations = import_basicsr("basicsr.data.degradations")
    size = int(np.random.choice(KERNEL_SIZES))
    if np.random.uniform() < settings["sinc_prob" + suffix]:
        # small kernels get a higher cutoff so they are not all ringing
        low = math.pi / 3 if size < 13 else math.pi / 5
        kernel = degradations.circular_lowpass_kernel(np.random.uniform(low, math.pi), size, pad_to=False)
    else:
        sigma = settings["blur_sigma" + suffix]
        kernel = degradations.random_mixed_kernels(
            settings["kernel_list" + suffix], settings["kernel_prob" + suffix], size, sigma, sigma,
            [-math.pi, math.pi], settings["betag_range" + suffix], settings["betap_range" + suffix],
            noise_range=None)
    pad = (PADDED_SIZE - size) // 2
    return np.pad(kernel, ((pad, pad), (pad, pad)))


def _final_sinc(settings):
    degradations = import_basicsr("basicsr.data.degradations")
    if np.random.uniform() < settings["final_sinc_prob"]:
        size = int(np.random.choice(KERNEL_SIZES))
        return degradations.circular_lowpass_kernel(np.random.uniform(math.pi / 3, math.pi), size,
                                                    pad_to=PADDED_SIZE)
    pulse = np.zeros((PADDED_SIZE, PADDED_SIZE))
    pulse[PADDED_SIZE // 2, PADDED_SIZE // 2] = 1.0  # identity filter: no final sinc for this sample
    return pulse


def kernel_settings(opt):
    """The dataset's kernel keys over :data:`KERNEL_DEFAULTS`, checked (ArgumentError naming the key)."""
    settings = {key: opt.get(key, default) for key, default in KERNEL_DEFAULTS.items()}
    check_degradation(settings)
    return settings


def draw_kernels(settings, seed):
    """The two blur kernels and the final sinc filter of one sample, each a (21, 21) float32 tensor."""
    with seeded_global_rngs(seed):
        kernels = {"kernel1": _one_kernel(settings, ""), "kernel2": _one_kernel(settings, "2"),
                   "sinc_kernel": _final_sinc(settings)}
    return {name: torch.from_numpy(np.ascontiguousarray(k, dtype=np.float32)) for name, k in kernels.items()}


def stage_settings(opt):
    """The model's degradation keys over :data:`STAGE_DEFAULTS`, checked (ArgumentError naming the key)."""
    settings = {key: opt.get(key, default) for key, default in STAGE_DEFAULTS.items()}
    check_degradation(settings)
    return settings


def _resize_factor(probs, factor_range):
    kind = random.choices(RESIZE_CHOICES, probs)[0]
    if kind == "up":
        return np.random.uniform(1, factor_range[1])
    if kind == "down":
        return np.random.uniform(factor_range[0], 1)
    return 1.0


class SeparableUSM(torch.nn.Module):
    """basicsr's ``USMSharp`` (unsharp mask, 51-tap Gaussian, soft threshold mask) with the Gaussian blur run
    as two 1-D passes: the same result to float rounding, 25x fewer multiply-adds than its 51x51 2-D filter
    (which is most of the degradation's cost on a CPU)."""

    def __init__(self, radius=50, sigma=0):
        super().__init__()
        radius += 1 - radius % 2  # odd, as basicsr makes it
        taps = torch.from_numpy(cv2.getGaussianKernel(radius, sigma)[:, 0].astype(np.float32))
        self.register_buffer("taps", taps)

    def blur(self, img):
        b, c, h, w = img.shape
        k, pad = self.taps.numel(), self.taps.numel() // 2
        flat = img.reshape(b * c, 1, h, w)
        flat = F.conv2d(F.pad(flat, (0, 0, pad, pad), mode="reflect"), self.taps.view(1, 1, k, 1))
        flat = F.conv2d(F.pad(flat, (pad, pad, 0, 0), mode="reflect"), self.taps.view(1, 1, 1, k))
        return flat.view(b, c, h, w)

    def forward(self, img, weight=0.5, threshold=10):
        residual = img - self.blur(img)
        # sharpen only where the detail exceeds threshold grey levels, feathered by the same blur
        soft_mask = self.blur((torch.abs(residual) * 255 > threshold).float())
        sharp = torch.clip(img + weight * residual, 0, 1)
        return soft_mask * sharp + (1 - soft_mask) * img


class SecondOrderDegradation:
    """Makes (gt_usm, lq) from a batch of HR tiles and their per-sample kernels, on the batch's device: the
    sharpened GT the degradation starts from, and the 8-bit LR."""

    def __init__(self, settings, scale, device="cpu"):
        img_process = import_basicsr("basicsr.utils.img_process_util")
        diffjpeg = import_basicsr("basicsr.utils.diffjpeg")
        self.settings = dict(settings)
        self.scale = int(scale)
        self.usm = SeparableUSM().to(device)
        self.jpeg = diffjpeg.DiffJPEG(differentiable=False).to(device)
        self._filter2d = img_process.filter2D
        self._noise = import_basicsr("basicsr.data.degradations")

    def _filter(self, img, kernel):
        # basicsr's filter2D reshapes with view(): JPEG and resize outputs need to be made contiguous
        img = img.contiguous()
        half, short = kernel.shape[-1] // 2, min(img.shape[-2:])
        if short > half:
            return self._filter2d(img, kernel)
        # Its reflect padding needs more pixels than the kernel's radius; a strong downscale of a small tile
        # leaves fewer, so such an image is widened by edge pixels first and cut back after.
        extra = half - short + 1
        widened = F.pad(img, (extra, extra, extra, extra), mode="replicate").contiguous()
        return self._filter2d(widened, kernel)[..., extra:-extra, extra:-extra]

    def _add_noise(self, out, suffix):
        s, gray = self.settings, self.settings["gray_noise_prob" + suffix]
        if np.random.uniform() < s["gaussian_noise_prob" + suffix]:
            return self._noise.random_add_gaussian_noise_pt(out, sigma_range=s["noise_range" + suffix],
                                                            clip=True, rounds=False, gray_prob=gray)
        return self._noise.random_add_poisson_noise_pt(out, scale_range=s["poisson_scale_range" + suffix],
                                                       gray_prob=gray, clip=True, rounds=False)

    def _compress(self, out, suffix):
        s = self.settings
        # drawn only when it can say no, so that the default draws exactly what Real-ESRGAN's stage draws
        if s["jpeg_prob" + suffix] < 1 and np.random.uniform() >= s["jpeg_prob" + suffix]:
            return out
        quality = out.new_zeros(out.size(0)).uniform_(*s["jpeg_range" + suffix])
        # values outside [0, 1] make the JPEG round trip ring
        return self.jpeg(torch.clamp(out, 0, 1), quality=quality)

    def _resize(self, out, stage, **size):
        s = self.settings
        mode = random.choices(s["resize_mode_list" + stage], weights=s["resize_mode_prob" + stage])[0]
        antialias = s["resize_antialias"] and mode in ANTIALIASED_MODES
        return F.interpolate(out, mode=mode, antialias=antialias, **size)

    def _resize_back_and_sinc(self, out, size, sinc_kernel):
        return self._filter(self._resize(out, "3", size=size), sinc_kernel)

    @torch.no_grad()
    def __call__(self, gt, kernel1, kernel2, sinc_kernel, seed):
        s = self.settings
        height, width = gt.shape[-2:]
        devices = [gt.device.index or 0] if gt.device.type == "cuda" else []
        with seeded_global_rngs(seed, devices):
            gt_usm = self.usm(gt)
            out = self._filter(gt_usm if s["lq_usm"] else gt, kernel1)
            factor = _resize_factor(s["resize_prob"], s["resize_range"])
            out = self._resize(out, "", scale_factor=factor)
            out = self._add_noise(out, "")
            out = self._compress(out, "")

            if np.random.uniform() < s["second_blur_prob"]:
                out = self._filter(out, kernel2)
            factor = _resize_factor(s["resize_prob2"], s["resize_range2"])
            size = (int(height / self.scale * factor), int(width / self.scale * factor))
            out = self._resize(out, "2", size=size)
            out = self._add_noise(out, "2")

            # resize-back + sinc before or after the last JPEG; other orders give twisted lines
            lq_size = (height // self.scale, width // self.scale)
            if np.random.uniform() < 0.5:
                out = self._resize_back_and_sinc(out, lq_size, sinc_kernel)
                out = self._compress(out, "2")
            else:
                out = self._compress(out, "2")
                out = self._resize_back_and_sinc(out, lq_size, sinc_kernel)
        lq = torch.clamp((out * 255.0).round(), 0, 255) / 255.0  # LR images are 8-bit in the real world
        return gt_usm, lq.contiguous()


PAIRED_COIN = 0x9E3779B97F4A7C15  # decorrelates the paired-or-degraded coin from the batch's other draws


class TrainingPairPool:
    """A fixed-size pool of (lq, gt) pairs that batches are swapped through, so one batch mixes images.

    Until the pool is full, batches pass through unchanged and are stored; after that each batch is shuffled
    into the pool and a batch of the same size comes out. Shuffles use the given seed, so the pool is
    reproducible; :meth:`state_dict` carries its contents across a resume.
    """

    def __init__(self, size, batch_size):
        check_pool_size(size, batch_size)
        self.size = size
        self.lq = self.gt = None
        self.filled = 0

    def swap(self, lq, gt, seed):
        b = lq.size(0)
        if self.lq is None:
            self.lq = lq.new_zeros((self.size, *lq.shape[1:]))
            self.gt = gt.new_zeros((self.size, *gt.shape[1:]))
        if self.filled < self.size:
            self.lq[self.filled:self.filled + b] = lq
            self.gt[self.filled:self.filled + b] = gt
            self.filled += b
            return lq, gt
        generator = torch.Generator().manual_seed(seed)
        order = torch.randperm(self.size, generator=generator).to(self.lq.device)
        self.lq, self.gt = self.lq[order], self.gt[order]
        out_lq, out_gt = self.lq[:b].clone(), self.gt[:b].clone()
        self.lq[:b], self.gt[:b] = lq, gt
        return out_lq, out_gt

    def state_dict(self):
        return {"filled": self.filled, "lq": self.lq, "gt": self.gt}

    def load_state_dict(self, state):
        self.filled, self.lq, self.gt = state["filled"], state["lq"], state["gt"]


class RealWorldPairs:
    """Training pairs from a batch of HR tiles and their kernels: the degradation, one ``gt_size`` crop position
    for the batch, the training-pair pool (``queue_size``; 0 = none), then the USM of the GT crop for the
    losses that train on the sharpened target (``*_gt_usm``). All of it under the batch's seed.

    With ``paired_prob`` > 0 and a batch that carries ready-made pairs (``paired_lq`` / ``paired_gt``, from
    RealESRGANPairedDataset), that share of the batches, chosen by their seed, trains on those pairs instead:
    no degradation and no pool, the sharpened GT still made."""

    def __init__(self, settings, scale, gt_size, queue_size, batch_size, device="cpu", paired_prob=0.0):
        self.degrade = SecondOrderDegradation(settings, scale, device)
        self.scale, self.gt_size, self.device = int(scale), int(gt_size), torch.device(device)
        self.pool = TrainingPairPool(queue_size, batch_size) if queue_size else None
        self.paired_prob = float(paired_prob)

    def _crop(self, gt, lq, seed):
        size = self.gt_size // self.scale
        h, w = lq.shape[-2:]
        if min(h, w) < size:
            raise ValueError(f"gt_size {self.gt_size} is larger than the HR tiles ({h * self.scale}x{w * self.scale})")
        rng = random.Random(seed)
        top, left = rng.randint(0, h - size), rng.randint(0, w - size)
        s = self.scale
        return gt[..., top * s:(top + size) * s, left * s:(left + size) * s], lq[..., top:top + size, left:left + size]

    def uses_paired(self, batch, seed):
        """Whether this batch trains on its ready-made pairs (a coin of probability ``paired_prob``)."""
        return "paired_lq" in batch and random.Random(seed ^ PAIRED_COIN).random() < self.paired_prob

    @torch.no_grad()
    def __call__(self, batch, seed):
        if self.uses_paired(batch, seed):
            lq, gt = batch["paired_lq"], batch["paired_gt"]
        else:
            _, lq = self.degrade(batch["gt"], batch["kernel1"], batch["kernel2"], batch["sinc_kernel"], seed)
            gt, lq = self._crop(batch["gt"], lq, seed)
            if self.pool is not None:
                lq, gt = self.pool.swap(lq.contiguous(), gt.contiguous(), seed)
        return {"lq": lq.contiguous(), "gt": gt.contiguous(), "gt_usm": self.degrade.usm(gt.contiguous())}

    def state_dict(self):
        """The pool's contents, on the CPU (so that any process or device can take them back)."""
        if self.pool is None:
            return {"pool": None}
        return {"pool": {k: v.cpu() if torch.is_tensor(v) else v for k, v in self.pool.state_dict().items()}}

    def load_state_dict(self, state):
        if self.pool is not None and state.get("pool") is not None:
            self.pool.load_state_dict({k: v.to(self.device) if torch.is_tensor(v) else v
                                       for k, v in state["pool"].items()})
