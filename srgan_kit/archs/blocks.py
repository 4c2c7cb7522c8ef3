"""Building blocks shared by the generators, with BasicSR's attribute names (checkpoint keys depend on them)."""
import torch
from torch import nn
from torch.nn import init


@torch.no_grad()
def scaled_kaiming_init(modules, scale=1.0, bias_fill=0.0):
    """Kaiming-normal init multiplied by ``scale`` (BasicSR's default_init_weights).

    A small scale (0.1) keeps deep residual stacks close to identity at the start of training.
    """
    if isinstance(modules, nn.Module):
        modules = [modules]
    for module in modules:
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                init.kaiming_normal_(m.weight)
                m.weight.mul_(scale)
                if m.bias is not None:
                    m.bias.fill_(bias_fill)
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                init.constant_(m.weight, 1.0)
                if m.bias is not None:
                    m.bias.fill_(bias_fill)


def conv3x3(in_ch, out_ch, bias=True):
    return nn.Conv2d(in_ch, out_ch, 3, 1, 1, bias=bias)


def stack(block, count, **kwargs):
    """``count`` copies of ``block(**kwargs)`` in a Sequential: keys read ``body.<i>.<...>``."""
    return nn.Sequential(*(block(**kwargs) for _ in range(count)))


class ResidualBlockNoBN(nn.Module):
    """conv-ReLU-conv plus identity, no batch norm (EDSR / MSRResNet body block)."""

    def __init__(self, num_feat=64, res_scale=1.0):
        super().__init__()
        self.res_scale = res_scale
        self.conv1 = conv3x3(num_feat, num_feat)
        self.conv2 = conv3x3(num_feat, num_feat)
        self.relu = nn.ReLU(inplace=True)
        scaled_kaiming_init([self.conv1, self.conv2], 0.1)

    def forward(self, x):
        return x + self.conv2(self.relu(self.conv1(x))) * self.res_scale


class ResidualDenseBlock(nn.Module):
    """Five densely connected convs; the last one's output is scaled by 0.2 and added to the input (ESRGAN)."""

    def __init__(self, num_feat=64, num_grow_ch=32):
        super().__init__()
        # conv<i> sees the block input plus every earlier growth output.
        self.conv1 = conv3x3(num_feat, num_grow_ch)
        self.conv2 = conv3x3(num_feat + num_grow_ch, num_grow_ch)
        self.conv3 = conv3x3(num_feat + 2 * num_grow_ch, num_grow_ch)
        self.conv4 = conv3x3(num_feat + 3 * num_grow_ch, num_grow_ch)
        self.conv5 = conv3x3(num_feat + 4 * num_grow_ch, num_feat)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
        scaled_kaiming_init([self.conv1, self.conv2, self.conv3, self.conv4, self.conv5], 0.1)

    def forward(self, x):
        feats = [x]
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            feats.append(self.lrelu(conv(torch.cat(feats, 1))))
        return self.conv5(torch.cat(feats, 1)) * 0.2 + x


class RRDB(nn.Module):
    """Residual-in-residual dense block: three dense blocks, outer residual scaled by 0.2."""

    def __init__(self, num_feat=64, num_grow_ch=32):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x):
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x
