"""DISTS (Ding et al. 2020, "Image Quality Assessment: Unifying Structure and Texture Similarity"), the network of
the reference package DISTS_pytorch 0.1, shared by the ``DISTSLoss`` term and the ``dists`` metric.

The trunk is torchvision's VGG16 (configuration D) up to relu5_3 with every 2x2 max pool replaced by an L2 pool:
sqrt(conv(x^2) + 1e-12) with a 3x3 Hann filter ([0.5 1 0.5] outer itself, normalised), stride 2, padding 1.
Inputs are RGB in [0, 1], normalised with ImageNet mean/std inside. DISTS compares six stages, the input image
itself and relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 (3 + 64 + 128 + 256 + 512 + 512 = 1475 channels): per
channel, a texture term from the global means and a structure term from the global (co)variances::

    S1 = (2 mx my + c1) / (mx^2 + my^2 + c1)        S2 = (2 cov_xy + c2) / (var_x + var_y + c2),  c1 = c2 = 1e-6
    DISTS = 1 - sum_k (alpha_k S1_k + beta_k S2_k) / (sum alpha + sum beta)

0 for identical images, lower is more alike. The statistics are taken in float32 whatever the trunk ran in
(bfloat16 means and variances with c = 1e-6 are noise).

Weights: the learned alpha / beta (1 x 1475 each) are the file the reference package ships,
``DISTS_pytorch/weights.pt`` in site-packages, located without importing the package (its import is harmless,
but building its class downloads VGG16). The VGG16 ImageNet weights are torchvision's file, read exactly as the
perceptual loss reads them (srgan_kit.archs.features, backbone ``vgg16``): from torchvision's cache,
``$TORCH_HOME/hub/checkpoints/vgg16-397923af.pth``, or from an explicit path. Nothing is downloaded: without the
file, a one-line WeightsError says which file and where to put it.
"""
import importlib.util
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from srgan_kit.archs.features import build_feature_extractor, get_backbone
from srgan_kit.archs.weights import load_state_dict_file
from srgan_kit.errors import WeightsError

BACKBONE = "vgg16"
STAGES = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")  # after the input image itself
POOLS = ("pool1", "pool2", "pool3", "pool4")  # the max pools that become L2 pools
CHANNELS = (3, 64, 128, 256, 512, 512)
C1 = C2 = 1e-6
PACKAGE = "DISTS_pytorch"


class L2Pool(nn.Module):
    """DISTS' anti-aliased downsampling: the root of a Hann-weighted local mean of squares, stride 2."""

    def __init__(self, channels):
        super().__init__()
        taps = torch.from_numpy(np.hanning(5)[1:-1]).float()  # [0.5, 1, 0.5]
        kernel = taps[:, None] * taps[None, :]
        # A fixed filter, not a weight: kept out of the state dict (the VGG16 file has no entry for it).
        self.register_buffer("filt", (kernel / kernel.sum()).expand(channels, 1, 3, 3).clone(), persistent=False)

    def forward(self, x):
        out = F.conv2d(x * x, self.filt.to(x.dtype), stride=2, padding=1, groups=x.shape[1])
        return (out + 1e-12).sqrt()


def dists_weights_file():
    """The alpha / beta file shipped with DISTS_pytorch (found without importing it); None without the package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "weights.pt"


def vgg16_weights_file():
    """Where torchvision's VGG16 ImageNet file must be: the perceptual loss's vgg16 backbone's default."""
    return get_backbone(BACKBONE).default_weights()


def unavailable_reason(pretrained_path=None):
    """None when DISTS can be built here (both weight files present), else one line saying which file is missing."""
    weights = dists_weights_file()
    if weights is None or not weights.is_file():
        return _alpha_beta_missing(weights)
    path = Path(pretrained_path).expanduser() if pretrained_path else vgg16_weights_file()
    if not path.is_file():
        return get_backbone(BACKBONE).missing_message(path)
    return None


def _alpha_beta_missing(path):
    where = path if path is not None else f"<site-packages>/{PACKAGE}/weights.pt"
    return (f"DISTS alpha/beta weights not found: expected {where}, shipped with the {PACKAGE} package "
            "(pip install DISTS_pytorch==0.1)")


def _read_alpha_beta():
    path = dists_weights_file()
    if path is None or not path.is_file():
        raise WeightsError(_alpha_beta_missing(path))
    state = load_state_dict_file(path)
    shape = (1, sum(CHANNELS), 1, 1)
    for key in ("alpha", "beta"):
        if key not in state or tuple(state[key].shape) != shape:
            found = tuple(state[key].shape) if key in state else "nothing"
            raise WeightsError(f"{path}: expected DISTS' {key!r} of shape {shape}, found {found}")
    return state["alpha"], state["beta"]


class DISTS(nn.Module):
    """``DISTS()(x, y)`` -> distance per image, shape (N,), for RGB batches in [0, 1] (module docstring).

    Frozen and always in eval mode. Gradients flow to ``x`` (and ``y``) when they require them."""

    def __init__(self, pretrained_path=None):
        super().__init__()
        alpha, beta = _read_alpha_beta()  # first: a cheap file, and the run needs both
        backbone = get_backbone(BACKBONE)
        # The perceptual loss's VGG16 extractor (weights, lookup, errors, input normalisation), pools swapped.
        self.trunk = build_feature_extractor(BACKBONE, STAGES, use_input_norm=True, pretrained_path=pretrained_path)
        for name in POOLS:
            index = backbone.layer_names.index(name)
            channels = self.trunk.body[index - 2].out_channels  # the conv before the pool's ReLU
            self.trunk.body[index] = L2Pool(channels)
        self.register_buffer("alpha", alpha.clone())
        self.register_buffer("beta", beta.clone())
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode=True):
        return super().train(False)

    def stages(self, x):
        """The six compared feature maps: the input image, then relu1_2 ... relu5_3."""
        features = self.trunk(x)
        return [x] + [features[name] for name in STAGES]

    def forward(self, x, y):
        if x.shape != y.shape:
            raise ValueError(f"DISTS: image shapes differ: {tuple(x.shape)} vs {tuple(y.shape)}")
        total = self.alpha.sum() + self.beta.sum()
        alphas = torch.split(self.alpha / total, CHANNELS, dim=1)
        betas = torch.split(self.beta / total, CHANNELS, dim=1)
        similarity = 0
        for fx, fy, a, b in zip(self.stages(x), self.stages(y), alphas, betas):
            fx, fy = fx.float(), fy.float()
            mx, my = fx.mean((2, 3), keepdim=True), fy.mean((2, 3), keepdim=True)
            texture = (2 * mx * my + C1) / (mx * mx + my * my + C1)
            var_x = ((fx - mx) ** 2).mean((2, 3), keepdim=True)
            var_y = ((fy - my) ** 2).mean((2, 3), keepdim=True)
            cov = (fx * fy).mean((2, 3), keepdim=True) - mx * my
            structure = (2 * cov + C2) / (var_x + var_y + C2)
            similarity = similarity + (a * texture + b * structure).sum(dim=(1, 2, 3))
        return 1 - similarity


def build_dists(pretrained_path=None):
    """The frozen DISTS network; WeightsError (one line, naming the file) when a weights file is missing,
    ArgumentError('pretrained_path') when an explicit VGG16 path is not a file."""
    return DISTS(pretrained_path)
