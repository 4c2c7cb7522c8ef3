"""Score super-resolution methods on paired benchmark sets: one result dict, written as a table, JSON or CSV.

Public API (``tools/evaluate.py`` and ``tools/benchmark_losses.py`` are built on it):

- ``DatasetSpec(name, lr_dir, gt_dir, lr_tmpl='{}x{scale}')``: a paired set. The LR file of GT ``baby.png`` is
  the image in ``lr_dir`` whose stem is ``lr_tmpl.format('baby', scale=scale)`` (``babyx4.*``), any extension.
  ``lr_dir=None``: the LR is made from the (mod-cropped) GT by MATLAB bicubic and rounded to 8-bit levels, as
  ``GTOnlyDataset`` does.
- ``resolve_datasets(names, scale, root='datasets') -> [DatasetSpec]``: names of sets laid out by
  ``tools/prepare_datasets.py`` as ``<root>/<Name>/X<scale>/{HR,LR}`` (known names and aliases such as BSD100
  -> B100 come from :mod:`srgan_kit.benchmarks`; folder names match case-insensitively). A missing folder is a
  DataError naming it and the prepare_datasets command that makes it.
- ``evaluate_model(upscale_fn, datasets, scale, metrics=('psnr', 'ssim'), crop_border=None, save_dir=None)``
  ``-> result``. ``upscale_fn`` maps an RGB float32 HxWx3 LR image in [0, 1] to its SR image (numpy, values
  clipped to [0, 1] here). ``crop_border=None`` means ``scale`` for psnr, ssim and niqe; LPIPS-type distances
  always see the whole image. ``save_dir``: SR images are written as ``<save_dir>/<dataset>/<gt stem>.png``.
- ``model_upscaler(weights=None, opt=None, tile=0, tile_pad=DEFAULT_TILE_PAD, device='cpu', param_key=None)``
  ``-> (upscale_fn, scale)``: a generator from a weights file (architecture detected) or from an option file /
  loaded option dict (``network_g``; weights default to its ``path.pretrain_network_g``), run by
  :class:`srgan_kit.inference.Upscaler` (tiled when ``tile`` > 0).
- ``bicubic_upscaler(scale) -> upscale_fn``: MATLAB-style bicubic (``degradation.imresize``), the baseline.
- ``evaluate_folders(sr_dir, gt_dir, scale, sr_tmpl='{}', metrics=('psnr', 'ssim'), crop_border=None,
  name=None) -> result`` with one dataset: SR images already on disk, matched to GT by ``sr_tmpl`` (a file
  name stem; ``{scale}`` may appear in it; any image extension matches). ``name`` defaults to the GT folder's
  name, or the set's name above generic ones (``Set5/X4/HR`` -> Set5).
- ``progress=True`` (keyword) on either shows a progress bar on stderr.
- ``merge_methods({method: result}) -> {"methods": {method: result}}`` (several methods in one file/table).
- ``write_json(result, path)``, ``write_csv(result, path)``, ``format_table(result, per_image=False) -> str``
  take a single result or a merged one.

The result of one method::

    {"scale": 4, "metrics": ["psnr", "ssim", "lpips"],
     "better": {"psnr": "higher", "ssim": "higher", "lpips": "lower"},
     "settings": {"psnr": {"crop_border": 4, "test_y_channel": true}, ..., "lpips": {}},
     "unavailable": {"lpips": "AlexNet weights not in torchvision's cache: ..."},
     "datasets": {"Set5": {"mean": {"psnr": 28.43, "ssim": 0.8113, "lpips": null},
                           "images": {"baby": {"psnr": 31.78, ...}, ...}}}}

Metric keys are the short names (psnr, ssim, lpips, stlpips, niqe; any other METRICS name as given); image
keys are GT file stems. An unavailable metric (missing weights; asked up front with
``metric_unavailable_reason``) is ``None`` everywhere with its one-line reason in ``"unavailable"``; the other
metrics are still computed; a metric that cannot score an image (NIQE needs two 96x96 blocks) is a
DataError naming the image. Values are computed as in the papers' tables: SR clipped and rounded to 8-bit
levels (what a saved PNG holds), GT rounded to 8-bit levels, GT cropped to LR size x scale when it is up to
``scale - 1`` pixels larger (not mod-cropped). PSNR of identical images is ``inf``; JSON (strict: no
``Infinity``) writes non-finite numbers as the strings ``"inf"`` / ``"-inf"`` / ``"nan"``, CSV as ``inf``;
``None`` is JSON ``null`` and an empty CSV cell.

Several methods (e.g. a model and the bicubic baseline) merge into ``{"methods": {name: result}}``: the shape
above per method. CSV rows are ``[method,] dataset, image ('mean' for the mean row), <metric columns>``.
"""
import csv
import io
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from srgan_kit import benchmarks
from srgan_kit.data.degradation import imresize, mod_crop
from srgan_kit.data.imageio import IMAGE_EXTENSIONS, list_images, load_image, save_image
from srgan_kit.errors import DataError, UserError
from srgan_kit.fileio import write_text_atomic
from srgan_kit.inference import DEFAULT_TILE_PAD, Upscaler
# (importing srgan_kit.metrics also registers psnr, ssim, lpips, stlpips and niqe in METRICS)
from srgan_kit.metrics import MetricUnavailable, metric_unavailable_reason
from srgan_kit.registry import METRICS

DEFAULT_METRICS = ("psnr", "ssim")

_BORDER = object()  # placeholder in the conventions below: "the crop border of this evaluation"

# What each metric is given besides the two images: the benchmark conventions (MATLAB Y channel, border =
# scale) for the distortion metrics and NIQE; LPIPS-type distances see the whole RGB image (their papers).
# Metrics not listed get the border / Y channel if their signature takes them.
_CONVENTIONS = {
    "calculate_psnr": {"crop_border": _BORDER, "test_y_channel": True},
    "calculate_ssim": {"crop_border": _BORDER, "test_y_channel": True},
    "calculate_niqe": {"crop_border": _BORDER},
    "calculate_lpips": {},
    "calculate_stlpips": {},
}

# GT folder names that say nothing about the set (datasets/Set5/X4/HR): the set's name is further up.
_GENERIC_FOLDERS = {"hr", "gt", "lr", "sr", "hr_sub", "lr_sub"}


# ---- datasets ------------------------------------------------------------------------------------------------


@dataclass
class DatasetSpec:
    """A paired benchmark set; ``lr_dir=None`` makes each LR from its GT (MATLAB bicubic, 8-bit levels)."""

    name: str
    lr_dir: Path | None
    gt_dir: Path
    lr_tmpl: str = "{}x{scale}"

    def __post_init__(self):
        self.lr_dir = None if self.lr_dir is None else Path(self.lr_dir)
        self.gt_dir = Path(self.gt_dir)


def _split_names(names):
    if isinstance(names, str):
        names = names.split(",")
    return [n.strip() for n in names if n and n.strip()]


def _find_folder(root, name):
    """``root/name``, or the one folder in ``root`` whose name matches ``name`` ignoring case."""
    exact = root / name
    if exact.is_dir():
        return exact
    if root.is_dir():
        for child in sorted(root.iterdir()):
            if child.is_dir() and child.name.lower() == name.lower():
                return child
    return exact


def resolve_datasets(names, scale, root="datasets"):
    """``[DatasetSpec]`` for set names laid out as ``<root>/<Name>/X<scale>/{HR,LR}`` (see the module docstring)."""
    root = Path(root)
    specs = []
    for given in _split_names(names):
        name = benchmarks.canonical_name(given)
        folder = _find_folder(root, name) / f"X{scale}"
        hr, lr = folder / "HR", folder / "LR"
        missing = [p for p in (hr, lr) if not p.is_dir()]
        if missing:
            known = benchmarks.find_benchmark(name)
            where = f"; where to download it: python tools/prepare_datasets.py --download {name}" if known else ""
            raise DataError(
                f"dataset {given}: folder {missing[0]} does not exist. Make it with: python tools/prepare_datasets.py "
                f"--hr <folder of {name} HR images> --name {name} --scales {scale} --out {root}{where}"
            )
        specs.append(DatasetSpec(folder.parent.name, lr, hr, f"{{}}x{scale}"))
    if not specs:
        raise UserError("no dataset named (e.g. --datasets Set5,Set14)")
    return specs


def default_dataset_name(gt_dir):
    """A readable name for a GT folder: its own name, or the set's name above generic ones (Set5/X4/HR -> Set5)."""
    path = Path(gt_dir).resolve()
    for part in (path, *path.parents):
        name = part.name
        if name and name.lower() not in _GENERIC_FOLDERS and not _is_scale_folder(name):
            return name
    return path.name or "dataset"


def _is_scale_folder(name):
    return len(name) > 1 and name[0] in "xX" and name[1:].isdigit()


def datasets_from_options(opt):
    """The validation / test sets of a loaded option dict (``datasets.val*`` / ``test*``) as DatasetSpecs."""
    specs = []
    for key, ds in (opt.get("datasets") or {}).items():
        if key == "train" or not ds.get("dataroot_gt"):
            continue
        specs.append(DatasetSpec(ds.get("name") or key, ds.get("dataroot_lq"), ds["dataroot_gt"],
                                 ds.get("filename_tmpl") or "{}"))
    return specs


def _template_stem(tmpl, stem, scale, what):
    try:
        out = tmpl.format(stem, scale=scale)
        other = tmpl.format(stem + "_other", scale=scale)
    except (IndexError, KeyError, ValueError) as exc:
        raise UserError(f"{what} {tmpl!r}: not a valid template ({exc}); use '{{}}' for the GT name") from None
    if out == other:
        raise UserError(f"{what} {tmpl!r} must contain '{{}}' (the GT name), e.g. '{{}}x4' or '{{}}_out'")
    if Path(out).suffix.lower() in IMAGE_EXTENSIONS:  # '{}_x4.png': the extension is matched anyway
        out = out[: -len(Path(out).suffix)]
    return out


def _index_by_stem(folder, what):
    index = {}
    for path in list_images(folder, what=what):
        if path.stem in index:
            raise DataError(f"{what}: {index[path.stem].name} and {path.name} in {folder} have the same name stem")
        index[path.stem] = path
    return index


def _match(gt_dir, other_dir, tmpl, scale, what, role):
    """[(gt stem, other path, gt path)] for every GT image; DataError listing the GT images without a match."""
    gts = _index_by_stem(gt_dir, f"{what}: GT images")
    others = _index_by_stem(other_dir, f"{what}: {role} images")
    pairs, missing = [], []
    for stem, gt_path in gts.items():
        want = _template_stem(tmpl, stem, scale, f"{what}: {role} filename template")
        if want in others:
            pairs.append((stem, others[want], gt_path))
        else:
            missing.append(f"{want}.* (for {gt_path.name})")
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DataError(f"{what}: missing {role} image(s) in {other_dir}: {shown} (template {tmpl!r})")
    return pairs


def _pairs(spec, scale):
    if spec.lr_dir is None:
        return [(p.stem, None, p) for p in _index_by_stem(spec.gt_dir, f"{spec.name}: GT images").values()]
    return _match(spec.gt_dir, spec.lr_dir, spec.lr_tmpl, scale, spec.name, "LR")


# ---- upscalers -----------------------------------------------------------------------------------------------


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
    from srgan_kit.options import load_options  # only this path needs the option machinery

    if not Path(opt).is_file():
        raise UserError(f"option file {opt} does not exist")
    return load_options(opt, is_train=False, check_paths=False)


def build_generator(weights=None, opt=None, param_key=None):
    """The generator with weights loaded, from ``weights`` alone (detected) or from ``opt``'s network_g.

    param_key: explicit choice; else, for ``weights`` given here, params_ema > params > a bare state dict;
    for weights taken from the option file (``path.pretrain_network_g``), its ``path.param_key_g``.
    """
    from srgan_kit.archs.detect import build_from_weights
    from srgan_kit.archs.weights import load_weights
    from srgan_kit.registry import ARCHS

    if opt is None:
        if weights is None:
            raise UserError("a model needs weights (--model WEIGHTS) or an option file (-opt FILE)")
        if not Path(weights).is_file():
            raise UserError(f"weights file {weights} does not exist")
        net, _spec = build_from_weights(weights, param_key=param_key)
        return net
    opt = load_eval_options(opt)
    source = opt.get("_file", "options")
    if "network_g" not in opt:
        raise UserError(f"{source}: network_g is missing (needed to build the generator)")
    path_opt = opt.get("path") or {}
    if weights is None:
        weights = path_opt.get("pretrain_network_g")
        param_key = param_key or path_opt.get("param_key_g")
        if weights is None:
            raise UserError(f"{source}: no weights: give --model WEIGHTS or set path.pretrain_network_g")
    if not Path(weights).is_file():
        raise UserError(f"weights file {weights} does not exist")
    import srgan_kit.builtins  # noqa: F401  (every architecture registered)

    net = ARCHS.build(opt["network_g"], where=f"{source}: network_g")
    load_weights(net, weights, param_key=param_key, strict=path_opt.get("strict_load_g", True))
    return net.eval()


def model_upscaler(weights=None, opt=None, tile=0, tile_pad=DEFAULT_TILE_PAD, device="cpu", param_key=None):
    """``(upscale_fn, scale)`` for a trained generator (see :func:`build_generator` for weights / opt)."""
    net = build_generator(weights, opt, param_key)
    scale = getattr(net, "scale", None)
    if scale is None:
        raise UserError(f"network {type(net).__name__} does not tell its upscale factor (.scale)")
    upscaler = Upscaler(net, scale, tile=tile, tile_pad=tile_pad, device=device)
    return upscaler.upscale, int(scale)


# ---- metrics -------------------------------------------------------------------------------------------------


def _short_name(fn, given):
    names = [n for n in METRICS.names() if METRICS.get(n) is fn]
    return min(names, key=len) if names else given


def _metric_plan(metrics, scale, crop_border):
    """[(key, function, kwargs)] in the order asked; unknown names -> OptionError naming the nearest one."""
    border = int(scale if crop_border is None else crop_border)
    plan, seen = [], set()
    for given in _split_names(metrics):
        fn = METRICS.get(given.lower() if given.lower() in METRICS else given, where="metrics")
        key = _short_name(fn, given)
        if key in seen:
            continue
        seen.add(key)
        conv = _CONVENTIONS.get(fn.__name__)
        if conv is None:  # a metric registered later: border / Y channel when it takes them
            args = METRICS.arguments(key)
            conv = {k: v for k, v in (("crop_border", _BORDER), ("test_y_channel", True)) if k in args}
        kwargs = {k: (border if v is _BORDER else v) for k, v in conv.items()}
        plan.append((key, fn, kwargs))
    if not plan:
        raise UserError("no metric named (e.g. --metrics psnr,ssim)")
    return plan


def _to_levels(img):
    """Float RGB in [0, 1] -> float64 array in [0, 255] on 8-bit levels (what a saved PNG holds)."""
    return np.round(np.clip(np.asarray(img, dtype=np.float64), 0.0, 1.0) * 255.0)


def _fit_gt(sr, gt, scale, gt_path, sr_label):
    """GT cropped to the SR size when it is only the mod-crop larger; else a DataError naming both."""
    (h, w), (gh, gw) = sr.shape[:2], gt.shape[:2]
    if (h, w) == (gh, gw):
        return gt
    if 0 <= gh - h < scale and 0 <= gw - w < scale:
        return gt[:h, :w]
    raise DataError(f"{sr_label} is {h}x{w} but GT {gt_path} is {gh}x{gw} (expected GT / SR sizes to agree "
                    f"at scale x{scale})")


class _Scorer:
    """Holds the metric plan and the metrics found unavailable; scores one SR/GT pair at a time."""

    def __init__(self, metrics, scale, crop_border):
        self.scale = int(scale)
        self.plan = _metric_plan(metrics, scale, crop_border)
        self.unavailable = {}
        for key, _fn, _kw in self.plan:
            reason = metric_unavailable_reason(key)
            if reason:
                self.unavailable[key] = reason

    def header(self):
        return {
            "scale": self.scale,
            "metrics": [k for k, _f, _kw in self.plan],
            "better": {k: getattr(f, "better", "higher") for k, f, _kw in self.plan},
            "settings": {k: dict(kw) for k, _f, kw in self.plan},
            "unavailable": self.unavailable,
            "datasets": {},
        }

    def score(self, sr, gt, gt_path, sr_label):
        sr8 = _to_levels(sr)
        gt8 = _to_levels(_fit_gt(sr8, np.asarray(gt), self.scale, gt_path, sr_label))
        row = {}
        for key, fn, kwargs in self.plan:
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
            entry["mean"] = {k: _mean([row[k] for row in entry["images"].values()]) for k, _f, _kw in self.plan}
        result["unavailable"] = dict(self.unavailable)
        return result


def _mean(values):
    if not values or any(v is None for v in values):
        return None
    return float(np.mean(values))


def _lr_image(lr_path, gt, scale):
    if lr_path is not None:
        return load_image(lr_path).rgb
    lr = imresize(mod_crop(gt, scale), 1.0 / scale)  # like GTOnlyDataset: rounded to 8-bit levels
    return (_to_levels(lr) / 255.0).astype(np.float32)


def _check_not_input(path, inputs):
    if path.resolve() in inputs:
        raise DataError(f"refusing to overwrite input image {path} with an SR image (choose another save folder)")


def evaluate_model(upscale_fn, datasets, scale, metrics=DEFAULT_METRICS, crop_border=None, save_dir=None, *,
                   progress=False):
    """Upscale every LR image of ``datasets`` with ``upscale_fn`` and score it (see the module docstring)."""
    scale = int(scale)
    scorer = _Scorer(metrics, scale, crop_border)
    result = scorer.header()
    names = [spec.name for spec in datasets]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UserError(f"dataset {', '.join(twice)} named twice")
    plans = [(spec, _pairs(spec, scale)) for spec in datasets]  # every pairing checked before any work
    for spec, pairs in plans:
        images = {}
        out_dir = None if save_dir is None else Path(save_dir) / spec.name
        inputs = {p.resolve() for _stem, lr, gt in pairs for p in (lr, gt) if p is not None}
        with tqdm(total=len(pairs), desc=spec.name, unit="img", file=sys.stderr, disable=not progress,
                  leave=False) as bar:  # closed before an error is printed
            for stem, lr_path, gt_path in pairs:
                gt = load_image(gt_path).rgb
                lr = _lr_image(lr_path, gt, scale)
                sr = np.asarray(upscale_fn(lr))
                if sr.ndim != 3 or sr.shape[2] != 3:
                    raise DataError(f"{lr_path or gt_path}: the upscaler returned shape {sr.shape}, not HxWx3")
                images[stem] = scorer.score(sr, gt, gt_path, f"SR of {lr_path or gt_path}")
                if out_dir is not None:
                    target = out_dir / f"{stem}.png"
                    _check_not_input(target, inputs)
                    save_image(target, _to_levels(sr) / 255.0)
                bar.update()
        result["datasets"][spec.name] = {"mean": {}, "images": images}
    return scorer.finish(result)


def evaluate_folders(sr_dir, gt_dir, scale, sr_tmpl="{}", metrics=DEFAULT_METRICS, crop_border=None, name=None, *,
                     progress=False):
    """Score SR images already on disk against GT; SR of ``baby.png`` is ``sr_tmpl.format('baby')``.* ."""
    scale = int(scale)
    name = name or default_dataset_name(gt_dir)
    scorer = _Scorer(metrics, scale, crop_border)
    result = scorer.header()
    images = {}
    pairs = _match(gt_dir, sr_dir, sr_tmpl, scale, name, "SR")
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


# ---- output --------------------------------------------------------------------------------------------------


def _methods(result):
    """[(method name or None, single result)] for a single or merged result."""
    if "methods" in result:
        return list(result["methods"].items())
    return [(None, result)]


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_json(result, path):
    """Strict JSON (non-finite numbers as strings, see the module docstring)."""
    return write_text_atomic(path, json.dumps(_json_safe(result), indent=2, allow_nan=False) + "\n")


def _all_metrics(blocks):
    keys = []
    for _method, res in blocks:
        keys += [k for k in res["metrics"] if k not in keys]
    return keys


def write_csv(result, path):
    """Rows ``[method,] dataset, image, <metrics>``: per image, then a 'mean' row per dataset."""
    blocks = _methods(result)
    keys = _all_metrics(blocks)
    merged = "methods" in result
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow((["method"] if merged else []) + ["dataset", "image"] + keys)

    def cell(v):
        return "" if v is None else repr(float(v)) if math.isfinite(v) else str(v)

    for method, res in blocks:
        lead = [method] if merged else []
        for dataset, entry in res["datasets"].items():
            for image, row in entry["images"].items():
                writer.writerow(lead + [dataset, image] + [cell(row.get(k)) for k in keys])
            writer.writerow(lead + [dataset, "mean"] + [cell(entry["mean"].get(k)) for k in keys])
    return write_text_atomic(path, buf.getvalue())


def _fmt(key, value):
    if value is None:
        return "n/a"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.2f}" if key == "psnr" else f"{value:.4f}"


def _settings_line(blocks):
    _method, first = blocks[0]
    parts = [f"x{first['scale']}"]
    border = {k: s["crop_border"] for k, s in first["settings"].items() if "crop_border" in s}
    if border:
        by_value = {}
        for k, v in border.items():
            by_value.setdefault(v, []).append(k)
        parts += [f"crop border {v} ({', '.join(ks)})" for v, ks in by_value.items()]
    y = [k for k, s in first["settings"].items() if s.get("test_y_channel")]
    if y:
        parts.append(f"Y channel ({', '.join(y)})")
    whole = [k for k, s in first["settings"].items() if "crop_border" not in s]
    if whole:
        parts.append(f"whole RGB image ({', '.join(whole)})")
    better = first["better"]
    for direction in ("higher", "lower"):
        ks = [k for k in first["metrics"] if better.get(k) == direction]
        if ks:
            parts.append(f"{direction} is better: {', '.join(ks)}")
    return "; ".join(parts)


def format_table(result, per_image=False):
    """A plain-text table: a row per dataset (and method), 'n/a' for unavailable metrics, reasons below."""
    blocks = _methods(result)
    keys = _all_metrics(blocks)
    merged = "methods" in result
    head = ["dataset"] + (["method"] if merged else []) + ["images"] + keys
    rows = []
    datasets = []
    for _method, res in blocks:
        datasets += [d for d in res["datasets"] if d not in datasets]
    for dataset in datasets:
        for method, res in blocks:
            entry = res["datasets"].get(dataset)
            if entry is None:
                continue
            who = [method] if merged else []
            rows.append([dataset] + who + [str(len(entry["images"]))] + [_fmt(k, entry["mean"].get(k)) for k in keys])
            if per_image:
                for image, row in entry["images"].items():
                    rows.append([f"  {image}"] + who + [""] + [_fmt(k, row.get(k)) for k in keys])
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    text_cols = 2 if merged else 1  # left-aligned columns

    def line(cells):
        return "  ".join(c.ljust(w) if i < text_cols else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    out = [_settings_line(blocks), line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]
    reasons = {}
    for _method, res in blocks:
        reasons.update(res.get("unavailable") or {})
    out += [f"{k}: n/a ({reason})" for k, reason in reasons.items()]
    return "\n".join(out)
