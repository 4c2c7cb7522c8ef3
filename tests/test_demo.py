"""End to end: the `make demo` pipeline (dataset, PSNR training, GAN fine-tuning, comparison, inference)."""
import re
from pathlib import Path

import pytest

from srgan_kit.cli.demo import main
from srgan_kit.data.imageio import load_image

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_demo_psnr_model_beats_bicubic_and_gan_model_is_perceptually_better(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # experiments/ and the dataset go under tmp_path
    # The demo's schedules stopped early, on half batches: already clearly above bicubic, and perceptually better.
    iters, gan_iters = 500, 20
    rc = main([
        "-opt", str(REPO / "options" / "demo.yml"), "--opt-gan", str(REPO / "options" / "demo_gan.yml"),
        "--root", "datasets/demo", "--results", "results/demo",
        "--set", f"train.total_iter={iters}", "--set", "datasets.train.batch_size_per_gpu=8",
        "--set", f"val.val_freq={iters}", "--set", f"logger.save_checkpoint_freq={iters}",
        "--set-gan", f"train.total_iter={gan_iters}", "--set-gan", "datasets.train.batch_size_per_gpu=4",
        "--set-gan", f"val.val_freq={gan_iters}", "--set-gan", f"logger.save_checkpoint_freq={gan_iters}",
    ])
    out, err = capsys.readouterr()
    assert rc == 0, out + err
    # rows of the table: dataset, method, images, psnr, ssim, stlpips
    table = re.findall(r"^demo_val\s+(bicubic|psnr|gan)\s+3\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", out, flags=re.M)
    rows = {name: tuple(map(float, values)) for name, *values in table}
    assert set(rows) == {"bicubic", "psnr", "gan"}, out
    assert rows["psnr"][0] > rows["bicubic"][0] + 0.1  # PSNR (dB)
    assert rows["psnr"][1] > rows["bicubic"][1]  # SSIM
    assert rows["psnr"][2] < rows["bicubic"][2]  # ST-LPIPS
    assert rows["gan"][2] < rows["psnr"][2]  # the GAN fine-tuning is perceptually better
    lr_names = sorted(p.stem for p in (tmp_path / "datasets/demo/val/LR").iterdir())
    written = sorted(p.stem for p in (tmp_path / "results/demo").iterdir())
    assert written == sorted(["comparison"] + [f"{n}_{m}" for n in lr_names for m in ("psnr", "gan")])
    # a row per held-out photo: LR, bicubic, psnr, gan, GT on 160-pixel crops (2-pixel margins)
    assert load_image(tmp_path / "results/demo/comparison.png").rgb.shape == (3 * 164, 5 * 164, 3)
    assert "comparison of the held-out photos" in out
    # a healthy run: the training-health monitor reports nothing (srgan_kit.training.health)
    assert "iterations in a row" not in out + err and "colour shift" not in out + err
    assert "below its best" not in out + err
    for run in ("demo_msrresnet_x4_psnr", "demo_msrresnet_x4_gan"):
        assert (tmp_path / "experiments" / run / "models/net_g_latest.pth").is_file()
    assert (tmp_path / f"experiments/demo_msrresnet_x4_gan/models/net_d_{gan_iters}.pth").is_file()
