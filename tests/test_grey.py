"""Grey networks (num_in_ch: 1 / num_out_ch: 1): trained, validated, run and exported on one-channel images."""
import cv2
import numpy as np
import onnxruntime
import pytest
import torch

from srgan_kit.archs.generators import MSRResNet
from srgan_kit.cli.export import main as export_main
from srgan_kit.cli.infer import main as infer_main
from srgan_kit.cli.train import main as train_main
from srgan_kit.config.options import load_options
from srgan_kit.data.channels import GreyItems, rgb_view, to_grey
from srgan_kit.data.datasets import GTOnlyDataset
from srgan_kit.data.imageio import save_image
from srgan_kit.errors import OptionError
from srgan_kit.losses.colour import HSLuvLoss, LumaLoss
from srgan_kit.losses.edge import SobelEdgeLoss


def grey_photos(folder, count, size, seed=0):
    rng = np.random.default_rng(seed)
    for i in range(count):
        save_image(folder / f"{i}.png", np.kron(rng.uniform(0.1, 0.9, (size // 4, size // 4)), np.ones((4, 4))))


GREY_GAN = """\
name: grey
model_type: gan
scale: 4
num_gpu: 0
manual_seed: 1
datasets:
  train: {name: t, type: GTOnlyDataset, dataroot_gt: gt, gt_size: 32, batch_size_per_gpu: 2, use_hflip: true}
  val: {name: v, type: GTOnlyDataset, dataroot_gt: val}
network_g: {type: MSRResNet, num_in_ch: 1, num_out_ch: 1, num_feat: 8, num_block: 1, upscale: 4}
network_d: {type: UNetDiscriminatorSN, num_in_ch: 1, num_feat: 8}
train:
  optim_g: {type: Adam, lr: 1.0e-4}
  optim_d: {type: Adam, lr: 1.0e-4}
  total_iter: 2
  pixel_opt: {type: L1Loss, loss_weight: 1.0}
  losses: [{type: SobelEdgeLoss, loss_weight: 0.1}]
  gan_opt: {type: GANLoss, gan_type: vanilla, loss_weight: 0.1}
val: {val_freq: 2, save_img: true, metrics: {psnr: {type: calculate_psnr}}}
logger: {print_freq: 1, save_checkpoint_freq: 2, use_tb_logger: false}
"""


def test_a_grey_gan_trains_validates_and_saves_one_channel_networks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    grey_photos(tmp_path / "gt", 2, 48)
    grey_photos(tmp_path / "val", 1, 32, seed=1)
    (tmp_path / "o.yml").write_text(GREY_GAN)
    assert train_main(["-opt", "o.yml"]) == 0
    params = torch.load(tmp_path / "experiments/grey/models/net_g_2.pth", weights_only=True)["params"]
    assert params["conv_first.weight"].shape[1] == 1 and params["conv_last.weight"].shape[0] == 1
    log = next((tmp_path / "experiments/grey").glob("train_*.log")).read_text()
    assert "l_g_sobel" in log and "psnr" in log
    picture = next((tmp_path / "experiments/grey/visualization").rglob("*.png"))
    assert cv2.imread(str(picture)).shape == (32, 32, 3)


def test_a_colour_image_becomes_its_bt601_luma_with_one_warning(tmp_path):
    save_image(tmp_path / "c" / "a.png", np.full((8, 8, 3), [1.0, 0.0, 0.0]))
    save_image(tmp_path / "c" / "b.png", np.full((8, 8, 3), [0.0, 0.0, 1.0]))
    grey = GreyItems(GTOnlyDataset(str(tmp_path / "c"), 2, phase="val"), 1, 1, "datasets.val")
    with pytest.warns(UserWarning, match=r"datasets\.val: colour images are made grey") as caught:
        items = [grey[0], grey[1]]
    assert len(caught) == 1
    assert items[0]["gt"].shape == (1, 8, 8) and torch.allclose(items[0]["gt"], torch.full((1, 8, 8), 76 / 255),
                                                                 atol=0.3 / 255)  # 0.299 * 255 = 76.2
    assert torch.allclose(items[1]["lq"], torch.full((1, 4, 4), 29 / 255), atol=0.3 / 255)  # 0.114 * 255 = 29.1


def test_a_grey_image_read_as_rgb_becomes_one_channel_exactly():
    img = np.random.default_rng(0).uniform(size=(5, 6, 1)).astype(np.float32)
    grey, colour = to_grey(np.repeat(img, 3, axis=2))
    assert not colour and np.array_equal(grey, img)


@pytest.mark.parametrize("term", [SobelEdgeLoss, LumaLoss, HSLuvLoss])
def test_rgb_terms_score_a_grey_batch_as_its_rgb_repetition(term):
    x, y = torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)
    assert torch.equal(term()(x, y), term()(rgb_view(x).contiguous(), rgb_view(y).contiguous()))


@pytest.fixture
def grey_weights(tmp_path):
    torch.manual_seed(0)
    net = MSRResNet(num_in_ch=1, num_out_ch=1, num_feat=8, num_block=1, upscale=2)
    torch.save({"params": net.state_dict()}, tmp_path / "grey_x2.pth")
    return tmp_path / "grey_x2.pth", net.eval()


def test_infer_writes_grey_images_and_says_once_that_colour_ones_were_made_grey(grey_weights, tmp_path, capsys):
    weights, net = grey_weights
    grey = np.random.default_rng(1).uniform(size=(12, 10)).astype(np.float32)
    save_image(tmp_path / "in" / "g.png", grey, bit_depth=16)
    save_image(tmp_path / "in" / "c1.png", np.random.default_rng(2).uniform(size=(12, 10, 3)))
    save_image(tmp_path / "in" / "c2.png", np.random.default_rng(3).uniform(size=(12, 10, 3)))
    assert infer_main(["-i", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", str(weights),
                       "--tile", "6"]) == 0
    out = cv2.imread(str(tmp_path / "out" / "g_out.png"), cv2.IMREAD_UNCHANGED)
    assert out.shape == (24, 20) and out.dtype == np.uint16  # grey, 16-bit as its input
    x = torch.from_numpy(np.round(grey * 65535) / 65535).float()[None, None]
    with torch.no_grad():
        expected = net(x)[0, 0].clamp(0, 1).numpy()
    assert np.abs(out / 65535 - expected).max() < 2e-5  # tiles leave no seams
    err = capsys.readouterr().err
    assert err.count("colour image(s) were given as their luma") == 1 and "2 colour image(s)" in err


def test_export_traces_a_grey_network_with_one_input_channel(grey_weights, tmp_path):
    weights, net = grey_weights
    assert export_main(["--model", str(weights), "-o", str(tmp_path / "g.onnx"), "--size", "8"]) == 0
    lr = torch.rand(1, 1, 8, 8)
    got = onnxruntime.InferenceSession(str(tmp_path / "g.onnx")).run(None, {"lr": lr.numpy()})[0]
    with torch.no_grad():
        assert got.shape == (1, 1, 16, 16) and np.abs(got - net(lr).numpy()).max() < 1e-4


@pytest.mark.parametrize("edit, says", [
    (("num_in_ch: 1, num_out_ch: 1", "num_in_ch: 2, num_out_ch: 1"), "network_g.num_in_ch: 2: images are RGB (3) or "
                                                                     "grey (1)"),
    (("{type: UNetDiscriminatorSN, num_in_ch: 1", "{type: UNetDiscriminatorSN, num_in_ch: 3"),
     "network_d.num_in_ch: 3, but network_g gives images of 1 channel(s)"),
    (("model_type: gan", "model_type: realesrgan"), "network_g.num_in_ch: model_type 'realesrgan' degrades colour"),
])
def test_channel_counts_that_cannot_train_are_one_line(edit, says, tmp_path):
    (tmp_path / "o.yml").write_text(GREY_GAN.replace(*edit))
    with pytest.raises(OptionError, match=says.replace("(", r"\(").replace(")", r"\)")):
        load_options(tmp_path / "o.yml", check_paths=False)
