"""The built-in demo dataset: layout, held-out split, MATLAB-bicubic LR that agrees with the scale, idempotence."""
from pathlib import Path

import numpy as np
import pytest

from srgan_kit.data.datasets import PairedImageDataset
from srgan_kit.data.degradation import imresize, imresize_int
from srgan_kit.data.demo import TRAIN_PHOTOS, VAL_PHOTOS, build_demo_dataset
from srgan_kit.data.imageio import list_images, load_image
from srgan_kit.errors import OptionError


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    return root, build_demo_dataset(root=root, scale=4)


def _u8(path):
    return np.round(load_image(path).rgb * 255).astype(np.uint8)


def test_layout_and_held_out_split(demo):
    root, paths = demo
    assert paths == {k: str(root / split / kind) for k, (split, kind) in
                     {"train_hr": ("train", "HR"), "train_lr": ("train", "LR"),
                      "val_hr": ("val", "HR"), "val_lr": ("val", "LR")}.items()}
    train = [p.stem for p in list_images(paths["train_hr"])]
    val = [p.stem for p in list_images(paths["val_hr"])]
    assert sorted(train) == sorted(TRAIN_PHOTOS) and sorted(val) == sorted(VAL_PHOTOS)
    assert 3 <= len(val) and 5 <= len(train) <= 6 and not set(train) & set(val)
    assert [p.name for p in list_images(paths["val_lr"])] == sorted(f"{n}x4.png" for n in VAL_PHOTOS)
    total = sum(f.stat().st_size for f in Path(root).rglob("*") if f.is_file())
    assert total < 8 * 2**20  # modest


def test_pairs_agree_with_the_scale_and_are_matlab_bicubic(demo):
    _, paths = demo
    for split in ("train", "val"):
        for hr_path in list_images(paths[f"{split}_hr"]):
            hr = _u8(hr_path)
            lr = _u8(Path(paths[f"{split}_lr"]) / f"{hr_path.stem}x4.png")
            assert hr.shape[0] % 4 == 0 and hr.shape[1] % 4 == 0 and max(hr.shape[:2]) <= 480
            assert lr.shape == (hr.shape[0] // 4, hr.shape[1] // 4, 3)
            np.testing.assert_array_equal(lr, imresize_int(hr, 1 / 4))
            # BasicSR's convention differs only at borders and clipped highlights (MATLAB's uint8 row pass)
            diff = np.abs(np.round(np.clip(imresize(hr / 255.0, 1 / 4), 0, 1) * 255) - lr)
            assert diff.mean() < 0.5 and (diff > 1).mean() < 0.01


def test_loads_as_a_paired_dataset(demo):
    _, paths = demo
    ds = PairedImageDataset(dataroot_gt=paths["val_hr"], dataroot_lq=paths["val_lr"], scale=4, phase="val",
                            filename_tmpl="{}x4")
    assert len(ds) == len(VAL_PHOTOS)
    item = ds[0]
    assert item["gt"].shape[1] == 4 * item["lq"].shape[1]


def test_idempotent_and_self_healing(demo):
    root, paths = demo
    files = sorted(Path(root).rglob("*.png"))
    stamps = {f: f.stat().st_mtime_ns for f in files}
    lost = Path(paths["train_lr"]) / f"{TRAIN_PHOTOS[0]}x4.png"
    before = lost.read_bytes()
    lost.unlink()
    assert build_demo_dataset(root=root, scale=4) == paths
    assert lost.read_bytes() == before  # rebuilt identically
    assert all(f.stat().st_mtime_ns == stamps[f] for f in files if f != lost)  # others untouched


def test_other_scale_sits_beside(demo):
    root, paths = demo
    build_demo_dataset(root=root, scale=3)
    hr = _u8(Path(paths["val_hr"]) / f"{VAL_PHOTOS[0]}.png")
    lr3 = _u8(Path(paths["val_lr"]) / f"{VAL_PHOTOS[0]}x3.png")
    assert lr3.shape[:2] == (hr.shape[0] // 3, hr.shape[1] // 3)
    assert (Path(paths["val_lr"]) / f"{VAL_PHOTOS[0]}x4.png").is_file()
    with pytest.raises(OptionError, match="scale"):
        build_demo_dataset(root=root, scale=5)
