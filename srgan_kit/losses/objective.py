"""The generator's loss: one weighted list of registered loss terms.

The list is BasicSR's named terms, in this order, then ``train.losses`` (any registered loss, in file order)::

    train:
      pixel_opt: {type: L1Loss, loss_weight: 1.0}
      perceptual_opt: {type: PerceptualLoss, layer_weights: {conv5_4: 1.0}, perceptual_weight: 1.0}
      gan_opt: {type: GANLoss, gan_type: vanilla, loss_weight: 1.0e-3}        # model_type gan
      feature_matching_opt: {loss_weight: 1.0}                                # model_type gan
      losses: [{type: MyLoss, loss_weight: 0.5}]

Each term carries its own weight (BasicSR's ``loss_weight`` / ``perceptual_weight`` / ``style_weight``) and
its class says what it contributes through ``generator_terms(view) -> {short name: loss tensor}``, so a new
term is one registered class: nothing in the training steps changes. A term whose class sets
``needs_discriminator`` reads D's outputs from the view, and is refused by model types without a D.
"""
from srgan_kit.errors import OptionError
from srgan_kit.registry import LOSSES

# BasicSR's keys for the generator's terms, in the order they are summed.
NAMED_TERMS = ("pixel_opt", "perceptual_opt", "gan_opt", "feature_matching_opt")


# The roles a target can be given for (Real-ESRGAN trains each on the plain or the sharpened GT): a training
# pair may carry '<role>_gt' next to 'gt'.
TARGET_ROLES = ("pixel", "perceptual", "gan")


def pair_targets(pair):
    """{role: tensor} of the per-role targets a training pair carries (none: every term trains on 'gt')."""
    return {role: pair[f"{role}_gt"] for role in TARGET_ROLES if f"{role}_gt" in pair}


def pair_target(pair, role):
    """The target of ``role`` in a training pair: its '<role>_gt', else 'gt'."""
    return pair.get(f"{role}_gt", pair["gt"])


class GeneratorView:
    """What a term may read: G's output ``sr`` (possibly bf16 under autocast), ``gt``, the target of its role
    (:meth:`target`), the step's ``autocast`` context, D's outputs and the EMA generator's output, computed on
    first request and shared by every term of the iteration (D(real) is D on the 'gan' target)."""

    def __init__(self, sr, gt, autocast, discriminate=None, with_features=False, real=None, targets=None, ema=None):
        self.sr, self.gt, self.autocast = sr, gt, autocast
        self._targets = dict(targets or {})
        self._ema, self._ema_output = ema, None
        self._discriminate, self._with_features = discriminate, with_features
        self._cache = {}
        if real is not None:  # D(real) computed by the step already: a target here, so detached
            logits, features = real
            self._cache["real"] = (logits.detach(), None if features is None else [f.detach() for f in features])

    def discriminator(self, which):
        """``(logits, features or None)`` of D on ``'fake'`` (G's output, with a graph back to G) or ``'real'``
        (the GT, a target: no graph)."""
        if which not in self._cache:
            self._cache[which] = self._discriminate(self.sr if which == "fake" else self.target("gan"),
                                                    which == "real", self._with_features)
        return self._cache[which]

    def computed(self, which):
        """Whether a term asked for D on ``which`` ('fake' or 'real')."""
        return which in self._cache

    def ema_output(self):
        """The EMA generator's output on the same input (no graph), computed once per view."""
        if self._ema_output is None:
            self._ema_output = self._ema()
        return self._ema_output

    def target(self, role):
        """What the term of ``role`` (one of TARGET_ROLES) compares G's output with."""
        return self._targets.get(role, self.gt)


class GeneratorObjective:
    """The generator's terms as ``[(option key path, loss module)]``; calling it on a view sums nothing, it
    returns ``{short name: tensor}`` for the step to log and sum."""

    def __init__(self, terms):
        self.terms = list(terms)

    def term(self, where):
        """The module configured at option key ``where`` (e.g. 'train.gan_opt'), or None."""
        return next((module for key, module in self.terms if key == where), None)

    @property
    def needs_discriminator(self):
        return any(getattr(m, "needs_discriminator", False) for _k, m in self.terms)

    @property
    def needs_real(self):
        """Some term reads D(real) (a relativistic GAN loss, feature matching)."""
        return any(getattr(m, "needs_real", False) for _k, m in self.terms)

    @property
    def needs_features(self):
        return any(getattr(m, "needs_features", False) for _k, m in self.terms)

    def __call__(self, view):
        losses = {}
        for _key, module in self.terms:
            for name, value in module.generator_terms(view).items():
                n, unique = 2, name
                while unique in losses:  # two terms of one kind: pix, pix_2
                    unique, n = f"{name}_{n}", n + 1
                losses[unique] = value
        return losses


def build_objective(train_opt, prepare=lambda module: module, has_discriminator=False, has_ema=False):
    """The terms of a validated ``train`` section, each built from LOSSES and passed through ``prepare``
    (device, memory format). A term that needs a discriminator in a model without one, or the EMA generator in a
    run without it, is an OptionError."""
    specs = [(f"train.{key}", train_opt[key]) for key in NAMED_TERMS if train_opt.get(key)]
    specs += [(f"train.losses.{i}", spec) for i, spec in enumerate(train_opt.get("losses") or [])]
    terms = []
    for where, spec in specs:
        module = LOSSES.build(spec, where=where)
        if not hasattr(module, "generator_terms"):
            raise OptionError(f"{where}.type: {spec['type']} is not a generator loss term (it has no "
                              "generator_terms)")
        if getattr(module, "needs_discriminator", False) and not has_discriminator:
            raise OptionError(f"{where}: {spec['type']} needs a discriminator; this model type has none "
                              "(use model_type: gan with network_d)")
        if getattr(module, "needs_ema", False) and not has_ema:
            raise OptionError(f"{where}: {spec['type']} compares G with its EMA, which is off: set train.ema_decay "
                              "(e.g. 0.999)")
        terms.append((where, prepare(module)))
    if not terms:
        raise OptionError("train: no generator loss; give pixel_opt (e.g. {type: L1Loss}), perceptual_opt or losses")
    return GeneratorObjective(terms)
