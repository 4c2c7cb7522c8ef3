"""Our networks against BasicSR's: same state dict -> same outputs; discriminator features; spectral norm."""
import cv2
import numpy as np
import pytest
import torch
from torch.nn import functional as F
from torch.nn.utils import parametrize

from srgan_kit.archs.loading import build_from_weights
from srgan_kit.archs.discriminators import (MultiScalePatchGAN, PatchGANDiscriminator, UNetDiscriminatorSN,
                                          VGGStyleDiscriminator)
from srgan_kit.archs.generators import MSRResNet, RRDBNet
from srgan_kit.archs.loading import load_network
from srgan_kit.archs.weights import load_state_dict_file
from srgan_kit.compat import import_basicsr
from srgan_kit.errors import OptionError
from srgan_kit.registry import ARCHS

TOL = 1e-5


@pytest.fixture(scope="module")
def bsr():
    """basicsr's arch modules, through the compat shim."""
    return {
        "srresnet": import_basicsr("basicsr.archs.srresnet_arch"),
        "rrdbnet": import_basicsr("basicsr.archs.rrdbnet_arch"),
        "disc": import_basicsr("basicsr.archs.discriminator_arch"),
    }


def _twin(ref_cls, ours_cls, ref_args, our_kwargs, seed=0):
    """BasicSR's net with seeded weights and ours loaded strictly from its state dict, both in eval mode."""
    torch.manual_seed(seed)
    ref = ref_cls(*ref_args).eval()
    ours = load_network(ours_cls(**our_kwargs), ref.state_dict(), strict=True).eval()
    return ref, ours


def _max_diff(a, b):
    return (a - b).abs().max().item()


@pytest.mark.parametrize("upscale", [2, 3, 4])
def test_msrresnet_matches_basicsr(bsr, upscale):
    ref, ours = _twin(bsr["srresnet"].MSRResNet, MSRResNet, (3, 3, 16, 2, upscale),
                      dict(num_feat=16, num_block=2, upscale=upscale))
    x = torch.rand(2, 3, 12, 10)
    with torch.no_grad():
        out = ours(x)
        assert out.shape == (2, 3, 12 * upscale, 10 * upscale)
        assert _max_diff(out, ref(x)) < TOL
    assert ours.scale == upscale


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_rrdbnet_matches_basicsr(bsr, scale):
    ref, ours = _twin(bsr["rrdbnet"].RRDBNet, RRDBNet, (3, 3, scale, 16, 2, 8),
                      dict(scale=scale, num_feat=16, num_block=2, num_grow_ch=8))
    x = torch.rand(2, 3, 16, 12)
    with torch.no_grad():
        out = ours(x)
        assert out.shape == (2, 3, 16 * scale, 12 * scale)
        assert _max_diff(out, ref(x)) < TOL
    assert ours.scale == scale


def test_rrdbnet_x2_pads_sizes_basicsr_refuses(bsr):
    """Odd sizes: reflect-pad to a multiple of the unshuffle factor, run, crop (Real-ESRGAN's inference)."""
    ref, ours = _twin(bsr["rrdbnet"].RRDBNet, RRDBNet, (3, 3, 2, 8, 1, 4),
                      dict(scale=2, num_feat=8, num_block=1, num_grow_ch=4))
    x = torch.rand(1, 3, 9, 11)
    with torch.no_grad():
        expected = ref(F.pad(x, (0, 1, 0, 1), mode="reflect"))[..., :18, :22]
        assert _max_diff(ours(x), expected) < TOL


def test_generator_init_scales_residual_branches():
    """BasicSR-style init: kaiming normal x0.1 in residual blocks, so the trunk starts near identity."""
    torch.manual_seed(0)
    net = MSRResNet(num_feat=32, num_block=1, upscale=2)
    w = net.body[0].conv1.weight
    kaiming_std = (2.0 / (32 * 9)) ** 0.5
    assert w.std().item() == pytest.approx(0.1 * kaiming_std, rel=0.1)
    assert net.body[0].conv1.bias.abs().max().item() == 0
    rdb = RRDBNet(num_feat=32, num_block=1, num_grow_ch=16).body[0].rdb1.conv1.weight
    assert rdb.std().item() == pytest.approx(0.1 * kaiming_std, rel=0.1)


@pytest.mark.parametrize("bad", [dict(cls=MSRResNet, upscale=8), dict(cls=RRDBNet, scale=3)])
def test_unsupported_scale_is_option_error(bad):
    bad = dict(bad)
    cls = bad.pop("cls")
    with pytest.raises(OptionError, match=cls.__name__):
        cls(**bad)


def test_registry_builds_with_contract_signatures():
    assert ARCHS.arguments("RRDBNet") == dict(num_in_ch=3, num_out_ch=3, scale=4, num_feat=64, num_block=23,
                                              num_grow_ch=32)
    assert ARCHS.arguments("MSRResNet") == dict(num_in_ch=3, num_out_ch=3, num_feat=64, num_block=16, upscale=4)
    assert ARCHS.arguments("VGGStyleDiscriminator") == dict(num_in_ch=3, num_feat=64, input_size=128)
    assert ARCHS.arguments("PatchGANDiscriminator") == dict(num_in_ch=3, num_feat=64, num_layers=3,
                                                            spectral_norm=False)
    assert ARCHS.arguments("UNetDiscriminatorSN") == dict(num_in_ch=3, num_feat=64, skip_connection=True)
    net = ARCHS.build({"type": "RRDBNet", "scale": 2, "num_feat": 8, "num_block": 1, "num_grow_ch": 4})
    assert isinstance(net, RRDBNet) and net.scale == 2


# ---------------------------------------------------------------- discriminators


def _check_features(net, x, logits):
    out, feats = net(x, return_features=True)
    assert _max_diff(out, logits) < TOL
    assert len(feats) >= 3
    assert all(f.dim() == 4 and f.shape[0] == x.shape[0] for f in feats)
    assert len({f.shape[-2:] for f in feats}) >= 3  # several depths, not one map repeated
    return feats


@pytest.mark.parametrize("input_size", [128, 256])
def test_vgg_discriminator_matches_basicsr(bsr, input_size):
    ref, ours = _twin(bsr["disc"].VGGStyleDiscriminator, VGGStyleDiscriminator, (3, 4, input_size),
                      dict(num_feat=4, input_size=input_size))
    x = torch.rand(2, 3, input_size, input_size)
    with torch.no_grad():
        # eval: running statistics; train: batch statistics (and equal running-stat updates)
        out = ours(x)
        assert out.shape == (2, 1)
        assert _max_diff(out, ref(x)) < TOL
        ours.train(), ref.train()
        assert _max_diff(ours(x), ref(x)) < TOL
        assert _max_diff(ours.bn1_0.running_mean, ref.bn1_0.running_mean) < TOL
        ours.eval()
        feats = _check_features(ours, x, ours(x))
    assert len(feats) == (5 if input_size == 128 else 6)
    assert feats[-1].shape[-2:] == (4, 4)


def test_vgg_discriminator_size_errors():
    with pytest.raises(OptionError, match="^input_size: must be 128 or 256"):
        VGGStyleDiscriminator(input_size=96)
    net = VGGStyleDiscriminator(num_feat=4)
    with pytest.raises(ValueError, match=r"built for 128x128 .*got 96x96"):
        net(torch.rand(1, 3, 96, 96))
    with pytest.raises(ValueError, match=r"got 128x64"):
        net(torch.rand(1, 3, 128, 64))


@pytest.mark.parametrize("skip", [True, False])
def test_unet_discriminator_matches_basicsr(bsr, skip):
    ref, ours = _twin(bsr["disc"].UNetDiscriminatorSN, UNetDiscriminatorSN, (3, 8, skip),
                      dict(num_feat=8, skip_connection=skip))
    assert list(ours.state_dict()) == list(ref.state_dict())
    x = torch.rand(2, 3, 32, 24)
    with torch.no_grad():
        out = ours(x)
        assert out.shape == (2, 1, 32, 24)
        assert _max_diff(out, ref(x)) < TOL
        # train mode runs a power iteration per forward: u, v and outputs stay in step
        ours.train(), ref.train()
        for _ in range(2):
            assert _max_diff(ours(x), ref(x)) < TOL
        assert _max_diff(ours.conv3.weight_u, ref.conv3.weight_u) < TOL
        ours.eval()
        feats = _check_features(ours, x, ours(x))
    assert len(feats) == 7
    # and ours loads back into BasicSR's strictly
    ref.load_state_dict(ours.state_dict(), strict=True)


def test_patchgan_shape_and_features():
    torch.manual_seed(0)
    net = PatchGANDiscriminator(num_feat=8, num_layers=3).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        out = net(x)
        # three stride-2 4x4 convs (64 -> 8), then two stride-1 4x4 convs with padding 1 (8 -> 7 -> 6)
        assert out.shape == (2, 1, 6, 6)
        feats = _check_features(net, x, out)
    assert [f.shape[1] for f in feats] == [8, 16, 32, 64]
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    assert not any(parametrize.is_parametrized(m) for m in net.modules())
    assert PatchGANDiscriminator(num_feat=4, num_layers=1)(torch.rand(1, 3, 32, 32)).shape == (1, 1, 14, 14)


def test_patchgan_spectral_norm():
    torch.manual_seed(0)
    net = PatchGANDiscriminator(num_feat=8, num_layers=3, spectral_norm=True).train()
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 5
    assert all(parametrize.is_parametrized(c, "weight") for c in convs)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        for _ in range(10):  # each train-mode forward refines the power-iteration estimate
            net(x)
        for conv in convs:
            sigma = torch.linalg.matrix_norm(conv.weight.flatten(1), ord=2).item()
            raw = torch.linalg.matrix_norm(conv.parametrizations.weight.original.flatten(1), ord=2).item()
            assert sigma == pytest.approx(1.0, abs=0.02)
            assert abs(raw - 1.0) > 0.05  # the normalisation did something


# ---------------------------------------------------------------- shared Real-ESRGAN weights


def test_realesrgan_x4plus_matches_basicsr(bsr, shared_dir):
    path = shared_dir / "weights" / "RealESRGAN_x4plus_fp16.pth"
    state = load_state_dict_file(path)
    assert all(v.dtype == torch.float32 for v in state.values())
    ours, spec = build_from_weights(path)
    assert spec == dict(type="RRDBNet", num_in_ch=3, num_out_ch=3, scale=4, num_feat=64, num_block=23,
                        num_grow_ch=32)
    ref = bsr["rrdbnet"].RRDBNet(3, 3, scale=4, num_feat=64, num_block=23, num_grow_ch=32).eval()
    ref.load_state_dict(state, strict=True)

    lr = cv2.imread(str(shared_dir / "data/Set5/X4/LR/babyx4.png"), cv2.IMREAD_COLOR)[:, :, ::-1]
    hr = cv2.imread(str(shared_dir / "data/Set5/X4/HR/baby.png"), cv2.IMREAD_COLOR)[:, :, ::-1]
    y, x = 40, 40
    crop = np.ascontiguousarray(lr[y:y + 24, x:x + 24]).astype(np.float32) / 255
    inp = torch.from_numpy(crop).permute(2, 0, 1)[None]
    with torch.no_grad():
        out = ours(inp)
        assert _max_diff(out, ref(inp)) < TOL
    # the weights did load meaningfully: the output resembles the ground truth
    gt = torch.from_numpy(hr[4 * y:4 * y + 96, 4 * x:4 * x + 96].astype(np.float32) / 255).permute(2, 0, 1)
    assert (out[0].clamp(0, 1) - gt).abs().mean().item() < 0.05


@pytest.mark.parametrize("make", [
    lambda: VGGStyleDiscriminator(num_feat=4),
    lambda: PatchGANDiscriminator(num_feat=4, spectral_norm=True),
    lambda: UNetDiscriminatorSN(num_feat=4),
], ids=["vgg", "patchgan_sn", "unet"])
def test_features_backpropagate(make):
    """A feature-matching-style loss over every returned map trains the discriminator (no in-place clash)."""
    torch.manual_seed(0)
    net = make().train()
    x = torch.rand(2, 3, 128, 128, requires_grad=True)
    out, feats = net(x, return_features=True)
    loss = out.mean() + sum(f.abs().mean() for f in feats)
    loss.backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert x.grad.abs().sum().item() > 0


def test_multiscale_patchgan_scores_each_scale_with_its_own_patchgan():
    torch.manual_seed(0)
    net = MultiScalePatchGAN(num_feat=4, num_layers=2, num_scales=3).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        logits, features = net(x, return_features=True)
        first = net.scales[0](x)
        third = net.scales[2](torch.nn.functional.avg_pool2d(x, 4))
    assert logits.shape == (2, 3, *first.shape[-2:]) and len(features) == 3 * 3
    assert torch.equal(logits[:, :1], first)
    resized = torch.nn.functional.interpolate(third, size=first.shape[-2:], mode="nearest")
    torch.testing.assert_close(logits[:, 2:], resized)
