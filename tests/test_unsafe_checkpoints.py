"""A checkpoint whose unpickling would run code is refused on every route that reads one, and the code never
runs: the payload's ``__reduce__`` calls ``os.system`` to create a marker file, which must never appear."""
import os

import numpy as np
import pytest
import torch

from srgan_kit.archs.generators import MSRResNet
from srgan_kit.archs.weights import read_checkpoint
from srgan_kit.cli.evaluate import main as evaluate_main
from srgan_kit.cli.infer import main as infer_main
from srgan_kit.cli.train import main as train_main
from srgan_kit.data.imageio import save_image
from srgan_kit.errors import WeightsError


class RunsCode:
    """Unpickling this calls os.system(command): what a malicious checkpoint does."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def _tiny_state_dict():
    torch.manual_seed(0)
    return MSRResNet(num_feat=8, num_block=1, upscale=2).state_dict()


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "code_ran"


def _plant(path, marker, payload_key="params"):
    """A file laid out as a real checkpoint, with the payload beside (or instead of) the tensors."""
    path.parent.mkdir(parents=True, exist_ok=True)
    obj = {"params": _tiny_state_dict(), "extra": RunsCode(f"touch {marker}")}
    if payload_key != "params":
        obj = {payload_key: RunsCode(f"touch {marker}"), "iter": 5}
    torch.save(obj, path)
    return path


def _one_line_refusal(err, path):
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and str(path) in lines[0] and "refused" in lines[0]
    assert "weights_only" not in err  # never tell the user to switch the safety off


def _image(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "lr" / "a.png"
    save_image(path, rng.random((12, 10, 3)).astype(np.float32))
    return path


def test_payload_really_runs_code_when_unpickled_unsafely(tmp_path, marker):
    """The fixture is a real attack: plain unpickling creates the marker."""
    path = _plant(tmp_path / "evil.pth", marker)
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_library_loader_refuses_and_names_the_global(tmp_path, marker):
    path = _plant(tmp_path / "evil.pth", marker)
    with pytest.raises(WeightsError, match=r"evil.pth: refused: .*pickled Python objects \(.*system\)") as info:
        read_checkpoint(path)
    assert "weights_only" not in str(info.value)
    assert not marker.exists()


def test_infer_model(tmp_path, marker, capsys):
    evil = _plant(tmp_path / "evil.pth", marker)
    out = tmp_path / "out"
    assert infer_main(["-i", str(_image(tmp_path)), "-o", str(out), "--model", str(evil), "--device", "cpu"]) == 2
    _one_line_refusal(capsys.readouterr().err, evil)
    assert not marker.exists() and not out.exists()


def test_evaluate_model(tmp_path, marker, capsys):
    evil = _plant(tmp_path / "evil.pth", marker)
    img = _image(tmp_path)
    code = evaluate_main(["--model", str(evil), "--lr", str(img.parent), "--gt", str(img.parent), "--scale", "2",
                          "--device", "cpu"])
    assert code == 2
    _one_line_refusal(capsys.readouterr().err, evil)
    assert not marker.exists()


TRAIN_OPTIONS = """\
name: evil_run
model_type: sr
scale: 2
num_gpu: 0
manual_seed: 1
datasets:
  train: {{type: GTOnlyDataset, dataroot_gt: data, gt_size: 8, batch_size_per_gpu: 1}}
network_g: {{type: MSRResNet, num_feat: 8, num_block: 1, upscale: 2}}
path: {{pretrain_network_g: {pretrain}}}
train:
  optim_g: {{type: Adam, lr: 1.0e-4}}
  total_iter: 2
  pixel_opt: {{type: L1Loss}}
logger: {{print_freq: 1, save_checkpoint_freq: 1}}
"""


def _train_setup(tmp_path, monkeypatch, pretrain="~"):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    for i in range(2):
        save_image(tmp_path / "data" / f"{i}.png", rng.random((16, 16, 3)).astype(np.float32))
    opt = tmp_path / "evil.yml"
    opt.write_text(TRAIN_OPTIONS.format(pretrain=pretrain))
    return opt


def test_train_pretrain_network_g(tmp_path, marker, monkeypatch, capsys):
    evil = _plant(tmp_path / "evil.pth", marker)
    opt = _train_setup(tmp_path, monkeypatch, pretrain=str(evil))
    assert train_main(["-opt", str(opt), "--no-progress"]) == 2
    _one_line_refusal(capsys.readouterr().err, evil)
    assert not marker.exists()


def test_train_auto_resume_planted_state(tmp_path, marker, monkeypatch, capsys):
    opt = _train_setup(tmp_path, monkeypatch)
    evil = _plant(tmp_path / "experiments" / "evil_run" / "training_states" / "5.state", marker, "optimizers")
    assert train_main(["-opt", str(opt), "--auto_resume", "--no-progress"]) == 2
    _one_line_refusal(capsys.readouterr().err, evil)
    assert not marker.exists()
    assert sorted(p.name for p in evil.parent.iterdir()) == ["5.state"]  # nothing trained, nothing replaced
