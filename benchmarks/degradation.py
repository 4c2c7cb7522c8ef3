"""The second-order degradation stage against Real-ESRGAN's ``feed_data`` on the same HR batch and kernels,
alternated A B A B in one process, and its cost as a fraction of a RealESRNet (PSNR) training step.

    .venv/bin/python benchmarks/degradation.py [--batch 4] [--pad 400] [--gt 256] [--blocks 23] [--steps 2]

Real-ESRGAN degrades the whole ``crop_pad_size`` HR tile (400 in its recipes) and then crops ``gt_size``;
the step is timed at that ``gt_size``, with srgan_kit's PSNR step (RRDBNet, L1, EMA, ``amp: auto`` +
channels_last). RealESRGANModel puts its USM and JPEG modules on CUDA in its constructor and its
``feed_data`` fails on CPU tensors (a ``view`` of a non-contiguous tensor), so on a CPU the peer runs on an
instance given CPU modules, with contiguous inputs to ``filter2D``. Needs ``make bench-deps``. A benchmark,
not a test.
"""
import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_step import our_step  # noqa: E402  (the benchmarks' shared step builder)

from srgan_kit.compat import import_basicsr  # noqa: E402
from srgan_kit.data.realworld import (STAGE_DEFAULTS, SecondOrderDegradation, draw_kernels,  # noqa: E402
                                      kernel_settings, stage_settings)


def realesrgan_feed(device, scale, gt_size):
    """RealESRGANModel.feed_data with the recipe's keys, without the CUDA-only constructor."""
    import_basicsr("basicsr")  # the compat fix must precede realesrgan's basicsr imports
    from realesrgan.models import realesrgan_model
    from realesrgan.models.realesrgan_model import RealESRGANModel

    # on CPU, JPEG and resize outputs reach basicsr's filter2D non-contiguous and its view() fails; the peer
    # gets the same contiguous() that srgan_kit's stage does
    filter2d = realesrgan_model.filter2D
    realesrgan_model.filter2D = lambda img, kernel: filter2d(img.contiguous(), kernel)
    img_process, diffjpeg = import_basicsr("basicsr.utils.img_process_util"), import_basicsr("basicsr.utils.diffjpeg")
    model = RealESRGANModel.__new__(RealESRGANModel)
    model.opt = {**STAGE_DEFAULTS, "scale": scale, "gt_size": gt_size}
    model.device, model.is_train, model.queue_size = device, True, 0
    model.usm_sharpener = img_process.USMSharp().to(device)
    model.jpeger = diffjpeg.DiffJPEG(differentiable=False).to(device)
    model._dequeue_and_enqueue = lambda: None  # the pool costs the same in both; it is not what is measured

    def run(data, seed):
        model.feed_data(data)

    return run


def ours(device, scale):
    stage = SecondOrderDegradation(stage_settings({}), scale, device)

    def run(data, seed):
        stage(data["gt"], data["kernel1"], data["kernel2"], data["sinc_kernel"], seed)

    return run


def best_time(fn, *args, sync):
    start = time.perf_counter()
    fn(*args)
    sync()
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--pad", type=int, default=400, help="HR tile the degradation runs on (crop_pad_size)")
    parser.add_argument("--gt", type=int, default=256, help="gt_size the training step runs on")
    parser.add_argument("--blocks", type=int, default=23, help="RRDB blocks of the step's generator")
    parser.add_argument("--steps", type=int, default=2, help="timed rounds (after one warm-up)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    args.compile = False  # what train_step.our_step reads
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    g = torch.Generator().manual_seed(0)
    draws = [draw_kernels(kernel_settings({}), i) for i in range(args.batch)]
    data = {name: torch.stack([d[name] for d in draws]).to(device) for name in draws[0]}
    data["gt"] = torch.rand(args.batch, 3, args.pad, args.pad, generator=g).to(device)
    methods = {"Real-ESRGAN feed_data": realesrgan_feed(device, 4, args.gt), "srgan_kit stage": ours(device, 4)}
    times = {m: [] for m in methods}
    with tempfile.TemporaryDirectory() as workdir, contextlib.chdir(workdir):
        vgg_file = Path(workdir) / "vgg_unused.pth"  # the PSNR step builds no VGG
        (Path(workdir) / "unused.png").touch()
        torch.manual_seed(0)
        net = import_basicsr("basicsr.archs.rrdbnet_arch").RRDBNet(3, 3, num_block=args.blocks)
        step = our_step("SRModel", 0, args, {"g": net.state_dict()}, True, vgg_file, workdir)
        batch = {"lq": torch.rand(args.batch, 3, args.gt // 4, args.gt // 4, generator=g).to(device),
                 "gt": torch.rand(args.batch, 3, args.gt, args.gt, generator=g).to(device)}
        step_times = []
        for it in range(args.steps + 1):  # A B A B ...; the first round warms up
            for method, fn in methods.items():
                t = best_time(fn, data, it, sync=sync)
                if it:
                    times[method].append(t)
            t = best_time(step, batch, it + 1, sync=sync)
            if it:
                step_times.append(t)
    step_ms = min(step_times) * 1e3
    peer_ms = min(times["Real-ESRGAN feed_data"]) * 1e3
    rows = []
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {device}; batch {args.batch}, "
          f"HR tile {args.pad}, step at gt {args.gt} with {args.blocks} RRDB blocks: {step_ms:.0f} ms")
    for method, ts in times.items():
        ms = min(ts) * 1e3
        rows.append({"method": method, "ms": ms, "ratio": peer_ms / ms, "fraction_of_step": ms / step_ms})
        print(f"{method:<24}{ms:>9.0f} ms{peer_ms / ms:>7.2f}x{100 * ms / step_ms:>7.1f} % of a RealESRNet step")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "step_ms": step_ms, "rows": rows}, indent=2)
                                   + "\n")
    return rows


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count()))
    main()
