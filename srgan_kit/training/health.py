"""A GAN run's health, read from each iteration's numbers: what to log beside the losses, and a warning (once
per episode: when a condition has held for ``train.health.patience`` iterations in a row) when training goes
wrong in one of the ways SR users report.

Logged every print_freq (when the numbers exist): ``grad_norm_g`` / ``grad_norm_d`` (before clipping),
``gan_to_pix`` (|adversarial term| / pixel term in G's loss), ``d_logit_gap`` (mean D(real) - mean D(fake)),
and from the GAN step ``d_acc_real`` / ``d_acc_fake`` (share of real logits above the mean fake one, and of fake
logits below the mean real one: meaningful for every gan_type) and ``out_d_std`` (spread of D's logits).
"D at chance" reads their means over the last ``patience`` iterations (single iterations are too noisy): both
accuracies within ``d_chance`` of 0.5 and the logit gap within ``d_chance`` logit spreads of 0, judged once D has
trained ``patience`` iterations after its warm-up.

At each validation (:class:`ValidationHealth`, on the first validation set): a warning when PSNR falls more than
``psnr_drop`` dB below its best so far, and when the SR images' colour drifts from the GT's (the largest
per-image, per-channel difference of means exceeds ``colour_shift``, on the [0, 1] scale).

Warnings go to ``warn(iteration, message, key)``; the keys (d_wins, d_collapsed, d_at_chance, adversarial_dominates,
psnr_drop, colour_shift) listed in ``train.early_stop`` end the run (srgan_kit.training.trainer).
"""
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Condition:
    name: str
    key: str  # its name in train.early_stop
    holds: object  # (values: dict) -> bool, or None when the numbers are not there this iteration
    advice: str
    windowed: bool = False  # holds() judges a window of iterations already: one observation reports it


def _d_wins(v):
    if "d_acc_real" not in v:
        return None
    return v["d_acc_real"] >= 0.99 and v["d_acc_fake"] >= 0.99


def _d_collapsed(v):
    return None if "out_d_std" not in v else v["out_d_std"] < 1e-4


class AtChance:
    """D's mean accuracies over the last ``size`` iterations within ``margin`` of 0.5 and its mean logit gap within
    ``margin`` mean logit spreads of 0: no signal for G. Iterations up to ``after`` (D's warm-up) do not count."""

    def __init__(self, margin, after, size):
        self.margin, self.after = margin, after
        self.window = deque(maxlen=size)

    def __call__(self, v):
        if "d_acc_real" not in v or "out_d_std" not in v or v["iteration"] <= self.after:
            return None
        self.window.append((v["d_acc_real"], v["d_acc_fake"], v["d_logit_gap"], v["out_d_std"]))
        if len(self.window) < self.window.maxlen:
            return None
        real, fake, gap, spread = (sum(column) / len(self.window) for column in zip(*self.window))
        return (max(abs(real - 0.5), abs(fake - 0.5)) <= self.margin
                and abs(gap) <= self.margin * max(spread, 1e-12))


def _dominates(factor):
    return lambda v: None if "gan_to_pix" not in v else v["gan_to_pix"] > factor


class Episodes:
    """Conditions reported once per episode: when one has held ``patience`` observations in a row; an
    observation where it does not hold ends its episode."""

    def __init__(self, patience, warn):
        self.patience, self.warn = patience, warn
        self.streaks, self.warned = {}, set()

    def update(self, key, holds, iteration, message, needed=None):
        """``message()`` builds the warning text, only when one is due; ``needed``: observations in a row that
        report it (default: the patience)."""
        if not holds:
            self.streaks[key] = 0
            self.warned.discard(key)
            return
        self.streaks[key] = self.streaks.get(key, 0) + 1
        if self.streaks[key] >= (needed or self.patience) and key not in self.warned:
            self.warned.add(key)
            self.warn(iteration, message(), key)


class HealthMonitor:
    def __init__(self, patience=100, gan_to_pix=10.0, warn=print, d_chance=0.05, d_warmup=0):
        """``d_warmup``: the iterations before D's training counts (net_d_init_iters + the adversarial warm-up);
        "D at chance" is judged on the ``patience`` iterations after them, then on every later window."""
        self.patience = patience
        self.episodes = Episodes(patience, warn)
        self.conditions = [
            Condition("D wins", "d_wins", _d_wins, "D tells real from fake every time, so G learns little from "
                      "it: lower train.optim_d.lr, or use a spectral-norm D (UNetDiscriminatorSN, PatchGAN "
                      "spectral_norm)"),
            Condition("D collapsed", "d_collapsed", _d_collapsed, "D gives every image the same logit: it no "
                      "longer judges; check D's learning rate and the GAN loss, or restart D from an earlier "
                      "checkpoint"),
            Condition("adversarial dominates", "adversarial_dominates", _dominates(gan_to_pix),
                      f"the adversarial term is over {gan_to_pix:g}x the pixel term of G's loss: lower "
                      "train.gan_opt.loss_weight (about 1e-3 of the pixel loss)"),
            Condition("D at chance", "d_at_chance", AtChance(d_chance, d_warmup, patience),
                      "D's accuracy stays near 0.5 and its logits do not separate real from fake, so G gets no "
                      "adversarial signal: D's learning rate may be far too high (or too low), or D is dead; check "
                      "train.optim_d.lr (about that of G) and D's loss", windowed=True),
        ]

    def observe(self, iteration, losses, grad_norms):
        """The extra numbers of this iteration ({name: float}); warns when a condition's streak reaches the
        patience. An iteration without a condition's numbers (no G step) leaves its streak as it is."""
        extra = {f"grad_norm_{key}": value for key, value in grad_norms.items()}
        if "l_g_gan" in losses and losses.get("l_g_pix"):
            extra["gan_to_pix"] = abs(losses["l_g_gan"]) / losses["l_g_pix"]
        if "out_d_real" in losses:
            extra["d_logit_gap"] = losses["out_d_real"] - losses["out_d_fake"]
        values = {**losses, **extra, "iteration": iteration}
        for c in self.conditions:
            holds = c.holds(values)
            if holds is not None:
                span = "on average over the last" if c.windowed else "for"
                self.episodes.update(c.key, holds, iteration, lambda c=c, span=span: f"{c.name} {span} {self.patience} "
                                     f"iterations{'' if c.windowed else ' in a row'} (iteration {iteration}): "
                                     f"{c.advice}", needed=1 if c.windowed else None)
        return extra


class ValidationHealth:
    def __init__(self, psnr_drop=1.0, colour_limit=0.02, warn=print):
        self.psnr_drop, self.colour_limit = psnr_drop, colour_limit
        self.episodes = Episodes(1, warn)  # each validation is one observation
        self.best_psnr = None

    def observe(self, iteration, psnr, shift):
        if psnr is not None:
            self.best_psnr = psnr if self.best_psnr is None else max(self.best_psnr, psnr)
            self.episodes.update("psnr_drop", psnr < self.best_psnr - self.psnr_drop, iteration, lambda: (
                f"validation PSNR {psnr:.2f} dB at iteration {iteration} is over {self.psnr_drop:g} dB below its "
                f"best ({self.best_psnr:.2f} dB): the GAN stage may be adding artifacts; models/net_g_best keeps "
                "the best generator"))
        self.episodes.update("colour_shift", shift > self.colour_limit, iteration, lambda: (
            f"colour shift at iteration {iteration}: an SR image's channel mean is {shift:.3f} away from its GT's "
            f"(limit {self.colour_limit:g}); a known GAN failure: lower the adversarial weight or add a "
            "colour/pixel loss"))
