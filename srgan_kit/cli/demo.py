"""`make demo`: build the demo data, train the PSNR model, fine-tune it as a GAN, score both against bicubic
on the held-out photos (PSNR/SSIM on Y, ST-LPIPS), upscale the held-out LR folder with each model, and write
``<results>/comparison.png`` (per held-out photo: the same crop of bicubic, each model and the GT, with scores)."""
import argparse
import tempfile
from pathlib import Path

from srgan_kit.cli import guarded
from srgan_kit.cli.infer import main as infer_main
from srgan_kit.data.demo import build_demo_dataset
from srgan_kit.config.options import load_options
from srgan_kit.eval.compare import image_rows, write_sheet
from srgan_kit.eval.harness import bicubic_upscaler, evaluate_model, merge_methods, model_upscaler
from srgan_kit.eval.reports import format_table
from srgan_kit.eval.sets import datasets_from_options
from srgan_kit.training.checkpoint import final_generator
from srgan_kit.training.trainer import train

METRICS = ("psnr", "ssim", "stlpips")  # PSNR/SSIM on Y with crop border = scale; ST-LPIPS (alex) whole image


def verdicts(means):
    """The demo's promises: the PSNR model beats bicubic; the GAN model is perceptually better than it."""
    out = [("the PSNR model beats bicubic in PSNR", means["psnr"]["psnr"] > means["bicubic"]["psnr"])]
    if "gan" in means:
        out.append(("the GAN model has a lower ST-LPIPS than the PSNR model",
                    means["gan"]["stlpips"] < means["psnr"]["stlpips"]))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-opt", default="options/demo.yml", help="PSNR stage option file")
    parser.add_argument("-opt-gan", "--opt-gan", dest="opt_gan", default="options/demo_gan.yml",
                        help="GAN stage option file ('' to skip the GAN stage)")
    parser.add_argument("--root", default="datasets/demo", help="where the demo dataset is written")
    parser.add_argument("--results", default="results/demo", help="where the upscaled demo LR images go")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="PSNR stage override")
    parser.add_argument("--set-gan", action="append", default=[], metavar="KEY=VALUE", help="GAN stage override")
    args = parser.parse_args(argv)
    return guarded(lambda: run(args), "`make demo` starts over (earlier runs are archived, never overwritten)")


def run(args):
    paths = build_demo_dataset(args.root, scale=4)
    print(f"demo dataset: {args.root} (train {paths['train_hr']}, held-out {paths['val_hr']})")
    stages = {"psnr": load_options(args.opt, overrides=args.set)}
    train(stages["psnr"])
    if args.opt_gan:
        # The GAN stage starts from the PSNR run's checkpoint, wherever that run wrote it.
        psnr_ckpt, _ = final_generator(stages["psnr"])
        overrides = [f"path.pretrain_network_g={psnr_ckpt}", *args.set_gan]
        stages["gan"] = load_options(args.opt_gan, overrides=overrides)
        train(stages["gan"])
    scale = stages["psnr"]["scale"]
    methods = {"bicubic": bicubic_upscaler(scale)}
    for name, opt in stages.items():
        ckpt, param_key = final_generator(opt)
        methods[name] = model_upscaler(weights=ckpt, opt=opt, param_key=param_key)[0]
        infer_main(["-i", paths["val_lr"], "-o", args.results, "--model", str(ckpt), "--suffix", name])
    held_out = datasets_from_options(stages["psnr"])
    with tempfile.TemporaryDirectory() as scratch:
        sr_dirs = {name: Path(scratch) / name for name in methods}
        results = {name: evaluate_model(fn, held_out, scale, METRICS, save_dir=sr_dirs[name])
                   for name, fn in methods.items()}
        sheet = write_sheet(Path(args.results) / "comparison.png",
                            [row for spec in held_out for _stem, row in image_rows(spec, sr_dirs, results, scale)])
    print("\nHeld-out demo images (PSNR/SSIM on Y; ST-LPIPS: lower is better):")
    print(format_table(merge_methods(results)))
    print(f"upscaled demo LR images written to {args.results}/")
    print(f"comparison of the held-out photos (bicubic, each model, GT): {sheet}")
    means = {name: next(iter(r["datasets"].values()))["mean"] for name, r in results.items()}
    failed = [text for text, ok in verdicts(means) if not ok]
    for text, ok in verdicts(means):
        print(f"{'ok' if ok else 'FAILED'}: {text}")
    return 1 if failed else 0
