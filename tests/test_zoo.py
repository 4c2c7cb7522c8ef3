"""The community's generators (spandrel's classes, basicsr's EDSR): built by name with their own keys, read back by
spandrel, detected from files the upstream classes make, fine-tuned, padded to their size rules, exported.

Every network here is a tiny configuration (a few thousand to a few hundred thousand parameters).
"""
import json
from pathlib import Path

import numpy as np
import pytest
import spandrel
import torch
import yaml

from conftest import write_photos
from srgan_kit.archs.detect import detect
from srgan_kit.archs.loading import build_from_weights
from srgan_kit.archs.zoo import upstream_class
from srgan_kit.archs.zoo_options import ZOO
from srgan_kit.cli.evaluate import main as evaluate_main
from srgan_kit.cli.export import export, largest_difference
from srgan_kit.cli.infer import main as infer_main
from srgan_kit.cli.interpolate import main as interpolate_main
from srgan_kit.cli.train import main as train_main
from srgan_kit.config.options import load_options
from srgan_kit.data.imageio import load_image
from srgan_kit.errors import NotSuperResolution, OptionError
from srgan_kit.inference import Upscaler
from srgan_kit.registry import ARCHS

ENTRIES = {entry.name: entry for entry in ZOO}
# Tiny x4 configurations, with our (BasicSR's) key names.
TINY = {
    "SPAN": dict(feature_channels=8, upscale=4),
    "Compact": dict(num_feat=8, num_conv=2, upscale=4),
    "RealPLKSR": dict(dim=8, n_blocks=1, upscaling_factor=4, kernel_size=5),
    "PLKSR": dict(dim=8, n_blocks=1, upscaling_factor=4, kernel_size=5),
    "SAFMN": dict(dim=8, n_blocks=1, upscaling_factor=4),
    "OmniSR": dict(num_feat=16, block_num=1, window_size=4, up_scale=4),
    "SwinIR": dict(upscale=4, upsampler="pixelshuffle", embed_dim=12, depths=[1], num_heads=[2], window_size=4,
                   img_size=16),
    "Swin2SR": dict(upscale=4, upsampler="pixelshuffle", embed_dim=12, depths=[1], num_heads=[2], window_size=4,
                    img_size=16),
    "HAT": dict(upscale=4, embed_dim=12, depths=[1], num_heads=[2], window_size=4, img_size=16, compress_ratio=3,
                squeeze_factor=4, num_feat=16),
    "DAT": dict(upscale=4, embed_dim=32, depth=[1], num_heads=[2], split_size=[2, 4], img_size=16),
    "RGT": dict(upscale=4, embed_dim=32, depth=[1], num_heads=[2], split_size=[4, 4], img_size=16),
    "ATD": dict(upscale=4, upsampler="pixelshuffle", embed_dim=12, depths=[2], num_heads=[2], window_size=4,
                img_size=16, num_tokens=8, reducted_dim=4),
    "DRCT": dict(upscale=4, upsampler="pixelshuffle", embed_dim=12, depths=[1], num_heads=[2], window_size=4,
                 img_size=16, gc=8),
    "RCAN": dict(upscale=4, num_group=1, num_block=1, num_feat=16, squeeze_factor=4),
    "EDSR": dict(num_feat=16, num_block=1, upscale=4),
    "ECBSR": dict(num_block=1, num_channel=8, scale=4),
}
SPANDREL_ARCHS = [e.name for e in ZOO if e.library == "spandrel"]
# The architectures the generator work is judged on: made by the upstream class, detected, fine-tuned.
JUDGED = ["SPAN", "Compact", "RealPLKSR", "SwinIR", "DAT", "OmniSR", "HAT", "RCAN", "EDSR"]
WINDOWED = ["SwinIR", "DAT", "HAT"]


def tiny(name, seed=0):
    torch.manual_seed(seed)
    return ARCHS.build({"type": name, **TINY[name]}).eval()


def upstream_made(name, seed=0):
    """The network as its own library builds it (upstream keys), as a downloaded model would be."""
    entry = ENTRIES[name]
    keys = {entry.renames.get(k, k): v for k, v in {**entry.defaults, **TINY[name]}.items()}
    torch.manual_seed(seed)
    return upstream_class(entry)(**keys).eval()


@torch.no_grad()
def run(net, x):
    return net.eval()(x.clone())


def lr_image(h=37, w=53, seed=0):
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


# ---- names, keys and the files spandrel reads ------------------------------------------------------------------
@pytest.mark.parametrize("name", SPANDREL_ARCHS)
def test_a_network_built_by_name_is_read_back_by_spandrel_as_the_same_network(name, tmp_path):
    net = tiny(name)
    torch.save({"params": net.state_dict(), "params_ema": net.state_dict()}, tmp_path / "net_g.pth")
    descriptor = spandrel.ModelLoader().load_from_file(tmp_path / "net_g.pth")
    assert type(descriptor.model) is type(net)
    assert descriptor.scale == net.scale == 4
    x = lr_image(32, 32)
    assert torch.equal(run(descriptor.model, x), run(net, x))


@pytest.mark.parametrize("name", SPANDREL_ARCHS)
def test_size_rules_are_spandrels(name):
    net = tiny(name)
    stated = spandrel.ModelLoader().load_from_state_dict(net.state_dict()).size_requirements
    assert (net.size_rule.minimum, net.size_rule.multiple_of) == (max(stated.minimum, 1), stated.multiple_of)


def test_compact_is_also_real_esrgans_srvggnetcompact():
    assert ARCHS.get("SRVGGNetCompact") is ARCHS.get("Compact")


def test_rcan_takes_basicsr_key_names():
    net = ARCHS.build({"type": "RCAN", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 16, "num_group": 2,
                       "num_block": 3, "squeeze_factor": 4, "upscale": 2, "res_scale": 1, "img_range": 255.0,
                       "rgb_mean": [0.4488, 0.4371, 0.4040]})
    hp = net.hyperparameters
    assert (hp["n_feats"], hp["n_resgroups"], hp["n_resblocks"], hp["reduction"], hp["scale"], hp["rgb_range"]) == (
        16, 2, 3, 4, 2, 255)


def test_rcan_leaves_its_input_unchanged():
    x = lr_image(16, 16)
    before = x.clone()
    tiny("RCAN")(x)
    assert torch.equal(x, before)


def write_training_data(root):
    write_photos(root / "data" / "gt", 3, 96, 96, block=4)
    write_photos(root / "data" / "val", 1, 148, 212, block=4, seed=3)  # LR 37x53: no window divides it


def option_text(name, network, extra="", amp="auto"):
    return f"""\
name: {name}
model_type: sr
scale: 4
num_gpu: 0
manual_seed: 3
datasets:
  train: {{name: t, type: GTOnlyDataset, dataroot_gt: data/gt, gt_size: 64, use_hflip: true, use_rot: true,
          batch_size_per_gpu: 2, num_worker_per_gpu: 0}}
  val: {{name: v, type: GTOnlyDataset, dataroot_gt: data/val}}
{network}
train:
  ema_decay: 0.9
  amp: {amp}
  channels_last: true
  optim_g: {{type: Adam, lr: 1.0e-4}}
  total_iter: 2
  pixel_opt: {{type: L1Loss, loss_weight: 1.0}}
val: {{val_freq: 2, save_img: false}}
logger: {{print_freq: 1, save_checkpoint_freq: 2, use_tb_logger: false}}
{extra}"""


def load_error(tmp_path, text):
    path = tmp_path / "o.yml"
    path.write_text(text)
    with pytest.raises(OptionError) as info:
        load_options(path, check_paths=False)
    return str(info.value)


def test_a_wrong_key_names_the_nearest_valid_one(tmp_path):
    net = "network_g: {type: SwinIR, upscale: 4, upsampler: pixelshuffle, embed_dims: 12}"
    assert "network_g.embed_dims" in load_error(tmp_path, option_text("w", net)) and "embed_dim" in load_error(
        tmp_path, option_text("w", net)).split("embed_dims", 1)[1]


def test_a_wrong_type_is_one_line_naming_the_key(tmp_path):
    net = "network_g: {type: SwinIR, upscale: 4, upsampler: pixelshuffle, depths: six}"
    message = load_error(tmp_path, option_text("w", net))
    assert "network_g.depths" in message and "\n" not in message


def test_an_unknown_architecture_names_the_nearest(tmp_path):
    message = load_error(tmp_path, option_text("u", "network_g: {type: SwinIr, upscale: 4}"))
    assert "network_g.type" in message and "did you mean 'SwinIR'" in message


def test_a_training_crop_below_the_networks_minimum_is_refused_by_key(tmp_path):
    net = "network_g: {type: HAT, upscale: 4, window_size: 4, embed_dim: 12, depths: [1], num_heads: [2]}"
    message = load_error(tmp_path, option_text("c", net).replace("gt_size: 64", "gt_size: 32"))
    assert "datasets.train.gt_size: 32 gives 8x8 LR crops" in message and "gt_size of 64" in message


def test_an_upscaling_transformer_needs_an_upsampler(tmp_path):
    message = load_error(tmp_path, option_text("s", "network_g: {type: SwinIR, upscale: 4}"))
    assert "network_g.upsampler" in message


def test_the_scale_key_of_any_architecture_must_match_scale(tmp_path):
    message = load_error(tmp_path, option_text("s", "network_g: {type: SAFMN, dim: 8, upscaling_factor: 2}"))
    assert "network_g.upscaling_factor: 2 does not match scale: 4" in message


# ---- training by name, fine-tuning a downloaded file -----------------------------------------------------------
def saved_output_equals_spandrels(run_dir, name):
    """The saved generator: spandrel reads it as ``name``'s class and gives our output (<= 1 grey level)."""
    path = run_dir / "models" / "net_g_2.pth"
    ours, spec = build_from_weights(path)
    assert spec["type"] == name
    x = lr_image()
    if ENTRIES[name].library == "spandrel":
        theirs = spandrel.ModelLoader().load_from_file(path).model
        assert type(theirs) is type(ours)
        assert float((run(theirs, x) - run(ours, x)).abs().max()) * 255 <= 1
    return ours


@pytest.mark.parametrize("name", ["SPAN", "SwinIR"])  # RCAN and EDSR: BasicSR's own files, below
def test_trains_by_type_name_with_bf16_channels_last_and_ema(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_training_data(tmp_path)
    network = "network_g: " + json.dumps({"type": name, **TINY[name]})
    (tmp_path / "o.yml").write_text(option_text("byname", network, amp="bf16"))  # autocast on any CPU
    assert train_main(["-opt", "o.yml"]) == 0
    saved_output_equals_spandrels(tmp_path / "experiments" / "byname", name)


@pytest.mark.parametrize("name", JUDGED)
def test_fine_tunes_a_downloaded_model_named_only_by_its_file(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_training_data(tmp_path)
    torch.save(upstream_made(name).state_dict(), tmp_path / "downloaded.pth")  # a bare state dict
    (tmp_path / "o.yml").write_text(option_text("finetune", "path: {pretrain_network_g: downloaded.pth}"))
    assert load_options(tmp_path / "o.yml")["network_g"]["type"] == name
    assert train_main(["-opt", "o.yml"]) == 0
    saved_output_equals_spandrels(tmp_path / "experiments" / "finetune", name)


@pytest.mark.parametrize("name", JUDGED)
def test_a_file_the_upstream_class_made_is_detected(name, tmp_path):
    made = upstream_made(name)
    torch.save({"params_ema": made.state_dict()}, tmp_path / "m.pth")
    net, spec = build_from_weights(tmp_path / "m.pth")
    assert spec["type"] == name and net.scale == 4
    x = lr_image(32, 32)
    assert torch.equal(run(net, x), run(made, x))


def test_a_downloaded_x1_model_is_refused_for_an_x4_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    denoiser = ARCHS.build({"type": "SwinIR", "embed_dim": 12, "depths": [1], "num_heads": [2], "window_size": 4})
    torch.save(denoiser.state_dict(), tmp_path / "denoise.pth")
    message = load_error(tmp_path, option_text("x1", "path: {pretrain_network_g: denoise.pth}"))
    assert "network_g.upscale: 1 does not match scale: 4" in message and "denoise.pth" in message


def test_a_face_restoration_model_is_refused_saying_what_it_is():
    from spandrel.architectures.RestoreFormer.__arch.restoreformer_arch import RestoreFormer

    with pytest.raises(NotSuperResolution, match="a face restoration model \\(RestoreFormer"):
        detect(RestoreFormer().state_dict(), "face.pth")


def test_infer_refuses_a_denoising_model_of_an_architecture_it_does_not_run(tmp_path, capsys):
    from spandrel.architectures.DnCNN.__arch.network_dncnn import DnCNN

    torch.save(DnCNN().state_dict(), tmp_path / "dncnn.pth")
    write_photos(tmp_path / "in", 1, 20, 20)
    assert infer_main(["-i", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model",
                       str(tmp_path / "dncnn.pth")]) == 2
    err = capsys.readouterr().err.strip()
    assert "same-size restoration (x1) model (DnCNN" in err and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_a_truncated_model_file_is_one_line(tmp_path, capsys):
    torch.save(tiny("SwinIR").state_dict(), tmp_path / "full.pth")
    (tmp_path / "cut.pth").write_bytes((tmp_path / "full.pth").read_bytes()[:5000])
    write_photos(tmp_path / "in", 1, 20, 20)
    assert infer_main(["-i", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model",
                       str(tmp_path / "cut.pth")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "cut.pth" in err and "\n" not in err
    assert not (tmp_path / "out").exists()


# ---- any image size ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", WINDOWED)
def test_odd_sizes_upscale_exactly_tiled_and_untiled(name):
    net = tiny(name)
    rgb = lr_image()[0].permute(1, 2, 0).numpy()
    whole = Upscaler(net, 4).upscale(rgb)
    tiled = Upscaler(net, 4, tile=16, tile_pad=24).upscale(rgb)
    assert whole.shape == tiled.shape == (148, 212, 3)
    assert np.abs(whole - tiled).max() * 255 <= 1


@pytest.mark.parametrize("name", WINDOWED)
def test_odd_sizes_export_to_onnx(name):
    net = tiny(name)
    graph = export(net, 37)
    import onnxruntime

    assert largest_difference(net, graph, 37, False, False, onnxruntime) < 1e-4


def test_infer_and_evaluate_run_a_downloaded_hat_file(tmp_path):
    torch.save(upstream_made("HAT").state_dict(), tmp_path / "hat.pth")
    write_photos(tmp_path / "gt", 1, 148, 212, block=4)
    from srgan_kit.data.imageio import save_image
    from srgan_kit.data.degradation import imresize

    save_image(tmp_path / "lr" / "0x4.png", imresize(load_image(tmp_path / "gt" / "0.png").rgb, 1 / 4))
    assert infer_main(["-i", str(tmp_path / "lr"), "-o", str(tmp_path / "out"), "--model",
                       str(tmp_path / "hat.pth"), "--tile", "16"]) == 0
    assert load_image(tmp_path / "out" / "0x4_out.png").rgb.shape == (148, 212, 3)
    assert evaluate_main(["--model", str(tmp_path / "hat.pth"), "--gt", str(tmp_path / "gt"), "--lr",
                          str(tmp_path / "lr"), "--json", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())


def test_interpolates_two_files_of_one_architecture(tmp_path):
    torch.save({"params": tiny("SwinIR", seed=1).state_dict()}, tmp_path / "a.pth")
    torch.save({"params": tiny("SwinIR", seed=2).state_dict()}, tmp_path / "b.pth")
    assert interpolate_main(["--a", str(tmp_path / "a.pth"), "--b", str(tmp_path / "b.pth"), "--alpha", "0.5",
                             "-o", str(tmp_path / "i")]) == 0
    mixed, spec = build_from_weights(tmp_path / "i" / "interp_0.50.pth")
    a, b = tiny("SwinIR", seed=1).state_dict(), tiny("SwinIR", seed=2).state_dict()
    key = "conv_first.weight"
    assert spec["type"] == "SwinIR" and torch.allclose(mixed.state_dict()[key], (a[key] + b[key]) / 2)


# ---- BasicSR's own option files ---------------------------------------------------------------------------------
BASICSR_FILES = Path(__file__).parent / "data" / "basicsr_options"


def basicsr_paths(root, scale):
    """The path edits: data folders written here, no pretrained network."""
    from srgan_kit.data.imageio import save_image
    from srgan_kit.data.degradation import imresize

    write_photos(root / "hr", 2, 192, 192, block=4)
    for image in (root / "hr").iterdir():
        save_image(root / "lr" / image.name, imresize(load_image(image).rgb, 1 / scale))
    return [f"datasets.train.dataroot_gt={root / 'hr'}", f"datasets.train.dataroot_lq={root / 'lr'}",
            f"datasets.val.dataroot_gt={root / 'hr'}", f"datasets.val.dataroot_lq={root / 'lr'}",
            "path.pretrain_network_g=~"]


@pytest.mark.parametrize("file, scale, smaller", [
    ("train_EDSR_Mx4.yml", 4, ["network_g.num_block=1", "network_g.num_feat=16"]),
    ("train_RCAN_x2.yml", 2, ["network_g.num_group=1", "network_g.num_block=1"]),
    ("train_SwinIR_SRx4_scratch.yml", 4, ["network_g.depths=[1]", "network_g.num_heads=[6]",
                                          "network_g.embed_dim=12"]),
])
def test_basicsrs_own_option_files_validate_with_path_edits_and_run(file, scale, smaller, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = basicsr_paths(tmp_path, scale)
    assert load_options(BASICSR_FILES / file, overrides=paths, root=tmp_path)["network_g"]
    # Two iterations on a CPU: a smaller network and batch, one process, nothing else changed.
    run_sets = paths + smaller + ["train.total_iter=2", "datasets.train.batch_size_per_gpu=2",
                                  "datasets.train.num_worker_per_gpu=0", "num_gpu=0", "logger.use_tb_logger=false"]
    args = ["-opt", str(BASICSR_FILES / file)] + [a for s in run_sets for a in ("--set", s)]
    assert train_main(args) == 0
    name = yaml.safe_load((BASICSR_FILES / file).read_text())["name"]
    assert (tmp_path / "experiments" / name / "models" / "net_g_latest.pth").is_file()


@pytest.mark.parametrize("name", list(TINY))
def test_every_trained_parameter_gets_a_gradient_so_ddp_needs_no_unused_parameter_search(name):
    net = tiny(name).train()
    net(torch.rand(2, 3, 16, 16)).mean().backward()
    assert [n for n, p in net.named_parameters() if p.requires_grad and p.grad is None] == []


def test_a_resumed_transformer_run_equals_the_uninterrupted_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_training_data(tmp_path)
    network = "network_g: " + json.dumps({"type": "SwinIR", **TINY["SwinIR"]})  # drop_path draws random numbers
    (tmp_path / "o.yml").write_text(option_text("r", network).replace("total_iter: 2", "total_iter: 4"))
    assert train_main(["-opt", "o.yml", "--set", "name=whole"]) == 0
    assert train_main(["-opt", "o.yml", "--set", "name=parts", "--set", "train.total_iter=2"]) == 0
    assert train_main(["-opt", "o.yml", "--set", "name=parts", "--auto_resume"]) == 0
    whole, parts = (torch.load(tmp_path / "experiments" / n / "models" / "net_g_4.pth", weights_only=True)
                    for n in ("whole", "parts"))
    assert all(torch.equal(whole["params"][k], parts["params"][k]) for k in whole["params"])


@pytest.mark.parametrize("network, says", [
    ("network_g: {type: SwinIr, upscale: 4}", "network_g.type: unknown network type 'SwinIr'"),
    ("network_g: {type: SPAN, upscale: 4, feature_channel: 8}", "network_g.feature_channel"),
    ("path: {pretrain_network_g: dncnn.pth}", "same-size restoration (x1) model (DnCNN"),
])
def test_train_refuses_bad_networks_in_one_line_with_status_2_writing_nothing(network, says, tmp_path, monkeypatch,
                                                                               capsys):
    from spandrel.architectures.DnCNN.__arch.network_dncnn import DnCNN

    monkeypatch.chdir(tmp_path)
    write_training_data(tmp_path)
    torch.save(DnCNN().state_dict(), tmp_path / "dncnn.pth")
    (tmp_path / "o.yml").write_text(option_text("bad", network))
    assert train_main(["-opt", "o.yml"]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and err.count("\n") == 0
    assert not (tmp_path / "experiments").exists()
