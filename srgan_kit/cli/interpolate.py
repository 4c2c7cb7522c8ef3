"""``srgan-kit-interpolate`` / ``tools/interpolate.py``: ESRGAN's network interpolation between two generators.

    python tools/interpolate.py --a PSNR.pth --b GAN.pth --alpha 0.2,0.4,0.6,0.8 -o interp/

Each weight becomes ``(1 - alpha) * a + alpha * b`` (alpha 0 = the first network, 1 = the second): a PSNR-trained
and a GAN-trained generator of the same architecture give a smooth path between distortion and perception
without retraining. Writes ``<out>/interp_<alpha>.pth`` ({'params': ...}; every loader reads it), alpha with two
decimals, or as many more as tell the given alphas apart (0.333,0.334 -> interp_0.333.pth, interp_0.334.pth).
Both files must hold the same architecture (same names and shapes); every output name is checked free, and the
folder writable, before the first file is written. Each file's params_ema is used when present (``--param-key``).
"""
import argparse
from pathlib import Path

from srgan_kit.cli import guarded, writable_folder
from srgan_kit.errors import UserError


def _alphas(text):
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers separated by commas, e.g. 0.2,0.4") from None
    if not values or any(not 0 <= v <= 1 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers in [0, 1], e.g. 0.2,0.4")
    first = {}  # value -> as first written
    for item in (t.strip() for t in text.split(",") if t.strip()):
        if float(item) in first:  # one file per alpha: a repeated value would name the same file twice
            seen = first[float(item)]
            same = f"{item} is given twice" if seen == item else f"{seen} and {item} are the same alpha"
            raise argparse.ArgumentTypeError(f"{text!r}: {same}")
        first[float(item)] = item
    return values


def file_names(alphas):
    """{alpha: 'interp_<alpha>.pth'}: two decimals (ESRGAN's names), or as many more as tell ``alphas`` apart."""
    for decimals in range(2, 18):
        names = {alpha: f"interp_{alpha:.{decimals}f}.pth" for alpha in alphas}
        if len(set(names.values())) == len(names):
            return names
    return {alpha: f"interp_{alpha!r}.pth" for alpha in alphas}  # e.g. 1e-300 and 2e-300: repr tells any apart


def build_parser():
    p = argparse.ArgumentParser(prog="srgan-kit-interpolate", description="Interpolate two generators' weights.")
    p.add_argument("--a", required=True, help="the first generator (alpha 0), e.g. the PSNR model")
    p.add_argument("--b", required=True, help="the second generator (alpha 1), e.g. the GAN model")
    p.add_argument("--alpha", type=_alphas, required=True, help="weights of --b, comma-separated, in [0, 1]")
    p.add_argument("-o", "--output", required=True, help="folder for interp_<alpha>.pth")
    p.add_argument("--param-key", "--param_key", dest="param_key", default=None,
                   help="params_ema or params in both files (default: params_ema when present)")
    return p


def run(args):
    import torch

    from srgan_kit.archs.interpolation import check_same_architecture, interpolate
    from srgan_kit.archs.weights import load_state_dict_file
    from srgan_kit.fileio import atomic_open

    out = Path(args.output)
    targets = {alpha: out / name for alpha, name in file_names(args.alpha).items()}
    taken = [str(p) for p in targets.values() if p.exists()]
    if taken:
        raise UserError(f"-o {out}: {', '.join(taken)} exist(s) (nothing is overwritten)")
    a, b = load_state_dict_file(args.a, args.param_key), load_state_dict_file(args.b, args.param_key)
    check_same_architecture(a, b, f"--a {args.a}", f"--b {args.b}")
    writable_folder(out, "-o")
    for alpha, path in targets.items():
        with atomic_open(path, fsync=True) as handle:
            torch.save({"params": interpolate(a, b, alpha)}, handle)
        print(f"alpha {alpha:g} -> {path}")
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    return guarded(lambda: run(args))
