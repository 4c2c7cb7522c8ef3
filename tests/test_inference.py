"""Tiled inference (no seams, bounded memory), alpha / 16-bit handling and the infer CLI's error cases."""
import cv2
import numpy as np
import pytest
import torch
from torch import nn

from srgan_kit.archs.generators import MSRResNet, RRDBNet
from srgan_kit.cli.infer import main
from srgan_kit.data.imageio import load_image, save_image
from srgan_kit.errors import UserError
from srgan_kit.inference import Upscaler

SEAM_TOL = 1 / 255


class TinySR(nn.Module):
    """conv -> conv -> pixel shuffle: receptive field radius 2 input pixels."""

    def __init__(self, scale=2):
        super().__init__()
        self.scale = scale
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3 * scale * scale, 3, padding=1))
        self.up = nn.PixelShuffle(scale)

    def forward(self, x):
        return torch.sigmoid(self.up(self.body(x)))


class ShapeRecorder(nn.Module):
    """Wraps a net and records every input shape it is given (to prove tiles, not the image, reach it)."""

    def __init__(self, net):
        super().__init__()
        self.net, self.scale, self.shapes = net, net.scale, []

    def forward(self, x):
        self.shapes.append(tuple(x.shape[-2:]))
        return self.net(x)


def _seeded(net, seed=0):
    torch.manual_seed(seed)
    for p in net.parameters():  # random weights scaled so outputs vary across [0, 1] instead of clamping
        nn.init.normal_(p, std=0.1)
    return net


def _image(h, w, seed=0):
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 1.5)
    return np.clip(img, 0, 1)


@pytest.mark.parametrize("tile", [7, 16, 100])  # does not divide the image / divides it / larger than it
def test_tiny_net_tiled_equals_untiled(tile):
    net = _seeded(TinySR(scale=2))
    img = _image(29, 32)
    whole = Upscaler(net, 2).upscale(img)
    tiled = Upscaler(net, 2, tile=tile, tile_pad=4).upscale(img)
    assert whole.shape == tiled.shape == (58, 64, 3)
    assert np.abs(whole - tiled).max() < 1e-5


def test_tiles_keep_memory_bounded():
    rec = ShapeRecorder(_seeded(TinySR(scale=2)))
    Upscaler(rec, 2, tile=8, tile_pad=4).upscale(_image(30, 25))
    assert len(rec.shapes) == 4 * 4
    assert max(max(s) for s in rec.shapes) <= 8 + 2 * 4  # the whole 30x25 image never reaches the net


@pytest.mark.parametrize(
    "net",
    [
        MSRResNet(num_feat=8, num_block=1, upscale=4),
        MSRResNet(num_feat=8, num_block=1, upscale=3),
        RRDBNet(num_feat=8, num_block=1, num_grow_ch=4, scale=4),
        RRDBNet(num_feat=8, num_block=1, num_grow_ch=4, scale=2),  # pixel-unshuffle: tile edges must stay even
    ],
    ids=["msrresnet_x4", "msrresnet_x3", "rrdbnet_x4", "rrdbnet_x2"],
)
def test_real_generators_tiled_equals_untiled(net):
    net = _seeded(net, seed=1)
    img = _image(45, 50, seed=1)
    whole = Upscaler(net, net.scale).upscale(img)
    assert whole.shape == (45 * net.scale, 50 * net.scale, 3)
    assert whole.std() > 0.01  # not a degenerate all-0/all-1 output
    # 17 divides neither side; pad 10 (Real-ESRGAN's default) covers these shallow nets' receptive field.
    tiled = Upscaler(net, net.scale, tile=17, tile_pad=10).upscale(img)
    assert np.abs(whole - tiled).max() < SEAM_TOL
    # Without context the tiles do show seams: the check above is not vacuous.
    assert np.abs(whole - Upscaler(net, net.scale, tile=17, tile_pad=0).upscale(img)).max() > SEAM_TOL
    # A tile larger than the image is the untiled case.
    assert np.abs(whole - Upscaler(net, net.scale, tile=64).upscale(img)).max() < 1e-6


def test_tiles_of_one_shape_run_in_batches_with_the_same_output():
    rec = ShapeRecorder(_seeded(TinySR(scale=2)))
    img = _image(64, 64)
    one_by_one = Upscaler(rec, 2, tile=8, tile_pad=4).upscale(img)
    calls, rec.shapes = len(rec.shapes), []
    batched = Upscaler(rec, 2, tile=8, tile_pad=4, tile_batch=4).upscale(img)
    assert calls == 64 and len(rec.shapes) < 32  # 36 interior tiles share one shape: 9 calls for them
    assert np.abs(one_by_one - batched).max() < 1e-6


def test_bf16_with_channels_last_stays_within_40_db_of_fp32():
    net = _seeded(RRDBNet(num_feat=8, num_block=1, num_grow_ch=4, scale=4), seed=1)
    img = _image(24, 20, seed=1)
    fp32 = Upscaler(net, 4).upscale(img)
    fast = Upscaler(net, 4, precision="bf16", channels_last=True).upscale(img)
    assert fast.dtype == np.float32 and 10 * np.log10(1 / np.mean((fast - fp32) ** 2)) > 40


def test_half_on_cpu_is_a_clear_error():
    with pytest.raises(UserError, match="needs a CUDA device"):
        Upscaler(TinySR(), 2, device="cpu", half=True)


def test_enhance_alpha_and_outscale():
    net = _seeded(TinySR(scale=2))
    up = Upscaler(net, 2)
    rgb = _image(10, 12)
    alpha = np.zeros((10, 12), np.float32)
    alpha[:, 6:] = 1
    out, out_alpha = up.enhance(rgb, alpha, outscale=3)
    assert out.shape == (30, 36, 3) and out_alpha.shape == (30, 36)
    assert 0 <= out.min() and out.max() <= 1
    # constant alpha stays exactly constant (no model noise on fully opaque images)
    _, opaque = up.enhance(rgb, np.ones((10, 12), np.float32))
    assert opaque.shape == (20, 24) and (opaque == 1).all()


# ---------------------------------------------------------------- CLI ----------------------------------------------
@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A tiny MSRResNet x2 checkpoint in BasicSR format."""
    torch.manual_seed(0)
    net = MSRResNet(num_feat=8, num_block=1, upscale=2)
    path = tmp_path_factory.mktemp("w") / "tiny_x2.pth"
    torch.save({"params_ema": net.state_dict()}, path)
    return path


@pytest.fixture()
def lr_folder(tmp_path):
    folder = tmp_path / "lr"
    save_image(folder / "a.png", _image(12, 10, seed=1))
    save_image(folder / "b.jpg", _image(9, 11, seed=2))
    (folder / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    return folder


def test_cli_folder_with_corrupt_file(weights, lr_folder, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["-i", str(lr_folder), "-o", str(out), "--model", str(weights), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code != 0
    assert sorted(p.name for p in out.iterdir()) == ["a_out.png", "b_out.jpg"]
    bad_lines = [line for line in err.splitlines() if "bad.png" in line]
    assert len(bad_lines) == 1 and bad_lines[0].startswith("error:")
    assert "Traceback" not in err
    assert load_image(out / "a_out.png").rgb.shape == (24, 20, 3)
    assert load_image(out / "b_out.jpg").rgb.shape == (18, 22, 3)


def test_cli_output_matches_upscaler_and_tiles(weights, tmp_path):
    from srgan_kit.archs.loading import load_network

    src = tmp_path / "x.png"
    img = _image(16, 14, seed=3)
    save_image(src, img)
    assert main(["-i", str(src), "-o", str(tmp_path / "o"), "--model", str(weights), "--tile", "6", "--suffix", "sr"]) == 0
    got = load_image(tmp_path / "o" / "x_sr.png").rgb
    net = load_network(MSRResNet(num_feat=8, num_block=1, upscale=2), weights)
    want = Upscaler(net, 2).upscale(load_image(src).rgb)
    assert np.abs(got - want).max() <= 1 / 255 + 1e-6  # 8-bit rounding of the same result


def test_cli_keeps_alpha_and_16_bit(weights, tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    rgba = np.zeros((10, 8, 4), np.uint8)
    rgba[..., :3] = 120
    rgba[:, 4:, 3] = 255  # half transparent, half opaque
    cv2.imwrite(str(inp / "rgba.png"), rgba)
    cv2.imwrite(str(inp / "deep.png"), (_image(10, 8)[..., ::-1] * 65535).astype(np.uint16))
    out = tmp_path / "out"
    assert main(["-i", str(inp), "-o", str(out), "--model", str(weights), "-s", "3"]) == 0
    a = cv2.imread(str(out / "rgba_out.png"), cv2.IMREAD_UNCHANGED)
    assert a.shape == (30, 24, 4) and a.dtype == np.uint8
    assert a[:, :9, 3].max() < 40 and a[:, 15:, 3].min() > 215  # transparency where it was
    d = cv2.imread(str(out / "deep_out.png"), cv2.IMREAD_UNCHANGED)
    assert d.shape == (30, 24, 3) and d.dtype == np.uint16


def test_cli_jpg_with_alpha_or_16_bit_becomes_png(weights, tmp_path, capsys):
    save_image(tmp_path / "in" / "pic.png", _image(8, 8), alpha=np.full((8, 8), 0.5, np.float32))
    save_image(tmp_path / "in" / "deep.png", _image(8, 8), bit_depth=16)
    assert main(["-i", str(tmp_path / "in"), "-o", str(tmp_path / "o"), "--model", str(weights), "--ext", "jpg"]) == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["deep_out.png", "pic_out.png"]
    assert cv2.imread(str(tmp_path / "o" / "deep_out.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    assert "deep.png: 16-bit input: written as .png (.jpg holds 8 bits)" in capsys.readouterr().err


def test_cli_never_overwrites_inputs(weights, lr_folder, capsys):
    before = {p.name: p.read_bytes() for p in lr_folder.iterdir()}
    base = ["-i", str(lr_folder), "-o", str(lr_folder), "--model", str(weights), "--suffix", ""]
    # same folder, no suffix: refused before any work
    assert main(base) == 2
    assert "would overwrite" in capsys.readouterr().err
    # --ext png: b.jpg -> b.png is new, but a.png -> a.png would clobber its input: that file is refused
    code = main(base + ["--ext", "png"])
    err = capsys.readouterr().err
    assert code == 1
    assert "refusing to overwrite input" in err and "a.png" in err
    after = {p.name: p.read_bytes() for p in lr_folder.iterdir()}
    assert set(after) == set(before) | {"b.png"}
    assert all(after[name] == data for name, data in before.items())


def test_cli_refuses_two_inputs_writing_one_output(weights, tmp_path, capsys):
    inp = tmp_path / "in"
    save_image(inp / "pic.png", _image(8, 8, seed=1))
    save_image(inp / "pic.jpg", _image(8, 8, seed=2))
    assert main(["-i", str(inp), "-o", str(tmp_path / "o"), "--model", str(weights), "--ext", "png"]) == 1
    assert "already written from" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["pic_out.png"]


def test_cli_missing_model_and_input(weights, lr_folder, tmp_path, capsys):
    missing = tmp_path / "nope.pth"
    assert main(["-i", str(lr_folder), "-o", str(tmp_path / "o"), "--model", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and str(missing) in err and len(err.splitlines()) == 1
    assert main(["-i", str(tmp_path / "nothing"), "-o", str(tmp_path / "o"), "--model", str(weights)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "nothing" in err and len(err.splitlines()) == 1
    assert main(["-i", str(lr_folder), "-o", str(tmp_path / "o"), "--model", str(weights), "--half", "--device", "cpu"]) == 2
    assert "CUDA" in capsys.readouterr().err


def test_cli_opt_names_the_network(weights, tmp_path, capsys):
    opt = tmp_path / "infer.yml"
    text = (
        "name: tiny\nmodel_type: SRModel\nscale: 2\nnum_gpu: 0\n"
        "network_g:\n  type: MSRResNet\n  num_in_ch: 3\n  num_out_ch: 3\n  num_feat: 8\n  num_block: 1\n  upscale: 2\n"
        "path:\n  pretrain_network_g: WEIGHTS\n  param_key_g: params_ema\n  strict_load_g: true\n"
    )
    opt.write_text(text.replace("WEIGHTS", "~"))
    src = tmp_path / "x.png"
    save_image(src, _image(8, 9))
    assert main(["-i", str(src), "-o", str(tmp_path / "o"), "--model", str(weights), "-opt", str(opt)]) == 0
    assert load_image(tmp_path / "o" / "x_out.png").rgb.shape == (16, 18, 3)
    # weights named by the option file itself (path.pretrain_network_g) when --model is left out
    opt.write_text(text.replace("WEIGHTS", str(weights)))
    assert main(["-i", str(src), "-o", str(tmp_path / "o2"), "-opt", str(opt)]) == 0
    assert (tmp_path / "o2" / "x_out.png").is_file()
    # the option file's network must fit the weights: a mismatch is one message, exit 2
    opt.write_text(text.replace("WEIGHTS", "~").replace("num_feat: 8", "num_feat: 16"))
    assert main(["-i", str(src), "-o", str(tmp_path / "o3"), "--model", str(weights), "-opt", str(opt)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "tiny_x2.pth" in err and "Traceback" not in err
