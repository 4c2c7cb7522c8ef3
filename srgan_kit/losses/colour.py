"""Colour-consistency terms, under traiNNer-redux's names: GAN stages tend to drift in colour (a tint, washed-out or
over-saturated areas) while pixel and perceptual terms watch mostly structure. Each compares one aspect of colour
with ``criterion`` l1, l2 or charbonnier (sqrt(d^2 + 1e-12)), averaged; RGB in [0, 1].

``ColorLoss``: the chroma (Cb, Cr of MATLAB's BT.601 ``rgb2ycbcr``, scaled to [0, 1]) of output and target, each
averaged over ``scale`` x ``scale`` blocks first, so only the colour of areas counts, not of edges or texture.

``LumaLoss``: CIELAB lightness L* / 100 (sRGB, D65; the CIE's formula, linear below Y = 216 / 24389), the
brightness as seen, without colour.

``HSLuvLoss``: hue, saturation and lightness in HSLuv (hsluv.org), a cylindrical form of CIELUV in which saturation
is the share of the largest chroma sRGB reaches at that lightness and hue, so all three are perceptual and in
[0, 1] after scaling. Hue is compared on the circle (the shortest way round, times 2) and ignored where both
pixels are grey (saturation < 0.1), both nearly black or both nearly white (lightness < 0.1 or > 0.9); between a
grey and a coloured pixel it costs the larger saturation. The saturation difference is weighted by how far each
pixel's lightness is from black and white (min(L, 1 - L), summed over the two), where saturation is visible. Each
part has its weight (1/3 each by default). ``downscale_factor`` (antialiased bicubic) and ``blur_strength`` s (a
Gaussian of sigma s, 4s + 1 taps) compare the colour of areas only. As traiNNer-redux defines it.
"""
import math

import torch
from torch import nn
from torch.nn import functional as F

from srgan_kit.data.channels import rgb_view
from srgan_kit.errors import ArgumentError
from srgan_kit.losses.pixel import check_criterion, elementwise
from srgan_kit.registry import LOSSES

def in_gamut(x):
    """``x`` clamped to [0, 1], with the gradient passed through as if unclamped: a pixel at or beyond 0 or 1 is
    still told which way its colour should move."""
    return x + (x.clamp(0, 1) - x).detach()


class _ColourTerm(nn.Module):
    term = None  # the logged name

    def generator_terms(self, view):
        return {self.term: self(view.sr.float(), view.target("pixel"))}  # in fp32 even under autocast


# MATLAB rgb2ycbcr's chroma rows (BT.601, studio swing) for RGB in [0, 1], divided by 255; the offset (128 / 255)
# cancels in a difference.
_CBCR = ((-37.797, -74.203, 112.0), (112.0, -93.786, -18.214))


def chroma(x):
    """N x 2 x H x W: Cb and Cr of MATLAB's rgb2ycbcr without their offset, on the [0, 1] scale."""
    rows = torch.tensor(_CBCR, dtype=x.dtype, device=x.device) / 255.0
    return torch.einsum("kc,nchw->nkhw", rows, rgb_view(x))


@LOSSES.register(aliases=("colorloss",))
class ColorLoss(_ColourTerm):
    """Chroma (Cb, Cr) of scale x scale block means (module docstring); logged as ``l_color``."""

    term = "color"

    def __init__(self, loss_weight=1.0, criterion="l1", scale=4):
        super().__init__()
        if int(scale) != scale or int(scale) < 1:
            raise ArgumentError("scale", f"the side of the averaged blocks, an integer >= 1, got {scale}")
        self.loss_weight, self.criterion, self.scale = float(loss_weight), check_criterion(criterion), int(scale)

    def forward(self, pred, target):
        pred, target = (F.avg_pool2d(chroma(x), self.scale) for x in (pred, target))
        return self.loss_weight * elementwise(self.criterion, pred, target).mean()

    def extra_repr(self):
        return f"loss_weight={self.loss_weight}, criterion={self.criterion!r}, scale={self.scale}"


def lightness(x):
    """N x 1 x H x W: CIELAB L* / 100 (sRGB in [0, 1], clamped by :func:`in_gamut`; D65)."""
    from kornia.color import rgb_to_lab

    return rgb_to_lab(in_gamut(rgb_view(x)))[:, :1] / 100


@LOSSES.register(aliases=("lumaloss",))
class LumaLoss(_ColourTerm):
    """CIELAB lightness L* / 100 (module docstring); logged as ``l_luma``."""

    term = "luma"

    def __init__(self, loss_weight=1.0, criterion="l1"):
        super().__init__()
        self.loss_weight, self.criterion = float(loss_weight), check_criterion(criterion)

    def forward(self, pred, target):
        return self.loss_weight * elementwise(self.criterion, lightness(pred), lightness(target)).mean()

    def extra_repr(self):
        return f"loss_weight={self.loss_weight}, criterion={self.criterion!r}"


# HSLuv's constants (hsluv.org): sRGB's primaries with a D65 white, CIELUV's reference white and the CIE's
# lightness constants.
_XYZ_FROM_RGB = ((0.41239079926595, 0.35758433938387, 0.18048078840183),
                 (0.21263900587151, 0.71516867876775, 0.072192315360733),
                 (0.019330818715591, 0.11919477979462, 0.95053215224966))
_RGB_FROM_XYZ = ((3.240969941904521, -1.537383177570093, -0.498610760293),
                 (-0.96924363628087, 1.87596750150772, 0.041555057407175),
                 (0.055630079696993, -0.20397695888897, 1.056971514242878))
_REF_U, _REF_V = 0.19783000664283, 0.46831999493879
_KAPPA, _EPSILON = 903.2962962, 0.0088564516
# Below this chroma a colour has no hue (hue 0): the reference implementation's 1e-8, or in float32 what rounding
# leaves on greys (up to ~1e-4).
_GREY_CHROMA = 1e-8
_EDGE_LIGHTNESS = 1e-4  # within it of 0 or 100, saturation is 0 (black and white; float32 rounding included)


def _lightness_from_y(y):
    cube_root = 116 * y.clamp_min(_EPSILON) ** (1 / 3) - 16  # clamped: no infinite gradient at 0 in the other branch
    return torch.where(y > _EPSILON, cube_root, y * _KAPPA)


def _max_chroma(lightness_, hue_rad):
    """The largest CIELUV chroma inside the sRGB gamut at each lightness (0..100, not 0 or 100) and hue (radians):
    the nearest, along the hue's ray, of the six lines where one linear RGB channel is 0 or 1."""
    rows = torch.tensor(_RGB_FROM_XYZ, dtype=lightness_.dtype, device=lightness_.device)
    m1, m2, m3 = rows.repeat_interleave(2, dim=0).unbind(1)  # lines (channel, bound) in order (0,0), (0,1), ...
    bound = torch.tensor([0.0, 1.0] * 3, dtype=lightness_.dtype, device=lightness_.device)
    shape = (6,) + (1,) * lightness_.dim()
    m1, m2, m3, bound = (t.view(shape) for t in (m1, m2, m3, bound))
    l_ = lightness_.unsqueeze(0)
    cubed = (l_ + 16) ** 3 / 1560896
    sub = torch.where(cubed > _EPSILON, cubed, l_ / _KAPPA)
    top1 = (284517 * m1 - 94839 * m3) * sub
    top2 = (838422 * m3 + 769860 * m2 + 731718 * m1) * l_ * sub - 769860 * bound * l_
    bottom = (632260 * m3 - 126452 * m2) * sub + 126452 * bound
    # The line is v = (top1 / bottom) u + top2 / bottom; the ray (cos h, sin h) meets it at this length:
    denominator = bottom * torch.sin(hue_rad) - top1 * torch.cos(hue_rad)
    parallel = denominator == 0
    length = top2 / torch.where(parallel, torch.ones_like(denominator), denominator)
    length = torch.where(parallel | (length < 0), torch.full_like(length, math.inf), length)
    return length.amin(0)


def rgb_to_hsluv(x):
    """N x 3 x H x W sRGB in [0, 1] (clamped, :func:`in_gamut`) -> HSLuv: hue in degrees [0, 360), saturation and
    lightness in [0, 100]. Gradients stay finite on black, white and grey pixels."""
    from kornia.color import rgb_to_linear_rgb

    linear = rgb_to_linear_rgb(in_gamut(x))
    xyz = torch.einsum("kc,nchw->nkhw", torch.tensor(_XYZ_FROM_RGB, dtype=x.dtype, device=x.device), linear)
    cx, cy, cz = xyz.unbind(1)
    lightness_ = _lightness_from_y(cy)
    divider = cx + 15 * cy + 3 * cz
    divider = torch.where(divider > 0, divider, torch.ones_like(divider))  # black: u = v = 0 through L = 0
    u = 13 * lightness_ * (4 * cx / divider - _REF_U)
    v = 13 * lightness_ * (9 * cy / divider - _REF_V)
    grey_chroma = max(_GREY_CHROMA, 1e4 * torch.finfo(x.dtype).eps)
    grey = u * u + v * v < grey_chroma**2
    chroma_ = torch.where(grey, 0.0, torch.sqrt(torch.where(grey, 1.0, u * u + v * v)))
    hue_rad = torch.atan2(torch.where(grey, 0.0, v), torch.where(grey, 1.0, u))
    hue = torch.where(grey, 0.0, torch.remainder(torch.rad2deg(hue_rad), 360))
    edge = (lightness_ < _EDGE_LIGHTNESS) | (lightness_ > 100 - _EDGE_LIGHTNESS)
    inner = torch.where(edge, torch.full_like(lightness_, 50.0), lightness_)  # the gamut has no extent at 0 and 100
    saturation = torch.where(edge, 0.0, chroma_ / _max_chroma(inner, hue_rad) * 100)
    return torch.stack([hue, saturation, lightness_], dim=1)


@LOSSES.register(aliases=("hsluvloss",))
class HSLuvLoss(_ColourTerm):
    """Hue, saturation and lightness in HSLuv (module docstring); logged as ``l_hsluv``."""

    term = "hsluv"
    GREY, DARK = 0.1, 0.1  # saturation below GREY has no hue; lightness below DARK or above 1 - DARK neither

    def __init__(self, loss_weight=1.0, hue_weight=1 / 3, saturation_weight=1 / 3, lightness_weight=1 / 3,
                 criterion="l1", downscale_factor=1, blur_strength=0):
        super().__init__()
        for key, value in (("hue_weight", hue_weight), ("saturation_weight", saturation_weight),
                           ("lightness_weight", lightness_weight)):
            if float(value) < 0:
                raise ArgumentError(key, f"must be >= 0, got {value}")
        if int(downscale_factor) != downscale_factor or int(downscale_factor) < 1:
            raise ArgumentError("downscale_factor", f"an integer >= 1 (1: none), got {downscale_factor}")
        if int(blur_strength) != blur_strength or int(blur_strength) < 0:
            raise ArgumentError("blur_strength",
                                f"the Gaussian's sigma, an integer >= 0 (0: none), got {blur_strength}")
        self.loss_weight, self.criterion = float(loss_weight), check_criterion(criterion)
        self.hue_weight, self.saturation_weight = float(hue_weight), float(saturation_weight)
        self.lightness_weight = float(lightness_weight)
        self.downscale_factor, self.blur_strength = int(downscale_factor), int(blur_strength)

    def hsl(self, x):
        """Hue, saturation and lightness, each N x H x W in [0, 1], after the optional blur and downscale (whose
        overshoot :func:`rgb_to_hsluv` clamps)."""
        if self.blur_strength:
            from kornia.filters import gaussian_blur2d

            taps = 4 * self.blur_strength + 1
            x = gaussian_blur2d(x, (taps, taps), (float(self.blur_strength),) * 2, border_type="reflect")
        if self.downscale_factor > 1:
            x = F.interpolate(x, scale_factor=1 / self.downscale_factor, mode="bicubic", antialias=True)
        hue, saturation, lightness_ = rgb_to_hsluv(rgb_view(x)).unbind(1)
        return hue / 360, saturation / 100, lightness_ / 100

    def forward(self, pred, target):
        (hx, sx, lx), (hy, sy, ly) = self.hsl(pred), self.hsl(target)
        turn = (hx - hy).abs()
        hue = torch.minimum(turn, 1 - turn) * 2
        grey_x, grey_y = sx < self.GREY, sy < self.GREY
        hue = torch.where(grey_x & grey_y, 0.0, torch.where(grey_x ^ grey_y, torch.maximum(sx, sy), hue))
        dark = (lx < self.DARK) & (ly < self.DARK)
        bright = (lx > 1 - self.DARK) & (ly > 1 - self.DARK)
        hue = torch.where(dark | bright, 0.0, hue)
        visible = torch.minimum(lx, 1 - lx).clamp(0, 0.5) + torch.minimum(ly, 1 - ly).clamp(0, 0.5)
        saturation = elementwise(self.criterion, sx, sy) * visible
        lightness_ = elementwise(self.criterion, lx, ly)
        total = (self.hue_weight * hue.mean() + self.saturation_weight * saturation.mean()
                 + self.lightness_weight * lightness_.mean())
        return self.loss_weight * total

    def extra_repr(self):
        return (f"loss_weight={self.loss_weight}, hue_weight={self.hue_weight}, "
                f"saturation_weight={self.saturation_weight}, lightness_weight={self.lightness_weight}, "
                f"criterion={self.criterion!r}, downscale_factor={self.downscale_factor}, "
                f"blur_strength={self.blur_strength}")
