"""Loss terms, registered in srgan_kit.registry.LOSSES: pixel.py (L1 / MSE / Charbonnier), perceptual.py
(VGG-type feature and style distances), adversarial.py (the GAN loss zoo), feature_matching.py; objective.py
composes the generator's loss from them as one weighted list."""
