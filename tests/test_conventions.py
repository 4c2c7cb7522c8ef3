"""One metric-conventions table: a model scored on one set by training validation, tools/evaluate.py and the
sweep's evaluation gets the same number for every metric (NIQE included, which once got no border crop in
training validation only)."""
import json

import numpy as np
import pytest
import torch

from srgan_kit.archs.generators import MSRResNet
from srgan_kit.cli.evaluate import main as evaluate_main
from srgan_kit.config.options import load_options
from srgan_kit.data.degradation import imresize_int
from srgan_kit.data.imageio import save_image
from srgan_kit.eval.conventions import CONVENTIONS, metric_plan
from srgan_kit.eval.harness import model_upscaler
from srgan_kit.eval.sets import datasets_from_options
from srgan_kit.sweeps.runner import Evaluation
from srgan_kit.training.checkpoint import final_generator
from srgan_kit.training.trainer import train

METRIC_NAMES = ("psnr", "ssim", "niqe", "stlpips")

OPTIONS = """\
name: conventions
model_type: sr
scale: 2
num_gpu: 0
manual_seed: 4
datasets:
  train: {{type: GTOnlyDataset, dataroot_gt: {root}/HR, gt_size: 16, batch_size_per_gpu: 2}}
  val: {{name: held, type: PairedImageDataset, dataroot_gt: {root}/HR, dataroot_lq: {root}/LR, filename_tmpl: '{{}}x2'}}
network_g: {{type: MSRResNet, num_feat: 8, num_block: 1, upscale: 2}}
path: {{pretrain_network_g: {root}/start.pth}}
train:
  optim_g: {{type: Adam, lr: 1.0e-30}}
  total_iter: 1
  pixel_opt: {{type: L1Loss}}
val:
  val_freq: 1
  metrics:
    psnr: {{type: calculate_psnr}}
    ssim: {{type: calculate_ssim}}
    niqe: {{type: calculate_niqe}}
    stlpips: {{type: calculate_stlpips}}
"""


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """The same model and set, scored by the training run's validation, evaluate.py and the sweep."""
    root = tmp_path_factory.mktemp("conventions")
    rng = np.random.default_rng(0)
    for i in range(2):  # NIQE needs two 96x96 blocks after the border crop
        small = rng.uniform(0.1, 0.9, (26, 50, 3))
        hr = np.round(np.kron(small, np.ones((4, 4, 1))) * 255).astype(np.uint8)  # 104 x 200
        save_image(root / "HR" / f"im{i}.png", hr.astype(np.float32) / 255)
        save_image(root / "LR" / f"im{i}x2.png", imresize_int(hr, 0.5).astype(np.float32) / 255)
    torch.manual_seed(0)
    torch.save({"params": MSRResNet(num_feat=8, num_block=1, upscale=2).state_dict()}, root / "start.pth")
    path = root / "conventions.yml"
    path.write_text(OPTIONS.format(root=root))
    opt = load_options(path, root=root)
    training = train(opt, progress=False).metrics["held"]

    weights, param_key = final_generator(opt)
    out = root / "scores.json"
    assert evaluate_main(["--model", str(weights), "--lr", str(root / "LR"), "--gt", str(root / "HR"), "--scale", "2",
                          "--name", "held", "--metrics", ",".join(METRIC_NAMES), "--device", "cpu",
                          "--json", str(out)]) == 0
    evaluated = json.loads(out.read_text())["datasets"]["held"]["mean"]

    upscale, scale = model_upscaler(weights=weights, opt=opt, param_key=param_key)
    sweep = Evaluation(datasets_from_options(opt), list(METRIC_NAMES), scale).run(upscale)["datasets"]["held"]["mean"]
    return training, evaluated, sweep


@pytest.mark.parametrize("metric", METRIC_NAMES)
def test_training_validation_evaluate_and_sweep_agree(scored, metric):
    training, evaluated, sweep = scored
    assert training[metric] == pytest.approx(evaluated[metric], rel=1e-9)
    assert sweep[metric] == pytest.approx(evaluated[metric], rel=1e-9)


def test_val_metrics_entries_get_the_table_unless_they_say_otherwise():
    plan = {m.key: m.kwargs for m in metric_plan(
        {"psnr": {"type": "calculate_psnr"}, "niqe": {"type": "calculate_niqe", "crop_border": 0}}, scale=4)}
    assert plan == {"psnr": {"crop_border": 4, "test_y_channel": True}, "niqe": {"crop_border": 0}}
    names = {m.key: m.kwargs for m in metric_plan("psnr,niqe,lpips", scale=3)}
    assert names == {"psnr": {"crop_border": 3, "test_y_channel": True}, "niqe": {"crop_border": 3}, "lpips": {}}
    assert set(CONVENTIONS) >= {"calculate_psnr", "calculate_ssim", "calculate_niqe", "calculate_lpips"}


def test_a_val_metrics_entry_says_which_value_is_best_else_the_metric_does():
    from srgan_kit.eval.conventions import Scorer

    given = Scorer({"psnr": {"type": "calculate_psnr"}, "lpips": {"type": "calculate_lpips", "better": "higher"},
                    "niqe": {"type": "calculate_niqe"}}, scale=4)
    assert given.header()["better"] == {"psnr": "higher", "lpips": "higher", "niqe": "lower"}
    assert Scorer("psnr,lpips", scale=4).header()["better"] == {"psnr": "higher", "lpips": "lower"}
