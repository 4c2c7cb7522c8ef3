"""Upscaling speed of srgan_kit's Upscaler against Real-ESRGAN's RealESRGANer, same RealESRGAN_x4plus weights
(../shared) and image, untiled and tiled, alternated A B A B in one process. Prints ms per image, the ratio
(RealESRGANer time / ours), the PSNR of each output against srgan_kit's fp32 output and the peak RSS of a fresh
process that loads the weights and upscales the image once that way; --json writes the table.

    make bench-deps   # realesrgan without its face-restoration dependencies
    .venv/bin/python benchmarks/infer.py [--size 128] [--tile 64] [--repeats 2] [--weights PATH] [--device cuda]

A benchmark, not a test.
"""
import argparse
import json
import multiprocessing
import time
from pathlib import Path

import numpy as np
import skimage.data
import torch

from srgan_kit.archs.loading import build_from_weights
from srgan_kit.compat import import_basicsr
from srgan_kit.inference import DEFAULT_TILE_PAD, Upscaler

WEIGHTS = Path(__file__).resolve().parents[2] / "shared" / "weights" / "RealESRGAN_x4plus_fp16.pth"
REAL_ESRGAN_TILE_PAD = 10  # RealESRGANer's default


def psnr(a, b):
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def bench_image(size):
    return skimage.data.astronaut()[:size, 100:100 + size].astype(np.float32) / 255.0  # RGB


def runner(method, weights, size, tile, pad, precision="fp32", device="cpu"):
    """A function upscaling the benchmark image (HxWx3 float in [0, 1] out) the way ``method`` does."""
    img = bench_image(size)
    if method == "RealESRGANer":
        import_basicsr()  # the torchvision fix, before realesrgan imports basicsr
        from realesrgan import RealESRGANer

        rrdb = import_basicsr("basicsr.archs.rrdbnet_arch")
        bgr8 = np.round(img[..., ::-1] * 255).astype(np.uint8)
        model = rrdb.RRDBNet(num_in_ch=3, num_out_ch=3, num_feat=64, num_block=23, num_grow_ch=32, scale=4)
        upsampler = RealESRGANer(scale=4, model_path=weights, model=model, tile=tile, tile_pad=pad, pre_pad=0,
                                 half=False, device=torch.device(device))
        return lambda: upsampler.enhance(bgr8, outscale=4)[0][..., ::-1].astype(np.float32) / 255.0
    net, _spec = build_from_weights(weights)
    up = Upscaler(net, 4, tile=tile, tile_pad=pad, precision=precision, channels_last=precision != "fp32",
                  device=device)
    return lambda: np.round(np.clip(up.upscale(img), 0, 1) * 255) / 255.0


def _peak_rss_child(args, queue):
    torch.set_num_threads(args[-1])
    runner(*args[:-1])()
    # VmHWM is this process image's own high-water mark; ru_maxrss would keep the forking parent's across exec
    with open("/proc/self/status", encoding="ascii") as status:
        queue.put(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024)  # kB


def peak_rss_mib(*args):
    """Peak resident memory (MiB) of a new process that builds runner(*args) and upscales once."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_peak_rss_child, args=((*args, torch.get_num_threads()), queue))
    child.start()
    value = queue.get()
    child.join()
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=str(WEIGHTS))
    parser.add_argument("--size", type=int, default=128, help="side of the square input image")
    parser.add_argument("--tile", type=int, default=64, help="tile side for the tiled runs")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per method (after one warm-up)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda; fp16 is compared on cuda")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    ref_fp32 = Upscaler(build_from_weights(args.weights)[0], 4, device=args.device).upscale(bench_image(args.size))

    settings = {"untiled": (0, 0), f"tile {args.tile}, pad {REAL_ESRGAN_TILE_PAD}": (args.tile, REAL_ESRGAN_TILE_PAD),
                f"tile {args.tile}, pad {DEFAULT_TILE_PAD} (ours)": (args.tile, DEFAULT_TILE_PAD)}
    rows = []
    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {where}; {args.size}x{args.size} input, x4")
    for setting, (tile, pad) in settings.items():
        # method -> runner's (kind, pad, precision)
        configs = {} if "(ours)" in setting else {
            "RealESRGANer": ("RealESRGANer", REAL_ESRGAN_TILE_PAD if tile else 0, "fp32")}
        configs.update({"srgan_kit fp32": ("srgan_kit", pad, "fp32"), "srgan_kit auto": ("srgan_kit", pad, "auto")})
        if args.device.startswith("cuda"):
            configs["srgan_kit fp16"] = ("srgan_kit", pad, "fp16")
        methods = {m: runner(kind, args.weights, args.size, tile, p, prec, args.device)
                   for m, (kind, p, prec) in configs.items()}
        times, outputs = {m: [] for m in methods}, {}
        for i in range(args.repeats + 1):
            for method, run in methods.items():
                start = time.perf_counter()
                outputs[method] = run()
                if i:
                    times[method].append(time.perf_counter() - start)
        base = min(times["RealESRGANer"]) if "RealESRGANer" in times else None
        for method, ts in times.items():
            best = min(ts)
            kind, method_pad, precision = configs[method]
            rows.append({"setting": setting, "method": method, "ms": best * 1e3,
                         "ratio": base / best if base else None, "psnr_vs_fp32": psnr(outputs[method], ref_fp32),
                         "peak_rss_mib": peak_rss_mib(kind, args.weights, args.size, tile, method_pad, precision,
                                                      args.device)})
            r = rows[-1]
            ratio = f"{r['ratio']:>6.2f}x" if r["ratio"] else "       "
            print(f"{setting:<26}{method:<16}{r['ms']:>9.0f} ms{ratio}  PSNR vs fp32 {r['psnr_vs_fp32']:6.2f} dB"
                  f"  peak RSS {r['peak_rss_mib']:7.0f} MiB")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
