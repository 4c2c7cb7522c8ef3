"""``SobelEdgeLoss``, under traiNNer-redux's name: the Sobel gradients (horizontal and vertical maps) of the luma of
output and target, compared with ``criterion`` (l2 by default, as traiNNer-redux; l1 or charbonnier), averaged.
It asks for edges where the target has them and of the same strength and direction, which pixel losses reward
only weakly.

Luma is BT.601's (0.299 R + 0.587 G + 0.114 B); the kernels are Sobel's 3 x 3 divided by 4 (twice the derivative,
traiNNer-redux's scale), with the border replicated, so an image's frame is not taken for an edge.
"""
from torch import nn

from srgan_kit.data.channels import rgb_view
from srgan_kit.losses.pixel import check_criterion, elementwise
from srgan_kit.registry import LOSSES

SOBEL_SCALE = 4.0  # the raw kernels' response divided by this


def sobel_gradients(x):
    """N x 1 x 2 x H x W: the horizontal and vertical Sobel responses / 4 of the luma of RGB ``x``."""
    from kornia.color import rgb_to_grayscale
    from kornia.filters import spatial_gradient

    return spatial_gradient(rgb_to_grayscale(rgb_view(x)), mode="sobel", order=1, normalized=False) / SOBEL_SCALE


@LOSSES.register(aliases=("sobeledgeloss",))
class SobelEdgeLoss(nn.Module):
    """Sobel gradient maps of the luma, compared (module docstring); logged as ``l_sobel``."""

    def __init__(self, loss_weight=1.0, criterion="l2"):
        super().__init__()
        self.loss_weight, self.criterion = float(loss_weight), check_criterion(criterion)

    def forward(self, pred, target):
        return self.loss_weight * elementwise(self.criterion, sobel_gradients(pred), sobel_gradients(target)).mean()

    def generator_terms(self, view):
        return {"sobel": self(view.sr.float(), view.target("pixel"))}  # in fp32 even under autocast

    def extra_repr(self):
        return f"loss_weight={self.loss_weight}, criterion={self.criterion!r}"
