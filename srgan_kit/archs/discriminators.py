"""Discriminators for GAN training: VGG-style (SRGAN/ESRGAN), PatchGAN (pix2pix) and its multi-scale form
(pix2pixHD), U-Net with spectral norm (Real-ESRGAN).

All share ``forward(x, return_features=False)``: logits, or ``(logits, [feature maps])`` with the intermediate
activations at several depths (shallow to deep) for feature-matching losses.
"""
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import parametrizations
from torch.nn.utils import spectral_norm as legacy_spectral_norm

from srgan_kit.errors import ArgumentError
from srgan_kit.registry import ARCHS


@ARCHS.register()
class VGGStyleDiscriminator(nn.Module):
    """BasicSR's VGG-style discriminator for 128x128 or 256x256 inputs (same parameter names).

    Stage i: conv{i}_0 (3x3) and conv{i}_1 (4x4, stride 2), each followed by BN (except conv0_0) and
    LeakyReLU(0.2); five stages for 128 (six for 256) bring the map to 4x4, then two linear layers.
    """

    def __init__(self, num_in_ch=3, num_feat=64, input_size=128):
        super().__init__()
        if input_size not in (128, 256):
            raise ArgumentError("input_size", f"must be 128 or 256, got {input_size!r}")
        self.input_size = input_size
        widths = [num_feat, num_feat * 2, num_feat * 4, num_feat * 8, num_feat * 8, num_feat * 8]
        self.num_stages = 5 if input_size == 128 else 6

        prev = num_in_ch
        for i, ch in enumerate(widths[: self.num_stages]):
            # conv0_0 has a bias and no BN; every other conv is bias-free and batch-normalised.
            first_has_bn = i > 0
            setattr(self, f"conv{i}_0", nn.Conv2d(prev, ch, 3, 1, 1, bias=not first_has_bn))
            if first_has_bn:
                setattr(self, f"bn{i}_0", nn.BatchNorm2d(ch, affine=True))
            setattr(self, f"conv{i}_1", nn.Conv2d(ch, ch, 4, 2, 1, bias=False))
            setattr(self, f"bn{i}_1", nn.BatchNorm2d(ch, affine=True))
            prev = ch

        self.linear1 = nn.Linear(num_feat * 8 * 4 * 4, 100)
        self.linear2 = nn.Linear(100, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def _stage(self, i, feat):
        feat = self._conv_bn(f"{i}_0", feat)
        return self._conv_bn(f"{i}_1", feat)

    def _conv_bn(self, suffix, feat):
        feat = getattr(self, f"conv{suffix}")(feat)
        bn = getattr(self, f"bn{suffix}", None)
        return self.lrelu(bn(feat) if bn is not None else feat)

    def forward(self, x, return_features=False):
        size = self.input_size
        if tuple(x.shape[-2:]) != (size, size):
            raise ValueError(f"VGGStyleDiscriminator built for {size}x{size} inputs (input_size) got "
                             f"{x.shape[-2]}x{x.shape[-1]}")
        features = []
        feat = x
        for i in range(self.num_stages):
            feat = self._stage(i, feat)  # spatial size halves at each stage
            features.append(feat)
        out = self.linear2(self.lrelu(self.linear1(feat.flatten(1))))
        return (out, features) if return_features else out


@ARCHS.register()
class PatchGANDiscriminator(nn.Module):
    """pix2pix's N-layer PatchGAN: one logit per overlapping patch (70x70 receptive field for 3 layers).

    ``num_layers`` stride-2 4x4 convs (widths num_feat * 1, 2, 4, 8, 8, ...), one stride-1 conv, and a
    1-channel stride-1 head. Without spectral norm the inner convs use BatchNorm (as pix2pix); with it,
    every conv is spectrally normalised and BN is dropped (SN already bounds the Lipschitz constant).
    """

    def __init__(self, num_in_ch=3, num_feat=64, num_layers=3, spectral_norm=False):
        super().__init__()
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ArgumentError("num_layers", f"must be an integer >= 1, got {num_layers!r}")
        self.spectral_norm = bool(spectral_norm)

        def conv(cin, cout, stride, norm):
            use_bn = norm and not self.spectral_norm
            layer = nn.Conv2d(cin, cout, 4, stride, 1, bias=not use_bn)
            if self.spectral_norm:
                layer = parametrizations.spectral_norm(layer)
            return [layer, nn.BatchNorm2d(cout)] if use_bn else [layer]

        blocks = []
        prev, width = num_in_ch, num_feat
        for n in range(num_layers + 1):
            width = num_feat * min(2**n, 8)
            stride = 2 if n < num_layers else 1  # the last feature block keeps the resolution
            blocks.append(nn.Sequential(*conv(prev, width, stride, norm=n > 0), nn.LeakyReLU(0.2, inplace=True)))
            prev = width
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Sequential(*conv(prev, 1, 1, norm=False))

    def forward(self, x, return_features=False):
        features = []
        feat = x
        for block in self.blocks:
            feat = block(feat)
            features.append(feat)
        out = self.head(feat)
        return (out, features) if return_features else out


@ARCHS.register()
class MultiScalePatchGAN(nn.Module):
    """pix2pixHD's multi-scale discriminator: ``num_scales`` PatchGANs (own weights, same settings), the first
    on the image, each next one on a 2x average-pooled copy of the previous input.

    The logit maps are resized (nearest) to the first one's size and stacked as channels, so every loss, which
    averages over all logits, weighs each scale the same. ``return_features``: every scale's features, first
    scale first (feature matching then spans all scales).
    """

    def __init__(self, num_in_ch=3, num_feat=64, num_layers=3, spectral_norm=False, num_scales=3):
        super().__init__()
        if not isinstance(num_scales, int) or num_scales < 1:
            raise ArgumentError("num_scales", f"must be an integer >= 1, got {num_scales!r}")
        self.scales = nn.ModuleList(PatchGANDiscriminator(num_in_ch, num_feat, num_layers, spectral_norm)
                                    for _ in range(num_scales))

    def forward(self, x, return_features=False):
        logits, features = [], []
        for i, patchgan in enumerate(self.scales):
            if i:
                x = F.avg_pool2d(x, 2, ceil_mode=True)
            out, feats = patchgan(x, return_features=True)
            logits.append(out if i == 0 else F.interpolate(out, size=logits[0].shape[-2:], mode="nearest"))
            features += feats
        out = torch.cat(logits, dim=1)
        return (out, features) if return_features else out


@ARCHS.register()
class UNetDiscriminatorSN(nn.Module):
    """Real-ESRGAN's U-Net discriminator with spectral norm; one logit per pixel.

    Uses ``torch.nn.utils.spectral_norm`` (weight_orig / weight_u / weight_v keys) so BasicSR's state dicts
    load strictly and ours load in BasicSR. Input height and width must be multiples of 8.
    """

    def __init__(self, num_in_ch=3, num_feat=64, skip_connection=True):
        super().__init__()
        self.skip_connection = skip_connection
        sn = legacy_spectral_norm
        nf = num_feat
        self.conv0 = nn.Conv2d(num_in_ch, nf, 3, 1, 1)
        # encoder: three stride-2 convs
        self.conv1 = sn(nn.Conv2d(nf, nf * 2, 4, 2, 1, bias=False))
        self.conv2 = sn(nn.Conv2d(nf * 2, nf * 4, 4, 2, 1, bias=False))
        self.conv3 = sn(nn.Conv2d(nf * 4, nf * 8, 4, 2, 1, bias=False))
        # decoder: bilinear x2 then conv, mirrored widths
        self.conv4 = sn(nn.Conv2d(nf * 8, nf * 4, 3, 1, 1, bias=False))
        self.conv5 = sn(nn.Conv2d(nf * 4, nf * 2, 3, 1, 1, bias=False))
        self.conv6 = sn(nn.Conv2d(nf * 2, nf, 3, 1, 1, bias=False))
        # refinement and per-pixel head
        self.conv7 = sn(nn.Conv2d(nf, nf, 3, 1, 1, bias=False))
        self.conv8 = sn(nn.Conv2d(nf, nf, 3, 1, 1, bias=False))
        self.conv9 = nn.Conv2d(nf, 1, 3, 1, 1)

    @staticmethod
    def _act(x):
        return F.leaky_relu(x, negative_slope=0.2, inplace=True)

    @staticmethod
    def _up(x):
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)

    def forward(self, x, return_features=False):
        x0 = self._act(self.conv0(x))
        x1 = self._act(self.conv1(x0))
        x2 = self._act(self.conv2(x1))
        x3 = self._act(self.conv3(x2))

        # Decoder; with skip connections each level adds the encoder map of the same size.
        x4 = self._act(self.conv4(self._up(x3)))
        if self.skip_connection:
            x4 = x4 + x2
        x5 = self._act(self.conv5(self._up(x4)))
        if self.skip_connection:
            x5 = x5 + x1
        x6 = self._act(self.conv6(self._up(x5)))
        if self.skip_connection:
            x6 = x6 + x0

        out = self._act(self.conv7(x6))
        out = self._act(self.conv8(out))
        out = self.conv9(out)
        return (out, [x0, x1, x2, x3, x4, x5, x6]) if return_features else out
