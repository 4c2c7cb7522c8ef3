"""`make demo-archs`: the choice of generator, shown on the demo photos. MSRResNet (the demo's), SPAN and Compact
train for the same wall time with the demo's PSNR recipe (options/demo.yml, only network_g and the run name
changed), then each is scored on the held-out photos (PSNR/SSIM on Y, ST-LPIPS) and timed upscaling them.

Equal wall time: each network first trains a few iterations to measure its step time, then as many iterations as
fit in ``--minutes``, with the demo's schedule stretched to that length.
"""
import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import yaml

from srgan_kit.cli import guarded
from srgan_kit.errors import UserError
from srgan_kit.config.options import load_options
from srgan_kit.data.demo import build_demo_dataset
from srgan_kit.device import cpu_description
from srgan_kit.eval.compare import image_rows, write_sheet
from srgan_kit.eval.harness import bicubic_upscaler, evaluate_model, model_upscaler
from srgan_kit.eval.sets import datasets_from_options
from srgan_kit.training.checkpoint import final_generator
from srgan_kit.training.trainer import train

METRICS = ("psnr", "ssim", "stlpips")
# The networks compared, at the sizes their authors publish for fast models (the demo's MSRResNet is CPU-sized).
NETWORKS = {
    "MSRResNet": None,  # options/demo.yml's own
    "SPAN": {"type": "SPAN", "num_in_ch": 3, "num_out_ch": 3, "feature_channels": 48, "upscale": 4},
    "Compact": {"type": "Compact", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 64, "num_conv": 16,
                "upscale": 4, "act_type": "prelu"},
}
CALIBRATION_ITERATIONS = 10


def build_parser():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("-opt", default="options/demo.yml", help="the PSNR recipe every network trains with")
    p.add_argument("--minutes", type=float, default=3.0, help="training wall time per network (default 3)")
    p.add_argument("--networks", default=",".join(NETWORKS), help=f"comma-separated, from {', '.join(NETWORKS)}")
    p.add_argument("--root", default="datasets/demo", help="where the demo dataset is written")
    p.add_argument("--results", default="results/demo_archs", help="where the comparison picture goes")
    p.add_argument("--picture", help="the comparison picture (default: <results>/comparison.png)")
    p.add_argument("--json", help="also write the table to this JSON file (docs/demo_archs_cpu.json for the docs)")
    return p


def network_options(base, name, scratch, iterations):
    """The demo recipe with ``name``'s network, run name and ``iterations``, as an option file in ``scratch``
    (data folders made absolute, so a run rooted elsewhere reads the same photos)."""
    raw = yaml.safe_load(Path(base).read_text())
    if NETWORKS[name] is not None:
        raw["network_g"] = dict(NETWORKS[name])
    raw["name"] = f"demo_archs_{name.lower()}"
    raw["train"]["total_iter"] = iterations
    scheduler = raw["train"].get("scheduler") or {}
    if "periods" in scheduler:
        scheduler["periods"] = [iterations]
    raw["val"]["val_freq"] = iterations
    for dataset in raw["datasets"].values():
        for key in [k for k in dataset if k.startswith("dataroot")]:
            dataset[key] = os.path.abspath(dataset[key])
    path = Path(scratch) / f"{name}.yml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def step_seconds(base, name, scratch):
    """Seconds per training iteration of ``name`` on this machine (a short run in ``scratch``, not kept)."""
    opt = load_options(network_options(base, name, scratch, CALIBRATION_ITERATIONS), root=Path(scratch) / name)
    start = time.perf_counter()
    train(opt, progress=False)
    return (time.perf_counter() - start) / CALIBRATION_ITERATIONS


class Timed:
    """An upscale function that adds up the seconds it spends."""

    def __init__(self, fn):
        self.fn, self.seconds = fn, 0.0

    def __call__(self, lr):
        start = time.perf_counter()
        out = self.fn(lr)
        self.seconds += time.perf_counter() - start
        return out


def print_table(table):
    columns = ["network", "params", "iterations", "train_min", *METRICS, "upscale_s"]
    cells = [[str(row.get(c, "")) if not isinstance(row.get(c), float) else f"{row[c]:.4g}" for c in columns]
             for row in table]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    for line in [columns, *cells]:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths)))


def run(args):
    names = [n.strip() for n in args.networks.split(",") if n.strip()]
    unknown = [n for n in names if n not in NETWORKS]
    if not names or unknown:
        raise UserError(f"--networks: {', '.join(unknown) or 'none given'}; choose from {', '.join(NETWORKS)}")
    if args.json and Path(args.json).exists():
        raise UserError(f"--json {args.json}: exists (nothing is overwritten)")
    paths = build_demo_dataset(args.root, scale=4)
    print(f"demo dataset: {args.root} (train {paths['train_hr']}, held-out {paths['val_hr']})")
    methods, rows, opts = {"bicubic": bicubic_upscaler(4)}, {}, {}
    with tempfile.TemporaryDirectory() as scratch:
        for name in names:
            per_step = step_seconds(args.opt, name, scratch)
            iterations = max(1, int(args.minutes * 60 / per_step))
            print(f"{name}: {per_step * 1000:.0f} ms per iteration: {iterations} iterations in {args.minutes:g} min")
            opts[name] = load_options(network_options(args.opt, name, scratch, iterations))
            start = time.perf_counter()
            train(opts[name], progress=False)
            ckpt, key = final_generator(opts[name])
            upscale, _scale = model_upscaler(weights=ckpt, opt=opts[name], param_key=key)
            methods[name] = Timed(upscale)
            trained = [p for p in upscale.__self__.net.parameters() if p.requires_grad]
            rows[name] = {"params": sum(p.numel() for p in trained),
                          "iterations": iterations, "train_min": (time.perf_counter() - start) / 60}
        held_out = datasets_from_options(opts[names[0]])
        sr_dirs = {name: Path(scratch) / "sr" / name for name in methods}
        results = {name: evaluate_model(fn, held_out, 4, METRICS, save_dir=sr_dirs[name])
                   for name, fn in methods.items()}
        sheet = write_sheet(Path(args.picture or Path(args.results) / "comparison.png"),
                            [row for spec in held_out for _stem, row in image_rows(spec, sr_dirs, results, 4)])
    table = []
    for name, result in results.items():
        mean = next(iter(result["datasets"].values()))["mean"]
        row = {"network": name, **rows.get(name, {}), **{m: mean[m] for m in METRICS}}
        if name in rows:
            row["upscale_s"] = methods[name].seconds
        table.append(row)
    print(f"\nHeld-out demo photos after {args.minutes:g} min of training each (PSNR/SSIM on Y: higher is better; "
          "ST-LPIPS: lower is better; upscale_s: upscaling the held-out set):")
    print_table(table)
    print(f"comparison of the held-out photos (bicubic, each network, GT): {sheet}")
    if args.json:
        machine = {"cpu": cpu_description(), "cores": os.cpu_count()}
        command = f"tools/demo_archs.py --minutes {args.minutes:g} --json {args.json}"
        command += f" --picture {args.picture}" if args.picture else ""
        Path(args.json).write_text(json.dumps({"minutes": args.minutes, "machine": machine, "rows": table,
                                               "command": command}, indent=1) + "\n")
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    return guarded(lambda: run(args), "`make demo-archs` starts over (earlier runs are archived)")
