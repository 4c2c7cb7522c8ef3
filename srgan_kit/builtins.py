"""Import every built-in module that registers archs, datasets, losses, optimisers, schedulers and metrics.

Explicit imports (no folder scanning): a reader sees what exists, and a missing module fails loudly here.
"""
import srgan_kit.archs.generators  # noqa: F401
import srgan_kit.archs.discriminators  # noqa: F401
import srgan_kit.data.datasets  # noqa: F401
import srgan_kit.losses.pixel  # noqa: F401
import srgan_kit.training.optim  # noqa: F401
import srgan_kit.metrics  # noqa: F401
import srgan_kit.losses.adversarial  # noqa: F401
import srgan_kit.losses.perceptual  # noqa: F401
import srgan_kit.training.gan_step  # noqa: F401  (registers model_type 'gan' in training.steps.STEPS)
