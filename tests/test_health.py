"""The training-health monitor (srgan_kit.training.health): what it logs and when it warns."""
import re

import numpy as np
import pytest
import torch
from test_gan_training import base, resolve
from test_gan_training import workdir  # noqa: F401  (the tiny GAN data set, as a fixture)
from test_training import _write_data, options

from srgan_kit.errors import OptionError
from srgan_kit.eval.colour import colour_shift
from srgan_kit.training.health import HealthMonitor, ValidationHealth
from srgan_kit.training.trainer import train

WINNING = {"l_d_real": 0.0, "l_d_fake": 0.0, "out_d_real": 5.0, "out_d_fake": -5.0, "d_acc_real": 1.0,
           "d_acc_fake": 1.0, "out_d_std": 5.0}


def test_a_condition_is_reported_once_per_episode_after_the_patience():
    said = []
    monitor = HealthMonitor(patience=3, warn=lambda it, text, key: said.append((it, text.split(" for ")[0])))
    confused = {**WINNING, "d_acc_real": 0.5, "d_acc_fake": 0.5}
    for it, values in enumerate([WINNING] * 5 + [confused] + [WINNING] * 3, start=1):
        monitor.observe(it, values, {})
    assert said == [(3, "D wins"), (9, "D wins")]  # the second episode starts after the confused iteration


AT_CHANCE = {**WINNING, "out_d_real": 0.51, "out_d_fake": 0.5, "d_acc_real": 0.52, "d_acc_fake": 0.47, "out_d_std": 1.0}


def test_d_at_chance_is_judged_on_the_mean_of_the_patience_iterations_after_d_s_warm_up():
    said = []
    monitor = HealthMonitor(patience=3, d_warmup=4, warn=lambda it, text, key: said.append((it, key, text)))
    separating = {**AT_CHANCE, "d_acc_real": 0.9, "d_acc_fake": 0.9, "out_d_real": 2.0}
    # iterations 1-4 are D's warm-up; the window 5-7 averages a separating iteration in: not at chance yet
    for it, values in enumerate([separating] * 4 + [separating] + [AT_CHANCE] * 5, start=1):
        monitor.observe(it, values, {})
    assert [(it, key) for it, key, _text in said] == [(8, "d_at_chance")]
    assert "D at chance on average over the last 3 iterations (iteration 8)" in said[0][2]


def test_noise_around_chance_averages_out():
    said = []
    monitor = HealthMonitor(patience=4, warn=lambda it, text, key: said.append(key))
    for it in range(1, 9):  # accuracies swing 0.15 either side of 0.5, as a single iteration's do
        swing = 0.15 if it % 2 else -0.15
        monitor.observe(it, {**AT_CHANCE, "d_acc_real": 0.5 + swing, "d_acc_fake": 0.5 - swing}, {})
    assert said == ["d_at_chance"]


def test_iterations_without_the_numbers_keep_the_streak():
    said = []
    monitor = HealthMonitor(patience=2, gan_to_pix=10, warn=lambda it, text, key: said.append(it))
    for it, values in enumerate([{"l_g_gan": 5.0, "l_g_pix": 0.1}, {}, {"l_g_gan": 5.0, "l_g_pix": 0.1}], start=1):
        extra = monitor.observe(it, values, {"g": 1.5})
    assert said == [3] and extra == {"grad_norm_g": 1.5, "gan_to_pix": 50.0}


def _run(workdir, data):
    data["logger"]["save_checkpoint_freq"] = 1000
    train(resolve(workdir, data), progress=False)


def _health_lines(workdir, name):
    log = next((workdir / "experiments" / name).glob(f"train_{name}_*.log")).read_text()
    return [line for line in log.splitlines() if re.search(r"iterations( in a row)? \(iteration", line)]


def test_a_gan_weight_of_10_reports_that_the_adversarial_term_dominates(workdir):  # noqa: F811
    data = base(workdir, "dominates")
    data["train"]["gan_opt"]["loss_weight"] = 10.0
    data["train"]["health"] = {"patience": 3}
    data["train"]["total_iter"] = 4
    _run(workdir, data)
    assert [line.split("WARNING: ")[1].split(" for ")[0] for line in _health_lines(workdir, "dominates")] == [
        "adversarial dominates"]


PATCH_SN = {"type": "PatchGANDiscriminator", "num_feat": 8, "num_layers": 2, "spectral_norm": True}


def test_a_100x_learning_rate_for_d_reports_that_d_wins(workdir):  # noqa: F811
    data = base(workdir, "dwins")
    data["network_d"] = dict(PATCH_SN)
    data["train"]["optim_d"]["lr"] = 1e-4 * 100  # the usual D learning rate, times 100
    data["train"]["health"] = {"patience": 5}
    data["train"]["total_iter"] = 30
    _run(workdir, data)
    assert any("D wins" in line for line in _health_lines(workdir, "dwins"))


def test_a_healthy_run_reports_nothing(workdir):  # noqa: F811
    data = base(workdir, "healthy")  # the same run as above at the usual D learning rate
    data["network_d"] = dict(PATCH_SN)
    data["train"]["optim_d"]["lr"] = 1e-4
    data["train"]["health"] = {"patience": 5}
    data["train"]["total_iter"] = 30
    data["train"]["net_d_init_iters"] = 10  # a fresh D starts at chance: its warm-up is not judged
    _run(workdir, data)
    assert _health_lines(workdir, "healthy") == []


def test_psnr_falling_from_its_best_and_a_colour_shift_are_reported_once_each():
    said = []
    health = ValidationHealth(psnr_drop=1.0, colour_limit=0.02, warn=lambda it, text, key: said.append(it))
    for it, psnr, shift in ((1, 30.0, 0.0), (2, 29.5, 0.0), (3, 28.8, 0.0), (4, 28.5, 0.05), (5, 30.1, 0.05)):
        health.observe(it, psnr, shift)
    assert said == [3, 4]  # PSNR 1.2 dB under its best at 3; the colour shift from 4, reported once


def test_colour_shift_is_the_largest_channel_mean_difference():
    gt = np.full((4, 4, 3), 0.5, np.float32)
    sr = gt + np.array([0.0, 0.03, -0.01], np.float32)
    assert colour_shift(sr, gt) == pytest.approx(0.03, abs=1e-6)


def test_the_best_validation_generator_is_kept_as_net_g_best(tmp_path):
    _write_data(tmp_path)
    _, opt = options(tmp_path, "best", ["train.total_iter=20", "val.best_metric=psnr"])
    train(opt, progress=False)
    run = tmp_path / "experiments" / "best"
    log = next(run.glob("train_best_*.log")).read_text()
    best_iter = max(int(it) for _value, it in re.findall(r"Best psnr so far \(([\d.]+)\) at iteration (\d+)", log))
    saved = torch.load(run / "models" / "net_g_best.pth", weights_only=True)
    at_best = torch.load(run / "models" / f"net_g_{best_iter}.pth", weights_only=True)
    assert all(torch.equal(saved["params_ema"][k], at_best["params_ema"][k]) for k in saved["params_ema"])
    state = torch.load(run / "training_states" / "20.state", weights_only=True)
    assert state["best"]["iter"] == best_iter and state["best"]["metric"] == "psnr"


def test_early_stop_ends_the_run_at_the_reported_condition_with_a_saved_state(workdir):  # noqa: F811
    data = base(workdir, "stopped")
    data["train"]["gan_opt"]["loss_weight"] = 10.0
    data["train"].update(health={"patience": 2}, early_stop=["adversarial_dominates"], total_iter=10)
    data["logger"]["save_checkpoint_freq"] = 1000
    result = train(resolve(workdir, data), progress=False)
    assert result.iteration == 2  # the second G step in a row completes the streak
    assert (workdir / "experiments" / "stopped" / "training_states" / "2.state").is_file()


def test_an_unknown_early_stop_condition_names_the_key(workdir):  # noqa: F811
    data = base(workdir, "badstop")
    data["train"]["early_stop"] = ["d_loses"]
    with pytest.raises(OptionError, match="train.early_stop"):
        resolve(workdir, data)


def test_validation_logs_the_online_generators_psnr_beside_the_emas(tmp_path):
    _write_data(tmp_path)
    _, opt = options(tmp_path, "gap", ["train.total_iter=10"])
    train(opt, progress=False)
    log = next((tmp_path / "experiments" / "gap").glob("train_gap_*.log")).read_text()
    ema = float(re.search(r"Validation tinyval @ iter 10: psnr: ([\d.]+)", log).group(1))
    online, gap = map(float, re.search(r"Validation tinyval \(online G\) @ iter 10: psnr: ([\d.]+)\s+ema_gap: "
                                       r"(-?[\d.]+)", log).groups())
    assert gap == pytest.approx(ema - online, abs=2e-4)


def test_health_warnings_reach_tensorboard_as_text(workdir):  # noqa: F811
    data = base(workdir, "tbhealth")
    data["train"]["gan_opt"]["loss_weight"] = 10.0
    data["train"].update(health={"patience": 2}, total_iter=2)
    data["logger"]["use_tb_logger"] = True
    _run(workdir, data)
    events = b"".join(p.read_bytes() for p in (workdir / "experiments" / "tbhealth" / "tb_logger").glob("events*"))
    assert b"health" in events and b"adversarial dominates" in events


def test_each_training_condition_is_a_key_early_stop_accepts():
    from srgan_kit.config.schema import EARLY_STOP_KEYS
    from srgan_kit.training.health import HealthMonitor

    assert {c.key for c in HealthMonitor().conditions} == set(EARLY_STOP_KEYS) - {"psnr_drop", "colour_shift"}


def test_the_colour_shift_metric_reads_8_bit_images_like_every_metric():
    from srgan_kit.eval.conventions import Scorer

    gt = np.full((8, 8, 3), 100, np.uint8)
    sr = gt.copy()
    sr[..., 2] += 51  # the blue mean 0.2 higher on the [0, 1] scale
    assert Scorer(["colour_shift"], scale=2).score(sr / 255.0, gt / 255.0, "gt.png", "sr") == {
        "colour_shift": pytest.approx(0.2)}
