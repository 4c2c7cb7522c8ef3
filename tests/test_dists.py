"""DISTS (srgan_kit.archs.dists): the reference package's numbers on Set5, the loss term and the metric, and what
happens without torchvision's VGG16 file (never a download).

This machine has no ImageNet VGG16 file: a VGG16 trunk with random (seeded, torchvision-initialised) weights is
written where torchvision's cache keeps the real one, and the reference DISTS_pytorch.DISTS is given the same
trunk and its own shipped alpha / beta, so both sides compute DISTS with identical weights.
"""
import contextlib
import importlib.util
import types

import cv2
import numpy as np
import pytest
import torch
from torch import nn
from torchvision.models import vgg as tv_vgg

from conftest import write_photos
from srgan_kit.archs.dists import DISTS, build_dists, dists_weights_file
from srgan_kit.cli.train import main as train_main
from srgan_kit.errors import ArgumentError, OptionError, WeightsError
from srgan_kit.eval import metrics
from srgan_kit.eval.conventions import Scorer, format_value
from srgan_kit.losses.dists import DISTSLoss
from srgan_kit.registry import LOSSES

VGG16_FILE = "vgg16-397923af.pth"
SET5 = ("baby", "bird", "butterfly", "head", "woman")


def set5_pairs(shared_dir, size):
    """Set5 x4 HR and its bicubic down-up version (the LR upscaled by cv2's bicubic), centre crops of
    ``size`` x ``size``: two uint8 RGB arrays (5, size, size, 3)."""
    hrs, ups = [], []
    for name in SET5:
        hr = cv2.imread(str(shared_dir / "data/Set5/X4/HR" / f"{name}.png"))[..., ::-1]
        lr = cv2.imread(str(shared_dir / "data/Set5/X4/LR" / f"{name}x4.png"))[..., ::-1]
        up = cv2.resize(lr, (hr.shape[1], hr.shape[0]), interpolation=cv2.INTER_CUBIC)
        top, left = (hr.shape[0] - size) // 2, (hr.shape[1] - size) // 2
        hrs.append(hr[top:top + size, left:left + size])
        ups.append(up[top:top + size, left:left + size])
    return np.ascontiguousarray(np.stack(hrs)), np.ascontiguousarray(np.stack(ups))


def as_batch(images):
    return torch.from_numpy(images.transpose(0, 3, 1, 2).astype(np.float32) / 255.0)


def random_vgg16_features(seed=0):
    """torchvision's VGG16 feature layers, initialised as torchvision initialises them (no classifier built)."""
    g = torch.Generator().manual_seed(seed)
    layers = tv_vgg.make_layers(tv_vgg.cfgs["D"])
    for module in layers:
        if isinstance(module, nn.Conv2d):
            fan_out = module.out_channels * module.kernel_size[0] * module.kernel_size[1]
            with torch.no_grad():
                module.weight.normal_(0, (2.0 / fan_out) ** 0.5, generator=g)
                module.bias.zero_()
    return layers


@pytest.fixture(scope="module")
def vgg16_state():
    """A torchvision-layout VGG16 state dict ('features.<i>.*') with random weights."""
    return {f"features.{k}": v for k, v in random_vgg16_features().state_dict().items()}


@pytest.fixture(scope="module")
def vgg16_home(tmp_path_factory, vgg16_state):
    """A TORCH_HOME whose torchvision cache holds the random VGG16 file (one per module: the metric's cached
    scorer, keyed by the file, is built once)."""
    home = tmp_path_factory.mktemp("vgg16_home")
    path = home / "hub" / "checkpoints" / VGG16_FILE
    path.parent.mkdir(parents=True)
    torch.save(vgg16_state, path)
    return home


@pytest.fixture
def vgg16_cache(monkeypatch, no_download, vgg16_home):
    """The random VGG16 file where torchvision's cache keeps the ImageNet one."""
    monkeypatch.setenv("TORCH_HOME", str(vgg16_home))
    return vgg16_home / "hub" / "checkpoints" / VGG16_FILE


@pytest.fixture(scope="module")
def reference(vgg16_state):
    """DISTS_pytorch's own DISTS with the same VGG16 trunk and the alpha / beta file it ships."""
    ref = pytest.importorskip("DISTS_pytorch.DISTS_pt")
    features = tv_vgg.make_layers(tv_vgg.cfgs["D"])  # in-place ReLUs, as torchvision's vgg16().features
    features.load_state_dict({k[len("features."):]: v for k, v in vgg16_state.items()})

    def vgg16(**kwargs):
        return types.SimpleNamespace(features=features)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ref, "models", types.SimpleNamespace(vgg16=vgg16))
        # The class reads os.path.join(sys.prefix, 'weights.pt'): point it at the package's own copy.
        patch.setattr(ref.sys, "prefix", str(dists_weights_file().parent))
        return ref.DISTS().eval()


def test_dists_equals_the_reference_package_per_image_on_set5(shared_dir, vgg16_cache, reference):
    hr, up = set5_pairs(shared_dir, 96)
    with torch.no_grad():
        want = reference(as_batch(up), as_batch(hr)).double()
    got = metrics.dists_distance(as_batch(up), as_batch(hr))
    assert got.shape == (5,) and bool((got > 0).all())
    torch.testing.assert_close(got, want, rtol=1e-4, atol=5e-7)
    # The registered metric on uint8 [0, 255] images (what validation hands over): the same per-image number.
    assert metrics.calculate_dists(up[1], hr[1]) == pytest.approx(float(want[1]), rel=1e-4, abs=1e-6)
    assert metrics.calculate_dists(hr[1, :32, :32], hr[1, :32, :32]) == 0.0


def test_trunk_reads_vgg16_like_the_perceptual_loss_and_swaps_the_pools(vgg16_cache, vgg16_state):
    net = build_dists()
    state = vgg16_state
    trunk = net.trunk.body
    assert len(trunk) == 30 and [i for i, m in enumerate(trunk) if type(m).__name__ == "L2Pool"] == [4, 9, 16, 23]
    for i in (0, 14, 28):
        torch.testing.assert_close(trunk[i].weight, state[f"features.{i}.weight"], rtol=0, atol=0)
    shipped = torch.load(dists_weights_file(), map_location="cpu", weights_only=True)
    torch.testing.assert_close(net.alpha, shipped["alpha"], rtol=0, atol=0)
    assert not any(p.requires_grad for p in net.parameters()) and not net.train().training
    # An explicit path is used instead of the cache; a missing one names the key.
    assert isinstance(build_dists(pretrained_path=vgg16_cache), DISTS)
    with pytest.raises(ArgumentError, match=r"nowhere\.pth: weights file not found") as err:
        build_dists(pretrained_path=vgg16_cache.parent / "nowhere.pth")
    assert err.value.argument == "pretrained_path"


def test_loss_is_weighted_mean_zero_on_identical_images_and_has_gradients(vgg16_cache, reference):
    g = torch.Generator().manual_seed(1)
    gt = torch.rand(2, 3, 48, 48, generator=g)
    sr = (gt + 0.1 * torch.randn(gt.shape, generator=g)).clamp(0, 1).requires_grad_(True)
    loss = LOSSES.build({"type": "distsloss", "loss_weight": 0.5})
    assert isinstance(loss, DISTSLoss) and LOSSES.get("DISTSLoss") is DISTSLoss
    value = loss(sr, gt)
    with torch.no_grad():
        want = 0.5 * reference(sr, gt).mean()
    assert value.item() == pytest.approx(want.item(), rel=1e-4)
    value.backward()
    assert sr.grad is not None and torch.isfinite(sr.grad).all() and sr.grad.abs().sum() > 0
    assert loss(gt, gt).item() == pytest.approx(0, abs=1e-6)

    # The term the training step sums: 'dists' (logged l_dists), on the 'perceptual' target, inside the step's
    # autocast context, in fp32.
    entered, roles = [], []

    @contextlib.contextmanager
    def autocast():
        entered.append(True)
        yield

    view = types.SimpleNamespace(sr=sr.detach(), target=lambda role: roles.append(role) or gt, autocast=autocast)
    terms = loss.generator_terms(view)
    assert list(terms) == ["dists"] and terms["dists"].dtype == torch.float32
    assert terms["dists"].item() == pytest.approx(value.item()) and entered and roles == ["perceptual"]


def test_missing_vgg16_is_one_line_naming_the_file_and_the_metric_is_na(empty_torch_home):
    expected = empty_torch_home / "hub" / "checkpoints" / VGG16_FILE
    with pytest.raises(WeightsError) as err:
        DISTSLoss()
    msg = str(err.value)
    assert str(expected) in msg and f"https://download.pytorch.org/models/{VGG16_FILE}" in msg
    assert "pretrained_path" in msg and "\n" not in msg

    reason = metrics.metric_unavailable_reason("dists")
    assert str(expected) in reason and "\n" not in reason
    img = np.full((24, 24, 3), 128, np.uint8)
    with pytest.raises(metrics.MetricUnavailable, match="dists unavailable"):
        metrics.calculate_dists(img, img)
    # Scoring goes on without it: dists is n/a, the other metrics are computed.
    scorer = Scorer("psnr,dists", scale=4)
    assert scorer.unavailable == {"dists": reason}
    row = scorer.score(img / 255.0, img / 255.0, "gt.png", "sr")
    assert row["dists"] is None and row["psnr"] == float("inf") and format_value("dists", row["dists"]) == "n/a"


def test_an_option_file_without_vgg16_stops_in_one_line_before_anything_is_written(tmp_path, monkeypatch, capsys,
                                                                                   empty_torch_home):
    monkeypatch.chdir(tmp_path)
    write_photos(tmp_path / "data" / "gt", 2, 64, 64, block=4)
    (tmp_path / "o.yml").write_text("""\
name: dists
model_type: sr
scale: 4
num_gpu: 0
datasets:
  train: {name: t, type: GTOnlyDataset, dataroot_gt: data/gt, gt_size: 32, batch_size_per_gpu: 1,
          num_worker_per_gpu: 0}
network_g: {type: MSRResNet, num_feat: 8, num_block: 1, upscale: 4}
train:
  optim_g: {type: Adam, lr: 1.0e-4}
  total_iter: 1
  pixel_opt: {type: L1Loss, loss_weight: 1.0}
  losses: [{type: distsloss, loss_weight: 0.3}]
logger: {print_freq: 1, save_checkpoint_freq: 1, use_tb_logger: false}
""")
    assert train_main(["-opt", "o.yml", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: o.yml: ")
    assert str(empty_torch_home / "hub" / "checkpoints" / VGG16_FILE) in err
    assert not (tmp_path / "experiments").exists()

    with pytest.raises(OptionError, match=r"^train\.losses\.0\.pretrained_path: .*nowhere\.pth"):
        LOSSES.build({"type": "DISTSLoss", "pretrained_path": str(tmp_path / "nowhere.pth")}, where="train.losses.0")


def test_without_the_reference_package_its_weights_file_is_named(empty_torch_home, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "DISTS_pytorch" else real_find_spec(name, *a))
    with pytest.raises(WeightsError, match=r"DISTS alpha/beta weights not found: .*DISTS_pytorch/weights\.pt"):
        build_dists()
    assert dists_weights_file() is None
