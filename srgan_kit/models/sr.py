"""model_type 'sr' (BasicSR's SRModel): the generator alone, trained on its loss terms (pixel, perceptual, ...)."""
from srgan_kit.config.schema import ModelType
from srgan_kit.models.base import GeneratorStep
from srgan_kit.registry import MODEL_TYPES


def _check(opt, ctx):
    train = opt.get("train")
    if ctx.is_train and train and not (train.get("pixel_opt") or train.get("perceptual_opt") or train.get("losses")):
        ctx.problem(("train", "pixel_opt"), "missing required section (model_type 'sr' needs a generator loss, "
                    "e.g. a pixel loss with 'type': L1Loss, MSELoss or CharbonnierLoss, or perceptual_opt)")
    if opt.get("network_d") is not None:
        ctx.warn(("network_d",), "not used by model_type 'sr' (only GAN training uses a discriminator)")


MODEL_TYPES.register("sr", aliases=("SRModel",))(ModelType("sr", step=GeneratorStep, check=_check))
