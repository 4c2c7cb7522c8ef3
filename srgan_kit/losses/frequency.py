"""Frequency-domain terms, under traiNNer-redux's names. Both compare the 2-D discrete Fourier transforms of the
output and the target, per image and channel, so they weigh fine detail (high frequencies) and large areas (low
frequencies) by what each frequency carries rather than pixel by pixel.

``FFTLoss``: L1 between ``torch.fft.rfft2`` of output and target, real and imaginary parts taken as separate
numbers, as traiNNer-redux and LKFMixer define it. Their transform is unnormalised (``norm: backward``, the
default here), so a coefficient is a sum over the image and the term grows with the crop's side; ``norm: ortho``
divides by sqrt(H * W) and makes it independent of the crop size.

``FFLoss``: focal frequency loss (Jiang et al., "Focal Frequency Loss for Image Reconstruction and Synthesis",
ICCV 2021). The squared distance |F_pred - F_target|^2 of each (orthonormal) frequency, weighted by
|F_pred - F_target|^alpha scaled to [0, 1] (per image and channel, or over the batch with ``batch_matrix``;
logarithmic with ``log_matrix``). The weights carry no gradient: they focus the term on the frequencies the
generator currently gets most wrong. ``patch_factor`` p splits the image into p x p patches transformed
separately; ``ave_spectrum`` compares the batch-average spectra. The value is 50 times the reference package's
(``focal-frequency-loss``) with traiNNer-redux's default ``ave_spectrum: true``, so traiNNer-redux's weights carry
over unchanged (neosr's FFLoss has no factor 50: its weight w is w / 50 here).
"""
import torch
from torch import nn
from torch.nn import functional as F

from srgan_kit.errors import ArgumentError
from srgan_kit.registry import LOSSES

FFT_NORMS = ("backward", "ortho", "forward")  # torch.fft's names
FFT_REDUCTIONS = ("mean", "sum")
FF_SCALE = 50.0  # traiNNer-redux's factor over the paper's loss


@LOSSES.register(aliases=("fftloss",))
class FFTLoss(nn.Module):
    """L1 between the real FFTs of output and target, real and imaginary parts apart; logged as ``l_fft``."""

    def __init__(self, loss_weight=1.0, reduction="mean", norm="backward"):
        super().__init__()
        if reduction not in FFT_REDUCTIONS:
            raise ArgumentError("reduction", f"must be one of {', '.join(FFT_REDUCTIONS)}, got {reduction!r}")
        if norm not in FFT_NORMS:
            raise ArgumentError("norm", f"must be one of {', '.join(FFT_NORMS)}, got {norm!r}")
        self.loss_weight, self.reduction, self.norm = float(loss_weight), reduction, norm

    def spectrum(self, x):
        """N x C x H x (W // 2 + 1) x 2: the real and imaginary parts of each channel's rfft2."""
        return torch.view_as_real(torch.fft.rfft2(x, norm=self.norm))

    def forward(self, pred, target):
        return self.loss_weight * F.l1_loss(self.spectrum(pred), self.spectrum(target), reduction=self.reduction)

    def generator_terms(self, view):
        return {"fft": self(view.sr.float(), view.target("pixel"))}  # in fp32 even under autocast

    def extra_repr(self):
        return f"loss_weight={self.loss_weight}, reduction={self.reduction!r}, norm={self.norm!r}"


@LOSSES.register(aliases=("ffloss",))
class FFLoss(nn.Module):
    """Focal frequency loss (module docstring); logged as ``l_ff``."""

    def __init__(self, loss_weight=1.0, alpha=1.0, patch_factor=1, ave_spectrum=True, log_matrix=False,
                 batch_matrix=False):
        super().__init__()
        if float(alpha) < 0:
            raise ArgumentError("alpha", f"the exponent of the spectrum weights, >= 0, got {alpha}")
        if int(patch_factor) != patch_factor or int(patch_factor) < 1:
            raise ArgumentError("patch_factor", f"the number of patches per side, an integer >= 1, got {patch_factor}")
        self.loss_weight, self.alpha, self.patch_factor = float(loss_weight), float(alpha), int(patch_factor)
        self.ave_spectrum, self.log_matrix, self.batch_matrix = bool(ave_spectrum), bool(log_matrix), bool(batch_matrix)

    def spectrum(self, x):
        """N x p*p x C x H/p x W/p complex: the orthonormal 2-D DFT of each patch, patches in row-major order."""
        n, c, h, w = x.shape
        p = self.patch_factor
        if h % p or w % p:
            raise ArgumentError("patch_factor", f"{p} must divide the image's height and width, got {h}x{w}")
        patches = x.reshape(n, c, p, h // p, p, w // p).permute(0, 2, 4, 1, 3, 5).reshape(n, p * p, c, h // p, w // p)
        return torch.fft.fft2(patches, norm="ortho")

    def forward(self, pred, target):
        pred_freq, target_freq = self.spectrum(pred), self.spectrum(target)
        if self.ave_spectrum:
            pred_freq, target_freq = pred_freq.mean(0, keepdim=True), target_freq.mean(0, keepdim=True)
        diff = pred_freq - target_freq
        distance = diff.real**2 + diff.imag**2
        with torch.no_grad():
            weight = distance.sqrt() ** self.alpha
            if self.log_matrix:
                weight = torch.log1p(weight)
            top = weight.amax() if self.batch_matrix else weight.amax(dim=(-2, -1), keepdim=True)
            weight = torch.nan_to_num(weight / top, nan=0.0).clamp(0, 1)  # 0 / 0 where nothing differs
        return self.loss_weight * FF_SCALE * (weight * distance).mean()

    def generator_terms(self, view):
        return {"ff": self(view.sr.float(), view.target("pixel"))}  # in fp32 even under autocast

    def extra_repr(self):
        return (f"loss_weight={self.loss_weight}, alpha={self.alpha}, patch_factor={self.patch_factor}, "
                f"ave_spectrum={self.ave_spectrum}, log_matrix={self.log_matrix}, batch_matrix={self.batch_matrix}")
