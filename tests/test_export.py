"""tools/export.py: ONNX export of any generator, checked by onnxruntime in the same command."""
import numpy as np
import onnxruntime
import pytest
import torch

from srgan_kit.archs.generators import MSRResNet, RRDBNet
from srgan_kit.cli.export import main as export_main

NETS = {"rrdbnet_x2": lambda: RRDBNet(num_feat=16, num_block=1, num_grow_ch=8, scale=2),
        "msrresnet_x4": lambda: MSRResNet(num_feat=8, num_block=1, upscale=4)}


def _weights(tmp_path, which):
    torch.manual_seed(0)
    net = NETS[which]().eval()
    torch.save({"params_ema": net.state_dict()}, tmp_path / "w.pth")
    return net, tmp_path / "w.pth"


@pytest.mark.parametrize("which", list(NETS))
def test_a_dynamic_fp32_export_computes_what_the_network_does(tmp_path, which, capsys):
    net, weights = _weights(tmp_path, which)
    assert export_main(["--model", str(weights), "-o", str(tmp_path / "m.onnx"), "--dynamic", "--size", "16"]) == 0
    assert "largest difference from PyTorch fp32" in capsys.readouterr().out
    lr = torch.rand(1, 3, 12, 20)  # another shape than the traced one
    got = onnxruntime.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"lr": lr.numpy()})[0]
    with torch.no_grad():
        assert np.abs(got - net(lr).numpy()).max() < 1e-4


def test_an_fp16_export_takes_half_precision_input(tmp_path):
    net, weights = _weights(tmp_path, "msrresnet_x4")
    assert export_main(["--model", str(weights), "-o", str(tmp_path / "h.onnx"), "--fp16", "--size", "8"]) == 0
    session = onnxruntime.InferenceSession(str(tmp_path / "h.onnx"))
    assert session.get_inputs()[0].type == "tensor(float16)" and session.get_inputs()[0].shape == [1, 3, 8, 8]


def test_an_export_outside_the_tolerance_is_not_written(tmp_path, capsys):
    _, weights = _weights(tmp_path, "msrresnet_x4")
    code = export_main(["--model", str(weights), "-o", str(tmp_path / "h.onnx"), "--fp16", "--size", "8",
                        "--tolerance", "1e-9"])
    assert code == 3 and "differs from the network" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [weights]  # nothing written, no temporary file left


def test_an_existing_output_is_left_alone(tmp_path, capsys):
    _, weights = _weights(tmp_path, "msrresnet_x4")
    (tmp_path / "m.onnx").write_text("mine")
    assert export_main(["--model", str(weights), "-o", str(tmp_path / "m.onnx")]) == 2
    assert "exists" in capsys.readouterr().err and (tmp_path / "m.onnx").read_text() == "mine"
