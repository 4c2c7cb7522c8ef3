"""Upscale whole images with a trained generator, optionally tile by tile so memory stays bounded.

Tiling: the image stays on the CPU; each tile is cut out *with* ``tile_pad`` pixels of context on every side
(clamped at the image edges), only that piece goes to the device, and only the un-padded centre of its output is
written into the CPU output. When ``tile_pad`` covers the network's (effective) receptive field the result
equals the untiled one (the image edges see the same zero padding either way), so there are no seams.
Real-ESRGAN's ``RealESRGANer`` moves the whole image to the device first, which runs out of memory on big
inputs; we don't.

How much context is enough depends on the network: Real-ESRGAN's default of 10 is exact for small
generators, but deep trained ones see much further, so our default is 80. Measured on RealESRGAN_x4plus (RRDBNet,
23 blocks), the max difference to the untiled output of an interior tile is 0.26 at pad 8, 0.05 at 32, ~3.7/255 at 48,
~1.6/255 at 64 and ~0.25/255 at 72, hence the default of 80 for the 1/255 guarantee.

Alpha: upscaled separately, through the model (replicated to three channels, output averaged), as
Real-ESRGAN's default does: this keeps cut-out edges as sharp as the colour. A constant alpha (fully opaque
images saved with an alpha channel) is simply filled, so it stays exactly constant.
"""
import cv2
import numpy as np
import torch

from srgan_kit.archs.input_sizes import ANY_SIZE
from srgan_kit.data.channels import input_channels, to_grey
from srgan_kit.device import resolve_device, resolve_precision
from srgan_kit.errors import UserError

DEFAULT_TILE_PAD = 80  # context pixels per tile side: enough for RealESRGAN_x4plus (see the docstring)


def _round_up(value, multiple):
    return -(-value // multiple) * multiple


def size_rule(net):
    """The input sizes a generator takes (its ``size_rule``; any size for networks without one)."""
    return getattr(net, "size_rule", ANY_SIZE)


def pad_to_rule(x, rule):
    """NCHW ``x`` padded at the bottom and right to sides ``rule`` accepts: by reflection like Real-ESRGAN, by
    replication where the image is too small to reflect. The caller crops the output back."""
    h, w = x.shape[-2:]
    ph, pw = rule.padded(h) - h, rule.padded(w) - w
    if ph or pw:
        x = torch.nn.functional.pad(x, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "replicate")
    return x


def forward_padded(net, x):
    """``net(x)`` for any input size: padded to the network's size rule, the output cropped to ``scale`` x x."""
    h, w = x.shape[-2:]
    return net(pad_to_rule(x, size_rule(net)))[..., : h * net.scale, : w * net.scale]


class AnySize(torch.nn.Module):
    """A generator that takes any input size (forward_padded), as one module: what ONNX export traces."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.scale = net.scale

    def forward(self, x):
        return forward_padded(self.net, x)


def resize_image(img, height, width):
    """Resize HxW or HxWxC float image to (height, width): Lanczos when enlarging, area when shrinking."""
    if img.shape[:2] == (height, width):
        return img
    shrink = height < img.shape[0] or width < img.shape[1]
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LANCZOS4
    out = cv2.resize(img, (width, height), interpolation=interp)
    return np.clip(out, 0.0, 1.0)  # Lanczos overshoots a little at edges


class Upscaler:
    """Run ``net`` (an SR generator with integer ``scale``) over float RGB images in [0, 1].

    tile: tile side in input pixels (0 = whole image at once). tile_pad: context pixels around each tile.
    tile_batch: tiles of one shape run together, this many at a time. device: where the network runs (the
    image itself stays on the CPU when tiling). precision: 'fp32', 'bf16', 'fp16' (CUDA only) or 'auto' (bf16
    where the hardware runs it natively); half=True is 'fp16'. channels_last: the faster memory format for
    convolutions on recent CPUs and GPUs.
    """

    def __init__(self, net, scale, tile=0, tile_pad=DEFAULT_TILE_PAD, device="cpu", half=False, precision="fp32",
                 channels_last=False, tile_batch=1):
        self.device = resolve_device(device)
        self.amp_dtype = resolve_precision("fp16" if half else precision, self.device, where="--precision")
        if tile < 0 or tile_pad < 0 or tile_batch < 1:
            raise UserError(f"tile ({tile}) and tile_pad ({tile_pad}) must be >= 0, tile_batch ({tile_batch}) >= 1")
        self.scale = int(scale)
        self.rule = size_rule(net)
        # Tile edges fall on multiples of the network's input granularity, and tiles are at least its minimum.
        self.tile = self.rule.padded(int(tile)) if tile else 0
        self.tile_pad = _round_up(int(tile_pad), self.rule.multiple_of)
        self.tile_batch = int(tile_batch)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.net = net.eval().to(device=self.device, memory_format=self.memory_format)
        self.in_channels = input_channels(net)
        self.made_grey = []  # colour inputs a grey network was given as their luma (the caller says so once)

    # ---- public API -------------------------------------------------------------------------------------------
    def upscale(self, rgb, name=None):
        """HxWx3 float image in [0, 1] -> (H*scale)x(W*scale)xC float32 in [0, 1] (numpy, on the CPU), C the
        network's output channels. A grey network (one input channel) gets the image's luma; a colour image made
        grey is listed in ``made_grey`` (as ``name``)."""
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"upscale expects an HxWx3 RGB image, got shape {rgb.shape}")
        if self.in_channels == 1:
            rgb, colour = to_grey(rgb)
            if colour:
                self.made_grey.append(name or "an image")
        x = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32).transpose(2, 0, 1))[None]
        out = self._run(x)
        return out[0].permute(1, 2, 0).numpy()

    def upscale_alpha(self, alpha):
        """HxW alpha in [0, 1] -> (H*scale)x(W*scale) float32, through the model (see module docstring)."""
        alpha = np.asarray(alpha, dtype=np.float32)
        h, w = alpha.shape
        if alpha.min() == alpha.max():
            return np.full((h * self.scale, w * self.scale), alpha.flat[0], dtype=np.float32)
        out = self.upscale(np.repeat(alpha[..., None], 3, axis=2))
        return out.mean(axis=2)

    def enhance(self, rgb, alpha=None, outscale=None, name=None):
        """Upscale colour (and alpha, if given), then resize to ``outscale`` x the input size if it differs.

        Returns ``(rgb, alpha_or_None)`` as float32 arrays in [0, 1] (a grey network's output: HxWx1 or HxW).
        """
        h, w = rgb.shape[:2]
        out = self.upscale(rgb, name)
        out_alpha = None if alpha is None else self.upscale_alpha(alpha)
        if outscale is not None and float(outscale) != self.scale:
            if outscale <= 0:
                raise UserError(f"outscale must be > 0, got {outscale}")
            size = (max(1, round(h * outscale)), max(1, round(w * outscale)))
            out = resize_image(out, *size)
            out_alpha = None if out_alpha is None else resize_image(out_alpha, *size)
        return out, out_alpha

    # ---- internals --------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def _forward(self, x):
        """CPU pieces (N, 3, h, w) -> device -> network (under autocast when not fp32) -> CPU float32 output."""
        h, w = x.shape[-2:]
        x = pad_to_rule(x, self.rule)  # a tile at the image's edge may be smaller than the network's minimum
        try:
            x = x.to(device=self.device, memory_format=self.memory_format)
            if self.amp_dtype is None:
                y = self.net(x)
            else:
                with torch.autocast(self.device.type, dtype=self.amp_dtype):
                    y = self.net(x)
        except torch.cuda.OutOfMemoryError as exc:
            raise UserError(f"out of GPU memory on a {x.shape[-2]}x{x.shape[-1]} input: use a smaller --tile") from exc
        want = (x.shape[-2] * self.scale, x.shape[-1] * self.scale)
        if tuple(y.shape[-2:]) != want:
            raise ValueError(f"network output {tuple(y.shape[-2:])} for input {tuple(x.shape[-2:])} is not "
                             f"x{self.scale}")
        return y[..., : h * self.scale, : w * self.scale].float().clamp_(0, 1).cpu()

    def _run(self, x):
        """x: (1, 3, H, W) CPU tensor -> (1, 3, H*s, W*s) CPU tensor."""
        h, w = x.shape[-2:]
        x = pad_to_rule(x, self.rule)
        if self.tile and max(x.shape[-2:]) > self.tile:
            out = self._run_tiled(x)
        else:
            out = self._forward(x)
        return out[..., : h * self.scale, : w * self.scale]

    def _run_tiled(self, x):
        s, tile, pad = self.scale, self.tile, self.tile_pad
        _, _, h, w = x.shape
        out = None  # on the CPU (the device holds one batch), with the network's output channels
        groups = {}  # tiles whose padded pieces have one shape run as one batch
        for y0 in range(0, h, tile):
            for x0 in range(0, w, tile):
                y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
                # Context around the tile, clamped to the image.
                window = (max(y0 - pad, 0), max(x0 - pad, 0), min(y1 + pad, h), min(x1 + pad, w))
                shape = (window[2] - window[0], window[3] - window[1])
                groups.setdefault(shape, []).append(((y0, x0, y1, x1), window))
        for jobs in groups.values():
            for i in range(0, len(jobs), self.tile_batch):
                chunk = jobs[i : i + self.tile_batch]
                pieces = self._forward(torch.cat([x[..., py0:py1, px0:px1] for _t, (py0, px0, py1, px1) in chunk]))
                if out is None:
                    out = torch.empty((1, pieces.shape[1], h * s, w * s), dtype=torch.float32)
                for piece, ((y0, x0, y1, x1), (py0, px0, _py1, _px1)) in zip(pieces, chunk):
                    # Keep only the part of the output that belongs to the tile itself.
                    oy, ox = (y0 - py0) * s, (x0 - px0) * s
                    out[0, :, y0 * s : y1 * s, x0 * s : x1 * s] = piece[:, oy : oy + (y1 - y0) * s,
                                                                        ox : ox + (x1 - x0) * s]
        return out
