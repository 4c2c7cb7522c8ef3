"""Super-resolution generators with BasicSR's parameter names, so BasicSR / Real-ESRGAN checkpoints load strictly.

Every generator exposes its upscale factor as the int attribute ``.scale`` and the input sizes it takes as
``.size_rule`` (srgan_kit.archs.input_sizes); ``scale_key`` names the option holding the factor.
"""
from torch import nn
from torch.nn import functional as F

from srgan_kit.archs.blocks import RRDB, ResidualBlockNoBN, conv3x3, scaled_kaiming_init, stack
from srgan_kit.archs.input_sizes import ANY_SIZE, RRDBNET_UNSHUFFLE, rrdbnet_sizes
from srgan_kit.errors import ArgumentError
from srgan_kit.registry import ARCHS


def _check_choice(arch, key, value, choices):
    if value not in choices:
        raise ArgumentError(key, f"{arch} takes one of {list(choices)}, got {value!r}")


@ARCHS.register()
class MSRResNet(nn.Module):
    """Modified SRResNet (BasicSR): residual blocks without BN, pixel-shuffle upsampling, bilinear skip.

    x2 and x3 use one ``upconv1`` + PixelShuffle(scale); x4 uses ``upconv1`` and ``upconv2`` with PixelShuffle(2).
    """

    scale_key = "upscale"

    def __init__(self, num_in_ch=3, num_out_ch=3, num_feat=64, num_block=16, upscale=4):
        super().__init__()
        _check_choice("MSRResNet", "upscale", upscale, (2, 3, 4))
        self.upscale = upscale
        self.scale = upscale
        self.size_rule = ANY_SIZE

        self.conv_first = conv3x3(num_in_ch, num_feat)
        self.body = stack(ResidualBlockNoBN, num_block, num_feat=num_feat)
        # x4 is two x2 steps; x2 / x3 one step.
        shuffle = 2 if upscale == 4 else upscale
        self.upconv1 = conv3x3(num_feat, num_feat * shuffle * shuffle)
        if upscale == 4:
            self.upconv2 = conv3x3(num_feat, num_feat * 4)
        self.pixel_shuffle = nn.PixelShuffle(shuffle)
        self.conv_hr = conv3x3(num_feat, num_feat)
        self.conv_last = conv3x3(num_feat, num_out_ch)
        self.lrelu = nn.LeakyReLU(negative_slope=0.1, inplace=True)

        head_tail = [self.conv_first, self.upconv1, self.conv_hr, self.conv_last]
        if upscale == 4:
            head_tail.append(self.upconv2)
        scaled_kaiming_init(head_tail, 0.1)

    def forward(self, x):
        out = self.body(self.lrelu(self.conv_first(x)))
        out = self.lrelu(self.pixel_shuffle(self.upconv1(out)))
        if self.upscale == 4:
            out = self.lrelu(self.pixel_shuffle(self.upconv2(out)))
        out = self.conv_last(self.lrelu(self.conv_hr(out)))
        # The network learns the residual over a bilinear upscale of the input.
        return out + F.interpolate(x, scale_factor=self.upscale, mode="bilinear", align_corners=False)


@ARCHS.register()
class RRDBNet(nn.Module):
    """ESRGAN generator (BasicSR / Real-ESRGAN): RRDB trunk, two nearest x2 upsamplings.

    Scales 2 and 1 first pixel-unshuffle the input by 2 and 4 (Real-ESRGAN's trick), so the trunk always
    runs at 1/4 of the output resolution. Inputs whose size is not a multiple of that factor are
    reflect-padded and the output cropped back (BasicSR would refuse them; the result elsewhere is identical).
    """

    scale_key = "scale"
    size_requirements = staticmethod(rrdbnet_sizes)  # tiles aligned to the unshuffle stay exact

    def __init__(self, num_in_ch=3, num_out_ch=3, scale=4, num_feat=64, num_block=23, num_grow_ch=32):
        super().__init__()
        _check_choice("RRDBNet", "scale", scale, tuple(sorted(RRDBNET_UNSHUFFLE)))
        self.scale, self.num_in_ch = scale, num_in_ch  # its first convolution sees the unshuffled channels
        self.size_rule = rrdbnet_sizes({"scale": scale})
        self.unshuffle = RRDBNET_UNSHUFFLE[scale]

        self.conv_first = conv3x3(num_in_ch * self.unshuffle**2, num_feat)
        self.body = stack(RRDB, num_block, num_feat=num_feat, num_grow_ch=num_grow_ch)
        self.conv_body = conv3x3(num_feat, num_feat)
        self.conv_up1 = conv3x3(num_feat, num_feat)
        self.conv_up2 = conv3x3(num_feat, num_feat)
        self.conv_hr = conv3x3(num_feat, num_feat)
        self.conv_last = conv3x3(num_feat, num_out_ch)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x):
        r = self.unshuffle
        h, w = x.shape[-2:]
        pad_h, pad_w = (-h) % r, (-w) % r
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect")
        feat = F.pixel_unshuffle(x, r) if r > 1 else x

        feat = self.conv_first(feat)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        out = self.conv_last(self.lrelu(self.conv_hr(feat)))
        if pad_h or pad_w:
            out = out[..., : h * self.scale, : w * self.scale]
        return out
