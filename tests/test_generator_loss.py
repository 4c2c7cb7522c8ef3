"""The generator's loss is one weighted list of registered terms: BasicSR's named keys (pixel_opt,
perceptual_opt, gan_opt, feature_matching_opt) and ``train.losses`` entries, for every model type."""
import contextlib
import warnings

import pytest
import torch
import yaml
from conftest import TINY_VGG, tiny_vgg_weights, write_photos
from torch import nn

from srgan_kit.config.options import OptionWarning, load_options
from srgan_kit.errors import OptionError
from srgan_kit.losses.objective import GeneratorView
from srgan_kit.losses.perceptual import PerceptualLoss
from srgan_kit.registry import LOSSES, MODEL_TYPES
from srgan_kit.training.runtime import Runtime



class MeanBrightnessLoss(nn.Module):
    """A loss term a user adds: one class, registered, nothing else changes."""

    def __init__(self, loss_weight=1.0):
        super().__init__()
        self.loss_weight = loss_weight

    def generator_terms(self, view):
        return {"bright": self.loss_weight * (view.sr.float().mean() - view.gt.mean()).abs()}


if "MeanBrightnessLoss" not in LOSSES:
    LOSSES.register()(MeanBrightnessLoss)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("objective")
    write_photos(root / "data", 2, 16, 16)
    tiny_vgg_weights(root / "tiny_vgg.pth")
    return root


def sr_options(root, **train):
    return {
        "name": "objective", "model_type": "SRModel", "scale": 2, "num_gpu": 0, "manual_seed": 1,
        "datasets": {"train": {"type": "GTOnlyDataset", "dataroot_gt": "data", "gt_size": 16,
                               "batch_size_per_gpu": 2}},
        "network_g": {"type": "MSRResNet", "num_feat": 8, "num_block": 1, "upscale": 2},
        "train": {"optim_g": {"type": "Adam", "lr": 1e-3}, "total_iter": 2, **train},
    }


def perceptual(root):
    return {"type": "PerceptualLoss", "vgg_type": TINY_VGG, "layer_weights": {"conv1_1": 0.5, "relu2_1": 1.0},
            "perceptual_weight": 0.7, "pretrained_path": str(root / "tiny_vgg.pth")}


def resolve(root, data):
    path = root / "opt.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with warnings.catch_warnings():
        warnings.simplefilter("error", OptionWarning)  # nothing in these files may be ignored
        return load_options(path, root=root)


def build_step(opt):
    torch.manual_seed(0)
    return MODEL_TYPES.get(opt["model_type"]).step(opt, Runtime())


def batch():
    g = torch.Generator().manual_seed(3)
    return {"lq": torch.rand(2, 3, 8, 8, generator=g), "gt": torch.rand(2, 3, 16, 16, generator=g)}


def test_a_basicsr_srmodel_file_with_perceptual_opt_trains_with_the_perceptual_term(workdir):
    opt = resolve(workdir, sr_options(workdir, pixel_opt={"type": "L1Loss"}, perceptual_opt=perceptual(workdir)))
    step = build_step(opt)
    b = batch()
    with torch.no_grad():
        sr = step.net_g(b["lq"])
    reference = PerceptualLoss(**{k: v for k, v in perceptual(workdir).items() if k != "type"})(sr, b["gt"])[0]
    losses = step.run(b, 1)
    assert set(losses) == {"l_pix", "l_percep"}
    assert losses["l_percep"] == pytest.approx(reference.item(), rel=1e-6)


def test_a_new_loss_term_is_one_registered_class(workdir):
    opt = resolve(workdir, sr_options(workdir, losses=[{"type": "MeanBrightnessLoss", "loss_weight": 0.5}]))
    step = build_step(opt)
    b = batch()
    with torch.no_grad():
        sr = step.net_g(b["lq"])
    losses = step.run(b, 1)
    assert set(losses) == {"l_bright"}
    assert losses["l_bright"] == pytest.approx(0.5 * (sr.mean() - b["gt"].mean()).abs().item(), rel=1e-6)


def test_two_terms_of_one_kind_are_both_logged(workdir):
    opt = resolve(workdir, sr_options(workdir, pixel_opt={"type": "L1Loss"},
                                      losses=[{"type": "MSELoss", "loss_weight": 2.0}]))
    step = build_step(opt)
    b = batch()
    with torch.no_grad():
        sr = step.net_g(b["lq"])
    losses = step.run(b, 1)
    assert losses["l_pix"] == pytest.approx(torch.nn.functional.l1_loss(sr, b["gt"]).item(), rel=1e-6)
    assert losses["l_pix_2"] == pytest.approx(2 * torch.nn.functional.mse_loss(sr, b["gt"]).item(), rel=1e-6)


def test_a_term_that_needs_a_discriminator_is_refused_without_one(workdir):
    opt = resolve(workdir, sr_options(workdir, losses=[{"type": "GANLoss"}]))
    with pytest.raises(OptionError, match=r"^train\.losses\.0: GANLoss needs a discriminator"):
        build_step(opt)


def test_the_adversarial_term_is_proportional_to_its_weight(workdir):
    """l_g_gan for weights 1e-3 and 1e-1 on the same networks and batch: exactly 100x apart."""
    values = []
    for weight in (1e-3, 1e-1):
        data = sr_options(workdir, pixel_opt={"type": "L1Loss"},
                          gan_opt={"type": "GANLoss", "gan_type": "vanilla", "loss_weight": weight},
                          optim_d={"type": "Adam", "lr": 1e-3})
        data.update(model_type="gan", network_d={"type": "PatchGANDiscriminator", "num_feat": 4, "num_layers": 2})
        step = build_step(resolve(workdir, data))
        b = batch()
        with torch.no_grad():
            view = GeneratorView(step.net_g(b["lq"]), b["gt"], contextlib.nullcontext, step._discriminate)
            values.append(step.objective(view)["gan"].item())
    assert values[1] == pytest.approx(100 * values[0], rel=1e-6) and values[0] > 0
