"""``LDLLoss``: locally discriminative learning (Liang et al., "Details or Artifacts", CVPR 2022).

GAN training makes both fine texture and artifacts; LDL penalises only the pixels it judges to be artifacts. From
the residual R = sum over channels of |GT - SR| it builds a map

    M = var(R)^(1/5) * var_7x7(R)        (the image's residual variance times the local one, reflect-padded)

and sets M to 0 wherever the EMA generator's residual is larger than the online generator's: there the online
model is already better than the stable one, so the detail is kept. The term is
``loss_weight * criterion(M * SR, M * GT)``, with M held fixed (no gradient through the map), as in the paper's code.
It needs the EMA generator (``train.ema_decay`` > 0).
"""
import torch
from torch import nn
from torch.nn import functional as F

from srgan_kit.errors import ArgumentError
from srgan_kit.losses.pixel import check_criterion, elementwise
from srgan_kit.registry import LOSSES


def local_variance(x, ksize):
    """Unbiased variance of each pixel's ksize x ksize neighbourhood (reflect padding), N x 1 x H x W."""
    pad = (ksize - 1) // 2
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    mean = F.avg_pool2d(padded, ksize, stride=1)
    mean_sq = F.avg_pool2d(padded * padded, ksize, stride=1)
    n = ksize * ksize
    return (mean_sq - mean * mean).clamp_min(0) * (n / (n - 1))


@torch.no_grad()
def artifact_map(gt, sr, ema_sr, ksize=7):
    """LDL's refined artifact map (N x 1 x H x W) of ``sr`` against ``gt``, given the EMA generator's ``ema_sr``."""
    residual = (gt - sr).abs().sum(1, keepdim=True)
    residual_ema = (gt - ema_sr).abs().sum(1, keepdim=True)
    image_level = residual.var(dim=(1, 2, 3), keepdim=True) ** (1 / 5)
    weight = image_level * local_variance(residual, ksize)
    return weight.masked_fill(residual < residual_ema, 0)


@LOSSES.register(aliases=("ldlloss",))
class LDLLoss(nn.Module):
    """criterion(M * SR, M * GT) with LDL's artifact map M (module docstring); logged as ``l_ldl``."""

    needs_ema = True  # the objective hands it the EMA generator's output

    def __init__(self, loss_weight=1.0, criterion="l1", ksize=7):
        super().__init__()
        check_criterion(criterion)
        if int(ksize) < 3 or int(ksize) % 2 == 0:
            raise ArgumentError("ksize", f"an odd window size >= 3, got {ksize}")
        self.loss_weight, self.criterion_type, self.ksize = float(loss_weight), criterion, int(ksize)

    def forward(self, sr, gt, ema_sr):
        weight = artifact_map(gt, sr, ema_sr, self.ksize)
        return self.loss_weight * elementwise(self.criterion_type, weight * sr, weight * gt).mean()

    def generator_terms(self, view):
        return {"ldl": self(view.sr.float(), view.target("pixel"), view.ema_output().float())}

    def extra_repr(self):
        return f"loss_weight={self.loss_weight}, criterion={self.criterion_type!r}, ksize={self.ksize}"
