"""model_type 'gan' (BasicSR's SRGANModel and ESRGANModel): the keys it adds, what its aliases imply and its
cross-checks, without torch (the step: models/gan.py)."""
from srgan_kit.config.engine import (BOOL, INT, NON_EMPTY, NUMBER, STR, Field, at_least, greater, half_open,
                                    list_of)
from srgan_kit.config.schema import ModelType, loss_node, optimizer_node, scheduler_node, train_gt_size
from srgan_kit.losses.gan_options import FEATURE_CRITERIA, GAN_TYPE_NAMES, GP_TYPES, RELATIVISTIC_MODES
from srgan_kit.registry import ARCHS, LOSSES, MODEL_TYPES


def _prepare(raw, given):
    """ESRGANModel means the relativistic average GAN (ESRGAN's RaGAN) unless the file says otherwise."""
    train = raw.get("train")
    gan_opt = train.get("gan_opt") if isinstance(train, dict) else None
    if given == "ESRGANModel" and isinstance(gan_opt, dict):
        gan_opt.setdefault("relativistic", "average")


def check_gan(opt, ctx):
    """A discriminator, an adversarial loss and the options around them that agree (every model type with D)."""
    if not ctx.is_train:
        return
    if opt.get("network_d") is None:
        ctx.problem(("network_d",), "missing required section (GAN training needs a discriminator: a mapping "
                    "with 'type': VGGStyleDiscriminator, PatchGANDiscriminator or UNetDiscriminatorSN)")
    train = opt.get("train")
    if not train:
        return
    gan_opt = train.get("gan_opt")
    if gan_opt is None:
        ctx.problem(("train", "gan_opt"), "missing required section (GAN training needs an adversarial loss: "
                    "a mapping with 'type': GANLoss, e.g. gan_type: vanilla)")
    elif not LOSSES.is_subclass(gan_opt["type"], "GANLoss"):
        ctx.problem(("train", "gan_opt", "type"), f"expected GANLoss (the adversarial loss), got {gan_opt['type']!r}")
    elif train.get("d_clip") and gan_opt.get("gan_type") in GP_TYPES:
        ctx.problem(("train", "d_clip"), f"{train['d_clip']} together with train.gan_opt.gan_type="
                    f"{gan_opt['gan_type']}: weight clipping and the gradient penalty are two alternative ways "
                    "to keep the critic Lipschitz and are never combined; remove train.d_clip (WGAN-GP) or set "
                    "gan_type: wgan (WGAN with clipping)")
    _check_discriminator_size(opt, ctx)


def _check_discriminator_size(opt, ctx):
    """A discriminator with a fixed input size (VGG-style) must see crops of exactly that size."""
    net_d, train_set = opt.get("network_d"), opt["datasets"].get("train")
    if net_d is None or not train_set:
        return
    args = ARCHS.arguments(net_d["type"])
    gt_size, where = train_gt_size(opt)
    if "input_size" in args and gt_size:
        size = net_d.get("input_size", args["input_size"])
        if size != gt_size:
            ctx.problem(where, f"{gt_size} does not match network_d.input_size {size} "
                        f"({net_d['type']} sees the ground-truth crops whole)")


# The keys this model type adds (models/realesrgan_options.py adds them too).
FIELDS = {
    "train": {
        "optim_d": optimizer_node(),
        "scheduler_d": scheduler_node(),  # absent: D gets its own instance of train.scheduler
        "gan_opt": loss_node(known={
            "gan_type": Field(STR, choices=GAN_TYPE_NAMES),
            "relativistic": Field(STR, choices=RELATIVISTIC_MODES),
            "real_label_val": Field(NUMBER), "fake_label_val": Field(NUMBER),
            # their ranges: GANLoss.check_arguments
            "gp_weight": Field(NUMBER), "r1_gamma": Field(NUMBER), "r2_gamma": Field(NUMBER),
            "reg_every": Field(INT), "warmup_iter": Field(INT)}),
        # One loss without a 'type' in BasicSR-style files.
        "feature_matching_opt": loss_node(default_type="FeatureMatchingLoss", known={
            "criterion": Field(STR, choices=FEATURE_CRITERIA),
            "layers": Field(list_of(INT), nullable=True, check=NON_EMPTY)}),
        "net_d_iters": Field(INT, 1, check=greater(0)),
        "net_d_init_iters": Field(INT, 0, check=at_least(0)),
        "d_clip": Field(NUMBER, None, nullable=True, check=at_least(0)),
        # traiNNer-redux's adaptive D: D's update is skipped while G's smoothed adversarial loss rises (models/gan.py)
        "adaptive_d": Field(BOOL, False),
        "adaptive_d_ema_decay": Field(NUMBER, 0.999, check=half_open(0, 1)),
        "adaptive_d_threshold": Field(NUMBER, 1.02, check=at_least(1)),
    },
    "path": {
        "pretrain_network_d": Field(STR, None, nullable=True),
        "param_key_d": Field(STR, "params", nullable=True),
        "strict_load_d": Field(BOOL, True),
    },
}

MODEL_TYPES.register("gan", aliases=("SRGANModel", "ESRGANModel"))(ModelType(
    "gan", step_class="srgan_kit.models.gan:GANStep", fields=FIELDS, prepare=_prepare, check=check_gan))
