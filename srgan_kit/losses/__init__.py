"""Losses. pixel.py: L1 / MSE / Charbonnier (registered in srgan_kit.registry.LOSSES).

Perceptual and adversarial losses join here in the GAN issue; srgan_kit.builtins imports each module
explicitly so the registry is populated without scanning folders.
"""
