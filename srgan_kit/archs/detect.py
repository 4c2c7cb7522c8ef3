"""Infer a generator's type and hyper-parameters from its state dict, so inference needs only the weights file.

The networks in BasicSR's layout (MSRResNet, RRDBNet, EDSR) each contribute one detector: the keys that identify
it and a function reading its sizes from tensor shapes. Every other file goes to spandrel, which knows the
community's architectures (srgan_kit.archs.zoo).
"""
import re
from dataclasses import dataclass
from typing import Callable

from srgan_kit.archs.weights import canonical_state_dict, load_state_dict_file
from srgan_kit.errors import WeightsError
from srgan_kit.registry import DETECTORS


@dataclass(frozen=True)
class Detector:
    arch: str  # registered ARCHS name
    signature: tuple  # keys whose presence identifies the architecture
    infer: Callable  # state dict -> constructor kwargs (raises WeightsError on inconsistent shapes)


def register_detector(arch, *signature):
    def deco(infer):
        DETECTORS.register(arch)(Detector(arch, tuple(signature), infer))
        return infer

    return deco


def _count_blocks(state_dict, pattern):
    """Number of distinct body indices N among keys matching ``pattern`` (a regex with one group for N)."""
    rx = re.compile(pattern)
    return len({m.group(1) for m in map(rx.fullmatch, state_dict) if m})


@register_detector("RRDBNet", "conv_first.weight", "body.0.rdb1.conv1.weight", "conv_up2.weight", "conv_hr.weight")
def _rrdbnet(sd):
    num_feat, first_in = sd["conv_first.weight"].shape[:2]
    num_out_ch = sd["conv_last.weight"].shape[0]
    # Scales 2 / 1 pixel-unshuffle the input by 2 / 4, so conv_first sees 4x / 16x the output channels
    # (assuming in == out channels, as every published RRDBNet does).
    ratio_to_scale = {1: 4, 4: 2, 16: 1}
    ratio = first_in // num_out_ch if first_in % num_out_ch == 0 else None
    if ratio not in ratio_to_scale:
        raise WeightsError(
            f"RRDBNet-like weights with conv_first in-channels {first_in} and conv_last out-channels "
            f"{num_out_ch}: cannot tell the scale (expected a ratio of 1, 4 or 16 for x4, x2, x1)"
        )
    return {
        "num_in_ch": first_in // ratio,
        "num_out_ch": num_out_ch,
        "scale": ratio_to_scale[ratio],
        "num_feat": num_feat,
        "num_block": _count_blocks(sd, r"body\.(\d+)\.rdb1\.conv1\.weight"),
        "num_grow_ch": sd["body.0.rdb1.conv1.weight"].shape[0],
    }


def _residual_trunk(sd, upscale):
    """MSRResNet's and EDSR's shared layout: conv_first, body.N.conv1/conv2, conv_last."""
    num_feat, num_in_ch = sd["conv_first.weight"].shape[:2]
    return {"num_in_ch": num_in_ch, "num_out_ch": sd["conv_last.weight"].shape[0], "num_feat": num_feat,
            "num_block": _count_blocks(sd, r"body\.(\d+)\.conv1\.weight"), "upscale": upscale}


@register_detector("MSRResNet", "conv_first.weight", "body.0.conv1.weight", "upconv1.weight", "conv_hr.weight")
def _msrresnet(sd):
    num_feat = sd["conv_first.weight"].shape[0]
    up1 = sd["upconv1.weight"].shape[0]
    # x4 = two PixelShuffle(2) steps (upconv1 + upconv2); x2 / x3 = one upconv1 with 4 / 9 * num_feat outputs.
    if "upconv2.weight" in sd and up1 == 4 * num_feat:
        upscale = 4
    elif up1 in (4 * num_feat, 9 * num_feat):
        upscale = 2 if up1 == 4 * num_feat else 3
    else:
        raise WeightsError(
            f"MSRResNet-like weights with upconv1 out-channels {up1} for num_feat {num_feat}: "
            "cannot tell the upscale (expected 4 or 9 times num_feat)"
        )
    return _residual_trunk(sd, upscale)


@register_detector("EDSR", "conv_first.weight", "body.0.conv1.weight", "conv_after_body.weight", "upsample.0.weight")
def _edsr(sd):
    num_feat = sd["conv_first.weight"].shape[0]
    ups = _count_blocks(sd, r"upsample\.(\d+)\.weight")
    first = sd["upsample.0.weight"].shape[0]
    # 2^n: n conv + PixelShuffle(2) pairs of 4 * num_feat outputs; 3: one of 9 * num_feat.
    if first == 9 * num_feat and ups == 1:
        upscale = 3
    elif first == 4 * num_feat:
        upscale = 2**ups
    else:
        raise WeightsError(f"EDSR-like weights with upsample.0 out-channels {first} for num_feat {num_feat}: "
                           "cannot tell the upscale (expected 4 or 9 times num_feat)")
    # res_scale and the input mean are not in the weights: BasicSR's defaults (1, DIV2K) are taken.
    return _residual_trunk(sd, upscale)


def detect(state_dict, source="state dict"):
    """``(spec, state dict)``: the network's ``{'type': name, **constructor kwargs}`` and the weights in its own
    layout, for a (possibly wrapped) state dict; WeightsError if neither a detector nor spandrel knows it."""
    sd = canonical_state_dict(state_dict, source=source)
    for det in DETECTORS.values():
        if all(key in sd for key in det.signature):
            try:
                spec = det.infer(sd)
            except WeightsError as exc:
                raise WeightsError(f"{source}: {exc}") from None
            return {"type": det.arch, **{k: int(v) for k, v in spec.items()}}, sd
    from srgan_kit.archs.zoo import read_with_spandrel

    found = read_with_spandrel(sd, source)
    if found is not None:
        return found
    known = ", ".join(d.arch for d in DETECTORS.values())
    raise WeightsError(
        f"{source}: cannot detect the architecture (neither {known} in BasicSR's layout nor a network spandrel "
        f"knows); first keys: {', '.join(list(sd)[:5])}. Name the network in an option file (-opt) instead"
    )


def detect_file(path, param_key=None):
    """The spec of the generator in a weights file (see ``detect``)."""
    return detect(load_state_dict_file(path, param_key), source=str(path))[0]


def detect_arch(state_dict, source="state dict"):
    """``{'type': name, **constructor kwargs}`` for a (possibly wrapped) state dict; WeightsError if unknown."""
    return detect(state_dict, source)[0]
