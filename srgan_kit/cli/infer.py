"""``srgan-kit-infer`` / ``tools/infer.py``: upscale an image or a folder of images with trained weights.

The architecture comes from the weights (``archs.detect``) unless ``-opt`` names it (``network_g``).
Outputs are ``<OUTDIR>/<stem>_<suffix>.<ext>`` (Real-ESRGAN's naming). A bad image is reported on one line and
skipped; the exit code is then 1. Input files are never overwritten. Setup errors (missing input or weights,
bad options) print one ``error:`` line and exit 2; an output folder that cannot be written, 74. Files of a folder
that are not images are named in one ``note:`` line.
"""
import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from srgan_kit.cli import COUNT, POSITIVE_INT, guarded, note_skipped_files, number, writable_folder
from srgan_kit.archs.loading import build_generator
from srgan_kit.device import PRECISIONS, resolve_device
from srgan_kit.data.imageio import list_images, load_image, save_image
from srgan_kit.errors import DataError, UserError
from srgan_kit.inference import DEFAULT_TILE_PAD, Upscaler

# What the output format must be able to hold (OpenCV encoders): no alpha in JPEG, 16-bit only in PNG/TIFF.
_NO_ALPHA = (".jpg", ".jpeg")
_SIXTEEN_BIT = (".png", ".tif", ".tiff")
# The output holds outscale² times the input's pixels: x16 (a x4 model resized 4 times further) is past any
# published SR factor (x8 at most), and a larger value is a slip that would try to allocate gigabytes per image.
MAX_OUTSCALE = 16


def build_parser():
    p = argparse.ArgumentParser(prog="srgan-kit-infer", description="Upscale images with a trained SR generator.")
    p.add_argument("-i", "--input", required=True, help="an image or a folder of images")
    p.add_argument("-o", "--output", required=True, help="output folder (created if missing)")
    p.add_argument("--model", "--model_path", dest="model", help="generator weights (.pth or .safetensors)")
    p.add_argument("-opt", "--opt", dest="opt", help="option file naming network_g (else detected from weights)")
    p.add_argument("-s", "--outscale", default=None,
                   type=number(float, high=MAX_OUTSCALE, why="the output has outscale² times the input's pixels"),
                   help=f"final upscale factor, up to {MAX_OUTSCALE} (default: the model's)")
    p.add_argument("--tile", type=COUNT, default=0, help="tile size in input pixels, 0 = no tiling (default 0)")
    p.add_argument(
        "--tile-pad", "--tile_pad", dest="tile_pad", type=COUNT,
        default=DEFAULT_TILE_PAD,
        help=f"context pixels around each tile (default {DEFAULT_TILE_PAD}: deep models such as RealESRGAN_x4plus "
        "need ~72 for tiled output within 1/255 of untiled; small generators need far less)",
    )
    p.add_argument("--suffix", default="out", help="output name suffix: <stem>_<suffix>.<ext> (default 'out')")
    p.add_argument("--ext", choices=("auto", "png", "jpg"), default="auto", help="output format (auto: as input)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available, else cpu)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="fp32, bf16, fp16 (CUDA only) or auto: bf16 where the hardware runs it natively (default)")
    p.add_argument("--half", action="store_true", help="same as --precision fp16 (CUDA only)")
    p.add_argument("--channels-last", "--channels_last", dest="channels_last", action=argparse.BooleanOptionalAction,
                   default=True, help="channels-last memory format (default on: faster convolutions)")
    p.add_argument("--tile-batch", "--tile_batch", dest="tile_batch", type=POSITIVE_INT, default=1,
                   help="tiles run together per network call (default 1; more uses more memory)")
    return p


def collect_inputs(path):
    """An image file -> [it]; a folder -> its images (sorted). Missing -> DataError."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"input {path} does not exist")
    if path.is_dir():
        files = list_images(path, what="input images (-i)")
        note_skipped_files(path, "-i")
        return files
    return [path]


def build_network(model_path, opt_path=None):
    """The generator with weights loaded: from ``-opt``'s network_g if given, else detected from the weights."""
    if opt_path is None and model_path is None:
        raise UserError("--model WEIGHTS is required (or -opt with path.pretrain_network_g)")
    opt = None
    if opt_path is not None:
        from srgan_kit.config.options import load_options  # only -opt needs the option machinery

        opt = load_options(opt_path, is_train=False, check_paths=False)
    return build_generator(model_path, opt)


def output_path(src, outdir, suffix, ext_choice, has_alpha, bit_depth):
    """-> (``<outdir>/<stem>_<suffix>.<ext>``, bit depth to write, notes for the user).

    Alpha never goes into a JPEG and 16-bit data never into a format of 8 bits: such outputs become .png (as
    alpha does in Real-ESRGAN), with a note when the user asked for that format.
    """
    ext = src.suffix.lower() if ext_choice == "auto" else "." + ext_choice
    notes = []
    if has_alpha and ext in _NO_ALPHA:
        ext = ".png"  # like Real-ESRGAN: never throw the alpha away
        if ext_choice != "auto":
            notes.append("alpha channel: written as .png instead of .jpg")
    if bit_depth == 16 and ext not in _SIXTEEN_BIT:
        if ext_choice != "auto":
            notes.append(f"16-bit input: written as .png ({ext} holds 8 bits)")
        ext = ".png"
    name = f"{src.stem}_{suffix}{ext}" if suffix else f"{src.stem}{ext}"
    return Path(outdir) / name, bit_depth, notes


def _process(upscaler, src, args, outdir, inputs, written):
    """Upscale one file and write it; returns a list of notes. Problems raise UserError naming the file."""
    img = load_image(src)
    dst, bit_depth, notes = output_path(src, outdir, args.suffix, args.ext, img.alpha is not None, img.bit_depth)
    key = dst.resolve()
    if key in inputs:
        raise DataError(f"{src}: refusing to overwrite input file {dst} (choose another -o or --suffix)")
    if key in written:
        raise DataError(f"{src}: output {dst} was already written from {written[key]} (same name stem)")
    rgb, alpha = upscaler.enhance(img.rgb, img.alpha, outscale=args.outscale, name=src.name)
    save_image(dst, rgb, alpha, bit_depth=bit_depth)
    written[key] = src
    return [f"{src.name}: {n}" for n in notes]


def run(args):
    """Do the work for parsed ``args``; returns the exit code (0 ok, 1 some files failed)."""
    files = collect_inputs(args.input)
    net = build_network(args.model, args.opt)
    scale = getattr(net, "scale", None)
    if scale is None:
        raise UserError(f"network {type(net).__name__} does not tell its upscale factor (.scale)")
    upscaler = Upscaler(net, scale, tile=args.tile, tile_pad=args.tile_pad, device=resolve_device(args.device),
                        half=args.half, precision=args.precision, channels_last=args.channels_last,
                        tile_batch=args.tile_batch)
    outdir = writable_folder(args.output)  # before any image is computed

    inputs = {f.resolve() for f in files}
    if not args.suffix and args.ext == "auto" and any(f.parent == outdir.resolve() for f in inputs):
        # every output would land on its input: say so once instead of once per file
        raise UserError(f"output folder {outdir} holds the inputs and --suffix is empty: that would overwrite them")
    written, failed = {}, []
    for src in tqdm(files, desc="upscaling", unit="img", file=sys.stderr, disable=len(files) < 2):
        try:
            for note in _process(upscaler, src, args, outdir, inputs, written):
                tqdm.write(f"note: {note}", file=sys.stderr)
        except UserError as exc:
            failed.append(src)
            tqdm.write(f"error: {exc}", file=sys.stderr)
    if upscaler.made_grey:
        print(f"note: the network takes grey images: {len(upscaler.made_grey)} colour image(s) were given as their "
              f"luma (BT.601), e.g. {upscaler.made_grey[0]}", file=sys.stderr)
    print(f"wrote {len(written)} image(s) to {outdir}" + (f"; {len(failed)} failed" if failed else ""))
    return 1 if failed else 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    return guarded(lambda: run(args))
