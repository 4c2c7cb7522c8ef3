"""Adversarial losses: one GANLoss object for every classic GAN objective, plus WGAN's Lipschitz tools.

Configured from ``train.gan_opt`` (BasicSR's keys plus ``relativistic`` and ``gp_weight``)::

    gan_opt: {type: GANLoss, gan_type: vanilla, real_label_val: 1.0, fake_label_val: 0.0,
              loss_weight: !!float 5e-3, relativistic: average}

The trainer's GAN step calls
  * ``d_loss(real_logits, fake_logits) -> (loss_real, loss_fake)``: the discriminator step (fake logits
    come from the detached fake batch). Not multiplied by ``loss_weight`` (BasicSR: D's loss is unweighted).
  * ``g_loss(fake_logits, real_logits=None)``: the generator's adversarial term, times ``loss_weight``.
    Relativistic modes need ``real_logits`` (the caller passes ``D(real).detach()``).
  * ``gradient_penalty(net_d, real, fake)`` when ``needs_gradient_penalty`` (gan_type wgan_gp).
  * ``clip_weights(net_d, c)`` after each D step when ``train.d_clip`` is set (WGAN; the gan model type
    refuses clipping together with the gradient penalty).

Every gan_type is three formulas on logits, each reduced by the mean over ALL elements (so per-patch
PatchGAN and per-pixel U-Net logits are averaged like one logit per image):
  ``real(x)`` - D's loss on logits that should read "real", ``fake(x)`` - D's loss on logits that should
  read "fake", ``gen(x)`` - the generator's loss on D(G(z)):

  ============  =========================  ========================  =========================
  gan_type      real(x)                    fake(x)                   gen(x)
  ============  =========================  ========================  =========================
  vanilla       BCE(x, real_label_val)     BCE(x, fake_label_val)    BCE(x, real_label_val)
  lsgan         MSE(x, real_label_val)     MSE(x, fake_label_val)    MSE(x, real_label_val)
  wgan(_gp)     -mean x                    mean x                    -mean x
  hinge         mean relu(1 - x)           mean relu(1 + x)          -mean x
  softplus      mean softplus(-x)          mean softplus(x)          mean softplus(-x)
  ============  =========================  ========================  =========================

(vanilla's gen is the non-saturating loss; ``wgan_softplus`` is accepted as BasicSR's name for softplus;
``rpgan``, R3GAN's relativistic pairing loss, is softplus with the ``standard`` relativistic logits below.)

Zero-centred gradient penalties for any gan_type: ``r1_gamma`` (on real data) and ``r2_gamma`` (on fake
data), each ``gamma / 2 * E ||grad_x D(x)||^2`` in fp32, applied every ``reg_every`` D steps with the weight
times ``reg_every`` (lazy regularisation). ``warmup_iter`` ramps G's adversarial weight from 0 over that many
iterations after D's warm-up.

Relativistic modes (Jolicoeur-Martineau 2018) first turn the two batches into relativistic logits:
  * ``average`` (RaGAN, ESRGAN): ``r = D(x) - mean D(G(z))``, ``f = D(G(z)) - mean D(x)``; each mean is
    over every element of the other batch.
  * ``standard`` (RSGAN): the paired logit, ``r = D(x) - D(G(z))``, ``f = -r``; shapes must match.
Then, for EVERY gan_type (our convention for hinge / wgan / softplus too), the type's real / fake formula
is applied to them, and the generator swaps the targets:
  D: ``loss_real = real(r) / 2``, ``loss_fake = fake(f) / 2``;   G: ``(real(f) + fake(r)) / 2``.
The halves follow BasicSR's ESRGANModel, so ESRGAN's ``loss_weight 5e-3`` means what it meant there;
they also make ``standard`` exactly RSGAN's single-term loss for vanilla, hinge, wgan and softplus
(``real(r) + fake(-r) = 2 real(r)`` for those). Note hinge's generator uses the hinge formulas here
(RaHinge), not ``-mean x``.

Half / bfloat16 logits (autocast) are scored in float32.
"""
from dataclasses import dataclass
from typing import Callable

import torch
from torch import autograd, nn
from torch.nn import functional as F

from srgan_kit.distributed import global_mean
from srgan_kit.errors import ArgumentError, did_you_mean
from srgan_kit.losses.gan_options import GP_TYPES, IMPLIED_RELATIVISTIC, check_gan_loss_options
from srgan_kit.registry import LOSSES

# The adversarial term's weight when the option file does not give one: about 1e-3 of the pixel loss, the
# SRGAN-family setting (BasicSR's GANLoss defaults to 1.0; its option files always set it).
DEFAULT_GAN_WEIGHT = 1e-3


@dataclass(frozen=True)
class GanFormulas:
    """The three per-type losses on logits (each already reduced to a scalar)."""

    real: Callable
    fake: Callable
    gen: Callable
    uses_labels: bool = False  # real_label_val / fake_label_val mean something for this type


def _bce_to(label):
    return lambda x: F.binary_cross_entropy_with_logits(x, torch.full_like(x, label))


def _mse_to(label):
    return lambda x: F.mse_loss(x, torch.full_like(x, label))


def _mean(x):
    return x.mean()


def _neg_mean(x):
    return -x.mean()


def _softplus_real(x):
    return F.softplus(-x).mean()


def _softplus_fake(x):
    return F.softplus(x).mean()


def _hinge_real(x):
    return F.relu(1.0 - x).mean()


def _hinge_fake(x):
    return F.relu(1.0 + x).mean()


def _vanilla(real_label, fake_label):
    return GanFormulas(_bce_to(real_label), _bce_to(fake_label), _bce_to(real_label), uses_labels=True)


def _lsgan(real_label, fake_label):
    return GanFormulas(_mse_to(real_label), _mse_to(fake_label), _mse_to(real_label), uses_labels=True)


def _wgan(real_label, fake_label):
    return GanFormulas(_neg_mean, _mean, _neg_mean)


def _hinge(real_label, fake_label):
    return GanFormulas(_hinge_real, _hinge_fake, _neg_mean)


def _softplus(real_label, fake_label):
    return GanFormulas(_softplus_real, _softplus_fake, _softplus_real)


# gan_type -> factory(real_label_val, fake_label_val) -> GanFormulas. wgan_gp is wgan's loss; the
# penalty is a separate term (GANLoss.gradient_penalty) because it needs the discriminator itself.
GAN_TYPES = {
    "vanilla": _vanilla,
    "lsgan": _lsgan,
    "wgan": _wgan,
    "wgan_gp": _wgan,
    "hinge": _hinge,
    "softplus": _softplus,
    "wgan_softplus": _softplus,  # BasicSR's name for the same loss
    "rpgan": _softplus,  # relativistic pairing (R3GAN): softplus on paired differences, see IMPLIED_RELATIVISTIC
}


def _no_relativism(real, fake):
    return real, fake


def _relativistic_average(real, fake):
    # Each logit against the mean of the whole other batch (every patch / pixel of it; all processes' parts).
    return real - global_mean(fake), fake - global_mean(real)


def _relativistic_standard(real, fake):
    if real.shape != fake.shape:
        raise ValueError(
            f"relativistic 'standard' pairs real and fake logits, but their shapes differ: "
            f"{tuple(real.shape)} vs {tuple(fake.shape)}"
        )
    diff = real - fake
    return diff, -diff


# relativistic mode -> (real_logits, fake_logits) -> (relativistic real, relativistic fake)
RELATIVISTIC = {
    "none": _no_relativism,
    "average": _relativistic_average,
    "standard": _relativistic_standard,
}


def _at_least_float32(x):
    # Half / bfloat16 logits (autocast) are scored in float32; float64 stays float64.
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _pick(table, name, argument):
    """table[name], or an ArgumentError naming the argument and the nearest known name."""
    if name in table:
        return table[name]
    raise ArgumentError(argument, f"unknown value {name!r}{did_you_mean(name, table)}; known: {', '.join(table)}")


@LOSSES.register()
class GANLoss(nn.Module):
    """Adversarial loss for one ``gan_type`` and ``relativistic`` mode; see the module docstring."""

    needs_discriminator = True

    check_arguments = staticmethod(check_gan_loss_options)  # the option loader runs it too

    def __init__(
        self,
        gan_type="vanilla",
        real_label_val=1.0,
        fake_label_val=0.0,
        loss_weight=DEFAULT_GAN_WEIGHT,
        relativistic="none",
        gp_weight=10.0,
        r1_gamma=0.0,
        r2_gamma=0.0,
        reg_every=1,
        warmup_iter=0,
    ):
        super().__init__()
        factory = _pick(GAN_TYPES, gan_type, "gan_type")
        implied = IMPLIED_RELATIVISTIC.get(gan_type)
        if implied and relativistic not in ("none", implied):
            raise ArgumentError("relativistic", f"gan_type {gan_type!r} is relativistic {implied!r} by definition; "
                                                f"remove relativistic: {relativistic}")
        relativistic = implied or relativistic
        self.relativize = _pick(RELATIVISTIC, relativistic, "relativistic")
        self.formulas = factory(float(real_label_val), float(fake_label_val))
        if not self.formulas.uses_labels and (float(real_label_val), float(fake_label_val)) != (1.0, 0.0):
            # Label smoothing asked for a type that has no labels: say so instead of ignoring it.
            raise ArgumentError("real_label_val", f"real_label_val / fake_label_val only apply to gan_type vanilla "
                                                  f"or lsgan, not {gan_type!r}; remove them")
        self.check_arguments({"gp_weight": gp_weight, "r1_gamma": r1_gamma, "r2_gamma": r2_gamma,
                              "warmup_iter": warmup_iter, "reg_every": reg_every})
        self.gan_type = gan_type
        self.relativistic = relativistic
        self.real_label_val = float(real_label_val)
        self.fake_label_val = float(fake_label_val)
        self.loss_weight = float(loss_weight)
        self.gp_weight = float(gp_weight)
        self.r1_gamma, self.r2_gamma, self.reg_every = float(r1_gamma), float(r2_gamma), int(reg_every)
        self.warmup_iter = int(warmup_iter)
        self.ramp = 1.0 if self.warmup_iter == 0 else 0.0  # the adversarial weight's share (set_iteration)

    @property
    def needs_gradient_penalty(self):
        """True for wgan_gp: the D step adds ``gradient_penalty(net_d, real, fake)``."""
        return self.gan_type in GP_TYPES

    def set_iteration(self, iteration, start=0):
        """The adversarial weight ramps linearly from 0 to ``loss_weight`` over ``warmup_iter`` iterations
        counted from ``start`` (the first iteration with a generator step)."""
        self.ramp = 1.0 if self.warmup_iter == 0 else min(1.0, max(0, iteration - start) / self.warmup_iter)

    def zero_centered_penalties(self, discriminator, real, fake, iteration):
        """R1 (on real data) and R2 (on fake data), each ``gamma / 2 * E ||grad_x D(x)||^2`` (Mescheder et al.
        2018), applied lazily: on iterations that are multiples of ``reg_every``, times ``reg_every`` (as
        StyleGAN2 does), so the average weight is gamma's. {'l_d_r1': ..., 'l_d_r2': ...} for the gammas set."""
        if iteration % self.reg_every:
            return {}
        out = {}
        for name, gamma, x in (("l_d_r1", self.r1_gamma, real), ("l_d_r2", self.r2_gamma, fake)):
            if gamma:
                out[name] = self.reg_every * zero_centered_penalty(discriminator, x, gamma)
        return out

    @property
    def is_relativistic(self):
        return self.relativistic != "none"

    needs_real = is_relativistic  # the generator's term reads D(real)

    def d_loss(self, real_logits, fake_logits):
        """Discriminator step: ``(loss_real, loss_fake)``, unweighted; the caller sums and backprops them."""
        real, fake = self.relativize(_at_least_float32(real_logits), _at_least_float32(fake_logits))
        scale = 0.5 if self.is_relativistic else 1.0
        return scale * self.formulas.real(real), scale * self.formulas.fake(fake)

    def g_loss(self, fake_logits, real_logits=None):
        """Generator step: ``loss_weight`` x the adversarial loss of D(G(z)) (targets swapped if relativistic)."""
        weight = self.loss_weight * self.ramp
        if not self.is_relativistic:
            return weight * self.formulas.gen(_at_least_float32(fake_logits))
        if real_logits is None:
            raise ValueError(
                f"relativistic {self.relativistic!r} GAN loss: g_loss needs real_logits (pass D(real).detach())"
            )
        real, fake = self.relativize(_at_least_float32(real_logits), _at_least_float32(fake_logits))
        return weight * 0.5 * (self.formulas.real(fake) + self.formulas.fake(real))

    def generator_terms(self, view):
        fake_logits = view.discriminator("fake")[0]
        real_logits = view.discriminator("real")[0] if self.is_relativistic else None
        return {"gan": self.g_loss(fake_logits, real_logits)}

    def gradient_penalty(self, discriminator, real, fake, eps=None):
        """``gp_weight`` x the WGAN-GP penalty; see :func:`gradient_penalty`."""
        return gradient_penalty(discriminator, real, fake, weight=self.gp_weight, eps=eps)

    def extra_repr(self):
        return (
            f"gan_type={self.gan_type!r}, relativistic={self.relativistic!r}, loss_weight={self.loss_weight}, "
            f"real_label_val={self.real_label_val}, fake_label_val={self.fake_label_val}, "
            f"gp_weight={self.gp_weight}, r1_gamma={self.r1_gamma}, r2_gamma={self.r2_gamma}, "
            f"reg_every={self.reg_every}, warmup_iter={self.warmup_iter}"
        )


def zero_centered_penalty(discriminator, x, gamma):
    """``gamma / 2 * mean_i ||grad_x D(x_i)||_2^2`` in fp32 (R1 with real ``x``, R2 with fake ``x``). ``x`` is
    detached: the penalty trains D only; logit maps are summed per image before differentiating."""
    x = x.detach().float().requires_grad_(True)
    (grad,) = autograd.grad(_at_least_float32(discriminator(x)).sum(), x, create_graph=True)
    return 0.5 * gamma * grad.reshape(grad.size(0), -1).pow(2).sum(dim=1).mean()


def gradient_penalty(discriminator, real, fake, weight=1.0, eps=None):
    """WGAN-GP (Gulrajani et al. 2017): ``weight * mean_i (||grad_xhat D(xhat_i)||_2 - 1)^2``.

    ``xhat = eps * real + (1 - eps) * fake`` with ``eps ~ U(0, 1)`` drawn per sample (or given, shape
    broadcastable to ``real``). Both batches are detached: the penalty trains D only, through
    ``create_graph=True``. Patch / pixel logit maps are summed per image before differentiating, so each
    sample's gradient is that of its whole map.
    """
    real = real.detach()
    fake = fake.detach()
    if eps is None:
        eps = torch.rand((real.size(0),) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
    x_hat = (eps * real + (1.0 - eps) * fake).requires_grad_(True)
    logits = discriminator(x_hat)
    (grad,) = autograd.grad(logits.sum(), x_hat, create_graph=True)
    # reshape, not view: channels_last gradients are not contiguous in NCHW order.
    norms = _at_least_float32(grad.reshape(grad.size(0), -1)).norm(2, dim=1)
    return weight * ((norms - 1.0) ** 2).mean()


@torch.no_grad()
def clip_weights(discriminator, c):
    """Clamp every parameter of ``discriminator`` to ``[-c, c]`` in place (WGAN, ``train.d_clip``)."""
    if not c > 0:
        raise ValueError(f"weight clipping needs a positive bound c, got {c!r}")
    for param in discriminator.parameters():
        param.clamp_(-c, c)
