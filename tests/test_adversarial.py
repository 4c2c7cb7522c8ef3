"""Adversarial losses: values and gradients against formulas written out by hand, GP, clipping, errors."""
import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from srgan_kit.compat import import_basicsr
from srgan_kit.errors import ArgumentError, OptionError
from srgan_kit.losses.adversarial import GANLoss, clip_weights, gradient_penalty
from srgan_kit.registry import LOSSES

REAL = [0.5, -1.0, 2.0, 0.3]
FAKE = [-0.2, 0.8, -1.5, 1.1]
GAN_TYPES = ["vanilla", "lsgan", "wgan", "wgan_gp", "hinge", "softplus"]
MODES = ["none", "average", "standard"]


def leaf(values, shape=None):
    t = torch.tensor(values, dtype=torch.float64)
    return (t.view(shape) if shape else t).requires_grad_(True)


# --- the reference, written element by element from the textbook formulas --------------------------
def log_sigmoid(x):
    return -torch.log1p(torch.exp(-x))


def bce(x, y):  # binary cross-entropy of logit x against target y
    return -(y * log_sigmoid(x) + (1 - y) * log_sigmoid(-x))


def ref_terms(gan_type, real_label=1.0, fake_label=0.0):
    """(real, fake, gen) per-element losses; the loss is their plain average."""
    mean = lambda t: t.sum() / t.numel()  # noqa: E731
    softplus = lambda t: torch.log(1 + torch.exp(t))  # noqa: E731
    relu = lambda t: torch.where(t > 0, t, torch.zeros_like(t))  # noqa: E731
    table = {
        "vanilla": (lambda x: mean(bce(x, real_label)), lambda x: mean(bce(x, fake_label)), None),
        "lsgan": (lambda x: mean((x - real_label) ** 2), lambda x: mean((x - fake_label) ** 2), None),
        "wgan": (lambda x: -mean(x), lambda x: mean(x), None),
        "hinge": (lambda x: mean(relu(1 - x)), lambda x: mean(relu(1 + x)), lambda x: -mean(x)),
        "softplus": (lambda x: mean(softplus(-x)), lambda x: mean(softplus(x)), None),
    }
    real, fake, gen = table["wgan" if gan_type == "wgan_gp" else gan_type]
    return real, fake, gen or real


def ref_relativistic(mode, r, f):
    if mode == "none":
        return r, f
    if mode == "average":
        return r - f.sum() / f.numel(), f - r.sum() / r.numel()
    return r - f, f - r


def ref_d(gan_type, mode, r, f, **labels):
    real, fake, _ = ref_terms(gan_type, **labels)
    rr, ff = ref_relativistic(mode, r, f)
    half = 1.0 if mode == "none" else 0.5
    return half * real(rr), half * fake(ff)


def ref_g(gan_type, mode, r, f, weight=1.0, **labels):
    real, fake, gen = ref_terms(gan_type, **labels)
    if mode == "none":
        return weight * gen(f)
    rr, ff = ref_relativistic(mode, r, f)
    return weight * 0.5 * (real(ff) + fake(rr))  # the generator swaps the targets


def grads(value, *tensors):
    got = torch.autograd.grad(value, tensors, allow_unused=True)
    return [torch.zeros_like(t) if g is None else g for t, g in zip(tensors, got)]


def assert_same(value, expected, got_grads, want_grads):
    assert value.item() == pytest.approx(expected.item(), rel=1e-6, abs=1e-9)
    for g, w in zip(got_grads, want_grads):
        torch.testing.assert_close(g, w, rtol=1e-6, atol=1e-9)


# --- every gan_type x relativistic mode, both sides -------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("gan_type", GAN_TYPES)
def test_d_loss_value_and_gradient(gan_type, mode):
    loss = GANLoss(gan_type, relativistic=mode, loss_weight=7.0)  # D is unweighted
    r, f = leaf(REAL), leaf(FAKE)
    got_real, got_fake = loss.d_loss(r, f)
    r2, f2 = leaf(REAL), leaf(FAKE)
    want_real, want_fake = ref_d(gan_type, mode, r2, f2)
    assert_same(got_real, want_real, grads(got_real, r, f), grads(want_real, r2, f2))
    assert_same(got_fake, want_fake, grads(got_fake, r, f), grads(want_fake, r2, f2))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("gan_type", GAN_TYPES)
def test_g_loss_value_and_gradient(gan_type, mode):
    loss = GANLoss(gan_type, relativistic=mode, loss_weight=0.25)
    real_detached = torch.tensor(REAL, dtype=torch.float64)  # the caller passes D(real).detach()
    f = leaf(FAKE)
    got = loss.g_loss(f, real_detached)
    f2 = leaf(FAKE)
    want = ref_g(gan_type, mode, real_detached, f2, weight=0.25)
    assert_same(got, want, grads(got, f), grads(want, f2))


# --- a few fully hand-worked numbers and closed-form gradients ---------------------------------------
def test_hinge_numbers():
    r, f = leaf(REAL), leaf(FAKE)
    loss_real, loss_fake = GANLoss("hinge").d_loss(r, f)
    # relu(1 - [0.5, -1, 2, 0.3]) = [0.5, 2, 0, 0.7]; relu(1 + [-0.2, 0.8, -1.5, 1.1]) = [0.8, 1.8, 0, 2.1]
    assert loss_real.item() == pytest.approx(3.2 / 4)
    assert loss_fake.item() == pytest.approx(4.7 / 4)
    (loss_real + loss_fake).backward()
    assert r.grad.tolist() == pytest.approx([-0.25, -0.25, 0.0, -0.25])
    assert f.grad.tolist() == pytest.approx([0.25, 0.25, 0.0, 0.25])
    g = leaf(FAKE)
    GANLoss("hinge", loss_weight=2.0).g_loss(g).backward()  # -2 * mean -> -0.5 each
    assert g.grad.tolist() == pytest.approx([-0.5] * 4)


def test_vanilla_closed_form():
    r, f = leaf(REAL), leaf(FAKE)
    loss_real, loss_fake = GANLoss("vanilla").d_loss(r, f)
    want = sum(math.log1p(math.exp(-x)) for x in REAL) / 4  # -log sigmoid
    assert loss_real.item() == pytest.approx(want)
    (loss_real + loss_fake).backward()
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    assert r.grad.tolist() == pytest.approx([(sig(x) - 1) / 4 for x in REAL])
    assert f.grad.tolist() == pytest.approx([sig(x) / 4 for x in FAKE])
    # non-saturating generator: BCE(D(G(z)), 1), the same as D's real term
    g = leaf(FAKE)
    GANLoss("vanilla", loss_weight=1.0).g_loss(g).backward()
    assert g.grad.tolist() == pytest.approx([(sig(x) - 1) / 4 for x in FAKE])


def test_zero_logits_numbers():
    zeros = leaf([0.0] * 4)
    for gan_type in ("vanilla", "softplus"):
        loss_real, loss_fake = GANLoss(gan_type).d_loss(zeros, zeros)
        assert loss_real.item() == pytest.approx(math.log(2))
        assert loss_fake.item() == pytest.approx(math.log(2))
    assert GANLoss("wgan", loss_weight=1.0).g_loss(leaf([1.0, 2.0, 3.0, 6.0])).item() == pytest.approx(-3.0)


def test_ragan_vanilla_numbers():
    # real = [1, 3], fake = [0, 2]: means 2 and 1, r = [0, 2], f = [-2, 0]
    r, f = leaf([1.0, 3.0]), leaf([0.0, 2.0])
    loss_real, loss_fake = GANLoss("vanilla", relativistic="average").d_loss(r, f)
    sp = lambda x: math.log1p(math.exp(x))  # noqa: E731  softplus
    assert loss_real.item() == pytest.approx(0.5 * (sp(-0.0) + sp(-2.0)) / 2)
    assert loss_fake.item() == pytest.approx(0.5 * (sp(-2.0) + sp(0.0)) / 2)
    g = GANLoss("vanilla", relativistic="average", loss_weight=5e-3).g_loss(leaf([0.0, 2.0]), r.detach())
    # G: BCE(f, 1) + BCE(r, 0) = mean softplus(-f) + mean softplus(r), halved, weighted
    want = 5e-3 * 0.5 * ((sp(2.0) + sp(0.0)) / 2 + (sp(0.0) + sp(2.0)) / 2)
    assert g.item() == pytest.approx(want)


def test_rsgan_is_the_single_paired_term():
    r, f = leaf(REAL), leaf(FAKE)
    loss_real, loss_fake = GANLoss("vanilla", relativistic="standard").d_loss(r, f)
    want = sum(math.log1p(math.exp(-(a - b))) for a, b in zip(REAL, FAKE)) / 4  # -log sigmoid(D(x) - D(G(z)))
    assert (loss_real + loss_fake).item() == pytest.approx(want)


def test_label_values():
    loss = GANLoss("lsgan", real_label_val=0.9, fake_label_val=0.1, loss_weight=1.0)
    r, f = leaf(REAL), leaf(FAKE)
    loss_real, loss_fake = loss.d_loss(r, f)
    assert loss_real.item() == pytest.approx(sum((x - 0.9) ** 2 for x in REAL) / 4)
    assert loss_fake.item() == pytest.approx(sum((x - 0.1) ** 2 for x in FAKE) / 4)
    assert loss.g_loss(f).item() == pytest.approx(sum((x - 0.9) ** 2 for x in FAKE) / 4)
    loss_real.backward()
    assert r.grad.tolist() == pytest.approx([2 * (x - 0.9) / 4 for x in REAL])
    soft = GANLoss("vanilla", real_label_val=0.9, fake_label_val=0.1, loss_weight=1.0)
    want = -sum(0.9 * math.log(1 / (1 + math.exp(-x))) + 0.1 * math.log(1 / (1 + math.exp(x))) for x in REAL) / 4
    assert soft.d_loss(leaf(REAL), leaf(FAKE))[0].item() == pytest.approx(want)


def test_labels_refused_for_types_without_labels():
    with pytest.raises(OptionError, match="real_label_val"):
        GANLoss("hinge", real_label_val=0.9)
    GANLoss("wgan", real_label_val=1.0, fake_label_val=0.0)  # BasicSR's defaults written out: fine


def test_loss_weight_applies_to_generator_only():
    r, f = leaf(REAL), leaf(FAKE)
    for mode in MODES:
        one = GANLoss("vanilla", relativistic=mode, loss_weight=1.0)
        heavy = GANLoss("vanilla", relativistic=mode, loss_weight=5e-3)
        assert [t.item() for t in heavy.d_loss(r, f)] == [t.item() for t in one.d_loss(r, f)]
        assert heavy.g_loss(f, r.detach()).item() == pytest.approx(5e-3 * one.g_loss(f, r.detach()).item())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("gan_type", ["vanilla", "hinge", "lsgan"])
def test_patch_logits_are_averaged_over_every_element(gan_type, mode):
    torch.manual_seed(0)
    real = torch.randn(2, 1, 3, 3, dtype=torch.float64)
    fake = torch.randn(2, 1, 3, 3, dtype=torch.float64)
    loss = GANLoss(gan_type, relativistic=mode, loss_weight=1.0)
    got_real, got_fake = loss.d_loss(real, fake)
    want_real, want_fake = ref_d(gan_type, mode, real.flatten(), fake.flatten())
    assert got_real.item() == pytest.approx(want_real.item())
    assert got_fake.item() == pytest.approx(want_fake.item())
    assert loss.g_loss(fake, real).item() == pytest.approx(ref_g(gan_type, mode, real.flatten(), fake.flatten()).item())


def test_relativistic_average_uses_the_whole_other_batch_mean():
    real = torch.tensor([[1.0, 3.0], [5.0, 7.0]]).view(2, 1, 2, 1)  # mean 4
    fake = torch.zeros(2, 1, 2, 1)
    loss_real, _ = GANLoss("wgan", relativistic="average").d_loss(real, fake)
    _, loss_fake = GANLoss("wgan", relativistic="average").d_loss(real, fake)
    assert loss_real.item() == pytest.approx(-0.5 * 4.0)  # -mean(real - 0) / 2
    assert loss_fake.item() == pytest.approx(0.5 * -4.0)  # mean(fake - 4) / 2


def test_relativistic_errors():
    with pytest.raises(ValueError, match="shapes differ"):
        GANLoss("vanilla", relativistic="standard").d_loss(torch.zeros(4), torch.zeros(2))
    with pytest.raises(ValueError, match="real_logits"):
        GANLoss("vanilla", relativistic="average").g_loss(torch.zeros(4))


def test_bf16_logits_are_scored_in_float32():
    r = torch.tensor(REAL).bfloat16()
    loss_real, _ = GANLoss("softplus").d_loss(r, r)
    assert loss_real.dtype == torch.float32


@pytest.mark.parametrize("gan_type", ["vanilla", "lsgan", "wgan", "hinge", "softplus"])
def test_d_and_g_losses_match_basicsr(gan_type):
    basicsr_gan = import_basicsr("basicsr.losses.gan_loss")
    theirs = basicsr_gan.GANLoss("wgan_softplus" if gan_type == "softplus" else gan_type, loss_weight=0.3)
    ours = GANLoss(gan_type, loss_weight=0.3)
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    l_real, l_fake = ours.d_loss(real, fake)
    assert l_real.item() == pytest.approx(theirs(real, True, is_disc=True).item())
    assert l_fake.item() == pytest.approx(theirs(fake, False, is_disc=True).item())
    assert ours.g_loss(fake).item() == pytest.approx(theirs(fake, True, is_disc=False).item())


# --- gradient penalty --------------------------------------------------------------------------------
class LinearCritic(nn.Module):
    """D(x) = <w, x> per sample."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x):
        return (x * self.w).flatten(1).sum(1)


def unit_w(shape=(3, 4, 4)):
    torch.manual_seed(1)
    w = torch.randn(shape, dtype=torch.float64)
    return w / w.norm()


def batches(n=3, shape=(3, 4, 4)):
    torch.manual_seed(2)
    return torch.randn(n, *shape, dtype=torch.float64), torch.randn(n, *shape, dtype=torch.float64)


def test_gp_is_zero_for_a_unit_norm_linear_critic():
    real, fake = batches()
    gp = GANLoss("wgan_gp").gradient_penalty(LinearCritic(unit_w()), real, fake)
    assert gp.item() == pytest.approx(0.0, abs=1e-12)


def test_gp_grows_with_the_weight_norm_and_trains_d():
    real, fake = batches()
    real.requires_grad_(True)
    critic = LinearCritic(3 * unit_w())  # ||grad|| = 3 -> (3 - 1)^2 = 4
    gp = GANLoss("wgan_gp", gp_weight=10.0).gradient_penalty(critic, real, fake)
    assert gp.item() == pytest.approx(4 * 10.0)
    assert GANLoss("wgan_gp", gp_weight=10.0).gradient_penalty(LinearCritic(2 * unit_w()), real, fake).item() == (
        pytest.approx(10.0)
    )
    gp.backward()  # create_graph: d/dw 10 (||w|| - 1)^2 = 20 (||w|| - 1) w / ||w|| = (40 / 3) w
    torch.testing.assert_close(critic.w.grad, (40 / 3) * critic.w.detach())
    assert real.grad is None  # the batches are detached: only D learns from the penalty


def test_gp_sums_patch_maps_per_image():
    critic = nn.Conv2d(3, 1, 1, bias=False).double()  # a 4x4 map of <w, pixel>
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([0.6, 0.0, 0.8]).view(1, 3, 1, 1))  # ||w|| = 1
    real, fake = batches()
    gp = gradient_penalty(critic, real, fake, weight=2.0)
    # the summed map's gradient is w at all 16 pixels: norm sqrt(16) = 4 -> 2 * (4 - 1)^2
    assert gp.item() == pytest.approx(18.0)


def test_gp_interpolates_between_real_and_fake():
    class Quadratic(nn.Module):  # D(x) = ||x||^2 / 2, gradient x_hat itself
        def forward(self, x):
            return 0.5 * (x**2).flatten(1).sum(1)

    real, fake = batches(n=2)
    eps = torch.tensor([0.25, 0.9], dtype=torch.float64).view(2, 1, 1, 1)
    gp = gradient_penalty(Quadratic(), real, fake, weight=1.0, eps=eps)
    x_hat = eps * real + (1 - eps) * fake
    want = ((x_hat.flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert gp.item() == pytest.approx(want.item())


def test_needs_gradient_penalty_only_for_wgan_gp():
    assert [t for t in GAN_TYPES if GANLoss(t).needs_gradient_penalty] == ["wgan_gp"]


# --- clipping ------------------------------------------------------------------------------------------
def test_clip_keeps_every_parameter_in_range():
    torch.manual_seed(3)
    d = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Conv2d(8, 1, 3))
    with torch.no_grad():
        for p in d.parameters():
            p.mul_(100).add_(0.005)
        before = [p.clone() for p in d.parameters()]
    clip_weights(d, 0.01)
    for old, p in zip(before, d.parameters()):
        assert p.abs().max().item() <= 0.01
        torch.testing.assert_close(p, old.clamp(-0.01, 0.01))  # values inside are kept as they were
    with pytest.raises(ValueError, match="positive bound"):
        clip_weights(d, 0)


# --- configuration -----------------------------------------------------------------------------------
def test_unknown_names_name_the_argument_and_the_nearest_value():
    """The loss names its own argument only: the key path is the caller's (a sweep, a notebook, a file)."""
    with pytest.raises(OptionError, match=r"^gan_type: unknown value 'hinj'.*did you mean 'hinge'"):
        GANLoss("hinj")
    with pytest.raises(OptionError, match=r"^relativistic: .*did you mean 'average'"):
        GANLoss("vanilla", relativistic="averge")


def test_built_from_options_the_error_names_the_key_path():
    with pytest.raises(OptionError, match=r"^train\.gan_opt\.gan_type: unknown value 'hinj'"):
        LOSSES.build({"type": "GANLoss", "gan_type": "hinj"}, where="train.gan_opt")


def test_default_adversarial_weight_is_the_missions_1e_3_everywhere(tmp_path):
    """The class default is the one default: a GANLoss built without load_options gets 1e-3, not 1.0."""
    assert GANLoss().loss_weight == 1e-3
    assert LOSSES.build({"type": "GANLoss"}).loss_weight == 1e-3


def test_registered_and_built_from_basicsr_style_options():
    assert LOSSES.get("GANLoss") is GANLoss
    spec = {"type": "GANLoss", "gan_type": "vanilla", "real_label_val": 1.0, "fake_label_val": 0.0, "loss_weight": 5e-3}
    loss = LOSSES.build(spec, where="train.gan_opt")
    assert (loss.gan_type, loss.loss_weight, loss.relativistic, loss.gp_weight) == ("vanilla", 5e-3, "none", 10.0)
    assert set(LOSSES.arguments("GANLoss")) == {
        "gan_type", "real_label_val", "fake_label_val", "loss_weight", "relativistic", "gp_weight",
        "r1_gamma", "r2_gamma", "reg_every", "warmup_iter",
    }


# ------------------------------------------------------------------------ R1 / R2, rpgan, the weight ramp


class _LinearCritic(torch.nn.Module):
    """D(x) = sum(w * x) per image: its input gradient is w for every image."""

    def __init__(self, w):
        super().__init__()
        self.w = torch.nn.Parameter(w)

    def forward(self, x):
        return (x * self.w).flatten(1).sum(1, keepdim=True)


def test_r1_and_r2_equal_gamma_half_the_squared_gradient_norm_of_a_linear_critic():
    w = torch.tensor([[[[1.0, -2.0], [0.5, 3.0]]]])  # ||w||^2 = 14.25
    loss = GANLoss(gan_type="softplus", r1_gamma=2.0, r2_gamma=0.5)
    real, fake = torch.rand(3, 1, 2, 2), torch.rand(3, 1, 2, 2)
    penalties = loss.zero_centered_penalties(_LinearCritic(w), real, fake, iteration=1)
    assert penalties["l_d_r1"].item() == pytest.approx(2.0 / 2 * 14.25)
    assert penalties["l_d_r2"].item() == pytest.approx(0.5 / 2 * 14.25)


def test_the_penalty_is_zero_where_the_gradient_is_zero():
    loss = GANLoss(gan_type="softplus", r1_gamma=10.0)
    critic = _LinearCritic(torch.zeros(1, 1, 2, 2))
    assert loss.zero_centered_penalties(critic, torch.rand(2, 1, 2, 2), torch.rand(2, 1, 2, 2), 1)["l_d_r1"] == 0


def test_lazy_regularisation_applies_every_k_iterations_times_k():
    w = torch.ones(1, 1, 2, 2)  # ||w||^2 = 4
    loss = GANLoss(gan_type="softplus", r1_gamma=1.0, reg_every=4)
    real = torch.rand(2, 1, 2, 2)
    applied = [loss.zero_centered_penalties(_LinearCritic(w), real, real, it) for it in range(1, 9)]
    assert [bool(p) for p in applied] == [False, False, False, True] * 2
    assert applied[3]["l_d_r1"].item() == pytest.approx(4 * 0.5 * 4)  # k x gamma/2 x ||w||^2
    # the penalty trains D: its gradient reaches the critic's weights
    critic = _LinearCritic(w.clone())
    loss.zero_centered_penalties(critic, real, real, 4)["l_d_r1"].backward()
    assert torch.allclose(critic.w.grad, 4 * 1.0 * critic.w.detach())  # d/dw (k gamma/2 ||w||^2)


def test_rpgan_is_softplus_of_paired_logit_differences():
    real, fake = torch.randn(4, 1), torch.randn(4, 1)
    loss = GANLoss(gan_type="rpgan", loss_weight=1.0)
    assert loss.relativistic == "standard"
    d_real, d_fake = loss.d_loss(real, fake)
    assert (d_real + d_fake).item() == pytest.approx(F.softplus(fake - real).mean().item(), rel=1e-6)
    assert loss.g_loss(fake, real).item() == pytest.approx(F.softplus(real - fake).mean().item(), rel=1e-6)
    with pytest.raises(ArgumentError, match="relativistic"):
        GANLoss(gan_type="rpgan", relativistic="average")


def test_the_adversarial_weight_ramps_from_zero_over_warmup_iter():
    loss = GANLoss(gan_type="wgan", loss_weight=2.0, warmup_iter=10)
    fake = torch.full((2, 1), -1.0)  # G's wgan loss: -mean = 1
    weights = []
    for it in (100, 102, 105, 110, 200):
        loss.set_iteration(it, start=100)
        weights.append(loss.g_loss(fake).item())
    assert weights == pytest.approx([0.0, 0.4, 1.0, 2.0, 2.0])


def test_the_names_option_files_choose_among_are_the_implemented_ones():
    from srgan_kit.losses.adversarial import GAN_TYPES, RELATIVISTIC
    from srgan_kit.losses.feature_matching import CRITERIA
    from srgan_kit.losses.gan_options import FEATURE_CRITERIA, GAN_TYPE_NAMES, RELATIVISTIC_MODES

    assert (tuple(GAN_TYPES), tuple(RELATIVISTIC), tuple(CRITERIA)) == (GAN_TYPE_NAMES, RELATIVISTIC_MODES,
                                                                        FEATURE_CRITERIA)
