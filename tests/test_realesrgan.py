"""model_type RealESRGANModel (the GAN stage on degraded pairs), per-role targets, and ready-made pairs mixed in."""
import contextlib
import tempfile
from pathlib import Path

import pytest
import torch
import yaml
from test_realesrnet import OPTIONS, _photos, resumed_in_another_folder

from srgan_kit.config.options import load_options
from srgan_kit.data.datasets import RealESRGANPairedDataset, SampleKey
from srgan_kit.data.imageio import load_image, save_image
from srgan_kit.data.realworld import KERNEL_DEFAULTS, STAGE_DEFAULTS, RealWorldPairs, SeparableUSM
from srgan_kit.errors import OptionError
from srgan_kit.losses.objective import GeneratorView
from srgan_kit.losses.pixel import L1Loss
from srgan_kit.registry import MODEL_TYPES
from srgan_kit.training.runtime import Runtime
from srgan_kit.training.trainer import train

RECIPES = Path(__file__).resolve().parents[1] / "options"
GAN_OPTIONS = {
    **OPTIONS, "name": "realesrgan", "model_type": "RealESRGANModel",
    "network_d": {"type": "UNetDiscriminatorSN", "num_in_ch": 3, "num_feat": 4, "skip_connection": True},
    "train": {**OPTIONS["train"], "optim_d": {"type": "Adam", "lr": 1e-3},
              "gan_opt": {"type": "GANLoss", "gan_type": "vanilla", "loss_weight": 0.1}},
}


def _write(root, data):
    if not (root / "data" / "gt").exists():
        _photos(root / "data" / "gt")
    path = root / "opt.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def _load(root, **changes):
    return load_options(_write(root, {**GAN_OPTIONS, **changes}), root=root)


def _low_res(root, scale=2):
    """Ready-made LR partners of the GT photos (every other pixel: not what the degradation makes)."""
    (root / "data" / "lq").mkdir(parents=True, exist_ok=True)
    for path in sorted((root / "data" / "gt").glob("*.png")):
        save_image(root / "data" / "lq" / path.name, load_image(path).rgb[::scale, ::scale])
    return root / "data" / "lq"


def _paired_options(root, prob):
    _photos(root / "data" / "gt")
    _low_res(root)
    train_set = dict(GAN_OPTIONS["datasets"]["train"], type="RealESRGANPairedDataset", dataroot_lq="data/lq")
    return _load(root, dataroot_lq_prob=prob, datasets={"train": train_set})


# ------------------------------------------------------------------------------------------ per-role targets


def test_a_pixel_term_compares_with_its_role_target():
    sr, gt, sharp = torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4)
    view = GeneratorView(sr, gt, contextlib.nullcontext, targets={"pixel": sharp})
    assert torch.allclose(L1Loss().generator_terms(view)["pix"], (sr - sharp).abs().mean())
    assert view.target("perceptual") is gt  # a role without its own target trains on gt


def test_the_discriminator_sees_the_gan_target_as_its_real_batch(tmp_path):
    opt = _load(tmp_path)
    step = MODEL_TYPES.get("realesrgan").step(opt, Runtime())
    lq, gt, sharp = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    step.training_pair = lambda part: {"lq": lq, "gt": gt, "gan_gt": sharp}
    seen = []
    step.net_d.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    step.run({}, 1)
    assert any(torch.equal(x, sharp) for x in seen) and not any(torch.equal(x, gt) for x in seen)


def test_each_loss_role_takes_the_sharpened_gt_by_its_own_key(tmp_path):
    opt = _load(tmp_path, l1_gt_usm=True, percep_gt_usm=False, gan_gt_usm=True, queue_size=0)
    step = MODEL_TYPES.get("realesrgan").step(opt, Runtime())
    batch = torch.utils.data.default_collate([step_dataset(opt)[SampleKey(i, i)] for i in range(2)])
    pair = step.training_pair(batch)
    assert set(pair) == {"lq", "gt", "pixel_gt", "gan_gt"}
    assert torch.allclose(pair["pixel_gt"], SeparableUSM()(pair["gt"]), atol=1e-6)


def test_the_older_single_gt_usm_key_sets_the_generator_terms(tmp_path):
    opt = load_options(_write(tmp_path, {**OPTIONS, "gt_usm": False, "queue_size": 0}), root=tmp_path)
    step = MODEL_TYPES.get("realesrnet").step(opt, Runtime())
    assert step.usm_roles == []  # l1_gt_usm / percep_gt_usm default true, gt_usm: false turns both off


def step_dataset(opt):
    from srgan_kit.training.trainer import build_dataset

    return build_dataset(opt["datasets"]["train"], "datasets.train")


# ------------------------------------------------------------------------------------------ training


def test_a_gan_stage_run_trains_g_and_d_and_resumes_bit_for_bit(tmp_path):
    straight = train(_load(tmp_path), progress=False)
    assert {"l_g_pix", "l_g_gan", "l_d_real", "l_d_fake"} <= set(straight.losses)
    run = tmp_path / "experiments" / "realesrgan"
    final = torch.load(run / "models" / "net_d_6.pth", weights_only=True)["params"]
    again = resumed_in_another_folder(tmp_path, _load, run, "net_d_6.pth")
    assert all(torch.equal(final[k], again[k]) for k in final)


@pytest.mark.parametrize("recipe", ["train_realesrgan_x4plus.yml", "train_realesrgan_x2plus.yml",
                                    "train_realesrnet_x2plus.yml"])
def test_real_esrgans_own_option_files_load_with_path_edits_only(recipe):
    data = yaml.safe_load((RECIPES / recipe).read_text())
    # what Real-ESRGAN's files have beyond ours, and what they lack
    data["datasets"]["train"].update(io_backend={"type": "disk"}, dataset_enlarge_ratio=1, prefetch_mode=None)
    del data["datasets"]["train"]["crop_pad_size"], data["datasets"]["val"]
    del data["train"]["amp"], data["train"]["channels_last"], data["val"]
    if data["scale"] == 4:
        del data["network_g"]["scale"]  # RRDBNet's default
    if data["model_type"] == "RealESRNetModel":  # the older single key of Real-ESRNet files
        for key in ("l1_gt_usm", "percep_gt_usm", "gan_gt_usm"):
            del data[key]
        data["gt_usm"] = True
    data["dist_params"] = {"backend": "nccl", "port": 29500}
    data["logger"]["wandb"] = {"project": None, "resume_id": None}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / recipe
        path.write_text(yaml.safe_dump(data))
        opt = load_options(path, check_paths=False)
    assert opt["model_type"] == data["model_type"].lower()[:-5] and opt["queue_size"] == 180
    assert opt["resize_range2"] == STAGE_DEFAULTS["resize_range2"]


# ------------------------------------------------------------------------------------------ ready-made pairs


def test_the_paired_dataset_adds_an_aligned_ready_made_pair_to_each_item(tmp_path):
    _photos(tmp_path / "data" / "gt")
    lq_dir = _low_res(tmp_path)
    dataset = RealESRGANPairedDataset(dataroot_gt=str(tmp_path / "data" / "gt"), dataroot_lq=str(lq_dir), scale=2,
                                      gt_size=32, crop_pad_size=48, use_hflip=False)
    item = dataset[SampleKey(1, 7)]
    assert item["gt"].shape == (3, 48, 48) and item["paired_gt"].shape == (3, 32, 32)
    assert torch.equal(item["paired_lq"], item["paired_gt"][:, ::2, ::2])  # the crops are aligned
    assert item["kernel1"].shape[-1] == KERNEL_DEFAULTS["blur_kernel_size"]


def test_the_paired_dataset_needs_gt_size(tmp_path):
    _photos(tmp_path / "data" / "gt")
    with pytest.raises(OptionError, match="gt_size is required"):
        RealESRGANPairedDataset(dataroot_gt=str(tmp_path / "data" / "gt"), dataroot_lq=str(_low_res(tmp_path)),
                                scale=2)


def test_dataroot_lq_prob_is_the_share_of_batches_on_ready_made_pairs():
    pairs = RealWorldPairs(STAGE_DEFAULTS, 2, 32, 0, 2, paired_prob=0.3)
    batch = {"paired_lq": torch.zeros(1)}
    share = sum(pairs.uses_paired(batch, seed) for seed in range(4000)) / 4000
    assert abs(share - 0.3) < 0.03
    assert not pairs.uses_paired({}, 0)  # a batch without ready-made pairs is always degraded


def test_a_batch_chosen_for_its_ready_made_pairs_trains_on_them_unchanged():
    pairs = RealWorldPairs(STAGE_DEFAULTS, 2, 32, 4, 2, paired_prob=1.0)
    lq, gt = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 32, 32)
    made = pairs({"paired_lq": lq, "paired_gt": gt}, seed=5)
    assert torch.equal(made["lq"], lq) and torch.equal(made["gt"], gt)
    assert torch.allclose(made["gt_usm"], SeparableUSM()(gt)) and pairs.pool.filled == 0  # the pool is bypassed


def test_a_run_mixing_ready_made_and_degraded_pairs_trains(tmp_path):
    assert "l_d_real" in train(_paired_options(tmp_path, 0.5), progress=False).losses


def test_dataroot_lq_prob_without_ready_made_pairs_is_refused(tmp_path):
    with pytest.raises(OptionError, match="dataroot_lq_prob: 0.5 needs ready-made pairs"):
        _load(tmp_path, dataroot_lq_prob=0.5)


def test_dataroot_lq_prob_outside_zero_one_is_refused(tmp_path):
    with pytest.raises(OptionError, match=r"dataroot_lq_prob: .*in \[0, 1\]"):
        _paired_options(tmp_path, 1.5)


def test_resize_modes_and_probabilities_of_unequal_length_are_refused(tmp_path):
    with pytest.raises(OptionError, match="resize_mode_prob2: 2 probabilities for the 3 modes"):
        _load(tmp_path, resize_mode_prob2=[0.5, 0.5])


def test_a_resize_mode_torch_cannot_run_is_refused_by_name(tmp_path):
    with pytest.raises(OptionError, match="resize_mode_list3: .*each one of area, bilinear"):
        _load(tmp_path, resize_mode_list3=["lanczos"], resize_mode_prob3=[1])


def test_a_jpeg_probability_above_one_is_refused(tmp_path):
    with pytest.raises(OptionError, match=r"jpeg_prob2: .*in \[0, 1\]"):
        _load(tmp_path, jpeg_prob2=1.5)


# WGAN-GP draws per-sample noise in the D step: the ready-made pairs' own seeds must reach it
@pytest.mark.parametrize("gan_opt", [GAN_OPTIONS["train"]["gan_opt"],
                                     {"type": "GANLoss", "gan_type": "wgan_gp", "gp_weight": 10, "loss_weight": 0.1}])
def test_on_ready_made_pairs_alone_the_gan_stage_trains_as_model_type_gan_does(tmp_path, gan_opt):
    """With dataroot_lq_prob 1, RealESRGANModel sees the crops, flips and order PairedImageDataset gives
    model_type gan under the same seed, and its step is the GAN step: the two runs end with equal networks."""
    opt = _paired_options(tmp_path, 1.0)
    opt["l1_gt_usm"] = opt["percep_gt_usm"] = False  # the plain GT, as model_type gan has no other
    opt["train"]["gan_opt"].update(gan_opt)
    real = train(opt, progress=False)
    plain_set = {"name": "pairs", "type": "PairedImageDataset", "dataroot_gt": "data/gt", "dataroot_lq": "data/lq",
                 "gt_size": 32, "use_hflip": True, "use_rot": False, "batch_size_per_gpu": 2,
                 "num_worker_per_gpu": 0}
    plain_opt = {k: v for k, v in GAN_OPTIONS.items() if k not in ("gt_size", "queue_size")}
    path = tmp_path / "plain.yml"
    train_opt = {**GAN_OPTIONS["train"], "gan_opt": gan_opt}
    path.write_text(yaml.safe_dump({**plain_opt, "name": "plain", "model_type": "gan", "train": train_opt,
                                    "datasets": {"train": plain_set}}))
    plain = train(load_options(path, root=tmp_path), progress=False)
    assert real.losses == plain.losses
    for net in ("net_g", "net_d"):
        a, b = (torch.load(tmp_path / "experiments" / name / "models" / f"{net}_6.pth", weights_only=True)["params"]
                for name in ("realesrgan", "plain"))
        assert all(torch.equal(a[k], b[k]) for k in a), net
