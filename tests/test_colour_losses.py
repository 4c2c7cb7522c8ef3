"""ColorLoss, LumaLoss and HSLuvLoss: HSLuv as the reference hsluv package converts, chroma as scikit-image's
rgb2ycbcr, lightness as its rgb2lab, the HSLuv term's hue rules by hand, nothing on identical images and finite
gradients on black, white and grey pixels."""
import numpy as np
import pytest
import torch
from skimage.color import rgb2lab, rgb2ycbcr

from srgan_kit.errors import ArgumentError
from srgan_kit.losses.colour import ColorLoss, HSLuvLoss, LumaLoss, rgb_to_hsluv

# hsluv 5.0.5 (pip, MIT; the reference implementation of hsluv.org): hsluv.rgb_to_hsluv(rgb) -> (H, S, L)
HSLUV_5_0_5 = {
    (1.0, 0.0, 0.0): (12.177050630061776, 100.00000000000222, 53.23711559542933),
    (0.0, 0.0, 1.0): (265.8743202181779, 100.00000000000082, 32.30087290398002),
    (0.2, 0.6, 0.9): (244.89133901935384, 90.91975974022316, 60.93129595024537),
    (0.95, 0.8, 0.1): (68.60514644564701, 98.11310726862416, 83.00967859977459),
    (0.7, 0.3, 0.55): (332.98547339144415, 60.47555896907263, 47.83440882070909),
    (0.02, 0.01, 0.03): (287.4708731116731, 38.22192103787426, 0.9487572947293219),  # CIE's linear segment
    (0.5, 0.5, 0.5): (0.0, 1.903044173925207e-12, 53.38896474111415),
    (1.0, 1.0, 1.0): (0.0, 0.0, 100.0),
    (0.0, 0.0, 0.0): (0.0, 0.0, 0.0),
}
RED, BLUE, GREY = (1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.5, 0.5, 0.5)


def flat(rgb, size=2):
    return torch.tensor(rgb, dtype=torch.float64).view(1, 3, 1, 1).expand(1, 3, size, size).contiguous()


def as_numpy(x):
    return x[0].permute(1, 2, 0).numpy()


def test_hsluv_conversion_matches_the_reference_package():
    colours = torch.tensor(list(HSLUV_5_0_5), dtype=torch.float64).T.reshape(1, 3, 1, -1)
    ours = rgb_to_hsluv(colours)[0, :, 0].T
    torch.testing.assert_close(ours, torch.tensor(list(HSLUV_5_0_5.values()), dtype=torch.float64),
                               rtol=0, atol=1e-9)


@pytest.mark.parametrize("a, b", [(RED, BLUE), (GREY, RED)])
def test_hsluv_loss_of_two_flat_colours_is_the_hand_computed_mix(a, b):
    (ha, sa, la), (hb, sb, lb) = ((h / 360, s / 100, l / 100) for h, s, l in (HSLUV_5_0_5[a], HSLUV_5_0_5[b]))
    turn = abs(ha - hb)
    # the shortest way round the hue circle, times 2; between a grey and a colour: the larger saturation
    hue = max(sa, sb) if (sa < 0.1) != (sb < 0.1) else 2 * min(turn, 1 - turn)
    saturation = abs(sa - sb) * (min(la, 1 - la) + min(lb, 1 - lb))
    expected = (hue + saturation + abs(la - lb)) / 3
    assert HSLuvLoss(loss_weight=2.0)(flat(a), flat(b)).item() == pytest.approx(2 * expected, rel=1e-9)


def test_color_loss_is_the_l1_of_scikit_images_block_averaged_chroma():
    g = torch.Generator().manual_seed(0)
    a, b = (torch.rand(1, 3, 8, 8, generator=g, dtype=torch.float64) for _ in range(2))
    # Cb, Cr in [16, 240] of the 0..255 scale, averaged over 4 x 4 blocks
    blocks = [rgb2ycbcr(as_numpy(x))[..., 1:].reshape(2, 4, 2, 4, 2).mean((1, 3)) for x in (a, b)]
    expected = np.abs(blocks[0] - blocks[1]).mean() / 255
    assert ColorLoss(loss_weight=0.5)(a, b).item() == pytest.approx(0.5 * expected, rel=1e-9)


def test_luma_loss_is_the_l1_of_scikit_images_cielab_lightness_over_100():
    g = torch.Generator().manual_seed(1)
    a, b = (torch.rand(1, 3, 4, 4, generator=g, dtype=torch.float64) ** 3 for _ in range(2))  # dark ones too
    expected = np.abs(rgb2lab(as_numpy(a))[..., 0] - rgb2lab(as_numpy(b))[..., 0]).mean() / 100
    assert LumaLoss()(a, b).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("loss", [ColorLoss(), LumaLoss(), HSLuvLoss(), HSLuvLoss(blur_strength=1, downscale_factor=2)])
def test_identical_images_cost_nothing(loss):
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    assert loss(x, x).item() == 0


@pytest.mark.parametrize("loss", [ColorLoss(), LumaLoss(), HSLuvLoss()])
def test_gradients_are_finite_on_black_white_and_grey_pixels(loss):
    colours = torch.tensor([[0.0, 1.0, 0.5, 0.0], [0.0, 1.0, 0.5, 1.0], [0.0, 1.0, 0.5, 0.0]]).view(1, 3, 1, 4)
    pred = colours.repeat(1, 1, 4, 1).requires_grad_()  # 4 x 4: black, white, grey and green columns
    loss(pred, torch.full_like(pred, 0.3)).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad[..., :3].abs().sum() > 0


@pytest.mark.parametrize("make, key", [
    (lambda: ColorLoss(criterion="l3"), "criterion"),
    (lambda: ColorLoss(scale=0), "scale"),
    (lambda: LumaLoss(criterion="huber"), "criterion"),
    (lambda: HSLuvLoss(hue_weight=-1), "hue_weight"),
    (lambda: HSLuvLoss(downscale_factor=1.5), "downscale_factor"),
    (lambda: HSLuvLoss(blur_strength=-1), "blur_strength"),
])
def test_a_bad_value_names_its_key(make, key):
    with pytest.raises(ArgumentError) as info:
        make()
    assert info.value.argument == key
