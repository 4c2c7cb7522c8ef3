"""Speed options (train.amp, train.channels_last, train.compile) and the GAN step's shared D forwards: each keeps
what the fp32 step computes, and each is refused or falls back with one clear line where it cannot run."""
import warnings

import numpy as np
import pytest
import torch
import yaml
from conftest import write_photos

import srgan_kit.device as device_module
from srgan_kit.config.options import load_options
from srgan_kit.device import resolve_precision
from srgan_kit.errors import OptionError
from srgan_kit.losses.objective import GeneratorView
from srgan_kit.models.gan import GANStep
from srgan_kit.training.runtime import CompileFallback, Runtime
from srgan_kit.training.trainer import train

GAN_TYPES = ["vanilla", "lsgan", "wgan", "wgan_gp", "hinge", "softplus"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("speed")
    write_photos(root / "data", 2, 32, 32, block=4)
    return root


def gan_options(root, name="speed", **train):
    return {
        "name": name, "model_type": "gan", "scale": 2, "num_gpu": 0, "manual_seed": 3,
        "datasets": {"train": {"type": "GTOnlyDataset", "dataroot_gt": "data", "gt_size": 32,
                               "batch_size_per_gpu": 2}},
        "network_g": {"type": "MSRResNet", "num_feat": 8, "num_block": 1, "upscale": 2},
        "network_d": {"type": "PatchGANDiscriminator", "num_feat": 8, "num_layers": 2},
        "train": {"optim_g": {"type": "Adam", "lr": 1e-3}, "optim_d": {"type": "Adam", "lr": 1e-3},
                  "total_iter": 2, "pixel_opt": {"type": "L1Loss"},
                  "gan_opt": {"type": "GANLoss", "gan_type": "vanilla", "relativistic": "average",
                              "loss_weight": 0.1},
                  "feature_matching_opt": {"loss_weight": 0.1}, **train},
        "logger": {"print_freq": 1, "save_checkpoint_freq": 100},
    }


def resolve(root, data):
    path = root / f"{data['name']}.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_options(path, root=root)


def make_step(opt):
    torch.manual_seed(0)
    return GANStep(opt, Runtime.from_options(opt))


def batch():
    g = torch.Generator().manual_seed(1)
    return {"lq": torch.rand(2, 3, 16, 16, generator=g), "gt": torch.rand(2, 3, 32, 32, generator=g)}


def _grads(step):
    return {f"{net}.{k}": p.grad for net in ("g", "d") for k, p in getattr(step, f"net_{net}").named_parameters()}


def params(step):
    return {f"{net}.{k}": v.detach().clone() for net in ("g", "d")
            for k, v in getattr(step, f"net_{net}").state_dict().items()}


# ------------------------------------------------------------------------------------------- precision


def test_auto_is_bf16_where_the_cpu_runs_it_natively_else_fp32(monkeypatch):
    monkeypatch.setattr(device_module, "_cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    assert resolve_precision("auto", "cpu") is torch.bfloat16
    monkeypatch.setattr(device_module, "_cpu_flags", lambda: {"avx512f"})
    assert resolve_precision("auto", "cpu") is None
    assert resolve_precision("bf16", "cpu") is torch.bfloat16 and resolve_precision("fp32", "cpu") is None


def test_fp16_on_a_cpu_is_refused_with_one_line_before_anything_is_written(workdir):
    opt = resolve(workdir, gan_options(workdir, "fp16", amp="fp16"))
    with pytest.raises(OptionError) as info:
        train(opt, progress=False)
    message = str(info.value)
    assert message.startswith(f"{opt['_file']}: train.amp: fp16 needs a CUDA device") and "\n" not in message
    assert not (workdir / "experiments" / "fp16").exists()


def test_channels_last_gives_the_fp32_step_s_numbers(workdir):
    # Gradients, not weights after Adam: the relativistic loss leaves D's output bias a gradient of exactly
    # zero, which Adam would turn into a +-lr step from the sign of the rounding noise.
    steps = [make_step(resolve(workdir, gan_options(workdir, channels_last=flag))) for flag in (False, True)]
    for step in steps:
        for it in (1, 2):
            step.run(batch(), it)
    plain, fast = (_grads(s) for s in steps)  # the second iteration's, from weights after one update
    for key in plain:
        torch.testing.assert_close(fast[key], plain[key], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("gan_type", GAN_TYPES)
def test_bf16_steps_stay_finite_and_near_fp32_with_fp32_weights(workdir, gan_type):
    results = []
    for amp in ("fp32", "bf16"):
        data = gan_options(workdir, amp=amp, channels_last=amp == "bf16")
        data["train"]["gan_opt"]["gan_type"] = gan_type
        step = make_step(resolve(workdir, data))
        losses = [step.run(batch(), it) for it in (1, 2)]
        assert all(np.isfinite(v) for it_losses in losses for v in it_losses.values()), losses
        assert all(p.dtype == torch.float32 for p in params(step).values() if p.is_floating_point())
        results.append(losses[0])
    fp32, bf16 = results
    assert bf16["l_g_pix"] == pytest.approx(fp32["l_g_pix"], rel=0.02)


# ------------------------------------------------------------------------------------------- shared D forwards


def _counting_forwards(step):
    calls = []
    net = step.runtime.bare(step.net_d)
    net.register_forward_hook(lambda *_: calls.append(1))
    return calls


def _basicsr_order_gradients(step, data):
    """BasicSR's ESRGANModel order on the step's networks and losses, without updating: G's loss with D frozen
    (D(real) for G's terms computed without a graph), then D's loss with D(real) and D(output.detach())
    computed again. Returns {'g.<name>' / 'd.<name>': gradient}."""
    for p in step.net_d.parameters():
        p.requires_grad_(False)
    output = step.net_g(data["lq"])
    real = step._discriminate(data["gt"], no_graph=True, features=step.objective.needs_features)
    view = GeneratorView(output, data["gt"], step.runtime.autocast, step._discriminate,
                         step.objective.needs_features, real=real)
    sum(step.objective(view).values()).backward()
    for p in step.net_d.parameters():
        p.requires_grad_(True)
    sum(step.cri_gan.d_loss(step.net_d(data["gt"]), step.net_d(output.detach()))).backward()
    return _grads(step)


def _relative_difference(a, b, net):
    keys = [k for k in a if k.startswith(net + ".")]
    va, vb = (torch.cat([grads[k].flatten() for k in keys]) for grads in (a, b))
    return float((va - vb).norm() / vb.norm())


@pytest.mark.parametrize("d_type", ["PatchGANDiscriminator", "UNetDiscriminatorSN"])
def test_one_d_real_and_one_d_fake_serve_both_steps_with_basicsrs_gradients(workdir, d_type):
    """Against BasicSR's order at fp32 (RaGAN and feature matching: G's terms read D(real)): the same gradients
    from two D forwards instead of four."""
    data = gan_options(workdir)
    if d_type == "UNetDiscriminatorSN":
        data["network_d"] = {"type": d_type, "num_in_ch": 3, "num_feat": 8, "skip_connection": True}
    opt = resolve(workdir, data)
    shared, reference = make_step(opt), make_step(opt)
    counts = []
    for step, iterate in ((shared, lambda s: s.run(batch(), 1)), (reference, lambda s: _basicsr_order_gradients(
            s, batch()))):
        if d_type == "UNetDiscriminatorSN":
            # Spectral norm refines its estimate by one power iteration per training-mode forward, so each
            # removed forward changes D's normalisation by what one more iteration would: nothing once the
            # estimate has converged, as it has after the first few hundred iterations of a run.
            with torch.no_grad():
                for _ in range(200):
                    step.net_d(batch()["gt"])
        calls = _counting_forwards(step)
        iterate(step)
        counts.append(len(calls))
    assert counts == [2, 4]
    a, b = _grads(shared), _grads(reference)
    if d_type == "PatchGANDiscriminator":
        assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]
    else:
        assert _relative_difference(a, b, "g") < 1e-4 and _relative_difference(a, b, "d") < 1e-4


def test_a_d_only_iteration_runs_d_once_on_each_batch(workdir):
    data = gan_options(workdir)
    data["train"]["net_d_init_iters"] = 1
    step = make_step(resolve(workdir, data))
    calls = _counting_forwards(step)
    step.run(batch(), 1)
    assert len(calls) == 2 and all(p.grad is None for p in step.net_g.parameters())


# ------------------------------------------------------------------------------------------- compile


def test_compile_failure_falls_back_to_eager_with_one_warning():
    net = torch.nn.Conv2d(3, 3, 3, padding=1)

    def broken(*_args, **_kwargs):
        raise RuntimeError("no C++ compiler found\nmore detail")

    wrapped = CompileFallback(net, broken)
    x = torch.rand(1, 3, 8, 8)
    with pytest.warns(UserWarning, match=r"torch.compile of Conv2d failed \(no C\+\+ compiler found\); running"):
        out = wrapped(x)
    torch.testing.assert_close(out, net(x))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wrapped(x)  # warned once only
    assert list(dict(wrapped.named_parameters())) == ["module.weight", "module.bias"]


def test_compile_wraps_g_and_d_and_checkpoints_keep_plain_keys(workdir, monkeypatch):
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda net, mode=None: compiled.append((type(net).__name__, mode)) or net)
    data = gan_options(workdir, "compiled", compile="max-autotune-no-cudagraphs")
    data["train"]["total_iter"] = 1
    result = train(resolve(workdir, data), progress=False)
    assert compiled == [("PatchGANDiscriminator", "max-autotune-no-cudagraphs"),
                        ("MSRResNet", "max-autotune-no-cudagraphs")]
    saved = torch.load(result.checkpoint, weights_only=True)["params"]
    assert "conv_first.weight" in saved and not any(k.startswith(("module.", "_orig_mod.")) for k in saved)


def test_a_gan_iteration_reads_its_numbers_back_from_the_device_once(workdir, monkeypatch):
    """Losses for the log and the finiteness checks of both updates share one device-to-host transfer."""
    import srgan_kit.models.base as base

    calls = []
    original = base.losses_to_floats
    monkeypatch.setattr(base, "losses_to_floats", lambda losses: calls.append(len(losses)) or original(losses))
    step = make_step(resolve(workdir, gan_options(workdir)))
    losses = step.run(batch(), 1)
    assert len(calls) == 1 and {"l_g_pix", "l_g_gan", "l_d_real", "out_d_fake"} <= set(losses)
