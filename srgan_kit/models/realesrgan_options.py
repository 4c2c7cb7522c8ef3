"""model_type 'realesrgan' (Real-ESRGAN's RealESRGANModel): the GAN stage's keys and the degradation stage's,
with both their checks, without torch (the step: models/realesrgan.py)."""
from srgan_kit.config.schema import ModelType
from srgan_kit.models.gan_options import FIELDS as GAN_FIELDS
from srgan_kit.models.gan_options import check_gan
from srgan_kit.models.realesrnet_options import FIELDS as DEGRADATION_FIELDS
from srgan_kit.models.realesrnet_options import check_degraded
from srgan_kit.registry import MODEL_TYPES


def _check(opt, ctx):
    check_gan(opt, ctx)
    check_degraded(opt, ctx)


MODEL_TYPES.register("realesrgan", aliases=("RealESRGANModel",))(ModelType(
    "realesrgan", step_class="srgan_kit.models.realesrgan:RealESRGANStep",
    fields={"": DEGRADATION_FIELDS, **GAN_FIELDS}, check=_check))
