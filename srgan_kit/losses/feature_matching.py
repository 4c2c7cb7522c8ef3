"""Discriminator feature matching (SegAN's multi-scale L1 loss; Salimans et al.'s feature matching).

Configured from ``train.feature_matching_opt`` (no ``type``)::

    feature_matching_opt: {loss_weight: 1.0, criterion: l1, layers: [0, 2, 4]}

Every discriminator returns ``(logits, [feature maps, shallow to deep])`` with ``return_features=True``.
The loss is ``loss_weight * mean_k criterion(phi_k(fake), phi_k(real))`` over the chosen depths ``k``
(``layers``: indices into that list, negative ones count from the deepest; default: every depth). Each
criterion is a mean over its map, so a deep, small map weighs as much as a shallow, large one. The real
features are targets: they are detached here, so the loss trains the generator only.
"""
import torch
from torch import nn
from torch.nn import functional as F

from srgan_kit.errors import ArgumentError
from srgan_kit.registry import LOSSES

CRITERIA = {"l1": F.l1_loss, "l2": F.mse_loss}


@LOSSES.register()
class FeatureMatchingLoss(nn.Module):
    needs_discriminator = True
    needs_real = True
    needs_features = True

    def __init__(self, loss_weight=1.0, criterion="l1", layers=None):
        super().__init__()
        if criterion not in CRITERIA:
            raise ArgumentError("criterion", f"unknown criterion {criterion!r}; choose one of {', '.join(CRITERIA)}")
        if float(loss_weight) < 0:
            raise ArgumentError("loss_weight", f"must be >= 0, got {loss_weight}")
        if layers is not None and (not isinstance(layers, (list, tuple)) or not layers):
            raise ArgumentError("layers", f"expected a non-empty list of feature indices, got {layers!r}")
        self.loss_weight = float(loss_weight)
        self.criterion_type = criterion
        self.criterion = CRITERIA[criterion]
        self.layers = None if layers is None else [int(i) for i in layers]

    def select(self, features):
        """The chosen depths of one feature list; an index past its end names the key and the count."""
        if self.layers is None:
            return list(features)
        count = len(features)
        bad = [i for i in self.layers if not -count <= i < count]
        if bad:
            raise ArgumentError("layers", f"{bad} out of range; the discriminator returns {count} feature maps "
                                          f"(indices 0..{count - 1}, or negative from the deepest)")
        return [features[i] for i in self.layers]

    def forward(self, fake_features, real_features):
        fake, real = self.select(fake_features), self.select(real_features)
        # Scored in float32 (features may be bf16 / fp16 under autocast).
        terms = [self.criterion(f.float(), r.detach().float()) for f, r in zip(fake, real)]
        return self.loss_weight * torch.stack(terms).mean()

    def generator_terms(self, view):
        return {"fm": self(view.discriminator("fake")[1], view.discriminator("real")[1])}

    def extra_repr(self):
        return f"loss_weight={self.loss_weight}, criterion={self.criterion_type!r}, layers={self.layers}"
