"""``srgan-kit-preview-degradations`` / ``tools/preview_degradations.py``: the LR images an option file's
degradation settings make, before any training.

    python tools/preview_degradations.py -opt options/train_realesrnet_x4plus.yml -n 16 -o preview/

Draws ``-n`` samples (up to 1000) from the training set (RealESRGANDataset) and degrades them in batches of 16
exactly as the training step does (kernels, noise, JPEG, ``gt_size`` crop; no pool), writing each batch's
``lq_<i>.png`` and the matching ``gt_<i>.png`` (the crop the LR was made from) as it goes, then
``contact_sheet.png`` (each GT crop beside its LR, enlarged by nearest neighbour). An interrupted preview keeps
the samples it wrote. The output folder must be new or empty: nothing is overwritten. ``--seed`` picks other
samples. Problems print one ``error:`` line and exit 2 (74: an output folder that cannot be written).
"""
import argparse
import random
import sys
from pathlib import Path

from srgan_kit.cli import guarded, number, writable_folder
from srgan_kit.errors import UserError

TILE_DATASET = "RealESRGANDataset"
# A preview is for looking at: 1000 samples is more than anyone inspects, and the contact sheet (every sample in
# one image, held as float32) stays under 1.6 GB in memory at gt_size 256.
MAX_SAMPLES = 1000
# Samples degraded together (about a training batch): memory does not grow with -n, and each batch is on disk
# before the next is made.
BATCH = 16


def build_parser():
    p = argparse.ArgumentParser(prog="srgan-kit-preview-degradations",
                                description="Write the LR samples an option file's degradation settings make.")
    p.add_argument("-opt", "--opt", dest="opt", required=True,
                   help="YAML option file (RealESRNetModel or RealESRGANModel)")
    p.add_argument("-n", dest="count", type=number(int, 1, low_ok=True, high=MAX_SAMPLES, why="a preview to look at"),
                   default=16, help=f"samples to draw, up to {MAX_SAMPLES} (default 16)")
    p.add_argument("-o", "--output", required=True, help="folder to write (new or empty)")
    p.add_argument("--seed", type=int, default=0, help="which samples and degradations (default 0)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override an option, e.g. --set jpeg_range=[20,40] (repeatable)")
    return p


def contact_sheet(gt, lq):
    """Rows of [GT crop | LR enlarged by nearest neighbour], as one HxWx3 float array."""
    import torch

    enlarged = torch.nn.functional.interpolate(lq, size=gt.shape[-2:], mode="nearest")
    rows = torch.cat([gt, enlarged], dim=-1)  # N x 3 x H x 2W
    return torch.cat(list(rows), dim=-2).permute(1, 2, 0).numpy()


def run(args):
    import numpy as np
    from torch.utils.data import default_collate
    from tqdm import tqdm

    from srgan_kit.config.options import load_options
    from srgan_kit.data.datasets import SampleKey
    from srgan_kit.data.imageio import save_image
    from srgan_kit.models.realesrnet import DegradedPairs, build_pairs
    from srgan_kit.registry import MODEL_TYPES
    from srgan_kit.training.trainer import build_dataset

    out = Path(args.output)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"-o {out}: exists and is not an empty folder (nothing is overwritten)")
    # Only the training set's HR images are read: validation folders and weights files need not exist yet.
    opt = load_options(args.opt, overrides=args.overrides, is_train=True, check_paths=False)
    if not issubclass(MODEL_TYPES.get(opt["model_type"]).step, DegradedPairs):
        raise UserError(f"{args.opt}: model_type {opt['model_type']!r} trains on LR images as they are; "
                        f"the degradation preview needs RealESRNetModel or RealESRGANModel")
    # The HR tiles and kernels only (the ready-made pairs of RealESRGANPairedDataset are not previewed).
    dataset = build_dataset({**opt["datasets"]["train"], "type": TILE_DATASET}, "datasets.train")
    writable_folder(out, "-o")
    rng = random.Random(args.seed)
    keys = [SampleKey(rng.randrange(len(dataset)), rng.getrandbits(62)) for _ in range(args.count)]
    pairs, sheet = build_pairs(opt, 0, min(BATCH, args.count), with_ready_made=False), None
    starts = range(0, args.count, BATCH)
    for start in tqdm(starts, desc="previewing", unit="batch", file=sys.stderr, disable=len(starts) < 2):
        part = keys[start:start + BATCH]
        made = pairs(default_collate([dataset[key] for key in part]), rng.getrandbits(62))
        lq, gt = made["lq"].float(), made["gt"].float()
        for i in range(len(part)):
            save_image(out / f"lq_{start + i:03d}.png", lq[i].permute(1, 2, 0).numpy())
            save_image(out / f"gt_{start + i:03d}.png", gt[i].permute(1, 2, 0).numpy())
        rows = contact_sheet(gt, lq)
        if sheet is None:  # filled batch by batch: no second copy of the samples at the end
            sheet = np.empty((args.count * gt.shape[-2], *rows.shape[1:]), rows.dtype)
        sheet[start * gt.shape[-2]:start * gt.shape[-2] + len(rows)] = rows
    save_image(out / "contact_sheet.png", sheet)
    print(f"{args.count} LR sample(s) of {lq.shape[-1]}x{lq.shape[-2]} from {args.opt} -> {out}")
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    return guarded(lambda: run(args), on_interrupt=f"the samples written so far are kept in {args.output} (no "
                                                   "contact sheet)")
