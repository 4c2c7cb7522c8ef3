"""MATLAB bicubic: equal to BasicSR's imresize (1e-5), and to MATLAB's own LR files of Set5."""
import numpy as np
import pytest

from srgan_kit.compat import import_basicsr
from srgan_kit.data.degradation import (
    _cubic,
    bicubic_pair,
    downsample_crop,
    imresize,
    imresize_int,
    mod_crop,
)
from srgan_kit.data.imageio import load_image

SCALES = [1 / 2, 1 / 3, 1 / 4, 2, 4]


@pytest.fixture(scope="module")
def basicsr_imresize():
    return import_basicsr("basicsr.utils.matlab_functions").imresize


@pytest.fixture(scope="module")
def photo():
    import skimage.data

    return skimage.data.astronaut()[100:171, 150:247].astype(np.float32) / 255.0  # odd 71x97 crop


def test_cubic_kernel_values():
    # Keys' kernel with a = -0.5, hand-computed
    np.testing.assert_allclose(_cubic(np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, -0.5])),
                               [1.0, 0.5625, 0.0, -0.0625, 0.0, 0.0, 0.5625])


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("shape", [(37, 53, 3), (31, 29), (8, 9, 3)])
def test_matches_basicsr_on_random_images(basicsr_imresize, scale, shape):
    img = np.random.default_rng(0).random(shape).astype(np.float32)
    ours, ref = imresize(img, scale), basicsr_imresize(img, scale)
    assert ours.shape == ref.shape and ours.dtype == np.float32
    assert np.abs(ours - ref).max() < 1e-5


@pytest.mark.parametrize("scale", SCALES)
def test_matches_basicsr_on_a_photo(basicsr_imresize, photo, scale):
    ours, ref = imresize(photo, scale), basicsr_imresize(photo, scale)
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() < 1e-5


def test_no_antialiasing_matches_basicsr(basicsr_imresize, photo):
    ours, ref = imresize(photo, 1 / 3, antialiasing=False), basicsr_imresize(photo, 1 / 3, antialiasing=False)
    assert np.abs(ours - ref).max() < 1e-5


def test_simple_properties(photo):
    assert imresize(photo, 1.0).shape == photo.shape
    np.testing.assert_allclose(imresize(photo, 1.0), photo, atol=1e-6)  # scale 1 is the identity
    flat = np.full((13, 10, 3), 0.3, np.float64)
    out = imresize(flat, 1 / 4)
    assert out.dtype == np.float64 and out.shape == (4, 3, 3)  # ceil(13/4), ceil(10/4)
    np.testing.assert_allclose(out, 0.3, atol=1e-12)  # weights sum to one
    assert imresize(np.zeros((10, 10), np.uint8), 0.5).dtype == np.float32


def test_mod_crop_and_bicubic_pair(photo):
    assert mod_crop(photo, 4).shape == (68, 96, 3)
    assert mod_crop(photo[:, :, 0], 3).shape == (69, 96)
    hr, lr = bicubic_pair(photo, 4)
    assert hr.shape == (68, 96, 3) and lr.shape == (17, 24, 3)
    np.testing.assert_array_equal(lr, imresize(mod_crop(photo, 4), 1 / 4))


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_downsample_crop_equals_the_crop_of_the_whole_lr(photo, scale):
    hr = mod_crop(photo, scale)
    full = imresize(hr, 1 / scale)
    h, w = full.shape[:2]
    for top, left, size in [(0, 0, 5), (h - 6, w - 6, 6), (3, 7, 8), (0, w - 4, 4), (2, 1, 1)]:
        patch = downsample_crop(hr, scale, top, left, size, size)
        np.testing.assert_allclose(patch, full[top : top + size, left : left + size], atol=1e-6)


def test_set5_x4_against_matlab_lr(shared_dir):
    """Our x4 LR of Set5 vs the LR MATLAB made: one grey level apart except on the outermost LR pixels.

    MATLAB replicates edge pixels and rounds to uint8 between its row and column passes; BasicSR (and our
    default) mirrors and does not round in between. Measured over Set5 x2/x3/x4: mean |diff| <= 0.00065,
    max 7 levels (borders only), <= 0.9% of values off by more than one level, interior max 2.
    """
    set5 = shared_dir / "data" / "Set5" / "X4"
    for hr_path in sorted((set5 / "HR").glob("*.png")):
        hr = load_image(hr_path).rgb
        matlab = np.round(load_image(set5 / "LR" / f"{hr_path.stem}x4.png").rgb * 255)
        ours = np.round(np.clip(imresize(hr, 1 / 4), 0, 1) * 255)
        assert ours.shape == matlab.shape, hr_path.name
        diff = np.abs(ours - matlab)
        assert diff.mean() < 0.5, hr_path.name  # i.e. mean abs < 0.5/255 in [0, 1] units
        assert (diff > 1).mean() < 0.015, hr_path.name
        assert diff[2:-2, 2:-2].max() <= 2, hr_path.name
        assert diff.max() <= 8, hr_path.name


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_imresize_int_is_bit_exact_with_matlab(shared_dir, scale):
    folder = shared_dir / "data" / "Set5" / f"X{scale}"
    for hr_path in sorted((folder / "HR").glob("*.png")):
        hr = np.round(load_image(hr_path).rgb * 255).astype(np.uint8)
        matlab = np.round(load_image(folder / "LR" / f"{hr_path.stem}x{scale}.png").rgb * 255)
        ours = imresize_int(hr, 1 / scale)
        assert ours.dtype == np.uint8
        np.testing.assert_array_equal(ours, matlab, err_msg=hr_path.name)


def test_imresize_int_rounds_halves_up_and_saturates():
    # a step edge: bicubic overshoots below 0 and above 255, MATLAB's uint8 cast saturates
    img = np.zeros((8, 8), np.uint8)
    img[:, 4:] = 255
    out = imresize_int(img, 2)
    assert out.dtype == np.uint8 and out.min() == 0 and out.max() == 255
    ref = np.clip(np.floor(np.clip(imresize(img.astype(np.float64), 2, border="replicate"), 0, 255) + 0.5), 0, 255)
    np.testing.assert_array_equal(out, ref)  # 1-D edge: no rounding between passes matters
    with pytest.raises(ValueError, match="uint8 or uint16"):
        imresize_int(img.astype(np.float32), 0.5)


def test_imresize_int_keeps_the_levels_of_uint16():
    # columns of random 16-bit levels (low bytes matter) beside a saturating step, constant down each column
    row = np.concatenate([np.random.default_rng(0).integers(0, 65536, 12), np.zeros(6), np.full(6, 65535)])
    img = np.repeat(row[None, :], 8, axis=0).astype(np.uint16)
    out = imresize_int(img, 0.5)
    ref = np.floor(np.clip(imresize(img.astype(np.float64), 0.5, border="replicate"), 0, 65535) + 0.5)
    assert out.dtype == np.uint16 and out.max() == 65535
    np.testing.assert_array_equal(out, ref)
