"""Which torch device a command runs on: the one resolver for option files (``num_gpu``) and CLIs (``--device``)."""
import warnings

import torch

from srgan_kit.errors import OptionError, UserError


def resolve_device(device=None, num_gpu=None):
    """``device`` ('cpu', 'cuda', 'cuda:1', a torch.device; None = CUDA when present, else the CPU) or, from an
    option file, ``num_gpu`` (0 -> the CPU, 'auto' -> CUDA when present, n > 0 -> CUDA, or the CPU with a
    warning when there is none: BasicSR files say num_gpu: 1 and should still run on a CPU-only machine).

    A device named explicitly that this machine lacks is a UserError."""
    if device is None and num_gpu is None or num_gpu == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device is None:
        try:
            count = int(num_gpu)
        except (TypeError, ValueError):
            count = -1
        if count < 0:
            raise OptionError(f"num_gpu: expected 0, a positive integer or 'auto', got {num_gpu!r}")
        if count > 0 and not torch.cuda.is_available():
            warnings.warn(f"num_gpu is {num_gpu} but CUDA is not available: training on the CPU", stacklevel=2)
        return torch.device("cuda" if count > 0 and torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise UserError(f"unknown device {device!r} (use cpu or cuda)") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {device!r} asked for, but CUDA is not available here (use --device cpu)")
    return dev
