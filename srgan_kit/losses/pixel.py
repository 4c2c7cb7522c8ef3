"""Pixel losses with BasicSR's semantics: ``loss_weight * reduce(elementwise_loss * weight)``.

``weight`` (optional, N x 1|C x H x W) masks / weights elements. With reduction 'mean' and a weight,
the sum is divided by the weight's total (broadcast over channels when it has one channel), as in
basicsr.losses.loss_util.weight_reduce_loss, so a 0/1 mask averages over the kept pixels only.
"""
import torch
from torch import nn
from torch.nn import functional as F

from srgan_kit.errors import ArgumentError
from srgan_kit.registry import LOSSES

REDUCTIONS = ("none", "mean", "sum")
# Element-wise criteria the newer terms share (CharbonnierLoss below keeps its own eps).
CRITERIA = ("l1", "l2", "charbonnier")
CHARBONNIER_EPS = 1e-12


def check_criterion(criterion):
    if criterion not in CRITERIA:
        raise ArgumentError("criterion", f"must be one of {', '.join(CRITERIA)}, got {criterion!r}")
    return criterion


def elementwise(criterion, a, b):
    """The criterion's value at each element of ``a`` against ``b`` (not reduced)."""
    d = a - b
    if criterion == "l1":
        return d.abs()
    if criterion == "l2":
        return d * d
    return torch.sqrt(d * d + CHARBONNIER_EPS)


def weight_reduce(loss, weight=None, reduction="mean"):
    """Apply an element-wise weight, then reduce ('none' | 'mean' | 'sum')."""
    if weight is not None:
        if weight.dim() != loss.dim() or weight.size(1) not in (1, loss.size(1)):
            raise ValueError(f"loss weight of shape {tuple(weight.shape)} does not fit loss {tuple(loss.shape)}")
        loss = loss * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if weight is None:
        return loss.mean()
    # Mean over the weighted region: a one-channel weight counts once per channel.
    total = weight.sum() if weight.size(1) > 1 else weight.sum() * loss.size(1)
    return loss.sum() / total


class _PixelLoss(nn.Module):
    def __init__(self, loss_weight=1.0, reduction="mean"):
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ArgumentError("reduction", f"must be one of {', '.join(REDUCTIONS)}, got {reduction!r}")
        self.loss_weight = float(loss_weight)
        self.reduction = reduction

    def elementwise(self, pred, target):
        raise NotImplementedError

    def forward(self, pred, target, weight=None, **kwargs):
        return self.loss_weight * weight_reduce(self.elementwise(pred, target), weight, self.reduction)

    def generator_terms(self, view):
        return {"pix": self(view.sr.float(), view.target("pixel"))}  # in fp32 even under autocast

    def extra_repr(self):
        return f"loss_weight={self.loss_weight}, reduction={self.reduction!r}"


@LOSSES.register()
class L1Loss(_PixelLoss):
    """Mean absolute error."""

    def elementwise(self, pred, target):
        return F.l1_loss(pred, target, reduction="none")


@LOSSES.register()
class MSELoss(_PixelLoss):
    """Mean squared error (L2)."""

    def elementwise(self, pred, target):
        return F.mse_loss(pred, target, reduction="none")


@LOSSES.register()
class CharbonnierLoss(_PixelLoss):
    """sqrt((pred - target)^2 + eps): a differentiable L1 (LapSRN). BasicSR's eps default 1e-12."""

    def __init__(self, loss_weight=1.0, reduction="mean", eps=1e-12):
        super().__init__(loss_weight, reduction)
        self.eps = float(eps)

    def elementwise(self, pred, target):
        return torch.sqrt((pred - target) ** 2 + self.eps)
