"""tools/study.py (srgan_kit.sweeps.study, study_report): a PSNR start trained first, sweeps fine-tuning it, one
report whose tables, pictures and findings come from the recorded scores; training GT from a list of folders.

Runs are tiny: MSRResNet x2 (num_feat 8, 1 block), 2 iterations, a 2-image benchmark set, PSNR and SSIM.
"""
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from srgan_kit.config.options import load_options
from srgan_kit.data.datasets import GTOnlyDataset, PairedImageDataset
from srgan_kit.data.degradation import bicubic_pair
from srgan_kit.data.imageio import load_image, save_image
from srgan_kit.errors import OptionError
from srgan_kit.eval.conventions import format_value
from srgan_kit.sweeps.runner import read_record
from srgan_kit.sweeps.study import prepare_study, run_study, train_start
from srgan_kit.sweeps.study_report import RESOLUTION, _trend, write_study_report
from srgan_kit.training.trainer import train
from conftest import interrupted_training, write_photos

NET = {"type": "MSRResNet", "num_feat": 8, "num_block": 1, "upscale": 2}
START_WEIGHTS = "experiments/tiny_start/models/net_g_latest.pth"


def _train_set(folders):
    return {"name": "tiny", "type": "GTOnlyDataset", "dataroot_gt": folders, "gt_size": 16, "use_hflip": True,
            "use_rot": True, "batch_size_per_gpu": 2, "num_worker_per_gpu": 0}


def _write(path, data):
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    write_photos(root / "data" / "a", 2, 32, 32, block=4, seed=1)
    write_photos(root / "data" / "b", 1, 32, 32, block=4, seed=2)
    rng = np.random.default_rng(0)
    for i in range(2):  # the benchmark layout tools/prepare_datasets.py writes
        small = rng.uniform(0.1, 0.9, (16, 16, 3)).astype(np.float32)
        hr, lr = bicubic_pair(np.kron(small, np.ones((4, 4, 1), np.float32)), 2)
        save_image(root / "datasets" / "Tiny" / "X2" / "HR" / f"img_{i}.png", hr)
        save_image(root / "datasets" / "Tiny" / "X2" / "LR" / f"img_{i}x2.png", lr)
    common = {"scale": 2, "num_gpu": 0, "manual_seed": 0, "network_g": NET,
              "logger": {"print_freq": 1, "save_checkpoint_freq": 100}}
    _write(root / "start.yml", {
        "name": "tiny_start", "model_type": "sr", **common,
        "datasets": {"train": _train_set(["data/a", "data/b"])},
        "train": {"ema_decay": 0.5, "optim_g": {"type": "Adam", "lr": 1e-3}, "total_iter": 2,
                  "pixel_opt": {"type": "L1Loss", "loss_weight": 1.0}}})
    _write(root / "gan.yml", {
        "name": "tiny_gan", "model_type": "gan", **common,
        "datasets": {"train": _train_set(["data/a", "data/b"])},
        "network_d": {"type": "UNetDiscriminatorSN", "num_feat": 8},
        "path": {"pretrain_network_g": START_WEIGHTS, "param_key_g": "params_ema"},
        "train": {"ema_decay": 0.5, "optim_g": {"type": "Adam", "lr": 1e-3}, "optim_d": {"type": "Adam", "lr": 1e-3},
                  "total_iter": 2, "pixel_opt": {"type": "L1Loss", "loss_weight": 1.0},
                  "gan_opt": {"type": "GANLoss", "gan_type": "vanilla", "loss_weight": 1e-3}}})
    _write(root / "weight.yml", {"description": "adversarial weight", "base": str(root / "gan.yml"),
                                 "start": START_WEIGHTS, "grid": {"train.gan_opt.loss_weight": [0, 0.5]}})
    _write(root / "kind.yml", {"base": str(root / "gan.yml"), "start": START_WEIGHTS,
                               "grid": {"train.gan_opt.gan_type": ["vanilla", "wgan_gp"],
                                        "train.gan_opt.relativistic": ["none", "average"]}})
    return root


class Spy:
    def __init__(self):
        self.opts = []

    def __call__(self, opt, auto_resume=False, progress=True):
        self.opts.append(opt)
        return train(opt, auto_resume=auto_resume, progress=False)


def _prepare(workdir, sweeps=("weight.yml", "kind.yml"), start="start.yml"):
    return prepare_study(workdir / start, [workdir / s for s in sweeps], out_dir=workdir / "out", root=workdir,
                         datasets=["Tiny"], data_root=workdir / "datasets", metrics=["psnr", "ssim"])


@pytest.fixture(scope="module")
def finished(workdir):
    spy = Spy()
    study = _prepare(workdir)
    start, runs = run_study(study, progress=False, log=lambda text: None, train_fn=spy)
    doc = workdir / "docs" / "study.md"
    paths = write_study_report(doc, study, start, runs, "python tools/study.py", 12.0)
    return study, start, runs, spy, doc, paths


# ------------------------------------------------------------------------------------ folders of GT images


def test_a_training_set_reads_the_images_of_every_listed_folder(workdir):
    opt = load_options(workdir / "start.yml", root=workdir)
    spec = opt["datasets"]["train"]
    dataset = GTOnlyDataset(spec["dataroot_gt"], scale=2, gt_size=16)
    assert spec["dataroot_gt"] == [str(workdir / "data" / "a"), str(workdir / "data" / "b")]
    assert sorted(Path(item["gt_path"]).relative_to(workdir).as_posix() for item in dataset.items) == [
        "data/a/0.png", "data/a/1.png", "data/b/0.png"]


def test_a_missing_folder_of_the_list_is_named_with_its_position(workdir):
    with pytest.raises(OptionError, match=r"datasets\.train\.dataroot_gt\.1: data folder .*nowhere does not exist"):
        load_options(workdir / "start.yml", overrides=["datasets.train.dataroot_gt=[data/a, nowhere]"], root=workdir)


def test_paired_images_need_one_gt_folder(workdir):
    with pytest.raises(OptionError, match="dataroot_gt: one folder"):
        PairedImageDataset([str(workdir / "data" / "a")], str(workdir / "data" / "b"), scale=2)


# ------------------------------------------------------------------------------------------------- the study


def test_a_sweep_that_does_not_start_from_the_study_s_start_is_refused_before_training(workdir, tmp_path):
    other = _write(tmp_path / "other.yml", {"base": str(workdir / "gan.yml"), "start": "elsewhere.pth",
                                            "grid": {"train.gan_opt.loss_weight": [0]}})
    with pytest.raises(OptionError, match=r"other\.yml: start: .*elsewhere\.pth is not what .*start\.yml trains"):
        prepare_study(workdir / "start.yml", [other], out_dir=tmp_path / "out", root=workdir, datasets=["Tiny"],
                      data_root=workdir / "datasets", metrics=["psnr"])
    assert not (tmp_path / "out").exists()


def test_the_start_trains_first_then_every_variant_fine_tunes_its_weights(finished, workdir):
    study, _start, _runs, spy, _doc, _paths = finished
    assert spy.opts[0]["name"] == "tiny_start"
    assert len(spy.opts) == 1 + 2 + 4
    assert {o["path"]["pretrain_network_g"] for o in spy.opts[1:]} == {str(workdir / START_WEIGHTS)}
    assert study.start_weights.is_file()


def test_the_report_has_a_row_per_variant_with_its_recorded_scores(finished):
    _study, _start, runs, _spy, doc, _paths = finished
    text = doc.read_text()
    for _prep, result in runs:
        for record in result.records:
            means = record["results"]["datasets"]["Tiny"]["mean"]
            row = next(line for line in text.splitlines() if line.startswith(f"| {record['variant']} |"))
            assert f"| {format_value('psnr', means['psnr'])} | {format_value('ssim', means['ssim'])} |" in row


def test_the_change_against_the_start_is_the_difference_of_the_recorded_psnrs(finished):
    _study, _start, runs, _spy, doc, _paths = finished
    _prep, result = runs[0]
    start = next(r for r in result.references if r["variant"] == "start")["results"]["datasets"]["Tiny"]["mean"]
    record = result.records[1]
    psnr = record["results"]["datasets"]["Tiny"]["mean"]["psnr"]
    row = next(line for line in doc.read_text().splitlines() if line.startswith(f"| {record['variant']} |"))
    assert f"| {psnr - start['psnr']:+.2f} |" in row


def test_the_report_shows_each_sweep_s_plot_and_a_comparison_sheet_of_every_image(finished, workdir):
    _study, _start, runs, _spy, doc, paths = finished
    text = doc.read_text()
    for name in ("tradeoff_weight.png", "tradeoff_kind.png", "comparison.png"):
        assert (doc.parent / "study" / name).is_file()
        assert f"](study/{name})" in text
    sheet = load_image(doc.parent / "study" / "comparison.png").rgb
    panel = 64 + 4  # the whole 64-pixel HR image and a 2-pixel margin around each panel
    # one row per Tiny image; LR, bicubic, start, two variants, GT side by side
    assert sheet.shape[:2] == (2 * panel, 6 * panel)


def test_findings_state_how_the_recorded_psnr_moves_along_the_weight(finished):
    _study, _start, runs, _spy, doc, _paths = finished
    values = [r["results"]["datasets"]["Tiny"]["mean"]["psnr"] for r in runs[0][1].records]
    words = _trend([(0, values[0]), (0.5, values[1])], "psnr")
    assert f"PSNR (dB) {words} (0: {format_value('psnr', values[0])}, 0.5: {format_value('psnr', values[1])}" in \
        doc.read_text()


def test_findings_give_what_relativistic_average_changes_for_each_gan_loss(finished):
    _study, _start, runs, _spy, doc, _paths = finished
    psnr = {r["variant"]: r["results"]["datasets"]["Tiny"]["mean"]["psnr"] for r in runs[1][1].records}
    for loss, slug in (("vanilla", "vanilla"), ("wgan_gp", "wgan-gp")):
        change = psnr[f"gan_type-{slug}_relativistic-average"] - psnr[f"gan_type-{slug}_relativistic-none"]
        assert re.search(rf"{loss}: relativistic average against none: PSNR \(dB\) {re.escape(f'{change:+.2f}')}",
                         doc.read_text())


def test_a_second_run_trains_nothing(finished, workdir):
    spy = Spy()
    run_study(_prepare(workdir), progress=False, log=lambda text: None, train_fn=spy)
    assert spy.opts == []


def test_an_interrupted_start_resumes_and_counts_the_time_it_had_spent(workdir, tmp_path):
    study = prepare_study(workdir / "start.yml", [workdir / "weight.yml"], out_dir=tmp_path / "out", root=workdir,
                          datasets=["Tiny"], data_root=workdir / "datasets", metrics=["psnr"])
    resumed = []
    with pytest.raises(KeyboardInterrupt):
        train_start(study, progress=False, log=lambda text: None, train_fn=interrupted_training(resumed))
    first = read_record(tmp_path / "out" / "start.json")
    assert first["status"] == "training" and first["train_time_s"] >= 0.05
    record = train_start(study, progress=False, log=lambda text: None,
                         train_fn=lambda opt, auto_resume=False, progress=True: resumed.append(auto_resume))
    assert resumed == [False, True]
    assert record["status"] == "ok" and record["train_time_s"] >= first["train_time_s"]


@pytest.mark.parametrize("values, words", [
    ([30.0, 29.5, 29.0], "falls at every step"),
    ([0.30, 0.31, 0.35], "rises at every step"),
    ([30.0, 30.0 + RESOLUTION["psnr"] / 2, 29.0], "never rises"),
    ([30.0, 30.0 + RESOLUTION["psnr"] / 2], "does not move"),
    ([30.0, 29.0, 29.5], "does not move monotonically"),
])
def test_trend_words(values, words):
    assert _trend(list(enumerate(values)), "psnr") == words


# ------------------------------------------------------------------------------------------ the shipped study

REPO = Path(__file__).resolve().parents[1]
STUDY_SWEEPS = ("study_gan_weight", "study_perceptual_weight", "study_gan_type")


@pytest.fixture(scope="module")
def shipped():
    from srgan_kit.sweeps.runner import plan_sweep
    from srgan_kit.sweeps.spec import load_sweep
    from srgan_kit.training.checkpoint import final_generator

    start = load_options(REPO / "options" / "study_psnr.yml", root=REPO, check_paths=False)
    plans = {}
    for name in STUDY_SWEEPS:
        spec = load_sweep(REPO / "options" / "sweeps" / f"{name}.yml")
        plans[name] = (spec, *plan_sweep(spec, REPO / spec.base, REPO / "results", root=REPO, check_paths=False))
    return final_generator(start)[0], plans


def test_every_shipped_study_sweep_fine_tunes_the_shipped_start(shipped):
    start_weights, plans = shipped
    for _spec, reference, _plans in plans.values():
        assert Path(reference["path"]["pretrain_network_g"]) == start_weights


def test_the_shipped_study_sweeps_the_weights_and_losses_it_names(shipped):
    _start, plans = shipped
    weights = [p.opt["train"]["gan_opt"]["loss_weight"] for p in plans["study_gan_weight"][2]]
    kinds = {(p.opt["train"]["gan_opt"]["gan_type"], p.opt["train"]["gan_opt"]["relativistic"])
             for p in plans["study_gan_type"][2]}
    perceptual = [p.opt["train"]["perceptual_opt"]["perceptual_weight"] for p in plans["study_perceptual_weight"][2]]
    assert weights == [0, 1e-3, 5e-3, 1e-2, 1e-1]
    assert kinds == {(t, r) for t in ("vanilla", "lsgan", "hinge", "wgan_gp") for r in ("none", "average")}
    assert perceptual[0] == 0 and len(set(perceptual)) == len(perceptual) >= 3
    assert all(spec.datasets == ["Set5"] for spec, _r, _p in plans.values())


def _row(variant, psnr, kind="variant"):
    return {"variant": variant, "kind": kind, "dataset": "Set5", "psnr": psnr}


def test_a_start_every_variant_beats_in_psnr_is_called_unconverged_with_the_range_of_gains():
    from srgan_kit.sweeps.study_report import start_findings

    tables = [[_row("start", 28.0, "reference"), _row("a", 28.5), _row("b", 29.25)],
              [_row("start", 28.0, "reference"), _row("c", 28.75)]]
    [line] = start_findings(tables, "Set5")
    assert "all 3 variants score above the start in PSNR (+0.50 to +1.25 dB)" in line
    tables[1].append(_row("d", 27.5))
    assert start_findings(tables, "Set5") == []


# ------------------------------------------------------------------------------------------ the judge


def _loss_opt(*terms, perceptual=None):
    train = {"pixel_opt": {"type": "L1Loss", "loss_weight": 1.0}, "losses": list(terms)}
    if perceptual:
        train["perceptual_opt"] = {"type": "PerceptualLoss", "vgg_type": perceptual, "perceptual_weight": 1.0}
    return {"train": train}


METRICS = ["psnr", "ssim", "dists", "stlpips", "lpips", "niqe"]


def test_a_vgg_perceptual_loss_leaves_the_alexnet_metrics_and_niqe_as_judges():
    from srgan_kit.sweeps.judge import independent_metrics

    assert independent_metrics([_loss_opt(perceptual="vgg19")], METRICS) == ["stlpips", "lpips", "dists", "niqe"]
    # ST-LPIPS' VGG trunk and DISTS are both VGG16: DISTS may not judge it, nor a DISTS-trained variant
    assert independent_metrics([_loss_opt(perceptual="stlpips_vgg")], METRICS) == ["stlpips", "lpips", "niqe"]
    assert independent_metrics([_loss_opt({"type": "DISTSLoss"})], METRICS) == ["stlpips", "lpips", "niqe"]


def test_an_alexnet_perceptual_loss_rules_the_alexnet_metrics_out():
    from srgan_kit.sweeps.judge import independent_metrics

    opts = [_loss_opt(perceptual="lpips")]
    assert independent_metrics(opts, METRICS) == ["dists", "niqe"]
    assert independent_metrics([_loss_opt({"type": "PerceptualLoss", "vgg_type": "lpips", "perceptual_weight": 0})],
                               METRICS) == ["stlpips", "lpips", "dists", "niqe"]  # a zero weight trains nothing


def test_the_report_names_the_judge_of_each_sweep_or_says_there_is_none(finished):
    _study, _start, _runs, _spy, doc, _paths = finished
    assert "No metric here is independent of the losses (the variants train through no network)" in doc.read_text()


# ------------------------------------------------------------------------------------------ the term table


def _term_prep(metrics=("psnr", "stlpips", "niqe", "colour_shift")):
    from types import SimpleNamespace

    def plan(name, settings):
        return SimpleNamespace(variant=SimpleNamespace(name=name, settings=settings),
                               opt=_loss_opt(*settings.get("train.losses", []), perceptual="stlpips_vgg"))
    plans = [plan("base", {"train.gan_opt.loss_weight": 0.1})]
    plans += [plan(f"ff-{w}", {"train.losses": [{"type": "FFLoss", "loss_weight": w}]}) for w in (0.1, 1.0)]
    plans += [plan(f"sobel-{w}", {"train.losses": [{"type": "SobelEdgeLoss", "loss_weight": w}]}) for w in (0.1, 1.0)]
    return SimpleNamespace(plans=plans, evaluation=SimpleNamespace(metrics=list(metrics)))


def _term_row(variant, psnr, stlpips, niqe=5.0, shift=0.01):
    return {"variant": variant, "kind": "variant", "dataset": "Set5", "psnr": psnr, "stlpips": stlpips,
            "niqe": niqe, "colour_shift": shift}


def test_each_term_gets_its_deltas_against_the_base_and_the_best_weight_within_the_psnr_budget():
    from srgan_kit.sweeps.study_report import term_table

    rows = [_term_row("base", 28.0, 0.20), _term_row("ff-0.1", 27.95, 0.19), _term_row("ff-1.0", 27.5, 0.15),
            _term_row("sobel-0.1", 28.0, 0.2000, shift=0.03), _term_row("sobel-1.0", 27.0, 0.25)]
    text = "\n".join(term_table(_term_prep(), rows, "Set5"))
    assert "| FFLoss | 0.1 | -0.05 | -0.0100 | +0.0000 | 0.0100 |" in text
    assert "| SobelEdgeLoss | 0.1 | +0.00 | +0.0000 | +0.0000 | 0.0300 |" in text
    # 1.0 improves ST-LPIPS more but costs 0.5 dB: 0.1 is the recommendation
    assert "- FFLoss: loss_weight 0.1 (ST-LPIPS -0.0100, PSNR -0.05 dB)." in text
    assert "- SobelEdgeLoss: none of 0.1, 1.0 improves ST-LPIPS within 0.1 dB of the base's PSNR: it buys nothing" \
        in text


def test_a_term_that_fails_the_judge_but_gains_more_psnr_than_the_budget_is_said_to_buy_psnr():
    from srgan_kit.sweeps.study_report import term_table

    rows = [_term_row("base", 28.0, 0.20), _term_row("ff-0.1", 28.3, 0.22), _term_row("ff-1.0", 28.6, 0.25),
            _term_row("sobel-0.1", 28.05, 0.21), _term_row("sobel-1.0", 28.1, 0.21)]  # +0.1 dB: not more
    text = "\n".join(term_table(_term_prep(), rows, "Set5"))
    assert "- FFLoss: none of 0.1, 1.0 improves ST-LPIPS within 0.1 dB of the base's PSNR: it buys PSNR instead, " \
        "+0.60 dB at 1.0 (ST-LPIPS +0.0500)." in text
    assert "- SobelEdgeLoss: none of 0.1, 1.0 improves ST-LPIPS within 0.1 dB of the base's PSNR: it buys nothing" \
        in text


def test_a_sweep_without_a_base_variant_gets_no_term_table():
    from srgan_kit.sweeps.study_report import term_table

    prep = _term_prep()
    prep.plans = prep.plans[1:]
    assert term_table(prep, [_term_row("ff-0.1", 28.0, 0.2)], "Set5") == []


# ------------------------------------------------------------------------------------------ a converged start


def test_the_start_is_measured_at_the_last_checkpoint_of_its_first_three_quarters():
    from srgan_kit.sweeps.study import quarter_checkpoint

    assert quarter_checkpoint({"train": {"total_iter": 6000}, "logger": {"save_checkpoint_freq": 1000}}) == 4000
    assert quarter_checkpoint({"train": {"total_iter": 2}, "logger": {"save_checkpoint_freq": 100}}) is None


@pytest.mark.parametrize("to, words", [(28.04, "+0.040 dB: converged (under 0.05 dB)"),
                                       (28.30, "+0.300 dB: not converged (0.05 dB or more)")])
def test_the_report_says_whether_the_start_converged(to, words):
    from srgan_kit.sweeps.study_report import convergence_text

    record = {"convergence": {"dataset": "Set5", "psnr_from": 28.0, "psnr_to": to, "from_iter": 4500,
                              "to_iter": 6000}}
    text = convergence_text(record)
    assert "went from 28.00 dB (iteration 4500) to" in text and words in text
