"""What the real-world degradation pipeline buys: the bicubic-trained demo models against the Real-ESRNet and
Real-ESRGAN demo models on held-out demo photos whose LR carries noise and JPEG, scored and shown side by side.
Each stage is compared with its bicubic-trained twin (same network and losses): Real-ESRNet (the PSNR demo model
fine-tuned) with the PSNR demo model, Real-ESRGAN with the GAN demo model (same length and seed, and the same
ready-made batches: they differ in their start and in the degraded batches).

    make demo                                                   # the bicubic demo models and the photos
    .venv/bin/python tools/train.py -opt options/demo_realesrnet.yml
    .venv/bin/python tools/train.py -opt options/demo_realesrgan.yml
    .venv/bin/python benchmarks/realworld_quality.py [--out docs/realworld_quality]

Held-out LR sets, made here from datasets/demo/val/HR with fixed seeds (8-bit at every step):

- ``camera``: MATLAB bicubic x4, then Gaussian noise sigma 10, then JPEG quality 50 (the order a camera or a
  web upload applies them: the noise and the blocks are at the LR's own pixel scale);
- ``hr_noise``: JPEG quality 50 and Gaussian noise sigma 10 on the HR image, then MATLAB bicubic x4 (the x4
  downscale averages most of both away);
- ``bicubic``: the clean LR of the demo (datasets/demo/val/LR), for reference.

Prints a table (PSNR / SSIM on Y with a 4-pixel border, ST-LPIPS) and, per set, which stage beats its twin;
writes ``<out>.json`` and ``<out>.png``: per photo of the ``hr_noise`` set, one crop of its LR (nearest-neighbour),
each model's output and the GT, labelled with the photo's scores (srgan_kit.eval.compare). A measurement, not a
test.
"""
import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from srgan_kit.data.degradation import imresize_int
from srgan_kit.data.imageio import load_image, save_image
from srgan_kit.eval.compare import image_rows, write_sheet
from srgan_kit.eval.harness import evaluate_model, merge_methods, model_upscaler
from srgan_kit.eval.reports import format_table, write_json
from srgan_kit.eval.sets import DatasetSpec

VAL = Path("datasets/demo/val")
MODELS = {
    "bicubic-PSNR": "experiments/demo_msrresnet_x4_psnr/models/net_g_latest.pth",
    "Real-ESRNet": "experiments/demo_realesrnet_x4/models/net_g_latest.pth",
    "bicubic-GAN": "experiments/demo_msrresnet_x4_gan/models/net_g_latest.pth",
    "Real-ESRGAN": "experiments/demo_realesrgan_x4/models/net_g_latest.pth",
}
TWINS = {"Real-ESRNet": "bicubic-PSNR", "Real-ESRGAN": "bicubic-GAN"}  # each stage and its bicubic-trained twin
METRICS = ["psnr", "ssim", "stlpips"]
SHEET_SET = "hr_noise"


def jpeg(rgb8, quality=50):
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(rgb8[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1]


def gaussian_noise(rgb8, seed, sigma=10.0):
    rng = np.random.default_rng(seed)
    return np.clip(np.round(rgb8 + rng.normal(0.0, sigma, rgb8.shape)), 0, 255).astype(np.uint8)


DEGRADATIONS = {
    "camera": lambda hr, seed: jpeg(gaussian_noise(imresize_int(hr, 0.25), seed)),
    "hr_noise": lambda hr, seed: imresize_int(gaussian_noise(jpeg(hr), seed), 0.25),
}


def make_sets(folder):
    """The held-out LR sets as DatasetSpecs (LR files written under ``folder``)."""
    specs = [DatasetSpec("bicubic", VAL / "LR", VAL / "HR", "{}x4")]
    for name, degrade in DEGRADATIONS.items():
        for i, path in enumerate(sorted((VAL / "HR").glob("*.png"))):
            hr = np.round(load_image(path).rgb * 255).astype(np.uint8)
            save_image(Path(folder) / name / f"{path.stem}x4.png", degrade(hr, seed=i) / 255.0)
        specs.append(DatasetSpec(name, Path(folder) / name, VAL / "HR", "{}x4"))
    return specs


def verdicts(results, sets):
    """One line per stage and set: does it beat its bicubic-trained twin in PSNR and in ST-LPIPS?"""
    lines = []
    for model, twin in TWINS.items():
        for name in sets:
            a, b = results[model]["datasets"][name]["mean"], results[twin]["datasets"][name]["mean"]
            psnr, stlpips = a["psnr"] - b["psnr"], a["stlpips"] - b["stlpips"]
            lines.append(f"{name}: {model} vs {twin}: PSNR {psnr:+.2f} dB, ST-LPIPS {stlpips:+.4f} -> "
                         f"{'beats it in both' if psnr > 0 and stlpips < 0 else 'does not beat it in both'}")
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="docs/realworld_quality", help="path stem of the JSON and PNG written")
    for name, default in MODELS.items():
        p.add_argument(f"--{name.lower()}", dest=name, default=default, help=f"{name} weights (default {default})")
    args = p.parse_args(argv)
    missing = [f"{name}: {getattr(args, name)}" for name in MODELS if not Path(getattr(args, name)).is_file()]
    if missing:
        print(f"error: no weights for {'; '.join(missing)} (train them first, see the docstring)", file=sys.stderr)
        return 2
    upscalers = {name: model_upscaler(getattr(args, name))[0] for name in MODELS}
    with tempfile.TemporaryDirectory() as folder:
        specs = make_sets(Path(folder) / "lr")
        sr_dirs = {name: Path(folder) / "sr" / name for name in MODELS}
        results = {name: evaluate_model(up, specs, 4, METRICS, save_dir=sr_dirs[name])
                   for name, up in upscalers.items()}
        merged = merge_methods(results)
        print(format_table(merged))
        for line in verdicts(results, [spec.name for spec in specs]):
            print(line)
        write_json(merged, f"{args.out}.json")
        shown = next(spec for spec in specs if spec.name == SHEET_SET)
        write_sheet(f"{args.out}.png", [row for _stem, row in image_rows(shown, sr_dirs, results, 4)])
    print(f"wrote {args.out}.json and {args.out}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
