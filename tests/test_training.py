"""PSNR training: loop, lr schedules, EMA, checkpoints, resume, archive, validation, CLI.

Runs use a tiny MSRResNet (num_feat 8, 1 block, x2) on 32x32 images written to tmp_path; each run takes
well under a second on a CPU core.
"""
import math
import random
import re
import sys

import numpy as np
import pytest
import torch
import yaml

from srgan_kit.archs.generators import MSRResNet
from srgan_kit.archs.loading import load_network
from srgan_kit.cli.train import main as train_main
from srgan_kit.compat import import_basicsr
from srgan_kit.data.datasets import GTOnlyDataset, sample_key
from srgan_kit.data.imageio import load_image, save_image
from srgan_kit.errors import OptionError, UserError, WeightsError
from srgan_kit.eval.metrics import calculate_psnr
from srgan_kit.config.options import load_options
from srgan_kit.training import checkpoint
from srgan_kit.training.ema import EMA
from srgan_kit.training.optim import CosineAnnealingRestartLR, MultiStepRestartLR, update_learning_rate
from srgan_kit.device import resolve_device
from srgan_kit.training.runtime import EpochSampler, InfiniteLoader, Runtime
from srgan_kit.models.base import GeneratorStep
from srgan_kit.registry import MODEL_TYPES
from srgan_kit.eval.conventions import to_levels
from srgan_kit.training.trainer import to_image, train

NET = {"num_feat": 8, "num_block": 1, "upscale": 2}

OPTIONS = """\
name: {name}
model_type: SRModel
scale: 2
num_gpu: 0
manual_seed: 10
datasets:
  train:
    name: tinytrain
    type: GTOnlyDataset
    dataroot_gt: data/gt
    gt_size: 16
    use_hflip: true
    use_rot: true
    batch_size_per_gpu: 2
    num_worker_per_gpu: 0
  val:
    name: tinyval
    type: GTOnlyDataset
    dataroot_gt: data/val
network_g:
  type: MSRResNet
  num_feat: 8
  num_block: 1
  upscale: 2
path:
  pretrain_network_g: ~
train:
  ema_decay: 0.9
  optim_g: {{type: Adam, lr: 2.0e-3, betas: [0.9, 0.99]}}
  scheduler: {{type: MultiStepLR, milestones: [14, 17], gamma: 0.5}}
  total_iter: 20
  warmup_iter: 12
  pixel_opt: {{type: L1Loss, loss_weight: 1.0, reduction: mean}}
val:
  val_freq: 10
  save_img: true
  metrics:
    psnr: {{type: calculate_psnr, crop_border: 2, test_y_channel: true}}
    ssim: {{type: calculate_ssim, crop_border: 2, test_y_channel: true}}
logger:
  print_freq: 5
  save_checkpoint_freq: 10
  use_tb_logger: false
"""


def _pattern(rng, size=32):
    """A smooth colour pattern: learnable from its half-size version, unlike noise."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    phase, freq = rng.uniform(0, 6, 3), rng.uniform(1, 4, 3)
    chans = [0.5 + 0.4 * np.sin(freq[c] * 6 * xx + phase[c]) * np.cos(freq[c] * 4 * yy) for c in range(3)]
    return np.stack(chans, -1).astype(np.float32)


def _write_data(root):
    rng = np.random.default_rng(0)
    for folder, count in (("gt", 4), ("val", 1)):
        for i in range(count):
            save_image(root / "data" / folder / f"{folder}{i}.png", _pattern(rng))
    return root


@pytest.fixture
def workdir(tmp_path):
    return _write_data(tmp_path)


def options(root, name="tiny", sets=()):
    path = root / f"{name}.yml"
    path.write_text(OPTIONS.format(name=name))
    return path, load_options(path, overrides=list(sets), root=root)


def net_params(path, key="params"):
    return torch.load(path, map_location="cpu", weights_only=True)[key]


def fresh_net(state_dict=None):
    net = MSRResNet(**NET)
    if state_dict is not None:
        load_network(net, state_dict, strict=True)
    return net.eval()


@torch.no_grad()
def l1_on(net, dataset):
    return float(np.mean([(net(item["lq"][None]) - item["gt"][None]).abs().mean().item() for item in dataset]))


# --------------------------------------------------------------------------------------------- runs


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    """20 iterations from a deliberately bad generator (so there is something to fix), validating at 10 and 20:
    (data root, run folder, result, the bad starting weights)."""
    root = _write_data(tmp_path_factory.mktemp("short_run"))
    torch.manual_seed(0)
    bad = MSRResNet(**NET)
    with torch.no_grad():
        for p in bad.parameters():
            p.add_(0.05 * torch.randn_like(p))
    torch.save({"params": bad.state_dict()}, root / "bad.pth")
    _, opt = options(root, sets=["path.pretrain_network_g=bad.pth", "train.warmup_iter=-1"])
    result = train(opt, progress=False)
    return root, root / "experiments" / "tiny", result, bad.state_dict()


def test_a_run_writes_basicsr_checkpoints_and_training_states(short_run):
    _root, run, result, _bad = short_run
    assert result.start_iteration == 0 and result.iteration == 20 and set(result.losses) == {"l_pix"}
    for it in (10, 20):
        ckpt = torch.load(run / "models" / f"net_g_{it}.pth", map_location="cpu", weights_only=True)
        assert set(ckpt) == {"params", "params_ema"}
        fresh_net(ckpt["params"])  # strict load: every key and shape fits
        fresh_net(ckpt["params_ema"])
        state = torch.load(run / "training_states" / f"{it}.state", map_location="cpu", weights_only=True)
        assert state["iter"] == it and "g" in state["step"]["optimizers"] and state["step"]["ema"]["decay"] == 0.9
    final, ema = net_params(run / "models" / "net_g_20.pth"), net_params(run / "models" / "net_g_20.pth", "params_ema")
    assert any(not torch.equal(final[k], ema[k]) for k in final)
    assert (run / "models" / "net_g_latest.pth").is_file()


def test_a_short_run_lowers_the_loss_on_its_training_images(short_run):
    root, run, _result, bad = short_run
    train_set = GTOnlyDataset(dataroot_gt=str(root / "data" / "gt"), scale=2, phase="val")
    before = l1_on(fresh_net(bad), train_set)
    after = l1_on(fresh_net(net_params(run / "models" / "net_g_20.pth")), train_set)
    assert after < 0.8 * before, (before, after)


def test_validation_scores_the_ema_generator_s_saved_image(short_run):
    root, run, result, _bad = short_run
    ema = net_params(run / "models" / "net_g_20.pth", "params_ema")
    val_item = GTOnlyDataset(dataroot_gt=str(root / "data" / "val"), scale=2, phase="val")[0]
    saved = run / "visualization" / "val0" / "val0_20.png"
    assert saved.is_file() and (run / "visualization" / "val0" / "val0_10.png").is_file()
    expected = to_levels(to_image(fresh_net(ema)(val_item["lq"][None]))).astype(np.uint8)
    written = np.round(load_image(saved).rgb * 255).astype(np.uint8)
    np.testing.assert_array_equal(written, expected)
    gt = to_levels(to_image(val_item["gt"][None]))
    assert set(result.metrics) == {"tinyval"}
    assert result.metrics["tinyval"]["psnr"] == pytest.approx(calculate_psnr(written, gt, 2, test_y_channel=True))
    assert 0 < result.metrics["tinyval"]["ssim"] <= 1


def test_a_run_keeps_its_log_and_resolved_options(short_run):
    _root, run, _result, _bad = short_run
    logs = list(run.glob("train_tiny_*.log"))
    assert len(logs) == 1 and re.search(r"iter:\s+20, lr:", logs[0].read_text())
    saved_opts = yaml.safe_load(next(run.glob("train_tiny_*.yml")).read_text())
    assert saved_opts["manual_seed"] == 10 and saved_opts["train"]["total_iter"] == 20


def test_resume_continues_at_saved_iteration_like_an_uninterrupted_run(workdir):
    # Warm-up to 12 and milestones 14/17: the checkpoint at 10 falls inside the warm-up.
    _, opt_a = options(workdir, "straight")
    straight = train(opt_a, progress=False)

    _, opt_b = options(workdir, "split", ["train.total_iter=10"])
    first = train(opt_b, progress=False)
    states = workdir / "experiments" / "split" / "training_states"
    saved = torch.load(states / "10.state", weights_only=True)
    assert first.iteration == 10
    assert saved["step"]["optimizers"]["g"]["param_groups"][0]["lr"] == pytest.approx(2e-3 * 10 / 12)
    # Leftovers of interrupted writes must not be taken for states.
    (states / ".20.state.abc123.tmp").write_bytes(b"partial")
    (states / "15.state.tmp").write_bytes(b"partial")

    _, opt_b = options(workdir, "split")
    resumed = train(opt_b, auto_resume=True, progress=False)

    assert resumed.start_iteration == 10 and resumed.iteration == 20
    assert resumed.lrs == straight.lrs == {"g": pytest.approx(2e-3 * 0.25)}
    assert resumed.losses == straight.losses
    for key in ("params", "params_ema"):
        a = net_params(workdir / "experiments" / "straight" / "models" / "net_g_20.pth", key)
        b = net_params(workdir / "experiments" / "split" / "models" / "net_g_20.pth", key)
        for name in a:
            torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-7)
    assert not list((workdir / "experiments").glob("split_archived_*"))  # resuming never archives


def test_new_run_archives_the_existing_folder_and_loads_the_pretrained_generator(workdir):
    torch.manual_seed(3)
    torch.save({"params": MSRResNet(**NET).state_dict()}, workdir / "pre.pth")
    # lr ~ 0: after one iteration the generator is still the pretrained one.
    sets = ["train.total_iter=1", "train.optim_g.lr=1e-30", "path.pretrain_network_g=pre.pth"]
    _, opt = options(workdir, sets=sets)
    train(opt, progress=False)
    run = workdir / "experiments" / "tiny"
    (run / "marker.txt").write_text("first run")

    train(opt, progress=False)

    archived = list((workdir / "experiments").glob("tiny_archived_*"))
    assert len(archived) == 1 and (archived[0] / "marker.txt").read_text() == "first run"
    assert (archived[0] / "models" / "net_g_1.pth").is_file()
    assert not (run / "marker.txt").exists() and (run / "models" / "net_g_1.pth").is_file()
    pre = torch.load(workdir / "pre.pth", weights_only=True)["params"]
    got = net_params(run / "models" / "net_g_1.pth")
    for name in pre:
        torch.testing.assert_close(got[name], pre[name], rtol=0, atol=1e-20)


@pytest.mark.parametrize("bad, words", [
    ("train.perceptual_opt={type: PerceptualLoss, layer_weights: {conv9_9: 1.0}}",
     "train.perceptual_opt.layer_weights.conv9_9: vgg19 has no layer"),
    ("network_g.num_feat=6", "does not fit MSRResNet"),  # the pretrained weights have 8 features
    ("datasets.train.dataroot_gt=data/empty", "holds no image"),
    ("datasets.train.dataroot_gt=data/cut", "1 image(s) cannot be decoded: cannot read image"),
])
def test_a_run_that_cannot_start_leaves_the_finished_run_as_it_was(workdir, bad, words):
    """Checked before anything is written: no archive, no new files; the message names the option file."""
    (workdir / "data" / "empty").mkdir(exist_ok=True)
    save_image(workdir / "data" / "cut" / "whole.png", _pattern(np.random.default_rng(1)))
    data = (workdir / "data" / "gt" / "gt0.png").read_bytes()
    (workdir / "data" / "cut" / "truncated.png").write_bytes(data[: len(data) // 2])  # header intact
    torch.manual_seed(3)
    torch.save({"params": MSRResNet(**NET).state_dict()}, workdir / "pre.pth")
    path, opt = options(workdir, "kept", sets=["train.total_iter=1", "path.pretrain_network_g=pre.pth"])
    train(opt, progress=False)
    before = sorted(p.relative_to(workdir) for p in (workdir / "experiments").rglob("*"))
    _, broken = options(workdir, "kept", sets=["train.total_iter=1", "path.pretrain_network_g=pre.pth", bad])
    with pytest.raises(UserError) as info:
        train(broken, progress=False)
    assert str(info.value).startswith(f"{path}: ") and words in str(info.value)
    assert sorted(p.relative_to(workdir) for p in (workdir / "experiments").rglob("*")) == before


def test_cli_trains_resumes_and_reports_user_errors(workdir, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    yml, _ = options(workdir, "cli")
    base = ["-opt", str(yml), "--no-progress", "--set", "val.val_freq=100", "--set", "logger.print_freq=1"]
    assert train_main(base + ["--set", "train.total_iter=2", "--set", "logger.use_tb_logger=true"]) == 0
    run = workdir / "experiments" / "cli"
    events = list((run / "tb_logger").glob("events.out.tfevents.*"))
    assert len(events) == 1 and b"losses/l_pix" in events[0].read_bytes()
    assert train_main(base + ["--set", "train.total_iter=4", "--auto_resume"]) == 0
    assert {p.name for p in (run / "training_states").iterdir()} == {"2.state", "4.state"}
    assert "Resumed from" in capsys.readouterr().out

    assert train_main(["-opt", str(workdir / "missing.yml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "missing.yml" in err[0]
    # A resume state that is not one: a WeightsError naming the file, one line.
    (workdir / "junk.state").write_bytes(b"not a checkpoint")
    assert train_main(base + ["--set", "path.resume_state=junk.state"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "junk.state" in err[0]


# ---------------------------------------------------------------------------------------- schedules


def _lrs(scheduler_cls, kwargs, warmup, iterations, lr=1e-3):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = scheduler_cls(opt, **kwargs)
    out = []
    for it in range(1, iterations + 1):
        update_learning_rate(it, [opt], [sched], warmup)
        out.append(opt.param_groups[0]["lr"])
    return out


def test_warmup_then_multistep_hand_values():
    got = _lrs(MultiStepRestartLR, {"milestones": [6, 9], "gamma": 0.5}, warmup=4, iterations=11)
    # iteration k < 4: 1e-3 * k / 4; then the schedule at step k - 1 (halved at steps 6 and 9).
    expected = [0.25e-3, 0.5e-3, 0.75e-3, 1e-3, 1e-3, 1e-3, 0.5e-3, 0.5e-3, 0.5e-3, 0.25e-3, 0.25e-3]
    assert got == pytest.approx(expected, rel=1e-12)


def test_warmup_then_cosine_restart_hand_values():
    kwargs = {"periods": [4, 6], "restart_weights": [1, 0.5], "eta_min": 1e-4}
    got = _lrs(CosineAnnealingRestartLR, kwargs, warmup=2, iterations=12)

    def cosine(step):
        if step <= 4:
            return 1e-4 + 0.5 * 9e-4 * (1 + math.cos(math.pi * step / 4))
        step = min(step, 10)
        return 1e-4 + 0.5 * 0.5 * 9e-4 * (1 + math.cos(math.pi * (step - 4) / 6))

    expected = [1e-3 * 1 / 2] + [cosine(k - 1) for k in range(2, 13)]
    assert got == pytest.approx(expected, rel=1e-12)
    assert got[4] == pytest.approx(1e-4)  # iteration 5 = step 4 ends period 1 at eta_min (right-closed)


@pytest.mark.parametrize(
    "ours, theirs, kwargs",
    [
        (MultiStepRestartLR, "MultiStepRestartLR",
         {"milestones": [3, 5, 5, 12], "gamma": 0.5, "restarts": [0, 8], "restart_weights": [1, 0.3]}),
        (CosineAnnealingRestartLR, "CosineAnnealingRestartLR",
         {"periods": [5, 7, 4], "restart_weights": [1, 0.5, 0.25], "eta_min": 1e-5}),
    ],
)
def test_schedules_match_basicsr_without_warmup(ours, theirs, kwargs):
    ref_cls = getattr(import_basicsr("basicsr.models.lr_scheduler"), theirs)
    ref_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2e-3)
    ref = ref_cls(ref_opt, **kwargs)
    got = _lrs(ours, kwargs, warmup=-1, iterations=16, lr=2e-3)
    expected = []
    for it in range(1, 17):
        if it > 1:
            ref_opt.step()
            ref.step()
        expected.append(ref_opt.param_groups[0]["lr"])
    assert got == pytest.approx(expected, rel=1e-12)


def test_scheduler_state_round_trip_and_bad_lengths():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = CosineAnnealingRestartLR(opt, periods=[10])
    for _ in range(3):
        sched.step()
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    other = CosineAnnealingRestartLR(opt2, periods=[10])
    other.load_state_dict(sched.state_dict())
    sched.step()
    other.step()
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"] == pytest.approx(0.5 * (1 + math.cos(0.4 * math.pi)))
    with pytest.raises(OptionError, match="restart_weights"):
        MultiStepRestartLR(opt, milestones=[1], restarts=[0, 5], restart_weights=[1])


# ------------------------------------------------------------------------------------ EMA, files, RNG


def test_ema_update_formula():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2))
    ema = EMA(net, decay=0.9)
    old = {k: v.clone() for k, v in ema.module.state_dict().items()}
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p))
        net[1].running_mean.fill_(3.0)
    ema.update(net)
    for name, p in net.named_parameters():
        torch.testing.assert_close(ema.module.state_dict()[name], 0.9 * old[name] + 0.1 * p.detach())
    assert torch.equal(ema.module[1].running_mean, torch.full((2,), 3.0))  # buffers are copied
    assert not any(p.requires_grad for p in ema.module.parameters())


def test_atomic_save_leaves_no_partial_file_on_failure(tmp_path):
    target = tmp_path / "net_g_5.pth"
    checkpoint.atomic_save({"ok": torch.ones(2)}, target)
    with pytest.raises(Exception):
        checkpoint.atomic_save({"bad": lambda: None}, target)  # lambdas cannot be pickled
    assert [p.name for p in tmp_path.iterdir()] == ["net_g_5.pth"]
    assert torch.equal(torch.load(target, weights_only=True)["ok"], torch.ones(2))  # old file intact


def test_find_latest_state_ignores_temporary_and_foreign_files(tmp_path):
    assert checkpoint.find_latest_state(tmp_path / "none") is None
    for name in ("5.state", "10.state", "9.state", ".20.state.x1.tmp", "30.state.tmp", "notes.txt", "a.state"):
        (tmp_path / name).write_bytes(b"")
    assert checkpoint.find_latest_state(tmp_path).name == "10.state"


def test_rng_state_survives_weights_only_round_trip(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    checkpoint.atomic_save({"rng": checkpoint.capture_rng()}, tmp_path / "s.state")
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    checkpoint.restore_rng(torch.load(tmp_path / "s.state", weights_only=True)["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


def test_corrupt_state_is_a_user_error(tmp_path):
    (tmp_path / "7.state").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="7.state"):
        checkpoint.load_training_state(tmp_path / "7.state")


# ------------------------------------------------------------------------------------ data, runtime


class _Numbers(torch.utils.data.Dataset):
    def __len__(self):
        return 7

    def __getitem__(self, key):
        return {"i": sample_key(key)[0]}


def test_infinite_loader_resumes_mid_epoch_with_the_same_batches():
    def make():
        return InfiniteLoader(_Numbers(), EpochSampler(7, shuffle=True, seed=5), batch_size=2)

    straight = make()
    batches = [next(straight)["i"].tolist() for _ in range(8)]  # 3 batches per epoch (drop_last)
    epoch0, epoch1 = sum(batches[:3], []), sum(batches[3:6], [])
    assert len(set(epoch0)) == 6 and len(set(epoch1)) == 6 and epoch0 != epoch1  # reshuffled per epoch

    first = make()
    for _ in range(4):
        next(first)
    resumed = make()
    resumed.load_state_dict(first.state_dict())
    assert [next(resumed)["i"].tolist() for _ in range(4)] == batches[4:]
    assert resumed.epoch == 2


def test_a_set_smaller_than_a_batch_is_repeated_within_the_epoch():
    loader = Runtime().train_loader(_Numbers(), batch_size=16, num_workers=0, shuffle=True, seed=1)
    batches = [next(loader)["i"] for _ in range(3)]
    assert loader.per_epoch == 1 and loader.epoch == 2  # 7 samples x 3 passes = one batch of 16 per epoch
    assert all(len(b) == 16 and set(b.tolist()) == set(range(7)) for b in batches)


def test_model_type_registry_and_device_from_num_gpu():
    assert MODEL_TYPES.get("sr").step is GeneratorStep and MODEL_TYPES.get("SRModel") is MODEL_TYPES.get("sr")
    with pytest.raises(OptionError, match="unknown model type 'sr_model'"):
        MODEL_TYPES.get("sr_model")
    assert resolve_device(num_gpu=0).type == "cpu"
    assert resolve_device(num_gpu="auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(OptionError, match="num_gpu"):
        resolve_device(num_gpu="two")

    rt = Runtime(channels_last=True, amp_dtype=torch.bfloat16)
    net = rt.prepare(torch.nn.Conv2d(3, 4, 3, padding=1))
    batch = rt.to_device({"lq": torch.rand(1, 3, 8, 8), "lq_path": ["x.png"]})
    assert net.weight.is_contiguous(memory_format=torch.channels_last)
    assert batch["lq"].is_contiguous(memory_format=torch.channels_last) and batch["lq_path"] == ["x.png"]
    with rt.autocast():
        assert net(batch["lq"]).dtype == torch.bfloat16
    assert not rt.grad_scaler().is_enabled()  # only fp16 on CUDA scales
    assert Runtime().is_main and not Runtime(rank=1).is_main


def test_tensorboard_gets_an_lr_sr_gt_picture_of_each_validation_image(workdir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, opt = options(workdir, "tb", ["train.total_iter=10", "logger.use_tb_logger=true", "val.save_img=false"])
    train(opt, progress=False)
    events = EventAccumulator(str(workdir / "experiments" / "tb" / "tb_logger"), size_guidance={"images": 0})
    events.Reload()
    assert events.Tags()["images"] == ["val/tinyval/val0"]
    picture = events.Images("val/tinyval/val0")[-1]
    # the 32x32 validation image: LR (enlarged), SR, GT panels of 32 pixels with 2-pixel margins, at iteration 10
    assert (picture.step, picture.width, picture.height) == (10, 3 * 36, 36)


class _FakeWandb:
    """Stands in for the wandb package (not a dependency): records what the run asks of it."""

    def __init__(self):
        self.inits, self.finished = [], 0

    def init(self, **kwargs):
        self.inits.append(kwargs)
        return self

    def finish(self):
        self.finished += 1


def test_wandb_mirrors_tensorboard_when_a_project_is_set(workdir, monkeypatch):
    fake = _FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    _, opt = options(workdir, "wb", ["train.total_iter=2", "logger.use_tb_logger=true",
                                     "logger.wandb.project=sr", "logger.wandb.resume_id=abc"])
    train(opt, progress=False)
    (init,) = fake.inits
    assert (init["project"], init["name"], init["id"], init["resume"]) == ("sr", "wb", "abc", "allow")
    assert init["sync_tensorboard"] is True and init["config"]["train"]["total_iter"] == 2
    assert fake.finished == 1


def test_wandb_missing_is_one_warning_and_the_run_goes_on(workdir, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb -> ImportError
    _, opt = options(workdir, "nowb", ["train.total_iter=2", "logger.use_tb_logger=true", "logger.wandb.project=sr"])
    assert train(opt, progress=False).iteration == 2
    log = next((workdir / "experiments" / "nowb").glob("train_nowb_*.log")).read_text()
    assert "the wandb package is not installed" in log


def test_wandb_without_tensorboard_is_refused_naming_the_key(workdir):
    with pytest.raises(OptionError, match="logger.wandb.project: 'sr' needs logger.use_tb_logger: true"):
        options(workdir, "x", ["logger.wandb.project=sr"])
