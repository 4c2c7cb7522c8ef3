"""PSNR and SSIM with BasicSR's conventions (the numbers SR papers report).

- Y channel is MATLAB's ``rgb2ycbcr`` luma: Y = 16 + 65.481 R + 128.553 G + 24.966 B for RGB in [0, 1]
  (result in [16, 235] on the 0..255 scale).
- ``crop_border`` pixels are removed from every edge before measuring (usually the scale factor).
- SSIM uses an 11x11 Gaussian window (sigma 1.5) in "valid" mode, averaged over channels.

The work is done once, in torch, on batched NCHW tensors in [0, 1] (``psnr_torch`` / ``ssim_torch``, float64,
any device). ``calculate_psnr`` / ``calculate_ssim`` wrap them for numpy images in [0, 255] with BasicSR's
signature, except that 3-channel images are in **RGB** order (srgan_kit reads images as RGB; BasicSR's
numpy functions expect BGR).
"""
import numpy as np
import torch
import torch.nn.functional as F

from srgan_kit.registry import METRICS

# MATLAB rgb2ycbcr luma row, for RGB in [0, 1] -> Y in [0, 255].
_Y_WEIGHTS = (65.481, 128.553, 24.966)
_Y_OFFSET = 16.0

_SSIM_WINDOW = 11
_SSIM_SIGMA = 1.5


def rgb2y(img):
    """MATLAB Y of an RGB tensor ``(N, 3, H, W)`` in [0, 1] -> ``(N, 1, H, W)`` in [0, 1] (no rounding)."""
    if img.ndim != 4 or img.shape[1] != 3:
        raise ValueError(f"rgb2y expects an (N, 3, H, W) tensor, got shape {tuple(img.shape)}")
    w = torch.tensor(_Y_WEIGHTS, dtype=img.dtype, device=img.device).view(1, 3, 1, 1)
    return ((img * w).sum(dim=1, keepdim=True) + _Y_OFFSET) / 255.0


def _prepare(img, img2, crop_border, test_y_channel):
    """Shared front end: check shapes, crop borders, optionally take Y; returns float64 tensors."""
    if img.shape != img2.shape:
        raise ValueError(f"image shapes differ: {tuple(img.shape)} vs {tuple(img2.shape)}")
    if img.ndim != 4:
        raise ValueError(f"expected (N, C, H, W) tensors, got shape {tuple(img.shape)}")
    if crop_border:
        c = int(crop_border)
        if min(img.shape[-2:]) <= 2 * c:
            raise ValueError(f"crop_border={c} leaves nothing of a {img.shape[-2]}x{img.shape[-1]} image")
        img = img[..., c:-c, c:-c]
        img2 = img2[..., c:-c, c:-c]
    img = img.to(torch.float64)
    img2 = img2.to(torch.float64)
    # Like BasicSR, only 3-channel images are converted; single-channel ones are already "Y".
    if test_y_channel and img.shape[1] == 3:
        img, img2 = rgb2y(img), rgb2y(img2)
    return img, img2


def psnr_torch(img, img2, crop_border=0, test_y_channel=False):
    """PSNR in dB per image of ``(N, C, H, W)`` tensors in [0, 1] -> float64 tensor ``(N,)``.

    Identical images give ``inf`` (no epsilon, unlike BasicSR's torch version, so it agrees with its numpy one).
    """
    img, img2 = _prepare(img, img2, crop_border, test_y_channel)
    mse = ((img - img2) ** 2).mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(1.0 / mse)  # mse == 0 -> +inf, which is the right answer


def _gaussian_window(channels, dtype, device):
    # Same numbers as cv2.getGaussianKernel(11, 1.5): exp(-(x - 5)^2 / (2 sigma^2)), normalised.
    x = torch.arange(_SSIM_WINDOW, dtype=torch.float64) - (_SSIM_WINDOW - 1) / 2
    g = torch.exp(-(x**2) / (2 * _SSIM_SIGMA**2))
    g = g / g.sum()
    window = torch.outer(g, g).to(dtype=dtype, device=device)
    return window.expand(channels, 1, _SSIM_WINDOW, _SSIM_WINDOW)


def ssim_torch(img, img2, crop_border=0, test_y_channel=False):
    """SSIM per image of ``(N, C, H, W)`` tensors in [0, 1] -> float64 tensor ``(N,)`` (mean over channels)."""
    img, img2 = _prepare(img, img2, crop_border, test_y_channel)
    h, w = img.shape[-2:]
    if min(h, w) < _SSIM_WINDOW:
        raise ValueError(f"SSIM needs images of at least {_SSIM_WINDOW}x{_SSIM_WINDOW} after cropping, got {h}x{w}")
    c1 = 0.01**2  # constants for data range 1 (BasicSR uses (0.01*255)^2 on the 0..255 scale: same SSIM)
    c2 = 0.03**2
    channels = img.shape[1]
    window = _gaussian_window(channels, img.dtype, img.device)

    def blur(x):  # "valid" Gaussian filtering, per channel
        return F.conv2d(x, window, groups=channels)

    mu1, mu2 = blur(img), blur(img2)
    mu1_sq, mu2_sq, mu1_mu2 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    sigma1_sq = blur(img * img) - mu1_sq
    sigma2_sq = blur(img2 * img2) - mu2_sq
    sigma12 = blur(img * img2) - mu1_mu2
    ssim_map = ((2 * mu1_mu2 + c1) * (2 * sigma12 + c2)) / ((mu1_sq + mu2_sq + c1) * (sigma1_sq + sigma2_sq + c2))
    return ssim_map.mean(dim=(1, 2, 3))


def _numpy_to_nchw(img, input_order):
    """HWC / CHW / HW numpy image in [0, 255] -> float64 tensor (1, C, H, W) in [0, 1]."""
    if input_order not in ("HWC", "CHW"):
        raise ValueError(f"input_order must be 'HWC' or 'CHW', got {input_order!r}")
    arr = np.asarray(img)
    if arr.ndim == 2:  # grayscale: one channel, whatever input_order says (as BasicSR)
        arr = arr[None]
    elif input_order == "HWC":
        arr = arr.transpose(2, 0, 1)
    if arr.ndim != 3:
        raise ValueError(f"expected an HxW or 3-dimensional image, got shape {np.asarray(img).shape}")
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float64))[None] / 255.0


@METRICS.register(aliases=("psnr",))
def calculate_psnr(img, img2, crop_border, input_order="HWC", test_y_channel=False):
    """PSNR (dB) of two numpy images in [0, 255] (uint8 or float), RGB order; ``inf`` when identical."""
    if np.shape(img) != np.shape(img2):
        raise ValueError(f"image shapes differ: {np.shape(img)} vs {np.shape(img2)}")
    a, b = _numpy_to_nchw(img, input_order), _numpy_to_nchw(img2, input_order)
    return float(psnr_torch(a, b, crop_border, test_y_channel)[0])


@METRICS.register(aliases=("ssim",))
def calculate_ssim(img, img2, crop_border, input_order="HWC", test_y_channel=False):
    """SSIM of two numpy images in [0, 255] (uint8 or float), RGB order, mean over channels."""
    if np.shape(img) != np.shape(img2):
        raise ValueError(f"image shapes differ: {np.shape(img)} vs {np.shape(img2)}")
    a, b = _numpy_to_nchw(img, input_order), _numpy_to_nchw(img2, input_order)
    return float(ssim_torch(a, b, crop_border, test_y_channel)[0])
