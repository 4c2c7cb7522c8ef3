"""Each sample's augmentation comes from (seed, epoch, position) only: processes share an epoch out without
changing any crop, worker count does not matter, and a run resumed with data workers is bit-identical."""
import pytest
import torch
import yaml
from conftest import write_photos

from srgan_kit.cli.train import main as train_main
from srgan_kit.data.datasets import GTOnlyDataset
from srgan_kit.training.runtime import Runtime


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return write_photos(tmp_path_factory.mktemp("photos") / "gt", 5, 40, 48).parent


def batches(root, batch_size, n, rank=0, world_size=1, workers=0):
    dataset = GTOnlyDataset(dataroot_gt=str(root / "gt"), scale=2, phase="train", gt_size=16, use_hflip=True,
                            use_rot=True)
    loader = Runtime(rank=rank, world_size=world_size).train_loader(dataset, batch_size, workers, True, seed=3)
    return [next(loader)["gt"] for _ in range(n)]


@pytest.mark.parametrize("b", [2, 4])  # 4 x 2 processes is more than the 5 photos: the epoch repeats them
def test_two_processes_of_batch_b_see_one_process_of_batch_2b(photos, b):
    """Position p of an epoch goes to process p % 2, with the crop and flips it has in a single process."""
    single = batches(photos, 2 * b, 3)
    rank0, rank1 = batches(photos, b, 3, rank=0, world_size=2), batches(photos, b, 3, rank=1, world_size=2)
    for whole, r0, r1 in zip(single, rank0, rank1):
        assert torch.equal(whole, torch.stack([x for pair in zip(r0, r1) for x in pair]))


def test_data_workers_do_not_change_any_sample(photos):
    for here, in_workers in zip(batches(photos, 2, 4), batches(photos, 2, 4, workers=2)):
        assert torch.equal(here, in_workers)


def test_a_run_resumed_with_data_workers_is_bit_identical(photos, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    options = {
        "name": "workers", "model_type": "sr", "scale": 2, "num_gpu": 0, "manual_seed": 1,
        "datasets": {"train": {"type": "GTOnlyDataset", "dataroot_gt": str(photos / "gt"), "gt_size": 16,
                               "batch_size_per_gpu": 2, "num_worker_per_gpu": 1, "use_hflip": True,
                               "use_rot": True}},
        "network_g": {"type": "MSRResNet", "num_feat": 8, "num_block": 1, "upscale": 2},
        "train": {"ema_decay": 0.5, "optim_g": {"type": "Adam", "lr": 1e-3}, "total_iter": 6,
                  "pixel_opt": {"type": "L1Loss"}},
        "logger": {"print_freq": 3, "save_checkpoint_freq": 3},
    }
    path = tmp_path / "workers.yml"
    path.write_text(yaml.safe_dump(options))
    assert train_main(["-opt", str(path), "--no-progress", "--set", "name=straight"]) == 0
    assert train_main(["-opt", str(path), "--no-progress", "--set", "train.total_iter=3"]) == 0
    assert train_main(["-opt", str(path), "--no-progress", "--auto_resume"]) == 0
    for key in ("params", "params_ema"):
        a = torch.load(tmp_path / "experiments/straight/models/net_g_6.pth", weights_only=True)[key]
        b = torch.load(tmp_path / "experiments/workers/models/net_g_6.pth", weights_only=True)[key]
        assert all(torch.equal(a[k], b[k]) for k in a)


ACCUMULATE = {
    "name": "acc", "model_type": "sr", "scale": 2, "num_gpu": 0, "manual_seed": 2,
    "datasets": {"train": {"type": "GTOnlyDataset", "dataroot_gt": "gt", "gt_size": 16, "batch_size_per_gpu": 4,
                           "use_hflip": True, "use_rot": True}},
    "network_g": {"type": "MSRResNet", "num_feat": 8, "num_block": 1, "upscale": 2},
    "network_d": {"type": "UNetDiscriminatorSN", "num_feat": 8},
    "train": {"ema_decay": 0.5, "optim_g": {"type": "Adam", "lr": 1e-3, "eps": 1.0},
              "optim_d": {"type": "Adam", "lr": 1e-3, "eps": 1.0}, "total_iter": 4, "pixel_opt": {"type": "L1Loss"},
              "gan_opt": {"type": "GANLoss", "gan_type": "wgan_gp", "loss_weight": 0.1}},
    "logger": {"print_freq": 2, "save_checkpoint_freq": 4},
}


@pytest.mark.parametrize("model_type", ["sr", "gan"])
def test_accumulating_two_micro_batches_equals_one_batch_twice_as_large(tmp_path, monkeypatch, model_type):
    """batch 2 x accumulate_grad_batches 2 updates like batch 4: the same samples, crops, noise and
    gradients (WGAN-GP's interpolation weights follow each sample; its penalty is per sample). The U-Net's
    spectral norm runs one power iteration per forward, and micro-batches mean more forwards: D's
    normalisation vectors differ, so D's weights agree to 1e-3 and G's, which only sees D's outputs, to 1e-5."""
    monkeypatch.chdir(tmp_path)
    write_photos(tmp_path / "gt", 8, 40, 48)
    path = tmp_path / "acc.yml"
    options = {**ACCUMULATE, "model_type": model_type}
    if model_type == "sr":  # no discriminator keys: they would only be warned about
        options.pop("network_d")
        options["train"] = {k: v for k, v in options["train"].items() if k not in ("optim_d", "gan_opt")}
    path.write_text(yaml.safe_dump(options))
    base = ["-opt", str(path), "--no-progress"]
    assert train_main(base + ["--set", "name=whole"]) == 0
    assert train_main(base + ["--set", "name=parts", "--set", "datasets.train.batch_size_per_gpu=2",
                              "--set", "train.accumulate_grad_batches=2"]) == 0
    for net, tolerance in {"net_g": 1e-5, "net_d": 1e-3}.items():
        if net == "net_d" and model_type == "sr":
            continue
        whole = torch.load(tmp_path / f"experiments/whole/models/{net}_4.pth", weights_only=True)["params"]
        parts = torch.load(tmp_path / f"experiments/parts/models/{net}_4.pth", weights_only=True)["params"]
        for key in (k for k in whole if not k.endswith(("_u", "_v"))):
            torch.testing.assert_close(parts[key], whole[key], rtol=0, atol=tolerance)
