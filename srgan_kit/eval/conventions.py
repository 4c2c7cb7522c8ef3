"""How every metric is computed: one table used by training validation, tools/evaluate.py, the demo and the
loss sweeps, so one model on one set gets one number per metric wherever it is scored.

The benchmark conventions of the SR papers: PSNR / SSIM on MATLAB's Y channel with ``crop_border = scale``;
MS-SSIM on RGB with the same border crop (a distortion metric like them); NIQE on the same border-cropped image;
LPIPS-type distances (LPIPS, ST-LPIPS, DISTS) on the whole RGB image. SR images are clipped and
rounded to 8-bit levels (what a saved PNG holds), GT rounded to 8-bit levels, and GT cropped to the SR size
when it is up to ``scale - 1`` pixels larger (not mod-cropped). A value given explicitly (``val.metrics``
entries, ``--crop-border``) replaces the convention.
"""
import math
from typing import NamedTuple

import numpy as np

from srgan_kit.data.channels import as_rgb
from srgan_kit.data.imageio import quantize
from srgan_kit.errors import DataError, UserError
from srgan_kit.eval.metrics import MetricUnavailable, metric_unavailable_reason
from srgan_kit.registry import METRICS

TRADEOFF_METRICS = ("psnr", "ssim", "stlpips", "niqe")  # sweeps: distortion and perception side by side

# How tables and plots show each metric (keyed by short name; others: their name, 4 decimals).
LABELS = {"psnr": "PSNR (dB)", "ssim": "SSIM", "lpips": "LPIPS", "stlpips": "ST-LPIPS", "niqe": "NIQE",
          "msssim": "MS-SSIM", "stlpips_alex": "ST-LPIPS (AlexNet)", "dists": "DISTS", "colour_shift": "colour shift"}
DIGITS = {"psnr": 2}

BORDER = object()  # in the table: "the crop border of this evaluation" (the scale unless given)
CONVENTIONS = {
    "calculate_psnr": {"crop_border": BORDER, "test_y_channel": True},
    "calculate_ssim": {"crop_border": BORDER, "test_y_channel": True},
    "calculate_msssim": {"crop_border": BORDER},
    "calculate_niqe": {"crop_border": BORDER},
    "calculate_lpips": {},
    "calculate_stlpips": {},
    "calculate_stlpips_alex": {},
    "calculate_dists": {},
}


def split_names(names):
    """'a,b' or ['a', 'b'] -> ['a', 'b'] (blanks dropped)."""
    if isinstance(names, str):
        names = names.split(",")
    return [n.strip() for n in names if n and n.strip()]


def short_name(fn, given=None):
    """The shortest registered name of a metric function (psnr for calculate_psnr)."""
    names = [n for n in METRICS.names() if METRICS.get(n) is fn]
    return min(names, key=len) if names else given


def _short(name):
    return short_name(METRICS.get(name), name) if name in METRICS else name


def metric_label(name):
    return LABELS.get(_short(name), name)


def better(name):
    """'higher' or 'lower' (the registered metric's tag; higher when it has none)."""
    return _tag(METRICS.get(name)) if name in METRICS else "higher"


def _tag(fn):
    return getattr(fn, "better", "higher")


class PlannedMetric(NamedTuple):
    key: str  # the column / log name
    fn: object  # the registered metric function
    kwargs: dict  # the convention, with what the entry gives explicitly
    better: str  # 'higher' or 'lower': the entry's ``better`` when given, else the metric's own


def format_value(name, value):
    """A metric value as tables show it: 'n/a' for None, 'inf' for identical images, fixed decimals."""
    if value is None:
        return "n/a"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.{DIGITS.get(_short(name), 4)}f}"


def _convention(fn, border):
    conv = CONVENTIONS.get(fn.__name__)
    if conv is None:  # a metric registered elsewhere: the border / Y channel when it takes them
        args = METRICS.arguments(short_name(fn, fn.__name__))
        conv = {k: v for k, v in (("crop_border", BORDER), ("test_y_channel", True)) if k in args}
    return {k: (border if v is BORDER else v) for k, v in conv.items()}


def metric_plan(metrics, scale, crop_border=None, where="metrics"):
    """``[PlannedMetric]`` in the order asked.

    ``metrics``: names ('psnr,ssim' or a list; keyed by their short names), or a ``val.metrics`` mapping
    ``{key: {type: name, better: 'higher' | 'lower', **explicit arguments}}`` (BasicSR's ``better`` decides
    which value is best; absent: the metric's own direction). Unknown names -> OptionError naming the nearest.
    """
    border = int(scale if crop_border is None else crop_border)
    if isinstance(metrics, dict):
        entries = [(key, spec["type"], {k: v for k, v in spec.items() if k not in ("type", "better")},
                    spec.get("better"), f"{where}.{key}") for key, spec in metrics.items()]
    else:
        entries = [(None, name, {}, None, where) for name in split_names(metrics)]
    plan, seen = [], set()
    for key, name, explicit, direction, at in entries:
        fn = METRICS.get(name.lower() if name.lower() in METRICS else name, where=at)
        key = key or short_name(fn, name)
        if key in seen:
            continue
        seen.add(key)
        plan.append(PlannedMetric(key, fn, {**_convention(fn, border), **explicit}, direction or _tag(fn)))
    if not plan:
        raise UserError("no metric named (e.g. --metrics psnr,ssim)")
    return plan


def to_levels(img):
    """Float RGB in [0, 1] -> float64 array in [0, 255] on 8-bit levels (what a saved PNG holds)."""
    return quantize(img).astype(np.float64)


def fit_gt(sr, gt, scale, gt_path, sr_label):
    """GT cropped to the SR size when it is only the mod-crop larger; else a DataError naming both."""
    (h, w), (gh, gw) = sr.shape[:2], gt.shape[:2]
    if (h, w) == (gh, gw):
        return gt
    if 0 <= gh - h < scale and 0 <= gw - w < scale:
        return gt[:h, :w]
    raise DataError(f"{sr_label} is {h}x{w} but GT {gt_path} is {gh}x{gw} (expected GT / SR sizes to agree "
                    f"at scale x{scale})")


class Scorer:
    """A metric plan plus the metrics found unavailable; scores one SR / GT pair at a time."""

    def __init__(self, metrics, scale, crop_border=None, where="metrics"):
        self.scale = int(scale)
        self.plan = metric_plan(metrics, scale, crop_border, where)
        self.unavailable = {}
        for m in self.plan:
            reason = metric_unavailable_reason(short_name(m.fn, m.key))
            if reason:
                self.unavailable[m.key] = reason

    @property
    def keys(self):
        return [m.key for m in self.plan]

    def header(self):
        return {
            "scale": self.scale,
            "metrics": self.keys,
            "better": {m.key: m.better for m in self.plan},
            "settings": {m.key: dict(m.kwargs) for m in self.plan},
            "unavailable": self.unavailable,
            "datasets": {},
        }

    def score(self, sr, gt, gt_path, sr_label):
        """``{metric: value or None}`` for float RGB images in [0, 1] (see the module docstring); a grey
        network's one-channel images count as RGB with equal channels."""
        sr8 = to_levels(as_rgb(sr))
        gt8 = to_levels(fit_gt(sr8, as_rgb(gt), self.scale, gt_path, sr_label))
        row = {}
        for key, fn, kwargs, _better in self.plan:
            if key in self.unavailable:
                row[key] = None
                continue
            try:
                row[key] = float(fn(sr8, gt8, **kwargs))
            except MetricUnavailable as exc:  # found out only when building it (e.g. a bad weights file)
                self.unavailable[key] = exc.reason
                row[key] = None
            except ValueError as exc:
                raise DataError(f"{gt_path}: {key}: {exc}") from None
        return row

    def finish(self, result):
        """Means per dataset; a metric that became unavailable mid-run is None everywhere."""
        for entry in result["datasets"].values():
            for row in entry["images"].values():
                for key in self.unavailable:
                    row[key] = None
            entry["mean"] = {k: mean_or_none([row[k] for row in entry["images"].values()]) for k in self.keys}
        result["unavailable"] = dict(self.unavailable)
        return result


def mean_or_none(values):
    if not values or any(v is None for v in values):
        return None
    return float(np.mean(values))
