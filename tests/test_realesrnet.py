"""model_type RealESRNetModel: RealESRGANDataset tiles + kernels, degraded on the device, trained and resumed."""
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from srgan_kit.cli.preview_degradations import main as preview_main
from srgan_kit.config.options import load_options
from srgan_kit.data.datasets import RealESRGANDataset
from srgan_kit.data.imageio import load_image, save_image
from srgan_kit.data.realworld import PADDED_SIZE
from srgan_kit.errors import OptionError
from srgan_kit.training.trainer import train

OPTIONS = {
    "name": "realesrnet", "model_type": "RealESRNetModel", "scale": 2, "num_gpu": 0, "manual_seed": 3,
    "gt_size": 32, "queue_size": 4,
    "datasets": {"train": {"name": "tiles", "type": "RealESRGANDataset", "dataroot_gt": "data/gt",
                           "crop_pad_size": 48, "gt_size": 32, "use_hflip": True, "use_rot": False,
                           "batch_size_per_gpu": 2, "num_worker_per_gpu": 0}},
    "network_g": {"type": "MSRResNet", "num_feat": 8, "num_block": 1, "upscale": 2},
    "train": {"optim_g": {"type": "Adam", "lr": 1e-3}, "total_iter": 6, "warmup_iter": -1,
              "pixel_opt": {"type": "L1Loss", "loss_weight": 1.0}},
    "logger": {"print_freq": 2, "save_checkpoint_freq": 3, "use_tb_logger": False},
}


def _photos(folder, count=4, size=56):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(count):
        f = rng.uniform(1, 4, 3)
        img = np.stack([0.5 + 0.4 * np.sin(f[c] * 6 * xx + c) * np.cos(f[c] * 4 * yy) for c in range(3)], -1)
        save_image(folder / f"{i}.png", img.astype(np.float32))
    return folder


def _options(root, **changes):
    if not (root / "data" / "gt").exists():
        _photos(root / "data" / "gt")
    opt = {**OPTIONS, **changes}
    path = root / "realesrnet.yml"
    path.write_text(yaml.safe_dump(opt))
    return load_options(path, root=root)


def test_dataset_gives_padded_tiles_and_per_sample_kernels(tmp_path):
    root = _photos(tmp_path / "gt", count=2, size=24)
    item = RealESRGANDataset(dataroot_gt=str(root), scale=2, crop_pad_size=32)[0]
    assert item["gt"].shape == (3, 32, 32)  # a 24x24 image mirrored out to the tile
    assert item["kernel1"].shape == item["sinc_kernel"].shape == (PADDED_SIZE, PADDED_SIZE)
    assert torch.equal(item["gt"][:, 24:26, :24], torch.flip(item["gt"][:, 21:23, :24], dims=[1]))


def test_dataset_reads_a_meta_info_list(tmp_path):
    root = _photos(tmp_path / "gt", count=3)
    (tmp_path / "meta.txt").write_text("2.png (40,40,3)\n0.png (40,40,3)\n")
    dataset = RealESRGANDataset(dataroot_gt=str(root), scale=2, meta_info=str(tmp_path / "meta.txt"))
    assert [it["gt_path"] for it in dataset.items] == [str(root / "2.png"), str(root / "0.png")]


def test_an_empty_kernel_range_is_refused_by_key(tmp_path):
    root = _photos(tmp_path / "gt", count=1)
    with pytest.raises(OptionError, match=r"blur_sigma2: \[0.3, 0.3\]: blur sigma needs 0 < first < second"):
        RealESRGANDataset(dataroot_gt=str(root), scale=2, blur_sigma2=[0.3, 0.3])


def test_a_training_run_degrades_on_the_fly_and_resumes_bit_for_bit(tmp_path):
    straight = train(_options(tmp_path), progress=False)
    assert straight.iteration == 6 and "l_pix" in straight.losses
    run = tmp_path / "experiments" / "realesrnet"
    final = torch.load(run / "models" / "net_g_6.pth", weights_only=True)["params"]
    state = torch.load(run / "training_states" / "3.state", weights_only=True)
    assert state["step"]["degradation"]["pool"]["filled"] == 4
    # the pool, kernels and degradations repeat exactly
    again = resumed_in_another_folder(tmp_path, _options, run, "net_g_6.pth")
    assert all(torch.equal(final[k], again[k]) for k in final)


def resumed_in_another_folder(root, make_options, run, weights):
    """The run resumed from its iteration-3 state in a second folder (same data); ``weights`` it then wrote."""
    again = root / "again"
    again.mkdir()
    (again / "data").symlink_to(root / "data")
    opt = make_options(again)
    opt["path"]["resume_state"] = str(run / "training_states" / "3.state")
    train(opt, progress=False)
    return torch.load(again / "experiments" / run.name / "models" / weights, weights_only=True)["params"]


def test_a_paired_training_set_is_refused_naming_the_key(tmp_path):
    bad = dict(OPTIONS["datasets"]["train"], type="GTOnlyDataset")
    for key in ("crop_pad_size",):
        bad.pop(key)
    with pytest.raises(OptionError, match="datasets.train.type.*must be type RealESRGANDataset"):
        _options(tmp_path, datasets={"train": bad})


def test_queue_size_must_hold_whole_batches(tmp_path):
    with pytest.raises(OptionError, match="queue_size: 5 is not a multiple"):
        _options(tmp_path, queue_size=5)


def test_gt_size_too_small_for_the_unsharp_mask_is_refused(tmp_path):
    train_set = dict(OPTIONS["datasets"]["train"], gt_size=16)
    with pytest.raises(OptionError, match="gt_size: 16 is smaller than 26"):
        _options(tmp_path, gt_size=16, datasets={"train": train_set})


def test_real_esrgans_own_option_keys_load_with_path_edits_only():
    recipe = yaml.safe_load((Path(__file__).resolve().parents[1] / "options" / "train_realesrnet_x4plus.yml")
                            .read_text())
    # what Real-ESRGAN's train_realesrnet_x4plus.yml has beyond ours, and what it lacks
    recipe["datasets"]["train"].update(io_backend={"type": "disk"}, dataset_enlarge_ratio=1, prefetch_mode=None)
    for key in ("crop_pad_size",):
        del recipe["datasets"]["train"][key]
    for key in ("amp", "channels_last"):
        del recipe["train"][key]
    recipe["dist_params"] = {"backend": "nccl", "port": 29500}
    recipe["logger"]["wandb"] = {"project": None, "resume_id": None}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train_realesrnet_x4plus.yml"
        path.write_text(yaml.safe_dump(recipe))
        opt = load_options(path, check_paths=False)
    assert opt["model_type"] == "realesrnet" and opt["datasets"]["train"]["type"] == "RealESRGANDataset"
    assert opt["queue_size"] == 180 and opt["l1_gt_usm"] is True


def _option_file(root):
    _photos(root / "data" / "gt")
    path = root / "realesrnet.yml"
    path.write_text(yaml.safe_dump({**OPTIONS, "datasets": {"train": dict(OPTIONS["datasets"]["train"],
                                                                          dataroot_gt=str(root / "data" / "gt"))}}))
    return path


def test_preview_writes_the_lr_samples_and_a_contact_sheet(tmp_path):
    path = _option_file(tmp_path)
    assert preview_main(["-opt", str(path), "-n", "3", "-o", str(tmp_path / "preview")]) == 0
    lq = load_image(tmp_path / "preview" / "lq_002.png").rgb
    sheet = load_image(tmp_path / "preview" / "contact_sheet.png").rgb
    assert lq.shape == (16, 16, 3) and sheet.shape == (3 * 32, 2 * 32, 3)
    gt = load_image(tmp_path / "preview" / "gt_002.png").rgb
    assert np.array_equal(sheet[64:, :32], gt)  # row 3 starts with the crop its LR was made from


def test_preview_refuses_a_folder_with_files_and_leaves_it_alone(tmp_path, capsys):
    path = _option_file(tmp_path)
    (tmp_path / "preview").mkdir()
    (tmp_path / "preview" / "mine.txt").write_text("keep")
    assert preview_main(["-opt", str(path), "-o", str(tmp_path / "preview")]) == 2
    assert "is not an empty folder" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "preview").iterdir()] == ["mine.txt"]


def test_preview_of_a_bicubic_model_type_says_what_it_needs(tmp_path, capsys):
    path = _option_file(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["model_type"] = "SRModel"
    data["datasets"]["train"] = {"type": "GTOnlyDataset", "dataroot_gt": str(tmp_path / "data" / "gt"),
                                 "gt_size": 32, "batch_size_per_gpu": 2}
    for key in ("gt_size", "queue_size"):
        data.pop(key)
    path.write_text(yaml.safe_dump(data))
    assert preview_main(["-opt", str(path), "-o", str(tmp_path / "preview")]) == 2
    assert "the degradation preview needs RealESRNetModel" in capsys.readouterr().err


def test_preview_of_a_shipped_recipe_needs_only_its_training_images(tmp_path):
    """Validation folders and the pretrained file of the recipe do not exist here; the preview never reads them."""
    gt = _photos(tmp_path / "hr", count=2)
    recipe = Path(__file__).resolve().parents[1] / "options" / "train_realesrgan_x4plus.yml"
    out = tmp_path / "preview"
    assert preview_main(["-opt", str(recipe), "-n", "2", "-o", str(out), "--set", f"datasets.train.dataroot_gt={gt}",
                         "--set", "datasets.train.meta_info=~", "--set", "datasets.train.crop_pad_size=64",
                         "--set", "gt_size=64", "--set", "datasets.train.gt_size=64"]) == 0
    assert load_image(out / "lq_001.png").rgb.shape == (16, 16, 3)
