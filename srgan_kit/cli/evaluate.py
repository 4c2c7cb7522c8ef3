"""``srgan-kit-evaluate`` / ``tools/evaluate.py``: score SR outputs (``--sr``), a model (``--model`` / ``-opt``)
and MATLAB bicubic (``--bicubic``) on prepared benchmark sets (``--datasets``), an ``--lr``/``--gt`` pair or an
option file's val/test sets; any methods together. Prints a table; ``--json`` / ``--csv`` write the results
(shapes: srgan_kit.eval.harness and srgan_kit.eval.reports; an existing file is refused before any scoring unless
``--overwrite``), ``--save-sr DIR`` keeps the SR images as
``DIR/<method>/<dataset>/<stem>.png``; ``--compare-dir DIR`` writes a comparison sheet per image (LR, each
upscaling method, GT; srgan_kit.eval.compare) as ``DIR/<dataset>/<stem>.png``. Unavailable metrics print as n/a
with the reason; errors print one ``error:`` line and exit 2 (74: an output place that cannot be written).
Files of the given folders that are not images are named in one ``note:`` line. Examples: README, Evaluate.
"""
import argparse
import tempfile
from pathlib import Path

from srgan_kit.cli import COUNT, POSITIVE_INT, guarded, note_skipped_files, writable_file, writable_folder
from srgan_kit.eval import compare
from srgan_kit.eval import harness as ev
from srgan_kit.eval import reports, sets
from srgan_kit.device import PRECISIONS, resolve_device
from srgan_kit.errors import UserError
from srgan_kit.inference import DEFAULT_TILE_PAD


def build_parser():
    p = argparse.ArgumentParser(prog="srgan-kit-evaluate",
                                description="Score SR images, a model or bicubic with PSNR/SSIM/LPIPS/ST-LPIPS/NIQE.")
    p.add_argument("--sr", action="append", default=[], metavar="DIR",
                   help="folder of SR images to score against --gt (repeatable: one method per folder)")
    p.add_argument("--sr-tmpl", "--sr_tmpl", dest="sr_tmpl", default="{}",
                   help="SR file name stem for GT stem {} (default '{}'; e.g. '{}_x4'; {scale} allowed)")
    p.add_argument("--gt", help="folder of ground-truth (HR) images")
    p.add_argument("--lr", help="folder of LR inputs for --model / --bicubic (paired with --gt)")
    p.add_argument("--lr-tmpl", "--lr_tmpl", dest="lr_tmpl", default="{}x{scale}",
                   help="LR file name stem for GT stem {} (default '{}x{scale}', e.g. babyx4)")
    p.add_argument("--name", help="dataset name for --gt in the table and JSON (default: from the folder)")
    p.add_argument("--model", "--model_path", dest="model", help="generator weights (.pth or .safetensors)")
    p.add_argument("-opt", "--opt", dest="opt", help="option file: network_g, weights, val/test sets")
    p.add_argument("--bicubic", action="store_true", help="also score MATLAB-bicubic up-sampling (baseline)")
    p.add_argument("--datasets", help="comma-separated prepared sets, e.g. Set5,Set14,B100")
    p.add_argument("--data-root", "--data_root", dest="data_root", default="datasets",
                   help="where prepared sets live (default 'datasets')")
    p.add_argument("--scale", type=POSITIVE_INT, help="upscale factor (default: the model's)")
    p.add_argument("--metrics", default="psnr,ssim",
                   help="comma-separated: psnr, ssim, lpips, stlpips, niqe (default psnr,ssim)")
    p.add_argument("--crop-border", "--crop_border", dest="crop_border", type=COUNT, default=None,
                   help="border cropped for psnr/ssim/niqe (default: the scale)")
    p.add_argument("--tile", type=COUNT, default=0, help="tile size in LR pixels for the model, 0 = whole image")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="the model's precision: fp32 (default: the published tables' numbers), bf16, fp16, auto")
    p.add_argument("--tile-pad", "--tile_pad", dest="tile_pad", type=COUNT, default=DEFAULT_TILE_PAD,
                   help=f"context pixels around each tile (default {DEFAULT_TILE_PAD})")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
    p.add_argument("--save-sr", "--save_sr", dest="save_sr", help="keep SR images in DIR/<method>/<dataset>/")
    p.add_argument("--compare-dir", "--compare_dir", dest="compare_dir",
                   help="write a comparison sheet per image (LR | each method | GT) to this new or empty folder")
    p.add_argument("--json", help="write the results as JSON to this file")
    p.add_argument("--csv", help="write the results as CSV to this file")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing --json / --csv files (default: refuse them before any scoring)")
    p.add_argument("--per-image", "--per_image", dest="per_image", action="store_true",
                   help="table rows per image as well as the means")
    return p


def _check_args(args):
    if not (args.sr or args.model or args.opt or args.bicubic):
        raise UserError("nothing to evaluate: give --sr DIR, --model WEIGHTS / -opt FILE, or --bicubic")
    if args.sr and not args.gt:
        raise UserError("--sr needs --gt (the ground-truth folder)")
    if args.sr and args.datasets:
        raise UserError("--sr scores one folder against --gt; --datasets is for --model / --bicubic")
    if args.datasets and (args.lr or args.gt):
        raise UserError("give either --datasets or --lr/--gt, not both")
    if args.lr and not args.gt:
        raise UserError("--lr needs --gt (the ground-truth folder)")
    if args.compare_dir:
        out = Path(args.compare_dir)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise UserError(f"--compare-dir {out}: exists and is not an empty folder (nothing is overwritten)")
    _check_outputs(args)


def _check_outputs(args):
    """Every output place proven writable, and no results file replaced without --overwrite, before scoring."""
    files = {option: path for option, path in (("--json", args.json), ("--csv", args.csv)) if path}
    if len(files) == 2 and Path(files["--json"]).resolve() == Path(files["--csv"]).resolve():
        raise UserError(f"--json and --csv name the same file {args.json}")
    for option, path in files.items():
        if Path(path).is_file() and not args.overwrite:
            raise UserError(f"{option} {path}: exists (nothing is overwritten; --overwrite replaces it)")
        writable_file(path, option)
    for option, folder in (("--save-sr", args.save_sr), ("--compare-dir", args.compare_dir)):
        if folder:
            writable_folder(folder, option)


def _data(args, opt, scale):
    """DatasetSpecs for the upscaling methods (model / bicubic)."""
    if args.datasets:
        return sets.resolve_datasets(args.datasets, scale, args.data_root)
    if args.lr:
        return [sets.DatasetSpec(args.name or sets.default_dataset_name(args.gt), args.lr, args.gt, args.lr_tmpl)]
    if opt is not None:
        specs = sets.datasets_from_options(opt)
        if specs:
            return specs
        raise UserError(f"{args.opt}: no val/test dataset; give --datasets or --lr/--gt")
    if args.sr:  # --sr with --bicubic: the bicubic row needs LR images
        raise UserError("--bicubic next to --sr needs --lr DIR (the LR images)")
    raise UserError("no data: give --datasets Set5,... (prepared sets) or --lr DIR --gt DIR")


def _note_skipped(args, specs):
    """One note per folder read whose files that are not images go unscored (a GIF among the GT images...)."""
    folders = [*(("--sr", f) for f in args.sr), ("--gt", args.gt), ("--lr", args.lr)]
    folders += [(f"{spec.name} {role}", folder) for spec in specs for role, folder in
                (("GT", spec.gt_dir), ("LR", spec.lr_dir))]
    done = set()
    for what, folder in folders:
        if folder and Path(folder).resolve() not in done:
            done.add(Path(folder).resolve())
            note_skipped_files(folder, what)


def _model_name(args, opt):
    if args.model:
        return Path(args.model).stem
    return (opt or {}).get("name") or "model"


def _unique(method, results):
    """A method name not in results yet (two SR folders or models may share a name)."""
    return method if method not in results else f"{method} ({len(results) + 1})"


def run(args):
    """Evaluate per parsed ``args``; returns (result, exit code)."""
    _check_args(args)
    opt = ev.load_eval_options(args.opt) if args.opt else None
    results = {}
    scale = args.scale
    upscalers = []
    if args.model or args.opt:
        device = resolve_device(args.device)
        fn, model_scale = ev.model_upscaler(args.model, opt, tile=args.tile, tile_pad=args.tile_pad, device=device,
                                            precision=args.precision)
        if scale is not None and scale != model_scale:
            raise UserError(f"--scale {scale} does not match the model's scale {model_scale}")
        scale = model_scale
        upscalers.append((_model_name(args, opt), fn))
    if scale is None:
        raise UserError("--scale S is required (no model to take it from)")
    if args.bicubic:
        upscalers.append(("bicubic", ev.bicubic_upscaler(scale)))
    specs = _data(args, opt, scale) if upscalers else []
    dataset = (args.name or sets.default_dataset_name(args.gt)) if args.gt else None  # what --sr is scored as
    if args.compare_dir and args.sr and any(spec.name != dataset for spec in specs):
        raise UserError("--compare-dir with --sr: score the model on the same images (--lr/--gt), so every sheet "
                        "shows every method")
    _note_skipped(args, specs)
    sr_found = {}  # method -> {stem: SR image path}, for the comparison sheets
    for folder in args.sr:
        name = _unique(Path(folder).resolve().name or "sr", results)
        results[name] = ev.evaluate_folders(folder, args.gt, scale, args.sr_tmpl, args.metrics, args.crop_border,
                                            name=args.name, progress=True)
        if args.compare_dir:
            sr_found[name] = {stem: path for stem, path, _gt in
                              sets.match_pairs(args.gt, folder, args.sr_tmpl, scale, dataset, "SR")}
    with tempfile.TemporaryDirectory() as scratch:
        # the sheets are made from the SR images as saved: kept in --save-sr, else only for the sheets
        sr_root = args.save_sr or (scratch if args.compare_dir else None)
        sr_dirs = {}
        for method, fn in upscalers:
            method = _unique(method, results)
            sr_dirs[method] = None if sr_root is None else Path(sr_root) / method
            results[method] = ev.evaluate_model(fn, specs, scale, args.metrics, args.crop_border, sr_dirs[method],
                                                progress=True)
        if args.compare_dir:
            # SR folders alone: the sheets show the LR only when the user gave it (--lr)
            show_lr = bool(upscalers or args.lr)
            specs = specs or [sets.DatasetSpec(dataset, args.lr, args.gt, args.lr_tmpl)]
            sheets = compare.write_comparisons(args.compare_dir, specs, {**sr_found, **sr_dirs}, results, scale,
                                               show_lr)
            print(f"wrote {len(sheets)} comparison sheet(s) to {args.compare_dir}/")
    result = next(iter(results.values())) if len(results) == 1 else ev.merge_methods(results)
    if len(results) == 1:
        result = {"method": next(iter(results)), **result}
    print(reports.format_table(result, per_image=args.per_image))
    for path, write in ((args.json, reports.write_json), (args.csv, reports.write_csv)):
        if path:
            write(result, path)
            print(f"wrote {path}")
    return result, 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    return guarded(lambda: run(args)[1])
