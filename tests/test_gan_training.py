"""GAN training: the G/D sub-steps and their isolation, the n_critic / warm-up schedule, clipping, every
gan_type and discriminator in short runs, resume of D, options ('gan', SRGANModel, ESRGANModel) and logging.

Runs use a tiny MSRResNet (num_feat 8, 1 block, x2), tiny discriminators, and a tiny registered VGG-like
perceptual backbone whose weights are written to tmp_path (the same code path as VGG19 / stlpips_vgg).
"""
import copy
import warnings

import numpy as np
import pytest
import torch
import yaml
from conftest import TINY_VGG, tiny_vgg_weights

from srgan_kit.config.engine import optional_fields
from srgan_kit.archs.discriminators import (MultiScalePatchGAN, PatchGANDiscriminator, UNetDiscriminatorSN,
                                          VGGStyleDiscriminator)
from srgan_kit.data.imageio import save_image
from srgan_kit.errors import OptionError
from srgan_kit.losses.adversarial import GANLoss
from srgan_kit.losses.feature_matching import FeatureMatchingLoss
from srgan_kit.config.options import OptionWarning, load_options
from srgan_kit.models.gan import GANStep
from srgan_kit.training.optim import MultiStepRestartLR
from srgan_kit.training.runtime import Runtime
from srgan_kit.registry import MODEL_TYPES
from srgan_kit.training.trainer import build_dataset, train


UNET = {"type": "UNetDiscriminatorSN", "num_feat": 8}
PATCH = {"type": "PatchGANDiscriminator", "num_feat": 8}  # 3 layers: needs crops of 32 or more
MULTI = {"type": "MultiScalePatchGAN", "num_feat": 4, "num_layers": 1, "num_scales": 2}
VGG = {"type": "VGGStyleDiscriminator", "num_feat": 4, "input_size": 128}
GAN_TYPES = ["vanilla", "lsgan", "wgan", "wgan_gp", "hinge", "softplus"]
G_KEYS = {"l_g_pix", "l_g_percep", "l_g_style", "l_g_gan", "l_g_fm"}
D_KEYS = {"l_d_real", "l_d_fake", "out_d_real", "out_d_fake", "d_acc_real", "d_acc_fake", "out_d_std"}


def _smooth_image(rng, size):
    """Blurred noise: some structure for D to look at, at any size."""
    small = rng.uniform(0.1, 0.9, (size // 4, size // 4, 3)).astype(np.float32)
    return np.kron(small, np.ones((4, 4, 1), np.float32))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("gan")
    rng = np.random.default_rng(0)
    for folder, size, count in (("gt", 32, 4), ("gt128", 128, 2)):
        for i in range(count):
            save_image(root / "data" / folder / f"{folder}_{i}.png", _smooth_image(rng, size))
    tiny_vgg_weights(root / "tiny_vgg.pth")
    return root


def base(root, name="gan"):
    """A complete GAN option dict with every generator term (pixel, perceptual + style, GAN, FM)."""
    return {
        "name": name,
        "model_type": "gan",
        "scale": 2,
        "num_gpu": 0,
        "manual_seed": 5,
        "datasets": {"train": {"name": "tiny", "type": "GTOnlyDataset", "dataroot_gt": "data/gt", "gt_size": 16,
                               "use_hflip": True, "use_rot": True, "batch_size_per_gpu": 2,
                               "num_worker_per_gpu": 0}},
        "network_g": {"type": "MSRResNet", "num_feat": 8, "num_block": 1, "upscale": 2},
        "network_d": dict(UNET),
        "train": {
            "ema_decay": 0.9,
            "optim_g": {"type": "Adam", "lr": 1e-3, "betas": [0.9, 0.99]},
            "optim_d": {"type": "Adam", "lr": 1e-3, "betas": [0.9, 0.99]},
            "total_iter": 3,
            "pixel_opt": {"type": "L1Loss", "loss_weight": 1e-2},
            "perceptual_opt": {"type": "PerceptualLoss", "vgg_type": TINY_VGG, "style_weight": 0.5,
                               "layer_weights": {"conv1_1": 0.5, "relu2_1": 1.0},
                               "pretrained_path": str(root / "tiny_vgg.pth")},
            "gan_opt": {"type": "GANLoss", "gan_type": "vanilla", "loss_weight": 5e-3},
            "feature_matching_opt": {"loss_weight": 0.1},
        },
        "logger": {"print_freq": 1, "save_checkpoint_freq": 100},
    }


def resolve(root, data, *overrides):
    path = root / f"{data['name']}.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with warnings.catch_warnings():
        warnings.simplefilter("error", OptionWarning)  # a GAN file must not leave keys unused
        return load_options(path, overrides=list(overrides), root=root)


def option_error(root, data, *overrides):
    with pytest.raises(OptionError) as info:
        resolve(root, data, *overrides)
    return str(info.value)


def make_step(root, data):
    torch.manual_seed(0)
    return GANStep(resolve(root, data), Runtime())


def tiny_batch(size=16, seed=1):
    g = torch.Generator().manual_seed(seed)
    return {"lq": torch.rand(2, 3, size // 2, size // 2, generator=g), "gt": torch.rand(2, 3, size, size, generator=g)}


def snapshot(net):
    return {name: p.detach().clone() for name, p in net.named_parameters()}


def changed(before, net):
    return [name for name, p in net.named_parameters() if not torch.equal(before[name], p.detach())]


def load_pth(path, key="params"):
    return torch.load(path, map_location="cpu", weights_only=True)[key]


# ------------------------------------------------------------------------------ sub-step isolation


@pytest.mark.parametrize("gan_opt", [
    {"type": "GANLoss", "gan_type": "vanilla", "relativistic": "average"},
    {"type": "GANLoss", "gan_type": "wgan_gp"},
])
def test_g_step_leaves_d_alone_and_d_step_leaves_g_alone(workdir, gan_opt):
    data = base(workdir)
    data["train"]["gan_opt"] = gan_opt
    data["train"]["gan_opt"]["loss_weight"] = 1.0  # a strong adversarial pull on G
    step = make_step(workdir, data)
    batch = tiny_batch()

    d_before, g_before = snapshot(step.net_d), snapshot(step.net_g)
    output, g_update, _ = step.generator_step(batch["lq"], batch["gt"])
    assert changed(g_before, step.net_g) == []  # backpropagated, not stepped yet
    g_losses = step.apply(g_update)
    assert changed(g_before, step.net_g)  # G stepped
    assert changed(d_before, step.net_d) == []  # D's parameters untouched...
    assert all(p.grad is None for p in step.net_d.parameters())  # ...and given no gradient
    assert not output.requires_grad and set(g_losses) == G_KEYS

    g_after, d_before = snapshot(step.net_g), snapshot(step.net_d)
    g_grads = {n: p.grad.clone() for n, p in step.net_g.named_parameters()}
    d_losses = step.apply(step.discriminator_step(batch["gt"], output))
    assert changed(d_before, step.net_d)  # D stepped
    assert changed(g_after, step.net_g) == []  # G untouched, its gradients from the G step unchanged
    assert all(torch.equal(g_grads[n], p.grad) for n, p in step.net_g.named_parameters())
    assert set(d_losses) == D_KEYS | ({"l_d_gp"} if gan_opt["gan_type"] == "wgan_gp" else set())

    # From cleared gradients, a D step (fed a fake that still carries G's graph) gives G none.
    step.optimizers["g"].zero_grad(set_to_none=True)
    fake = step.net_g(batch["lq"])
    assert fake.requires_grad
    step.apply(step.discriminator_step(batch["gt"], fake))
    assert all(p.grad is None for p in step.net_g.parameters())
    assert all(p.requires_grad for p in step.net_d.parameters())  # D trainable again after its step


def test_n_critic_and_warm_up_schedule_over_ten_iterations(workdir):
    data = base(workdir)
    data["train"].update(net_d_iters=2, net_d_init_iters=3)
    step = make_step(workdir, data)
    batch = tiny_batch()
    g_iters, d_iters = [], []
    for it in range(1, 11):
        g_before, d_before = snapshot(step.net_g), snapshot(step.net_d)
        losses = step.run(batch, it)
        if changed(g_before, step.net_g):
            g_iters.append(it)
            assert G_KEYS <= set(losses)
        else:
            assert not G_KEYS & set(losses)  # only the losses computed this iteration are reported
        if changed(d_before, step.net_d):
            d_iters.append(it)
        assert D_KEYS <= set(losses)
    assert g_iters == [4, 6, 8, 10]  # it % 2 == 0 and it > 3
    assert d_iters == list(range(1, 11))
    adam_steps = {k: int(next(iter(o.state.values()))["step"]) for k, o in step.optimizers.items()}
    assert adam_steps == {"g": 4, "d": 10}


def test_pretrained_discriminator_and_separate_schedulers(workdir):
    torch.manual_seed(11)
    d = UNetDiscriminatorSN(num_feat=8)
    torch.save({"params": d.state_dict()}, workdir / "pre_d.pth")
    data = base(workdir)
    data["path"] = {"pretrain_network_d": "pre_d.pth"}
    data["train"]["scheduler"] = {"type": "MultiStepLR", "milestones": [2], "gamma": 0.5}
    step = make_step(workdir, data)
    step.load_pretrained()
    for name, value in d.state_dict().items():
        assert torch.equal(step.net_d.state_dict()[name], value)
    assert set(step.schedulers) == {"g", "d"} and step.schedulers["g"] is not step.schedulers["d"]
    assert all(isinstance(s, MultiStepRestartLR) for s in step.schedulers.values())
    assert step.schedulers["d"].optimizer is step.optimizers["d"]
    # train.scheduler_d overrides the shared schedule for D only.
    data["train"]["scheduler_d"] = {"type": "CosineAnnealingRestartLR", "periods": [10]}
    step = make_step(workdir, data)
    assert type(step.schedulers["d"]).__name__ == "CosineAnnealingRestartLR"
    assert isinstance(step.schedulers["g"], MultiStepRestartLR)


# -------------------------------------------------------------------------------------------- runs


def full_run(root, data):
    """A short run through the trainer: every term logged, and G and D still moving at its last iteration."""
    data["logger"]["save_checkpoint_freq"] = 1
    result = train(resolve(root, data), progress=False)
    last = data["train"]["total_iter"]
    assert result.iteration == last and G_KEYS | D_KEYS <= set(result.losses), result.losses
    models = root / "experiments" / data["name"] / "models"
    for net in ("net_g", "net_d"):
        before, after = load_pth(models / f"{net}_{last - 1}.pth"), load_pth(models / f"{net}_{last}.pth")
        assert any(not torch.equal(before[k], after[k]) for k in after if after[k].is_floating_point())
    return result


@pytest.mark.parametrize("relativistic", ["none", "average"])
@pytest.mark.parametrize("gan_type", GAN_TYPES)
def test_d_steps_separate_real_from_fake_logits_for_every_gan_type(workdir, gan_type, relativistic):
    """Ten D-only iterations (warm-up) on one batch: D's mean logit on real images rises above its mean logit on
    the generator's output, for every loss and relativistic mode."""
    data = base(workdir)
    data["train"]["gan_opt"] = {"type": "GANLoss", "gan_type": gan_type, "relativistic": relativistic}
    data["train"]["net_d_init_iters"] = 10
    step = make_step(workdir, data)
    batch = tiny_batch()
    gaps = []
    for it in range(1, 11):
        losses = step.run(batch, it)
        gaps.append(losses["out_d_real"] - losses["out_d_fake"])
        assert ("l_d_gp" in losses) == (gan_type == "wgan_gp")
    assert gaps[-1] > max(gaps[0], 0.0), gaps


@pytest.mark.parametrize("net_d", [UNET, PATCH, VGG, MULTI], ids=["unet", "patchgan", "vgg", "multiscale"])
def test_three_iterations_with_every_discriminator_and_relativistic_vanilla(workdir, net_d):
    data = base(workdir, f"ra_{net_d['type']}")
    data["network_d"] = dict(net_d)
    data["train"]["gan_opt"]["relativistic"] = "average"
    if net_d in (PATCH, MULTI):
        data["datasets"]["train"]["gt_size"] = 32
    if net_d is VGG:
        data["datasets"]["train"].update(dataroot_gt="data/gt128", gt_size=128, use_rot=False)
    full_run(workdir, data)
    run = workdir / "experiments" / data["name"]
    assert set(torch.load(run / "models" / "net_d_3.pth", weights_only=True)) == {"params"}


def test_weight_clipping_holds_after_every_d_step_of_a_run(workdir):
    c = 0.01
    data = base(workdir, "clip")
    data["network_d"] = dict(PATCH)  # BatchNorm weights start at 1: far outside [-c, c]
    data["datasets"]["train"]["gt_size"] = 32
    data["train"]["gan_opt"] = {"type": "GANLoss", "gan_type": "wgan"}
    data["train"]["d_clip"] = c
    data["train"]["total_iter"] = 2
    data["logger"]["save_checkpoint_freq"] = 1
    train(resolve(workdir, data), progress=False)
    for it in (1, 2):
        d = PatchGANDiscriminator(num_feat=8)
        d.load_state_dict(load_pth(workdir / "experiments" / "clip" / "models" / f"net_d_{it}.pth"))
        values = torch.cat([p.detach().flatten() for p in d.parameters()])
        assert values.abs().max() <= c
        assert (values.abs() == c).any()  # the clamp did something


def test_gan_resume_restores_d_its_optimiser_and_scheduler(workdir):
    def options(name, total):
        data = base(workdir, name)
        data["train"].update(total_iter=total, net_d_iters=2)
        data["train"]["gan_opt"] = {"type": "GANLoss", "gan_type": "wgan_gp"}  # random interpolates: RNG too
        data["train"]["scheduler"] = {"type": "MultiStepLR", "milestones": [4], "gamma": 0.5}
        data["logger"]["save_checkpoint_freq"] = 3
        return resolve(workdir, data)

    straight = train(options("straight", 6), progress=False)
    first = train(options("split", 3), progress=False)
    state = torch.load(workdir / "experiments" / "split" / "training_states" / "3.state", weights_only=True)
    assert first.iteration == 3 and set(state["step"]["optimizers"]) == set(state["step"]["schedulers"]) == {"g", "d"}
    resumed = train(options("split", 6), auto_resume=True, progress=False)

    assert resumed.start_iteration == 3 and resumed.iteration == 6
    assert resumed.lrs == straight.lrs == {"g": pytest.approx(5e-4), "d": pytest.approx(5e-4)}
    assert resumed.losses == straight.losses
    models = {run: workdir / "experiments" / run / "models" for run in ("straight", "split")}
    for file, key in (("net_d_6.pth", "params"), ("net_g_6.pth", "params"), ("net_g_6.pth", "params_ema")):
        a, b = load_pth(models["straight"] / file, key), load_pth(models["split"] / file, key)
        for name in a:
            torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-7)
    states = [torch.load(workdir / "experiments" / run / "training_states" / "6.state", weights_only=True)["step"]
              for run in ("straight", "split")]
    assert states[0]["schedulers"]["d"] == states[1]["schedulers"]["d"]
    opt_a, opt_b = states[0]["optimizers"]["d"]["state"], states[1]["optimizers"]["d"]["state"]
    assert opt_a.keys() == opt_b.keys()
    for index in opt_a:
        for name in ("step", "exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(opt_a[index][name], opt_b[index][name], rtol=0, atol=1e-7)


def test_gan_losses_reach_the_log_file_progress_bar_and_tensorboard(workdir, capsys):
    data = base(workdir, "logged")
    data["train"]["gan_opt"] = {"type": "GANLoss", "gan_type": "wgan_gp"}
    data["train"]["total_iter"] = 2
    data["logger"]["use_tb_logger"] = True
    train(resolve(workdir, data), progress=True)
    keys = G_KEYS | D_KEYS | {"l_d_gp"}
    run = workdir / "experiments" / "logged"
    last = [line for line in next(run.glob("train_logged_*.log")).read_text().splitlines() if "iter:" in line][-1]
    assert all(f" {key}: " in last for key in keys), last
    assert "lr:(g=1.000e-03,d=1.000e-03)" in last
    bar = capsys.readouterr().err
    assert all(f"{key}=" in bar for key in keys), bar
    events = next((run / "tb_logger").glob("events.out.tfevents.*")).read_bytes()
    assert all(f"losses/{key}".encode() in events for key in keys)
    assert b"lr/d" in events


# ------------------------------------------------------------------------------- feature matching


@pytest.mark.parametrize("make_d, size", [
    (lambda: VGGStyleDiscriminator(num_feat=4), 128),
    (lambda: PatchGANDiscriminator(num_feat=8), 32),
    (lambda: UNetDiscriminatorSN(num_feat=8), 16),
    (lambda: MultiScalePatchGAN(num_feat=4, num_layers=1, num_scales=2), 32),
], ids=["vgg", "patchgan", "unet", "multiscale"])
def test_feature_matching_is_the_mean_l1_over_depths_for_every_discriminator(make_d, size):
    torch.manual_seed(0)
    d = make_d().eval()
    real, fake = torch.rand(1, 3, size, size), torch.rand(1, 3, size, size, requires_grad=True)
    _, fake_feats = d(fake, return_features=True)
    with torch.no_grad():
        _, real_feats = d(real, return_features=True)
    assert len(fake_feats) >= 3
    want = sum((f - r).abs().mean() for f, r in zip(fake_feats, real_feats)) / len(fake_feats)
    got = FeatureMatchingLoss(loss_weight=0.5)(fake_feats, real_feats)
    torch.testing.assert_close(got, 0.5 * want)
    picked = FeatureMatchingLoss(layers=[0, -1], criterion="l2")(fake_feats, real_feats)
    torch.testing.assert_close(picked, ((fake_feats[0] - real_feats[0]) ** 2).mean() / 2
                               + ((fake_feats[-1] - real_feats[-1]) ** 2).mean() / 2)
    got.backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    with pytest.raises(OptionError, match=r"^layers: \[99\] out of range"):
        FeatureMatchingLoss(layers=[99])(fake_feats, real_feats)


# ---------------------------------------------------------------------------------------- options


def test_gan_without_network_d_or_gan_opt_is_refused(workdir):
    data = base(workdir)
    del data["network_d"]
    assert "network_d: missing required section (GAN training needs a discriminator" in option_error(workdir, data)
    data = base(workdir)
    del data["train"]["gan_opt"]
    assert "train.gan_opt: missing required section" in option_error(workdir, data)
    data["train"]["gan_opt"] = {"type": "L1Loss"}
    assert "train.gan_opt.type: expected GANLoss" in option_error(workdir, data)


@pytest.mark.parametrize("key, value, words", [("gp_weight", -1, "must be >= 0, got -1"),
                                              ("reg_every", 0, "must be >= 1, got 0")])
def test_gan_loss_ranges_are_refused_at_load_time_by_the_loss_itself(workdir, key, value, words):
    data = base(workdir)
    data["train"]["gan_opt"][key] = value
    msg = option_error(workdir, data)
    assert msg.endswith(f"train.gan_opt.{key}: {words}"), msg
    with pytest.raises(OptionError, match=f"^{key}: {words}$"):
        GANLoss(**{key: value})


def test_clipping_with_gradient_penalty_is_refused_at_load_time(workdir):
    data = base(workdir)
    data["train"]["gan_opt"]["gan_type"] = "wgan_gp"
    data["train"]["d_clip"] = 0.01
    msg = option_error(workdir, data)
    assert "train.d_clip" in msg and "gradient penalty" in msg and "never combined" in msg
    data["train"]["gan_opt"]["gan_type"] = "wgan"
    assert resolve(workdir, data)["train"]["d_clip"] == 0.01
    msg = option_error(workdir, data, "train.gan_opt.gan_type=wgan_gp")  # --set goes through the same check
    assert "train.d_clip" in msg and "gradient penalty" in msg


@pytest.mark.parametrize("model_type, relativistic", [("ESRGANModel", "average"), ("SRGANModel", None),
                                                      ("gan", None)])
def test_esrgan_alias_implies_relativistic_average(workdir, model_type, relativistic):
    data = base(workdir)
    data["model_type"] = model_type
    opt = resolve(workdir, data)
    assert opt["model_type"] == "gan" and MODEL_TYPES.get(model_type).step is GANStep
    assert opt["train"]["gan_opt"].get("relativistic") == relativistic
    data["train"]["gan_opt"]["relativistic"] = "standard"  # an explicit choice is kept
    assert resolve(workdir, data)["train"]["gan_opt"]["relativistic"] == "standard"


def test_default_weights_come_from_the_loss_classes(workdir):
    data = base(workdir)
    del data["train"]["pixel_opt"]["loss_weight"]
    del data["train"]["gan_opt"]["loss_weight"]
    data["train"]["feature_matching_opt"] = {}
    opt = resolve(workdir, data)
    train_opt = opt["train"]
    assert (train_opt["net_d_iters"], train_opt["net_d_init_iters"], train_opt["d_clip"]) == (1, 0, None)
    assert opt["path"]["param_key_d"] == "params" and opt["path"]["strict_load_d"] is True
    terms = dict(GANStep(opt, Runtime()).objective.terms)
    assert terms["train.pixel_opt"].loss_weight == 1.0
    assert terms["train.perceptual_opt"].perceptual_weight == 1.0
    assert terms["train.gan_opt"].loss_weight == 1e-3
    fm = terms["train.feature_matching_opt"]
    assert (fm.loss_weight, fm.criterion_type, fm.layers) == (1.0, "l1", None)


def test_every_term_but_the_adversarial_one_can_be_left_out(workdir):
    data = base(workdir)
    for key in ("pixel_opt", "perceptual_opt", "feature_matching_opt"):
        data["train"].pop(key, None)
    step = GANStep(resolve(workdir, data), Runtime())
    assert [key for key, _module in step.objective.terms] == ["train.gan_opt"]
    assert set(step.run(tiny_batch(), 1)) == {"l_g_gan"} | D_KEYS


@pytest.mark.parametrize("change, words", [
    (("train", "gan_opt", "gan_type", "vanila"), "train.gan_opt.gan_type: expected one of 'vanilla'"),
    (("train", "gan_opt", "relativistic", "avg"), "train.gan_opt.relativistic: expected one of 'none'"),
    (("train", "net_d_iters", 0), "train.net_d_iters: expected an integer > 0"),
    (("train", "d_clip", -1), "train.d_clip: expected a number >= 0"),
    (("train", "feature_matching_opt", "criterion", "fro"), "train.feature_matching_opt.criterion: expected one"),
    (("train", "optim_d", "lr", 0), "train.optim_d.lr: expected a number > 0"),
    (("network_d", "input_size", 128), "network_d.input_size: unknown key"),  # U-Net has no fixed size
])
def test_gan_keys_are_validated_with_their_key_paths(workdir, change, words):
    data = base(workdir)
    *keys, value = change
    target = data
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    assert words in option_error(workdir, data)


def test_vgg_discriminator_size_must_match_the_crops(workdir):
    data = base(workdir)
    data["network_d"] = dict(VGG)
    msg = option_error(workdir, data)
    assert "datasets.train.gt_size: 16 does not match network_d.input_size 128" in msg


def test_gan_schema_defaults_are_valid_and_sr_still_warns_about_gan_keys(workdir):
    for field in optional_fields(MODEL_TYPES.get("gan").schema(True)):
        assert field.coerce(copy.deepcopy(field.default)) == field.default
    data = base(workdir)
    data["model_type"] = "sr"
    path = workdir / "sr.yml"
    path.write_text(yaml.safe_dump(data))
    with pytest.warns(OptionWarning):
        opt = load_options(path, root=workdir)
    warned = sorted(text.split(": ")[1] for text in opt["_warnings"])
    assert warned == ["network_d", "train.feature_matching_opt", "train.gan_opt", "train.optim_d"]


# Our own text with the structure and keys of BasicSR's options/train/ESRGAN/train_ESRGAN_x4.yml.
BASICSR_ESRGAN = """\
name: 052_ESRGAN_x4_f64b23_DIV2K_400k_B16G1_051pretrain_wandb
model_type: ESRGANModel
scale: 4
num_gpu: 1
manual_seed: 0
datasets:
  train:
    name: DIV2K
    type: PairedImageDataset
    dataroot_gt: data/hr
    dataroot_lq: data/lr
    filename_tmpl: '{}'
    io_backend: {type: disk}
    gt_size: 128
    use_hflip: true
    use_rot: true
    num_worker_per_gpu: 6
    batch_size_per_gpu: 16
network_g: {type: RRDBNet, num_in_ch: 3, num_out_ch: 3, num_feat: 64, num_block: 23, num_grow_ch: 32}
network_d: {type: VGGStyleDiscriminator, num_in_ch: 3, num_feat: 64}
path:
  pretrain_network_g: experiments/051_RRDBNet_PSNR_x4/models/net_g_1000000.pth
  strict_load_g: true
  resume_state: ~
train:
  ema_decay: 0.999
  optim_g: {type: Adam, lr: !!float 1e-4, weight_decay: 0, betas: [0.9, 0.99]}
  optim_d: {type: Adam, lr: !!float 1e-4, weight_decay: 0, betas: [0.9, 0.99]}
  scheduler: {type: MultiStepLR, milestones: [50000, 100000, 200000, 300000], gamma: 0.5}
  total_iter: 400000
  warmup_iter: -1
  pixel_opt: {type: L1Loss, loss_weight: !!float 1e-2, reduction: mean}
  perceptual_opt:
    type: PerceptualLoss
    layer_weights: {'conv5_4': 1}
    vgg_type: vgg19
    use_input_norm: true
    range_norm: false
    perceptual_weight: 1.0
    style_weight: 0
    criterion: l1
  gan_opt: {type: GANLoss, gan_type: vanilla, real_label_val: 1.0, fake_label_val: 0.0, loss_weight: !!float 5e-3}
  net_d_iters: 1
  net_d_init_iters: 0
logger: {print_freq: 100, save_checkpoint_freq: !!float 5e3, use_tb_logger: true}
"""


def test_a_basicsr_esrgan_file_loads_without_warnings(tmp_path):
    path = tmp_path / "esrgan.yml"
    path.write_text(BASICSR_ESRGAN)
    with warnings.catch_warnings():
        warnings.simplefilter("error", OptionWarning)
        opt = load_options(path, root=tmp_path, check_paths=False)
    train_opt = opt["train"]
    assert opt["model_type"] == "gan" and train_opt["gan_opt"]["relativistic"] == "average"
    assert train_opt["gan_opt"]["loss_weight"] == 5e-3 and train_opt["pixel_opt"]["loss_weight"] == 1e-2
    assert train_opt["optim_d"] == {"type": "Adam", "lr": 1e-4, "weight_decay": 0, "betas": [0.9, 0.99]}
    assert opt["path"]["pretrain_network_d"] is None and opt["path"]["param_key_d"] == "params"


def test_r1_r2_penalties_are_logged_on_their_lazy_iterations_only(workdir):
    data = base(workdir, "r3gan")
    data["train"]["gan_opt"] = {"type": "GANLoss", "gan_type": "rpgan", "r1_gamma": 1.0, "r2_gamma": 1.0,
                                "reg_every": 2}
    data["train"]["total_iter"] = 2
    step = GANStep(resolve(workdir, data), Runtime())
    batch = next(iter(torch.utils.data.DataLoader(build_dataset(resolve(workdir, data)["datasets"]["train"],
                                                                "datasets.train"), batch_size=2)))
    first, second = step.run(batch, 1), step.run(batch, 2)
    assert "l_d_r1" not in first and "l_d_r2" not in first
    assert second["l_d_r1"] > 0 and second["l_d_r2"] > 0 and step.skipped == []


def test_adaptive_d_skips_d_while_g_s_smoothed_adversarial_loss_rises():
    from srgan_kit.models.gan import AdaptiveD

    rule = AdaptiveD(ema_decay=0.5, threshold=1.1)
    # EMA 0 -> 0.5 -> 0.75 -> 0.875 (each a rise above 10 %) -> 0.9375 (+7 %) -> 0.71875 (a fall)
    assert [rule.holds_d(loss) for loss in (1, 1, 1, 1, 0.5)] == [True, True, True, False, False]
    assert rule.skipped == 3 and rule.ema == pytest.approx(0.71875)


def test_adaptive_d_leaves_d_unchanged_on_a_held_iteration_and_counts_it(workdir):
    data = base(workdir, "adaptive")
    data["train"]["adaptive_d"] = True  # from an EMA of 0, G's first adversarial loss is a rise: D waits
    step = make_step(workdir, data)
    g, d = snapshot(step.net_g), snapshot(step.net_d)
    values = step.run(tiny_batch(), 1)
    assert changed(g, step.net_g) and not changed(d, step.net_d)
    assert values["d_skipped"] == 1 and step.state_dict()["adaptive_d"]["skipped"] == 1
