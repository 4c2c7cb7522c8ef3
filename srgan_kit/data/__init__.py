"""Data: image files (imageio), MATLAB bicubic (degradation), crops/flips (transforms), datasets, demo data.

Only the light, torch-free helpers are re-exported here; import ``srgan_kit.data.datasets`` (or
``srgan_kit.builtins``) to register the datasets.
"""
from srgan_kit.data.degradation import bicubic_pair, imresize, mod_crop
from srgan_kit.data.imageio import IMAGE_EXTENSIONS, LoadedImage, list_images, load_image, save_image

__all__ = [
    "IMAGE_EXTENSIONS",
    "LoadedImage",
    "bicubic_pair",
    "imresize",
    "list_images",
    "load_image",
    "mod_crop",
    "save_image",
]
