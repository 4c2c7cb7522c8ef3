"""Evaluation harness: folder scoring (JSON/CSV against direct metric calls), template matching, model and
bicubic runs, the Set5 bicubic reference figures, and the unavailable-metric path."""
import csv
import json
import math

import cv2
import numpy as np
import pytest
import torch

from srgan_kit.eval import harness as ev
from srgan_kit.eval import reports, sets
from srgan_kit.archs.loading import build_from_weights
from srgan_kit.archs.generators import MSRResNet
from srgan_kit.cli.evaluate import main
from srgan_kit.data.degradation import imresize, imresize_int
from srgan_kit.data.imageio import load_image, save_image
from srgan_kit.errors import DataError
from srgan_kit.inference import Upscaler
from srgan_kit.eval.metrics import calculate_niqe, calculate_psnr, calculate_ssim, stlpips_distance

Y = dict(test_y_channel=True)


def _smooth(h, w, seed):
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 2.0)
    img = (img - img.min()) / (img.max() - img.min())
    return np.round(img * 255).astype(np.uint8)


def _save_u8(path, u8):
    save_image(path, u8.astype(np.float64) / 255.0)


def _u8(path):
    return np.round(load_image(path).rgb.astype(np.float64) * 255)


@pytest.fixture()
def sr_folders(tmp_path):
    """GT images (one not a multiple of the scale) and noisy 'SR' images named <stem>_x2.png (+ a stray file)."""
    gt_dir, sr_dir = tmp_path / "mini", tmp_path / "sr"  # dataset name: the GT folder's
    sizes = {"a": (104, 204), "b": (41, 54), "c": (36, 30)}  # b: 41 rows, SR has 40 (GT is cropped to fit)
    rng = np.random.default_rng(5)
    for i, (stem, (h, w)) in enumerate(sizes.items()):
        gt = _smooth(h, w, i)
        _save_u8(gt_dir / f"{stem}.png", gt)
        sr = gt[: h - h % 2, : w - w % 2].astype(np.int16) + rng.integers(-12, 13, (h - h % 2, w - w % 2, 3))
        _save_u8(sr_dir / f"{stem}_x2.png", np.clip(sr, 0, 255).astype(np.uint8))
    _save_u8(sr_dir / "unrelated.png", _smooth(20, 20, 9))
    return sr_dir, gt_dir


def test_folders_json_and_csv_equal_direct_metric_calls(sr_folders, tmp_path, capsys):
    sr_dir, gt_dir = sr_folders
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    code = main(["--sr", str(sr_dir), "--gt", str(gt_dir), "--scale", "2", "--sr-tmpl", "{}_x2",
                 "--metrics", "psnr,ssim,stlpips", "--json", str(out_json), "--csv", str(out_csv), "--per-image"])
    assert code == 0
    table = capsys.readouterr().out
    assert "psnr" in table and "  b " in table  # per-image rows

    data = json.loads(out_json.read_text())
    entry = data["datasets"]["mini"]
    assert set(entry["images"]) == {"a", "b", "c"}  # the stray SR file is not scored
    assert data["settings"]["psnr"] == {"crop_border": 2, "test_y_channel": True}
    assert data["settings"]["stlpips"] == {}  # LPIPS-type: whole image
    for stem in "abc":
        sr = _u8(sr_dir / f"{stem}_x2.png")
        gt = _u8(gt_dir / f"{stem}.png")[: sr.shape[0], : sr.shape[1]]
        row = entry["images"][stem]
        assert row["psnr"] == pytest.approx(calculate_psnr(sr, gt, 2, **Y), abs=1e-9)
        assert row["ssim"] == pytest.approx(calculate_ssim(sr, gt, 2, **Y), abs=1e-9)
        assert row["stlpips"] == pytest.approx(stlpips_distance(sr / 255, gt / 255), abs=1e-6)
    for key in ("psnr", "ssim", "stlpips"):
        assert entry["mean"][key] == pytest.approx(np.mean([entry["images"][s][key] for s in "abc"]), abs=1e-12)

    with open(out_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["image"] for r in rows] == ["a", "b", "c", "mean"]
    assert {r["dataset"] for r in rows} == {"mini"}
    for r in rows:
        source = entry["mean"] if r["image"] == "mean" else entry["images"][r["image"]]
        for key in ("psnr", "ssim", "stlpips"):
            assert float(r[key]) == pytest.approx(source[key], abs=1e-12)


def test_niqe_gets_the_border_and_needs_no_reference(sr_folders):
    sr_dir, gt_dir = sr_folders
    (sr_dir / "b_x2.png").unlink()
    (sr_dir / "c_x2.png").unlink()
    (gt_dir / "b.png").unlink()
    (gt_dir / "c.png").unlink()  # NIQE needs two 96x96 blocks: only image a is big enough
    result = ev.evaluate_folders(sr_dir, gt_dir, 2, sr_tmpl="{}_x2", metrics=["niqe"], name="big")
    expected = calculate_niqe(_u8(sr_dir / "a_x2.png"), crop_border=2)
    assert result["datasets"]["big"]["images"]["a"]["niqe"] == pytest.approx(expected, abs=1e-9)
    assert result["better"]["niqe"] == "lower"


def test_missing_sr_image_is_named(sr_folders, capsys):
    sr_dir, gt_dir = sr_folders
    (sr_dir / "b_x2.png").unlink()
    assert main(["--sr", str(sr_dir), "--gt", str(gt_dir), "--scale", "2", "--sr-tmpl", "{}_x2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "b_x2.*" in err and "b.png" in err and "Traceback" not in err
    # a template that does not match at all names the first images it looked for
    assert main(["--sr", str(sr_dir), "--gt", str(gt_dir), "--scale", "2"]) == 2
    assert "a.*" in capsys.readouterr().err


def test_identical_images_give_inf_as_strict_json(tmp_path):
    gt_dir = tmp_path / "X4" / "HR"  # generic folder names: the name comes from further up
    _save_u8(gt_dir / "x.png", _smooth(32, 32, 0))
    result = ev.evaluate_folders(gt_dir, gt_dir, 4, metrics="psnr,ssim")
    assert result["datasets"][tmp_path.name]["images"]["x"]["psnr"] == math.inf
    reports.write_json(result, tmp_path / "r.json")

    def reject(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    data = json.loads((tmp_path / "r.json").read_text(), parse_constant=reject)
    assert data["datasets"][tmp_path.name]["mean"]["psnr"] == "inf"
    assert data["datasets"][tmp_path.name]["mean"]["ssim"] == pytest.approx(1.0)
    assert "inf" in reports.format_table(result)


@pytest.mark.parametrize("scale, psnr, ssim", [(4, 28.43, 0.8113), (2, 33.68, 0.9304)])
def test_set5_bicubic_reference_figures(shared_dir, tmp_path, scale, psnr, ssim):
    out = tmp_path / "set5.json"
    # 'set5': names match the prepared folders case-insensitively
    code = main(["--bicubic", "--datasets", "set5", "--data-root", str(shared_dir / "data"),
                 "--scale", str(scale), "--json", str(out)])
    assert code == 0
    mean = json.loads(out.read_text())["datasets"]["Set5"]["mean"]
    assert mean["psnr"] == pytest.approx(psnr, abs=0.02)
    assert mean["ssim"] == pytest.approx(ssim, abs=0.001)


def test_missing_prepared_dataset_says_how_to_make_it(tmp_path):
    with pytest.raises(DataError) as info:
        sets.resolve_datasets(["Set14"], 4, root=tmp_path)
    msg = str(info.value)
    assert str(tmp_path / "Set14" / "X4") in msg and "prepare_datasets.py" in msg and "--name Set14" in msg


@pytest.fixture(scope="module")
def tiny_model_data(tmp_path_factory):
    """A tiny saved MSRResNet x2 and a 2-image paired set (LR by MATLAB bicubic, babyx2-style names)."""
    root = tmp_path_factory.mktemp("tiny")
    torch.manual_seed(0)
    net = MSRResNet(num_feat=8, num_block=1, upscale=2)
    weights = root / "tiny_x2.pth"
    torch.save({"params": net.state_dict()}, weights)
    for i, (h, w) in enumerate([(40, 48), (36, 44)]):
        hr = _smooth(h, w, 10 + i)
        _save_u8(root / "HR" / f"im{i}.png", hr)
        _save_u8(root / "LR" / f"im{i}x2.png", imresize_int(hr, 0.5))
    return root, weights


def _direct_scores(weights, root):
    net, _ = build_from_weights(weights)
    upscaler = Upscaler(net, 2)
    out = {}
    for i in range(2):
        sr = np.round(np.clip(upscaler.upscale(load_image(root / "LR" / f"im{i}x2.png").rgb), 0, 1) * 255)
        gt = _u8(root / "HR" / f"im{i}.png")
        out[f"im{i}"] = (sr, calculate_psnr(sr, gt, 2, **Y), calculate_ssim(sr, gt, 2, **Y))
    return out


def test_model_run_equals_upscaler_plus_metrics(tiny_model_data, tmp_path, capsys):
    root, weights = tiny_model_data
    out, saved = tmp_path / "r.json", tmp_path / "sr"
    code = main(["--model", str(weights), "--lr", str(root / "LR"), "--gt", str(root / "HR"), "--name", "tiny",
                 "--bicubic", "--tile", "8", "--device", "cpu", "--save-sr", str(saved), "--json", str(out)])
    assert code == 0
    table = capsys.readouterr().out
    assert "tiny_x2" in table and "bicubic" in table
    data = json.loads(out.read_text())
    assert list(data["methods"]) == ["tiny_x2", "bicubic"]
    model = data["methods"]["tiny_x2"]["datasets"]["tiny"]
    for stem, (sr, psnr, ssim) in _direct_scores(weights, root).items():
        assert model["images"][stem]["psnr"] == pytest.approx(psnr, abs=1e-9)
        assert model["images"][stem]["ssim"] == pytest.approx(ssim, abs=1e-9)
        np.testing.assert_array_equal(_u8(saved / "tiny_x2" / "tiny" / f"{stem}.png"), sr)
    assert (saved / "bicubic" / "tiny" / "im0.png").is_file()
    # the bicubic row is the bicubic_upscaler's
    bic = ev.evaluate_model(ev.bicubic_upscaler(2), [sets.DatasetSpec("tiny", root / "LR", root / "HR")], 2)
    assert data["methods"]["bicubic"]["datasets"]["tiny"]["mean"] == pytest.approx(bic["datasets"]["tiny"]["mean"])


def test_option_file_gives_network_weights_and_val_set(tiny_model_data, tmp_path):
    root, weights = tiny_model_data
    opt = tmp_path / "eval.yml"
    opt.write_text(
        "name: tiny_eval\nmodel_type: sr\nscale: 2\n"
        "datasets:\n  val:\n    name: tinyval\n    type: PairedImageDataset\n"
        f"    dataroot_gt: {root / 'HR'}\n    dataroot_lq: {root / 'LR'}\n    filename_tmpl: '{{}}x2'\n"
        "network_g:\n  type: MSRResNet\n  num_feat: 8\n  num_block: 1\n  upscale: 2\n"
        f"path:\n  pretrain_network_g: {weights}\n"
    )
    out = tmp_path / "r.json"
    assert main(["-opt", str(opt), "--device", "cpu", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["method"] == "tiny_eval"
    images = data["datasets"]["tinyval"]["images"]
    for stem, (_sr, psnr, _ssim) in _direct_scores(weights, root).items():
        assert images[stem]["psnr"] == pytest.approx(psnr, abs=1e-9)
    # the API the loss sweep uses: same numbers from an option dict
    fn, scale = ev.model_upscaler(opt=ev.load_eval_options(str(opt)))
    again = ev.evaluate_model(fn, sets.datasets_from_options(ev.load_eval_options(str(opt))), scale)
    for stem, row in again["datasets"]["tinyval"]["images"].items():
        assert row == pytest.approx(images[stem], abs=1e-12)


def test_lpips_unavailable_is_na_and_other_metrics_remain(sr_folders, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))  # no AlexNet weights there
    sr_dir, gt_dir = sr_folders
    out, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    code = main(["--sr", str(sr_dir), "--gt", str(gt_dir), "--scale", "2", "--sr-tmpl", "{}_x2",
                 "--metrics", "psnr,lpips", "--json", str(out), "--csv", str(out_csv)])
    assert code == 0
    table = capsys.readouterr().out
    assert "n/a" in table and "lpips: n/a (" in table
    data = json.loads(out.read_text())
    assert data["unavailable"]["lpips"]
    assert data["datasets"]["mini"]["mean"]["lpips"] is None
    assert all(row["lpips"] is None for row in data["datasets"]["mini"]["images"].values())
    assert data["datasets"]["mini"]["mean"]["psnr"] > 20
    with open(out_csv, newline="") as f:
        assert all(r["lpips"] == "" and float(r["psnr"]) > 20 for r in csv.DictReader(f))


def test_usage_errors_are_one_line(sr_folders, capsys):
    sr_dir, gt_dir = sr_folders
    assert main(["--sr", str(sr_dir), "--gt", str(gt_dir), "--scale", "2", "--metrics", "psnrr"]) == 2
    assert "did you mean 'psnr'" in capsys.readouterr().err
    assert main(["--gt", str(gt_dir), "--scale", "2"]) == 2
    assert "nothing to evaluate" in capsys.readouterr().err
    assert main(["--bicubic", "--lr", str(sr_dir), "--gt", str(gt_dir)]) == 2
    assert "--scale" in capsys.readouterr().err


def test_gt_only_set_makes_lr_like_gt_only_dataset(tmp_path):
    gt_dir = tmp_path / "gt_only"
    gt8 = _smooth(42, 37, 3)  # not a multiple of the scale: LR from the mod-cropped GT
    _save_u8(gt_dir / "g.png", gt8)
    seen = []

    def record(lr):
        seen.append(lr)
        return ev.bicubic_upscaler(2)(lr)

    result = ev.evaluate_model(record, [sets.DatasetSpec("g", None, gt_dir)], 2)
    lr = np.round(np.clip(imresize(gt8[:42, :36] / 255.0, 0.5), 0, 1) * 255) / 255
    np.testing.assert_allclose(seen[0], lr, atol=1e-6)
    sr = np.round(np.clip(imresize(lr.astype(np.float32), 2), 0, 1) * 255)
    expected = calculate_psnr(sr, gt8[:42, :36].astype(np.float64), 2, **Y)
    assert result["datasets"]["g"]["images"]["g"]["psnr"] == pytest.approx(expected, abs=1e-9)


def test_sr_gt_size_mismatch_names_both_files(sr_folders):
    sr_dir, gt_dir = sr_folders
    _save_u8(sr_dir / "c_x2.png", _smooth(30, 30, 1))  # GT c is 36x30
    with pytest.raises(DataError) as info:
        ev.evaluate_folders(sr_dir, gt_dir, 2, sr_tmpl="{}_x2.png")  # an extension in the template is fine
    assert "c_x2.png" in str(info.value) and "c.png" in str(info.value) and "30x30" in str(info.value)
