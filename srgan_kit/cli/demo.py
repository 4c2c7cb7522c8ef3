"""`make demo`: build the demo data, train the small PSNR model, compare it with bicubic, upscale the LR folder."""
import argparse
import sys
from pathlib import Path

import numpy as np

from srgan_kit.archs.weights import load_weights
from srgan_kit.data.degradation import imresize
from srgan_kit.data.demo import build_demo_dataset
from srgan_kit.data.imageio import list_images, load_image
from srgan_kit.errors import UserError
from srgan_kit.inference import Upscaler
from srgan_kit.metrics import calculate_psnr, calculate_ssim
from srgan_kit.options import load_options
from srgan_kit.registry import ARCHS
from srgan_kit.training.trainer import train


def score(sr, hr, scale):
    """PSNR/SSIM on MATLAB's Y channel with crop_border = scale (the benchmark convention)."""
    sr8, hr8 = (np.clip(x * 255.0, 0, 255).round() for x in (sr, hr))
    kw = dict(crop_border=scale, test_y_channel=True)
    return calculate_psnr(sr8, hr8, **kw), calculate_ssim(sr8, hr8, **kw)


def compare_with_bicubic(net, val_opt, scale):
    """Mean PSNR/SSIM of bicubic and of the model over the validation pairs."""
    upscaler = Upscaler(net, scale)
    rows = {"bicubic": [], "model": []}
    tmpl = val_opt.get("filename_tmpl", "{}")
    lr_dir = Path(val_opt["dataroot_lq"])
    for hr_path in list_images(val_opt["dataroot_gt"]):
        hr = load_image(hr_path).rgb
        lr = load_image(next(lr_dir.glob(tmpl.format(hr_path.stem) + ".*"))).rgb
        rows["bicubic"].append(score(np.clip(imresize(lr, scale), 0, 1), hr, scale))
        rows["model"].append(score(upscaler.upscale(lr), hr, scale))
    return {k: tuple(np.mean(v, axis=0)) for k, v in rows.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-opt", default="options/demo.yml", help="demo option file")
    parser.add_argument("--root", default="datasets/demo", help="where the demo dataset is written")
    parser.add_argument("--results", default="results/demo", help="where the upscaled demo LR images go")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="option override")
    args = parser.parse_args(argv)
    try:
        paths = build_demo_dataset(args.root, scale=4)
        print(f"demo dataset: {args.root} (train {paths['train_hr']}, held-out {paths['val_hr']})")
        opt = load_options(args.opt, overrides=args.set)
        result = train(opt)
        net = ARCHS.build(opt["network_g"])
        ckpt = Path(opt["path"]["models"]) / "net_g_latest.pth"
        load_weights(net, ckpt, param_key="params_ema" if opt["train"].get("ema_decay", 0) > 0 else "params")
        table = compare_with_bicubic(net.eval(), opt["datasets"]["val"], opt["scale"])
        print(f"\nHeld-out demo images (x{opt['scale']}, Y channel, crop border {opt['scale']}):")
        print(f"{'method':<10} {'PSNR (dB)':>10} {'SSIM':>8}")
        for name, (p, s) in table.items():
            print(f"{name:<10} {p:>10.2f} {s:>8.4f}")
        from srgan_kit.cli.infer import main as infer_main

        infer_main(["-i", paths["val_lr"], "-o", args.results, "--model", str(ckpt)])
        print(f"upscaled demo LR images written to {args.results}/")
        if table["model"][0] <= table["bicubic"][0]:
            print("error: the demo model did not beat bicubic", file=sys.stderr)
            return 1
        print(f"model beats bicubic by {table['model'][0] - table['bicubic'][0]:+.2f} dB "
              f"after {result.iteration} iterations")
        return 0
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
