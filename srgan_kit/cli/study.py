"""``srgan-kit-study`` / ``tools/study.py``: a loss-weighting study in one command: train a PSNR start, run
sweeps that fine-tune it, and write one report (tables, trade-off plots, a comparison sheet, findings).

    python tools/study.py --start options/study_psnr.yml \\
        --sweeps options/sweeps/study_gan_weight.yml,options/sweeps/study_perceptual_weight.yml,\\
options/sweeps/study_gan_type.yml,options/sweeps/study_terms.yml --datasets Set5 --doc docs/loss_study.md

`make study` lays out T91, BSD200 and Set5 from ../shared/data under datasets/ first and runs the above. Running
it again keeps the trained start and the finished variants (see srgan_kit.sweeps.study). Exit status: 0 done,
1 some variant failed (see the report), 2 bad input (nothing trained).
"""
import argparse
import shlex
import sys
import time

from srgan_kit.cli import comma_list, continue_with, guarded

DEFAULT_SWEEPS = ("options/sweeps/study_gan_weight.yml,options/sweeps/study_perceptual_weight.yml,"
                  "options/sweeps/study_gan_type.yml,options/sweeps/study_terms.yml")


def build_parser():
    p = argparse.ArgumentParser(
        prog="srgan-kit-study", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train one PSNR start, fine-tune it with every variant of several sweep files, and write one "
                    "report of the perception-distortion trade-off.", epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--start", default="options/study_psnr.yml", help="option file of the PSNR-trained start "
                   "(default: options/study_psnr.yml); every sweep's 'start:' must be its final weights")
    p.add_argument("--sweeps", type=comma_list, default=comma_list(DEFAULT_SWEEPS),
                   help="comma-separated sweep files (default: the four options/sweeps/study_*.yml)")
    p.add_argument("--datasets", type=comma_list, help="benchmark sets under --data-root to score on (default: each "
                   "sweep file's datasets)")
    p.add_argument("--data-root", default="datasets", help="folder of the benchmark sets (default: datasets)")
    p.add_argument("--metrics", type=comma_list, help="comma-separated metrics (default: each sweep file's)")
    p.add_argument("--out", default="results/loss_study", help="runs and sweep results (default: results/loss_study)")
    p.add_argument("--doc", default="docs/loss_study.md", help="the report; its pictures go to a folder of the same "
                   "name beside it (default: docs/loss_study.md)")
    p.add_argument("--device", help="device for scoring (default: the option files' num_gpu choice)")
    p.add_argument("--dry-run", action="store_true", help="check everything and list the work; train nothing")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no training progress bars")
    return p


def _log(text):
    print(text, flush=True)


def run(args, argv):
    from srgan_kit.sweeps.study import prepare_study, run_study

    study = prepare_study(args.start, args.sweeps, out_dir=args.out, datasets=args.datasets,
                          data_root=args.data_root, metrics=args.metrics, device=args.device)
    if args.dry_run:
        print(f"start: {study.start_path} -> {study.start_weights}")
        for prep in study.sweeps:
            print(f"{prep.spec.file}: {', '.join(p.variant.name for p in prep.plans)}")
        return 0
    t0 = time.perf_counter()
    start, runs = run_study(study, progress=args.progress, log=_log)
    from srgan_kit.sweeps.study_report import write_study_report  # matplotlib and friends only now
    command = " ".join(["python tools/study.py", *map(shlex.quote, argv)])
    paths = write_study_report(args.doc, study, start, runs, command, time.perf_counter() - t0)
    print(f"report: {paths[0]} (pictures in {paths[0].with_suffix('')})")
    failed = [f"{prep.spec.file}: {name}" for prep, result in runs for name in result.failed]
    if failed:
        print(f"failed: {'; '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    return guarded(continue_with(lambda: run(args, argv), "tools/study.py", argv),
                   "run the same command again to continue (finished work is kept)")
