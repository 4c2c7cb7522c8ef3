"""FFTLoss and FFLoss: the FFT term as numpy's rfft2 computes it, the focal frequency loss as its authors' package
does (times traiNNer-redux's 50), nothing on identical images, bad keys named (a training run with every new term:
tests/test_modern_objective.py)."""
import numpy as np
import pytest
import torch

from srgan_kit.errors import ArgumentError
from srgan_kit.losses.frequency import FFLoss, FFTLoss


def images():
    """Two deterministic 2 x 3 x 4 x 6 float64 batches in [0, 1)."""
    i = torch.arange(2 * 3 * 4 * 6, dtype=torch.float64).reshape(2, 3, 4, 6)
    return (i * 0.37) % 1, (i * 0.61 + 0.2) % 1


@pytest.mark.parametrize("norm, divisor", [("backward", 1.0), ("ortho", np.sqrt(4 * 6))])
def test_fft_loss_is_the_mean_absolute_difference_of_numpys_rfft2_real_and_imaginary_parts(norm, divisor):
    a, b = images()
    diff = (np.fft.rfft2(a.numpy()) - np.fft.rfft2(b.numpy())) / divisor  # over the last two axes, H and W
    expected = np.mean(np.abs(np.stack([diff.real, diff.imag], -1)))
    assert FFTLoss(loss_weight=0.5, norm=norm)(a, b).item() == pytest.approx(0.5 * expected, rel=1e-12)


# focal-frequency-loss 0.3.0 (pip, MIT; Jiang et al.'s package): FocalFrequencyLoss(ave_spectrum=True, **options)
# on images() -- the default ave_spectrum here is traiNNer-redux's True, the package's is False.
FOCAL_FREQUENCY_LOSS_0_3_0 = [
    ({}, 0.07385841396067296),
    ({"ave_spectrum": False}, 0.12546911502254196),
    ({"patch_factor": 2}, 0.08594459601014437),
    ({"alpha": 2.0, "ave_spectrum": False}, 0.10333156000459193),
    ({"log_matrix": True}, 0.07643654861614343),
    ({"batch_matrix": True, "ave_spectrum": False}, 0.09778687117962344),
]


@pytest.mark.parametrize("options, reference", FOCAL_FREQUENCY_LOSS_0_3_0)
def test_ff_loss_is_the_reference_packages_value_times_50(options, reference):
    a, b = images()
    assert FFLoss(loss_weight=0.2, **options)(a, b).item() == pytest.approx(0.2 * 50 * reference, rel=1e-12)


@pytest.mark.parametrize("loss", [FFTLoss(), FFLoss(), FFLoss(ave_spectrum=False, log_matrix=True)])
def test_identical_images_cost_nothing(loss):
    a, _ = images()
    assert loss(a, a).item() == 0


@pytest.mark.parametrize("make, key", [
    (lambda: FFTLoss(reduction="none"), "reduction"),
    (lambda: FFTLoss(norm="unitary"), "norm"),
    (lambda: FFLoss(alpha=-1), "alpha"),
    (lambda: FFLoss(patch_factor=0), "patch_factor"),
    (lambda: FFLoss(patch_factor=4)(*images()), "patch_factor"),  # 4 does not divide 6
])
def test_a_bad_value_names_its_key(make, key):
    with pytest.raises(ArgumentError) as info:
        make()
    assert info.value.argument == key
