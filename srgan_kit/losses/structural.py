"""Structural-similarity terms, through pytorch-msssim (MIT): ``SSIMLoss`` = loss_weight * (1 - SSIM) and
``MSSSIMLoss`` = loss_weight * (1 - MS-SSIM), on RGB in [0, 1] (data_range 1) with an 11x11 Gaussian window of
sigma 1.5, per channel, as Wang et al. define them. The names are traiNNer-redux's. MS-SSIM downsamples four
times, so its smaller image side must exceed (win_size - 1) * 16: 160 pixels with the default window; a smaller
window fits smaller crops (win_size 7: above 96)."""
from torch import nn

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
