"""Weights files: accepted layouts, one clear error per bad case (naming the file), architecture detection."""
import warnings

import pytest
import torch

from srgan_kit.archs.detect import detect_arch
from srgan_kit.archs.loading import build_from_weights, load_network
from srgan_kit.registry import DETECTORS
from srgan_kit.archs.discriminators import UNetDiscriminatorSN
from srgan_kit.archs.generators import MSRResNet, RRDBNet
from srgan_kit.archs.weights import load_state_dict_file
from srgan_kit.errors import WeightsError


def _small_msr(**kw):
    torch.manual_seed(1)
    return MSRResNet(num_feat=8, num_block=2, upscale=2, **kw)


def _save(tmp_path, obj, name="w.pth"):
    path = tmp_path / name
    torch.save(obj, path)
    return path


def _same(a, b):
    return list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)


# ---------------------------------------------------------------- layouts


@pytest.mark.parametrize("layout", ["params_ema", "params", "state_dict", "bare"])
def test_layouts_load(tmp_path, layout):
    sd = _small_msr().state_dict()
    path = _save(tmp_path, sd if layout == "bare" else {layout: sd})
    assert _same(load_state_dict_file(path), sd)
    net = load_network(MSRResNet(num_feat=8, num_block=2, upscale=2), path)
    assert _same(net.state_dict(), sd)


def test_params_ema_preferred_and_param_key_chooses(tmp_path):
    ema, raw = _small_msr().state_dict(), MSRResNet(num_feat=8, num_block=2, upscale=2).state_dict()
    path = _save(tmp_path, {"params": raw, "params_ema": ema})
    assert _same(load_state_dict_file(path), ema)
    assert _same(load_state_dict_file(path, param_key="params"), raw)


def test_missing_param_key_falls_back_with_warning(tmp_path):
    """Like BasicSR: param_key_g params_ema on a file that only has params still loads, with a warning."""
    sd = _small_msr().state_dict()
    path = _save(tmp_path, {"params": sd})
    with pytest.warns(UserWarning, match="has no key 'params_ema'; using 'params'"):
        assert _same(load_state_dict_file(path, param_key="params_ema"), sd)


def test_module_prefix_stripped(tmp_path):
    sd = _small_msr().state_dict()
    path = _save(tmp_path, {"params": {f"module.{k}": v for k, v in sd.items()}})
    assert _same(load_state_dict_file(path), sd)


def test_fp16_becomes_fp32(tmp_path):
    sd = _small_msr().state_dict()
    path = _save(tmp_path, {"params_ema": {k: v.half() for k, v in sd.items()}})
    loaded = load_state_dict_file(path)
    assert all(v.dtype == torch.float32 for v in loaded.values())
    assert all(torch.equal(loaded[k], sd[k].half().float()) for k in sd)
    net = load_network(MSRResNet(num_feat=8, num_block=2, upscale=2), path)
    assert net.conv_first.weight.dtype == torch.float32


def test_in_memory_checkpoint_and_basicsr_names(tmp_path):
    """load_network takes a checkpoint dict too; the U-Net's spectral-norm buffers travel with it."""
    torch.manual_seed(0)
    src = UNetDiscriminatorSN(num_feat=4)
    dst = load_network(UNetDiscriminatorSN(num_feat=4), {"params": src.state_dict()})
    assert _same(dst.state_dict(), src.state_dict())
    assert "conv1.weight_orig" in dst.state_dict() and "conv1.weight_u" in dst.state_dict()


# ---------------------------------------------------------------- errors name the file


def test_missing_file(tmp_path):
    path = tmp_path / "nope.pth"
    with pytest.raises(WeightsError, match="nope.pth: weights file not found"):
        load_state_dict_file(path)
    with pytest.raises(WeightsError, match="nope.pth"):
        build_from_weights(path)


@pytest.mark.parametrize("content", [b"", b"not a torch file at all", b"PK\x03\x04garbage"])
def test_corrupt_file(tmp_path, content):
    path = tmp_path / "broken.pth"
    path.write_bytes(content)
    with pytest.raises(WeightsError, match="broken.pth: cannot read weights file"):
        load_state_dict_file(path)


def test_truncated_file(tmp_path):
    path = _save(tmp_path, {"params": _small_msr().state_dict()}, "cut.pth")
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(WeightsError, match="cut.pth: cannot read"):
        load_state_dict_file(path)


@pytest.mark.parametrize("obj", [{"iter": 3, "optimizers": [{}]}, [1, 2], {"params": {"a": 1}}])
def test_no_tensors(tmp_path, obj):
    path = _save(tmp_path, obj, "state.pth")
    with pytest.raises(WeightsError, match="state.pth: .*(no network weights|expected a dict)"):
        load_state_dict_file(path)


def test_unknown_param_key_on_non_weights(tmp_path):
    path = _save(tmp_path, {"iter": 3}, "train.state")
    with pytest.raises(WeightsError, match=r"train.state: has no key 'params_ema'.*top-level keys: iter"):
        load_state_dict_file(path, param_key="params_ema")


def test_key_mismatch_lists_keys(tmp_path):
    path = _save(tmp_path, {"params": _small_msr().state_dict()}, "g.pth")
    with pytest.raises(WeightsError) as err:
        load_network(MSRResNet(num_feat=8, num_block=3, upscale=2), path)
    msg = str(err.value)
    assert "g.pth does not fit MSRResNet" in msg
    assert "missing keys (4): body.2.conv1.weight, body.2.conv1.bias" in msg
    assert "looks like MSRResNet(" in msg and "num_block=2" in msg  # points at the fix
    with pytest.raises(WeightsError, match=r"g.pth .*unexpected keys \(4\): body.1.conv1.weight"):
        load_network(MSRResNet(num_feat=8, num_block=1, upscale=2), path)


def test_shape_mismatch(tmp_path):
    path = _save(tmp_path, {"params": _small_msr().state_dict()}, "g.pth")
    with pytest.raises(WeightsError, match=r"g.pth .*shape mismatches .*conv_first.weight: file \(8, 3, 3, 3\) "
                                           r"vs network \(16, 3, 3, 3\)"):
        load_network(MSRResNet(num_feat=16, num_block=2, upscale=2), path)


def test_non_strict_skips_with_warning(tmp_path):
    src = _small_msr()
    sd = dict(src.state_dict())
    sd["conv_last.weight"] = torch.zeros(4, 8, 3, 3)  # wrong shape
    path = _save(tmp_path, {"params": sd}, "partial.pth")
    net = MSRResNet(num_feat=8, num_block=2, upscale=2)
    before = net.conv_last.weight.clone()
    with pytest.warns(UserWarning, match="partial.pth: skipped .*conv_last.weight"):
        load_network(net, path, strict=False)
    assert torch.equal(net.conv_first.weight, src.conv_first.weight)
    assert torch.equal(net.conv_last.weight, before)


# ---------------------------------------------------------------- detection


CASES = [
    (MSRResNet, dict(num_feat=8, num_block=2, upscale=2)),
    (MSRResNet, dict(num_feat=8, num_block=3, upscale=3)),
    (MSRResNet, dict(num_feat=8, num_block=1, upscale=4)),
    (RRDBNet, dict(scale=1, num_feat=8, num_block=2, num_grow_ch=4)),
    (RRDBNet, dict(scale=2, num_feat=8, num_block=1, num_grow_ch=6)),
    (RRDBNet, dict(scale=4, num_feat=12, num_block=3, num_grow_ch=4)),
    (RRDBNet, dict(num_in_ch=1, num_out_ch=1, scale=2, num_feat=8, num_block=1, num_grow_ch=4)),
]


@pytest.mark.parametrize("cls,kwargs", CASES, ids=lambda v: getattr(v, "__name__", None) or str(v))
def test_detect_round_trip(tmp_path, cls, kwargs):
    torch.manual_seed(0)
    net = cls(**kwargs).eval()
    path = _save(tmp_path, {"params_ema": {f"module.{k}": v.half() for k, v in net.state_dict().items()}})
    defaults = {"num_in_ch": 3, "num_out_ch": 3}
    expected = {"type": cls.__name__, **defaults, **kwargs}
    assert detect_arch(torch.load(path, weights_only=True)) == expected
    built, spec = build_from_weights(path)
    assert spec == expected and type(built) is cls and not built.training
    assert built.scale == kwargs.get("scale", kwargs.get("upscale"))
    x = torch.rand(1, kwargs.get("num_in_ch", 3), 8, 8)
    with torch.no_grad():
        net.load_state_dict({k: v.half().float() for k, v in net.state_dict().items()})
        assert (built(x) - net(x)).abs().max().item() < 1e-6


def test_detectors_are_a_table():
    assert {d.arch for d in DETECTORS.values()} >= {"RRDBNet", "MSRResNet"}


def test_detect_unknown(tmp_path):
    torch.manual_seed(0)
    path = _save(tmp_path, {"params": UNetDiscriminatorSN(num_feat=4).state_dict()}, "d.pth")
    with pytest.raises(WeightsError,
                       match=r"d.pth: cannot detect the architecture \(neither .*RRDBNet.* nor a network spandrel knows"):
        build_from_weights(path)
    with pytest.raises(WeightsError, match="cannot detect"):
        detect_arch({"foo.weight": torch.zeros(2)})


def test_detect_inconsistent_shapes():
    sd = RRDBNet(num_feat=8, num_block=1, num_grow_ch=4).state_dict()
    sd["conv_first.weight"] = torch.zeros(8, 7, 3, 3)
    with pytest.raises(WeightsError, match="cannot tell the scale"):
        detect_arch(sd)
    sd = MSRResNet(num_feat=8, num_block=1, upscale=3).state_dict()
    sd["upconv1.weight"] = torch.zeros(40, 8, 3, 3)
    with pytest.raises(WeightsError, match="cannot tell the upscale"):
        detect_arch(sd)


def test_no_warning_on_normal_load(tmp_path):
    path = _save(tmp_path, {"params": _small_msr().state_dict()})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build_from_weights(path)
