"""Image quality metrics: PSNR and SSIM with BasicSR's conventions (the numbers SR papers report), MS-SSIM, the
learned perceptual distances LPIPS, ST-LPIPS and DISTS, and the no-reference NIQE.

Every registered metric is called the same way, ``fn(sr, gt, **options)``, with numpy RGB images in [0, 255]
(what the validation loop hands over). ``better`` on each registered function says which way is good.

- Y channel is MATLAB's ``rgb2ycbcr`` luma: Y = 16 + 65.481 R + 128.553 G + 24.966 B for RGB in [0, 1]
  (result in [16, 235] on the 0..255 scale).
- ``crop_border`` pixels are removed from every edge before measuring (usually the scale factor).
- SSIM uses an 11x11 Gaussian window (sigma 1.5) in "valid" mode, averaged over channels.

The work is done once, in torch, on batched NCHW tensors in [0, 1] (``psnr_torch`` / ``ssim_torch``, float64,
any device). ``calculate_psnr`` / ``calculate_ssim`` wrap them for numpy images in [0, 255] with BasicSR's
signature, except that 3-channel images are in **RGB** order (srgan_kit reads images as RGB; BasicSR's
numpy functions expect BGR).

MS-SSIM (``msssim``, higher is better) is pytorch-msssim's ``ms_ssim`` (five scales, 11x11 Gaussian window of
sigma 1.5, data range 1) on every RGB channel, averaged, in float64. It is a full-reference distortion metric like
PSNR / SSIM, so it takes ``crop_border`` like them (the scale, in srgan_kit.eval.conventions), but measures RGB, not
Y: MS-SSIM is defined on the image as seen. The smaller side must be at least 161 pixels after cropping.

LPIPS (``lpips`` package, AlexNet, v0.1) and ST-LPIPS (``stlpips_pytorch``, shift-tolerant AlexNet or VGG16)
measure whole images, RGB scaled from [0, 1] to [-1, 1]; lower is better. ``stlpips`` takes ``net`` ('alex',
the default, or 'vgg'); ``stlpips_alex`` is the AlexNet one by name, a judge independent of VGG-trained models.
``lpips_distance`` / ``stlpips_distance`` take float RGB in [0, 1] (numpy HxWx3 or torch NCHW) and keep one
network per (kind, device) in memory. Weights: ST-LPIPS uses only the files shipped inside stlpips-pytorch
(works offline); LPIPS' linear heads ship with lpips, but its AlexNet trunk is torchvision's ImageNet file,
read from torchvision's cache and never downloaded here. When it is absent the metric raises ``MetricUnavailable``;
``metric_unavailable_reason(name)`` asks beforehand without building anything.

DISTS (``dists``, lower is better) is srgan_kit.archs.dists' network, shared with ``DISTSLoss``, on the whole RGB
image in [0, 1] (one cached network per device). Its alpha / beta ship with DISTS_pytorch; its VGG16 trunk is
torchvision's ImageNet file from torchvision's cache, never downloaded: without it the metric is n/a
(``MetricUnavailable``), like LPIPS.

NIQE is BasicSR's (Y channel of MATLAB's YCbCr, ``crop_border``); it needs no reference image.
"""
import functools
import importlib
import importlib.util
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from srgan_kit.archs import dists as dists_net
from srgan_kit.archs.features import BACKBONES
from srgan_kit.archs.weights import load_into, load_state_dict_file
from srgan_kit.compat import import_basicsr
from srgan_kit.errors import UserError, WeightsError
from srgan_kit.losses.structural_options import msssim_sizes
from srgan_kit.registry import METRICS

# MATLAB rgb2ycbcr luma row, for RGB in [0, 1] -> Y in [0, 255].
_Y_WEIGHTS = (65.481, 128.553, 24.966)
_Y_OFFSET = 16.0

_SSIM_WINDOW = 11
_SSIM_SIGMA = 1.5


def rgb2y(img):
    """MATLAB Y of an RGB tensor ``(N, 3, H, W)`` in [0, 1] -> ``(N, 1, H, W)`` in [0, 1] (no rounding)."""
    if img.ndim != 4 or img.shape[1] != 3:
        raise ValueError(f"rgb2y expects an (N, 3, H, W) tensor, got shape {tuple(img.shape)}")
    w = torch.tensor(_Y_WEIGHTS, dtype=img.dtype, device=img.device).view(1, 3, 1, 1)
    return ((img * w).sum(dim=1, keepdim=True) + _Y_OFFSET) / 255.0


def _prepare(img, img2, crop_border, test_y_channel):
    """Shared front end: check shapes, crop borders, optionally take Y; returns float64 tensors."""
    if img.shape != img2.shape:
        raise ValueError(f"image shapes differ: {tuple(img.shape)} vs {tuple(img2.shape)}")
    if img.ndim != 4:
        raise ValueError(f"expected (N, C, H, W) tensors, got shape {tuple(img.shape)}")
    if crop_border:
        c = int(crop_border)
        if min(img.shape[-2:]) <= 2 * c:
            raise ValueError(f"crop_border={c} leaves nothing of a {img.shape[-2]}x{img.shape[-1]} image")
        img = img[..., c:-c, c:-c]
        img2 = img2[..., c:-c, c:-c]
    img = img.to(torch.float64)
    img2 = img2.to(torch.float64)
    # Like BasicSR, only 3-channel images are converted; single-channel ones are already "Y".
    if test_y_channel and img.shape[1] == 3:
        img, img2 = rgb2y(img), rgb2y(img2)
    return img, img2


def psnr_torch(img, img2, crop_border=0, test_y_channel=False):
    """PSNR in dB per image of ``(N, C, H, W)`` tensors in [0, 1] -> float64 tensor ``(N,)``.

    Identical images give ``inf`` (no epsilon, unlike BasicSR's torch version, so it agrees with its numpy one).
    """
    img, img2 = _prepare(img, img2, crop_border, test_y_channel)
    mse = ((img - img2) ** 2).mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(1.0 / mse)  # mse == 0 -> +inf, which is the right answer


def _gaussian_kernel_1d(dtype, device):
    # Same numbers as cv2.getGaussianKernel(11, 1.5): exp(-(x - 5)^2 / (2 sigma^2)), normalised.
    x = torch.arange(_SSIM_WINDOW, dtype=torch.float64) - (_SSIM_WINDOW - 1) / 2
    g = torch.exp(-(x**2) / (2 * _SSIM_SIGMA**2))
    return (g / g.sum()).to(dtype=dtype, device=device)


def _gaussian_blur_valid(x):
    """'Valid' 11x11 Gaussian filtering per channel, as two 1-D passes (the 2-D window is their outer
    product): 22 taps per pixel instead of 121, the same numbers up to float64 rounding."""
    channels = x.shape[1]
    g = _gaussian_kernel_1d(x.dtype, x.device)
    x = F.conv2d(x, g.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)
    return F.conv2d(x, g.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)


def ssim_torch(img, img2, crop_border=0, test_y_channel=False):
    """SSIM per image of ``(N, C, H, W)`` tensors in [0, 1] -> float64 tensor ``(N,)`` (mean over channels)."""
    img, img2 = _prepare(img, img2, crop_border, test_y_channel)
    h, w = img.shape[-2:]
    if min(h, w) < _SSIM_WINDOW:
        raise ValueError(f"SSIM needs images of at least {_SSIM_WINDOW}x{_SSIM_WINDOW} after cropping, got {h}x{w}")
    c1 = 0.01**2  # constants for data range 1 (BasicSR uses (0.01*255)^2 on the 0..255 scale: same SSIM)
    c2 = 0.03**2
    # The five local moments in one filtering call (stacked along the channel axis).
    mu1, mu2, e11, e22, e12 = _gaussian_blur_valid(
        torch.cat([img, img2, img * img, img2 * img2, img * img2], dim=1)).chunk(5, dim=1)
    mu1_sq, mu2_sq, mu1_mu2 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    sigma1_sq, sigma2_sq, sigma12 = e11 - mu1_sq, e22 - mu2_sq, e12 - mu1_mu2
    ssim_map = ((2 * mu1_mu2 + c1) * (2 * sigma12 + c2)) / ((mu1_sq + mu2_sq + c1) * (sigma1_sq + sigma2_sq + c2))
    return ssim_map.mean(dim=(1, 2, 3))


def _numpy_to_nchw(img, input_order):
    """HWC / CHW / HW numpy image in [0, 255] -> float64 tensor (1, C, H, W) in [0, 1]."""
    if input_order not in ("HWC", "CHW"):
        raise ValueError(f"input_order must be 'HWC' or 'CHW', got {input_order!r}")
    arr = np.asarray(img)
    if arr.ndim == 2:  # grayscale: one channel, whatever input_order says (as BasicSR)
        arr = arr[None]
    elif input_order == "HWC":
        arr = arr.transpose(2, 0, 1)
    if arr.ndim != 3:
        raise ValueError(f"expected an HxW or 3-dimensional image, got shape {np.asarray(img).shape}")
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float64))[None] / 255.0


def _numpy_pair(img, img2, input_order):
    """Two numpy images of one shape in [0, 255] -> two float64 tensors (1, C, H, W) in [0, 1]."""
    if np.shape(img) != np.shape(img2):
        raise ValueError(f"image shapes differ: {np.shape(img)} vs {np.shape(img2)}")
    return _numpy_to_nchw(img, input_order), _numpy_to_nchw(img2, input_order)


def _better(direction):
    """Tag a registered metric with the direction that is good ('higher' or 'lower')."""
    def deco(fn):
        fn.better = direction
        return fn
    return deco


@METRICS.register(aliases=("psnr",))
@_better("higher")
def calculate_psnr(img, img2, crop_border, input_order="HWC", test_y_channel=False):
    """PSNR (dB) of two numpy images in [0, 255] (uint8 or float), RGB order; ``inf`` when identical."""
    a, b = _numpy_pair(img, img2, input_order)
    return float(psnr_torch(a, b, crop_border, test_y_channel)[0])


@METRICS.register(aliases=("ssim",))
@_better("higher")
def calculate_ssim(img, img2, crop_border, input_order="HWC", test_y_channel=False):
    """SSIM of two numpy images in [0, 255] (uint8 or float), RGB order, mean over channels."""
    a, b = _numpy_pair(img, img2, input_order)
    return float(ssim_torch(a, b, crop_border, test_y_channel)[0])


_MSSSIM_MIN = msssim_sizes({}).minimum  # 161: four halvings, still an 11x11 window at the coarsest scale


def msssim_torch(img, img2, crop_border=0):
    """MS-SSIM per image of ``(N, C, H, W)`` tensors in [0, 1] -> float64 tensor ``(N,)`` (mean over channels).

    pytorch-msssim's ``ms_ssim`` (Wang et al. 2003: five scales, 11x11 Gaussian window of sigma 1.5, data range
    1), in float64; images whose smaller side is under 161 pixels (after cropping) are a ValueError."""
    img, img2 = _prepare(img, img2, crop_border, False)
    h, w = img.shape[-2:]
    if min(h, w) < _MSSSIM_MIN:
        raise ValueError(f"MS-SSIM needs images of at least {_MSSSIM_MIN}x{_MSSSIM_MIN} pixels after cropping "
                         f"(five scales of an 11x11 window), got {h}x{w}")
    from pytorch_msssim import ms_ssim

    return ms_ssim(img, img2, data_range=1.0, size_average=False)  # (N,): the mean over channels


@METRICS.register(aliases=("msssim",))
@_better("higher")
def calculate_msssim(img, img2, crop_border, input_order="HWC"):
    """MS-SSIM of two numpy images in [0, 255] (uint8 or float), on every channel (RGB), mean over channels."""
    a, b = _numpy_pair(img, img2, input_order)
    return float(msssim_torch(a, b, crop_border)[0])


# ---- metrics that may be unavailable -------------------------------------------------------------------------


class MetricUnavailable(UserError):
    """A metric that cannot be computed on this machine (weights or package missing); the reason is one line.
    Scoring (srgan_kit.eval.conventions) reports it as n/a and goes on with the other metrics."""

    def __init__(self, metric, reason):
        self.metric, self.reason = metric, reason
        super().__init__(f"{metric} unavailable: {reason}")


# ---- LPIPS and ST-LPIPS ------------------------------------------------------------------------------------


def _as_batch(img, what):
    """numpy HxWx3 / torch (N,)3xHxW RGB in [0, 1] -> float32 NCHW tensor."""
    if isinstance(img, torch.Tensor):
        t = img if img.ndim == 4 else img.unsqueeze(0)
    else:
        arr = np.asarray(img)
        if arr.ndim != 3:
            raise ValueError(f"{what}: expected an HxWx3 RGB image, got shape {arr.shape}")
        t = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None]
    if t.ndim != 4 or t.shape[1] != 3:
        raise ValueError(f"{what}: expected RGB images (N, 3, H, W) or HxWx3, got shape {tuple(img.shape)}")
    t = t.float()
    if t.numel() and float(t.max()) > 1.0 + 1e-3:  # the usual slip: a [0, 255] image
        raise ValueError(f"{what}: expected values in [0, 1], got a maximum of {float(t.max()):g} "
                         "(numpy images in [0, 255] go to the calculate_* functions)")
    return t


class LPIPSScorer:
    """A frozen LPIPS-style network: ``scorer(sr, gt)`` -> distance per image (lower = more alike).

    Inputs are RGB in [0, 1]: numpy HxWx3 (-> float) or torch NCHW (-> float64 tensor (N,), on the CPU).
    They are scaled to [-1, 1] (what LPIPS' ScalingLayer expects; ``signed=False``: kept in [0, 1], DISTS) and
    moved to the scorer's device.
    """

    def __init__(self, name, model, device="cpu", signed=True):
        self.name = name
        self.device = torch.device(device)
        self.signed = signed
        self.model = model.eval().requires_grad_(False).to(self.device)

    @torch.no_grad()
    def __call__(self, sr, gt):
        a, b = _as_batch(sr, self.name), _as_batch(gt, self.name)
        if a.shape != b.shape:
            raise ValueError(f"{self.name}: image shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
        a, b = a.to(self.device), b.to(self.device)
        try:
            d = self.model(2 * a - 1, 2 * b - 1) if self.signed else self.model(a, b)
        except RuntimeError as exc:  # e.g. an image smaller than the network's receptive field
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValueError(f"{self.name}: cannot score {a.shape[-2]}x{a.shape[-1]} images ({first})") from None
        d = d.reshape(d.shape[0]).double().cpu()
        return float(d[0]) if not isinstance(sr, torch.Tensor) else d


STLPIPS_NETS = ("alex", "vgg")


def stlpips_weights_file(net="alex"):
    """The ST-LPIPS weights shipped in stlpips-pytorch (trunk, linear heads, scaling) for ``net``."""
    spec = importlib.util.find_spec("stlpips_pytorch")
    if spec is None:
        raise MetricUnavailable("stlpips", "the stlpips-pytorch package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "weights" / "vST0.0" / f"{net}_shift_tolerant.pth"


@functools.lru_cache(maxsize=None)
def _stlpips_scorer(net, device):
    reason = stlpips_unavailable_reason(net)
    if reason:
        raise MetricUnavailable("stlpips", reason)
    path = stlpips_weights_file(net)
    package = importlib.import_module("stlpips_pytorch.stlpips")  # lazily: it imports IPython (seconds)
    # pretrained=False: build the shift-tolerant network only (it never asks torchvision for weights);
    # we load the shipped file ourselves, strictly.
    model = package.LPIPS(pretrained=False, net=net, variant="shift_tolerant", verbose=False)
    # 'lins.<k>' is the same module as 'lin<k>' registered twice; the file names it 'lin<k>'.
    load_into(model, load_state_dict_file(path), str(path), keep=("lins.",))
    return LPIPSScorer(f"stlpips ({net})", model, device)


def stlpips_unavailable_reason(net="alex"):
    """None when ST-LPIPS can be computed here (package and its shipped weights present), else why not."""
    if importlib.util.find_spec("stlpips_pytorch") is None:
        return "the stlpips-pytorch package is not installed (pip install stlpips-pytorch)"
    path = stlpips_weights_file(net)
    return None if path.is_file() else f"shipped weights not found: {path} (reinstall stlpips-pytorch)"


def get_stlpips(net="alex", device="cpu"):
    """The cached ST-LPIPS scorer for ``net`` ('alex' or 'vgg') on ``device``."""
    if net not in STLPIPS_NETS:
        raise ValueError(f"stlpips: net must be one of {', '.join(STLPIPS_NETS)}, got {net!r}")
    return _stlpips_scorer(net, str(torch.device(device)))


def _default_device(img, device):
    if device is not None:
        return device
    return img.device if isinstance(img, torch.Tensor) else "cpu"


def stlpips_distance(sr, gt, net="alex", device=None):
    """Shift-tolerant LPIPS of RGB images in [0, 1]: float for numpy HxWx3, (N,) tensor for torch NCHW."""
    return get_stlpips(net, _default_device(sr, device))(sr, gt)


def lpips_trunk_file():
    """Where LPIPS' AlexNet trunk must be: torchvision's cache ($TORCH_HOME/hub/checkpoints/alexnet-owt-...)."""
    return BACKBONES.get("lpips").default_weights()


def lpips_unavailable_reason():
    """None when the lpips metric can be computed here, else the one-line reason (no download is tried)."""
    if importlib.util.find_spec("lpips") is None:
        return "the lpips package is not installed (pip install lpips)"
    path = lpips_trunk_file()
    if not path.is_file():
        return f"AlexNet weights not in torchvision's cache: {path} (no download attempted)"
    return None


@functools.lru_cache(maxsize=None)
def _lpips_scorer(trunk_path, stamp, device):
    del stamp  # part of the cache key only: a replaced file gets a new scorer
    package = importlib.import_module("lpips")  # lazily: a few seconds; presence checked by get_lpips
    with warnings.catch_warnings():  # lpips passes torchvision's deprecated 'pretrained=' argument
        warnings.simplefilter("ignore")
        # pnet_rand=True: a random AlexNet, so torchvision is never asked to download; pretrained=False: we
        # load the package's v0.1 heads ourselves, strictly, then the trunk from torchvision's cached file.
        model = package.LPIPS(pretrained=False, net="alex", version="0.1", pnet_rand=True, verbose=False)
    heads = Path(package.__file__).parent / "weights" / "v0.1" / "alex.pth"
    load_into(model, load_state_dict_file(heads), str(heads), keep=("lins.", "net.", "scaling_layer."))
    trunk = load_state_dict_file(trunk_path)
    # torchvision names the layers 'features.<i>.*'; lpips keeps the same indices inside 'slice<k>.<i>.*'.
    renamed = {}
    for key in model.net.state_dict():
        _, index, param = key.split(".")
        if f"features.{index}.{param}" in trunk:
            renamed[key] = trunk[f"features.{index}.{param}"]
    load_into(model.net, renamed, str(trunk_path))
    return LPIPSScorer("lpips (alex)", model, device)


def get_lpips(device="cpu"):
    """The cached LPIPS (AlexNet, v0.1) scorer on ``device``; MetricUnavailable when its trunk is missing."""
    reason = lpips_unavailable_reason()
    if reason:
        raise MetricUnavailable("lpips", reason)
    return _scorer_of_file("lpips", _lpips_scorer, lpips_trunk_file(), device)


def _scorer_of_file(metric, build, path, device):
    """``build(path, stamp, device)``, cached per file version (a replaced file gets a new scorer); a file that is
    not the network's loses only this metric."""
    stat = path.stat()
    try:
        return build(str(path), (stat.st_mtime_ns, stat.st_size), str(torch.device(device)))
    except WeightsError as exc:
        raise MetricUnavailable(metric, str(exc)) from None


def lpips_distance(sr, gt, device=None):
    """LPIPS (AlexNet, v0.1) of RGB images in [0, 1]: float for numpy HxWx3, (N,) tensor for torch NCHW."""
    return get_lpips(_default_device(sr, device))(sr, gt)


def _crop_pair(img, img2, crop_border, input_order, what):
    """Two numpy RGB images in [0, 255] -> two float32 HxWx3 arrays in [0, 1], borders cropped."""
    out = []
    for t in _numpy_pair(img, img2, input_order):
        t = t[0]
        if t.shape[0] != 3:
            raise ValueError(f"{what} needs RGB images, got {t.shape[0]} channel(s)")
        if crop_border:
            c = int(crop_border)
            if min(t.shape[-2:]) <= 2 * c:
                raise ValueError(f"crop_border={c} leaves nothing of a {t.shape[-2]}x{t.shape[-1]} image")
            t = t[:, c:-c, c:-c]
        out.append(t.permute(1, 2, 0).float().numpy())
    return out


@METRICS.register(aliases=("stlpips",))
@_better("lower")
def calculate_stlpips(img, img2, crop_border=0, input_order="HWC", net="alex"):
    """ST-LPIPS of two numpy RGB images in [0, 255] (uint8 or float); ``net`` 'alex' (default) or 'vgg'."""
    a, b = _crop_pair(img, img2, crop_border, input_order, "stlpips")
    return stlpips_distance(a, b, net=net)


@METRICS.register(aliases=("lpips",))
@_better("lower")
def calculate_lpips(img, img2, crop_border=0, input_order="HWC"):
    """LPIPS (AlexNet, v0.1) of two numpy RGB images in [0, 255]; MetricUnavailable without its weights."""
    scorer = get_lpips()  # before any image work: an unavailable metric says so first
    a, b = _crop_pair(img, img2, crop_border, input_order, "lpips")
    return scorer(a, b)


@METRICS.register(aliases=("stlpips_alex",))
@_better("lower")
def calculate_stlpips_alex(img, img2, crop_border=0, input_order="HWC"):
    """ST-LPIPS with the shift-tolerant AlexNet, named so: a metric independent of VGG-trained models."""
    return calculate_stlpips(img, img2, crop_border, input_order, net="alex")


# ---- DISTS -------------------------------------------------------------------------------------------------


def dists_unavailable_reason():
    """None when the dists metric can be computed here, else the one-line reason (no download is tried)."""
    path = dists_net.vgg16_weights_file()
    if not path.is_file():
        return f"VGG16 weights not in torchvision's cache: {path} (no download attempted)"
    return dists_net.unavailable_reason()  # DISTS' own alpha / beta file


@functools.lru_cache(maxsize=None)
def _dists_scorer(trunk_path, stamp, device):
    del stamp  # part of the cache key only: a replaced file gets a new scorer
    return LPIPSScorer("dists", dists_net.build_dists(trunk_path), device, signed=False)


def get_dists(device="cpu"):
    """The cached DISTS scorer on ``device``; MetricUnavailable when a weights file is missing or unreadable."""
    reason = dists_unavailable_reason()
    if reason:
        raise MetricUnavailable("dists", reason)
    return _scorer_of_file("dists", _dists_scorer, dists_net.vgg16_weights_file(), device)


def dists_distance(sr, gt, device=None):
    """DISTS of RGB images in [0, 1]: float for numpy HxWx3, (N,) float64 tensor for torch NCHW."""
    return get_dists(_default_device(sr, device))(sr, gt)


@METRICS.register(aliases=("dists",))
@_better("lower")
def calculate_dists(img, img2, crop_border=0, input_order="HWC"):
    """DISTS of two numpy RGB images in [0, 255]; MetricUnavailable without torchvision's VGG16 file."""
    scorer = get_dists()  # before any image work: an unavailable metric says so first
    a, b = _crop_pair(img, img2, crop_border, input_order, "dists")
    return scorer(a, b)


calculate_stlpips.unavailable_reason = stlpips_unavailable_reason
calculate_stlpips_alex.unavailable_reason = functools.partial(stlpips_unavailable_reason, "alex")
calculate_lpips.unavailable_reason = lpips_unavailable_reason
calculate_dists.unavailable_reason = dists_unavailable_reason


def metric_unavailable_reason(name):
    """None when the registered metric ``name`` can be computed here, else a one-line reason.

    For checks before a long run (training validation, evaluation tables): nothing is built or downloaded.
    Metrics without an ``unavailable_reason`` hook are always available.
    """
    check = getattr(METRICS.get(name), "unavailable_reason", None)
    return check() if check else None


# ---- NIQE --------------------------------------------------------------------------------------------------

_NIQE_BLOCK = 96  # BasicSR's block size (no overlap)


@METRICS.register(aliases=("niqe",))
@_better("lower")
def calculate_niqe(img, img2=None, crop_border=0, input_order="HWC", convert_to="y"):
    """BasicSR's NIQE of a numpy image in [0, 255], **RGB** order ('HWC', 'CHW' or 'HW'); lower is better.

    No reference is used: ``img2`` is accepted (and ignored) so every metric is called as ``fn(sr, gt, ...)``.
    ``convert_to`` 'y' (MATLAB Y, the default) or 'gray'; BasicSR converts from BGR, so we flip RGB first.
    """
    if img2 is not None and not hasattr(img2, "shape"):
        raise TypeError("calculate_niqe(img, img2=None, crop_border=0, ...): pass crop_border by keyword")
    if input_order not in ("HWC", "CHW", "HW"):
        raise ValueError(f"input_order must be 'HWC', 'CHW' or 'HW', got {input_order!r}")
    if convert_to not in ("y", "gray"):
        raise ValueError(f"convert_to must be 'y' or 'gray', got {convert_to!r}")
    arr = np.asarray(img)
    if arr.ndim == 3:
        arr = arr.transpose(1, 2, 0) if input_order == "CHW" else arr
        if arr.shape[2] == 1:
            arr = arr[..., 0]
        elif arr.shape[2] == 3:
            arr = arr[..., ::-1]  # RGB -> BGR, BasicSR's order
        else:
            raise ValueError(f"niqe: expected 1 or 3 channels, got shape {np.shape(img)}")
    elif arr.ndim != 2:
        raise ValueError(f"niqe: expected an HxW or 3-dimensional image, got shape {np.shape(img)}")
    h, w = arr.shape[:2]
    c = int(crop_border)
    # NIQE fits a covariance over the image's blocks: one block (or none) gives no answer, only NaNs.
    if max(h - 2 * c, 0) // _NIQE_BLOCK * (max(w - 2 * c, 0) // _NIQE_BLOCK) < 2:
        raise ValueError(f"niqe needs at least two {_NIQE_BLOCK}x{_NIQE_BLOCK} blocks (e.g. {_NIQE_BLOCK}x"
                         f"{2 * _NIQE_BLOCK} pixels) after crop_border={c}, got a {h}x{w} image")
    niqe = import_basicsr("basicsr.metrics.niqe")
    order = "HWC" if arr.ndim == 3 else "HW"
    return float(niqe.calculate_niqe(np.ascontiguousarray(arr), c, input_order=order, convert_to=convert_to))
