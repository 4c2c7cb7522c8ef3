"""``srgan-kit-create-lmdb`` / ``tools/create_lmdb.py``: a folder of images -> an LMDB in BasicSR's layout.

    python tools/create_lmdb.py -i datasets/DF2K/HR_sub -o datasets/DF2K/HR_sub.lmdb [--workers 4]

Train from it with ``io_backend: {type: lmdb}`` and ``dataroot_gt`` (and ``dataroot_lq``) naming the .lmdb
folders. An existing output is never touched, except the partial LMDB a stopped run of the same command left:
running it again continues where it stopped. Exit codes: 0 ok, 2 an error (one ``error:`` line), 130 stopped.
"""
import argparse

from srgan_kit.cli import COUNT, POSITIVE_INT, guarded


def build_parser():
    p = argparse.ArgumentParser(prog="srgan-kit-create-lmdb",
                                description="Write a folder of images into an LMDB (BasicSR's layout).")
    p.add_argument("-i", "--input", required=True, help="folder of images (not recursive)")
    p.add_argument("-o", "--output", required=True, help="the LMDB folder to make (its name ends with .lmdb)")
    p.add_argument("--workers", type=POSITIVE_INT, default=1, help="processes encoding images (default 1)")
    p.add_argument("--compress-level", "--compress_level", dest="compress_level", type=COUNT, default=1,
                   help="PNG compression level 0-9 (default 1, BasicSR's: fast to decode, a little larger)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    return p


def run(args):
    from srgan_kit.data.lmdb_writer import create_lmdb

    stats = create_lmdb(args.input, args.output, workers=args.workers, compress_level=args.compress_level,
                        progress=args.progress)
    resumed = f", {stats['resumed']} already there from a stopped run" if stats["resumed"] else ""
    print(f"{stats['images']} image(s) -> {stats['root']} ({stats['written']} written{resumed}; "
          f"{stats['bytes'] / 2**20:.1f} MiB)")
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    return guarded(lambda: run(args), on_interrupt="the images written so far are kept: run the same command "
                                                   "again to continue")
