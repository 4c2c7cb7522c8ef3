"""Comparison sheets (srgan_kit.eval.compare) and tools/evaluate.py --compare-dir."""
import numpy as np
import torch

from srgan_kit.archs.generators import MSRResNet
from srgan_kit.cli.evaluate import main as evaluate_main
from srgan_kit.data.imageio import load_image, save_image
from srgan_kit.eval.compare import comparison_row

LABELS = 50  # the rows the labels may cover at the top of each panel


def test_every_panel_shows_the_same_crop(tmp_path):
    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 1, (80, 96, 3)).astype(np.float32)
    lr, sr = gt[::4, ::4], 1 - gt
    row = comparison_row(gt, [("model", sr, {"psnr": 20.0})], lr, scale=4, crop=64)
    panels = [row[2:-2, i * 68 + 2:i * 68 + 66] for i in range(3)]  # 64-pixel panels, 2-pixel margins
    top, left = 8, 16  # the centred 64x64 square, on the LR grid
    expected = [np.kron(lr[2:18, 4:20], np.ones((4, 4, 1))), sr[top:top + 64, left:left + 64],
                gt[top:top + 64, left:left + 64]]
    for panel, want in zip(panels, expected):  # below the labels
        assert np.abs(panel[LABELS:].astype(float) - np.round(want[LABELS:] * 255)).max() <= 0.5


def test_evaluate_writes_a_sheet_per_image_into_a_new_folder(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for stem in ("a", "b"):
        hr = rng.uniform(0, 1, (64, 64, 3)).astype(np.float32)
        save_image(tmp_path / "hr" / f"{stem}.png", hr)
        save_image(tmp_path / "lr" / f"{stem}x4.png", hr[::4, ::4])
    torch.save({"params": MSRResNet(num_feat=8, num_block=1, upscale=4).state_dict()}, tmp_path / "w.pth")
    assert evaluate_main(["--model", str(tmp_path / "w.pth"), "--bicubic", "--gt", str(tmp_path / "hr"),
                          "--lr", str(tmp_path / "lr"), "--name", "set", "--scale", "4", "--metrics", "psnr",
                          "--compare-dir", str(tmp_path / "sheets")]) == 0
    sheets = sorted(p.relative_to(tmp_path / "sheets").as_posix() for p in (tmp_path / "sheets").rglob("*.png"))
    assert sheets == ["set/a.png", "set/b.png"]
    assert load_image(tmp_path / "sheets/set/a.png").rgb.shape == (68, 4 * 68, 3)  # LR, model, bicubic, GT


def test_evaluate_leaves_a_folder_with_files_alone(tmp_path, capsys):
    (tmp_path / "sheets").mkdir()
    (tmp_path / "sheets" / "mine.txt").write_text("keep")
    assert evaluate_main(["--bicubic", "--gt", str(tmp_path), "--scale", "4", "--compare-dir",
                          str(tmp_path / "sheets")]) == 2
    assert "not an empty folder" in capsys.readouterr().err


def _sr_folders(tmp_path, rng):
    for stem in ("a", "b"):
        hr = rng.uniform(0, 1, (64, 64, 3)).astype(np.float32)
        save_image(tmp_path / "hr" / f"{stem}.png", hr)
        save_image(tmp_path / "lr" / f"{stem}x4.png", hr[::4, ::4])
        save_image(tmp_path / "toolA" / f"{stem}.png", np.clip(hr + 0.05, 0, 1))
        save_image(tmp_path / "toolB" / f"{stem}_out.png", hr[::-1].copy())


def test_sheets_of_sr_folders_made_elsewhere_show_each_folder_s_image_and_scores(tmp_path, capsys):
    rng = np.random.default_rng(1)
    _sr_folders(tmp_path, rng)
    assert evaluate_main(["--sr", str(tmp_path / "toolA"), "--sr", str(tmp_path / "toolB"), "--sr-tmpl", "{}",
                          "--gt", str(tmp_path / "hr"), "--name", "set", "--scale", "4", "--metrics", "psnr",
                          "--compare-dir", str(tmp_path / "sheets")]) == 2  # toolB's files are named <stem>_out
    assert "toolB" in capsys.readouterr().err
    (tmp_path / "toolB" / "a_out.png").rename(tmp_path / "toolB" / "a.png")
    (tmp_path / "toolB" / "b_out.png").rename(tmp_path / "toolB" / "b.png")
    assert evaluate_main(["--sr", str(tmp_path / "toolA"), "--sr", str(tmp_path / "toolB"), "--gt",
                          str(tmp_path / "hr"), "--name", "set", "--scale", "4", "--metrics", "psnr",
                          "--compare-dir", str(tmp_path / "sheets")]) == 0
    sheet = load_image(tmp_path / "sheets/set/a.png").rgb
    assert sheet.shape == (68, 3 * 68, 3)  # no LR given: toolA, toolB, GT
    want = load_image(tmp_path / "toolB" / "a.png").rgb
    panel = sheet[2 + LABELS:66, 68 + 2:68 + 66]
    assert np.abs(panel - want[LABELS:64]).max() <= 0.5 / 255  # the second panel is toolB's image


def test_sheets_of_sr_folders_and_a_model_on_the_same_lr_show_every_method(tmp_path, capsys):
    rng = np.random.default_rng(2)
    _sr_folders(tmp_path, rng)
    torch.save({"params": MSRResNet(num_feat=8, num_block=1, upscale=4).state_dict()}, tmp_path / "w.pth")
    assert evaluate_main(["--sr", str(tmp_path / "toolA"), "--model", str(tmp_path / "w.pth"), "--gt",
                          str(tmp_path / "hr"), "--lr", str(tmp_path / "lr"), "--name", "set", "--metrics", "psnr",
                          "--compare-dir", str(tmp_path / "sheets")]) == 0
    assert load_image(tmp_path / "sheets/set/b.png").rgb.shape == (68, 4 * 68, 3)  # LR, toolA, model, GT
