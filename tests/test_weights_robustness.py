"""Weights files that cannot be weights: tensors that are not floating point, damaged safetensors headers, and
safetensors runs that resume or change logger.save_format. Every reader refuses with one error line, exit 2,
before it writes anything."""
import struct

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from test_training import _write_data, options

from srgan_kit.archs.generators import MSRResNet
from srgan_kit.archs.loading import load_network
from srgan_kit.archs.weights import to_safetensors
from srgan_kit.cli.evaluate import main as evaluate_main
from srgan_kit.cli.infer import main as infer_main
from srgan_kit.cli.interpolate import main as interpolate_main
from srgan_kit.cli.train import main as train_main
from srgan_kit.data.imageio import save_image
from srgan_kit.errors import WeightsError


def _state(seed=0):
    torch.manual_seed(seed)
    return MSRResNet(num_feat=8, num_block=1, upscale=2).state_dict()


def _one_error(capsys):
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def _lr_folder(root):
    save_image(root / "lr" / "a.png", np.random.default_rng(0).uniform(0, 1, (8, 8, 3)).astype(np.float32))
    return root / "lr"


def _infer(root, weights):
    return infer_main(["-i", str(_lr_folder(root)), "-o", str(root / "out"), "--model", str(weights),
                       "--precision", "fp32"])


# ------------------------------------------------------------------------------ tensors that are not floats

@pytest.mark.parametrize("dtype", [torch.bool, torch.int32])
def test_infer_refuses_a_safetensors_file_converted_to_bool_or_int(tmp_path, capsys, dtype):
    path = tmp_path / "w.safetensors"
    path.write_bytes(to_safetensors({k: (v * 100).to(dtype) for k, v in _state().items()}))
    assert _infer(tmp_path, path) == 2
    name = {torch.bool: "bool", torch.int32: "int32"}[dtype]
    assert f"{path}: holds no floating-point tensor (body.0.conv1.bias is {name})" in _one_error(capsys)
    assert not (tmp_path / "out").exists()


def test_infer_refuses_one_integer_tensor_where_the_network_has_floats(tmp_path, capsys):
    state = _state()
    state["body.0.conv2.weight"] = state["body.0.conv2.weight"].to(torch.int64)
    path = tmp_path / "w.safetensors"
    path.write_bytes(to_safetensors(state))
    assert _infer(tmp_path, path) == 2
    line = _one_error(capsys)
    assert f"{path}: body.0.conv2.weight is int64 where MSRResNet has floating-point weights (float32)" in line
    assert not (tmp_path / "out").exists()


def test_a_pth_file_follows_the_same_rule(tmp_path, capsys):
    state = _state()
    state["conv_hr.bias"] = state["conv_hr.bias"].bool()
    torch.save({"params": state}, tmp_path / "w.pth")
    assert _infer(tmp_path, tmp_path / "w.pth") == 2
    assert "w.pth: conv_hr.bias is bool where MSRResNet has floating-point" in _one_error(capsys)


def test_evaluate_refuses_an_integer_tensor(tmp_path, capsys):
    state = _state()
    state["conv_first.weight"] = state["conv_first.weight"].to(torch.int8)
    path = tmp_path / "w.safetensors"
    path.write_bytes(to_safetensors(state))
    save_image(tmp_path / "hr" / "a.png", np.zeros((16, 16, 3), np.float32))
    assert evaluate_main(["--model", str(path), "--gt", str(tmp_path / "hr"), "--lr", str(_lr_folder(tmp_path)),
                          "--scale", "2", "--metrics", "psnr", "--lr-tmpl", "{}"]) == 2
    assert f"{path}: conv_first.weight is int8" in _one_error(capsys)


def test_interpolate_refuses_a_bool_tensor_in_either_file(tmp_path, capsys):
    torch.save({"params": _state(0)}, tmp_path / "a.pth")
    b = _state(1)
    b["upconv1.weight"] = b["upconv1.weight"].bool()
    torch.save({"params": b}, tmp_path / "b.pth")
    assert interpolate_main(["--a", str(tmp_path / "a.pth"), "--b", str(tmp_path / "b.pth"), "--alpha", "0.5",
                             "-o", str(tmp_path / "out")]) == 2
    line = _one_error(capsys)
    assert f"--b {tmp_path / 'b.pth'}: upconv1.weight is bool where --a" in line
    assert not (tmp_path / "out").exists()


def test_integer_buffers_the_network_has_are_loaded():
    """BatchNorm's num_batches_tracked is int64 in the network too: not an error, and copied as it is."""
    torch.manual_seed(0)
    source = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    source[1].num_batches_tracked.fill_(7)
    net = load_network(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)), source.state_dict())
    assert net[1].num_batches_tracked.dtype == torch.int64 and int(net[1].num_batches_tracked) == 7
    assert torch.equal(net[0].weight, source[0].weight)


def test_an_integer_weight_beside_integer_buffers_is_refused():
    bad = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)).state_dict()
    bad["1.weight"] = bad["1.weight"].to(torch.int32)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    with pytest.raises(WeightsError, match=r"^given state dict: 1.weight is int32 where Sequential has floating"):
        load_network(net, bad)


def test_pretraining_from_a_bool_file_is_refused_before_the_run_folder_exists(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(_write_data(tmp_path))
    path = tmp_path / "bool.safetensors"
    path.write_bytes(to_safetensors({k: v.bool() for k, v in _state().items()}))
    yml, _ = options(tmp_path, "pre")
    assert train_main(["-opt", str(yml), "--no-progress", "--set", f"path.pretrain_network_g={path}"]) == 2
    assert f"{path}: holds no floating-point tensor" in _one_error(capsys)
    assert not (tmp_path / "experiments").exists()


# ------------------------------------------------------------------------------ damaged safetensors headers

def _damage(data, how):
    size = struct.unpack("<Q", data[:8])[0]
    if how == "header length":
        return struct.pack("<Q", 2 ** 60) + data[8:]
    if how == "header length 0x80":  # starts like a pickle: torch.load's "Unsupported operand"
        return b"\x80" + b"\xff" * 7 + data[8:]
    return data[:8] + (bytes(range(7, 256)) * 100)[:size] + data[8 + size:]  # garbage JSON of the same length


@pytest.mark.parametrize("how", ["header length", "header length 0x80", "json header"])
def test_a_damaged_safetensors_header_is_named_as_such(tmp_path, capsys, how):
    path = tmp_path / "w.safetensors"
    path.write_bytes(_damage(to_safetensors(_state()), how))
    assert _infer(tmp_path, path) == 2
    line = _one_error(capsys)
    assert line.startswith(f"error: {path}: cannot read weights file (safetensors file damaged: its ")
    assert "PyTorch" not in line and not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------ safetensors runs resumed

def _saved_run(root, name, fmt="safetensors"):
    """A 2-iteration run saved at iteration 2 in ``fmt``; -> (option file, train CLI arguments)."""
    yml, _ = options(root, name)
    base = ["-opt", str(yml), "--no-progress", "--set", "val.val_freq=100", "--set", "logger.save_checkpoint_freq=2"]
    assert train_main(base + ["--set", "train.total_iter=2", "--set", f"logger.save_format={fmt}"]) == 0
    return base


def test_a_missing_safetensors_network_is_named_on_resume(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(_write_data(tmp_path))
    base = _saved_run(tmp_path, "st")
    models = tmp_path / "experiments" / "st" / "models"
    (models / "net_g_2.safetensors").unlink()
    capsys.readouterr()
    assert train_main(base + ["--set", "train.total_iter=4", "--set", "logger.save_format=safetensors",
                              "--auto_resume"]) == 2
    line = _one_error(capsys)
    assert f"the matching network file {models / 'net_g_2.safetensors'} is missing" in line and ".pth" not in line


def test_resuming_from_an_integer_network_file_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(_write_data(tmp_path))
    base = _saved_run(tmp_path, "st")
    path = tmp_path / "experiments" / "st" / "models" / "net_g_2.safetensors"
    path.write_bytes(to_safetensors({k: v.to(torch.int16) for k, v in load_file(path).items()}))
    capsys.readouterr()
    assert train_main(base + ["--set", "train.total_iter=4", "--set", "logger.save_format=safetensors",
                              "--auto_resume"]) == 2
    assert f"{path}: holds no floating-point tensor" in _one_error(capsys)
    assert not (tmp_path / "experiments" / "st" / "training_states" / "4.state").exists()


def test_switching_save_format_on_resume_removes_the_stale_latest(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(_write_data(tmp_path))
    base = _saved_run(tmp_path, "sw", fmt="pth")
    run = tmp_path / "experiments" / "sw"
    assert (run / "models" / "net_g_latest.pth").is_file()
    assert train_main(base + ["--set", "train.total_iter=4", "--set", "logger.save_format=safetensors",
                              "--auto_resume"]) == 0
    latest = sorted(p.name for p in (run / "models").glob("*_latest.*"))
    assert latest == ["net_g_ema_latest.safetensors", "net_g_latest.safetensors"]
    log = "".join(p.read_text() for p in run.glob("train_sw_*.log"))
    assert f"logger.save_format is safetensors: removed {run / 'models' / 'net_g_latest.pth'} (older weights)" in log
