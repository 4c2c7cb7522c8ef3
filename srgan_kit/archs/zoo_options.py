"""The community's generators srgan_kit trains, taken from spandrel (chaiNNer's architecture library, main package,
MIT) and basicsr, without torch: which class each name builds, its scale key, BasicSR's key names, the rules for
its values and the input sizes it takes. srgan_kit.archs.zoo registers them.

The networks are the libraries' own classes, so the weights keep each architecture's key layout and spandrel's
ModelLoader (chaiNNer, ComfyUI) reads what srgan_kit saves.
"""
from dataclasses import dataclass, field
from typing import Callable, Optional

from srgan_kit.archs import input_sizes
from srgan_kit.errors import ArgumentError

SPANDREL = "spandrel.architectures."
DIV2K_MEAN = (0.4488, 0.4371, 0.4040)  # the RGB mean RCAN / EDSR subtract (spandrel's RCAN fixes it)


@dataclass(frozen=True)
class Upstream:
    name: str
    source: str  # 'module:Class' of the upstream class
    scale_key: str  # the constructor key holding the upscale factor
    family: str  # 'compact', 'cnn' or 'transformer' (docs and benchmarks group by it)
    licence: str  # SPDX id of the architecture's original code
    paper: str
    aliases: tuple = ()
    renames: dict = field(default_factory=dict)  # our key (BasicSR's name) -> the upstream constructor's key
    defaults: dict = field(default_factory=dict)  # our defaults where the upstream key has none
    fixed: dict = field(default_factory=dict)  # BasicSR keys the upstream class fixes: {key: the only value}
    size_requirements: Optional[Callable] = None
    check_arguments: Optional[Callable] = None
    # Parameters (by a part of their name) the upstream class keeps trainable but never trains: frozen here, so
    # optimisers skip them and DistributedDataParallel needs no find_unused_parameters.
    frozen: tuple = ()
    changes_its_input: bool = False  # its forward writes into the input tensor: given a copy here

    @property
    def library(self):
        return "spandrel" if self.source.startswith(SPANDREL) else self.source.split(".")[0]


def _choice(key, value, choices):
    if value not in choices:
        raise ArgumentError(key, f"one of {list(choices)}, got {value!r}")


def _options(name, options):
    from srgan_kit.registry import ARCHS

    return ARCHS.with_defaults(name, options)


def _check_heads(opts, depths_key, heads_key, dim_key="embed_dim"):
    depths, heads = opts.get(depths_key), opts.get(heads_key)
    if isinstance(depths, (list, tuple)) and isinstance(heads, (list, tuple)) and len(depths) != len(heads):
        raise ArgumentError(heads_key, f"{len(heads)} entries for {len(depths)} stages in {depths_key}")
    for h in heads if isinstance(heads, (list, tuple)) else ():
        if isinstance(h, int) and h > 0 and opts.get(dim_key, 0) % h:
            raise ArgumentError(heads_key, f"{dim_key} {opts[dim_key]} is not divisible by {h} heads")


def _check_upsampler(opts, choices, scale_key="upscale"):
    """Window transformers upscale only with an upsampler ('' is their same-size restoration mode)."""
    _choice("upsampler", opts.get("upsampler"), choices)
    if opts.get(scale_key, 1) > 1 and not opts.get("upsampler"):
        raise ArgumentError("upsampler", f"'' keeps the input size; {scale_key} {opts[scale_key]} needs one of "
                                         f"{[c for c in choices if c]}")


def check_swinir(options):
    opts = _options("SwinIR", options)
    _check_upsampler(opts, ("pixelshuffle", "pixelshuffledirect", "nearest+conv", ""))
    _check_heads(opts, "depths", "num_heads")


def check_swin2sr(options):
    opts = _options("Swin2SR", options)
    _check_upsampler(opts, ("pixelshuffle", "pixelshuffledirect", "nearest+conv", "pixelshuffle_aux", ""))
    _check_heads(opts, "depths", "num_heads")


def check_hat(options):
    opts = _options("HAT", options)
    _choice("upsampler", opts.get("upsampler"), ("pixelshuffle",))
    _check_heads(opts, "depths", "num_heads")


def check_dat(options):
    opts = _options("DAT", options)
    _choice("upsampler", opts.get("upsampler"), ("pixelshuffle", "pixelshuffledirect"))
    _check_heads(opts, "depth", "num_heads")


def check_rgt(options):
    _check_heads(_options("RGT", options), "depth", "num_heads")


def check_atd(options):
    opts = _options("ATD", options)
    _check_upsampler(opts, ("pixelshuffle", "pixelshuffledirect", "nearest+conv", ""))
    _check_heads(opts, "depths", "num_heads")


def check_drct(options):
    opts = _options("DRCT", options)
    _check_upsampler(opts, ("pixelshuffle", ""))
    _check_heads(opts, "depths", "num_heads")


def check_compact(options):
    _choice("act_type", _options("Compact", options).get("act_type"), ("relu", "prelu", "leakyrelu"))


def check_rcan(options):
    opts = _options("RCAN", options)
    if opts["num_out_ch"] != opts["num_in_ch"]:
        raise ArgumentError("num_out_ch", f"RCAN has one channel count: {opts['num_out_ch']} differs from "
                                          f"num_in_ch {opts['num_in_ch']}")
    if [round(float(v), 4) for v in opts["rgb_mean"]] != list(DIV2K_MEAN):
        raise ArgumentError("rgb_mean", f"RCAN subtracts the DIV2K mean {list(DIV2K_MEAN)}, got {opts['rgb_mean']}")
    _choice("act_mode", opts.get("act_mode"), ("relu", "lrelu", "prelu", "gelu", "silu"))


def check_plksr(options):
    opts = _options("PLKSR", options)
    _choice("ccm_type", opts.get("ccm_type"), ("CCM", "ICCM", "DCCM"))
    _choice("lk_type", opts.get("lk_type"), ("PLK", "SparsePLK", "RectSparsePLK"))


_S = SPANDREL
ZOO = (
    Upstream("SPAN", _S + "SPAN.__arch.span:SPAN", "upscale", "compact", "Apache-2.0",
             "Wan et al. 2024, Swift Parameter-free Attention Network (NTIRE 2024 efficient SR winner)",
             defaults={"num_in_ch": 3, "num_out_ch": 3},
             frozen=("eval_conv.",)),  # the inference convolution, recomputed from the trained ones
    Upstream("Compact", _S + "Compact.__arch.SRVGG:SRVGGNetCompact", "upscale", "compact", "BSD-3-Clause",
             "Wang et al. 2021, Real-ESRGAN's SRVGGNetCompact (realesr-general-x4v3, realesr-animevideov3)",
             aliases=("SRVGGNetCompact",), check_arguments=check_compact),
    Upstream("RealPLKSR", _S + "PLKSR.__arch.RealPLKSR:RealPLKSR", "upscaling_factor", "compact", "MIT",
             "Lee et al. 2024, PLKSR with the community's real-world changes (neosr / traiNNer-redux)"),
    Upstream("PLKSR", _S + "PLKSR.__arch.PLKSR:PLKSR", "upscaling_factor", "compact", "MIT",
             "Lee et al. 2024, Partial Large Kernel CNNs for Efficient SR",
             check_arguments=check_plksr),
    Upstream("SAFMN", _S + "SAFMN.__arch.safmn:SAFMN", "upscaling_factor", "compact", "Apache-2.0",
             "Sun et al. 2023, Spatially-Adaptive Feature Modulation", defaults={"dim": 36},
             size_requirements=input_sizes.multiple_of_8),
    Upstream("OmniSR", _S + "OmniSR.__arch.OmniSR:OmniSR", "up_scale", "transformer", "Apache-2.0",
             "Wang et al. 2023, Omni Aggregation Networks",
             size_requirements=input_sizes.minimum_16),
    Upstream("SwinIR", _S + "SwinIR.__arch.SwinIR:SwinIR", "upscale", "transformer", "Apache-2.0",
             "Liang et al. 2021, SwinIR: Image Restoration Using Swin Transformer",
             size_requirements=input_sizes.swinir_sizes, check_arguments=check_swinir),
    Upstream("Swin2SR", _S + "Swin2SR.__arch.Swin2SR:Swin2SR", "upscale", "transformer", "Apache-2.0",
             "Conde et al. 2022, Swin2SR: SwinV2 Transformer for Compressed Image SR",
             size_requirements=input_sizes.minimum_16, check_arguments=check_swin2sr),
    Upstream("HAT", _S + "HAT.__arch.HAT:HAT", "upscale", "transformer", "Apache-2.0",
             "Chen et al. 2023, Activating More Pixels: Hybrid Attention Transformer",
             size_requirements=input_sizes.minimum_16, check_arguments=check_hat),
    Upstream("DAT", _S + "DAT.__arch.DAT:DAT", "upscale", "transformer", "Apache-2.0",
             "Chen et al. 2023, Dual Aggregation Transformer",
             size_requirements=input_sizes.minimum_16, check_arguments=check_dat),
    Upstream("RGT", _S + "RGT.__arch.rgt:RGT", "upscale", "transformer", "Apache-2.0",
             "Chen et al. 2024, Recursive Generalization Transformer",
             size_requirements=input_sizes.minimum_16, check_arguments=check_rgt),
    Upstream("ATD", _S + "ATD.__arch.atd_arch:ATD", "upscale", "transformer", "Apache-2.0",
             "Zhang et al. 2024, Adaptive Token Dictionary",
             size_requirements=input_sizes.minimum_8, check_arguments=check_atd),
    Upstream("DRCT", _S + "DRCT.__arch.drct_arch:DRCT", "upscale", "transformer", "MIT",
             "Hsu et al. 2024, Dense-residual-connected Transformer",
             size_requirements=input_sizes.multiple_of_16, check_arguments=check_drct),
    Upstream("RCAN", _S + "RCAN.__arch.rcan_arch:RCAN", "upscale", "cnn",
             "MIT (EDSR-PyTorch's; RCAN's repository states none)",
             "Zhang et al. 2018, Residual Channel Attention Networks",
             renames={"upscale": "scale", "num_group": "n_resgroups", "num_block": "n_resblocks",
                      "num_feat": "n_feats", "num_in_ch": "n_colors", "img_range": "rgb_range",
                      "squeeze_factor": "reduction"},
             fixed={"num_out_ch": 3, "rgb_mean": list(DIV2K_MEAN)}, check_arguments=check_rcan,
             frozen=("sub_mean.", "add_mean."), changes_its_input=True),  # BasicSR's mean shift is fixed too
    Upstream("EDSR", "basicsr.archs.edsr_arch:EDSR", "upscale", "cnn", "Apache-2.0",
             "Lim et al. 2017, Enhanced Deep Residual Networks (BasicSR's)",
             defaults={"num_in_ch": 3, "num_out_ch": 3}),
    Upstream("ECBSR", "basicsr.archs.ecbsr_arch:ECBSR", "scale", "compact", "Apache-2.0",
             "Zhang et al. 2021, Edge-oriented Convolution Block for mobile SR (BasicSR's)",
             defaults={"num_in_ch": 3, "num_out_ch": 3, "num_block": 4, "num_channel": 16, "with_idt": False,
                       "act_type": "prelu", "scale": 4}),
)
