"""Read network weights in the layouts people publish, and load them into a network with clear errors.

Accepted layouts (in this order unless param_key says otherwise): ``{'params_ema': sd}`` and ``{'params': sd}``
(BasicSR / Real-ESRGAN), ``{'state_dict': sd}`` (Lightning and others), or a bare state dict. Keys lose a
``module.`` (DataParallel) or ``_orig_mod.`` (torch.compile) prefix; floating tensors become float32. A tensor
that is not floating point where the network's is (a file converted to bool or integers) is refused, never
cast: it would give a blank or blurred image, or a pretraining that diverges.

Files are PyTorch checkpoints or safetensors, told apart by their content whatever their name; a safetensors
file is one bare state dict (srgan_kit writes the EMA weights to a file of their own, see
srgan_kit.training.checkpoint).
"""
import pickle
import re
import struct
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from srgan_kit.errors import WeightsError, listing

PARAM_KEYS = ("params_ema", "params", "state_dict")
_PREFIXES = ("module.", "_orig_mod.")
def _keys(keys):
    return listing(keys, 8, ", ")


def _strip_prefixes(key):
    stripped = True
    while stripped:
        stripped = False
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key, stripped = key[len(prefix):], True
    return key


def _pick_params(ckpt, param_key, source):
    """The nested dict holding the tensors, following param_key or the default order."""
    if param_key is not None and param_key in ckpt:
        return ckpt[param_key]
    fallback = next((k for k in PARAM_KEYS if isinstance(ckpt.get(k), Mapping)), None)
    if param_key is not None:
        # BasicSR falls back too (param_key_g: params_ema on a file with only params); we say so.
        if fallback is None and not any(isinstance(v, torch.Tensor) for v in ckpt.values()):
            raise WeightsError(
                f"{source}: has no key {param_key!r} (param_key); top-level keys: {_keys(ckpt)}"
            )
        used = repr(fallback) if fallback else "the bare state dict"
        warnings.warn(f"{source}: has no key {param_key!r}; using {used} instead", stacklevel=3)
    return ckpt[fallback] if fallback else ckpt


def canonical_state_dict(ckpt, param_key=None, source="state dict"):
    """A checkpoint object -> flat ``{name: tensor}`` with prefixes stripped and floats in float32."""
    if not isinstance(ckpt, Mapping):
        raise WeightsError(f"{source}: expected a dict of tensors, found {type(ckpt).__name__}")
    params = _pick_params(ckpt, param_key, source)
    if not isinstance(params, Mapping):
        raise WeightsError(f"{source}: {param_key!r} is a {type(params).__name__}, not a dict of tensors")
    out = {}
    for key, value in params.items():
        if isinstance(value, torch.Tensor):
            out[_strip_prefixes(str(key))] = value.float() if value.is_floating_point() else value
    if not out:
        raise WeightsError(
            f"{source}: holds no network weights (no tensors; top-level keys: {_keys(ckpt)}). "
            "Is it a training state rather than a models/net_g_*.pth file?"
        )
    return out


# torch names the object a refused file would import as "GLOBAL module.name" (wording varies by release).
_REFUSED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")
# Lines of torch's message that advise turning the safety off, or point at its docs: never shown.
_ADVICE = ("weights only load failed", "weights_only", "check the documentation", "please file an issue")


def _dtype(tensor):
    return str(tensor.dtype).removeprefix("torch.")


def check_floating(state_dict, source, like=None, what="the network"):
    """WeightsError naming the first tensor that is not floating point where weights must be: where ``like`` (the
    network's state dict, or another file of the same architecture) holds a floating tensor under that name.
    Without ``like`` only a state dict with no floating tensor at all is refused: every network has some. Integer
    buffers a network has (BatchNorm's num_batches_tracked, Swin's relative_position_index) stay accepted."""
    if like is None:
        if state_dict and not any(v.is_floating_point() for v in state_dict.values()):
            key = min(state_dict)  # by name: safetensors does not keep the order tensors were written in
            raise WeightsError(f"{source}: holds no floating-point tensor ({key} is {_dtype(state_dict[key])}): not "
                               "network weights (re-save them from the original floating-point checkpoint)")
        return
    bad = next((k for k, v in like.items() if v.is_floating_point() and k in state_dict
                and not state_dict[k].is_floating_point()), None)
    if bad is not None:
        raise WeightsError(f"{source}: {bad} is {_dtype(state_dict[bad])} where {what} has floating-point "
                           f"weights ({_dtype(like[bad])}); re-save them from the original floating-point checkpoint")


def _unpickling_reason(text):
    for line in text.splitlines():
        line = line.replace("WeightsUnpickler error:", "").strip()
        if line and not any(word in line.lower() for word in _ADVICE):
            return line[:200]
    return "not a PyTorch checkpoint"


def _not_torch(path):
    """What a file is instead, when it is plainly not a PyTorch file (zip archive or pickle), else None."""
    with open(path, "rb") as handle:
        head = handle.read(64)
    if not head:
        return "the file is empty"
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"not a PyTorch file: it starts with bytes {head[:8].hex(' ')}"
    return f"not a PyTorch file but text starting {text.splitlines()[0][:40]!r}"


def _safetensors_damage(path):
    """Why a file that PyTorch cannot read looks like a damaged safetensors file, else None: its first 8 bytes,
    a little-endian header length, fit the file (random bytes almost never do: the high bytes must be 0), or a
    JSON header follows a length that does not fit."""
    with open(path, "rb") as handle:
        head = handle.read(9)
    if len(head) < 9 or head.startswith(b"PK\x03\x04"):
        return None
    size, total = struct.unpack("<Q", head[:8])[0], Path(path).stat().st_size
    if 2 <= size <= total - 8:
        return "its header is not a JSON object"
    if head[8:9] == b"{":
        return f"its 8-byte header length ({size}) is wrong for a file of {total} bytes"
    return None


def _damaged(path, what, detail):
    return WeightsError(f"{path}: cannot read {what} (safetensors file damaged: {detail[:160]})")


def _unreadable(path, what, reason):
    """The error for a file torch.load failed on: a damaged safetensors file is named as one."""
    damage = _safetensors_damage(path)
    if damage:
        return _damaged(path, what, damage)
    return WeightsError(f"{path}: cannot read {what} ({_not_torch(path) or reason})")


def is_safetensors(path):
    """Whether the file is safetensors: an 8-byte little-endian header length, then a JSON header."""
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            return False
        size = struct.unpack("<Q", head)[0]
        if size < 2 or size > Path(path).stat().st_size - 8:
            return False
        return handle.read(1) == b"{"


def to_safetensors(state_dict):
    """A state dict -> safetensors bytes (the names as they are: what spandrel, chaiNNer and ComfyUI read)."""
    return save_safetensors({name: tensor.contiguous() for name, tensor in state_dict.items()},
                            metadata={"format": "pt"})


def read_checkpoint(path, what="weights file"):
    """The checkpoint in a file: safetensors (by content), else ``torch.load`` with ``weights_only=True`` on the
    CPU; any failure is one WeightsError naming the file. A file whose unpickling would import a Python object
    (and so could run code) is refused, never loaded another way."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: {what} not found")
    if is_safetensors(path):
        try:
            return load_safetensors(path.read_bytes())
        except SafetensorError as exc:
            raise _damaged(path, what, str(exc).removeprefix("Error while deserializing: ")) from None
    try:
        with open(path, "rb") as handle, warnings.catch_warnings():  # the content decides, never the name
            # A damaged file can start like a newer pickle: torch's warning about it would only add noise.
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(handle, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = _REFUSED_GLOBAL.search(str(exc))
        if found:
            raise WeightsError(
                f"{path}: refused: this {what} holds pickled Python objects ({found.group(1).rstrip('.')}) and "
                "loading them could run code; srgan_kit reads only tensors and plain values (re-save the weights "
                "from a trusted source as a state dict)"
            ) from None
        raise _unreadable(path, what, _unpickling_reason(str(exc))) from None
    except Exception as exc:  # corrupt, truncated, not a torch file
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise _unreadable(path, what, reason) from None


def load_state_dict_file(path, param_key=None):
    """Read a weights file safely (see read_checkpoint) -> ``{name: float32 tensor}``; weights with NaN or
    Inf (a diverged run's) are refused: they would only produce black images, and so is a file without any
    floating tensor (load_into checks each tensor against the network)."""
    state_dict = canonical_state_dict(read_checkpoint(path), param_key, source=str(path))
    check_floating(state_dict, path)
    bad = next((k for k, v in state_dict.items() if v.is_floating_point() and not torch.isfinite(v).all()), None)
    if bad is not None:
        raise WeightsError(f"{path}: {bad} holds NaN or Inf values (weights of a run that diverged); use an "
                           "earlier checkpoint")
    return state_dict


def load_into(net, state_dict, source="state dict", strict=True, keep=(), extra_ok=False, what=None):
    """Copy a canonical state dict into ``net``; any key or shape mismatch is a WeightsError naming ``source``.

    keep: prefixes of ``net``'s keys the file need not hold (they keep their values); extra_ok: keys of the file
    that ``net`` lacks are ignored (a truncated trunk, a file that also holds other heads); what: how messages
    name the network (default: its class)."""
    expected = {k: v for k, v in net.state_dict().items() if not k.startswith(tuple(keep))}
    if extra_ok:
        state_dict = {k: v for k, v in state_dict.items() if k in expected}
    # Keys listed in network order, so the first layer that disagrees comes first.
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    wrong_shape = [
        f"{k}: file {tuple(state_dict[k].shape)} vs network {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and state_dict[k].shape != v.shape
    ]
    name = what or type(net).__name__
    problems = []
    if strict and missing:
        problems.append(f"missing keys ({len(missing)}): {_keys(missing)}")
    if strict and unexpected:
        problems.append(f"unexpected keys ({len(unexpected)}): {_keys(unexpected)}")
    if strict and wrong_shape:
        problems.append(f"shape mismatches ({len(wrong_shape)}): {_keys(wrong_shape)}")
    if problems:
        raise WeightsError(f"{source} does not fit {name}: " + "; ".join(problems))
    check_floating(state_dict, source, like=expected, what=name)
    if wrong_shape:
        # Non-strict loading skips what does not fit, like BasicSR, but says so.
        warnings.warn(f"{source}: skipped keys whose shape does not fit {name}: {_keys(wrong_shape)}",
                      stacklevel=3)
        state_dict = {k: v for k, v in state_dict.items() if k not in expected or v.shape == expected[k].shape}
    net.load_state_dict(state_dict, strict=strict and not keep)
    return net
