"""tools/interpolate.py: ESRGAN's network interpolation between two generators."""
import pytest
import torch

from srgan_kit.archs.generators import MSRResNet
from srgan_kit.archs.weights import load_state_dict_file
from srgan_kit.cli.interpolate import main as interpolate_main


def _save(path, seed, **kw):
    torch.manual_seed(seed)
    net = MSRResNet(num_feat=8, num_block=1, upscale=2, **kw)
    torch.save({"params": net.state_dict(), "params_ema": {k: v + 1 for k, v in net.state_dict().items()}}, path)
    return {k: v + 1 for k, v in net.state_dict().items()}  # what a loader takes: params_ema


def test_each_weight_is_the_alpha_blend_of_the_two(tmp_path):
    a, b = _save(tmp_path / "a.pth", 0), _save(tmp_path / "b.pth", 1)
    assert interpolate_main(["--a", str(tmp_path / "a.pth"), "--b", str(tmp_path / "b.pth"),
                             "--alpha", "0,0.25,1", "-o", str(tmp_path / "out")]) == 0
    mid = load_state_dict_file(tmp_path / "out" / "interp_0.25.pth")
    for k in a:
        torch.testing.assert_close(mid[k], 0.75 * a[k] + 0.25 * b[k])
    assert all(torch.equal(load_state_dict_file(tmp_path / "out" / "interp_0.00.pth")[k], a[k]) for k in a)
    assert all(torch.equal(load_state_dict_file(tmp_path / "out" / "interp_1.00.pth")[k], b[k]) for k in b)


def test_two_architectures_are_refused_naming_both_files(tmp_path, capsys):
    _save(tmp_path / "a.pth", 0)
    torch.save({"params": MSRResNet(num_feat=16, num_block=1, upscale=2).state_dict()}, tmp_path / "b.pth")
    assert interpolate_main(["--a", str(tmp_path / "a.pth"), "--b", str(tmp_path / "b.pth"), "--alpha", "0.5",
                             "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "a.pth and --b" in err and "not the same architecture" in err and not (tmp_path / "out").exists()


def test_no_file_is_written_when_one_name_is_taken(tmp_path, capsys):
    _save(tmp_path / "a.pth", 0), _save(tmp_path / "b.pth", 1)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "interp_0.80.pth").write_text("mine")
    assert interpolate_main(["--a", str(tmp_path / "a.pth"), "--b", str(tmp_path / "b.pth"), "--alpha", "0.2,0.8",
                             "-o", str(tmp_path / "out")]) == 2
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["interp_0.80.pth"]


@pytest.mark.parametrize("alpha", ["1.5", "x", ""])
def test_alphas_outside_zero_one_are_refused_before_any_work(alpha, capsys):
    with pytest.raises(SystemExit) as info:
        interpolate_main(["--a", "a.pth", "--b", "b.pth", "--alpha", alpha, "-o", "out"])
    assert info.value.code == 2 and "--alpha" in capsys.readouterr().err
