"""Option files: BasicSR compatibility, one clear error per problem, warnings for unused keys, --set typing,
derived paths and the save/load round trip. Runs against the real built-in registries."""
import copy
import os
import warnings
from pathlib import Path

import pytest
import yaml

from srgan_kit.config import schema
from srgan_kit.config.engine import INT, Field, greater, optional_fields
from srgan_kit.errors import OptionError, UserError
from srgan_kit.config.options import OptionWarning, constructor_spec, load_options, parse_override, save_options
from srgan_kit.registry import DATASETS, METRICS, MODEL_TYPES

REPO = Path(__file__).resolve().parents[1]
RECIPES = ["demo.yml", "train_msrresnet_x4_psnr.yml", "train_rrdbnet_x4_psnr.yml"]

# Our own text with the structure and keys of BasicSR's options/train/SRResNet_SRGAN/train_MSRResNet_x4.yml.
BASICSR_MSRRESNET = """\
name: 001_MSRResNet_x4_f64b16_DIV2K_1000k_B16G1_wandb
model_type: SRModel
scale: 4
num_gpu: 1  # set num_gpu: 0 for cpu mode
manual_seed: 0

datasets:
  train:
    name: DIV2K
    type: PairedImageDataset
    dataroot_gt: data/train_hr
    dataroot_lq: data/train_lr
    meta_info_file: basicsr/data/meta_info/meta_info_DIV2K800sub_GT.txt
    filename_tmpl: '{}'
    io_backend:
      type: disk
    gt_size: 128
    use_hflip: true
    use_rot: true
    num_worker_per_gpu: 6
    batch_size_per_gpu: 16
    dataset_enlarge_ratio: 100
    prefetch_mode: ~
  val:
    name: Set5
    type: PairedImageDataset
    dataroot_gt: data/val_hr
    dataroot_lq: data/val_lr
    io_backend:
      type: disk
  val_2:
    name: Set14
    type: PairedImageDataset
    dataroot_gt: data/val_hr
    dataroot_lq: data/val_lr
    io_backend:
      type: disk

network_g:
  type: MSRResNet
  num_in_ch: 3
  num_out_ch: 3
  num_feat: 64
  num_block: 16
  upscale: 4

path:
  pretrain_network_g: ~
  param_key_g: params
  strict_load_g: true
  resume_state: ~

train:
  ema_decay: 0.999
  optim_g:
    type: Adam
    lr: !!float 2e-4
    weight_decay: 0
    betas: [0.9, 0.99]
  scheduler:
    type: CosineAnnealingRestartLR
    periods: [250000, 250000, 250000, 250000]
    restart_weights: [1, 1, 1, 1]
    eta_min: !!float 1e-7
  total_iter: 1000000
  warmup_iter: -1  # no warm up
  pixel_opt:
    type: L1Loss
    loss_weight: 1.0
    reduction: mean

val:
  val_freq: !!float 5e3
  save_img: false
  metrics:
    psnr:
      type: calculate_psnr
      crop_border: 4
      test_y_channel: false
      better: higher
    niqe:
      type: calculate_niqe
      crop_border: 4
      better: lower

logger:
  print_freq: 100
  save_checkpoint_freq: !!float 5e3
  use_tb_logger: true
  wandb:
    project: ~
    resume_id: ~

dist_params:
  backend: nccl
  port: 29500
"""

# Our own text with the structure and keys of BasicSR's options/train/ESRGAN/train_RRDBNet_PSNR_x4.yml
# (which still uses the older names use_flip, and has use_shuffle).
BASICSR_RRDBNET_PSNR = """\
name: 051_RRDBNet_PSNR_x4_f64b23_DIV2K_1000k_B16G1_wandb
model_type: SRModel
scale: 4
num_gpu: 1
manual_seed: 0
datasets:
  train:
    name: DIV2K
    type: PairedImageDataset
    dataroot_gt: data/train_hr
    dataroot_lq: data/train_lr
    filename_tmpl: '{}'
    io_backend: {type: disk}
    gt_size: 128
    use_flip: true
    use_rot: true
    use_shuffle: true
    num_worker_per_gpu: 6
    batch_size_per_gpu: 16
    dataset_enlarge_ratio: 100
    prefetch_mode: ~
  val:
    name: Set5
    type: PairedImageDataset
    dataroot_gt: data/val_hr
    dataroot_lq: data/val_lr
    io_backend: {type: disk}
network_g: {type: RRDBNet, num_in_ch: 3, num_out_ch: 3, num_feat: 64, num_block: 23, num_grow_ch: 32}
path:
  pretrain_network_g: ~
  strict_load_g: true
  resume_state: ~
train:
  optim_g: {type: Adam, lr: !!float 2e-4, weight_decay: 0, betas: [0.9, 0.99]}
  scheduler:
    type: CosineAnnealingRestartLR
    periods: [250000, 250000, 250000, 250000]
    restart_weights: [1, 1, 1, 1]
    eta_min: !!float 1e-7
  total_iter: 1000000
  warmup_iter: -1
  pixel_opt: {type: L1Loss, loss_weight: 1.0, reduction: mean}
val:
  val_freq: !!float 5e3
  save_img: false
  metrics:
    psnr: {type: calculate_psnr, crop_border: 4, test_y_channel: false}
logger:
  print_freq: 100
  save_checkpoint_freq: !!float 5e3
  use_tb_logger: true
  wandb: {project: ~, resume_id: ~}
dist_params: {backend: nccl, port: 29500}
"""


def base_options():
    """A small valid option dict (as a file would hold it)."""
    return {
        "name": "unit",
        "model_type": "sr",
        "scale": 4,
        "num_gpu": 0,
        "manual_seed": 3,
        "datasets": {
            "train": {"name": "t", "type": "PairedImageDataset", "dataroot_gt": "hr", "dataroot_lq": "lr",
                      "filename_tmpl": "{}x4", "gt_size": 32, "use_hflip": True, "use_rot": True,
                      "batch_size_per_gpu": 2},
            "val": {"name": "v", "type": "PairedImageDataset", "dataroot_gt": "hr", "dataroot_lq": "lr",
                    "filename_tmpl": "{}x4"},
        },
        "network_g": {"type": "MSRResNet", "num_feat": 8, "num_block": 1, "upscale": 4},
        "train": {
            "ema_decay": 0.999,
            "optim_g": {"type": "Adam", "lr": 2e-4, "betas": [0.9, 0.99]},
            "scheduler": {"type": "MultiStepLR", "milestones": [10, 20], "gamma": 0.5},
            "total_iter": 30,
            "pixel_opt": {"type": "L1Loss", "loss_weight": 1.0},
        },
        "val": {"val_freq": 10, "metrics": {"psnr": {"type": "calculate_psnr", "crop_border": 4,
                                                     "test_y_channel": True}}},
    }


def write(tmp_path, data, name="opt.yml"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def load(path, *overrides, **kw):
    kw.setdefault("check_paths", False)
    kw.setdefault("root", path.parent)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptionWarning)
        return load_options(path, overrides, **kw)


def error_of(path, *overrides, **kw):
    with pytest.raises(OptionError) as info:
        load(path, *overrides, **kw)
    return str(info.value)


def warned_keys(opt):
    return [w.split(": ")[1] for w in opt["_warnings"]]


def public(opt):
    return {k: v for k, v in opt.items() if not k.startswith("_")}


# --------------------------------------------------------------------------------------------------
# Shipped option files and BasicSR files.


@pytest.mark.parametrize("name", RECIPES)
def test_shipped_option_files_validate_without_warnings(name, tmp_path):
    opt = load(REPO / "options" / name, root=tmp_path)
    assert opt["_warnings"] == []
    assert opt["model_type"] == "sr" and opt["scale"] == 4 and opt["is_train"] is True
    train, val = opt["datasets"]["train"], opt["datasets"]["val"]
    assert train["type"] == val["type"] == "PairedImageDataset"
    assert train["gt_size"] % 4 == 0 and train["batch_size_per_gpu"] > 0
    assert opt["train"]["pixel_opt"]["type"] == "L1Loss" and opt["train"]["optim_g"]["type"] == "Adam"
    for metric in opt["val"]["metrics"].values():
        assert metric["crop_border"] == 4 and metric["test_y_channel"] is True
    assert {m["type"] for m in opt["val"]["metrics"].values()} == {"calculate_psnr", "calculate_ssim"}


def test_demo_options_point_at_the_demo_dataset_on_cpu(tmp_path):
    opt = load(REPO / "options" / "demo.yml", root=tmp_path)
    sets = opt["datasets"]
    assert sets["train"]["dataroot_gt"] == str(tmp_path / "datasets/demo/train/HR")
    assert sets["train"]["dataroot_lq"] == str(tmp_path / "datasets/demo/train/LR")
    assert sets["val"]["dataroot_gt"] == str(tmp_path / "datasets/demo/val/HR")
    assert sets["val"]["dataroot_lq"] == str(tmp_path / "datasets/demo/val/LR")
    assert sets["train"]["filename_tmpl"] == sets["val"]["filename_tmpl"] == "{}x4"
    assert opt["num_gpu"] == 0 and opt["network_g"]["type"] == "MSRResNet"
    assert 0 < opt["train"]["ema_decay"] < 1 and opt["val"]["val_freq"] <= opt["train"]["total_iter"]


@pytest.mark.parametrize("name", RECIPES[1:])
def test_psnr_recipes_use_basicsr_div2k_paths(name, tmp_path):
    opt = load(REPO / "options" / name, root=tmp_path)
    assert "datasets/DIV2K/DIV2K_train_HR_sub" in opt["datasets"]["train"]["dataroot_gt"]
    assert opt["train"]["total_iter"] == 1000000 and opt["val"]["val_freq"] == 5000


def test_basicsr_msrresnet_file_loads_with_one_warning_per_unused_key(tmp_path):
    path = write(tmp_path, BASICSR_MSRRESNET)
    with pytest.warns(OptionWarning) as record:
        opt = load_options(path, root=tmp_path, check_paths=False)
    expected = ["datasets.train.meta_info_file", "datasets.train.dataset_enlarge_ratio", "dist_params"]
    assert sorted(warned_keys(opt)) == sorted(expected)
    assert sorted(str(w.message).split(": ")[1] for w in record) == sorted(expected)
    assert all(str(path) in w for w in opt["_warnings"])
    assert opt["model_type"] == "sr"
    assert opt["val"]["val_freq"] == 5000 and isinstance(opt["val"]["val_freq"], int)
    assert opt["logger"]["save_checkpoint_freq"] == 5000
    assert opt["train"]["optim_g"]["lr"] == pytest.approx(2e-4)
    assert list(opt["val"]["metrics"]) == ["psnr", "niqe"]
    assert opt["val"]["metrics"]["niqe"]["better"] == "lower"
    assert set(opt["datasets"]) == {"train", "val", "val_2"}
    assert opt["datasets"]["val_2"]["phase"] == "val" and opt["datasets"]["train"]["phase"] == "train"
    for unused in ("meta_info_file", "dataset_enlarge_ratio"):
        assert unused not in opt["datasets"]["train"]
    assert opt["datasets"]["train"]["prefetch_mode"] is None  # BasicSR's loader keys are read
    assert "dist_params" not in opt and opt["logger"]["wandb"]["project"] is None


def test_basicsr_rrdbnet_psnr_file_loads_and_reads_old_names(tmp_path):
    opt = load(write(tmp_path, BASICSR_RRDBNET_PSNR))
    assert sorted(warned_keys(opt)) == sorted(["datasets.train.use_flip", "datasets.train.dataset_enlarge_ratio",
                                               "dist_params"])
    train = opt["datasets"]["train"]
    assert train["use_hflip"] is True and "use_flip" not in train and train["use_shuffle"] is True
    assert opt["path"]["param_key_g"] == "params" and opt["path"]["strict_load_g"] is True
    assert opt["train"]["ema_decay"] == 0.0  # BasicSR's default: no EMA


def test_basicsr_older_path_names_are_read_as_current_ones(tmp_path):
    data = base_options()
    (tmp_path / "g.pth").write_bytes(b"")
    data["path"] = {"pretrain_model_g": "g.pth", "strict_load": False}
    opt = load(write(tmp_path, data))
    assert opt["path"]["pretrain_network_g"] == str(tmp_path / "g.pth")
    assert opt["path"]["strict_load_g"] is False
    assert sorted(warned_keys(opt)) == ["path.pretrain_model_g", "path.strict_load"]
    data["path"]["strict_load_g"] = True
    msg = error_of(write(tmp_path, data))
    assert "path.strict_load:" in msg and "strict_load_g" in msg


# --------------------------------------------------------------------------------------------------
# Every error kind: one OptionError naming the file, the key path and what was expected.


def _set(data, dotted_key, value):
    *parents, last = dotted_key.split(".")
    for key in parents:
        data = data.setdefault(key, {})
    data[last] = value


def _del(data, dotted_key):
    *parents, last = dotted_key.split(".")
    for key in parents:
        data = data[key]
    del data[last]


ERROR_CASES = [
    # (mutation, expected pieces of the message)
    (("set", "nmae", "x"), ["nmae: unknown key", "did you mean 'name'?"]),
    (("set", "train.optim_g.lrr", 1e-4), ["train.optim_g.lrr: unknown key", "did you mean 'train.optim_g.lr'?"]),
    (("set", "datasets.train.gt_sise", 64), ["datasets.train.gt_sise: unknown key",
                                             "did you mean 'datasets.train.gt_size'?"]),
    (("set", "logger.print_freqs", 5), ["logger.print_freqs", "did you mean 'logger.print_freq'?"]),
    (("set", "val.metrics.psnr.test_y_chanel", True), ["val.metrics.psnr.test_y_chanel",
                                                       "did you mean 'val.metrics.psnr.test_y_channel'?"]),
    (("set", "network_g.num_grow_ch", 32), ["network_g.num_grow_ch: unknown key", "num_feat"]),
    (("set", "train.total_iter", "many"), ["train.total_iter: expected an integer > 0, got 'many'"]),
    (("set", "train.total_iter", 0), ["train.total_iter: expected an integer > 0, got 0"]),
    (("set", "train.optim_g.lr", -1.0), ["train.optim_g.lr: expected a number > 0"]),
    (("set", "train.optim_g.betas", [0.9]), ["train.optim_g.betas: expected a list of 2 items for Adam"]),
    (("set", "train.ema_decay", 1.0), ["train.ema_decay: expected a number in [0, 1)"]),
    (("set", "train.warmup_iter", -2), ["train.warmup_iter: expected an integer >= -1"]),
    (("set", "scale", 5), ["scale: expected one of 1, 2, 3, 4, 8, got 5"]),
    (("set", "num_gpu", "gpu"), ["num_gpu: expected an integer >= 0 or 'auto', got 'gpu'"]),
    (("set", "num_gpu", -1), ["num_gpu: expected an integer >= 0 or 'auto', got -1"]),
    (("set", "manual_seed", 1.5), ["manual_seed: expected an integer"]),
    (("set", "logger.use_tb_logger", "yes please"), ["logger.use_tb_logger: expected true or false"]),
    (("set", "train.pixel_opt.reduction", "avg"), ["train.pixel_opt.reduction: expected one of 'none', 'mean', 'sum'"]),
    (("set", "datasets.train.filename_tmpl", "x4"), ["datasets.train.filename_tmpl", "'{}'"]),
    (("set", "datasets.train.io_backend", {"type": "petrel"}), ["datasets.train.io_backend", "type: lmdb"]),
    (("set", "datasets.train.use_rot", 1), ["datasets.train.use_rot: expected true or false, got 1"]),
    (("set", "network_g.num_feat", 0), ["network_g.num_feat: expected an integer > 0"]),
    (("set", "train.optim_g.amsgrad", "no"), ["train.optim_g.amsgrad: expected true or false"]),
    (("set", "network_g.type", "MSRResnet"), ["network_g.type: unknown network type 'MSRResnet'",
                                              "did you mean 'MSRResNet'?"]),
    (("set", "train.scheduler.type", "CosineAnnealingRestart"), ["train.scheduler.type: unknown scheduler type",
                                                                 "did you mean 'CosineAnnealingRestartLR'?"]),
    (("set", "train.optim_g.type", "adam"), ["train.optim_g.type: unknown optimizer type 'adam'", "Adam"]),
    (("set", "datasets.train.type", "PairedDataset"), ["datasets.train.type: unknown dataset type",
                                                       "did you mean 'PairedImageDataset'?"]),
    (("set", "val.metrics.psnr.type", "calculate_psn"), ["val.metrics.psnr.type: unknown metric type",
                                                         "did you mean 'calculate_psnr'?"]),
    (("set", "train.optim_g.params", []), ["train.optim_g.params: set by srgan_kit"]),
    (("set", "train.scheduler.optimizer", "x"), ["train.scheduler.optimizer: set by srgan_kit"]),
    (("set", "network_g", "MSRResNet"), ["network_g: expected a mapping with 'type': one of", "MSRResNet"]),
    (("set", "train", [1, 2]), ["train: expected a mapping with keys ema_decay"]),
    (("del", "train.total_iter"), ["train.total_iter: missing required key (expected an integer > 0)"]),
    (("del", "name"), ["name: missing required key"]),
    (("del", "scale"), ["scale: missing required key (expected one of 1, 2, 3, 4, 8)"]),
    (("del", "network_g"), ["network_g: missing required section"]),
    (("del", "train"), ["train: missing required section"]),
    (("del", "datasets"), ["datasets: missing required section"]),
    (("del", "datasets.train"), ["datasets.train: missing required section (the training set)"]),
    (("del", "network_g.type"), ["network_g.type: missing required key"]),
    (("del", "datasets.train.dataroot_lq"), ["datasets.train.dataroot_lq: missing required key"]),
    (("del", "datasets.train.gt_size"), ["datasets.train.gt_size: missing required key"]),
    (("del", "datasets.train.batch_size_per_gpu"), ["datasets.train.batch_size_per_gpu: missing required key"]),
    (("del", "train.scheduler.milestones"), ["train.scheduler.milestones: missing required key"]),
    (("del", "train.optim_g"), ["train.optim_g: missing required section"]),
    (("del", "train.pixel_opt"), ["train.pixel_opt: missing required section", "pixel loss"]),
    (("del", "val.val_freq"), ["val.val_freq: missing required key"]),
    (("set", "datasets.validation", {"type": "PairedImageDataset"}), ["datasets.validation: unexpected name",
                                                                       "'val_<anything>'"]),
    (("set", "network_g.upscale", 2), ["network_g.upscale: 2 does not match scale: 4"]),
    (("set", "network_g", {"type": "RRDBNet"}), []),  # RRDBNet's default scale 4 agrees: no problem
    (("set", "datasets.train.gt_size", 30), ["datasets.train.gt_size: 30 is not a multiple of scale 4"]),
    (("set", "datasets.train.phase", "val"), []),  # a derived key: recomputed, one warning (tested below)
    (("set", "model_type", "RealESRGANModel"),
     ["train.optim_d: missing required section"]),  # a GAN model type: D's optimiser first
    (("set", "model_type", "SRModle"), ["model_type: unknown model type 'SRModle'", "did you mean 'SRModel'?"]),
    (("set", "name", "a/b"), ["name: expected a string usable as a folder name"]),
]


@pytest.mark.parametrize("mutation, pieces", ERROR_CASES, ids=lambda v: "-".join(map(str, v[:2])) if
                         isinstance(v, tuple) else None)
def test_each_error_is_one_option_error_naming_file_and_key(tmp_path, mutation, pieces):
    data = base_options()
    if mutation[0] == "set":
        _set(data, mutation[1], mutation[2])
    else:
        _del(data, mutation[1])
    path = write(tmp_path, data)
    if not pieces:
        load(path)
        return
    msg = error_of(path)
    assert msg.startswith(f"{path}: "), msg
    assert "\n" not in msg, msg  # one problem -> one line
    for piece in pieces:
        assert piece in msg, msg


def test_unknown_registered_type_lists_known_names(tmp_path):
    data = base_options()
    data["train"]["pixel_opt"]["type"] = "LILoss"
    msg = error_of(write(tmp_path, data))
    assert "did you mean 'L1Loss'?" in msg
    known = msg.split("known: ", 1)[1].split(", ")
    assert {"CharbonnierLoss", "L1Loss", "MSELoss"} <= set(known)


def test_option_errors_are_user_errors(tmp_path):
    assert issubclass(OptionError, UserError)


def test_several_problems_make_one_error_listing_each(tmp_path):
    data = base_options()
    data["scale"] = 5
    data["train"]["optim_g"]["lrr"] = 1
    path = write(tmp_path, data)
    msg = error_of(path)
    assert msg.startswith(f"{path}: 2 problems:")
    assert "\n  - scale: expected one of" in msg and "\n  - train.optim_g.lrr: unknown key" in msg


def test_missing_data_folders_are_errors_in_train_mode(tmp_path):
    path = write(tmp_path, base_options())
    msg = error_of(path, check_paths=None)
    for key in ("datasets.train.dataroot_gt", "datasets.train.dataroot_lq",
                "datasets.val.dataroot_gt", "datasets.val.dataroot_lq"):
        assert key in msg
    assert str(tmp_path / "hr") in msg and "does not exist" in msg
    (tmp_path / "hr").mkdir()
    (tmp_path / "lr").write_text("not a folder")
    msg = error_of(path, check_paths=None)
    assert "dataroot_lq: data folder" in msg and "is not a folder" in msg and "dataroot_gt" not in msg
    (tmp_path / "lr").unlink()
    (tmp_path / "lr").mkdir()
    opt = load(path, check_paths=None)
    assert opt["datasets"]["train"]["dataroot_gt"] == str(tmp_path / "hr")
    # Not checked when the options only describe a network (inference), nor with check_paths=False.
    load(write(tmp_path, base_options(), "other.yml"), is_train=False, check_paths=None)


def test_missing_weights_and_state_files_are_errors(tmp_path):
    for d in ("hr", "lr"):
        (tmp_path / d).mkdir()
    data = base_options()
    data["path"] = {"pretrain_network_g": "nope/net_g.pth", "resume_state": "nope/10.state"}
    msg = error_of(write(tmp_path, data), check_paths=True)
    assert "path.pretrain_network_g: file" in msg and "path.resume_state: file" in msg
    assert str(tmp_path / "nope/net_g.pth") in msg


# --------------------------------------------------------------------------------------------------
# File-level errors.


def test_missing_file(tmp_path):
    path = tmp_path / "absent.yml"
    with pytest.raises(OptionError, match="absent.yml: option file not found"):
        load_options(path)


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, "name: x\nscale: 4\ntrain:\n  total_iter: [1, 2\n  lr: 3\n")
    msg = error_of(path)
    assert msg.startswith(f"{path}: line ") and "invalid YAML" in msg
    line = int(msg.split("line ")[1].split(",")[0])
    assert line in (4, 5)


def test_duplicate_keys_are_errors_not_silently_overwritten(tmp_path):
    path = write(tmp_path, "name: x\nscale: 4\nname: y\n")
    msg = error_of(path)
    assert "line 3" in msg and "duplicate key 'name' (first given on line 1)" in msg


@pytest.mark.parametrize("text, words", [("- a\n- b\n", "top level must be a mapping"), ("", "empty"),
                                         ("# only a comment\n", "empty"), ("just text\n", "got a str")])
def test_top_level_must_be_a_mapping(tmp_path, text, words):
    path = write(tmp_path, text)
    msg = error_of(path)
    assert msg.startswith(f"{path}: ") and words in msg


# --------------------------------------------------------------------------------------------------
# Warnings: BasicSR keys srgan_kit does not use, one each; nothing silently ignored.


def test_unused_keys_warn_once_each_and_are_dropped(tmp_path):
    data = base_options()
    data["dist_params"] = {"backend": "nccl"}
    data["datasets"]["val"]["pin_memory"] = True  # a training-loader key
    data["datasets"]["val"]["gt_size"] = 64  # validation uses whole images
    data["train"]["net_d_iters"] = 1
    data["path"] = {"pretrain_network_d": "d.pth"}
    data["val"]["pbar"] = True
    data["network_d"] = {"type": "VGGStyleDiscriminator", "num_feat": 16}
    path = write(tmp_path, data)
    with pytest.warns(OptionWarning) as record:
        opt = load_options(path, root=tmp_path, check_paths=False)
    keys = ["dist_params", "datasets.val.pin_memory", "datasets.val.gt_size", "train.net_d_iters",
            "path.pretrain_network_d", "val.pbar", "network_d"]
    assert sorted(warned_keys(opt)) == sorted(keys)
    assert len([w for w in record if issubclass(w.category, OptionWarning)]) == len(keys)
    assert "net_d_iters" not in opt["train"] and "gt_size" not in opt["datasets"]["val"]
    assert opt["network_d"] == {"type": "VGGStyleDiscriminator", "num_feat": 16}  # validated, kept


def test_a_val_set_without_val_section_and_the_reverse_warn(tmp_path):
    data = base_options()
    del data["val"]
    opt = load(write(tmp_path, data))
    assert warned_keys(opt) == ["datasets.val"] and opt["val"] is None
    data = base_options()
    del data["datasets"]["val"]
    opt = load(write(tmp_path, data))
    assert warned_keys(opt) == ["val"]


def test_derived_keys_in_a_file_are_recomputed_with_one_warning(tmp_path):
    data = base_options()
    data["datasets"]["train"]["phase"] = "val"
    data["path"] = {"models": "elsewhere"}
    opt = load(write(tmp_path, data))
    assert opt["datasets"]["train"]["phase"] == "train"
    assert opt["path"]["models"] == str(tmp_path / "experiments/unit/models")
    assert len(opt["_warnings"]) == 1
    assert "datasets.train.phase" in opt["_warnings"][0] and "path.models" in opt["_warnings"][0]


# --------------------------------------------------------------------------------------------------
# --set overrides.


def test_parse_override():
    assert parse_override("train.optim_g.lr=1e-4") == (["train", "optim_g", "lr"], "1e-4")
    assert parse_override(" name = a=b ") == (["name"], "a=b")
    for bad in ("train.total_iter", "=3", "a..b=1", "a.=1"):
        with pytest.raises(OptionError, match="expected KEY.PATH=VALUE"):
            parse_override(bad)


def test_overrides_are_typed_by_the_schema(tmp_path):
    path = write(tmp_path, base_options())
    opt = load(path, "train.total_iter=5e3", "train.optim_g.lr=1e-4", "logger.use_tb_logger=true",
               "name=001", "train.scheduler.milestones=[100, 200]", "train.ema_decay=0",
               "num_gpu=auto", "datasets.train.filename_tmpl={}x4", "train.optim_g.betas=[0.5, 0.9]",
               "train.optim_g.amsgrad=true", "train.optim_g.weight_decay=1e-2")
    assert opt["train"]["total_iter"] == 5000 and isinstance(opt["train"]["total_iter"], int)
    assert opt["train"]["optim_g"]["lr"] == 1e-4 and isinstance(opt["train"]["optim_g"]["lr"], float)
    assert opt["logger"]["use_tb_logger"] is True
    assert opt["name"] == "001" and opt["path"]["experiments_root"] == str(tmp_path / "experiments/001")
    assert opt["train"]["scheduler"]["milestones"] == [100, 200]
    assert opt["train"]["ema_decay"] == 0.0 and opt["num_gpu"] == "auto"
    assert opt["datasets"]["train"]["filename_tmpl"] == "{}x4"
    assert opt["train"]["optim_g"]["betas"] == [0.5, 0.9] and opt["train"]["optim_g"]["amsgrad"] is True
    assert opt["train"]["optim_g"]["weight_decay"] == 0.01


def test_overrides_create_nested_new_values_and_apply_in_order(tmp_path):
    data = base_options()
    del data["val"]
    path = write(tmp_path, data)
    opt = load(path, "val.val_freq=5", "val.metrics.ssim.type=calculate_ssim", "val.metrics.ssim.crop_border=4",
               "path.pretrain_network_g=~", "train.total_iter=7", "train.total_iter=9",
               "datasets.val_2.type=PairedImageDataset", "datasets.val_2.dataroot_gt=hr2",
               "datasets.val_2.dataroot_lq=lr2")
    assert opt["val"] == {"val_freq": 5, "save_img": False, "best_metric": None,
                          "metrics": {"ssim": {"type": "calculate_ssim", "crop_border": 4, "better": None}}}
    assert opt["train"]["total_iter"] == 9 and opt["path"]["pretrain_network_g"] is None
    assert opt["datasets"]["val_2"]["dataroot_gt"] == str(tmp_path / "hr2")
    assert opt["datasets"]["val_2"]["phase"] == "val"
    # (pairs from parse_override work too)
    assert load(path, (["train", "total_iter"], "11"))["train"]["total_iter"] == 11


@pytest.mark.parametrize("override, pieces", [
    ("train.total_iter=abc", ["--set train.total_iter=abc", "train.total_iter: expected an integer > 0, got 'abc'"]),
    ("train.total_iter=1.5", ["train.total_iter: expected an integer"]),
    ("logger.use_tb_logger=maybe", ["logger.use_tb_logger: expected true or false"]),
    ("train.optim_g.lrr=1", ["train.optim_g.lrr: unknown key", "did you mean 'train.optim_g.lr'?"]),
    ("trian.total_iter=1", ["trian: unknown key", "did you mean 'train'?"]),
    ("scale.x=1", ["scale is a single value, not a section"]),
    ("network_g.type.x=1", ["network_g.type is a single value"]),
    ("datasets.test.name=x", ["datasets.test: unexpected name"]),
    ("train.scheduler.milestones=[1, x]", ["train.scheduler.milestones: expected a list"]),
    ("train.optim_g.amsgrad=3", ["train.optim_g.amsgrad: expected true or false"]),
    ("train.pixel_opt.reduction=avg", ["train.pixel_opt.reduction: expected one of"]),
])
def test_override_errors_name_the_override_and_key(tmp_path, override, pieces):
    path = write(tmp_path, base_options())
    msg = error_of(path, override)
    assert msg.startswith(f"{path}: ") and "\n" not in msg, msg
    for piece in pieces:
        assert piece in msg, msg


def test_overrides_are_validated_and_blamed(tmp_path):
    path = write(tmp_path, base_options())
    msg = error_of(path, "scale=2")  # scale 2 no longer matches the network's upscale 4
    assert "network_g.upscale: 4 does not match scale: 2" in msg
    msg = error_of(path, "datasets.train.gt_size=-8")
    assert "datasets.train.gt_size: expected an integer > 0" in msg
    msg = error_of(path, "network_g.type=RRDBNet")  # MSRResNet's upscale is not an RRDBNet argument
    assert "network_g.upscale: unknown key" in msg
    msg = error_of(path, "train={}")
    assert "train.total_iter: missing required key" in msg and "(from --set train={})" in msg


def test_model_type_override_and_aliases(tmp_path):
    path = write(tmp_path, base_options())
    assert load(path, "model_type=SRModel")["model_type"] == "sr"
    data = base_options()
    data["model_type"] = "SRModel"
    assert load(write(tmp_path, data))["model_type"] == "sr"
    del data["model_type"]
    assert load(write(tmp_path, data))["model_type"] == "sr"  # default
    assert "train.optim_d: missing required section" in error_of(path, "model_type=RealESRGANModel")


# --------------------------------------------------------------------------------------------------
# Derived keys, saving, modes.


def test_derived_paths_phases_and_scale(tmp_path):
    data = base_options()
    data["datasets"]["train"]["dataroot_gt"] = str(tmp_path / "abs_hr")
    opt = load(write(tmp_path, data), root=tmp_path / "runs")
    run = tmp_path / "runs" / "experiments" / "unit"
    assert opt["path"]["experiments_root"] == str(run)
    assert opt["path"]["models"] == str(run / "models")
    assert opt["path"]["training_states"] == str(run / "training_states")
    assert opt["path"]["log"] == str(run)
    assert opt["path"]["visualization"] == str(run / "visualization")
    assert opt["is_train"] is True and opt["manual_seed"] == 3
    for key, phase in (("train", "train"), ("val", "val")):
        assert opt["datasets"][key]["phase"] == phase and opt["datasets"][key]["scale"] == 4
    assert opt["datasets"]["train"]["dataroot_gt"] == str(tmp_path / "abs_hr")  # absolute: kept
    assert opt["datasets"]["train"]["dataroot_lq"] == str(tmp_path / "runs" / "lr")  # relative: under root
    assert opt["_file"] == str(tmp_path / "opt.yml")
    # Defaults as in BasicSR.
    assert opt["logger"] == {"print_freq": 100, "save_checkpoint_freq": 5000, "use_tb_logger": False,
                             "save_format": "pth", "wandb": {"project": None, "resume_id": None, "entity": None}}
    assert opt["path"]["param_key_g"] == "params" and opt["path"]["strict_load_g"] is True
    assert opt["train"]["warmup_iter"] == -1 and opt["network_d"] is None
    assert opt["datasets"]["train"]["num_worker_per_gpu"] == 0
    assert "filename_tmpl" not in opt["datasets"]["train"] or opt["datasets"]["train"]["filename_tmpl"] == "{}x4"


def test_default_root_is_the_current_folder(tmp_path, monkeypatch):
    write(tmp_path, base_options())
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptionWarning)
        opt = load_options("opt.yml", check_paths=False)
    assert opt["path"]["experiments_root"] == os.path.join(str(tmp_path), "experiments", "unit")


def test_missing_seed_is_drawn_and_recorded(tmp_path):
    data = base_options()
    data["manual_seed"] = None
    opt = load(write(tmp_path, data))
    assert isinstance(opt["manual_seed"], int) and 1 <= opt["manual_seed"] <= 10000


def test_save_load_round_trip(tmp_path):
    opt = load(write(tmp_path, BASICSR_MSRRESNET))
    saved = save_options(opt, tmp_path / "experiments" / "run" / "options.yml")
    text = saved.read_text()
    assert "_warnings" not in text and "_file" not in text and "dist_params" not in text
    assert list(tmp_path.joinpath("experiments", "run").iterdir()) == [saved]  # no temporary file left
    again = load(saved, root=tmp_path)
    assert again["_warnings"] == []
    assert public(again) == public(opt)


def test_test_mode_needs_only_a_network(tmp_path):
    data = {"name": "infer", "scale": 4, "network_g": {"type": "RRDBNet", "num_block": 2},
            "datasets": {"test_1": {"type": "PairedImageDataset", "dataroot_gt": "hr", "dataroot_lq": "lr"}}}
    opt = load(write(tmp_path, data), is_train=False, check_paths=None)
    assert opt["is_train"] is False and opt["train"] is None
    assert opt["path"]["param_key_g"] is None  # inference: params_ema > params (training: 'params', as BasicSR)
    assert opt["path"]["results_root"] == str(tmp_path / "results" / "infer")
    assert opt["datasets"]["test_1"]["phase"] == "val"
    msg = error_of(write(tmp_path, data), is_train=True)
    assert "datasets.test_1: unexpected name" in msg and "train: missing required section" in msg


def test_constructor_spec_keeps_only_class_arguments(tmp_path):
    opt = load(write(tmp_path, base_options()))
    spec = constructor_spec(opt["datasets"]["train"], DATASETS)
    assert spec["type"] == "PairedImageDataset" and spec["phase"] == "train" and spec["scale"] == 4
    assert "batch_size_per_gpu" not in spec and "num_worker_per_gpu" not in spec and "use_shuffle" not in spec
    metric = constructor_spec(opt["val"]["metrics"]["psnr"], METRICS)
    assert metric == {"type": "calculate_psnr", "crop_border": 4, "test_y_channel": True}


# --------------------------------------------------------------------------------------------------
# The schema extends by model type: a model type adds its keys without editing the walker.


@pytest.fixture
def gan_like_model_type(monkeypatch):
    def prepare(raw, given):  # what an alias implies (as ESRGANModel implies a relativistic GAN)
        if given == "ToyGANModel":
            raw["train"].setdefault("toy_iters", 2)

    extra = schema.ModelType(
        "toy_gan", step_class="srgan_kit.models.base:GeneratorStep",
        fields={"train": {"toy_iters": Field(INT, 1, check=greater(0)), "toy_optim": schema.optimizer_node()}},
        prepare=prepare,
    )
    registered = MODEL_TYPES._load()  # the registry's map, restored after the test
    for name in ("toy_gan", "ToyGANModel"):
        monkeypatch.setitem(registered, name, extra)
    return extra


def test_a_model_type_turns_unused_keys_into_validated_ones(tmp_path, gan_like_model_type):
    data = base_options()
    data["model_type"] = "ToyGANModel"
    data["train"]["toy_optim"] = {"type": "Adam", "lr": 1e-4}
    opt = load(write(tmp_path, data))
    assert opt["model_type"] == "toy_gan" and opt["_warnings"] == []
    assert opt["train"]["toy_iters"] == 2 and opt["train"]["toy_optim"] == {"type": "Adam", "lr": 1e-4}
    assert load(write(tmp_path, data), "model_type=toy_gan")["train"]["toy_iters"] == 1
    assert "train.toy_optim.lr: expected a number > 0" in error_of(write(tmp_path, data), "train.toy_optim.lr=0")
    data["model_type"] = "sr"
    assert warned_keys(load(write(tmp_path, data))) == ["train.toy_optim"]


def test_base_schema_is_fresh_per_model_type():
    a, b = MODEL_TYPES.get("sr").schema(True), MODEL_TYPES.get("sr").schema(True)
    a.fields["train"].fields["x"] = Field(INT)
    assert "x" not in b.fields["train"].fields


def test_every_base_schema_default_is_valid():
    """Schema defaults pass their own checks (a typo in the tables would otherwise surface at run time)."""
    for node in (schema.base_schema(True), schema.base_schema(False), schema.dataset_node("train")):
        for field in optional_fields(node):
            assert field.coerce(copy.deepcopy(field.default)) == field.default


def test_save_writes_tuples_as_lists_and_a_single_override_string_works(tmp_path):
    opt = load_options(write(tmp_path, base_options()), "train.total_iter=12", root=tmp_path, check_paths=False)
    assert opt["train"]["total_iter"] == 12
    opt["train"]["optim_g"]["betas"] = (0.9, 0.99)
    saved = save_options(opt, tmp_path / "o.yml")
    assert load(saved)["train"]["optim_g"]["betas"] == [0.9, 0.99]


def test_a_metric_direction_against_the_metrics_own_warns(tmp_path):
    data = base_options()
    data["val"]["metrics"]["psnr"]["better"] = "lower"
    opt = load(write(tmp_path, data))
    assert warned_keys(opt) == ["val.metrics.psnr.better"]
    data["val"]["metrics"]["psnr"]["better"] = "higher"
    assert warned_keys(load(write(tmp_path, data))) == []
