"""tools/sweep.py: sweep files (grid, named variants, checks), planning before training, a real
2-variant x 2-iteration sweep with its CSV / markdown / plot, re-runs that retrain nothing, crash isolation,
and the shipped sweep files.

Runs use a tiny MSRResNet x2 (num_feat 8, 1 block), a tiny U-Net discriminator, no perceptual term, a start
checkpoint saved here and a 2-image benchmark set laid out like tools/prepare_datasets.py makes them.
"""
import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from srgan_kit.archs.generators import MSRResNet
from srgan_kit.cli.sweep import main
from srgan_kit.data.degradation import bicubic_pair, imresize
from srgan_kit.data.imageio import load_image, save_image
from srgan_kit.errors import OptionError
from srgan_kit.eval.reports import write_json
from srgan_kit.fileio import json_number
from srgan_kit.inference import Upscaler
from srgan_kit.eval.metrics import calculate_psnr, calculate_ssim
from srgan_kit.sweeps.spec import load_sweep, override_text, parse_sweep
from srgan_kit.sweeps.runner import (check_metrics, plan_sweep, resolve_eval_datasets, run_reference,
                             run_sweep)
from srgan_kit.training.trainer import train
from conftest import interrupted_training

REPO = Path(__file__).resolve().parents[1]
BASE_NAME = "tiny_gan"


def _smooth_image(rng, size):
    small = rng.uniform(0.1, 0.9, (size // 4, size // 4, 3)).astype(np.float32)
    return np.kron(small, np.ones((4, 4, 1), np.float32))


def _tiny_net(seed):
    torch.manual_seed(seed)
    return MSRResNet(num_feat=8, num_block=1, upscale=2)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    rng = np.random.default_rng(0)
    for i in range(3):
        save_image(root / "data" / "gt" / f"train_{i}.png", _smooth_image(rng, 32))
    for i in range(2):  # the benchmark layout: Tiny/X2/HR/img_i.png + Tiny/X2/LR/img_ix2.png
        hr, lr = bicubic_pair(_smooth_image(rng, 64), 2)
        save_image(root / "datasets" / "Tiny" / "X2" / "HR" / f"img_{i}.png", hr)
        save_image(root / "datasets" / "Tiny" / "X2" / "LR" / f"img_{i}x2.png", lr)
    sd = _tiny_net(0).state_dict()
    torch.save({"params": sd, "params_ema": sd}, root / "start.pth")
    (root / "corrupt.pth").write_bytes(b"not a checkpoint")
    base = {
        "name": BASE_NAME, "model_type": "gan", "scale": 2, "num_gpu": 0,  # no manual_seed: the sweep fixes one
        "datasets": {"train": {"name": "tiny", "type": "GTOnlyDataset", "dataroot_gt": "data/gt", "gt_size": 16,
                               "use_hflip": True, "use_rot": True, "batch_size_per_gpu": 2,
                               "num_worker_per_gpu": 0}},
        "network_g": {"type": "MSRResNet", "num_feat": 8, "num_block": 1, "upscale": 2},
        "network_d": {"type": "UNetDiscriminatorSN", "num_feat": 8},
        "path": {"pretrain_network_g": "start.pth", "param_key_g": "params_ema"},
        "train": {"ema_decay": 0.5,
                  "optim_g": {"type": "Adam", "lr": 1e-3, "betas": [0.9, 0.99]},
                  "optim_d": {"type": "Adam", "lr": 1e-3, "betas": [0.9, 0.99]},
                  "total_iter": 1000,  # the sweeps' base_set shortens it
                  "pixel_opt": {"type": "L1Loss", "loss_weight": 1.0},
                  "gan_opt": {"type": "GANLoss", "gan_type": "vanilla", "loss_weight": 5e-3}},
        "logger": {"print_freq": 1, "save_checkpoint_freq": 100},
    }
    (root / "base.yml").write_text(yaml.safe_dump(base, sort_keys=False))
    return root


def write_sweep(root, name, data):
    path = root / f"{name}.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


class Spy:
    """A train function that records each run's options and then trains for real."""

    def __init__(self):
        self.opts, self.resumes = [], []

    def __call__(self, opt, auto_resume=False, progress=True):
        self.opts.append(opt)
        self.resumes.append(auto_resume)
        return train(opt, auto_resume=auto_resume, progress=False)

    @property
    def names(self):
        return [o["name"] for o in self.opts]


def sweep(workdir, sweep_file, out, spy=None, **kw):
    kw.setdefault("datasets", ["Tiny"])
    kw.setdefault("metrics", ["psnr", "ssim", "stlpips"])
    return run_sweep(sweep_file, base_path=workdir / "base.yml", out_dir=out, data_root=workdir / "datasets",
                     root=workdir, progress=False, train_fn=spy or Spy(), log=lambda text: None, **kw)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def scores(upscale, workdir):
    """Independent mean PSNR / SSIM (Y, crop 2) over the Tiny set, images rounded to 8-bit levels."""
    psnrs, ssims = [], []
    for i in range(2):
        hr = load_image(workdir / "datasets/Tiny/X2/HR" / f"img_{i}.png").rgb
        lr = load_image(workdir / "datasets/Tiny/X2/LR" / f"img_{i}x2.png").rgb
        sr8 = np.round(np.clip(upscale(lr), 0, 1) * 255.0)
        hr8 = np.round(hr * 255.0)
        psnrs.append(calculate_psnr(sr8, hr8, crop_border=2, test_y_channel=True))
        ssims.append(calculate_ssim(sr8, hr8, crop_border=2, test_y_channel=True))
    return float(np.mean(psnrs)), float(np.mean(ssims))


def net_from(path, key):
    net = MSRResNet(num_feat=8, num_block=1, upscale=2)
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)[key])
    return Upscaler(net, 2).upscale


# ------------------------------------------------------------------------------------------ sweep files


def test_grid_is_the_cartesian_product_in_file_order():
    spec = parse_sweep({"grid": {"train.gan_opt.loss_weight": [0, 1.0e-3],
                                 "train.gan_opt.gan_type": ["vanilla", "hinge", "lsgan"]}})
    assert [v.settings for v in spec.variants] == [
        {"train.gan_opt.loss_weight": w, "train.gan_opt.gan_type": t}
        for w in (0, 1.0e-3) for t in ("vanilla", "hinge", "lsgan")]
    assert [v.name for v in spec.variants][:2] == ["loss_weight-0_gan_type-vanilla", "loss_weight-0_gan_type-hinge"]
    assert spec.variants[3].name == "loss_weight-0.001_gan_type-vanilla"
    # Two keys ending alike are named by their whole path.
    spec = parse_sweep({"grid": {"train.optim_g.lr": [1, 2], "train.optim_d.lr": [3]}})
    assert [v.name for v in spec.variants] == ["train.optim_g.lr-1_train.optim_d.lr-3",
                                               "train.optim_g.lr-2_train.optim_d.lr-3"]


def test_override_text_reads_back_as_the_same_value():
    for value in (0, 1.0e-3, 5e-05, True, None, [12500, 20000], {"conv5_4": 1.0}):
        assert yaml.safe_load(override_text(value)) == value
    assert override_text("average") == "average"


def test_named_variants_base_set_seed_and_start_reach_every_variant(workdir, tmp_path):
    path = write_sweep(tmp_path, "named", {
        "start": str(workdir / "start.pth"),
        "base_set": {"train.total_iter": 7, "train.gan_opt.loss_weight": 1.0e-2},
        "variants": [{"name": "ragan", "set": {"train.gan_opt.relativistic": "average"}},
                     {"name": "hinge", "set": {"train.gan_opt.gan_type": "hinge"}},
                     {"name": "as-is"}]})
    spec = load_sweep(path)
    reference, plans = plan_sweep(spec, workdir / "base.yml", tmp_path / "out", root=workdir)
    assert [p.variant.name for p in plans] == ["ragan", "hinge", "as-is"]
    assert [p.opt["name"] for p in plans] == [f"{BASE_NAME}_ragan", f"{BASE_NAME}_hinge", f"{BASE_NAME}_as-is"]
    gan = [p.opt["train"]["gan_opt"] for p in plans]
    assert [g.get("relativistic", "none") for g in gan] == ["average", "none", "none"]
    assert [g["gan_type"] for g in gan] == ["vanilla", "hinge", "vanilla"]
    for p in plans:
        assert p.opt["train"]["total_iter"] == 7 and p.opt["train"]["gan_opt"]["loss_weight"] == 1.0e-2
        assert p.opt["manual_seed"] == 0  # the base has none: one fixed seed for all
        assert p.opt["path"]["pretrain_network_g"] == str(workdir / "start.pth")
        assert p.opt["path"]["experiments_root"] == str(tmp_path / "out" / "experiments" / p.opt["name"])
        assert p.opt["val"] is None  # the sweep scores the runs itself
    assert len({p.train_key for p in plans}) == 3
    # The same settings resolve to the same key (what re-runs rely on).
    again = plan_sweep(load_sweep(path), workdir / "base.yml", tmp_path / "out", root=workdir)[1]
    assert [p.train_key for p in again] == [p.train_key for p in plans]


@pytest.mark.parametrize("data, words", [
    ({"grid": {"train.total_iter": [1]}, "basee": "x.yml"}, "basee: unknown key (did you mean 'base'?)"),
    ({"grid": {"train.total_iter": [1]}, "variants": [{"name": "a"}]}, "give either 'grid'"),
    ({}, "give either 'grid'"),
    ({"grid": {"train.total_iter": 5}}, "grid.train.total_iter: expected a list not empty, got 5"),
    ({"variants": [{"name": "a"}, {"name": "a"}]}, "variants.1.name: 'a' is used twice"),
    ({"variants": [{"name": "bicubic"}]}, "variants.0.name: expected a string usable as a variant name"),
    ({"variants": [{"name": "a b"}]}, "variants.0.name: expected a string usable as a variant name"),
    ({"variants": [{"name": "a", "sett": {}}]}, "variants.0.sett: unknown key"),
    ({"variants": [{"name": "a", "set": {"name": "x"}}]}, "variants.0.set.name: unexpected name 'name'"),
    ({"grid": {"train.total_iter": [1]}, "seed": "one"}, "seed: expected an integer"),
])
def test_sweep_file_mistakes_name_the_file_and_key(tmp_path, data, words):
    path = write_sweep(tmp_path, "bad", data)
    with pytest.raises(OptionError) as info:
        load_sweep(path)
    assert str(info.value).startswith(f"{path}: ") and words in str(info.value)


def test_a_bad_option_key_fails_before_any_training(workdir, tmp_path, capsys, monkeypatch):
    path = write_sweep(tmp_path, "typo", {
        "base_set": {"train.total_iter": 2},
        "variants": [{"name": "fine", "set": {"train.gan_opt.loss_weight": 0}},
                     {"name": "typo", "set": {"train.gan_opt.los_weight": 0.1}}]})
    spy = Spy()
    with pytest.raises(OptionError) as info:
        sweep(workdir, path, tmp_path / "out", spy)
    text = str(info.value)
    assert text.startswith(f"{path}: variant 'typo': ")
    assert "train.gan_opt.los_weight: unknown key (did you mean 'train.gan_opt.loss_weight'?)" in text
    assert spy.opts == [] and not (tmp_path / "out").exists()
    # The CLI: one error line, exit 2, nothing trained.
    monkeypatch.chdir(workdir)  # relative paths in base.yml hang from the current folder
    rc = main(["-opt", str(workdir / "base.yml"), "--sweep", str(path), "--out", str(tmp_path / "out"),
               "--datasets", "Tiny", "--data-root", str(workdir / "datasets")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and "train.gan_opt.los_weight" in err
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------ real runs


NAMES = ["loss_weight-0", "loss_weight-0.01"]


@pytest.fixture(scope="module")
def two_variants(workdir, tmp_path_factory):
    """A real 2-variant x 2-iteration sweep: (sweep file, out folder, result, training spy, results.csv rows)."""
    folder = tmp_path_factory.mktemp("two_variants")
    path = write_sweep(folder, "weights", {"base_set": {"train.total_iter": 2},
                                           "grid": {"train.gan_opt.loss_weight": [0, 1.0e-2]}})
    out, spy = folder / "out", Spy()
    result = sweep(workdir, path, out, spy)
    return path, out, result, spy, read_csv(out / "results.csv")


def test_every_variant_trains_from_the_same_start_seed_and_length_under_out(workdir, two_variants):
    _path, _out, result, spy, _rows = two_variants
    assert spy.names == [f"{BASE_NAME}_{n}" for n in NAMES] and result.failed == []
    assert {(o["path"]["pretrain_network_g"], o["manual_seed"], o["train"]["total_iter"]) for o in spy.opts} == {
        (str(workdir / "start.pth"), 0, 2)}
    assert [o["train"]["gan_opt"]["loss_weight"] for o in spy.opts] == [0, 1.0e-2]
    assert not (workdir / "experiments").exists()


def test_results_csv_rows_and_settings(two_variants):
    rows = two_variants[4]
    assert [(r["variant"], r["kind"], r["dataset"], r["status"]) for r in rows] == [
        ("bicubic", "reference", "Tiny", "ok"), ("start", "reference", "Tiny", "ok"),
        *((n, "variant", "Tiny", "ok") for n in NAMES)]
    assert [r["train.gan_opt.loss_weight"] for r in rows] == ["", "", "0", "0.01"]
    assert [r["total_iter"] for r in rows[2:]] == ["2", "2"]
    assert all(float(r["train_time_s"]) > 0 for r in rows[2:])


def test_every_score_equals_an_independent_computation_with_the_same_weights(workdir, two_variants):
    _path, out, _result, _spy, rows = two_variants
    expected = {"bicubic": scores(lambda lr: imresize(lr, 2), workdir),
                "start": scores(net_from(workdir / "start.pth", "params_ema"), workdir)}
    for n in NAMES:
        ckpt = out / "experiments" / f"{BASE_NAME}_{n}" / "models" / "net_g_latest.pth"
        expected[n] = scores(net_from(ckpt, "params_ema"), workdir)
    for r in rows:
        assert float(r["psnr"]) == pytest.approx(expected[r["variant"]][0], abs=1e-6)
        assert float(r["ssim"]) == pytest.approx(expected[r["variant"]][1], abs=1e-6)
        assert 0 < float(r["stlpips"]) < 1
    assert expected["loss_weight-0"] != expected["start"]  # the variants did train
    record = json.loads((out / "variants" / "loss_weight-0.01.json").read_text())
    assert record["status"] == "ok" and record["settings"] == {"train.gan_opt.loss_weight": "0.01"}
    assert record["results"]["datasets"]["Tiny"]["mean"]["psnr"] == pytest.approx(expected["loss_weight-0.01"][0])


def test_results_md_tables(two_variants):
    _path, out, _result, _spy, rows = two_variants
    md = (out / "results.md").read_text()
    assert "| variant | train.gan_opt.loss_weight | PSNR (dB) ↑ | SSIM ↑ | ST-LPIPS ↓ | training time | status |" in md
    assert f"| bicubic (reference) |  | {float(rows[0]['psnr']):.2f} |" in md
    assert "| loss_weight-0.01 | 0.01 |" in md


def test_tradeoff_plot_shows_every_method_at_its_scores(two_variants):
    _path, out, result, _spy, rows = two_variants
    assert (out / "tradeoff.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    points = result.points["Tiny"]
    assert [(label, kind) for label, _x, _y, kind in points] == [
        ("bicubic", "bicubic"), ("start", "start"), *((n, "variant") for n in NAMES)]
    assert [(x, y) for _l, x, y, _k in points] == [(float(r["psnr"]), float(r["stlpips"])) for r in rows]


def test_a_rerun_trains_nothing_a_changed_setting_retrains_only_it_a_new_metric_only_rescores(workdir, two_variants):
    path, out, _result, _spy, rows = two_variants
    spy = Spy()
    sweep(workdir, path, out, spy)
    assert spy.opts == [] and read_csv(out / "results.csv") == rows
    write_sweep(path.parent, "weights", {"base_set": {"train.total_iter": 2},
                                         "grid": {"train.gan_opt.loss_weight": [0, 2.0e-2]}})
    spy = Spy()
    sweep(workdir, path, out, spy)
    assert spy.names == [f"{BASE_NAME}_loss_weight-0.02"]
    spy = Spy()
    sweep(workdir, path, out, spy, metrics=["psnr", "ssim"])
    rescored = read_csv(out / "results.csv")
    assert spy.opts == [] and "stlpips" not in rescored[0]
    assert [r["psnr"] for r in rescored[:3]] == [r["psnr"] for r in rows[:3]]


def test_a_crashing_variant_is_recorded_and_the_others_still_run(workdir, tmp_path, capsys, monkeypatch):
    path = write_sweep(tmp_path, "crash", {
        "base_set": {"train.total_iter": 2},
        "variants": [{"name": "broken", "set": {"path.pretrain_network_g": str(workdir / "corrupt.pth")}},
                     {"name": "good", "set": {"train.gan_opt.gan_type": "hinge"}}]})
    out = tmp_path / "out"
    spy = Spy()
    result = sweep(workdir, path, out, spy, metrics=["psnr", "ssim"])
    assert spy.names == [f"{BASE_NAME}_broken", f"{BASE_NAME}_good"] and result.failed == ["broken"]
    rows = {r["variant"]: r for r in read_csv(out / "results.csv")}
    assert rows["broken"]["status"].startswith("failed: WeightsError: ") and "corrupt.pth" in rows["broken"]["status"]
    assert rows["broken"]["psnr"] == "" and rows["good"]["status"] == "ok" and float(rows["good"]["psnr"]) > 20
    md = (out / "results.md").read_text()
    assert "| broken | " in md and "failed: WeightsError" in md
    assert [label for label, *_ in result.points["Tiny"]] == ["bicubic", "start", "good"]  # no point for it
    assert "Traceback" in json.loads((out / "variants" / "broken.json").read_text())["error"]
    # The CLI re-run retries the failed variant only (it fails again: exit 1) and keeps the finished one.
    monkeypatch.chdir(workdir)
    rc = main(["-opt", str(workdir / "base.yml"), "--sweep", str(path), "--out", str(out), "--datasets", "Tiny",
               "--data-root", str(workdir / "datasets"), "--metrics", "psnr,ssim", "--no-progress"])
    captured = capsys.readouterr()
    assert rc == 1 and "failed: broken (reasons in results.md" in captured.err
    assert "good: already done" in captured.out and "broken: training" in captured.out
    # --dry-run says which variants a run would train, and trains nothing.
    args = ["-opt", str(workdir / "base.yml"), "--sweep", str(path), "--out", str(out), "--datasets", "Tiny",
            "--data-root", str(workdir / "datasets"), "--metrics", "psnr,ssim", "--dry-run"]
    assert main(args) == 0
    out_text = capsys.readouterr().out
    assert "  broken (to train): path.pretrain_network_g=" in out_text
    assert "  good (done): train.gan_opt.gan_type=hinge" in out_text


# ------------------------------------------------------------------------------------------ shipped sweeps


@pytest.mark.parametrize("name", ["demo_gan_weight", "demo_gan_type", "esrgan_gan_weight", "esrgan_gan_type"])
def test_shipped_sweeps_validate(name, tmp_path):
    spec = load_sweep(REPO / "options" / "sweeps" / f"{name}.yml")
    assert spec.base and (REPO / spec.base).is_file()
    reference, plans = plan_sweep(spec, REPO / spec.base, tmp_path, root=REPO, check_paths=False)
    assert len(plans) >= 3 and len({p.train_key for p in plans}) == len(plans)
    iters = {p.opt["train"]["total_iter"] for p in plans}
    assert len(iters) == 1 and len({p.opt["manual_seed"] for p in plans}) == 1
    if name.startswith("demo"):
        assert iters.pop() <= 100  # the demo sweeps run in minutes on 2 CPU cores
        assert spec.datasets == ["val"]
        [val] = resolve_eval_datasets(spec.datasets, reference)  # the held-out demo photos
        assert (val.name, val.lr_dir, val.gt_dir, val.lr_tmpl) == (
            "demo_val", REPO / "datasets/demo/val/LR", REPO / "datasets/demo/val/HR", "{}x4")
    if name.endswith("gan_type"):
        kinds = {(p.opt["train"]["gan_opt"]["gan_type"], p.opt["train"]["gan_opt"].get("relativistic", "none"))
                 for p in plans}
        assert {("vanilla", "none"), ("lsgan", "none"), ("hinge", "none"), ("wgan_gp", "none"),
                ("vanilla", "average")} <= kinds
    else:
        assert [p.opt["train"]["gan_opt"]["loss_weight"] for p in plans][0] == 0
    assert check_metrics(spec.metrics) == spec.metrics


class _PerfectEvaluation:
    """An evaluation whose method reproduces the GT exactly: PSNR is infinite."""

    metrics = ["psnr"]

    def run(self, upscale_fn):
        return {"datasets": {"Tiny": {"mean": {"psnr": math.inf}, "images": {"img_0": {"psnr": math.inf}}}},
                "unavailable": {}}


def test_records_are_strict_json_like_evaluate_s_and_inf_reads_back(tmp_path):
    record = run_reference("perfect", lambda: None, "key", _PerfectEvaluation(), tmp_path / "perfect.json",
                           log=lambda text: None)
    text = (tmp_path / "perfect.json").read_text()
    assert "Infinity" not in text and '"psnr": "inf"' in text
    json.loads(text, parse_constant=lambda token: pytest.fail(f"non-standard JSON token {token}"))
    evaluated = tmp_path / "evaluate.json"
    write_json(record["results"], evaluated)  # tools/evaluate.py's writer: the same text for the same values
    assert json.loads(evaluated.read_text()) == json.loads(text)["results"]
    assert json_number(json.loads(text)["results"]["datasets"]["Tiny"]["mean"]["psnr"]) == math.inf


def test_interpolated_generators_are_blends_of_start_and_variant_scored_as_rows(workdir, tmp_path):
    path = write_sweep(tmp_path, "interp", {"base_set": {"train.total_iter": 2},
                                            "grid": {"train.gan_opt.loss_weight": [1.0e-2]},
                                            "interpolate": {"alpha": [0.5]}})
    result = sweep(workdir, path, tmp_path / "out")
    assert result.failed == []
    blend = tmp_path / "out" / "interpolated" / "loss_weight-0.01@0.5.pth"
    start = torch.load(workdir / "start.pth", weights_only=True)["params_ema"]
    trained = torch.load(tmp_path / "out" / "experiments" / f"{BASE_NAME}_loss_weight-0.01" / "models" /
                         "net_g_latest.pth", weights_only=True)["params_ema"]
    mixed = torch.load(blend, weights_only=True)["params"]
    for k in start:
        torch.testing.assert_close(mixed[k], 0.5 * start[k] + 0.5 * trained[k])
    row = next(r for r in read_csv(tmp_path / "out" / "results.csv") if r["kind"] == "interpolated")
    assert row["variant"] == "loss_weight-0.01@0.5"
    assert float(row["psnr"]) == pytest.approx(scores(net_from(blend, "params"), workdir)[0], abs=1e-6)
    # The variant's run folder deleted afterwards: the blend is a failed row naming the missing weights.
    shutil.rmtree(tmp_path / "out" / "experiments" / f"{BASE_NAME}_loss_weight-0.01")
    result = sweep(workdir, path, tmp_path / "out")
    assert result.failed == ["loss_weight-0.01@0.5"] and "net_g_latest.pth are gone" in result.interpolated[0]["status"]


def test_interpolating_an_unknown_variant_names_the_key(tmp_path):
    path = write_sweep(tmp_path, "bad", {"grid": {"train.gan_opt.loss_weight": [0]},
                                         "interpolate": {"alpha": [0.5], "variants": ["nope"]}})
    with pytest.raises(OptionError, match="interpolate.variants: no variant named 'nope'"):
        load_sweep(path)


def test_the_interpolation_curve_runs_from_start_through_the_blends_to_the_variant():
    from srgan_kit.sweeps.report import interpolation_curves

    table = [{"dataset": "Tiny", "variant": v, "status": "ok", "psnr": p, "stlpips": s}
             for v, p, s in (("start", 30, 0.3), ("gan@0.8", 28, 0.2), ("gan@0.4", 29, 0.25), ("gan", 27, 0.1))]
    records = [{"variant": f"gan@{a}", "interpolated": {"variant": "gan", "alpha": a}} for a in (0.8, 0.4)]
    assert interpolation_curves(table, records, "psnr", "stlpips") == {
        "Tiny": [[(30, 0.3), (29, 0.25), (28, 0.2), (27, 0.1)]]}


def test_an_interrupted_variant_says_to_rerun_the_sweep_and_the_rerun_resumes_it(workdir, tmp_path, capsys,
                                                                                  monkeypatch):
    import os
    import signal

    from srgan_kit.training.trainer import Loop

    path = write_sweep(tmp_path, "stop", {"base_set": {"train.total_iter": 4}, "variants": [{"name": "only"}]})
    argv = ["-opt", str(workdir / "base.yml"), "--sweep", str(path), "--out", str(tmp_path / "out"), "--datasets",
            "Tiny", "--data-root", str(workdir / "datasets"), "--metrics", "psnr", "--no-progress"]
    check = Loop.check_folder

    def stop_at_2(self, iteration):
        if iteration == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return check(self, iteration)

    monkeypatch.chdir(workdir)
    monkeypatch.setattr(Loop, "check_folder", stop_at_2)
    assert main(argv) == 130
    hint = capsys.readouterr().err.strip().splitlines()[-1]
    assert hint.startswith("interrupted: SIGINT at iteration 2: its complete training state is saved")
    assert f"continue with python tools/sweep.py -opt {workdir / 'base.yml'} --sweep {path}" in hint
    monkeypatch.setattr(Loop, "check_folder", check)
    assert main(argv) == 0
    run_dir = tmp_path / "out" / "experiments" / f"{BASE_NAME}_only"
    logs = sorted(run_dir.glob("train_*.log"))
    assert "Resumed from" in logs[-1].read_text() and "iteration 2" in logs[-1].read_text()
    assert not list(run_dir.parent.glob("*_archived_*"))  # the interrupted run was continued, not set aside


def test_an_interrupted_variant_keeps_the_time_it_had_spent_when_it_resumes(workdir, tmp_path):
    path = write_sweep(tmp_path, "timed", {"base_set": {"train.total_iter": 2}, "variants": [{"name": "only"}]})
    resumed = []
    with pytest.raises(KeyboardInterrupt):
        sweep(workdir, path, tmp_path / "out", spy=interrupted_training(resumed), metrics=["psnr"])
    first = json.loads((tmp_path / "out" / "variants" / "only.json").read_text())
    assert first["status"] == "training" and first["train_time_s"] >= 0.05
    spy = Spy()
    sweep(workdir, path, tmp_path / "out", spy=spy, metrics=["psnr"])
    record = json.loads((tmp_path / "out" / "variants" / "only.json").read_text())
    assert resumed == [False] and spy.resumes == [True]
    assert record["status"] == "ok" and record["train_time_s"] >= first["train_time_s"]


def test_a_record_keeps_the_precision_and_machine_its_run_trained_in(two_variants):
    from srgan_kit.device import cpu_description

    record = json.loads((two_variants[1] / "variants" / f"{NAMES[0]}.json").read_text())
    assert record["precision"] == "fp32" and record["machine"] == cpu_description()  # the base's default amp


def test_amp_auto_trains_in_the_precision_the_sweeps_recorded_runs_trained_in(workdir, tmp_path, monkeypatch):
    import srgan_kit.device

    first = {"base_set": {"train.total_iter": 2, "train.amp": "auto"}, "variants": [{"name": "a"}]}
    sweep(workdir, write_sweep(tmp_path, "amp", first), tmp_path / "out", metrics=["psnr"])
    here = json.loads((tmp_path / "out" / "variants" / "a.json").read_text())["precision"]
    monkeypatch.setattr(srgan_kit.device, "native_bf16", lambda device: here == "fp32")  # auto now means the other
    spy = Spy()
    later = {**first, "variants": [{"name": "a"}, {"name": "b"}]}
    sweep(workdir, write_sweep(tmp_path, "amp", later), tmp_path / "out", spy=spy, metrics=["psnr"])
    assert spy.names == [f"{BASE_NAME}_b"] and spy.opts[0]["train"]["amp"] == here
    assert json.loads((tmp_path / "out" / "variants" / "b.json").read_text())["precision"] == here


def test_conditions_text_names_each_precision_and_machine_and_the_runs_without_one():
    from srgan_kit.sweeps.report import conditions_text

    records = [{"train_time_s": 1.0, "precision": "fp32", "machine": "CPU A"},
               {"train_time_s": 2.0, "precision": "fp32", "machine": "CPU A"},
               {"train_time_s": 3.0, "precision": "bf16", "machine": "GPU B"},
               {"train_time_s": 4.0}, {"train_time_s": None, "status": "failed: x"}]
    assert conditions_text(records) == "fp32 on CPU A (2 runs); bf16 on GPU B (1 run); 1 run without a record of it"
    assert conditions_text(records[:2]) == "fp32 on CPU A"


def test_train_key_unchanged_by_a_new_key_at_its_default(monkeypatch):
    """Records stay valid when a release adds an option whose default changes nothing."""
    from srgan_kit.config import schema
    from srgan_kit.config.engine import BOOL, Field
    from srgan_kit.config.options import load_options
    from srgan_kit.sweeps.runner import train_key

    before = train_key(load_options(REPO / "options" / "study_psnr.yml", check_paths=False))
    original = schema.base_schema

    def with_new_key(is_train):
        tree = original(is_train)
        tree.fields["train"].fields["new_knob"] = Field(BOOL, False)
        return tree

    monkeypatch.setattr(schema, "base_schema", with_new_key)
    opt = load_options(REPO / "options" / "study_psnr.yml", check_paths=False)
    assert opt["train"]["new_knob"] is False
    assert train_key(opt) == before
    opt["train"]["new_knob"] = True
    assert train_key(opt) != before
