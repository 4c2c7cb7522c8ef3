"""Comparison sheets: the same crop of the LR input (enlarged), of each method's output and of the ground truth,
side by side, each labelled with the method and its scores for that image.

- ``comparison_row(gt, outputs, lr=None, scale=None, crop=CROP)`` -> uint8 HxWx3: one image's row; ``outputs``
  is ``[(label, sr image, {metric: value})]``, images are float HxWx3 in [0, 1].
- ``write_sheet(path, rows)``: rows stacked (widths padded) and written as PNG.
- ``image_rows(spec, sr_dirs, results, scale, show_lr=True)``: the rows of a set's images, from SR images saved
  by srgan_kit.eval.harness (``sr_dirs[method]/<dataset>/<stem>.png``), or, in place of the folder, a
  ``{stem: path}`` mapping (SR images made elsewhere) or an upscale function (LR -> SR, run here), and their
  scores; ``write_comparisons(out_dir, specs, sr_dirs,
  results, scale, show_lr=True)``: a sheet per image, ``<out_dir>/<dataset>/<stem>.png``.
"""
from pathlib import Path

import cv2
import numpy as np

from srgan_kit.data.imageio import load_image, save_image
from srgan_kit.eval.conventions import format_value, to_levels
from srgan_kit.eval.harness import lr_image
from srgan_kit.eval.sets import set_pairs

CROP = 160  # HR pixels of the square each panel shows (the whole image when smaller)
SHOWN = ("psnr", "ssim", "msssim", "stlpips", "stlpips_alex", "lpips", "dists", "niqe")  # in this order, those held


def _crop_box(shape, size, scale):
    """The centred square (aligned to the scale, so the LR crop matches) of at most ``size`` pixels."""
    h, w = shape[:2]
    size = min(size, h, w) // scale * scale
    top, left = (h - size) // 2 // scale * scale, (w - size) // 2 // scale * scale
    return top, left, size


def _label(img8, lines):
    out = img8.copy()
    for row, text in enumerate(lines):
        y = 14 + 14 * row
        for colour, thickness in (((0, 0, 0), 3), ((255, 255, 255), 1)):  # outlined: readable on any content
            cv2.putText(out, text, (4, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, thickness, cv2.LINE_AA)
    return out


def _to8(img):
    return (np.clip(np.asarray(img, dtype=np.float32), 0, 1) * 255).round().astype(np.uint8)


def score_lines(scores):
    return [f"{k} {format_value(k, scores[k])}" for k in SHOWN if scores.get(k) is not None]


def comparison_row(gt, outputs, lr=None, scale=None, crop=CROP, name=""):
    """One image's panels: [LR enlarged | each output | GT] on the same crop."""
    scale = scale or (gt.shape[0] // lr.shape[0] if lr is not None else 1)
    images = [gt] + [sr for _text, sr, _scores in outputs]
    shared = (min(i.shape[0] for i in images), min(i.shape[1] for i in images))  # a GT may exceed LR x scale
    top, left, size = _crop_box(shared, crop, scale)

    def cut(img):
        return _to8(img[top:top + size, left:left + size])

    panels = []
    if lr is not None:
        big = np.kron(lr[top // scale:(top + size) // scale, left // scale:(left + size) // scale],
                      np.ones((scale, scale, 1), np.float32))
        panels.append(_label(_to8(big), ["LR (nearest)", name]))
    panels += [_label(cut(sr), [text, *score_lines(scores)]) for text, sr, scores in outputs]
    panels.append(_label(cut(gt), ["ground truth"] + ([name] if lr is None and name else [])))
    return np.concatenate([np.pad(p, ((2, 2), (2, 2), (0, 0)), constant_values=255) for p in panels], 1)


def write_sheet(path, rows):
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    save_image(path, np.concatenate(rows, 0) / 255.0)
    return Path(path)


def _sr_image(source, dataset, stem, lr):
    if callable(source):  # quantised like the SR images the harness saves
        return to_levels(np.asarray(source(lr))) / 255.0
    return load_image(Path(source[stem]) if isinstance(source, dict) else Path(source) / dataset / f"{stem}.png").rgb


def image_rows(spec, sr_dirs, results, scale, show_lr=True):
    """``[(stem, row)]`` for every image of the set ``spec``: its LR (unless ``show_lr`` is false: SR images
    made elsewhere from an LR that is not at hand), each method's SR image (``sr_dirs[method]``: the folder
    srgan_kit.eval.harness saved ``<dataset>/<stem>.png`` in, ``{stem: path}``, or an upscale function) with its
    scores from ``results`` ({method: result}), and the GT."""
    rows, need_lr = [], show_lr or any(callable(source) for source in sr_dirs.values())
    for stem, lr_path, gt_path in set_pairs(spec, scale):
        gt = load_image(gt_path).rgb
        lr = lr_image(lr_path, gt, scale) if need_lr else None
        outputs = [(method, _sr_image(source, spec.name, stem, lr),
                    results[method]["datasets"][spec.name]["images"][stem]) for method, source in sr_dirs.items()]
        rows.append((stem, comparison_row(gt, outputs, lr if show_lr else None, scale, name=stem)))
    return rows


def write_comparisons(out_dir, specs, sr_dirs, results, scale, show_lr=True):
    """A sheet per image of ``specs``: ``<out_dir>/<dataset>/<stem>.png`` (see :func:`image_rows`)."""
    return [write_sheet(Path(out_dir) / spec.name / f"{stem}.png", [row])
            for spec in specs for stem, row in image_rows(spec, sr_dirs, results, scale, show_lr)]
