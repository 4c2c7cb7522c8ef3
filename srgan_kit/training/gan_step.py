"""GAN training (model_type 'gan'; BasicSR's SRGANModel and ESRGANModel are aliases).

Per iteration, in BasicSR's order:

1. Generator step, when ``iteration % net_d_iters == 0 and iteration > net_d_init_iters`` (n_critic
   D steps per G step, and a D-only warm-up): D's parameters are frozen (requires_grad off), then
   ``pixel + perceptual + style + adversarial + feature matching`` (each weighted inside its loss, each
   optional except the adversarial term) is backpropagated, G steps, and the EMA of G follows it.
   Relativistic losses and feature matching also need D(real); it is computed without a graph.
2. Discriminator step, every iteration: D on the real batch and on the generator's output *detached*
   (so G gets no gradient), ``gan_opt``'s D loss (+ the gradient penalty for wgan_gp), D steps, then its
   weights are clipped to [-d_clip, d_clip] when train.d_clip is set (WGAN).

On iterations without a G step the fake batch is made without a graph. D has its own optimiser
(train.optim_d) and scheduler (train.scheduler_d, else a separate instance of train.scheduler); both,
and D's weights (models/net_d_<iter>.pth), are saved and resumed by the trainer through
``optimizers`` / ``schedulers`` / ``networks_to_save()``.

``run`` returns the losses present this iteration: l_g_pix, l_g_percep, l_g_style, l_g_gan, l_g_fm
(G steps only), l_d_real, l_d_fake, l_d_gp, and out_d_real / out_d_fake (mean D logits).
"""
import torch

from srgan_kit.errors import OptionError
from srgan_kit.losses.adversarial import GANLoss, check_clip_and_gp, clip_weights
from srgan_kit.losses.feature_matching import FeatureMatchingLoss
from srgan_kit.registry import LOSSES
from srgan_kit.training.steps import STEPS, GeneratorStep, build_network, losses_to_floats


@STEPS.register("gan", aliases=("SRGANModel", "ESRGANModel"))
class GANStep(GeneratorStep):
    def __init__(self, opt, runtime):
        super().__init__(opt, runtime)
        train = opt["train"]
        if not opt.get("network_d"):
            raise OptionError("network_d: GAN training (model_type gan) needs a discriminator")
        if not train.get("gan_opt"):
            raise OptionError("train.gan_opt: GAN training (model_type gan) needs an adversarial loss")
        self.net_d = build_network(opt["network_d"], runtime, "network_d")
        # The parameters D trains; only these are frozen / unfrozen around the G step.
        self.d_params = [p for p in self.net_d.parameters() if p.requires_grad]

        self.cri_pix = self._build_loss(train, "pixel_opt")
        self.cri_perceptual = self._build_loss(train, "perceptual_opt")
        self.cri_gan = self._build_loss(train, "gan_opt")
        if not isinstance(self.cri_gan, GANLoss):
            raise OptionError(f"train.gan_opt.type: expected GANLoss, got {train['gan_opt']['type']!r}")
        self.d_clip = train.get("d_clip") or 0
        check_clip_and_gp(self.cri_gan.gan_type, self.d_clip)
        fm_opt = train.get("feature_matching_opt")
        self.cri_fm = FeatureMatchingLoss(**fm_opt) if fm_opt is not None else None
        self.net_d_iters = int(train.get("net_d_iters") or 1)
        self.net_d_init_iters = int(train.get("net_d_init_iters") or 0)

        if train.get("scheduler_d"):
            sched_spec, sched_where = train["scheduler_d"], "train.scheduler_d"
        else:
            sched_spec, sched_where = train.get("scheduler"), "train.scheduler"
        self.add_optimizer("d", self.net_d, train["optim_d"], sched_spec, sched_where)

    def _build_loss(self, train, key):
        spec = train.get(key)
        if not spec:
            return None
        return self.runtime.prepare(LOSSES.build(spec, where=f"train.{key}"))

    # ------------------------------------------------------------------------------------- schedule

    def updates_generator(self, iteration):
        """BasicSR's rule: G steps every net_d_iters iterations, after net_d_init_iters D-only ones."""
        return iteration % self.net_d_iters == 0 and iteration > self.net_d_init_iters

    def run(self, batch, iteration):
        batch = self.runtime.to_device(batch)
        self.net_g.train()
        self.net_d.train()
        losses = {}
        if self.updates_generator(iteration):
            output, g_losses = self.generator_step(batch["lq"], batch["gt"])
            losses.update(g_losses)
        else:
            with torch.no_grad(), self.runtime.autocast():
                output = self.net_g(batch["lq"])
        losses.update(self.discriminator_step(batch["gt"], output))
        return losses_to_floats(losses)

    # ------------------------------------------------------------------------------------ sub-steps

    def _set_d_trainable(self, flag):
        for p in self.d_params:
            p.requires_grad_(flag)

    def _discriminate(self, x, features):
        """(logits, feature list or None)."""
        if features:
            return self.net_d(x, return_features=True)
        return self.net_d(x), None

    def generator_step(self, lq, gt):
        """One G update with D frozen; returns (G's output before the update, {loss name: tensor})."""
        self._set_d_trainable(False)
        self.optimizers["g"].zero_grad(set_to_none=True)
        losses = {}
        with self.runtime.autocast():
            output = self.net_g(lq)
        if self.cri_pix is not None:
            losses["l_g_pix"] = self.cri_pix(output.float(), gt)  # fp32, as in PSNRStep
        if self.cri_perceptual is not None:
            with self.runtime.autocast():
                result = self.cri_perceptual(output, gt)
            percep, style = result if isinstance(result, tuple) else (result, None)
            if percep is not None:
                losses["l_g_percep"] = percep.float()
            if style is not None:
                losses["l_g_style"] = style.float()

        with_features = self.cri_fm is not None
        real_logits = real_features = None
        with self.runtime.autocast():
            fake_logits, fake_features = self._discriminate(output, with_features)
            if self.cri_gan.is_relativistic or with_features:
                with torch.no_grad():  # targets only: D(real) needs no graph in the G step
                    real_logits, real_features = self._discriminate(gt, with_features)
        losses["l_g_gan"] = self.cri_gan.g_loss(fake_logits, real_logits)
        if with_features:
            losses["l_g_fm"] = self.cri_fm(fake_features, real_features)

        self.optimize_generator(sum(losses.values()))
        return output.detach(), losses

    def discriminator_step(self, gt, fake):
        """One D update on the real batch and the detached fake one; returns {loss name: tensor}."""
        self._set_d_trainable(True)
        fake = fake.detach()  # G gets no gradient from D's loss
        self.optimizers["d"].zero_grad(set_to_none=True)
        with self.runtime.autocast():
            real_logits = self.net_d(gt)
            fake_logits = self.net_d(fake)
        l_real, l_fake = self.cri_gan.d_loss(real_logits, fake_logits)
        losses = {"l_d_real": l_real, "l_d_fake": l_fake}
        if self.cri_gan.needs_gradient_penalty:
            # Outside autocast: a double backward in fp32.
            losses["l_d_gp"] = self.cri_gan.gradient_penalty(self.net_d, gt, fake)
        self.optimize("d", sum(losses.values()))
        if self.d_clip:
            clip_weights(self.runtime.bare(self.net_d), self.d_clip)
        losses["out_d_real"] = real_logits.detach().float().mean()
        losses["out_d_fake"] = fake_logits.detach().float().mean()
        return losses

    # ------------------------------------------------------------------------------ save / restore

    def load_pretrained(self):
        """path.pretrain_network_g into G (and its EMA), path.pretrain_network_d into D."""
        super().load_pretrained()
        self.load_network(self.net_d, "d")

    def networks_to_save(self):
        return {**super().networks_to_save(), "net_d": {"params": self.net_d}}
