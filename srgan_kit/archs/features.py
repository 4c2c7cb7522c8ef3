"""Frozen feature networks for perceptual losses, picked by name from ``BACKBONES``.

Backbones (``vgg_type`` in ``perceptual_opt``):

``vgg11`` / ``vgg13`` / ``vgg16`` / ``vgg19``
    torchvision's VGG layers (``torchvision.models.vgg.make_layers``) with torchvision's ImageNet weights,
    read from torchvision's cache, ``torch.hub.get_dir()/checkpoints/<file>`` (``$TORCH_HOME/hub/checkpoints``,
    default ``~/.cache/torch/hub/checkpoints``; vgg19: ``vgg19-dcbb9e9d.pth``), or from ``pretrained_path``.
    Nothing is ever downloaded here: without the file the loss refuses to build, naming the file, its URL and
    the folder to put it in. Layer names are BasicSR's: ``conv<b>_<i>`` (convolution output, before the ReLU),
    ``relu<b>_<i>`` and ``pool<b>``; for vgg19: conv1_1, relu1_1, conv1_2, relu1_2, pool1, conv2_1 ... relu2_2,
    pool2, conv3_1 ... relu3_4, pool3, conv4_1 ... relu4_4, pool4, conv5_1 ... conv5_4, relu5_4, pool5.

``stlpips_vgg``
    The shift-tolerant VGG16 trunk of ST-LPIPS (stlpips-pytorch, Ghildyal & Liu 2022), whose full learned
    weights ship inside that package: ``stlpips_pytorch/weights/vST0.0/vgg_shift_tolerant.pth`` (keys
    ``net.slice<k>.<i>.*``, plus the LPIPS linear heads ``lin*`` and ``scaling_layer`` that we do not use).
    It works offline. The trunk is VGG16 (configuration D) where every 2x2/2 max pool becomes a 2x2 max pool
    with stride 1 followed by a blur pool (reflect padding 2, binomial [1 2 1] x [1 2 1] / 16 filter,
    stride 2); the first convolutions keep stride 1. We rebuild that trunk here (same layer indices as the
    package's ``models_lpf.vgg16(filter_size=3, pad_more=True).features``) so training does not import the
    package's IPython/torchsummary dependencies or build its 100M-parameter classifier. Layer names:
    conv1_1, relu1_1, conv1_2, relu1_2, maxpool1, pool1, conv2_1, relu2_1, conv2_2, relu2_2, maxpool2, pool2,
    conv3_1 ... relu3_3, maxpool3, pool3, conv4_1 ... relu4_3, maxpool4, pool4, conv5_1 ... conv5_3, relu5_3
    (``maxpool<b>`` = the stride-1 max pool, ``pool<b>`` = after the blur pool). ST-LPIPS itself reads
    relu1_2, relu2_2, relu3_3, relu4_3 and relu5_3; the trunk ships no weights past relu5_3.
    Its input scaling (LPIPS' ScalingLayer on [-1, 1] input) is exactly ImageNet mean/std on [0, 1] input,
    i.e. ``use_input_norm=True``.

``lpips``
    The AlexNet trunk of LPIPS (the lpips package, net='alex'): torchvision's AlexNet feature layers with
    torchvision's ImageNet weights, read like the VGGs from torchvision's cache, ``alexnet-owt-7be5be79.pth``
    (or ``pretrained_path``); without the file the loss refuses to build, naming it. Layer names: conv1, relu1,
    pool1, conv2, relu2, pool2, conv3, relu3, conv4, relu4, conv5, relu5, pool5 (``conv<k>`` before its ReLU).
    LPIPS itself reads relu1 ... relu5. As for stlpips_vgg, LPIPS' input scaling is ``use_input_norm=True``.
    This is the trunk only: the loss is PerceptualLoss' weighted feature distance, not the calibrated LPIPS
    distance (that one is the ``lpips`` metric in srgan_kit.eval.metrics).

Every extractor is frozen (``requires_grad`` False) and stays in eval mode whatever ``train()`` is called with.
"""
import importlib.util
import os
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torchvision.models import AlexNet_Weights
from torchvision.models import vgg as tv_vgg

from srgan_kit.archs.weights import load_into, load_state_dict_file
from srgan_kit.data.channels import rgb_view
from srgan_kit.errors import ArgumentError, WeightsError, did_you_mean
from srgan_kit.registry import BACKBONES

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)



def vgg_layer_names(cfg, pool_names=("pool{}",)):
    """Names of the flat layers a VGG config expands to: conv/relu per channel entry, pool_names per 'M'."""
    names, block, conv = [], 1, 0
    for entry in cfg:
        if entry == "M":
            names += [name.format(block) for name in pool_names]
            block, conv = block + 1, 0
        else:
            conv += 1
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
    return tuple(names)


def _no_inplace(layers):
    """In-place ReLUs would overwrite a conv output we have already handed out as a feature."""
    for module in layers.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False
    return layers


def _torch_home():
    return Path(torch.hub.get_dir()).parent


class TorchvisionVGG:
    """torchvision's VGG feature layers for one configuration, with weights from torchvision's cache."""

    def __init__(self, title, cfg, file_name, url=None):
        self.title = title
        self.cfg = tuple(cfg)
        self.file_name = file_name
        self.url = url
        self.layer_names = vgg_layer_names(self.cfg)

    @classmethod
    def from_torchvision(cls, arch, cfg_key, weights_enum):
        url = weights_enum.IMAGENET1K_V1.url
        return cls(f"torchvision {arch.upper()} ImageNet", tv_vgg.cfgs[cfg_key], url.rsplit("/", 1)[-1], url)

    def body(self, num_layers):
        return _no_inplace(tv_vgg.make_layers(list(self.cfg))[:num_layers])

    def default_weights(self):
        return Path(torch.hub.get_dir()) / "checkpoints" / self.file_name

    def missing_message(self, path):
        source = f"download {self.url} " if self.url else f"get {self.file_name} "
        return (
            f"{self.title} weights not found: expected {path} (torchvision's cache, "
            f"TORCH_HOME={_torch_home()}). Nothing is downloaded during training: {source}on a machine with "
            f"network access and copy the file into {path.parent}/ (or set TORCH_HOME to the folder whose "
            f"hub/checkpoints/ holds it), or point the loss's pretrained_path at a copy of it"
        )

    def to_body_keys(self, state_dict):
        """torchvision files name the layers 'features.<i>.*'; bare '<i>.*' files are accepted too."""
        prefix = "features."
        if any(key.startswith(prefix) for key in state_dict):
            return {key[len(prefix):]: value for key, value in state_dict.items() if key.startswith(prefix)}
        return dict(state_dict)


class TorchvisionAlexNet(TorchvisionVGG):
    """torchvision's AlexNet feature layers (the LPIPS 'alex' trunk), weights from torchvision's cache."""

    layer_names = ("conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "conv3", "relu3",
                   "conv4", "relu4", "conv5", "relu5", "pool5")

    def __init__(self):
        url = AlexNet_Weights.IMAGENET1K_V1.url
        super().__init__("torchvision AlexNet ImageNet (LPIPS trunk)", (), url.rsplit("/", 1)[-1], url)
        self.layer_names = type(self).layer_names  # the base class would derive VGG names from cfg

    def body(self, num_layers):
        # Same layers and indices as torchvision's AlexNet().features, without building its classifier.
        layers = [
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        ]
        return nn.Sequential(*layers[:num_layers])


class BlurPool(nn.Module):
    """Anti-aliased stride-2 downsampling of ST-LPIPS: reflect padding, then a fixed depthwise binomial filter."""

    def __init__(self, channels, stride=2, pad=2):
        super().__init__()
        taps = torch.tensor([1.0, 2.0, 1.0])
        kernel = taps[:, None] * taps[None, :]
        # A fixed filter, not a weight: kept out of the state dict so the trunk file needs no entry for it.
        self.register_buffer("filt", (kernel / kernel.sum()).expand(channels, 1, 3, 3).clone(), persistent=False)
        self.stride = stride
        self.pad = pad

    def forward(self, x):
        x = F.pad(x, (self.pad,) * 4, mode="reflect")
        return F.conv2d(x, self.filt.to(x.dtype), stride=self.stride, groups=x.shape[1])


def _stlpips_package_dir():
    spec = importlib.util.find_spec("stlpips_pytorch")  # locates the package without importing it
    return Path(next(iter(spec.submodule_search_locations))) if spec else None


class ShiftTolerantVGG16:
    """The shift-tolerant VGG16 trunk whose learned weights ship with stlpips-pytorch."""

    title = "ST-LPIPS shift-tolerant VGG16"
    cfg = tuple(tv_vgg.cfgs["D"])
    weights_subpath = Path("weights", "vST0.0", "vgg_shift_tolerant.pth")
    # The package's trunk ends at relu5_3 (its last slice); the fifth pooling stage has no role there.
    _all_names = vgg_layer_names(cfg, ("maxpool{}", "pool{}"))
    layer_names = _all_names[: _all_names.index("relu5_3") + 1]

    def body(self, num_layers):
        layers, channels = [], 3
        for entry in self.cfg:
            if entry == "M":
                layers += [nn.MaxPool2d(kernel_size=2, stride=1), BlurPool(channels)]
            else:
                layers += [nn.Conv2d(channels, entry, kernel_size=3, padding=1), nn.ReLU()]
                channels = entry
        return nn.Sequential(*layers[:num_layers])

    def default_weights(self):
        package = _stlpips_package_dir()
        return (package or Path("<site-packages>/stlpips_pytorch")) / self.weights_subpath

    def missing_message(self, path):
        return (
            f"{self.title} weights not found: expected {path}, shipped with the stlpips-pytorch package. "
            "Install it (pip install stlpips-pytorch) or point the loss's pretrained_path at a copy "
            f"of {self.weights_subpath.name}"
        )

    def to_body_keys(self, state_dict):
        """'net.slice<k>.<i>.weight' -> '<i>.weight' (layer indices are global); heads and filters dropped."""
        out = {}
        for key, value in state_dict.items():
            parts = key.split(".")
            if len(parts) == 4 and parts[0] == "net" and parts[1].startswith("slice") and parts[3] != "filt":
                out[f"{parts[2]}.{parts[3]}"] = value
        return out or dict(state_dict)


BACKBONES.register("vgg11")(TorchvisionVGG.from_torchvision("vgg11", "A", tv_vgg.VGG11_Weights))
BACKBONES.register("vgg13")(TorchvisionVGG.from_torchvision("vgg13", "B", tv_vgg.VGG13_Weights))
BACKBONES.register("vgg16")(TorchvisionVGG.from_torchvision("vgg16", "D", tv_vgg.VGG16_Weights))
BACKBONES.register("vgg19")(TorchvisionVGG.from_torchvision("vgg19", "E", tv_vgg.VGG19_Weights))
BACKBONES.register("stlpips_vgg")(ShiftTolerantVGG16())
BACKBONES.register("lpips")(TorchvisionAlexNet())


class FeatureExtractor(nn.Module):
    """A frozen sequential trunk returning ``{layer name: output}`` for the requested layers."""

    def __init__(self, body, layer_names, layers, use_input_norm=True, range_norm=False):
        super().__init__()
        self.body = body
        index = {name: i for i, name in enumerate(layer_names[: len(body)])}
        self.layers = tuple(layers)
        self._taps = {index[name]: name for name in self.layers}
        self.use_input_norm = bool(use_input_norm)
        self.range_norm = bool(range_norm)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode=True):
        # A loss network never trains: dropout/batch-norm style behaviour must not flip with the model's mode.
        return super().train(False)

    def forward(self, x):
        x = rgb_view(x)  # a grey network's images
        if self.range_norm:
            x = (x + 1) / 2
        if self.use_input_norm:
            x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        features = {}
        for i, layer in enumerate(self.body):
            x = layer(x)
            if i in self._taps:
                features[self._taps[i]] = x
        return features

    def extra_repr(self):
        return f"layers={list(self.layers)}, use_input_norm={self.use_input_norm}, range_norm={self.range_norm}"


def get_backbone(vgg_type):
    """The registered backbone for ``vgg_type``; unknown -> ArgumentError naming ``vgg_type``."""
    if vgg_type not in BACKBONES:
        raise ArgumentError("vgg_type", BACKBONES.unknown_message(vgg_type))
    return BACKBONES.get(vgg_type)


def check_layers(backbone, vgg_type, layers):
    """Every requested layer must exist in the backbone; the error names the argument and the nearest name."""
    for name in layers:
        if name not in backbone.layer_names:
            raise ArgumentError(f"layer_weights.{name}", f"{vgg_type} has no layer {name!r}"
                                f"{did_you_mean(name, backbone.layer_names)}; its layers: "
                                f"{', '.join(backbone.layer_names)}")


def build_feature_extractor(vgg_type, layers, use_input_norm=True, range_norm=False, pretrained_path=None):
    """Build the frozen extractor for ``layers`` (truncated after the deepest one) with its real weights.

    Weights come from ``pretrained_path`` when given, else from the backbone's default file; a missing
    file is a WeightsError saying where to put it. A randomly initialised trunk is never returned.
    """
    backbone = get_backbone(vgg_type)
    layers = list(layers)
    if not layers:
        raise ArgumentError("layer_weights", "name at least one layer, e.g. {conv5_4: 1.0}")
    check_layers(backbone, vgg_type, layers)
    if pretrained_path:
        path = Path(os.path.expanduser(str(pretrained_path)))
        if not path.is_file():
            raise ArgumentError("pretrained_path", f"{path}: weights file not found")
    else:
        path = backbone.default_weights()
        if not path.is_file():
            raise WeightsError(backbone.missing_message(path))
    depth = max(backbone.layer_names.index(name) for name in layers) + 1
    body = backbone.body(depth)
    # Keys past the truncation are not needed; every layer kept must be in the file with its shape.
    load_into(body, backbone.to_body_keys(load_state_dict_file(path)), source=str(path), extra_ok=True,
              what=f"{backbone.title} up to {layers[-1] if len(layers) == 1 else 'the requested layers'}")
    return FeatureExtractor(body, backbone.layer_names, layers, use_input_norm, range_norm)
