"""Which torch device a command runs on: the one resolver for option files (``num_gpu``) and CLIs (``--device``)."""
import warnings

import torch

from srgan_kit.config.schema import PRECISIONS
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




def _cpuinfo(field):
    """The first ``field`` line of /proc/cpuinfo ('' where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            return next((line.split(":", 1)[1].strip() for line in handle if line.split(":")[0].strip() == field), "")
    except OSError:
        return ""


def _cpu_flags():
    return set(_cpuinfo("flags").split())


def cpu_description():
    """'<model> (<vector extensions that decide bf16 speed>)': how measurements name the machine."""
    import platform

    flags = _cpu_flags()
    isa = next((name for flag, name in (("amx_bf16", "AMX + AVX-512 BF16"), ("avx512_bf16", "AVX-512 BF16, no AMX"),
                                        ("avx512f", "AVX-512 without BF16"), ("avx2", "AVX2 only"))
                if flag in flags), "no AVX2")
    return f"{_cpuinfo('model name') or platform.processor() or platform.machine()} ({isa})"


def native_bf16(device):
    """True where bf16 runs natively: CUDA compute capability >= 8.0; CPUs with AVX-512 BF16 or AMX."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0)
    return device.type == "cpu" and bool(_cpu_flags() & {"avx512_bf16", "amx_bf16"})


AUTOCAST_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}  # train.amp values -> dtype


def resolve_precision(choice, device, where="train.amp"):
    """'fp32' | 'bf16' | 'fp16' | 'auto' -> the autocast dtype (None: fp32). fp16 needs CUDA; auto is bf16 where
    the hardware runs it natively, else fp32."""
    device = torch.device(device)
    if choice not in PRECISIONS:
        raise OptionError(f"{where}: expected one of {', '.join(PRECISIONS)}, got {choice!r}")
    if choice == "auto":
        return torch.bfloat16 if native_bf16(device) else None
    if choice == "fp16" and device.type != "cuda":
        raise OptionError(f"{where}: fp16 needs a CUDA device (this runs on {device}); use bf16 or auto")
    return AUTOCAST_DTYPES[choice]


def precision_name(dtype):
    """The option value that resolves to an autocast dtype (None: 'fp32')."""
    return next(name for name, value in AUTOCAST_DTYPES.items() if value == dtype)
