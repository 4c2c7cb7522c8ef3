"""model_type 'gan' (BasicSR's SRGANModel and ESRGANModel): G and D trained alternately (its option keys and
checks: models/gan_options.py).

Per iteration, in BasicSR's order:

1. Generator step, when ``iteration % net_d_iters == 0 and iteration > net_d_init_iters`` (n_critic
   D steps per G step, and a D-only warm-up): G's objective (pixel + perceptual + style + adversarial +
   feature matching + ``train.losses``, each weighted inside its term) is backpropagated into G's
   parameters only, G steps, and the EMA of G follows it. Terms that need D(real) (relativistic losses,
   feature matching) read it as a target (detached).
2. Discriminator step, every iteration: D on the real batch and on the generator's output *detached*
   (so G gets no gradient), ``gan_opt``'s D loss (+ the gradient penalty for wgan_gp), D steps, then its
   weights are clipped to [-d_clip, d_clip] when train.d_clip is set (WGAN).

Both steps share each D forward of the iteration (see :meth:`GANStep.run`).

On iterations without a G step the fake batch is made without a graph. D has its own optimiser
(train.optim_d) and scheduler (train.scheduler_d, else a separate instance of train.scheduler); both,
and D's weights (models/net_d_<iter>.pth), are saved and resumed by the trainer through
``optimizers`` / ``schedulers`` / ``networks_to_save()``.

``run`` returns the losses present this iteration: l_g_pix, l_g_percep, l_g_style, l_g_gan, l_g_fm
(G steps only), l_d_real, l_d_fake, l_d_gp, l_d_r1, l_d_r2, out_d_real / out_d_fake (mean D logits), and
d_acc_real / d_acc_fake / out_d_std (srgan_kit.training.health).
"""
import random

import torch

from srgan_kit.losses.adversarial import clip_weights
from srgan_kit.losses.objective import GeneratorView, pair_target, pair_targets
from srgan_kit.models.base import GeneratorStep, build_network


class GANStep(GeneratorStep):
    has_discriminator = True

    def __init__(self, opt, runtime):
        self.net_d = build_network(opt["network_d"], runtime, "network_d")
        super().__init__(opt, runtime)
        train = opt["train"]
        self.cri_gan = self.objective.term("train.gan_opt")
        self.d_clip = train.get("d_clip") or 0
        self.net_d_iters = train["net_d_iters"]
        self.net_d_init_iters = train["net_d_init_iters"]
        if train.get("scheduler_d"):
            sched_spec, sched_where = train["scheduler_d"], "train.scheduler_d"
        else:
            sched_spec, sched_where = train.get("scheduler"), "train.scheduler"
        self.add_optimizer("d", self.net_d, train["optim_d"], sched_spec, sched_where)
        self.adaptive_d = AdaptiveD(train["adaptive_d_ema_decay"], train["adaptive_d_threshold"]) \
            if train.get("adaptive_d") else None

    # ------------------------------------------------------------------------------------- schedule

    def updates_generator(self, iteration):
        """BasicSR's rule: G steps every net_d_iters iterations, after net_d_init_iters D-only ones."""
        return iteration % self.net_d_iters == 0 and iteration > self.net_d_init_iters

    def run(self, batch, iteration):
        """One iteration; ``batch`` may be a list of micro-batches (train.accumulate_grad_batches): G's and D's
        gradients add up over them and each network is updated once, after the last.

        Neither network changes before that update, so each micro-batch's D(real) and D(fake) serve both
        steps: G's backward goes into G's parameters only and keeps the graph, then D's loss backpropagates
        through the same logits into D's parameters only (the gradients of BasicSR's separate forwards on the
        detached output). Each micro-batch is finished before the next starts: memory is one micro-batch's."""
        micro = batch if isinstance(batch, list) else [batch]
        k, g_turn = len(micro), self.updates_generator(iteration)
        self.cri_gan.set_iteration(iteration, start=self.net_d_init_iters)  # gan_opt.warmup_iter's ramp
        self.net_g.train()
        self.net_d.train()
        self.skipped, g_update = [], None
        for i, loaded in enumerate(micro):
            seeds = self.noise_seeds(loaded)  # read on the CPU: no device round trip
            part, last = self.training_batch(loaded, iteration), i == k - 1
            real_target = pair_target(part, "gan")
            with self.syncing(self.net_g, last), self.syncing(self.net_d, last):
                real = self._discriminate(real_target, no_graph=False,
                                          features=g_turn and self.objective.needs_features)
                fake_logits = None
                if g_turn:
                    output, g_update, fake_logits = self.generator_step(part["lq"], part["gt"], real, parts=(i, k),
                                                                        targets=pair_targets(part))
                else:
                    with torch.no_grad(), self.runtime.autocast():
                        output = self.net_g(part["lq"])
                d_update = self.discriminator_step(real_target, output, real[0], seeds, parts=(i, k),
                                                   iteration=iteration, fake_logits=fake_logits)
        # G's update waits for D's backward (D sees G's output from before it anyway): one sync for both.
        return self.apply(*([g_update] if g_turn else []), d_update)

    # ------------------------------------------------------------------------------------ sub-steps

    def _discriminate(self, x, no_graph, features):
        """(logits, feature list or None) under autocast; ``no_graph`` for targets (D(real) read by G's terms
        when the step did not compute it)."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not no_graph), self.runtime.autocast():
            if features:
                return self.net_d(x, return_features=True)
            return self.net_d(x), None

    def generator_step(self, lq, gt, real=None, parts=(0, 1), targets=None):
        """G's loss backpropagated into G only; returns (G's output detached, its Update for :meth:`apply`
        (None before the last micro-batch: ``parts`` = (this one, how many)), D(output) with its graph or None).
        ``real``: D's (logits, features) on the 'gan' target when already computed; ``targets``: per-role
        targets other than ``gt``. The graph is kept so the D step can backpropagate through D(output)."""
        if parts[0] == 0:
            self.optimizers["g"].zero_grad(set_to_none=True)
        with self.runtime.autocast():
            output = self.net_g(lq)
        view = GeneratorView(output, gt, self.runtime.autocast, self._discriminate, self.objective.needs_features,
                             real=real, targets=targets, ema=self.ema_forward(lq))
        losses = {f"l_g_{name}": value for name, value in self.objective(view).items()}
        update = self.backward("g", losses, parts=parts[1], last=parts[0] == parts[1] - 1, keep_graph=True)
        fake = view.discriminator("fake")[0] if view.computed("fake") else None
        return output.detach(), update, fake

    def discriminator_step(self, gt, fake, real_logits=None, noise_seeds=None, parts=(0, 1), iteration=None,
                           fake_logits=None):
        """D's loss on the real batch and the detached fake one, backpropagated into D only; returns its Update
        (None before the last micro-batch, see generator_step). ``real_logits`` / ``fake_logits``: D(gt) and
        D(fake) with their graphs when this iteration computed them already; ``iteration``: for the lazy R1 / R2
        penalties (none without)."""
        fake = fake.detach()  # G gets no gradient from D's loss
        if parts[0] == 0:
            self.optimizers["d"].zero_grad(set_to_none=True)
        with self.runtime.autocast():
            if real_logits is None:
                real_logits = self.net_d(gt)
            if fake_logits is None:
                fake_logits = self.net_d(fake)
        l_real, l_fake = self.cri_gan.d_loss(real_logits, fake_logits)
        losses = {"l_d_real": l_real, "l_d_fake": l_fake}
        if self.cri_gan.needs_gradient_penalty:
            # Outside autocast: a double backward in fp32.
            losses["l_d_gp"] = self.cri_gan.gradient_penalty(self.runtime.bare(self.net_d), gt, fake,
                                                             eps=interpolation_weights(noise_seeds, gt))
        if iteration is not None:  # R1 / R2, in fp32 outside autocast like the gradient penalty
            losses.update(self.cri_gan.zero_centered_penalties(self.runtime.bare(self.net_d), gt, fake, iteration))
        real_d, fake_d = real_logits.detach().float(), fake_logits.detach().float()
        means = {"out_d_real": real_d.mean(), "out_d_fake": fake_d.mean(),
                 # what the health monitor reads (srgan_kit.training.health)
                 "d_acc_real": (real_d > fake_d.mean()).float().mean(),
                 "d_acc_fake": (fake_d < real_d.mean()).float().mean(),
                 "out_d_std": torch.cat([real_d.flatten(), fake_d.flatten()]).std()}
        return self.backward("d", losses, extra=means, parts=parts[1], last=parts[0] == parts[1] - 1)

    def held_updates(self, values):
        """With train.adaptive_d, D's update when G's smoothed adversarial loss rose (logged as d_skipped: how
        many so far)."""
        if self.adaptive_d is None:
            return set()
        held = {"d"} if "l_g_gan" in values and self.adaptive_d.holds_d(values["l_g_gan"]) else set()
        values["d_skipped"] = float(self.adaptive_d.skipped)
        return held

    def after_update(self, key):
        super().after_update(key)
        if key == "d" and self.d_clip:  # WGAN: D's weights back into [-c, c] after each of its updates
            clip_weights(self.runtime.bare(self.net_d), self.d_clip)

    # ------------------------------------------------------------------------------ save / restore

    def load_pretrained(self):
        """path.pretrain_network_g into G (and its EMA), path.pretrain_network_d into D."""
        super().load_pretrained()
        self.load_network(self.net_d, "d")

    def networks_to_save(self):
        return {**super().networks_to_save(), "net_d": {"params": self.net_d}}

    def state_dict(self):
        state = super().state_dict()
        if self.adaptive_d is not None:
            state["adaptive_d"] = self.adaptive_d.state_dict()
        return state

    def load_state_dict(self, state):
        super().load_state_dict(state)
        if self.adaptive_d is not None and state.get("adaptive_d"):
            self.adaptive_d.load_state_dict(state["adaptive_d"])


class AdaptiveD:
    """traiNNer-redux's adaptive discriminator: G's adversarial loss, smoothed by an EMA (from 0, decay
    ``ema_decay``), rising by more than ``threshold`` times its previous value means D is pulling ahead of G, and
    D's update of that iteration is skipped. The rise is measured against the EMA's magnitude, so losses that can
    be negative (WGAN's, hinge's G loss) read the same way."""

    def __init__(self, ema_decay=0.999, threshold=1.02):
        self.ema_decay, self.threshold = float(ema_decay), float(threshold)
        self.ema, self.skipped = 0.0, 0

    def holds_d(self, g_gan_loss):
        """Update the EMA with this iteration's adversarial loss; whether D should skip its update."""
        new = self.ema_decay * self.ema + (1 - self.ema_decay) * g_gan_loss
        hold = new - self.ema > (self.threshold - 1) * abs(self.ema)
        self.ema = new
        self.skipped += hold
        return hold

    def state_dict(self):
        return {"ema": self.ema, "skipped": self.skipped}

    def load_state_dict(self, state):
        self.ema, self.skipped = float(state["ema"]), int(state["skipped"])


def interpolation_weights(seeds, like):
    """WGAN-GP's per-sample interpolation weights, from each sample's own seed when the batch carries them (the
    same numbers whatever the number of processes), else None (the penalty draws them)."""
    if seeds is None:
        return None
    eps = [random.Random(int(s)).random() for s in seeds.tolist()]
    return torch.tensor(eps, dtype=like.dtype, device=like.device).view(-1, *([1] * (like.dim() - 1)))
