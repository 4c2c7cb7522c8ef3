"""Perceptual (feature) and style (Gram) losses on a frozen backbone, with BasicSR's ``perceptual_opt`` keys.

``layer_weights`` maps layer names of the chosen backbone (``vgg_type``: vgg11/13/16/19, stlpips_vgg or lpips
(LPIPS' AlexNet trunk, layers relu1 ... relu5); see srgan_kit.archs.features; ``conv5_4`` is before the ReLU,
``relu5_4`` after it) to weights. ``forward(x, gt)`` returns ``(percep, style)`` like BasicSR:

    percep = perceptual_weight * sum_k w_k * criterion(phi_k(x), phi_k(gt))        (None if weight <= 0)
    style  = style_weight * sum_k w_k * criterion(G(phi_k(x)), G(phi_k(gt)))         (None if weight <= 0)

with G(f) = f f^T / (c h w) per sample and criterion 'l1' (mean |.|), 'l2' (mean squared error) or 'fro'
(Frobenius norm of the difference over the whole batch, not averaged, as in BasicSR). The ground-truth
features are computed under ``torch.no_grad()``: the loss builds a graph through ``x`` only.
"""
from collections.abc import Mapping

import torch
from torch import nn
from torch.nn import functional as F

from srgan_kit.archs.features import build_feature_extractor
from srgan_kit.errors import ArgumentError
from srgan_kit.registry import LOSSES


def _frobenius(a, b):
    return torch.norm(a - b, p="fro")


CRITERIA = {"l1": F.l1_loss, "l2": F.mse_loss, "fro": _frobenius}


def gram_matrix(features):
    """N x C x H x W -> N x C x C, normalised by C*H*W (BasicSR's convention)."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat.bmm(flat.transpose(1, 2)) / (c * h * w)


def _checked_weights(layer_weights):
    if not isinstance(layer_weights, Mapping) or not layer_weights:
        raise ArgumentError("layer_weights", "expected a mapping of layer name to weight, e.g. {conv5_4: 1.0}, "
                            f"got {layer_weights!r}")
    weights = {}
    for name, weight in layer_weights.items():
        try:
            weights[str(name)] = float(weight)
        except (TypeError, ValueError):
            raise ArgumentError(f"layer_weights.{name}", f"weight must be a number, got {weight!r}") from None
    return weights


@LOSSES.register()
class PerceptualLoss(nn.Module):
    """Weighted feature distance (+ optional Gram-matrix style loss) through a frozen pretrained network."""

    def __init__(self, layer_weights, vgg_type="vgg19", use_input_norm=True, range_norm=False,
                 perceptual_weight=1.0, style_weight=0.0, criterion="l1", pretrained_path=None):
        super().__init__()
        if criterion not in CRITERIA:
            raise ArgumentError("criterion", f"unknown criterion {criterion!r}; choose one of {', '.join(CRITERIA)}")
        self.layer_weights = _checked_weights(layer_weights)
        self.perceptual_weight = float(perceptual_weight)
        self.style_weight = float(style_weight)
        self.criterion_type = criterion
        self.criterion = CRITERIA[criterion]
        # Built (and its weights checked) here, so a missing weights file stops the run before training.
        self.extractor = build_feature_extractor(
            vgg_type, list(self.layer_weights), use_input_norm, range_norm, pretrained_path)

    def _weighted_sum(self, x_features, gt_features, transform):
        total = 0
        for name, weight in self.layer_weights.items():
            total = total + weight * self.criterion(transform(x_features[name]), transform(gt_features[name]))
        return total

    def forward(self, x, gt):
        x_features = self.extractor(x)
        with torch.no_grad():
            gt_features = self.extractor(gt.detach())

        percep = style = None
        if self.perceptual_weight > 0:
            percep = self.perceptual_weight * self._weighted_sum(x_features, gt_features, lambda f: f)
        if self.style_weight > 0:
            style = self.style_weight * self._weighted_sum(x_features, gt_features, gram_matrix)
        return percep, style

    def generator_terms(self, view):
        with view.autocast():
            percep, style = self(view.sr, view.target("perceptual"))
        terms = {"percep": percep, "style": style}
        return {name: value.float() for name, value in terms.items() if value is not None}

    def extra_repr(self):
        return (f"layer_weights={self.layer_weights}, perceptual_weight={self.perceptual_weight}, "
                f"style_weight={self.style_weight}, criterion={self.criterion_type!r}")
