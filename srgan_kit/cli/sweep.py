"""``srgan-kit-sweep`` / ``tools/sweep.py``: train variants of an option file (a loss
weight, a GAN type, ...) from the same start and lay out the perception-distortion trade-off.

    python tools/sweep.py -opt options/demo_gan.yml --sweep options/sweeps/demo_gan_weight.yml
    python tools/sweep.py -opt options/train_esrgan_x4.yml --sweep options/sweeps/esrgan_gan_weight.yml \\
        --datasets Set5,Set14 --data-root datasets --out results/esrgan_gan_weight

Writes OUT/results.csv, OUT/results.md, OUT/tradeoff.png, OUT/variants/<variant>.json and the runs under
OUT/experiments/. Running it again skips finished variants. The sweep file format: srgan_kit/sweeps/spec.py.
Exit status: 0 all variants finished, 1 some variant failed (see the table), 2 bad input (nothing trained).
"""
import argparse
import sys

from srgan_kit.cli import comma_list, continue_with, guarded


def build_parser():
    p = argparse.ArgumentParser(
        prog="srgan-kit-sweep", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train variants of an option file (a loss weight, a GAN type, ...) from the same start and "
                    "score them on the same data:\nPSNR/SSIM against LPIPS/ST-LPIPS/NIQE in a table and a plot.",
        epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("-opt", "--opt", dest="opt", help="base option file (default: the sweep file's 'base:')")
    p.add_argument("--sweep", required=True, help="sweep file: grid: {key: [values]} or variants: [{name, set}]")
    p.add_argument("--datasets", type=comma_list, help="comma-separated benchmark sets under --data-root "
                   "(<Name>/X<scale>/{LR,HR}); 'val' = the option file's validation sets (default: the sweep "
                   "file's datasets, else val)")
    p.add_argument("--data-root", default="datasets", help="folder of the benchmark sets (default: datasets)")
    p.add_argument("--out", help="output folder (default: results/sweeps/<sweep name>)")
    p.add_argument("--metrics", type=comma_list, help="comma-separated metrics, e.g. psnr,ssim,stlpips_alex,dists,"
                   "niqe,colour_shift (default: the sweep file's metrics, else psnr,ssim,stlpips,niqe)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="extra override for every variant, after the sweep's base_set (repeatable)")
    p.add_argument("--device", help="device for scoring (default: the option file's num_gpu choice)")
    p.add_argument("--tile", type=int, default=0, help="tile size for scoring large images (0 = whole image)")
    p.add_argument("--dry-run", action="store_true", help="check everything and list the variants; train nothing")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no training progress bars")
    return p


def _log(text):
    print(text, flush=True)


def run(args):
    from srgan_kit.sweeps.runner import prepare_sweep, run_prepared

    prep = prepare_sweep(args.sweep, base_path=args.opt, out_dir=args.out, datasets=args.datasets,
                         data_root=args.data_root, metrics=args.metrics, overrides=args.overrides,
                         device=args.device, tile=args.tile)
    if args.dry_run:
        print(f"{len(prep.plans)} variants of {prep.base_path}, each with: {' '.join(prep.common)}")
        for plan in prep.plans:
            state = "done" if prep.is_done(plan) else "interrupted: resumes" if prep.is_interrupted(plan) else \
                "to train"
            print(f"  {plan.variant.name} ({state}): " + (" ".join(
                f"{k}={v}" for k, v in plan.variant.settings.items()) or "the base options"))
        return 0
    result = run_prepared(prep, progress=args.progress, log=_log)
    for kind, path in result.files.items():
        print(f"{kind}: {path}")
    if result.failed:
        print(f"failed: {', '.join(result.failed)} (reasons in results.md; "
              f"tracebacks in {result.out_dir / 'variants'}/<variant>.json)", file=sys.stderr)
        return 1
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    return guarded(continue_with(lambda: run(args), "tools/sweep.py", argv),
                   "run the same command again to continue (finished variants are kept)")
