"""The option keys of Real-ESRGAN's degradation and their defaults, without torch: the option loader checks files
with them, and srgan_kit.data.realworld draws and applies the degradation they describe.

KERNEL_DEFAULTS: the dataset's keys (blur kernels and the final sinc filter, drawn per sample); STAGE_DEFAULTS: the
model type's top-level keys (resize, noise, JPEG of both stages, drawn per batch).
"""
from srgan_kit.errors import ArgumentError

RESIZE_MODES = ("area", "bilinear", "bicubic", "nearest", "nearest-exact")
# The interpolation of each resize, drawn per batch: stage 1 (''), stage 2 ('2') and the final resize to the LR
# size ('3'), with traiNNer-redux's key names; Real-ESRGAN draws area / bilinear / bicubic evenly at each.
RESIZE_STAGES = ("", "2", "3")

# Real-ESRGAN's train_realesrgan_x4plus.yml values: what a key that is left out means.
_FIRST_KERNEL = {
    "blur_kernel_size": 21,  # accepted as in Real-ESRGAN, which also draws each kernel's size (7..21)
    "kernel_list": ["iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso"],
    "kernel_prob": [0.45, 0.25, 0.12, 0.03, 0.12, 0.03],
    "sinc_prob": 0.1,
    "blur_sigma": [0.2, 3.0],
    "betag_range": [0.5, 4.0],
    "betap_range": [1.0, 2.0],
}
# the second stage takes the same keys with a '2' suffix; only its blur is narrower
KERNEL_DEFAULTS = {**_FIRST_KERNEL, **{key + "2": value for key, value in _FIRST_KERNEL.items()},
                   "blur_sigma2": [0.2, 1.5], "final_sinc_prob": 0.8}
STAGE_DEFAULTS = {
    "resize_prob": [0.2, 0.7, 0.1],
    "resize_range": [0.15, 1.5],
    "gaussian_noise_prob": 0.5,
    "noise_range": [1, 30],
    "poisson_scale_range": [0.05, 3.0],
    "gray_noise_prob": 0.4,
    "jpeg_range": [30, 95],
    "jpeg_prob": 1.0,  # traiNNer-redux's: the share of batches compressed (Real-ESRGAN: all)
    "second_blur_prob": 0.8,
    "resize_prob2": [0.3, 0.4, 0.3],
    "resize_range2": [0.3, 1.2],
    "gaussian_noise_prob2": 0.5,
    "noise_range2": [1, 25],
    "poisson_scale_range2": [0.05, 2.5],
    "gray_noise_prob2": 0.4,
    "jpeg_range2": [30, 95],
    "jpeg_prob2": 1.0,
    # srgan_kit's addition: downscale with antialiasing (bilinear / bicubic), as image editors and MATLAB's
    # imresize do; Real-ESRGAN's plain interpolation (false) keeps aliasing the target LR may not have
    "resize_antialias": False,
    # traiNNer-redux's key with Real-ESRGAN's behaviour as the default: the degradation starts from the
    # unsharp-masked GT (false: from the GT itself, the consistent choice when no loss trains on the sharpened GT)
    "lq_usm": True,
    **{key: value for stage in RESIZE_STAGES for key, value in (
        ("resize_mode_list" + stage, ["area", "bilinear", "bicubic"]),
        ("resize_mode_prob" + stage, [1 / 3, 1 / 3, 1 / 3]))},
}


def check_pool_size(size, batch_size, batch_name="the batch size"):
    """The pool swaps whole batches: ``queue_size`` must be a multiple of the batch size."""
    if size % batch_size:
        raise ArgumentError("queue_size", f"{size} is not a multiple of {batch_name} {batch_size} (the pool swaps "
                                          "whole batches)")
