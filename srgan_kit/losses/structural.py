"""Structural-similarity terms, through pytorch-msssim (MIT): ``SSIMLoss`` = loss_weight * (1 - SSIM) and
``MSSSIMLoss`` = loss_weight * (1 - MS-SSIM), on RGB in [0, 1] (data_range 1) with an 11x11 Gaussian window of
sigma 1.5, per channel, as Wang et al. define them. The names are traiNNer-redux's. MS-SSIM downsamples four
times, so its smaller image side must exceed (win_size - 1) * 16: 160 pixels with the default window; a smaller
window fits smaller crops (win_size 7: above 96).

``MSSSIML1Loss`` is Zhao et al.'s mix ("Loss Functions for Image Restoration with Neural Networks", 2017):
alpha * (1 - MS-SSIM) + (1 - alpha) * G * |x - y|, computed per pixel at full resolution, the scales being Gaussian
windows of growing sigma (0.5, 1, 2, 4, 8) instead of downsampling, luminance from the largest, all exponents 1 as
in the paper, and the L1 map weighted by the largest Gaussian; alpha 0.84 is the paper's.
"""
import torch
from torch import nn
from torch.nn import functional as F

from srgan_kit.errors import ArgumentError
from srgan_kit.losses.structural_options import msssim_sizes
from srgan_kit.registry import LOSSES


def _check_window(win_size, win_sigma):
    if int(win_size) < 3 or int(win_size) % 2 == 0:
        raise ArgumentError("win_size", f"an odd number >= 3, got {win_size}")
    if float(win_sigma) <= 0:
        raise ArgumentError("win_sigma", f"must be > 0, got {win_sigma}")


class _Structural(nn.Module):
    term = None  # the logged name

    def __init__(self, loss_weight=1.0, win_size=11, win_sigma=1.5):
        super().__init__()
        _check_window(win_size, win_sigma)
        self.loss_weight, self.win_size, self.win_sigma = float(loss_weight), int(win_size), float(win_sigma)

    def similarity(self, pred, target):
        raise NotImplementedError

    def forward(self, pred, target):
        return self.loss_weight * (1 - self.similarity(pred, target))

    def generator_terms(self, view):
        return {self.term: self(view.sr.float(), view.target("pixel"))}  # in fp32 even under autocast

    def extra_repr(self):
        return f"loss_weight={self.loss_weight}, win_size={self.win_size}, win_sigma={self.win_sigma}"


@LOSSES.register(aliases=("ssimloss",))
class SSIMLoss(_Structural):
    """1 - SSIM (Wang et al. 2004)."""

    term = "ssim"

    def similarity(self, pred, target):
        from pytorch_msssim import ssim

        return ssim(pred, target, data_range=1.0, win_size=self.win_size, win_sigma=self.win_sigma)


@LOSSES.register(aliases=("mssimloss", "MSSIMLoss"))
class MSSSIMLoss(_Structural):
    """1 - MS-SSIM (Wang et al. 2003), five scales with the paper's weights."""

    term = "msssim"
    size_requirements = staticmethod(msssim_sizes)  # the option loader checks the training crops with it

    def similarity(self, pred, target):
        from pytorch_msssim import ms_ssim

        rule = msssim_sizes({"win_size": self.win_size})
        if not rule.accepts(min(pred.shape[-2:])):
            raise ArgumentError("win_size", f"MS-SSIM with win_size {self.win_size} takes images of "
                                            f"{rule.describe()} pixels, got {min(pred.shape[-2:])}")
        return ms_ssim(pred, target, data_range=1.0, win_size=self.win_size, win_sigma=self.win_sigma)


def _gaussian_taps(sigma, radius, dtype, device):
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-(x * x) / (2 * sigma * sigma))
    return (g / g.sum()).to(dtype=dtype, device=device)


def _blur(x, taps):
    """Separable Gaussian filter per channel, replicate padding: the output has the input's size."""
    c, r = x.shape[1], (taps.numel() - 1) // 2
    x = F.pad(x, (r, r, r, r), mode="replicate")
    x = F.conv2d(x, taps.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return F.conv2d(x, taps.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)


@LOSSES.register(aliases=("msssiml1loss",))
class MSSSIML1Loss(nn.Module):
    """Zhao et al.'s MS-SSIM + L1 mix (module docstring); logged as ``l_msssiml1``."""

    C1, C2 = 0.01**2, 0.03**2  # SSIM's constants for data range 1

    def __init__(self, loss_weight=1.0, alpha=0.84, gaussian_sigmas=(0.5, 1.0, 2.0, 4.0, 8.0)):
        super().__init__()
        if not 0 <= float(alpha) <= 1:
            raise ArgumentError("alpha", f"the share of the MS-SSIM term, in [0, 1], got {alpha}")
        sigmas = [float(s) for s in gaussian_sigmas]
        if not sigmas or min(sigmas) <= 0:
            raise ArgumentError("gaussian_sigmas", f"a non-empty list of positive sigmas, got {list(gaussian_sigmas)}")
        self.loss_weight, self.alpha, self.sigmas = float(loss_weight), float(alpha), sigmas
        self.radius = int(2 * max(sigmas))  # every window spans +-2 of the largest sigma

    def forward(self, pred, target):
        cs, mu_x, mu_y = 1.0, None, None
        for sigma in self.sigmas:
            taps = _gaussian_taps(sigma, self.radius, pred.dtype, pred.device)
            mu_x, mu_y, xx, yy, xy = _blur(torch.cat([pred, target, pred * pred, target * target, pred * target],
                                                     1), taps).chunk(5, 1)
            var_x, var_y, cov = xx - mu_x * mu_x, yy - mu_y * mu_y, xy - mu_x * mu_y
            cs = cs * F.relu((2 * cov + self.C2) / (var_x + var_y + self.C2))
        luminance = (2 * mu_x * mu_y + self.C1) / (mu_x * mu_x + mu_y * mu_y + self.C1)  # the largest window's
        l1 = _blur((pred - target).abs(), taps)
        mix = self.alpha * (1 - luminance * cs) + (1 - self.alpha) * l1
        return self.loss_weight * mix.mean()

    def generator_terms(self, view):
        return {"msssiml1": self(view.sr.float(), view.target("pixel"))}

    def extra_repr(self):
        return f"loss_weight={self.loss_weight}, alpha={self.alpha}, gaussian_sigmas={self.sigmas}"
