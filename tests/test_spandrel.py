"""Generators trained here load in spandrel (the loader of chaiNNer and ComfyUI) and upscale as ours do.

spandrel knows RRDBNet (as 'ESRGAN', x1/x2/x4, BasicSR names) from .pth files (it takes params_ema first, as we do)
and from the bare safetensors files of logger.save_format: safetensors; it does not know MSRResNet."""
import pytest
import torch
from spandrel import ModelLoader
from test_training import OPTIONS, _write_data

from srgan_kit.config.options import load_options
from srgan_kit.eval.harness import model_upscaler
from srgan_kit.training.trainer import train

RRDB = """network_g:
  type: RRDBNet
  num_feat: 16
  num_block: 1
  num_grow_ch: 32
  scale: 2
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = _write_data(tmp_path_factory.mktemp("spandrel"))
    text = OPTIONS.format(name="rrdb")
    start, end = text.index("network_g:"), text.index("path:")
    path = root / "rrdb.yml"
    path.write_text(text[:start] + RRDB + text[end:])
    for fmt in ("pth", "safetensors"):
        train(load_options(path, root=root, overrides=[f"name={fmt}", "train.total_iter=3", "val.val_freq=3",
                                                          "logger.save_checkpoint_freq=3",
                                                          f"logger.save_format={fmt}"]), progress=False)
    return root / "experiments"


@pytest.mark.parametrize("weights", ["pth/models/net_g_3.pth", "safetensors/models/net_g_ema_3.safetensors"])
def test_spandrel_loads_an_rrdbnet_trained_here_and_upscales_like_our_inference(run, weights):
    descriptor = ModelLoader().load_from_file(run / weights)
    assert descriptor.architecture.name == "ESRGAN" and descriptor.scale == 2
    lr = torch.rand(10, 12, 3)
    ours, _ = model_upscaler(run / weights)
    with torch.no_grad():
        theirs = descriptor.model.eval()(lr.permute(2, 0, 1)[None])[0].permute(1, 2, 0).clamp(0, 1)  # as ours
    torch.testing.assert_close(torch.as_tensor(ours(lr.numpy())), theirs, rtol=0, atol=1e-5)
