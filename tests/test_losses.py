"""Pixel losses: hand-computed values and agreement with basicsr.losses (values and gradients)."""
import math

import pytest
import torch

from srgan_kit.compat import import_basicsr
from srgan_kit.errors import OptionError
from srgan_kit.losses.pixel import CharbonnierLoss, L1Loss, MSELoss
from srgan_kit.registry import LOSSES

PRED = torch.tensor([0.0, 2.0, 3.0]).view(1, 1, 1, 3)
TARGET = torch.ones(1, 1, 1, 3)
MASK = torch.tensor([1.0, 0.0, 1.0]).view(1, 1, 1, 3)


@pytest.mark.parametrize(
    "loss, reduction, weight, expected",
    [
        (L1Loss(), "mean", None, 4 / 3),
        (L1Loss(reduction="sum"), "sum", None, 4.0),
        (L1Loss(loss_weight=0.5), "mean", None, 2 / 3),
        (L1Loss(), "mean", MASK, 1.5),  # mean over the kept elements: (1 + 2) / 2
        (L1Loss(reduction="sum"), "sum", MASK, 3.0),
        (MSELoss(), "mean", None, 2.0),  # (1 + 1 + 4) / 3
        (MSELoss(loss_weight=2.0, reduction="sum"), "sum", None, 12.0),
        (MSELoss(), "mean", MASK, 2.5),  # (1 + 4) / 2
        (CharbonnierLoss(eps=1.0), "mean", None, (2 * math.sqrt(2) + math.sqrt(5)) / 3),
        (CharbonnierLoss(), "mean", None, 4 / 3),  # eps 1e-12: L1 up to rounding
    ],
)
def test_pixel_losses_hand_values(loss, reduction, weight, expected):
    assert loss.reduction == reduction
    assert loss(PRED, TARGET, weight).item() == pytest.approx(expected, rel=1e-6)


def test_reduction_none_is_elementwise():
    out = L1Loss(loss_weight=2.0, reduction="none")(PRED, TARGET)
    assert out.flatten().tolist() == [2.0, 2.0, 4.0]


def test_one_channel_weight_counts_once_per_channel():
    pred, target = torch.zeros(1, 3, 1, 2), torch.ones(1, 3, 1, 2)
    weight = torch.tensor([1.0, 0.0]).view(1, 1, 1, 2)
    # 3 channels x 1 kept pixel, each |0 - 1| = 1: sum 3 over weight 1 * 3 channels
    assert L1Loss()(pred, target, weight).item() == pytest.approx(1.0)


def test_bad_reduction_is_an_option_error():
    with pytest.raises(OptionError, match="reduction"):
        L1Loss(reduction="average")


def test_registered_and_built_from_options():
    loss = LOSSES.build({"type": "CharbonnierLoss", "loss_weight": 0.5, "eps": 1e-6})
    assert isinstance(loss, CharbonnierLoss) and loss.loss_weight == 0.5 and loss.eps == 1e-6
    assert {"L1Loss", "MSELoss", "CharbonnierLoss"} <= set(LOSSES.names())


@pytest.mark.parametrize("name, kwargs", [("L1Loss", {}), ("MSELoss", {}), ("CharbonnierLoss", {"eps": 1e-3})])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weight_channels", [None, 1, 3])
def test_matches_basicsr(name, kwargs, reduction, weight_channels):
    ref_mod = import_basicsr("basicsr.losses.basic_loss")
    g = torch.Generator().manual_seed(0)
    pred = torch.rand(2, 3, 6, 5, generator=g)
    target = torch.rand(2, 3, 6, 5, generator=g)
    weight = None if weight_channels is None else torch.rand(2, weight_channels, 6, 5, generator=g)
    ours_in, ref_in = pred.clone().requires_grad_(), pred.clone().requires_grad_()
    ours = LOSSES.build({"type": name, "loss_weight": 0.7, "reduction": reduction, **kwargs})(ours_in, target, weight)
    ref = getattr(ref_mod, name)(loss_weight=0.7, reduction=reduction, **kwargs)(ref_in, target, weight)
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-7)
    ours.sum().backward()
    ref.sum().backward()
    torch.testing.assert_close(ours_in.grad, ref_in.grad, rtol=1e-6, atol=1e-7)
