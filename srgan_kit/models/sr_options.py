"""model_type 'sr' (BasicSR's SRModel): its options and cross-checks, without torch (the step: models/base.py's
GeneratorStep, the generator alone trained on its loss terms)."""
from srgan_kit.config.schema import ModelType
from srgan_kit.registry import MODEL_TYPES


def check_generator_only(opt, ctx):
    """A generator loss is required and a discriminator is not used (every model type without D)."""
    train = opt.get("train")
    if ctx.is_train and train and not (train.get("pixel_opt") or train.get("perceptual_opt") or train.get("losses")):
        ctx.problem(("train", "pixel_opt"), f"missing required section (model_type {opt['model_type']!r} needs a "
                    "generator loss, e.g. a pixel loss with 'type': L1Loss, MSELoss or CharbonnierLoss, or "
                    "perceptual_opt)")
    if opt.get("network_d") is not None:
        ctx.warn(("network_d",), f"not used by model_type {opt['model_type']!r} (only GAN training uses a "
                 "discriminator)")


# SwinIRModel (BasicSR) and HATModel (HAT's repository) are SRModel with inputs padded to the window at test
# time, which every generator here gets from its size rule.
MODEL_TYPES.register("sr", aliases=("SRModel", "SwinIRModel", "HATModel"))(ModelType(
    "sr", step_class="srgan_kit.models.base:GeneratorStep", check=check_generator_only))
