"""`make demo`: build the demo data, train the PSNR model, fine-tune it as a GAN, score both against bicubic
on the held-out photos (PSNR/SSIM on Y, ST-LPIPS), and upscale the held-out LR folder with each model."""
import argparse
import sys
from pathlib import Path

import numpy as np

from srgan_kit.archs.weights import load_weights
from srgan_kit.cli.infer import main as infer_main
from srgan_kit.data.degradation import imresize
from srgan_kit.data.demo import build_demo_dataset
from srgan_kit.data.imageio import list_images, load_image
from srgan_kit.errors import UserError
from srgan_kit.inference import Upscaler
from srgan_kit.metrics import calculate_psnr, calculate_ssim, stlpips_distance
from srgan_kit.options import load_options
from srgan_kit.registry import ARCHS
from srgan_kit.training.trainer import train

COLUMNS = ("PSNR (dB)", "SSIM", "ST-LPIPS")


def score(sr, hr, scale):
    """PSNR/SSIM on MATLAB's Y channel with crop_border = scale (the benchmark convention); ST-LPIPS (alex)."""
    sr8, hr8 = (np.clip(x * 255.0, 0, 255).round() for x in (sr, hr))
    kw = dict(crop_border=scale, test_y_channel=True)
    return calculate_psnr(sr8, hr8, **kw), calculate_ssim(sr8, hr8, **kw), stlpips_distance(sr8 / 255, hr8 / 255)


def validation_pairs(val_opt):
    """(LR, HR) float images of a paired validation set, matched through filename_tmpl."""
    tmpl, lr_dir = val_opt.get("filename_tmpl", "{}"), Path(val_opt["dataroot_lq"])
    for hr_path in list_images(val_opt["dataroot_gt"]):
        lr_path = next(lr_dir.glob(tmpl.format(hr_path.stem) + ".*"))
        yield load_image(lr_path).rgb, load_image(hr_path).rgb


def load_trained(opt):
    """The generator a run ended with (EMA weights when EMA was on) and its checkpoint path."""
    net = ARCHS.build(opt["network_g"])
    ckpt = Path(opt["path"]["models"]) / "net_g_latest.pth"
    load_weights(net, ckpt, param_key="params_ema" if opt["train"].get("ema_decay", 0) > 0 else "params")
    return net.eval(), ckpt


def compare(methods, val_opt, scale):
    """{method: mean (PSNR, SSIM, ST-LPIPS)} over the validation pairs; methods map LR -> SR images."""
    rows = {name: [] for name in methods}
    for lr, hr in validation_pairs(val_opt):
        for name, upscale in methods.items():
            rows[name].append(score(np.clip(upscale(lr), 0, 1), hr, scale))
    return {name: tuple(np.mean(v, axis=0)) for name, v in rows.items()}


def print_table(table, scale):
    print(f"\nHeld-out demo images (x{scale}; PSNR/SSIM on Y, crop border {scale}; ST-LPIPS lower is better):")
    print(f"{'method':<10}" + "".join(f"{c:>11}" for c in COLUMNS))
    for name, (psnr, ssim, stlpips) in table.items():
        print(f"{name:<10}{psnr:>11.2f}{ssim:>11.4f}{stlpips:>11.4f}")


def verdicts(table):
    """The demo's promises: the PSNR model beats bicubic; the GAN model is perceptually better than it."""
    out = [("the PSNR model beats bicubic in PSNR", table["psnr"][0] > table["bicubic"][0])]
    if "gan" in table:
        out.append(("the GAN model has a lower ST-LPIPS than the PSNR model", table["gan"][2] < table["psnr"][2]))
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
    try:
        paths = build_demo_dataset(args.root, scale=4)
        print(f"demo dataset: {args.root} (train {paths['train_hr']}, held-out {paths['val_hr']})")
        stages = {"psnr": load_options(args.opt, overrides=args.set)}
        train(stages["psnr"])
        if args.opt_gan:
            # The GAN stage starts from the PSNR run's checkpoint, wherever that run wrote it.
            _, psnr_ckpt = load_trained(stages["psnr"])
            overrides = [f"path.pretrain_network_g={psnr_ckpt}", *args.set_gan]
            stages["gan"] = load_options(args.opt_gan, overrides=overrides)
            train(stages["gan"])
        scale = stages["psnr"]["scale"]
        methods = {"bicubic": lambda lr: imresize(lr, scale)}
        for name, opt in stages.items():
            net, ckpt = load_trained(opt)
            methods[name] = Upscaler(net, scale).upscale
            infer_main(["-i", paths["val_lr"], "-o", args.results, "--model", str(ckpt), "--suffix", name])
        table = compare(methods, stages["psnr"]["datasets"]["val"], scale)
        print_table(table, scale)
        print(f"upscaled demo LR images written to {args.results}/")
        failed = [text for text, ok in verdicts(table) if not ok]
        for text, ok in verdicts(table):
            print(f"{'ok' if ok else 'FAILED'}: {text}")
        return 1 if failed else 0
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
