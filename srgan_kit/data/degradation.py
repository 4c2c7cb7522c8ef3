"""MATLAB-compatible bicubic resizing (``imresize(img, scale)`` with antialiasing) in vectorised numpy.

SR benchmarks make their LR images with MATLAB's antialiased bicubic; OpenCV's and PIL's bicubic differ from
it by several grey levels, which shifts PSNR. Each axis is resized separately with MATLAB's weights; the sum
runs over kernel taps, vectorised over all pixels, so the cost is O(taps x pixels) whatever the image size.

Two conventions exist and both are here:
- :func:`imresize` (default ``border="symmetric"``) equals BasicSR's ``matlab_functions.imresize``, the
  de-facto Python reference: float in, float out, mirrored borders.
- :func:`imresize_int` reproduces MATLAB itself on 8-bit images bit for bit: MATLAB clamps indices at the
  border (edge replication) and, for integer input, rounds to the input's type after the row pass as well as
  at the end (uint16 alike, on 65535 levels).
  The two agree in the interior to within one grey level and differ by a few levels on the outer two
  LR pixels.
"""
import math

import numpy as np


def _cubic(x):
    """Keys' cubic convolution kernel (a = -0.5), as MATLAB's imresize uses it."""
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    inner = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    outer = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return inner + outer


_BORDERS = ("symmetric", "replicate")


def _axis_weights(in_len, out_len, scale, antialiasing, border="symmetric"):
    """Input indices (0-based, within the image) and weights, each (out_len, taps), for one axis."""
    kernel_width = 4.0
    shrink = scale < 1 and antialiasing
    if shrink:
        kernel_width /= scale  # a wider kernel interpolates and low-passes at once
    x = np.arange(1, out_len + 1, dtype=np.float64)
    # output pixel centres mapped into input coordinates (1-based, pixel centres at integers)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2.0)
    taps = int(math.ceil(kernel_width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]
    dist = u[:, None] - idx
    weights = scale * _cubic(dist * scale) if shrink else _cubic(dist)
    weights /= weights.sum(axis=1, keepdims=True)
    keep = np.any(weights != 0, axis=0)  # first/last taps are always outside the kernel
    weights, idx = weights[:, keep], idx[:, keep].astype(np.int64) - 1
    if border == "replicate":  # MATLAB's imresize: clamp, i.e. repeat the edge pixel
        return np.clip(idx, 0, in_len - 1), weights
    # BasicSR: mirror including the edge pixel (..., 1, 0, 0, 1, ...), for any overhang
    period = 2 * in_len
    idx = np.mod(idx, period)
    idx = np.where(idx < in_len, idx, period - 1 - idx)
    return idx, weights


def _resize_axis(img, out_len, scale, antialiasing, axis, border="symmetric"):
    idx, weights = _axis_weights(img.shape[axis], out_len, scale, antialiasing, border)
    weights = weights.astype(img.dtype)
    # broadcast each tap's weight along the other axes
    shape = [1] * img.ndim
    shape[axis] = out_len
    out = None
    for k in range(idx.shape[1]):
        term = np.take(img, idx[:, k], axis=axis) * weights[:, k].reshape(shape)
        out = term if out is None else out + term
    return out


def _out_len(in_len, scale):
    # ceil, ignoring float noise: 5 * 0.2 may come out as 1.0000000000000002 and must give 1, not 2
    return int(math.ceil(round(in_len * scale, 9)))


def _check(img, scale, border):
    img = np.asarray(img)
    if img.ndim not in (2, 3):
        raise ValueError(f"imresize expects an HxW or HxWxC array, got shape {img.shape}")
    if not scale > 0:
        raise ValueError(f"imresize scale must be > 0, got {scale!r}")
    if border not in _BORDERS:
        raise ValueError(f"imresize border must be one of {_BORDERS}, got {border!r}")
    return img


def imresize(img, scale, antialiasing=True, border="symmetric"):
    """Resize ``img`` (HxW or HxWxC, values in any range) by ``scale`` with MATLAB's bicubic weights.

    Output size is ``ceil(H * scale) x ceil(W * scale)``; no rounding or clipping. float64 input gives float64,
    anything else float32 (with its values unchanged, e.g. 0..255 stays 0..255). Rows are resized first, then
    columns (the order MATLAB and BasicSR use). ``border="symmetric"`` equals BasicSR's imresize;
    ``"replicate"`` equals MATLAB's own imresize on double images.
    """
    img = _check(img, scale, border)
    dtype = np.float64 if img.dtype == np.float64 else np.float32
    img = img.astype(dtype, copy=False)
    out_h, out_w = _out_len(img.shape[0], scale), _out_len(img.shape[1], scale)
    out = _resize_axis(img, out_h, scale, antialiasing, 0, border)
    return _resize_axis(out, out_w, scale, antialiasing, 1, border)


def _round_saturating(x, peak):
    # MATLAB's saturating cast: clip, and round halves away from zero (numpy's round goes to even)
    return np.floor(np.clip(x, 0.0, peak) + 0.5)


_INT_PEAKS = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def imresize_int(img, scale, antialiasing=True):
    """MATLAB's ``imresize(img, scale)`` on a uint8 or uint16 image, bit for bit: HxW[xC] in, the same type out.

    Use it to write LR files identical to MATLAB-made benchmark sets (it reproduces Set5's shipped LR).
    """
    img = _check(img, scale, "replicate")
    peak = _INT_PEAKS.get(img.dtype)
    if peak is None:
        raise ValueError(f"imresize_int expects a uint8 or uint16 image, got {img.dtype}")
    out_h, out_w = _out_len(img.shape[0], scale), _out_len(img.shape[1], scale)
    out = _round_saturating(_resize_axis(img.astype(np.float64), out_h, scale, antialiasing, 0, "replicate"), peak)
    out = _round_saturating(_resize_axis(out, out_w, scale, antialiasing, 1, "replicate"), peak)
    return out.astype(img.dtype)


def mod_crop(img, scale):
    """Crop the bottom/right of ``img`` (HxW[xC]) so that height and width are multiples of ``scale``."""
    scale = int(scale)
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale, ...]


def bicubic_pair(hr, scale):
    """``(hr mod-cropped to scale, its LR by MATLAB bicubic 1/scale)``; the LR is unrounded float."""
    hr = mod_crop(hr, scale)
    return hr, imresize(hr, 1.0 / scale)


# How far (in LR pixels) the down-sampling kernel of any integer scale reaches beyond an LR pixel's own
# footprint: 2 LR pixels (kernel width 4/scale in HR = 4 LR pixels, half each side), plus one for safety.
_LR_MARGIN = 3


def downsample_crop(hr, scale, top, left, lr_h, lr_w):
    """LR patch ``[top:top+lr_h, left:left+lr_w]`` of ``imresize(hr, 1/scale)`` without resizing all of ``hr``.

    ``hr`` must already be mod-cropped to the integer ``scale``. Resizing is shift-equivariant for shifts that
    are multiples of ``scale``, and the image border is only reached when the patch touches it, so resizing a
    region with a small margin and cutting the margin off gives exactly the full-image result.
    """
    scale = int(scale)
    full_h, full_w = hr.shape[0] // scale, hr.shape[1] // scale
    t0, l0 = max(0, top - _LR_MARGIN), max(0, left - _LR_MARGIN)
    t1, l1 = min(full_h, top + lr_h + _LR_MARGIN), min(full_w, left + lr_w + _LR_MARGIN)
    region = hr[t0 * scale : t1 * scale, l0 * scale : l1 * scale]
    lr = imresize(region, 1.0 / scale)
    return lr[top - t0 : top - t0 + lr_h, left - l0 : left - l0 + lr_w]
