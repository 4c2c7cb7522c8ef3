"""SobelEdgeLoss: the Sobel maps of a step edge computed by hand, nothing on identical images, bad keys named."""
import pytest
import torch

from srgan_kit.errors import ArgumentError
from srgan_kit.losses.edge import SobelEdgeLoss


@pytest.mark.parametrize("criterion, expected", [("l2", 0.0625), ("l1", 0.125)])
def test_sobel_loss_of_a_step_edge_against_a_flat_image_is_the_hand_computed_value(criterion, expected):
    # Grey 4 x 4, columns 0, 0, 0.5, 0.5 (luma the same). Sobel / 4 with the border replicated: the horizontal map is
    # (1 + 2 + 1) / 4 * (right - left) = 0, 0.5, 0.5, 0 on every row, the vertical one 0. Against a flat image: 8 of
    # the 32 values differ by 0.5, so l2 8 * 0.25 / 32 and l1 8 * 0.5 / 32.
    step = torch.tensor([0.0, 0.0, 0.5, 0.5]).expand(1, 3, 4, 4)
    assert SobelEdgeLoss(criterion=criterion)(step, torch.zeros(1, 3, 4, 4)).item() == pytest.approx(expected)


def test_identical_images_cost_nothing():
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    assert SobelEdgeLoss()(x, x).item() == 0


def test_a_bad_criterion_names_its_key():
    with pytest.raises(ArgumentError) as info:
        SobelEdgeLoss(criterion="l3")
    assert info.value.argument == "criterion"
