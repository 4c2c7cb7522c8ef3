"""Datasets: pairing by filename_tmpl, aligned crops, identical augmentation, on-the-fly LQ, bad-input messages."""
import random
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from srgan_kit.data.datasets import GTOnlyDataset, PairedImageDataset
from srgan_kit.data.degradation import imresize, mod_crop
from srgan_kit.data.imageio import load_image, save_image
from srgan_kit.data.transforms import apply_flips, augment, paired_random_crop, to_tensor
from srgan_kit.errors import DataError, OptionError
from srgan_kit.registry import DATASETS

SCALE = 4


def _block_mean(img, s):
    h, w = img.shape[0] // s * s, img.shape[1] // s * s
    return img[:h, :w].reshape(h // s, s, w // s, s, -1).mean(axis=(1, 3))


def _noise(shape, seed):
    return np.random.default_rng(seed).integers(0, 256, shape).astype(np.float64) / 255.0


def _make_pair(gt_dir, lq_dir, stem, shape, seed, tmpl="{}x4", ext=".png"):
    """GT noise and its exact box down-sample as LQ (so any LQ pixel says which GT block it came from)."""
    gt = _noise(shape, seed)
    save_image(gt_dir / f"{stem}{ext}", gt)
    save_image(lq_dir / f"{tmpl.format(stem)}{ext}", _block_mean(gt, SCALE))
    return gt


@pytest.fixture
def folders(tmp_path):
    gt_dir, lq_dir = tmp_path / "GT", tmp_path / "LQ"
    gts = {
        "baby": _make_pair(gt_dir, lq_dir, "baby", (40, 48, 3), 0),
        "bird": _make_pair(gt_dir, lq_dir, "bird", (36, 32, 3), 1),
    }
    return gt_dir, lq_dir, gts


def _assert_aligned(item, scale=SCALE):
    gt, lq = item["gt"].numpy().transpose(1, 2, 0), item["lq"].numpy().transpose(1, 2, 0)
    assert gt.shape[0] == lq.shape[0] * scale and gt.shape[1] == lq.shape[1] * scale
    # LQ was rounded to 8 bits after the box mean; a crop off by one LQ pixel would miss by far more
    assert np.abs(_block_mean(gt, scale) - lq).max() <= 0.5 / 255 + 1e-6


def test_pairs_by_filename_tmpl(folders):
    gt_dir, lq_dir, _ = folders
    ds = PairedImageDataset(dataroot_gt=gt_dir, dataroot_lq=lq_dir, scale=4, phase="val", filename_tmpl="{}x4")
    assert len(ds) == 2
    item = ds[0]
    assert item["gt_path"].endswith("baby.png") and item["lq_path"].endswith("babyx4.png")
    assert set(item) == {"lq", "gt", "lq_path", "gt_path"}
    assert item["gt"].dtype == torch.float32 and item["gt"].shape == (3, 40, 48) and item["lq"].shape == (3, 10, 12)
    _assert_aligned(item)


def test_pairs_across_extensions(tmp_path):
    gt_dir, lq_dir = tmp_path / "GT", tmp_path / "LQ"
    gt = _noise((16, 16, 3), 2)
    save_image(gt_dir / "a.png", gt)
    save_image(lq_dir / "a_lr.bmp", _block_mean(gt, 4))
    ds = PairedImageDataset(dataroot_gt=gt_dir, dataroot_lq=lq_dir, scale=4, phase="val", filename_tmpl="{}_lr")
    assert ds[0]["lq_path"].endswith("a_lr.bmp")


def test_train_crops_are_aligned(folders):
    gt_dir, lq_dir, gts = folders
    ds = PairedImageDataset(dataroot_gt=gt_dir, dataroot_lq=lq_dir, scale=4, filename_tmpl="{}x4", gt_size=16)
    random.seed(0)
    for i in range(12):
        item = ds[i % 2]
        assert item["gt"].shape == (3, 16, 16) and item["lq"].shape == (3, 4, 4)
        _assert_aligned(item)
        # the GT crop is a real window of its source, starting on the LQ grid
        src = gts["baby" if i % 2 == 0 else "bird"]
        gt = item["gt"].numpy().transpose(1, 2, 0)
        hits = [(t, l) for t in range(0, src.shape[0] - 15, 4) for l in range(0, src.shape[1] - 15, 4)
                if np.allclose(src[t:t + 16, l:l + 16], gt, atol=1e-6)]
        assert len(hits) == 1


def test_flips_and_rotations_are_identical_for_gt_and_lq(folders):
    gt_dir, lq_dir, _ = folders
    ds = PairedImageDataset(dataroot_gt=gt_dir, dataroot_lq=lq_dir, scale=4, filename_tmpl="{}x4", gt_size=16,
                            use_hflip=True, use_rot=True)
    random.seed(1)
    for i in range(16):
        _assert_aligned(ds[i % 2])  # a flip applied to one and not the other would break the box relation


def test_augment_applies_one_dihedral_transform_to_all():
    gt, lq = _noise((8, 12, 3), 3), _noise((2, 3, 3), 4)
    combos = [(h, v, t) for h in (0, 1) for v in (0, 1) for t in (0, 1)]
    seen = set()
    random.seed(2)
    for _ in range(64):
        out_gt, out_lq = augment([gt, lq], hflip=True, rot=True)
        matches = [c for c in combos if np.array_equal(out_gt, apply_flips(gt, *c))]
        assert matches and np.array_equal(out_lq, apply_flips(lq, *matches[0]))
        assert out_gt.flags["C_CONTIGUOUS"]
        seen.add(matches[0])
    assert len(seen) == 8  # every flip/rotation happens
    assert all(np.array_equal(a, b) for a, b in zip(augment([gt, lq], hflip=False, rot=False), [gt, lq]))
    # the 90-degree rotations are among them: a flip, then a transpose
    np.testing.assert_array_equal(apply_flips(gt, True, False, True), np.rot90(gt, k=1))
    np.testing.assert_array_equal(apply_flips(gt, False, True, True), np.rot90(gt, k=-1))


def test_paired_random_crop_and_to_tensor():
    gt = _noise((20, 24, 3), 5)
    lq = _block_mean(gt, 4)
    random.seed(3)
    g, q = paired_random_crop(gt, lq, 8, 4, gt_path="g.png", lq_path="q.png")
    np.testing.assert_allclose(_block_mean(g, 4), q)
    t = to_tensor(g)
    assert t.dtype == torch.float32 and t.shape == (3, 8, 8)
    np.testing.assert_allclose(t.numpy(), g.transpose(2, 0, 1), atol=1e-7)
    with pytest.raises(DataError, match="g.png.*q.png"):
        paired_random_crop(gt, lq[:4], 8, 4, gt_path="g.png", lq_path="q.png")
    with pytest.raises(DataError, match="g.png.*smaller than gt_size 24"):
        paired_random_crop(gt, lq, 24, 4, gt_path="g.png", lq_path="q.png")


def test_gt_not_multiple_of_scale_is_cropped(tmp_path):
    gt = _noise((41, 50, 3), 6)
    save_image(tmp_path / "GT" / "a.png", gt)
    save_image(tmp_path / "LQ" / "a.png", _block_mean(gt, 4))
    item = PairedImageDataset(dataroot_gt=tmp_path / "GT", dataroot_lq=tmp_path / "LQ", scale=4, phase="val")[0]
    assert item["gt"].shape == (3, 40, 48)
    _assert_aligned(item)


def test_missing_folder_names_it(folders, tmp_path):
    gt_dir, _, _ = folders
    with pytest.raises(DataError, match="nowhere"):
        PairedImageDataset(dataroot_gt=gt_dir, dataroot_lq=tmp_path / "nowhere", scale=4)
    with pytest.raises(DataError, match="nowhere"):
        GTOnlyDataset(dataroot_gt=tmp_path / "nowhere", scale=4)


def test_unpaired_gt_names_it(folders):
    gt_dir, lq_dir, _ = folders
    (lq_dir / "birdx4.png").unlink()
    with pytest.raises(DataError, match=r"no LQ partner.*bird\.png.*birdx4\.png"):
        PairedImageDataset(dataroot_gt=gt_dir, dataroot_lq=lq_dir, scale=4, filename_tmpl="{}x4")
    with pytest.raises(DataError, match="no LQ partner"):  # wrong template: nothing pairs
        PairedImageDataset(dataroot_gt=gt_dir, dataroot_lq=lq_dir, scale=4, filename_tmpl="{}_x4")


def test_extra_lq_is_a_warning(folders):
    gt_dir, lq_dir, _ = folders
    save_image(lq_dir / "strayx4.png", np.zeros((4, 4, 3)))
    with pytest.warns(UserWarning, match="strayx4.png"):
        ds = PairedImageDataset(dataroot_gt=gt_dir, dataroot_lq=lq_dir, scale=4, filename_tmpl="{}x4")
    assert len(ds) == 2


def test_size_mismatch_names_both_files(folders):
    gt_dir, lq_dir, _ = folders
    save_image(lq_dir / "birdx4.png", np.zeros((10, 8, 3)))  # GT 36x32 needs 9x8
    with pytest.raises(DataError, match=r"bird\.png.*birdx4\.png.*scale 4"):
        PairedImageDataset(dataroot_gt=gt_dir, dataroot_lq=lq_dir, scale=4, filename_tmpl="{}x4")
    with pytest.raises(DataError, match=r"baby\.png.*babyx4\.png.*scale 2"):  # right files, wrong scale
        PairedImageDataset(dataroot_gt=gt_dir, dataroot_lq=lq_dir, scale=2, filename_tmpl="{}x4")


def test_corrupt_file_names_it(folders):
    gt_dir, lq_dir, _ = folders
    (gt_dir / "x.png").write_bytes(b"\x00garbage" * 40)
    save_image(lq_dir / "xx4.png", np.zeros((4, 4, 3)))
    with pytest.raises(DataError, match="x.png"):
        PairedImageDataset(dataroot_gt=gt_dir, dataroot_lq=lq_dir, scale=4, filename_tmpl="{}x4")
    with pytest.raises(DataError, match="x.png"):
        GTOnlyDataset(dataroot_gt=gt_dir, scale=4)


def test_truncated_file_fails_when_the_dataset_is_built_naming_it(folders):
    gt_dir, lq_dir, _ = folders
    data = (gt_dir / "bird.png").read_bytes()
    (gt_dir / "bird.png").write_bytes(data[: len(data) // 2])  # header intact: passes the size scan
    with pytest.raises(DataError, match=r"cannot be decoded: .*bird\.png"):
        PairedImageDataset(dataroot_gt=gt_dir, dataroot_lq=lq_dir, scale=4, filename_tmpl="{}x4", phase="val")


@pytest.mark.parametrize("cls", ["paired", "gt_only"])
def test_too_small_is_an_error_or_skipped(folders, cls):
    gt_dir, lq_dir, _ = folders

    def build(**kw):
        if cls == "paired":
            return PairedImageDataset(dataroot_gt=gt_dir, dataroot_lq=lq_dir, scale=4, filename_tmpl="{}x4", **kw)
        return GTOnlyDataset(dataroot_gt=gt_dir, scale=4, **kw)

    # bird is 36x32: smaller than 36 in width
    with pytest.raises(DataError, match=r"gt_size 36.*bird\.png \(36x32\)"):
        build(gt_size=36)
    with pytest.warns(UserWarning, match=r"skipped 1 .*bird\.png"):
        ds = build(gt_size=36, skip_small=True)
    assert len(ds) == 1 and ds[0]["gt"].shape == (3, 36, 36)
    with pytest.raises(DataError, match="every GT image"):
        with pytest.warns(UserWarning):
            build(gt_size=64, skip_small=True)
    assert len(build(gt_size=36, phase="val")) == 2  # validation uses whole images: no size limit


def test_option_errors(folders):
    gt_dir, lq_dir, _ = folders
    kw = dict(dataroot_gt=gt_dir, dataroot_lq=lq_dir, scale=4, filename_tmpl="{}x4", name="DIV2K")
    with pytest.raises(OptionError, match=r"^datasets\.train\.io_backend: \{'type': 'lmdb'.* not supported"):
        DATASETS.build({"type": "PairedImageDataset", "io_backend": {"type": "lmdb", "db_paths": ["a", "b"]}, **kw},
                       where="datasets.train")
    with pytest.raises(OptionError, match="io_backend: .*'memcached'"):
        GTOnlyDataset(dataroot_gt=gt_dir, scale=4, io_backend={"type": "memcached"})
    with pytest.raises(OptionError, match="io_backend: .*not supported"):
        GTOnlyDataset(dataroot_gt=gt_dir, scale=4, io_backend={"type": "disk", "client_keys": ["x"]})
    assert len(PairedImageDataset(io_backend={"type": "disk"}, **kw)) == 2
    with pytest.raises(OptionError, match="gt_size.*30.*multiple of scale 4"):
        PairedImageDataset(gt_size=30, **kw)
    with pytest.raises(OptionError, match="phase"):
        PairedImageDataset(phase="training", **kw)
    with pytest.raises(OptionError, match=r"^datasets\.val\.filename_tmpl: must be a string with one '\{\}'"):
        DATASETS.build({"type": "PairedImageDataset", **kw, "filename_tmpl": "x4"}, where="datasets.val")
    with pytest.raises(OptionError, match="filename_tmpl"):
        PairedImageDataset(**{**kw, "filename_tmpl": "{}{}"})
    with pytest.raises(OptionError, match="scale"):
        GTOnlyDataset(dataroot_gt=gt_dir, scale=0)


def test_alpha_dropped_grayscale_and_16bit(tmp_path):
    gt = _noise((16, 16, 3), 7)
    save_image(tmp_path / "GT" / "rgba.png", gt, alpha=np.full((16, 16), 0.5))
    save_image(tmp_path / "LQ" / "rgba.png", _block_mean(gt, 4), alpha=np.ones((4, 4)))
    gray = _noise((16, 16), 8)
    cv2.imwrite(str(tmp_path / "GT" / "gray.png"), np.round(gray * 65535).astype(np.uint16))
    save_image(tmp_path / "LQ" / "gray.png", _block_mean(gray[:, :, None], 4)[:, :, 0], bit_depth=16)
    ds = PairedImageDataset(dataroot_gt=tmp_path / "GT", dataroot_lq=tmp_path / "LQ", scale=4, phase="val")
    for item in (ds[0], ds[1]):
        assert item["gt"].shape == (3, 16, 16) and item["lq"].shape == (3, 4, 4)
    np.testing.assert_allclose(ds[0]["gt"][0].numpy(), gray, atol=1e-6)  # 16-bit precision kept
    np.testing.assert_allclose(ds[0]["gt"][1].numpy(), ds[0]["gt"][2].numpy())


def _quantized(x):
    return np.round(np.clip(x, 0, 1) * 255) / 255


def test_gt_only_val_is_whole_lr_by_matlab_bicubic(tmp_path):
    from srgan_kit.compat import import_basicsr

    basicsr_imresize = import_basicsr("basicsr.utils.matlab_functions").imresize
    gt = _noise((27, 34, 3), 9)
    save_image(tmp_path / "a.png", gt)
    item = GTOnlyDataset(dataroot_gt=tmp_path, scale=3, phase="val")[0]
    hr = mod_crop(load_image(tmp_path / "a.png").rgb, 3)
    assert item["gt"].shape == (3, 27, 33) and item["lq"].shape == (3, 9, 11)
    assert item["lq_path"] == item["gt_path"]
    np.testing.assert_allclose(item["gt"].numpy().transpose(1, 2, 0), hr)
    lq = item["lq"].numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(lq, _quantized(imresize(hr, 1 / 3)), atol=1e-6)  # clipped, 8-bit levels
    assert np.abs(lq - basicsr_imresize(hr, 1 / 3)).max() <= 0.5 / 255 + 1e-5


def test_gt_only_train_crop_matches_the_whole_lr(tmp_path):
    gt = _noise((48, 44, 3), 10)
    save_image(tmp_path / "a.png", gt)
    full_lr = _quantized(imresize(gt, 1 / 4))
    ds = GTOnlyDataset(dataroot_gt=tmp_path, scale=4, gt_size=16, name="gt-only")
    random.seed(4)
    seen = set()
    for _ in range(10):
        item = ds[0]
        crop_gt, crop_lq = (item[k].numpy().transpose(1, 2, 0) for k in ("gt", "lq"))
        pos = [(t, l) for t in range(0, 33, 4) for l in range(0, 29, 4)
               if np.allclose(gt[t:t + 16, l:l + 16], crop_gt, atol=1e-6)]
        assert len(pos) == 1
        t, l = pos[0]
        seen.add(pos[0])
        np.testing.assert_allclose(crop_lq, full_lr[t // 4:t // 4 + 4, l // 4:l // 4 + 4], atol=1e-6)
    assert len(seen) > 3  # crops move around


def test_registered_with_contract_arguments():
    args = DATASETS.arguments("PairedImageDataset")
    assert list(args) == ["dataroot_gt", "dataroot_lq", "scale", "phase", "filename_tmpl", "gt_size", "use_hflip",
                          "use_rot", "skip_small", "io_backend", "name", "skip_bad_images"]
    assert args["filename_tmpl"] == "{}" and args["phase"] == "train"
    assert DATASETS.get("GTOnlyDataset") is GTOnlyDataset
    assert "dataroot_lq" not in DATASETS.arguments("GTOnlyDataset")


def test_dataloader_batches(folders):
    gt_dir, lq_dir, _ = folders
    ds = PairedImageDataset(dataroot_gt=gt_dir, dataroot_lq=lq_dir, scale=4, filename_tmpl="{}x4", gt_size=16,
                            use_hflip=True, use_rot=True)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=2)))
    assert batch["gt"].shape == (2, 3, 16, 16) and batch["lq"].shape == (2, 3, 4, 4)
    assert len(batch["gt_path"]) == 2


def test_every_image_is_decoded_once_and_remembered_until_it_changes(tmp_path, monkeypatch):
    from srgan_kit.data import verify

    monkeypatch.setenv("SRGAN_KIT_CACHE", str(tmp_path / "cache"))
    for i in range(3):
        save_image(tmp_path / "gt" / f"{i}.png", np.full((16, 16, 3), 0.1 * i, np.float32))
    decoded = []
    real = verify.decode_image
    monkeypatch.setattr(verify, "decode_image", lambda path: decoded.append(Path(path).name) or real(path))
    GTOnlyDataset(dataroot_gt=str(tmp_path / "gt"), scale=2, phase="val")
    assert sorted(decoded) == ["0.png", "1.png", "2.png"]
    decoded.clear()
    GTOnlyDataset(dataroot_gt=str(tmp_path / "gt"), scale=2, phase="val")
    assert decoded == []  # a second start checks nothing again
    data = (tmp_path / "gt" / "1.png").read_bytes()
    (tmp_path / "gt" / "1.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"1 image\(s\) cannot be decoded: cannot read image .*1\.png"):
        GTOnlyDataset(dataroot_gt=str(tmp_path / "gt"), scale=2, phase="val")
    assert decoded == ["1.png"]  # only the changed file was decoded again
