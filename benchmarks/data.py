"""The training data path's speed: batches of GT crops (and their x4 LR) as the training loader builds them, from
three sources of the same images, at several loader worker counts. Prints, per source and worker count, the
wall time per batch and samples/s; per source, the time one worker takes to build one batch and, with
``--step-ms`` (the training step's time, e.g. an ESRGAN step on the GPU), the workers needed to keep it fed
(samples needed per second = batch / step time).

    .venv/bin/python benchmarks/data.py [--images 32] [--size 2040x1356] [--workers 1,2,4] [--batch 16] \\
        [--gt 256] [--rounds 4] [--step-ms X] [--dataset paired] [--sources png,sub,lmdb] [--json FILE]

Sources: ``png`` a folder of whole 2K PNGs (DIV2K-sized) and their x4 LR; ``sub`` 480x480 sub-images of them every
240 pixels (BasicSR's extract_subimages, ``tools/prepare_datasets.py --subimages``); ``lmdb`` LMDBs of those
sub-images (``tools/create_lmdb.py``). The images are benchmarks/prepare.py's synthetic ones (the photos
scikit-image ships, zoomed, cropped and flipped), written to a temporary folder with the layout and LRs of
``srgan_kit.data.catalogue.prepare_dataset``; making them is not timed. ``--dataset paired`` reads GT and LR
(PairedImageDataset, ``filename_tmpl: '{}x4'``, the ESRGAN recipes'); ``gtonly`` reads the GT and makes each LR
crop by MATLAB bicubic (GTOnlyDataset). Random crops, flips and rotations as in training.

Each run is the training loader itself (srgan_kit.training.runtime.InfiniteLoader, persistent workers, torch's
prefetch depth) with one epoch longer than the run, as a set of DIV2K's size gives (a few images would otherwise
end an epoch every batch or two, and the workers wait at each end). The clock runs from the first batch to the
first batch ``--rounds`` rounds later (a round: one batch from each worker), so worker start-up and the batches
the workers start together are left out. Files were just written, so they come from the OS's page cache (a
second epoch on a machine with enough memory); on a cold disk the first epoch is slower. A benchmark, not a test.
"""
import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import cv2
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prepare import SCALE, make_hr_set  # noqa: E402  (the benchmarks' synthetic 2K images)

from srgan_kit.data.catalogue import SubimageSpec, prepare_dataset  # noqa: E402
from srgan_kit.training.runtime import EpochSampler, InfiniteLoader  # noqa: E402
from srgan_kit.training.trainer import build_dataset  # noqa: E402

SOURCES = {"png": "2K PNG folder", "sub": "sub-images 480 (PNG)", "lmdb": "sub-images 480 (LMDB)"}
DATASETS = {"paired": "PairedImageDataset", "gtonly": "GTOnlyDataset"}


def dataset_spec(kind, gt, lq, gt_size, io_backend=None):
    """A datasets.train entry as an option file gives it (what the trainer builds its dataset from)."""
    spec = {"type": DATASETS[kind], "dataroot_gt": str(gt), "scale": SCALE, "phase": "train", "gt_size": gt_size,
            "use_hflip": True, "use_rot": True, "io_backend": io_backend or {"type": "disk"}}
    if kind == "paired":
        spec.update(dataroot_lq=str(lq), filename_tmpl=f"{{}}x{SCALE}")
    return spec


def folder_sources(root, hr, kind, gt_size, spec):
    """{source: dataset entry} of the whole images and their sub-images, in prepare_dataset's layout."""
    prepare_dataset(hr, "Bench", scales=(SCALE,), out=root, subimages=spec, workers=os.cpu_count() or 1,
                    say=lambda _line: None, progress=False)
    x = root / "Bench" / f"X{SCALE}"
    return {"png": dataset_spec(kind, x / "HR", x / "LR", gt_size),
            "sub": dataset_spec(kind, x / "HR_sub", x / "LR_sub", gt_size)}


# ---- LMDB: its own function, so the folder sources run where the LMDB writer or the lmdb package is missing ----

def lmdb_source(root, kind, gt_size):
    """The LMDB source's dataset entry, or None after one printed line saying why it is skipped."""
    try:
        import lmdb  # noqa: F401  (the package LMDB datasets read with)

        from srgan_kit.data.lmdb_writer import create_lmdb
    except ImportError as exc:
        print(f"lmdb: skipped ({exc})")
        return None
    x = root / "Bench" / f"X{SCALE}"
    workers = os.cpu_count() or 1
    create_lmdb(x / "HR_sub", root / "HR_sub.lmdb", workers=workers, progress=False)
    if kind == "paired":
        create_lmdb(x / "LR_sub", root / "LR_sub.lmdb", workers=workers, progress=False)
    return dataset_spec(kind, root / "HR_sub.lmdb", root / "LR_sub.lmdb", gt_size, io_backend={"type": "lmdb"})


# ---- timing -------------------------------------------------------------------------------------------------

def time_loader(dataset, batch, workers, rounds):
    """Seconds per batch of the training loader with ``workers`` workers, over ``rounds`` rounds of batches."""
    per_round = max(workers, 1)
    timed = rounds * per_round
    repeats = math.ceil((timed + 1) * batch / len(dataset)) + 1  # one epoch covers the whole run
    sampler = EpochSampler(len(dataset), shuffle=True, seed=0, repeats=repeats)
    loader = InfiniteLoader(dataset, sampler, batch, workers, seed=0, samples_per_epoch=sampler.per_rank)
    next(loader)  # workers started; the first round is under way
    start = time.perf_counter()
    for _ in range(timed):
        next(loader)
    seconds = (time.perf_counter() - start) / timed
    del loader  # its workers stop now (not when the garbage collector finds it)
    return seconds


def workers_needed(rows, needed):
    """(workers, measured?) that deliver ``needed`` samples/s: the fewest measured, else an estimate from the
    best per-worker rate measured (linear in workers: as many free cores assumed)."""
    enough = [r["workers"] for r in rows if r["samples_per_s"] >= needed]
    if enough:
        return min(enough), True
    per_worker = max(r["samples_per_s"] / max(r["workers"], 1) for r in rows)
    return math.ceil(needed / per_worker), False


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=32, help="HR images (default 32; DIV2K's train split: 800)")
    parser.add_argument("--size", default="2040x1356", help="WIDTHxHEIGHT of each HR image (default 2040x1356)")
    parser.add_argument("--workers", default="1,2,4", help="loader worker counts to time (default 1,2,4)")
    parser.add_argument("--batch", type=int, default=16, help="batch_size_per_gpu (default 16)")
    parser.add_argument("--gt", type=int, default=256, help="gt_size of the crops (default 256)")
    parser.add_argument("--rounds", type=int, default=4, help="timed rounds of one batch per worker (default 4)")
    parser.add_argument("--step-ms", type=float, help="training step time: print the workers that keep it fed")
    parser.add_argument("--dataset", choices=list(DATASETS), default="paired",
                        help="paired: GT and LR files; gtonly: LR made from the GT crop (default paired)")
    parser.add_argument("--sources", default=",".join(SOURCES), help="comma-separated subset of png,sub,lmdb")
    parser.add_argument("--crop-size", type=int, default=480, help="sub-image size (default 480)")
    parser.add_argument("--step", type=int, default=240, help="sub-image step (default 240)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    counts = [int(w) for w in args.workers.split(",") if w.strip()]
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    unknown = sorted(set(sources) - set(SOURCES))
    if unknown:
        parser.error(f"--sources: {', '.join(unknown)} unknown (use {', '.join(SOURCES)})")
    if args.gt % SCALE or args.gt > min(args.crop_size, width, height) or args.crop_size % SCALE or args.step % SCALE:
        parser.error(f"--gt {args.gt} must be a multiple of {SCALE} that fits in --crop-size {args.crop_size} and "
                     f"--size {args.size}, and --crop-size and --step {args.step} multiples of {SCALE}")
    if min(counts, default=-1) < 0 or args.rounds < 1 or args.batch < 1:
        parser.error("--workers must be counts >= 0, --rounds and --batch >= 1")
    # torch's note that more workers than CPUs may be slow: the CPU count is in the header, the rates show it
    warnings.filterwarnings("ignore", message="This DataLoader will create")
    root = Path(tempfile.mkdtemp(prefix="srgan_kit_data_bench_"))
    os.environ["SRGAN_KIT_CACHE"] = str(root / "cache")  # the decode check's record stays in the temporary folder
    try:
        make_hr_set(root / "HR", args.images, width, height)
        specs = folder_sources(root, root / "HR", args.dataset, args.gt, SubimageSpec(args.crop_size, args.step))
        if "lmdb" in sources:
            specs["lmdb"] = lmdb_source(root, args.dataset, args.gt)
        print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, {cv2.getNumThreads()} OpenCV threads; "
              f"{args.images} images of {width}x{height}, {DATASETS[args.dataset]}, batch {args.batch} of GT "
              f"{args.gt} crops (x{SCALE} LR), {args.rounds} timed rounds")
        print(f"{'source':<24}{'workers':>8}{'items':>7}{'ms/batch':>10}{'samples/s':>11}")
        rows, summary = [], []
        for source in sources:
            if specs.get(source) is None:
                continue
            dataset = build_dataset(specs[source], f"benchmark {source}")
            mine = []
            for workers in counts:
                seconds = time_loader(dataset, args.batch, workers, args.rounds)
                mine.append({"source": source, "workers": workers, "items": len(dataset),
                             "ms_per_batch": seconds * 1e3, "samples_per_s": args.batch / seconds})
                r = mine[-1]
                print(f"{SOURCES[source]:<24}{workers:>8}{len(dataset):>7}{r['ms_per_batch']:>10.1f}"
                      f"{r['samples_per_s']:>11.1f}")
            rows += mine
            one = next((r for r in mine if r["workers"] == 1), mine[0])  # one worker: one batch at a time
            build_ms = one["ms_per_batch"] * max(one["workers"], 1)
            summary.append({"source": source, "batch_build_ms": build_ms})
            if args.step_ms:
                needed = args.batch * 1e3 / args.step_ms
                count, measured = workers_needed(mine, needed)
                summary[-1].update(needed_samples_per_s=needed, workers_needed=count, measured=measured)
        print()
        for s in summary:
            line = (f"{SOURCES[s['source']]}: one batch of {args.batch} built in {s['batch_build_ms']:.0f} ms "
                    "by a worker")
            if args.step_ms:
                how = "measured" if s["measured"] else "estimated from the best rate per worker"
                line += (f"; a {args.step_ms:g} ms step needs {s['needed_samples_per_s']:.1f} samples/s: "
                         f"{s['workers_needed']} worker{'s' if s['workers_needed'] != 1 else ''} ({how})")
            print(line)
        result = {"args": vars(args), "cpus": os.cpu_count(), "rows": rows, "summary": summary}
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        return result
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
