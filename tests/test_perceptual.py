"""Perceptual / style loss and its frozen feature extractors, checked against hand-computed features.

A tiny VGG-like backbone ('tiny_vgg': conv(3->4), relu, pool, conv(4->6), relu) goes through the same code
path as torchvision's VGG19 (layer naming, torchvision-cache lookup, truncation, weight loading), so every
expected value can be computed here with F.conv2d by hand.
"""
import math
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from srgan_kit.archs.features import TorchvisionVGG, build_feature_extractor
from srgan_kit.errors import OptionError, WeightsError
from srgan_kit.losses.perceptual import PerceptualLoss, gram_matrix
from srgan_kit.registry import BACKBONES, LOSSES

TINY = "tiny_vgg"
TINY_FILE = "tinyvgg-0123abcd.pth"
if TINY not in BACKBONES:
    BACKBONES.register(TINY)(TorchvisionVGG("tiny test VGG", (4, "M", 6), TINY_FILE))

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

# BasicSR's basicsr.archs.vgg_arch.NAMES['vgg19'], written out.
BASICSR_VGG19_NAMES = [
    "conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1",
    "conv2_1", "relu2_1", "conv2_2", "relu2_2", "pool2",
    "conv3_1", "relu3_1", "conv3_2", "relu3_2", "conv3_3", "relu3_3", "conv3_4", "relu3_4", "pool3",
    "conv4_1", "relu4_1", "conv4_2", "relu4_2", "conv4_3", "relu4_3", "conv4_4", "relu4_4", "pool4",
    "conv5_1", "relu5_1", "conv5_2", "relu5_2", "conv5_3", "relu5_3", "conv5_4", "relu5_4", "pool5",
]


def tiny_state_dict(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {
        "features.0.weight": torch.randn(4, 3, 3, 3, generator=g) * 0.5,
        "features.0.bias": torch.randn(4, generator=g) * 0.5,
        "features.3.weight": torch.randn(6, 4, 3, 3, generator=g) * 0.5,
        "features.3.bias": torch.randn(6, generator=g) * 0.5,
        "classifier.0.weight": torch.randn(2, 2, generator=g),  # like torchvision files: ignored
    }


def hand_features(sd, x, use_input_norm=True):
    """The tiny VGG's layers, written out."""
    if use_input_norm:
        x = (x - MEAN) / STD
    conv1_1 = F.conv2d(x, sd["features.0.weight"], sd["features.0.bias"], padding=1)
    relu1_1 = torch.clamp(conv1_1, min=0)
    pool1 = F.max_pool2d(relu1_1, 2)
    conv2_1 = F.conv2d(pool1, sd["features.3.weight"], sd["features.3.bias"], padding=1)
    return {"conv1_1": conv1_1, "relu1_1": relu1_1, "pool1": pool1, "conv2_1": conv2_1,
            "relu2_1": torch.clamp(conv2_1, min=0)}


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """An empty torchvision cache: TORCH_HOME points at tmp (no real VGG weights visible)."""
    home = tmp_path / "torch_home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home


@pytest.fixture
def tiny_cache(torch_home):
    """The tiny backbone's weights placed in torchvision's cache under TORCH_HOME."""
    sd = tiny_state_dict()
    folder = torch_home / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save(sd, folder / TINY_FILE)
    return sd


def images(seed=1, shape=(2, 3, 8, 8)):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g), torch.rand(shape, generator=g)


def test_vgg19_layer_names_are_basicsrs():
    assert list(BACKBONES.get("vgg19").layer_names) == BASICSR_VGG19_NAMES


def test_layer_selection_and_weights_match_hand_computation(tiny_cache):
    loss = PerceptualLoss({"relu1_1": 0.5, "conv2_1": 2.0}, vgg_type=TINY, perceptual_weight=1.5)
    x, gt = images()
    percep, style = loss(x, gt)
    fx, fg = hand_features(tiny_cache, x), hand_features(tiny_cache, gt)
    expected = 1.5 * (0.5 * (fx["relu1_1"] - fg["relu1_1"]).abs().mean()
                      + 2.0 * (fx["conv2_1"] - fg["conv2_1"]).abs().mean())
    assert style is None
    torch.testing.assert_close(percep, expected, rtol=1e-5, atol=1e-6)
    # Truncated right after the deepest requested layer (conv2_1 is layer 3), and only those layers returned.
    assert len(loss.extractor.body) == 4
    assert set(loss.extractor(x)) == {"relu1_1", "conv2_1"}


def test_conv_names_are_before_relu_and_relu_names_after(tiny_cache):
    ex = build_feature_extractor(TINY, ["conv1_1", "relu1_1", "pool1"])
    x, _ = images()
    out = ex(x)
    ref = hand_features(tiny_cache, x)
    # The conv output must survive the following ReLU untouched (no in-place overwrite).
    assert out["conv1_1"].min() < 0
    for name in ("conv1_1", "relu1_1", "pool1"):
        torch.testing.assert_close(out[name], ref[name], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out["relu1_1"], out["conv1_1"].clamp(min=0))


def test_style_loss_matches_hand_gram(tiny_cache):
    weights = {"relu1_1": 0.3, "relu2_1": 1.0}
    loss = PerceptualLoss(weights, vgg_type=TINY, perceptual_weight=0.0, style_weight=2.0)
    x, gt = images(shape=(2, 3, 6, 10))
    percep, style = loss(x, gt)
    fx, fg = hand_features(tiny_cache, x), hand_features(tiny_cache, gt)

    def gram(f):
        n, c, h, w = f.shape
        return torch.einsum("nihw,njhw->nij", f, f) / (c * h * w)

    expected = 2.0 * sum(w * (gram(fx[k]) - gram(fg[k])).abs().mean() for k, w in weights.items())
    assert percep is None
    torch.testing.assert_close(style, expected, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(gram_matrix(fx["relu2_1"]), gram(fx["relu2_1"]), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    "criterion, distance",
    [
        ("l2", lambda a, b: ((a - b) ** 2).mean()),
        ("fro", lambda a, b: torch.sqrt(((a - b) ** 2).sum())),  # whole-batch Frobenius norm, not averaged
    ],
)
def test_l2_and_fro_criteria(tiny_cache, criterion, distance):
    weights = {"conv1_1": 0.25, "relu2_1": 1.0}
    loss = PerceptualLoss(weights, vgg_type=TINY, style_weight=0.5, criterion=criterion)
    x, gt = images()
    percep, style = loss(x, gt)
    fx, fg = hand_features(tiny_cache, x), hand_features(tiny_cache, gt)
    expected_percep = sum(w * distance(fx[k], fg[k]) for k, w in weights.items())
    expected_style = 0.5 * sum(w * distance(gram_matrix(fx[k]), gram_matrix(fg[k])) for k, w in weights.items())
    torch.testing.assert_close(percep, expected_percep, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(style, expected_style, rtol=1e-5, atol=1e-8)


def test_input_normalisation_options(tiny_cache):
    x, _ = images()
    plain = build_feature_extractor(TINY, ["conv1_1"], use_input_norm=False)(x)["conv1_1"]
    torch.testing.assert_close(plain, hand_features(tiny_cache, x, use_input_norm=False)["conv1_1"])
    # range_norm: an image in [-1, 1] gives the features of the same image in [0, 1].
    ranged = build_feature_extractor(TINY, ["conv2_1"], range_norm=True)(2 * x - 1)["conv2_1"]
    torch.testing.assert_close(ranged, hand_features(tiny_cache, x)["conv2_1"], rtol=1e-5, atol=1e-5)


def test_extractor_frozen_and_stays_in_eval_mode(tiny_cache):
    loss = PerceptualLoss({"relu2_1": 1.0}, vgg_type=TINY)
    loss.train()
    assert loss.training
    assert not any(m.training for m in loss.extractor.modules())
    assert not any(p.requires_grad for p in loss.extractor.parameters())
    x, gt = images()
    x.requires_grad_(True)
    loss(x, gt)[0].backward()
    assert all(p.grad is None for p in loss.extractor.parameters())
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_ground_truth_features_build_no_graph(tiny_cache):
    loss = PerceptualLoss({"conv1_1": 1.0, "relu2_1": 1.0}, vgg_type=TINY)
    calls = []
    loss.extractor.register_forward_hook(
        lambda mod, inp, out: calls.append((torch.is_grad_enabled(), {k: v.requires_grad for k, v in out.items()}))
    )
    x, gt = images()
    x.requires_grad_(True)
    gt.requires_grad_(True)  # even a gt that requires grad must not be traced
    percep, _ = loss(x, gt)
    (x_call, gt_call) = calls
    assert x_call == (True, {"conv1_1": True, "relu2_1": True})
    assert gt_call == (False, {"conv1_1": False, "relu2_1": False})
    percep.backward()
    assert gt.grad is None


def test_unknown_names_are_option_errors_naming_the_argument_and_the_nearest_name():
    with pytest.raises(OptionError) as err:
        PerceptualLoss({"conv5_4": 1.0, "conv5_5": 1.0})
    assert str(err.value).startswith("layer_weights.conv5_5: ") and "'conv5_4'" in str(err.value)
    with pytest.raises(OptionError, match=r"^vgg_type: .*'vgg19'"):
        PerceptualLoss({"conv5_4": 1.0}, vgg_type="vgg_19")
    with pytest.raises(OptionError, match=r"^criterion"):
        PerceptualLoss({"conv5_4": 1.0}, criterion="l3")
    with pytest.raises(OptionError, match=r"^layer_weights"):
        PerceptualLoss({})


def test_built_from_options_the_error_names_the_key_path():
    with pytest.raises(OptionError, match=r"^train\.perceptual_opt\.layer_weights\.conv5_5: "):
        LOSSES.build({"type": "PerceptualLoss", "layer_weights": {"conv5_5": 1.0}}, where="train.perceptual_opt")


def test_missing_vgg19_weights_name_the_file_and_never_download(torch_home, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the perceptual loss must not download")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(WeightsError) as err:
        PerceptualLoss({"conv5_4": 1.0})
    msg = str(err.value)
    expected = torch_home / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"
    assert str(expected) in msg
    assert "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth" in msg
    assert "pretrained_path" in msg and str(torch_home) in msg
    assert "\n" not in msg


def test_missing_pretrained_path_names_the_key(tmp_path):
    missing = tmp_path / "nowhere" / "vgg19.pth"
    with pytest.raises(OptionError, match=r"^train\.perceptual_opt\.pretrained_path: .*not found") as err:
        LOSSES.build({"type": "PerceptualLoss", "layer_weights": {"conv1_1": 1.0}, "pretrained_path": str(missing)},
                     where="train.perceptual_opt")
    assert str(missing) in str(err.value)


def shallow_vgg19_state_dict():
    """torchvision-style keys for VGG19's first block only: enough for layers up to pool1."""
    g = torch.Generator().manual_seed(3)
    return {
        "features.0.weight": torch.randn(64, 3, 3, 3, generator=g) * 0.1,
        "features.0.bias": torch.randn(64, generator=g) * 0.1,
        "features.2.weight": torch.randn(64, 64, 3, 3, generator=g) * 0.05,
        "features.2.bias": torch.randn(64, generator=g) * 0.1,
    }


def test_vgg19_loads_explicit_pretrained_path(tmp_path, torch_home):
    sd = shallow_vgg19_state_dict()
    path = tmp_path / "my_vgg19.pth"
    torch.save({"params": sd}, path)  # a wrapped layout is accepted too
    loss = PerceptualLoss({"relu1_2": 1.0}, pretrained_path=str(path))
    body = loss.extractor.body
    assert len(body) == 4
    torch.testing.assert_close(body[0].weight, sd["features.0.weight"], rtol=0, atol=0)
    torch.testing.assert_close(body[2].bias, sd["features.2.bias"], rtol=0, atol=0)
    x, gt = images(shape=(1, 3, 6, 6))
    feats = []
    for t in (x, gt):
        t = (t - MEAN) / STD
        for i in (0, 2):
            t = F.relu(F.conv2d(t, sd[f"features.{i}.weight"], sd[f"features.{i}.bias"], padding=1))
        feats.append(t)
    torch.testing.assert_close(loss(x, gt)[0], (feats[0] - feats[1]).abs().mean(), rtol=1e-5, atol=1e-6)
    # Deeper layers than the file holds: a WeightsError naming the file and the missing layer.
    with pytest.raises(WeightsError, match=r"my_vgg19\.pth does not fit .*missing keys \(2\): 5\.weight"):
        PerceptualLoss({"conv2_1": 1.0}, pretrained_path=str(path))


def test_vgg19_reads_torchvision_cache_under_torch_home(torch_home):
    sd = shallow_vgg19_state_dict()
    folder = torch_home / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save(sd, folder / "vgg19-dcbb9e9d.pth")
    loss = PerceptualLoss({"conv1_1": 1.0})
    torch.testing.assert_close(loss.extractor.body[0].weight, sd["features.0.weight"], rtol=0, atol=0)


def test_registered_in_losses(tiny_cache):
    assert LOSSES.get("PerceptualLoss") is PerceptualLoss
    args = LOSSES.arguments("PerceptualLoss")
    assert set(args) == {"layer_weights", "vgg_type", "use_input_norm", "range_norm", "perceptual_weight",
                         "style_weight", "criterion", "pretrained_path"}
    loss = LOSSES.build({"type": "PerceptualLoss", "layer_weights": {"relu1_1": 1.0}, "vgg_type": TINY})
    assert isinstance(loss, PerceptualLoss)


# ---- stlpips_vgg: the shift-tolerant VGG16 trunk shipped (with weights) inside stlpips-pytorch ----

STLPIPS_LAYERS = ["relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"]


@pytest.fixture(scope="module")
def stlpips_loss():
    return PerceptualLoss({name: 1.0 for name in STLPIPS_LAYERS}, vgg_type="stlpips_vgg")


def shipped_stlpips_file():
    pkg = pytest.importorskip("stlpips_pytorch")
    return Path(pkg.__path__[0]) / "weights" / "vST0.0" / "vgg_shift_tolerant.pth"


def test_stlpips_vgg_loads_the_shipped_weights(stlpips_loss):
    shipped = torch.load(shipped_stlpips_file(), map_location="cpu", weights_only=True)
    body = stlpips_loss.extractor.body
    assert len(body) == 34  # up to relu5_3, the trunk's last layer
    torch.testing.assert_close(body[0].weight, shipped["net.slice1.0.weight"], rtol=0, atol=0)
    torch.testing.assert_close(body[32].weight, shipped["net.slice5.32.weight"], rtol=0, atol=0)
    torch.testing.assert_close(body[5].filt, shipped["net.slice2.5.filt"], rtol=0, atol=0)  # blur filter


def test_stlpips_vgg_loss_zero_for_identical_and_positive_for_different(stlpips_loss):
    x, gt = images(shape=(1, 3, 32, 32))
    same, _ = stlpips_loss(x, x.clone())
    assert same.item() == 0.0
    differ, _ = stlpips_loss(x, gt)
    assert math.isfinite(differ.item()) and differ.item() > 0


def test_stlpips_vgg_features_equal_the_packages_network(stlpips_loss):
    """Our rebuilt trunk == stlpips' own vggnet('shift_tolerant') with the shipped weights, layer by layer."""
    stlpips = pytest.importorskip("stlpips_pytorch.stlpips")
    ref = stlpips.LPIPS(net="vgg", variant="shift_tolerant", verbose=False)
    x, _ = images(shape=(1, 3, 32, 32))
    ours = stlpips_loss.extractor(x)
    with torch.no_grad():
        theirs = ref.net(ref.scaling_layer(2 * x - 1))  # LPIPS scales [-1, 1] input == ImageNet norm on [0, 1]
    for name, expected in zip(STLPIPS_LAYERS, theirs):
        torch.testing.assert_close(ours[name], expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item())


# ---- lpips: LPIPS' AlexNet trunk, from torchvision's cache ----

ALEX_FILE = "alexnet-owt-7be5be79.pth"
LPIPS_LAYERS = ["relu1", "relu2", "relu3", "relu4", "relu5"]


def test_lpips_backbone_missing_weights_name_the_file(torch_home, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the perceptual loss must not download")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(WeightsError) as err:
        PerceptualLoss({"relu3": 1.0}, vgg_type="lpips")
    msg = str(err.value)
    assert str(torch_home / "hub" / "checkpoints" / ALEX_FILE) in msg
    assert f"https://download.pytorch.org/models/{ALEX_FILE}" in msg
    assert "AlexNet" in msg and "pretrained_path" in msg and "\n" not in msg


def test_lpips_backbone_layer_names_and_unknown_layer():
    assert BACKBONES.get("lpips").layer_names == (
        "conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "conv3", "relu3",
        "conv4", "relu4", "conv5", "relu5", "pool5")
    with pytest.raises(OptionError, match=r"layer_weights\.relu6.*'relu5'"):
        PerceptualLoss({"relu6": 1.0}, vgg_type="lpips")


def test_lpips_backbone_features_equal_lpips_trunk(torch_home):
    """With AlexNet weights in the cache, our taps relu1..relu5 == the lpips package's trunk outputs."""
    pn = pytest.importorskip("lpips.pretrained_networks")
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    sd = torchvision.models.alexnet(weights=None).state_dict()
    folder = torch_home / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save(sd, folder / ALEX_FILE)
    loss = PerceptualLoss({name: 1.0 for name in LPIPS_LAYERS}, vgg_type="lpips")
    assert len(loss.extractor.body) == 12  # truncated after relu5
    with pytest.warns(UserWarning):  # torchvision's deprecated 'pretrained=' argument, inside lpips
        ref = pn.alexnet(pretrained=False, requires_grad=False)
    ref.load_state_dict({f"slice{k}.{i}.{p}": sd[f"features.{i}.{p}"] for k, i in
                         ((1, 0), (2, 3), (3, 6), (4, 8), (5, 10)) for p in ("weight", "bias")})
    x, gt = images(shape=(1, 3, 64, 64))
    with torch.no_grad():
        theirs = ref(((2 * x - 1) - torch.tensor([-.030, -.088, -.188]).view(1, 3, 1, 1))
                     / torch.tensor([.458, .448, .450]).view(1, 3, 1, 1))  # LPIPS' ScalingLayer
    ours = loss.extractor(x)
    for name, expected in zip(LPIPS_LAYERS, theirs):
        torch.testing.assert_close(ours[name], expected, rtol=1e-4, atol=1e-5 * expected.abs().max().item())
    percep, _ = loss(x, gt)
    assert loss(x, x.clone())[0].item() == 0.0 and percep.item() > 0
