"""The values option files choose among for the adversarial terms, and the rules for them, without torch: the
option loader checks files with them; srgan_kit.losses.adversarial and feature_matching implement each name."""
from srgan_kit.errors import ArgumentError

GAN_TYPE_NAMES = ("vanilla", "lsgan", "wgan", "wgan_gp", "hinge", "softplus", "wgan_softplus", "rpgan")
GP_TYPES = ("wgan_gp",)
# gan_types that are another type in a fixed relativistic mode: rpgan's D loss softplus(D(fake) - D(real)) and
# G loss softplus(D(real) - D(fake)) are softplus with the paired ('standard') relativistic logits.
IMPLIED_RELATIVISTIC = {"rpgan": "standard"}
RELATIVISTIC_MODES = ("none", "average", "standard")
FEATURE_CRITERIA = ("l1", "l2")


def check_gan_loss_options(options):
    """Ranges of GANLoss's penalty weights and schedules."""
    for name in ("gp_weight", "r1_gamma", "r2_gamma", "warmup_iter"):
        if name in options and float(options[name]) < 0:
            raise ArgumentError(name, f"must be >= 0, got {options[name]}")
    if "reg_every" in options and int(options["reg_every"]) < 1:
        raise ArgumentError("reg_every", f"must be >= 1, got {options['reg_every']}")
