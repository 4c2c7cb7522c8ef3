"""``DISTSLoss`` (traiNNer-redux's name; alias ``distsloss``): ``loss_weight * DISTS(sr, gt)`` averaged over the
batch, logged as ``l_dists``. DISTS is srgan_kit.archs.dists' network (the reference DISTS_pytorch 0.1 with its
shipped alpha / beta), on RGB in [0, 1]; it compares feature means and (co)variances, so it rewards the right
texture rather than a pixel-aligned copy of it.

Keys: ``loss_weight``; ``clip_min`` (traiNNer-redux's floor on the batch mean, default 0); ``pretrained_path``, a
VGG16 ImageNet file to use instead of torchvision's cache (as PerceptualLoss' key). traiNNer-redux's
``as_loss`` / ``load_weights`` / ``use_input_norm`` are not keys here: this is always the loss, with the learned
weights and the normalisation DISTS was trained with. The network is built in ``__init__``, so a missing weights
file stops the run before training starts.
"""
from torch import nn

from srgan_kit.archs.dists import build_dists
from srgan_kit.data.channels import rgb_view
from srgan_kit.errors import ArgumentError
from srgan_kit.registry import LOSSES


@LOSSES.register(aliases=("distsloss",))
class DISTSLoss(nn.Module):
    """DISTS (Ding et al. 2020) between G's output and its target, times ``loss_weight``."""

    def __init__(self, loss_weight=1.0, clip_min=0.0, pretrained_path=None):
        super().__init__()
        self.loss_weight = float(loss_weight)
        try:
            self.clip_min = float(clip_min)
        except (TypeError, ValueError):
            raise ArgumentError("clip_min", f"must be a number, got {clip_min!r}") from None
        self.dists = build_dists(pretrained_path)

    def forward(self, x, gt):
        # The target is detached: with the network frozen, only x's pass builds a graph.
        distance = self.dists(rgb_view(x), rgb_view(gt.detach())).mean().clamp(min=self.clip_min)
        return self.loss_weight * distance

    def generator_terms(self, view):
        with view.autocast():
            value = self(view.sr, view.target("perceptual"))
        return {"dists": value.float()}

    def extra_repr(self):
        return f"loss_weight={self.loss_weight}, clip_min={self.clip_min}"
