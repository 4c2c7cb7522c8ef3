"""``srgan-kit-export`` / ``tools/export.py``: a generator as an ONNX model, checked by onnxruntime in the same run.

    python tools/export.py --model net_g.pth -o model.onnx [--fp16] [--dynamic] [--size 64] [--opset 17]

The architecture is read from the weights (as ``infer.py`` does). The graph takes ``lr`` (N x 3 x H x W, values
in [0, 1]) and gives ``sr`` (N x 3 x sH x sW, not clamped); ``--dynamic`` leaves N, H and W free (RRDBNet x1 / x2
fold the input into a quarter / half the size, so their H and W must then be multiples of 4 / 2), else the graph
is fixed to 1 x 3 x size x size. ``--fp16`` stores half-precision weights and takes half-precision input.
The export is run by onnxruntime on a random input (another size when ``--dynamic``) and compared with PyTorch
in fp32: the largest absolute difference is printed, and the file is kept only when it is within
``--tolerance`` (default 1e-4 for fp32, 1e-2 for fp16). An existing output file is never overwritten; an output
folder that cannot be written is reported (exit 74) before the conversion.
Needs the ``export`` extra: ``pip install onnx onnxruntime``.
"""
import argparse
import io
import warnings
from pathlib import Path

from srgan_kit.cli import guarded, number, writable_file
from srgan_kit.errors import UserError

# The example input only fixes the graph's shape (--dynamic frees it), yet the network runs on it while tracing:
# 4096² is larger than any tile one runs in one piece, and one 64-feature activation of it is already 4 GiB.
MAX_SIZE = 4096
# Our generators need opset 11 (upsampling by a scale factor, slicing by the input's size): below it torch's
# exporter fails or the graph computes something else. The top is the newest opset torch.onnx's TorchScript
# exporter (dynamo=False, used below) supports; above it torch only warns and writes an untested graph.
MIN_OPSET = 11


def _max_opset():
    from torch.onnx import _constants

    return getattr(_constants, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", None) or _constants.ONNX_MAX_OPSET


def _opset(text):
    """argparse ``type=``: an opset this exporter writes (torch is imported only when --opset is given)."""
    return number(int, MIN_OPSET, low_ok=True, high=_max_opset(), why="the opsets torch.onnx exports")(text)


class ExportDiffers(UserError):
    """The exported graph does not compute what the network computes."""

    exit_code = 3


def build_parser():
    p = argparse.ArgumentParser(prog="srgan-kit-export", description="Export a generator to ONNX and check it.")
    p.add_argument("--model", "--model_path", dest="model", required=True,
                   help="generator weights (.pth or .safetensors)")
    p.add_argument("-o", "--output", required=True, help="the .onnx file to write (must not exist)")
    p.add_argument("--param-key", "--param_key", dest="param_key", default=None,
                   help="params_ema or params (default: params_ema when present)")
    p.add_argument("--fp16", action="store_true", help="half-precision weights and input")
    p.add_argument("--dynamic", action="store_true", help="free batch size, height and width")
    p.add_argument("--size", type=number(int, 1, low_ok=True, high=MAX_SIZE, why="the traced example input"),
                   default=64, help=f"height and width of the example input, up to {MAX_SIZE} (64)")
    p.add_argument("--opset", type=_opset, default=17,
                   help=f"ONNX opset (17), from {MIN_OPSET} to the newest torch.onnx's exporter writes")
    p.add_argument("--tolerance", type=number(float, 0), default=None,
                   help="largest accepted difference from PyTorch fp32 (1e-4; 1e-2 with --fp16)")
    return p


def _runtime():
    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
        import onnxruntime
    except ImportError:
        raise UserError("ONNX export needs onnx and onnxruntime: pip install onnx onnxruntime "
                        "(or the package's 'export' extra)") from None
    return onnxruntime


def export(net, size, fp16=False, dynamic=False, opset=17):
    """``net`` (eval mode, fp32) as ONNX bytes, traced on one example input of ``size`` x ``size``."""
    import torch

    from srgan_kit.data.channels import input_channels
    from srgan_kit.inference import AnySize

    dtype = torch.float16 if fp16 else torch.float32
    model, buffer = AnySize(net.to(dtype)).eval(), io.BytesIO()
    axes = {"lr": {0: "batch", 2: "height", 3: "width"}, "sr": {0: "batch", 2: "out_height", 3: "out_width"}}
    with warnings.catch_warnings():  # the tracer's notes on shape arithmetic: the check below is what counts
        warnings.simplefilter("ignore")
        example = torch.rand(1, input_channels(net), size, size, dtype=dtype)
        torch.onnx.export(model, (example,), buffer, input_names=["lr"],
                          output_names=["sr"], dynamic_axes=axes if dynamic else None, opset_version=opset,
                          dynamo=False)
    net.float()
    return buffer.getvalue()


def largest_difference(net, graph, size, fp16, dynamic, runtime):
    """Largest |onnxruntime - PyTorch fp32| on a seeded random input (another shape when dynamic)."""
    import numpy as np
    import torch

    from srgan_kit.data.channels import input_channels

    channels = input_channels(net)
    shape = (2, channels, size + 4, size + 8) if dynamic else (1, channels, size, size)
    lr = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = net(lr).numpy()
    session = runtime.InferenceSession(graph, providers=["CPUExecutionProvider"])
    got = session.run(None, {"lr": lr.numpy().astype(np.float16 if fp16 else np.float32)})[0]
    return float(np.abs(got.astype(np.float32) - expected).max())


def run(args):
    from srgan_kit.archs.loading import build_from_weights
    from srgan_kit.fileio import atomic_open

    out = Path(args.output)
    if out.exists():
        raise UserError(f"-o {out}: exists (nothing is overwritten; choose another name)")
    writable_file(out, "-o")  # before the conversion, which takes long on a large network
    runtime = _runtime()
    net, spec = build_from_weights(args.model, args.param_key)
    tolerance = args.tolerance if args.tolerance is not None else (1e-2 if args.fp16 else 1e-4)
    graph = export(net, args.size, args.fp16, args.dynamic, args.opset)
    diff = largest_difference(net, graph, args.size, args.fp16, args.dynamic, runtime)
    print(f"{spec['type']} x{net.scale}: largest difference from PyTorch fp32 {diff:.3g} (tolerance {tolerance:g})")
    if diff > tolerance:
        raise ExportDiffers(f"-o {out}: the exported graph differs from the network by {diff:.3g} > "
                            f"{tolerance:g}; not written")
    with atomic_open(out) as handle:
        handle.write(graph)
    print(f"wrote {out}")
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    return guarded(lambda: run(args))
