"""safetensors network files: written with logger.save_format, read by every loader, detected by content."""
import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from test_training import _write_data, options

from srgan_kit.archs.generators import MSRResNet
from srgan_kit.archs.loading import build_from_weights
from srgan_kit.archs.weights import load_state_dict_file, to_safetensors
from srgan_kit.cli.evaluate import main as evaluate_main
from srgan_kit.cli.infer import main as infer_main
from srgan_kit.data.imageio import load_image, save_image
from srgan_kit.errors import WeightsError
from srgan_kit.training.trainer import train


def _net(seed):
    torch.manual_seed(seed)
    return MSRResNet(num_feat=8, num_block=1, upscale=2).eval()


def _same(a, b):
    return set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)  # safetensors sorts the names


def test_a_safetensors_file_is_one_bare_state_dict(tmp_path):
    sd = _net(0).state_dict()
    (tmp_path / "ours.safetensors").write_bytes(to_safetensors(sd))
    save_file({k: v.contiguous() for k, v in sd.items()}, tmp_path / "theirs.safetensors")
    assert _same(load_file(tmp_path / "ours.safetensors"), sd)  # the names as they are, for other tools
    assert _same(load_state_dict_file(tmp_path / "theirs.safetensors"), sd)


@pytest.mark.parametrize("name", ["named.pth", "named.safetensors", "no_suffix"])
def test_the_format_is_told_by_content_not_by_name(tmp_path, name):
    sd = _net(0).state_dict()
    torch.save({"params": sd}, tmp_path / "a.pth")
    (tmp_path / "b.safetensors").write_bytes(to_safetensors(sd))
    for source in ("a.pth", "b.safetensors"):
        (tmp_path / name).write_bytes((tmp_path / source).read_bytes())
        assert _same(load_state_dict_file(tmp_path / name), sd)


def test_a_truncated_safetensors_file_is_one_error_naming_it(tmp_path):
    data = to_safetensors(_net(0).state_dict())
    path = tmp_path / "cut.safetensors"
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(WeightsError, match=r"cut.safetensors: cannot read weights file \(safetensors"):
        load_state_dict_file(path)


def test_a_run_saved_as_safetensors_resumes_like_one_saved_as_pth(tmp_path):
    _write_data(tmp_path)
    _, straight = options(tmp_path, "pth", ["train.total_iter=20"])
    train(straight, progress=False)
    _, first = options(tmp_path, "st", ["train.total_iter=10", "logger.save_format=safetensors"])
    train(first, progress=False)
    _, rest = options(tmp_path, "st", ["logger.save_format=safetensors"])
    result = train(rest, auto_resume=True, progress=False)
    models = tmp_path / "experiments" / "st" / "models"
    assert result.start_iteration == 10 and result.checkpoint == str(models / "net_g_20.safetensors")
    stems = (10, 20, "best", "latest")  # best: the best validation (val.best_metric)
    assert sorted(p.name for p in models.iterdir()) == sorted(
        [f"net_g_{s}.safetensors" for s in stems] + [f"net_g_ema_{s}.safetensors" for s in stems])
    pth = torch.load(tmp_path / "experiments" / "pth" / "models" / "net_g_20.pth", weights_only=True)
    for key, stem in (("params", "net_g_20"), ("params_ema", "net_g_ema_20")):
        assert _same(load_state_dict_file(models / f"{stem}.safetensors"), pth[key])


def test_infer_evaluate_and_pretrain_read_safetensors(tmp_path, monkeypatch):
    net = _net(0)
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(to_safetensors(net.state_dict()))
    assert type(build_from_weights(weights)[0]).__name__ == "MSRResNet"
    rng = np.random.default_rng(0)
    save_image(tmp_path / "lr" / "a.png", rng.uniform(0, 1, (8, 8, 3)).astype(np.float32))
    save_image(tmp_path / "hr" / "a.png", rng.uniform(0, 1, (16, 16, 3)).astype(np.float32))
    assert infer_main(["-i", str(tmp_path / "lr"), "-o", str(tmp_path / "out"), "--model", str(weights),
                       "--precision", "fp32"]) == 0
    with torch.no_grad():
        expected = net(torch.from_numpy(load_image(tmp_path / "lr" / "a.png").rgb).permute(2, 0, 1)[None])
    got = load_image(next((tmp_path / "out").iterdir())).rgb
    assert np.abs(got - expected[0].permute(1, 2, 0).clamp(0, 1).numpy()).max() <= 0.5 / 255 + 1e-6
    assert evaluate_main(["--model", str(weights), "--gt", str(tmp_path / "hr"), "--lr", str(tmp_path / "lr"),
                          "--scale", "2", "--metrics", "psnr", "--lr-tmpl", "{}"]) == 0
    _write_data(tmp_path)
    _, opt = options(tmp_path, "pre", ["train.total_iter=1", f"path.pretrain_network_g={weights}",
                                       "train.optim_g.lr=1e-12"])
    train(opt, progress=False)
    saved = torch.load(tmp_path / "experiments" / "pre" / "models" / "net_g_1.pth", weights_only=True)["params"]
    for name, value in net.state_dict().items():  # one step of lr 1e-12 from the pretrained weights
        torch.testing.assert_close(saved[name], value, rtol=0, atol=1e-9)
