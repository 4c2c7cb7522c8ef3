"""Speed of srgan_kit's building blocks against BasicSR's on the same inputs; prints time ratios.

    .venv/bin/python benchmarks/bench_vs_basicsr.py [--repeats 5] [--full]

Ratio = BasicSR time / srgan_kit time (above 1: srgan_kit is faster). CPU by default; a benchmark, not a test.
--full uses ESRGAN's full RRDBNet (23 blocks); the default is a 6-block one so the run takes about a minute.
"""
import argparse
import time

import numpy as np
import skimage.data
import torch

from srgan_kit.archs.generators import RRDBNet
from srgan_kit.compat import import_basicsr
from srgan_kit.data.degradation import imresize
from srgan_kit.eval.metrics import calculate_psnr, calculate_ssim


def best_time(fn, repeats):
    """Best of ``repeats`` wall-clock runs (after one warm-up), in seconds."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def cases(full):
    matlab = import_basicsr("basicsr.utils.matlab_functions")
    psnr_ssim = import_basicsr("basicsr.metrics.psnr_ssim")
    rrdb = import_basicsr("basicsr.archs.rrdbnet_arch")
    hr = skimage.data.astronaut().astype(np.float32) / 255.0  # 512x512 RGB photo
    sr = np.clip(imresize(imresize(hr, 1 / 4), 4), 0, 1)
    hr8, sr8 = (np.round(x * 255) for x in (hr, sr))
    blocks = 23 if full else 6
    ours_net, ref_net = RRDBNet(num_block=blocks).eval(), rrdb.RRDBNet(3, 3, num_block=blocks).eval()
    ours_net.load_state_dict(ref_net.state_dict())
    lr = torch.rand(1, 3, 64, 64)

    def forward(net):
        def run():
            with torch.no_grad():
                net(lr)
        return run

    yield "MATLAB bicubic x1/4, 512x512", lambda: matlab.imresize(hr, 1 / 4), lambda: imresize(hr, 1 / 4)
    # basicsr's metrics take BGR; the Y channel of the flipped image is the same.
    yield ("PSNR (Y, crop 4), 512x512", lambda: psnr_ssim.calculate_psnr(sr8[..., ::-1], hr8[..., ::-1], 4, test_y_channel=True),
           lambda: calculate_psnr(sr8, hr8, 4, test_y_channel=True))
    yield ("SSIM (Y, crop 4), 512x512", lambda: psnr_ssim.calculate_ssim(sr8[..., ::-1], hr8[..., ::-1], 4, test_y_channel=True),
           lambda: calculate_ssim(sr8, hr8, 4, test_y_channel=True))
    yield f"RRDBNet ({blocks} blocks) forward, 64x64 -> 256x256", forward(ref_net), forward(ours_net)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--full", action="store_true", help="ESRGAN's 23-block RRDBNet")
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    print(f"{'case':<44}{'BasicSR':>11}{'srgan_kit':>11}{'ratio':>8}")
    for name, ref, ours in cases(args.full):
        t_ref, t_ours = best_time(ref, args.repeats), best_time(ours, args.repeats)
        print(f"{name:<44}{t_ref * 1e3:>9.1f}ms{t_ours * 1e3:>9.1f}ms{t_ref / t_ours:>7.2f}x")


if __name__ == "__main__":
    main()
