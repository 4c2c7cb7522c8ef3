"""Channel counts: images are read as RGB; a network with ``num_in_ch: 1`` / ``num_out_ch: 1`` (BasicSR's keys)
sees grey ones, and metrics and pictures see its grey output as RGB again.

A grey image read as RGB has three equal channels, so it becomes one channel exactly; a colour image given to
a one-channel network becomes its ITU-R BT.601 luma (0.299 R + 0.587 G + 0.114 B, what OpenCV's and Pillow's
grey conversions compute), and whoever converts it says so once.
"""
import warnings

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

LUMA = (0.299, 0.587, 0.114)


def is_grey(img):
    """Whether an HxWx3 array (or Cx.. tensor of 3 channels first) holds equal channels."""
    if isinstance(img, torch.Tensor):
        return bool(torch.equal(img[0], img[1]) and torch.equal(img[1], img[2]))
    return bool(np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2]))


def to_grey(img):
    """RGB -> one channel: HxWx3 array -> HxWx1, or 3xHxW tensor -> 1xHxW; (image, was it colour)."""
    if isinstance(img, torch.Tensor):
        if is_grey(img):
            return img[:1].clone(), False
        weights = torch.tensor(LUMA, dtype=img.dtype, device=img.device).view(3, 1, 1)
        return (img * weights).sum(0, keepdim=True), True
    if is_grey(img):
        return np.ascontiguousarray(img[..., :1]), False
    return (img @ np.asarray(LUMA, dtype=img.dtype))[..., None].astype(img.dtype), True


def as_rgb(img):
    """HxWx1 (or HxW) arrays -> HxWx3 with equal channels; HxWx3 unchanged (metrics and pictures take RGB)."""
    img = np.asarray(img)
    if img.ndim == 2:
        img = img[..., None]
    return np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img


def rgb_view(x):
    """An N x C x H x W batch as RGB: one channel repeated three times (no copy), three unchanged; for loss
    networks and colour spaces defined on RGB."""
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def input_channels(net):
    """The channels ``net`` takes: its ``num_in_ch`` when it says (a network that unshuffles its input first),
    else those of its first convolution (every SR network starts with one), else 3."""
    if isinstance(getattr(net, "num_in_ch", None), int):
        return net.num_in_ch
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            return module.in_channels
    return 3


class GreyItems(Dataset):
    """A dataset's items with ``lq`` of ``in_channels`` and ``gt`` of ``out_channels`` (1 or 3) channels; other
    keys pass through. The first colour image made grey is reported with one warning naming the dataset."""

    def __init__(self, dataset, in_channels, out_channels, label):
        self.dataset, self.channels, self.label = dataset, {"lq": in_channels, "gt": out_channels}, label
        self.warned = False

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, key):
        item = dict(self.dataset[key])
        for role, count in self.channels.items():
            if count == 1 and role in item:
                item[role], colour = to_grey(item[role])
                if colour and not self.warned:
                    self.warned = True
                    warnings.warn(f"{self.label}: colour images are made grey (BT.601 luma) for the 1-channel "
                                  f"network, e.g. {item.get(f'{role}_path', 'an image')}", UserWarning, stacklevel=2)
        return item
