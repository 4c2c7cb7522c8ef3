"""srgan_kit: GAN-based single-image super-resolution training, inference and evaluation."""

__version__ = "0.1.0"
