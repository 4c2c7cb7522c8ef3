"""Preparing a DIV2K-sized training set: sub-image extraction with x4 LR crops (MATLAB bicubic) at several
``--workers`` counts, a rerun of the finished command, and the up-front decode check of the result (first start
with an empty cache, second start cached).

    .venv/bin/python benchmarks/prepare.py [--images 800] [--size 2040x1356] [--workers 1,2,4] \\
        [--crop-size 480 --step 240] [--min-gradient 0] [--out DIR --keep] [--json FILE]

The HR set is synthetic: the photos scikit-image ships (those of srgan_kit.data.demo), each image a different
zoom, crop, flip and brightness of one of them, written as 8-bit PNG (DIV2K's train split: 800 images about
2040x1356). Its making is not timed. Each worker count crops into a fresh folder (what
``tools/prepare_datasets.py --subimages --input HR --output HR_sub --lr-output LR_sub --scales 4`` does); the
files of the last one stay for the rerun and the decode check, the others are deleted as soon as they are
timed (a DIV2K-sized run writes some 15 GB). The decode check reads files the crop has just written, so they
may still be in the OS's page cache: a cold disk is slower. ``--out`` defaults to a temporary folder, removed at
the end unless ``--keep``. A benchmark, not a test.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from srgan_kit.data import verify
from srgan_kit.data.catalogue import SubimageSpec, extract_subimages
from srgan_kit.data.demo import TRAIN_PHOTOS, VAL_PHOTOS, _photo
from srgan_kit.data.imageio import image_size, list_images, save_image

SCALE = 4


def synthetic_image(photo, index, width, height):
    """A width x height RGB uint8 image made from ``photo``: its own zoom, crop, flips and brightness."""
    rng = np.random.default_rng(index)
    h, w = photo.shape[:2]
    zoom = max(width / w, height / h) * rng.uniform(1.0, 1.6)
    big = cv2.resize(photo, (max(width, round(w * zoom)), max(height, round(h * zoom))),
                     interpolation=cv2.INTER_CUBIC)
    top = int(rng.integers(0, big.shape[0] - height + 1))
    left = int(rng.integers(0, big.shape[1] - width + 1))
    img = big[top:top + height, left:left + width]
    if index & 1:
        img = img[:, ::-1]
    if index & 2:
        img = img[::-1]
    gain = rng.uniform(0.85, 1.15)
    return np.clip(img.astype(np.float32) * np.float32(gain / 255), 0, 1)


def make_hr_set(folder, count, width, height):
    """``count`` synthetic PNGs in ``folder`` (those already there with the right size are kept)."""
    photos = [np.ascontiguousarray(_photo(name)[..., :3]) for name in TRAIN_PHOTOS + VAL_PHOTOS]

    def one(i):
        path = folder / f"{i + 1:04d}.png"
        if not (path.is_file() and image_size(path) == (height, width)):
            save_image(path, synthetic_image(photos[i % len(photos)], i, width, height))

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:  # OpenCV's resize and PNG encoder release the GIL
        list(pool.map(one, range(count)))


def crop(hr, out, workers, spec):
    start = time.perf_counter()
    stats = extract_subimages(hr, out / "HR_sub", spec, workers=workers, lr_dir=out / "LR_sub", lr_scale=SCALE,
                              say=lambda _line: None, progress=False)
    return time.perf_counter() - start, stats


def decode_check(paths):
    start = time.perf_counter()
    bad = verify.verify_images(paths, "benchmark", raise_errors=False)
    assert not bad, bad
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=800, help="HR images (default 800, DIV2K's train split)")
    parser.add_argument("--size", default="2040x1356", help="WIDTHxHEIGHT of each HR image (default 2040x1356)")
    parser.add_argument("--workers", default="1,2,4", help="worker counts to time (default 1,2,4)")
    parser.add_argument("--crop-size", type=int, default=480)
    parser.add_argument("--step", type=int, default=240)
    parser.add_argument("--min-gradient", type=float, default=0.0, help="as tools/prepare_datasets.py's")
    parser.add_argument("--out", help="working folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    counts = [int(w) for w in args.workers.split(",") if w.strip()]
    if args.crop_size > min(width, height) or args.crop_size % SCALE or args.step % SCALE:
        parser.error(f"--crop-size {args.crop_size} must fit in {args.size} and it and --step {args.step} be "
                     f"multiples of {SCALE}")
    spec = SubimageSpec(args.crop_size, args.step, 0, args.min_gradient)
    root = Path(args.out or tempfile.mkdtemp(prefix="srgan_kit_prepare_bench_"))
    try:
        hr = root / "HR"
        make_hr_set(hr, args.images, width, height)
        print(f"{args.images} HR images of {width}x{height} (PNG), sub-images {args.crop_size}/{args.step} with "
              f"x{SCALE} LR crops, min-gradient {args.min_gradient:g}; {os.cpu_count()} CPUs, "
              f"{cv2.getNumThreads()} OpenCV threads")
        print(f"{'run':<26}{'wall s':>9}{'images/s':>10}{'sub-images/s':>14}")
        rows, last = [], None
        for workers in counts:
            out = root / f"crop_w{workers}"
            shutil.rmtree(out, ignore_errors=True)
            wall, stats = crop(hr, out, workers, spec)
            pairs = stats["written"] // 2
            rows.append({"run": f"crop --workers {workers}", "workers": workers, "wall_s": wall,
                         "images_per_s": args.images / wall, "sub_images_per_s": pairs / wall, "sub_images": pairs,
                         "dropped": stats["dropped"]})
            print(f"{rows[-1]['run']:<26}{wall:>9.2f}{args.images / wall:>10.2f}{pairs / wall:>14.1f}")
            if last is not None:
                shutil.rmtree(last)
            last = out
        wall, stats = crop(hr, last, counts[-1], spec)  # the same command again: everything is done
        rows.append({"run": "rerun, all done", "workers": counts[-1], "wall_s": wall,
                     "images_per_s": args.images / wall, "finished_before": stats["done"]})
        print(f"{'rerun, all done':<26}{wall:>9.2f}{args.images / wall:>10.1f}")
        if not rows[0]["sub_images"]:
            print("no sub-image left to decode (--min-gradient dropped them all)")
            return {"args": vars(args), "rows": rows}
        paths = list_images([last / "HR_sub", last / "LR_sub"])
        with tempfile.TemporaryDirectory(prefix="srgan_kit_cache_") as cache:
            os.environ["SRGAN_KIT_CACHE"] = cache  # an empty cache: the first start decodes every file
            first = decode_check(paths)
            second = decode_check(paths)
            cache_mb = verify.cache_file().stat().st_size / 2**20
        print(f"decode check of {len(paths)} sub-images (HR and LR, {verify._threads()} threads): first start "
              f"{first:.2f} s ({len(paths) / first:.0f} files/s), second start (cached, {cache_mb:.1f} MB) "
              f"{second:.2f} s")
        result = {"args": vars(args), "rows": rows, "decode_check": {"files": len(paths), "first_s": first,
                                                                     "second_s": second, "cache_mb": cache_mb}}
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        return result
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept {root}", file=sys.stderr)


if __name__ == "__main__":
    main()
