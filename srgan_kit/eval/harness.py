"""Run super-resolution methods over paired sets and score them: one result dict per method.

- ``evaluate_model(upscale_fn, datasets, scale, metrics=DEFAULT_METRICS, crop_border=None, save_dir=None)``
  ``-> result``. ``upscale_fn`` maps an RGB float32 HxWx3 LR image in [0, 1] to its SR image; ``datasets`` are
  srgan_kit.eval.sets DatasetSpecs; metrics follow srgan_kit.eval.conventions. ``save_dir``: SR images are
  written as ``<save_dir>/<dataset>/<gt stem>.png``.
- ``evaluate_folders(sr_dir, gt_dir, scale, sr_tmpl='{}', ...) -> result`` with one dataset: SR images already
  on disk, matched to GT by ``sr_tmpl`` (a file name stem; ``{scale}`` may appear in it).
- ``model_upscaler(weights=None, opt=None, tile=0, ...) -> (upscale_fn, scale)``: a generator from a weights
  file (architecture detected) or an option file / dict (srgan_kit.archs.loading.build_generator), run by
  srgan_kit.inference.Upscaler; ``bicubic_upscaler(scale)``: MATLAB-style bicubic, the baseline.
- ``progress=True`` (keyword) shows a progress bar on stderr; ``merge_methods({method: result})`` ->
  ``{"methods": {method: result}}``. Tables, JSON and CSV: srgan_kit.eval.reports.

The result of one method::

    {"scale": 4, "metrics": ["psnr", "ssim", "lpips"],
     "better": {"psnr": "higher", "ssim": "higher", "lpips": "lower"},
     "settings": {"psnr": {"crop_border": 4, "test_y_channel": true}, ..., "lpips": {}},
     "unavailable": {"lpips": "AlexNet weights not in torchvision's cache: ..."},
     "datasets": {"Set5": {"mean": {"psnr": 28.43, "ssim": 0.8113, "lpips": null},
                           "images": {"baby": {"psnr": 31.78, ...}, ...}}}}

Metric keys are the short names (psnr, ssim, lpips, stlpips, niqe); image keys are GT file stems. An
unavailable metric (missing weights) is ``None`` everywhere with its one-line reason in ``"unavailable"``; the
other metrics are still computed; a metric that cannot score an image (NIQE needs two 96x96 blocks) is a
DataError naming the image.
"""
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from srgan_kit.archs.loading import build_generator
from srgan_kit.data.degradation import imresize, mod_crop
from srgan_kit.data.imageio import load_image, save_image
from srgan_kit.errors import DataError, UserError
from srgan_kit.config.schema import CHANNEL_COUNTS, DEFAULT_METRICS
from srgan_kit.eval.conventions import Scorer, to_levels
from srgan_kit.eval.sets import default_dataset_name, match_pairs, set_pairs
from srgan_kit.inference import DEFAULT_TILE_PAD, Upscaler


def bicubic_upscaler(scale):
    """LR -> SR by MATLAB-style antialiased bicubic (BasicSR's imresize), the usual baseline row."""
    scale = int(scale)

    def upscale(lr):
        return imresize(np.asarray(lr, dtype=np.float32), scale)

    return upscale


def load_eval_options(opt):
    """An option dict as given, or an option file loaded for inference (paths not checked)."""
    if isinstance(opt, dict):
        return opt
    from srgan_kit.config.options import load_options  # only this path needs the option machinery

    return load_options(opt, is_train=False, check_paths=False)


def model_upscaler(weights=None, opt=None, tile=0, tile_pad=DEFAULT_TILE_PAD, device="cpu", param_key=None,
                   precision="fp32"):
    """``(upscale_fn, scale)`` for a trained generator (see :func:`build_generator` for weights / opt)."""
    net = build_generator(weights, None if opt is None else load_eval_options(opt), param_key)
    scale = getattr(net, "scale", None)
    if scale is None:
        raise UserError(f"network {type(net).__name__} does not tell its upscale factor (.scale)")
    upscaler = Upscaler(net, scale, tile=tile, tile_pad=tile_pad, device=device, precision=precision,
                        channels_last=precision != "fp32")
    return upscaler.upscale, int(scale)


def lr_image(lr_path, gt, scale):
    """The LR input of a pair: read, or made from the GT (``lr_path`` None) by MATLAB bicubic at 8-bit levels."""
    if lr_path is not None:
        return load_image(lr_path).rgb
    lr = imresize(mod_crop(gt, scale), 1.0 / scale)  # like GTOnlyDataset: rounded to 8-bit levels
    return (to_levels(lr) / 255.0).astype(np.float32)


def _check_not_input(path, inputs):
    if path.resolve() in inputs:
        raise DataError(f"refusing to overwrite input image {path} with an SR image (choose another save folder)")


def evaluate_model(upscale_fn, datasets, scale, metrics=DEFAULT_METRICS, crop_border=None, save_dir=None, *,
                   progress=False):
    """Upscale every LR image of ``datasets`` with ``upscale_fn`` and score it (see the module docstring)."""
    scale = int(scale)
    scorer = Scorer(metrics, scale, crop_border)
    result = scorer.header()
    names = [spec.name for spec in datasets]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UserError(f"dataset {', '.join(twice)} named twice")
    plans = [(spec, set_pairs(spec, scale)) for spec in datasets]  # every pairing checked before any work
    for spec, pairs in plans:
        images = {}
        out_dir = None if save_dir is None else Path(save_dir) / spec.name
        inputs = {p.resolve() for _stem, lr, gt in pairs for p in (lr, gt) if p is not None}
        with tqdm(total=len(pairs), desc=spec.name, unit="img", file=sys.stderr, disable=not progress,
                  leave=False) as bar:  # closed before an error is printed
            for stem, lr_path, gt_path in pairs:
                gt = load_image(gt_path).rgb
                lr = lr_image(lr_path, gt, scale)
                sr = np.asarray(upscale_fn(lr))
                if sr.ndim != 3 or sr.shape[2] not in CHANNEL_COUNTS:
                    raise DataError(f"{lr_path or gt_path}: the upscaler returned shape {sr.shape}, not HxWx3 "
                                    "(or HxWx1)")
                images[stem] = scorer.score(sr, gt, gt_path, f"SR of {lr_path or gt_path}")
                if out_dir is not None:
                    target = out_dir / f"{stem}.png"
                    _check_not_input(target, inputs)
                    save_image(target, to_levels(sr) / 255.0)
                bar.update()
        result["datasets"][spec.name] = {"mean": {}, "images": images}
    return scorer.finish(result)


def evaluate_folders(sr_dir, gt_dir, scale, sr_tmpl="{}", metrics=DEFAULT_METRICS, crop_border=None, name=None, *,
                     progress=False):
    """Score SR images already on disk against GT; SR of ``baby.png`` is ``sr_tmpl.format('baby')``.* ."""
    scale = int(scale)
    name = name or default_dataset_name(gt_dir)
    scorer = Scorer(metrics, scale, crop_border)
    result = scorer.header()
    images = {}
    pairs = match_pairs(gt_dir, sr_dir, sr_tmpl, scale, name, "SR")
    with tqdm(total=len(pairs), desc=name, unit="img", file=sys.stderr, disable=not progress, leave=False) as bar:
        for stem, sr_path, gt_path in pairs:
            images[stem] = scorer.score(load_image(sr_path).rgb, load_image(gt_path).rgb, gt_path,
                                        f"SR image {sr_path}")
            bar.update()
    result["datasets"][name] = {"mean": {}, "images": images}
    return scorer.finish(result)


def merge_methods(results):
    """``{method: result}`` -> ``{"methods": {method: result}}`` (insertion order kept)."""
    return {"methods": dict(results)}
