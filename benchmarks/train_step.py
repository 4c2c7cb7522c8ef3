"""A training step of srgan_kit against BasicSR's, on the same networks, losses, batch and starting weights,
alternated A B A B in one process. Prints ms/iter, the ratio (BasicSR time / ours) and the achieved GFLOP/s as
a fraction of the dtype's matmul peak measured in the same run; writes the table as JSON with --json.

    .venv/bin/python benchmarks/train_step.py [--steps 4] [--blocks 6] [--batch 4] [--gt 128] [--device cpu]

Cases: the ESRGAN GAN step (RRDBNet, VGG-style D at the GT size, L1 1e-2 + VGG19 conv5_4 + RaGAN 5e-3, EMA)
against basicsr's ESRGANModel, the SRGAN step (vanilla GAN) against SRGANModel, and the PSNR step (L1)
against SRModel; srgan_kit in fp32 (its BasicSR-equivalent path) and with ``amp: auto`` + channels_last.
Nothing is downloaded: VGG19 gets random weights written to a temporary file (speed does not depend on them).
FLOPs are counted by torch.utils.flop_counter on one step, not estimated. A benchmark, not a test.
"""
import argparse
import contextlib
import copy
import json
import os
import tempfile
import time
from pathlib import Path

import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models import vgg19

from srgan_kit.compat import import_basicsr
from srgan_kit.config.options import load_options
from srgan_kit.device import resolve_precision
from srgan_kit.registry import MODEL_TYPES
from srgan_kit.training.runtime import Runtime

CASES = {  # name: (BasicSR module.class, srgan_kit model_type, train keys that differ)
    "ESRGAN GAN step": ("esrgan_model.ESRGANModel", "ESRGANModel", {"gan": 5e-3}),
    "SRGAN GAN step": ("srgan_model.SRGANModel", "SRGANModel", {"gan": 5e-3}),
    "PSNR step": ("sr_model.SRModel", "SRModel", {}),
}


def train_section(gan_weight, pretrained_vgg):
    train = {
        "ema_decay": 0.999,
        "optim_g": {"type": "Adam", "lr": 1e-4, "weight_decay": 0, "betas": [0.9, 0.99]},
        "scheduler": {"type": "MultiStepLR", "milestones": [100000], "gamma": 0.5},
        "total_iter": 100000, "warmup_iter": -1,
        "pixel_opt": {"type": "L1Loss", "loss_weight": 1e-2 if gan_weight else 1.0, "reduction": "mean"},
    }
    if gan_weight:
        train.update(
            optim_d={"type": "Adam", "lr": 1e-4, "weight_decay": 0, "betas": [0.9, 0.99]},
            perceptual_opt={"type": "PerceptualLoss", "layer_weights": {"conv5_4": 1}, "vgg_type": "vgg19",
                            "use_input_norm": True, "range_norm": False, "perceptual_weight": 1.0,
                            "style_weight": 0, "criterion": "l1", **pretrained_vgg},
            gan_opt={"type": "GANLoss", "gan_type": "vanilla", "real_label_val": 1.0, "fake_label_val": 0.0,
                     "loss_weight": gan_weight},
            net_d_iters=1, net_d_init_iters=0)
    return train


def networks(args):
    g = {"type": "RRDBNet", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 64, "num_block": args.blocks,
         "num_grow_ch": 32}
    d = {"type": "VGGStyleDiscriminator", "num_in_ch": 3, "num_feat": 64}
    return g, d


def basicsr_model(cls_name, gan_weight, args, start):
    module, cls_name = cls_name.split(".")
    model_cls = getattr(import_basicsr(f"basicsr.models.{module}"), cls_name)
    g, d = networks(args)
    opt = {"name": "bench", "model_type": cls_name, "num_gpu": 0 if args.device == "cpu" else 1, "is_train": True,
           "dist": False, "rank": 0, "world_size": 1, "scale": 4, "network_g": g,
           "path": {"pretrain_network_g": None, "strict_load_g": True, "resume_state": None, "models": "",
                    "training_states": ""},
           "train": train_section(gan_weight, {}), "val": None, "logger": {"print_freq": 100}}
    if gan_weight:
        opt["network_d"] = d
    model = model_cls(copy.deepcopy(opt))
    model.net_g.load_state_dict(start["g"])
    model.net_g_ema.load_state_dict(start["g"])
    if gan_weight:
        model.net_d.load_state_dict(start["d"])

    def step(batch, it):
        model.feed_data(batch)
        model.optimize_parameters(it)

    return step


def our_step(model_type, gan_weight, args, start, fast, vgg_file, workdir):
    g, d = networks(args)
    opt = {"name": "bench", "model_type": model_type, "scale": 4, "num_gpu": 0 if args.device == "cpu" else 1,
           "manual_seed": 0,
           "datasets": {"train": {"type": "GTOnlyDataset", "dataroot_gt": str(workdir), "gt_size": args.gt,
                                  "batch_size_per_gpu": args.batch}},
           "network_g": g, "train": train_section(gan_weight, {"pretrained_path": str(vgg_file)})}
    opt["train"].update(amp="auto" if fast else "fp32", channels_last=fast, compile=args.compile if fast else False)
    if gan_weight:
        opt["network_d"] = dict(d, input_size=args.gt)
    path = Path(workdir) / f"{model_type}_{fast}.yml"
    path.write_text(yaml.safe_dump(opt))
    opt = load_options(path, root=workdir, check_paths=False)
    step = MODEL_TYPES.get(opt["model_type"]).step(opt, Runtime.from_options(opt))
    step.runtime.bare(step.net_g).load_state_dict(start["g"])
    step.ema.reset(step.runtime.bare(step.net_g))
    if gan_weight:
        step.runtime.bare(step.net_d).load_state_dict(start["d"])
    return step.run


def matmul_peak(dtype, device, n=2048, repeats=5):
    """GFLOP/s of an n x n matmul in ``dtype``: the practical peak the steps are compared with."""
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def timed(step, batch, it):
    start = time.perf_counter()
    step(batch, it)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=4, help="timed steps per method (after one warm-up)")
    parser.add_argument("--blocks", type=int, default=6, help="RRDB blocks (ESRGAN: 23)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--gt", type=int, default=128, help="GT crop size (128 or 256: the VGG-style D)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated subset of the cases")
    parser.add_argument("--compile", default=False, help="train.compile for the fast srgan_kit run (e.g. default)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    fast_dtype = resolve_precision("auto", device) or torch.float32
    peaks = {torch.float32: matmul_peak(torch.float32, device), fast_dtype: matmul_peak(fast_dtype, device)}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {device}; matmul peak: "
          + ", ".join(f"{str(k).split('.')[-1]} {v:.0f} GFLOP/s" for k, v in peaks.items()))
    rows = []
    with tempfile.TemporaryDirectory() as workdir, contextlib.chdir(workdir):
        vgg_file = Path("experiments/pretrained_models/vgg19-dcbb9e9d.pth")  # where basicsr looks for VGG19
        vgg_file.parent.mkdir(parents=True)
        torch.save(vgg19().state_dict(), vgg_file)
        (Path(workdir) / "unused.png").touch()
        g = torch.Generator().manual_seed(0)
        batch = {"lq": torch.rand(args.batch, 3, args.gt // 4, args.gt // 4, generator=g),
                 "gt": torch.rand(args.batch, 3, args.gt, args.gt, generator=g)}
        for name in args.cases.split(","):
            basicsr_cls, model_type, extra = CASES[name]
            gan = extra.get("gan", 0)
            torch.manual_seed(0)
            g_net = import_basicsr("basicsr.archs.rrdbnet_arch").RRDBNet(3, 3, num_block=args.blocks)
            d_net = import_basicsr("basicsr.archs.discriminator_arch").VGGStyleDiscriminator(3, 64, args.gt)
            start = {"g": g_net.state_dict(), "d": d_net.state_dict()}
            methods = {"BasicSR": basicsr_model(basicsr_cls, gan, args, start),
                       "srgan_kit fp32": our_step(model_type, gan, args, start, False, vgg_file.resolve(), workdir),
                       "srgan_kit auto+CL": our_step(model_type, gan, args, start, True, vgg_file.resolve(), workdir)}
            device_batch = {k: v.to(device) for k, v in batch.items()}
            times = {m: [] for m in methods}
            for it in range(args.steps + 1):  # A B C A B C ...; the first round warms up
                for method, step in methods.items():
                    t = timed(step, device_batch, it + 1)
                    if it:
                        times[method].append(t)
            with FlopCounterMode(display=False) as counter:
                methods["srgan_kit fp32"](device_batch, args.steps + 2)
            flops = counter.get_total_flops()
            base = min(times["BasicSR"])
            for method, ts in times.items():
                best = min(ts)
                dtype = fast_dtype if method.endswith("auto+CL") else torch.float32
                rows.append({"case": name, "method": method, "ms": best * 1e3, "ratio": base / best,
                             "gflops": flops / best / 1e9, "peak_fraction": flops / best / 1e9 / peaks[dtype]})
                r = rows[-1]
                print(f"{name:<18}{method:<20}{r['ms']:>9.0f} ms{r['ratio']:>7.2f}x{r['gflops']:>8.0f} GFLOP/s"
                      f"{100 * r['peak_fraction']:>6.0f} % of {str(dtype).split('.')[-1]} peak")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "peaks": {str(k): v for k, v in peaks.items()},
                                               "rows": rows}, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count()))
    main()
