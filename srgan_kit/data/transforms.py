"""Training-time transforms on numpy HWC images: aligned GT/LQ crops, flips and 90-degree rotations.

Randomness comes from Python's ``random`` module, which torch's DataLoader seeds differently in each worker
and which the trainer's seed fixes, so crops are reproducible and never repeat across workers.
"""
import random

import numpy as np
import torch

from srgan_kit.errors import DataError, OptionError


def _names(gt_path, lq_path):
    gt = f"GT {gt_path}" if gt_path else "GT"
    lq = f"LQ {lq_path}" if lq_path else "LQ"
    return gt, lq


def check_pair_shapes(gt_shape, lq_shape, scale, gt_path="", lq_path=""):
    """Check that a GT of ``gt_shape`` and an LQ of ``lq_shape`` agree with ``scale``.

    They agree when the LQ is the GT's size divided by ``scale``, rounded down (a GT that is not a multiple of
    the scale is cropped at the bottom/right, as BasicSR does). Returns the GT (height, width) to keep;
    otherwise raises a DataError naming both files.
    """
    (h_gt, w_gt), (h_lq, w_lq) = tuple(gt_shape[:2]), tuple(lq_shape[:2])
    if h_lq < 1 or w_lq < 1 or h_gt // scale != h_lq or w_gt // scale != w_lq:
        gt, lq = _names(gt_path, lq_path)
        raise DataError(
            f"{gt} ({h_gt}x{w_gt}) and {lq} ({h_lq}x{w_lq}) do not agree with scale {scale}: "
            f"the LQ should be {h_gt // scale}x{w_gt // scale}"
        )
    return h_lq * scale, w_lq * scale


def check_gt_size(gt_size, scale, where="gt_size"):
    """gt_size must be a positive multiple of scale (the LQ patch is gt_size // scale pixels)."""
    if not isinstance(gt_size, int) or isinstance(gt_size, bool) or gt_size <= 0:
        raise OptionError(f"{where}: expected a positive integer, got {gt_size!r}")
    if gt_size % scale:
        raise OptionError(f"{where}: {gt_size} is not a multiple of scale {scale}")


def paired_random_crop(gt, lq, gt_size, scale, gt_path="", lq_path="", rng=random):
    """Random aligned crops: ``gt_size`` square from ``gt`` and the matching ``gt_size // scale`` from ``lq``.

    LQ pixel (i, j) covers GT pixels [i*scale, (i+1)*scale) x [j*scale, (j+1)*scale), so the crop origins are
    picked on the LQ grid. Sizes that disagree with ``scale``, or images smaller than the patch, raise a
    DataError naming the file(s). ``rng``: a random.Random (the sample's own), else the global one.
    """
    check_gt_size(gt_size, scale)
    check_pair_shapes(gt.shape, lq.shape, scale, gt_path, lq_path)
    lq_size = gt_size // scale
    h_lq, w_lq = lq.shape[:2]
    if h_lq < lq_size or w_lq < lq_size:
        gt_name, lq_name = _names(gt_path, lq_path)
        raise DataError(
            f"{gt_name} ({gt.shape[0]}x{gt.shape[1]}) is smaller than gt_size {gt_size} "
            f"(remove it, or set skip_small: true)"
        )
    top = rng.randint(0, h_lq - lq_size)
    left = rng.randint(0, w_lq - lq_size)
    lq_crop = lq[top : top + lq_size, left : left + lq_size, ...]
    gt_crop = gt[top * scale : (top + lq_size) * scale, left * scale : (left + lq_size) * scale, ...]
    return gt_crop, lq_crop


def apply_flips(img, hflip, vflip, transpose):
    """One deterministic combination of the 8 dihedral transforms (used by :func:`augment`)."""
    if hflip:
        img = img[:, ::-1, ...]
    if vflip:
        img = img[::-1, :, ...]
    if transpose:  # with the flips above this gives the 90-degree rotations
        img = img.swapaxes(0, 1)
    return np.ascontiguousarray(img)


def augment(imgs, hflip=True, rot=True, rng=random):
    """Apply the same random horizontal flip / vertical flip / transpose to every image in ``imgs``.

    ``rot`` enables the vertical flip and the transpose (together with hflip: all 90-degree rotations).
    Returns a list of contiguous arrays (ready for ``torch.from_numpy``).
    """
    do_hflip = hflip and rng.random() < 0.5
    do_vflip = rot and rng.random() < 0.5
    do_transpose = rot and rng.random() < 0.5
    return [apply_flips(img, do_hflip, do_vflip, do_transpose) for img in imgs]


def to_tensor(img):
    """HxWxC (or HxW) float RGB numpy -> float32 CxHxW tensor."""
    img = np.asarray(img)
    if img.ndim == 2:
        img = img[:, :, None]
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32))
