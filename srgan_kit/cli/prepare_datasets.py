"""``srgan-kit-prepare-datasets`` / ``tools/prepare_datasets.py``: lay out benchmark and training sets.

    # HR images -> datasets/<Name>/HR, datasets/<Name>/X{2,3,4}/{HR,LR} (LR: MATLAB bicubic, <stem>x<s>.png)
    python tools/prepare_datasets.py --hr DIR --name Set14 [--scales 2,3,4] [--out datasets] [--workers N]
    # ... plus sub-image crops for training (X<s>/HR_sub, X<s>/LR_sub), BasicSR's 480/240 by default
    python tools/prepare_datasets.py --hr DIV2K_train_HR --name DIV2K_train --scales 4 --subimages
    # crop any folder (an LR folder: --scale S divides crop size, step and threshold by S)
    python tools/prepare_datasets.py --subimages --input DIR --output DIR [--scale S] [--crop-size 480 --step 240]
    # a big HR folder -> HR sub-images, their x4 LR, near-flat ones left out, and Real-ESRGAN's meta_info
    python tools/prepare_datasets.py --subimages --input DF2K_HR --output DF2K_HR_sub --lr-output DF2K_LR_sub \\
        --scales 4 --min-gradient 0.005 --meta-info meta_info_DF2K_sub.txt --workers 8
    # what is known, where to download it; check a prepared set
    python tools/prepare_datasets.py --list | --download NAME | --check --name Set5 [--out datasets]

Known sets (Set5, Set14, B100, Urban100, Manga109, DIV2K_train, DIV2K_valid) have their image count checked:
a mismatch is a warning. Nothing is downloaded: ``--download NAME`` prints where to get the files and what to
run after unpacking them. Existing images are never overwritten (identical ones are kept); a stopped run
continues where it stopped when the same command runs again (the images it finished are skipped). Exit codes:
0 ok, 1 ``--check`` found problems, 2 an error (one ``error:`` line), 130 stopped.
"""
import argparse
import sys

from srgan_kit.cli import POSITIVE_INT, guarded, number
from srgan_kit.data import catalogue as bm
from srgan_kit.errors import UserError

MIN_GRADIENT_HELP = (
    "with --subimages: leave out sub-images (and their LR) whose mean gradient is below T: the mean over the "
    "tile's interior pixels of sqrt(gx^2 + gy^2), gx and gy being the 3x3 Sobel responses / 8 of its grey image "
    "(BT.601 luma in [0, 1]), so a ramp rising by a per pixel scores a. 0.005 (about 1.3 grey levels per pixel) "
    "leaves out flat sky and plain backgrounds; default 0: keep all")


def build_parser():
    p = argparse.ArgumentParser(prog="srgan-kit-prepare-datasets",
                                description="Lay out SR benchmark / training sets: X<s>/{HR,LR}, sub-images.")
    p.add_argument("--hr", help="folder of HR images to lay out")
    p.add_argument("--name", help=f"set name ({', '.join(bm.BENCHMARKS)} or your own)")
    p.add_argument("--scales", default=None, help="comma-separated scales (default 2,3,4; --check: all present; "
                                                  "with --lr-output: the one scale of the LR crops)")
    p.add_argument("--out", default="datasets", help="root of the layout (default 'datasets')")
    p.add_argument("--workers", type=POSITIVE_INT, default=1, help="processes making images (default 1)")
    p.add_argument("--subimages", action="store_true", help="also crop sub-images (or, with --input, only that)")
    p.add_argument("--crop-size", "--crop_size", dest="crop_size", type=int, default=480,
                   help="sub-image side in HR pixels (default 480)")
    p.add_argument("--step", type=int, default=240, help="sub-image stride in HR pixels (default 240)")
    p.add_argument("--thresh-size", "--thresh_size", dest="thresh_size", type=int, default=0,
                   help="add a last window flush with the edge when more than this many pixels remain (default 0)")
    p.add_argument("--min-gradient", dest="min_gradient", metavar="T", type=number(float, 0, low_ok=True),
                   default=0.0, help=MIN_GRADIENT_HELP)
    p.add_argument("--input", help="with --subimages: a folder of images to crop")
    p.add_argument("--output", help="with --subimages --input: where the crops go")
    p.add_argument("--lr-output", dest="lr_output", metavar="DIR",
                   help="with --input (an HR folder): also write each crop's LR (MATLAB bicubic, the one scale of "
                        "--scales) to DIR as <stem>_sNNNx<s>.png")
    p.add_argument("--scale", type=int, default=1, help="with --input: the folder's scale (LR folders), default 1")
    p.add_argument("--meta-info", "--meta_info", dest="meta_info", metavar="FILE",
                   help="with --subimages: write Real-ESRGAN's meta_info FILE listing the HR sub-images, one path "
                        "per line relative to their folder (dataroot_gt; with --hr: one scale only)")
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar (there is none either when stderr is not a terminal)")
    p.add_argument("--list", action="store_true", help="list the known sets with counts and download locations")
    p.add_argument("--download", metavar="NAME", help="print where to download NAME and what to run next")
    p.add_argument("--check", action="store_true", help="verify a prepared set (--name, --out, --scales): "
                                                          "X<s>/{HR,LR} pairs and sizes, X<s>/{HR_sub,LR_sub} pairs")
    return p


def _known(name):
    bench = bm.find_benchmark(name)
    if bench is None:
        raise UserError(f"unknown dataset {name!r}; known: {', '.join(bm.BENCHMARKS)}")
    return bench


def _summary(stats, what, min_gradient):
    kept = f", {stats['kept']} identical file(s) kept" if stats["kept"] else ""
    dropped = f", {stats['dropped']} sub-image(s) under --min-gradient {min_gradient:g} left out" \
        if min_gradient else ""
    done = f"; {stats['done']} image(s) finished by an earlier run" if stats["done"] else ""
    return (f"{what}: {stats['images']} image(s) -> {stats['root']} ({stats['written']} file(s) written{kept}"
            f"{dropped}{done})")


def _sub_spec(args):
    return bm.SubimageSpec(args.crop_size, args.step, args.thresh_size, args.min_gradient)


def _check_flags(args):
    """Combinations that cannot work, before anything is read."""
    if args.min_gradient and not args.subimages:
        raise UserError("--min-gradient chooses sub-images: add --subimages")
    if args.meta_info and not args.subimages:
        raise UserError("--meta-info lists sub-images: add --subimages")
    if args.lr_output and not args.input:
        raise UserError("--lr-output is for cropping a folder: give --subimages --input DIR --output DIR")
    if args.input and args.scales and not args.lr_output:
        raise UserError("--scales with --input is the scale of --lr-output's LR crops; an LR folder to crop "
                        "takes --scale S")


def run(args):
    if args.list:
        print("\n\n".join(bm.describe(b) for b in bm.BENCHMARKS.values()))
        return 0
    if args.download:
        print(bm.describe(_known(args.download)))
        print("(nothing is downloaded by this tool: fetch and unpack the files, then run the 'then:' line)")
        return 0
    if args.check:
        if not args.name:
            raise UserError("--check needs --name (the set to verify)")
        scales = bm.parse_scales(args.scales) if args.scales else None
        problems, warnings = bm.verify_layout(args.name, args.out, scales)
        for line in warnings + [f"problem: {p}" for p in problems]:
            print(line, file=sys.stderr)
        print(f"{bm.canonical_name(args.name)}: {'ok' if not problems else f'{len(problems)} problem(s)'}")
        return 1 if problems else 0
    _check_flags(args)
    if args.input:
        if not args.subimages or not args.output:
            raise UserError("--input is for cropping: give --subimages --input DIR --output DIR")
        lr_scale = None
        if args.lr_output:
            scales = bm.parse_scales(args.scales) if args.scales else []
            if len(scales) != 1:
                raise UserError("--lr-output needs the LR crops' scale: give one in --scales (e.g. --scales 4)")
            lr_scale = scales[0]
        stats = bm.extract_subimages(args.input, args.output, _sub_spec(args), args.scale, args.workers,
                                     lr_dir=args.lr_output, lr_scale=lr_scale, meta_info=args.meta_info,
                                     progress=args.progress)
        print(_summary(stats, "sub-images", args.min_gradient))
        return 0
    if not args.hr or not args.name:
        raise UserError("give --hr DIR --name NAME (or --subimages --input DIR --output DIR, --list, --check)")
    sub = _sub_spec(args) if args.subimages else None
    stats = bm.prepare_dataset(args.hr, args.name, bm.parse_scales(args.scales or "2,3,4"), args.out, sub,
                               args.workers, meta_info=args.meta_info, progress=args.progress)
    print(_summary(stats, bm.canonical_name(args.name), args.min_gradient))
    problems, warnings = bm.verify_layout(args.name, args.out, stats["scales"])
    for line in [f"problem: {p}" for p in problems]:
        print(line, file=sys.stderr)
    return 1 if problems else 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    return guarded(lambda: run(args), on_interrupt="the images finished so far are kept: run the same command "
                                                   "again to continue")
