"""A small built-in dataset from the photos scikit-image ships (no download): PNG folders with MATLAB-bicubic LR.

Layout under ``root``: train/HR, train/LR, val/HR, val/LR; LR files are named ``<name>x<scale>.png`` (option
``filename_tmpl: "{}x<scale>"``). HR images are cropped (centre, mostly) to at most 480x480 and to multiples of 24, so
one HR folder serves x2, x3, x4 and x8 and the LR of every scale can sit side by side. LR images are what
MATLAB's ``imresize(hr, 1/scale)`` writes (:func:`~srgan_kit.data.degradation.imresize_int`).
"""
from pathlib import Path

import numpy as np

from srgan_kit.data.degradation import imresize_int
from srgan_kit.data.imageio import load_image, quantize, save_image
from srgan_kit.errors import OptionError

# Natural RGB photos that skimage.data holds locally. "cat" is the same photo as "chelsea", so it is not used.
TRAIN_PHOTOS = ("coffee", "rocket", "immunohistochemistry", "hubble_deep_field", "retina")
VAL_PHOTOS = ("astronaut", "chelsea", "motorcycle")
# Crop origins (top, left) where the centre is a poor choice: the retina's centre is a flat red blur;
# this window holds the optic disc and vessels.
_CROP_ORIGIN = {"retina": (380, 100)}
MAX_SIDE = 480
MULTIPLE = 24  # divisible by every supported scale (1, 2, 3, 4, 6, 8, 12, 24)


def _photo(name):
    import skimage.data  # imported here: only building the demo needs scikit-image

    if name == "motorcycle":
        return skimage.data.stereo_motorcycle()[0]  # left view; the right one would leak into training
    return getattr(skimage.data, name)()


def _crop(name, img):
    h, w = img.shape[:2]
    th = min(h, MAX_SIDE) // MULTIPLE * MULTIPLE
    tw = min(w, MAX_SIDE) // MULTIPLE * MULTIPLE
    top, left = _CROP_ORIGIN.get(name, ((h - th) // 2, (w - tw) // 2))
    return img[top : top + th, left : left + tw, :3]


def _build_split(hr_dir, lr_dir, names, scale):
    for name in names:
        hr_path = hr_dir / f"{name}.png"
        if not hr_path.is_file():
            save_image(hr_path, _crop(name, _photo(name)).astype(np.float32) / 255.0)
        lr_path = lr_dir / f"{name}x{scale}.png"
        if not lr_path.is_file():
            # from the file, so the LR always matches the HR on disk; bit-exact MATLAB like benchmark sets
            hr = quantize(load_image(hr_path).rgb)
            save_image(lr_path, imresize_int(hr, 1.0 / scale).astype(np.float32) / 255.0)


def build_demo_dataset(root="datasets/demo", scale=4):
    """Build (or complete) the demo dataset under ``root``; returns the four folders as strings.

    Idempotent: existing files are kept, missing ones are written (atomically), so an interrupted build
    resumes and a second call costs nothing.
    """
    if not isinstance(scale, int) or isinstance(scale, bool) or scale < 1 or MULTIPLE % scale:
        raise OptionError(f"demo dataset: scale must divide {MULTIPLE} (1, 2, 3, 4, 6, 8, ...), got {scale!r}")
    root = Path(root)
    paths = {
        "train_hr": root / "train" / "HR",
        "train_lr": root / "train" / "LR",
        "val_hr": root / "val" / "HR",
        "val_lr": root / "val" / "LR",
    }
    _build_split(paths["train_hr"], paths["train_lr"], TRAIN_PHOTOS, scale)
    _build_split(paths["val_hr"], paths["val_lr"], VAL_PHOTOS, scale)
    return {key: str(path) for key, path in paths.items()}
