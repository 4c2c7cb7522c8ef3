"""Colour shift: how far an SR image's colour drifts from its GT's, a known failure of GAN stages.

``colour_shift(sr, gt)`` is the largest difference between the per-channel means of the two images (HxWx3, [0, 1]
scale): what the training health monitor warns on at validation, and, registered as the metric ``colour_shift``
(lower is better), a column of evaluations, sweeps and the loss study.
"""
import numpy as np

from srgan_kit.registry import METRICS


def colour_shift(sr, gt):
    """Largest difference between the per-channel means of an SR image and its GT (HxWx3, [0, 1] scale)."""
    h, w = min(sr.shape[0], gt.shape[0]), min(sr.shape[1], gt.shape[1])
    sr_means = np.clip(sr[:h, :w], 0, 1).reshape(-1, sr.shape[-1]).mean(0)
    return float(np.abs(sr_means - gt[:h, :w].reshape(-1, gt.shape[-1]).mean(0)).max())


@METRICS.register(aliases=("colour_shift",))
def calculate_colour_shift(img, img2, crop_border=0, input_order="HWC"):
    """colour_shift of two numpy images in [0, 255] (RGB), ``crop_border`` pixels removed from every edge."""
    if input_order not in ("HWC", "CHW"):
        raise ValueError(f"input_order must be 'HWC' or 'CHW', got {input_order!r}")
    a, b = (np.asarray(x, dtype=np.float64) / 255.0 for x in (img, img2))
    if input_order == "CHW":
        a, b = a.transpose(1, 2, 0), b.transpose(1, 2, 0)
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(f"colour_shift: expected two HxWxC images of one shape, got {a.shape} and {b.shape}")
    c = int(crop_border)
    if c:
        a, b = a[c:-c, c:-c], b[c:-c, c:-c]
    return colour_shift(a, b)


calculate_colour_shift.better = "lower"
