"""The option keys of Real-ESRGAN's degradation and their defaults, without torch: the option loader checks files
with them, and srgan_kit.data.realworld draws and applies the degradation they describe.

KERNEL_DEFAULTS: the dataset's keys (blur kernels and the final sinc filter, drawn per sample); STAGE_DEFAULTS: the
model type's top-level keys (resize, noise, JPEG of both stages, drawn per batch); RULES: what values each key takes,
checked by :func:`degradation_problems` when an option file is loaded and when the degradation is built.
"""
import math

from srgan_kit.errors import ArgumentError, did_you_mean

RESIZE_MODES = ("area", "bilinear", "bicubic", "nearest", "nearest-exact")
# The interpolation of each resize, drawn per batch: stage 1 (''), stage 2 ('2') and the final resize to the LR
# size ('3'), with traiNNer-redux's key names; Real-ESRGAN draws area / bilinear / bicubic evenly at each.
RESIZE_STAGES = ("", "2", "3")
RESIZE_CHOICES = ("up", "down", "keep")  # what resize_prob weighs, in its order

# basicsr's random_mixed_kernels knows these; any other name leaves its kernel unset (UnboundLocalError)
KERNEL_TYPES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")
# Each kernel's size is drawn from these (odd 7..21) and zero-padded to the largest, as in Real-ESRGAN
KERNEL_SIZES = tuple(range(7, 22, 2))

# Real-ESRGAN's train_realesrgan_x4plus.yml values: what a key that is left out means.
_FIRST_KERNEL = {
    # read but not used, as in Real-ESRGAN: each kernel's size is drawn from KERNEL_SIZES (other values: a warning)
    "blur_kernel_size": KERNEL_SIZES[-1],
    "kernel_list": list(KERNEL_TYPES),
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


# ---------------------------------------------------------------------------------------------------
# What values each key takes: rule(value, settings, suffix) -> None, or why the value is refused. ``settings``
# holds the keys of the same kind (defaults filled in), for the rules that compare two keys; ``suffix`` is the
# key's stage ('', '2', '3').


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _text(value):
    return repr(list(value)) if isinstance(value, tuple) else repr(value)


def _probability(value, settings, suffix):
    return None if _is_number(value) and 0 <= value <= 1 else f"{_text(value)}: a probability is 0..1"


def _range(fits, what):
    """A [first, second] pair of numbers that ``fits(first, second)``; ``what`` says which pairs do."""

    def rule(value, settings, suffix):
        pair = isinstance(value, (list, tuple)) and len(value) == 2 and all(map(_is_number, value))
        return None if pair and fits(*value) else f"{_text(value)}: {what}"

    return rule


def _weights(items, noun):
    """Weights that random.choices draws ``items`` with (a fixed tuple, or the key of a list in the settings):
    one per item, each >= 0, not all 0. random.choices divides by their sum, so they need not add up to 1 (Real-
    ESRGAN's resize_prob and kernel_prob do; a file whose weights add up to 10 trains the same)."""

    def rule(value, settings, suffix):
        names = settings.get(items + suffix) if isinstance(items, str) else items
        if not isinstance(names, (list, tuple)):
            return None  # the list's own rule reports it
        if not isinstance(value, (list, tuple)) or not all(map(_is_number, value)):
            return f"{_text(value)}: a list of numbers, one per {noun}"
        of = f"the {len(names)} {noun}s of {items}{suffix}" if isinstance(items, str) else f"[{', '.join(names)}]"
        if len(value) != len(names):
            return f"{len(value)} probabilities for {of}: give one per {noun}"
        if min(value) < 0 or not sum(value) > 0:
            return f"{_text(value)}: weights of {of}, each >= 0 and not all 0"
        return None

    return rule


def _kernel_size(value, settings, suffix):
    if _is_number(value) and float(value).is_integer() and value >= 3 and value % 2 == 1:
        return None
    return f"{_text(value)}: a kernel size is odd and >= 3"


def _kernel_types(value, settings, suffix):
    if not isinstance(value, (list, tuple)) or not value:
        return f"{_text(value)}: a list of kernel types ({', '.join(KERNEL_TYPES)})"
    for name in value:
        if name not in KERNEL_TYPES:
            return (f"{name!r} is not a kernel type{did_you_mean(name, KERNEL_TYPES)}; kernel types: "
                    f"{', '.join(KERNEL_TYPES)}")
    return None


RULES = {
    # stage keys (top level)
    "resize_prob": _weights(RESIZE_CHOICES, "choice"),
    "resize_range": _range(lambda low, high: 0 < low <= 1 <= high, "resize factors [down, up] need 0 < down <= 1 "
                                                                  "<= up"),
    "gaussian_noise_prob": _probability,
    "noise_range": _range(lambda low, high: 0 <= low <= high, "Gaussian noise sigma (of 255) needs 0 <= first <= "
                                                              "second"),
    "poisson_scale_range": _range(lambda low, high: 0 <= low <= high, "Poisson noise scale needs 0 <= first <= "
                                                                      "second"),
    "gray_noise_prob": _probability,
    # JPEG's scale; DiffJPEG divides by zero at 0 and 100 (NaN: black images); torch draws from [first, second)
    "jpeg_range": _range(lambda low, high: 1 <= low <= high <= 100 and low < 100,
                         "JPEG quality is 1..100 (first <= second, first below 100)"),
    "jpeg_prob": _probability,
    "second_blur_prob": _probability,
    "resize_mode_prob": _weights("resize_mode_list", "mode"),
    # kernel keys (the dataset's)
    "blur_kernel_size": _kernel_size,
    "kernel_list": _kernel_types,
    "kernel_prob": _weights("kernel_list", "kernel type"),
    "sinc_prob": _probability,
    # basicsr asserts first < second for sigma; sigma 0 makes a singular covariance, shape 0 a flat kernel
    "blur_sigma": _range(lambda low, high: 0 < low < high, "blur sigma needs 0 < first < second"),
    "betag_range": _range(lambda low, high: 0 < low < high, "generalized Gaussian shape needs 0 < first < second"),
    "betap_range": _range(lambda low, high: 0 < low < high, "plateau shape needs 0 < first < second"),
    "final_sinc_prob": _probability,
}


def _rule(key):
    base = key[:-1] if key[-1:] in ("2", "3") and key[:-1] in RULES else key
    return RULES.get(base), key[len(base):]


def degradation_problems(settings):
    """[(key, why)] for each key of ``settings`` (degradation keys of one kind, defaults filled in) whose value its
    rule refuses; keys without a rule (booleans, resize_mode_list*: their Field checks them) pass."""
    problems = []
    for key, value in settings.items():
        rule, suffix = _rule(key)
        why = rule(value, settings, suffix) if rule is not None else None
        if why is not None:
            problems.append((key, why))
    return problems


def check_degradation(settings):
    """ArgumentError naming the first key of ``settings`` whose value its rule refuses."""
    for key, why in degradation_problems(settings):
        raise ArgumentError(key, why)


def check_kernel_options(options):
    """The kernel keys of a dataset entry ({key: value}), with defaults for those left out; an entry without any
    (a dataset type other than RealESRGANDataset's) passes."""
    given = {key: value for key, value in options.items() if key in KERNEL_DEFAULTS}
    if given:
        check_degradation({**KERNEL_DEFAULTS, **given})
