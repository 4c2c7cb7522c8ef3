"""model_type 'realesrgan' (Real-ESRGAN's RealESRGANModel): the GAN stage on synthetic real-world pairs.

GANStep (models/gan.py: G and D alternately, D on the detached fake batch, n_critic and warm-up, every GAN loss
and its relativistic form) with the degradation stage of models/realesrnet.py in front. As in Real-ESRGAN, each
generator term and the discriminator's real input take the plain or the sharpened GT by its own key:
``l1_gt_usm`` (pixel), ``percep_gt_usm`` (perceptual), ``gan_gt_usm`` (D's real batch and D(real) for the G terms).
"""
from srgan_kit.models.gan import GANStep
from srgan_kit.models.realesrnet import DegradedPairs


class RealESRGANStep(DegradedPairs, GANStep):
    pass
