"""Every registered SR generator at its recipe size: parameters, forward FLOPs per 64x64 LR input, the training
step of srgan_kit (GeneratorStep with ``amp: auto`` + channels_last) against a plain fp32 PyTorch loop over the
same module, alternated A B A B in one process, and the time srgan_kit's Upscaler takes for a 256x256 LR image
(``precision='auto'``, channels_last, untiled). Prints a table with the ratio plain / ours and writes it as JSON
(default docs/bench_archs_cpu.json), which tools/archs_doc.py turns into docs/archs.md's measured columns.

    .venv/bin/python benchmarks/archs.py [--archs SPAN,SwinIR] [--iters 3] [--warmup 2] [--upscale-iters 1]
        [--json PATH] [--quick]     # make bench-archs: all of them, then docs/archs.md

Recipe size: network_g of the architecture's recipe in options/ (RECIPES) when that file exists, else the paper's
default (PAPER_SIZES). Training step: batch 4, GT 128 -> LR 32 at x4, L1 + Adam (benchmarks/train_step.py's PSNR
step: lr 1e-4, betas 0.9 / 0.99), no EMA on either side, both starting from the same weights. Ours is built from an
option file through Runtime like any run (train.amp auto: bf16 autocast where the CPU runs it natively, else
fp32); the plain loop runs the module contiguous, in fp32, without autocast. Times are medians of --iters after
--warmup rounds, upscaling of --upscale-iters after one warm-up. FLOPs are counted by torch.utils.flop_counter on
one forward (on the meta device), not estimated.

A subset (--archs) adds its rows to an existing JSON measured with the same settings on the same machine, so the
slow transformers can be measured in commands of their own; each row keeps the command that measured it.
--quick: batch 2, GT 64, a 32x32 upscale, 1 warm-up + 1 timed round (a smoke run; never into the docs' JSON).
A benchmark, not a test.
"""
import argparse
import copy
import gc
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_step import train_section  # noqa: E402  (the PSNR step's train section, as benchmarks/train_step.py)

from srgan_kit.config.options import load_options  # noqa: E402
from srgan_kit.device import cpu_description, resolve_precision  # noqa: E402
from srgan_kit.inference import Upscaler, forward_padded  # noqa: E402
from srgan_kit.registry import ARCHS, MODEL_TYPES  # noqa: E402
from srgan_kit.training.runtime import Runtime  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_JSON = "docs/bench_archs_cpu.json"
FLOPS_SIDE = 64  # FLOPs are per 64x64 LR input whatever the other settings

# The recipe each architecture is measured at, when the file exists.
RECIPES = {
    "MSRResNet": "options/train_msrresnet_x4_psnr.yml",
    "RRDBNet": "options/train_rrdbnet_x4_psnr.yml",
    "SPAN": "options/train_span_x4_psnr.yml",
    "Compact": "options/train_compact_x4_realesrgan.yml",
    "RealPLKSR": "options/train_realplksr_x4_gan.yml",
    "SwinIR": "options/train_swinir_m_x4_psnr.yml",
    "DAT": "options/train_dat_light_x4_psnr.yml",
    "HAT": "options/train_hat_s_x4_psnr.yml",
}
_SWIN_M = {"img_size": 64, "window_size": 8, "img_range": 1.0, "depths": [6] * 6, "embed_dim": 180,
           "num_heads": [6] * 6, "mlp_ratio": 2.0, "upsampler": "pixelshuffle", "resi_connection": "1conv"}
# x4 networks at their papers' (or official configurations') default sizes: (label, network_g).
PAPER_SIZES = {
    "MSRResNet": ("64 feats, 16 blocks", {"num_feat": 64, "num_block": 16, "upscale": 4}),
    "RRDBNet": ("ESRGAN: 64 feats, 23 RRDB", {"num_feat": 64, "num_block": 23, "num_grow_ch": 32, "scale": 4}),
    "SPAN": ("48 feats", {"feature_channels": 48, "upscale": 4}),
    "Compact": ("realesr-general-x4v3: 64 feats, 32 convs", {"num_feat": 64, "num_conv": 32, "upscale": 4,
                                                             "act_type": "prelu"}),
    "RealPLKSR": ("dim 64, 28 blocks", {"dim": 64, "n_blocks": 28, "upscaling_factor": 4}),
    "PLKSR": ("dim 64, 28 blocks", {"dim": 64, "n_blocks": 28, "upscaling_factor": 4}),
    "SAFMN": ("dim 36, 8 blocks", {"dim": 36, "n_blocks": 8, "ffn_scale": 2.0, "upscaling_factor": 4}),
    "OmniSR": ("64 feats, 5 groups, window 8", {"num_feat": 64, "res_num": 5, "block_num": 1, "window_size": 8,
                                                "up_scale": 4}),
    "SwinIR": ("SwinIR-M: embed 180, depths [6]*6, window 8", dict(_SWIN_M, upscale=4)),
    "Swin2SR": ("as SwinIR-M: embed 180, depths [6]*6, window 8",
                dict(_SWIN_M, upscale=4)),
    "HAT": ("HAT-S: embed 144, depths [6]*6, window 16", {
        "img_size": 64, "embed_dim": 144, "depths": [6] * 6, "num_heads": [6] * 6, "window_size": 16,
        "compress_ratio": 24, "squeeze_factor": 24, "conv_scale": 0.01, "overlap_ratio": 0.5, "mlp_ratio": 2.0,
        "upsampler": "pixelshuffle", "resi_connection": "1conv", "upscale": 4}),
    "DAT": ("DAT-light: embed 60, depth [18], split [8, 32]", {
        "img_size": 64, "embed_dim": 60, "depth": [18], "num_heads": [6], "split_size": [8, 32],
        "expansion_factor": 2.0, "resi_connection": "3conv", "upsampler": "pixelshuffledirect", "upscale": 4}),
    "RGT": ("embed 180, depth [6]*6, split [8, 32]", {
        "img_size": 64, "embed_dim": 180, "depth": [6] * 6, "num_heads": [6] * 6, "mlp_ratio": 2.0,
        "split_size": [8, 32], "c_ratio": 0.5, "upscale": 4}),
    "ATD": ("embed 210, depths [6]*6, window 16", {
        "img_size": 64, "embed_dim": 210, "depths": [6] * 6, "num_heads": [6] * 6, "window_size": 16,
        "category_size": 256, "num_tokens": 128, "reducted_dim": 20, "convffn_kernel_size": 5, "mlp_ratio": 2.0,
        "upsampler": "pixelshuffle", "upscale": 4}),
    "DRCT": ("embed 180, depths [6]*6, window 16", {
        "img_size": 64, "embed_dim": 180, "depths": [6] * 6, "num_heads": [6] * 6, "window_size": 16,
        "mlp_ratio": 2.0, "upsampler": "pixelshuffle", "resi_connection": "1conv", "gc": 32, "upscale": 4}),
    "RCAN": ("10 groups x 20 blocks, 64 feats", {"num_group": 10, "num_block": 20, "num_feat": 64,
                                                 "squeeze_factor": 16, "upscale": 4}),
    "EDSR": ("EDSR-M: 16 blocks, 64 feats", {"num_feat": 64, "num_block": 16, "upscale": 4}),
    "ECBSR": ("4 blocks, 16 channels", {"num_block": 4, "num_channel": 16, "act_type": "prelu", "scale": 4}),
}
QUICK = {"batch": 2, "gt": 32 * 2, "upscale_size": 32, "warmup": 1, "iters": 1, "upscale_iters": 1}


def generator_names():
    """Each registered SR generator once, in registration order (a class with a scale key; aliases folded onto
    the class's own name)."""
    names = {}
    for name in ARCHS.names():
        if ARCHS.attribute(name, "scale_key") is None:
            continue  # a discriminator
        obj = ARCHS.get(name)
        own = getattr(obj, "__name__", name)
        names.setdefault(id(obj), own if own in ARCHS else name)
    order = {id(obj): i for i, obj in enumerate(ARCHS.values())}
    return [names[key] for key in sorted(names, key=order.get)]


def canonical(name):
    """A registered name or alias -> the name generator_names() lists it under."""
    obj = ARCHS.get(name, "--archs")
    return next(n for n in generator_names() if ARCHS.get(n) is obj)


def recipe_network(name):
    """``(where the size comes from, network_g)``: the recipe's network_g, else the paper size, else defaults."""
    path = RECIPES.get(name)
    if path and (REPO / path).is_file():
        spec = load_options(REPO / path, root=REPO, check_paths=False)["network_g"]
        return path, json.loads(json.dumps(dict(spec)))  # plain lists and dicts (safe for YAML)
    if name in PAPER_SIZES:
        label, spec = PAPER_SIZES[name]
        return f"paper: {label}", {"type": name, **spec}
    return "defaults, x4", {"type": name, ARCHS.attribute(name, "scale_key"): 4}


def machine(device):
    """The machine line: CPU model and vector extensions, threads, torch, what ``amp: auto`` resolves to."""
    model, _, isa = cpu_description().rpartition(" (")
    amp = resolve_precision("auto", device)
    info = {"cpu": model, "isa": isa.rstrip(")"), "threads": torch.get_num_threads(), "torch": torch.__version__,
            "device": str(device), "amp_auto": "fp32" if amp is None else str(amp).split(".")[-1]}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device, fn, *args):
    sync(device)
    start = time.perf_counter()
    fn(*args)
    sync(device)
    return time.perf_counter() - start


def our_step(spec, scale, args, start, workdir):
    """srgan_kit's training step from an option file, as benchmarks/train_step.py builds its fast one."""
    opt = {"name": "bench_archs", "model_type": "sr", "scale": scale,
           "num_gpu": 0 if args.device == "cpu" else 1, "manual_seed": 0,
           "datasets": {"train": {"type": "GTOnlyDataset", "dataroot_gt": str(workdir), "gt_size": args.gt,
                                  "batch_size_per_gpu": args.batch}},
           "network_g": spec, "train": dict(train_section(0, {}), ema_decay=0, amp="auto", channels_last=True)}
    path = Path(workdir) / f"{spec['type']}.yml"
    path.write_text(yaml.safe_dump(opt))
    opt = load_options(path, root=workdir, check_paths=False)
    step = MODEL_TYPES.get(opt["model_type"]).step(opt, Runtime.from_options(opt))
    step.runtime.bare(step.net_g).load_state_dict(start)
    return step.run


def plain_step(spec, start, device):
    """The same module in a plain fp32 loop: contiguous, no autocast, L1 + Adam with the same hyperparameters."""
    net = ARCHS.build(spec).to(device)
    net.load_state_dict(start)
    net.train()
    optim = train_section(0, {})["optim_g"]
    optimizer = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=optim["lr"],
                                 betas=tuple(optim["betas"]), weight_decay=optim["weight_decay"])
    l1 = torch.nn.L1Loss()

    def step(batch, _it):
        optimizer.zero_grad(set_to_none=True)
        loss = l1(net(batch["lq"]), batch["gt"])
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def forward_gflops(net, side, device):
    """GFLOPs of one forward of a side x side LR input, counted on a copy on the meta device (shapes only, no
    arithmetic: instant); on ``device`` where the module does not run on meta (ECBSR's CPU constants)."""
    net.eval()
    for where in ("meta", device):
        counted = copy.deepcopy(net).to(where) if where == "meta" else net
        try:
            with torch.no_grad(), FlopCounterMode(display=False) as counter:
                forward_padded(counted, torch.rand(1, 3, side, side, device=where))
        except (RuntimeError, NotImplementedError):
            if where != "meta":
                raise
            continue
        return counter.get_total_flops() / 1e9


def measure(name, args, device, workdir):
    where, spec = recipe_network(name)
    scale = int(ARCHS.with_defaults(spec["type"], spec)[ARCHS.attribute(spec["type"], "scale_key")])
    torch.manual_seed(0)
    net = ARCHS.build(spec)
    start = {k: v.clone() for k, v in net.state_dict().items()}
    row = {"recipe": where, "network_g": spec, "scale": scale,
           "params": sum(p.numel() for p in net.parameters() if p.requires_grad),  # what training updates
           "params_all": sum(p.numel() for p in net.parameters()),
           "gflops_64": forward_gflops(net.to(device), FLOPS_SIDE, device)}
    del net

    g = torch.Generator().manual_seed(0)
    lr_side = args.gt // scale
    batch = {"lq": torch.rand(args.batch, 3, lr_side, lr_side, generator=g).to(device),
             "gt": torch.rand(args.batch, 3, lr_side * scale, lr_side * scale, generator=g).to(device)}
    methods = {"ours": our_step(spec, scale, args, start, workdir), "plain": plain_step(spec, start, device)}
    times = {m: [] for m in methods}
    for it in range(args.warmup + args.iters):  # A B A B ...; the first rounds warm up
        for method, step in methods.items():
            t = timed(device, step, batch, it + 1)
            if it >= args.warmup:
                times[method].append(t)
    del methods
    gc.collect()
    row["train_ms_ours"] = statistics.median(times["ours"]) * 1e3
    row["train_ms_plain"] = statistics.median(times["plain"]) * 1e3
    row["train_ratio"] = row["train_ms_plain"] / row["train_ms_ours"]

    net = ARCHS.build(spec)
    net.load_state_dict(start)
    up = Upscaler(net, scale, device=args.device, precision="auto", channels_last=True)
    img = np.random.default_rng(0).random((args.upscale_size, args.upscale_size, 3), dtype=np.float32)
    ups = [timed(device, up.upscale, img) for _ in range(1 + args.upscale_iters)][1:]
    row["upscale_ms"] = statistics.median(ups) * 1e3
    del up, net
    gc.collect()
    return row


def merge(path, result):
    """Rows of an existing JSON with the same settings and machine stay unless measured again."""
    path = Path(path)
    if not path.is_file():
        return result
    old = json.loads(path.read_text())
    if old.get("settings") != result["settings"] or old.get("machine") != result["machine"]:
        print(f"{path}: measured with other settings or on another machine; replaced")
        return result
    rows = {**old["rows"], **result["rows"]}
    order = generator_names()
    result["rows"] = {n: rows[n] for n in sorted(rows, key=lambda n: order.index(n) if n in order else len(order))}
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", help="comma-separated generators (registered names or aliases; default: all)")
    parser.add_argument("--iters", type=int, default=3, help="timed training rounds (A B) after the warm-up")
    parser.add_argument("--warmup", type=int, default=2, help="untimed training rounds first")
    parser.add_argument("--upscale-iters", type=int, default=1, help="timed upscales (after one warm-up)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--gt", type=int, default=128, help="GT crop side (LR side: gt / scale)")
    parser.add_argument("--upscale-size", type=int, default=256, help="side of the LR image upscaled")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and one round: a smoke run")
    parser.add_argument("--json", default=DEFAULT_JSON, help=f"write the results here (default {DEFAULT_JSON}; "
                        "'' for none)")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
        if args.json == DEFAULT_JSON:
            parser.error(f"--quick results do not go into {DEFAULT_JSON}: name another --json")
    device = torch.device(args.device)
    names = generator_names() if not args.archs else [canonical(n.strip()) for n in args.archs.split(",")]
    info = machine(device)
    settings = {k: getattr(args, k) for k in ("batch", "gt", "upscale_size", "warmup", "iters", "upscale_iters",
                                              "quick")}
    settings["flops_side"] = FLOPS_SIDE
    command = shlex.join([".venv/bin/python", "benchmarks/archs.py", *argv])
    print(f"{info['cpu']} ({info['isa']}), {info['threads']} threads, torch {info['torch']}, {device}; "
          f"amp: auto = {info['amp_auto']}")
    print(f"train: batch {args.batch}, GT {args.gt}; upscale: {args.upscale_size}x{args.upscale_size} LR; "
          f"median of {args.iters} after {args.warmup} warm-up")
    header = (f"{'network':<11}{'params':>9}{'GFLOPs/64²':>12}{'ours ms':>10}{'plain ms':>10}{'plain/ours':>11}"
              f"{'upscale ms':>12}  size")
    print(header)
    rows = {}
    with tempfile.TemporaryDirectory() as workdir:
        (Path(workdir) / "unused.png").touch()
        for name in names:
            start = time.perf_counter()
            r = rows[name] = dict(measure(name, args, device, workdir), command=command)
            print(f"{name:<11}{r['params'] / 1e6:>8.2f}M{r['gflops_64']:>12.1f}{r['train_ms_ours']:>10.0f}"
                  f"{r['train_ms_plain']:>10.0f}{r['train_ratio']:>10.2f}x{r['upscale_ms']:>12.0f}  {r['recipe']}"
                  f"  [{time.perf_counter() - start:.0f} s]", flush=True)
    result = {"machine": info, "settings": settings, "rows": rows}
    if args.json:
        result = merge(args.json, result)
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json} ({len(result['rows'])} networks)")
    return result


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count()))
    main()
