"""torch's NAdam / RAdam and pytorch-optimizer's Adan, ADOPT, SOAP, StableAdamW by name: the library's own update,
a short run with each, and a misspelt name."""
import copy

import pytest
import torch

from srgan_kit.errors import OptionError
from srgan_kit.training.optim import build_optimizer
from test_training import options, train, workdir  # noqa: F401  (the tiny PSNR run and its data)

LIBRARY = ["Adan", "ADOPT", "SOAP", "StableAdamW"]
ALL = ["NAdam", "RAdam", *LIBRARY]


@pytest.mark.parametrize("name", LIBRARY)
def test_a_library_optimiser_steps_exactly_as_the_library_does(name):
    import pytorch_optimizer

    torch.manual_seed(0)
    ours_net = torch.nn.Conv2d(3, 4, 3)
    theirs_net = copy.deepcopy(ours_net)
    ours = build_optimizer({"type": name, "lr": 1e-2, "weight_decay": 0.01}, ours_net.parameters())
    theirs = getattr(pytorch_optimizer, name)(theirs_net.parameters(), lr=1e-2, weight_decay=0.01)
    x = torch.randn(2, 3, 8, 8)
    for _ in range(3):
        for net, opt in ((ours_net, ours), (theirs_net, theirs)):
            opt.zero_grad()
            net(x).square().mean().backward()
            opt.step()
    assert type(ours) is type(theirs)
    assert all(torch.equal(a, b) for a, b in zip(ours_net.parameters(), theirs_net.parameters()))


@pytest.mark.parametrize("name", ALL)
def test_each_optimiser_trains_three_iterations(name, workdir):  # noqa: F811
    betas = "[0.98,0.92,0.99]" if name == "Adan" else "[0.9,0.99]"  # Adan's three
    _, opt = options(workdir, name=name.lower(), sets=[f"train.optim_g.type={name}", f"train.optim_g.betas={betas}",
                                                       "train.total_iter=3", "val.val_freq=3",
                                                       "logger.save_checkpoint_freq=3"])
    result = train(opt, progress=False)
    assert result.iteration == 3 and all(torch.isfinite(torch.tensor(v)) for v in result.losses.values())


def test_adan_with_two_betas_is_refused_by_key(workdir):  # noqa: F811
    with pytest.raises(OptionError, match="train.optim_g.betas: expected a list of 3 items for Adan"):
        options(workdir, name="adan2", sets=["train.optim_g.type=Adan"])


def test_a_misspelt_optimiser_names_the_nearest(workdir):  # noqa: F811
    with pytest.raises(OptionError, match="did you mean 'Adan'"):
        options(workdir, sets=["train.optim_g.type=Adann"])


def lrs(scheduler_class, steps, **keys):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = scheduler_class(optimizer, **keys)
    return [scheduler.lr_at(step, 1.0) for step in steps]


def test_cosine_with_linear_warmup_by_hand():
    from srgan_kit.training.optim import CosineAnnealingWarmupLR

    got = lrs(CosineAnnealingWarmupLR, [0, 1, 2, 6, 10, 12], total_iters=10, warmup_iters=2, eta_min_ratio=0.1)
    # warm-up 0 -> 1 over 2 steps; half-way through the cosine: 0.1 + 0.9 / 2; the floor from step 10 on
    assert got == pytest.approx([0.0, 0.5, 1.0, 0.55, 0.1, 0.1])


def test_warmup_stable_decay_by_hand():
    from srgan_kit.training.optim import WarmupStableDecayLR

    got = lrs(WarmupStableDecayLR, [1, 5, 8, 9, 10, 11], total_iters=10, warmup_iters=2, decay_ratio=0.2)
    assert got == pytest.approx([0.5, 1.0, 1.0, 0.5, 0.0, 0.0])  # decay over the last 2 of 10 steps


def test_a_warmup_as_long_as_the_run_is_refused(workdir):  # noqa: F811
    sets = ["train.scheduler={type: CosineAnnealingWarmupLR, total_iters: 20, warmup_iters: 20}"]
    _, opt = options(workdir, name="wsd", sets=sets)
    with pytest.raises(OptionError, match="total_iters > warmup_iters"):
        train(opt, progress=False)
    assert not (workdir / "experiments" / "wsd").exists()


SCHEDULE_FREE = ["train.optim_g.type=AdamWScheduleFree", "train.optim_g.lr=2e-3", "train.scheduler=~",
                 "train.optim_g.warmup_steps=2", "val.val_freq=2", "logger.save_checkpoint_freq=3"]


def run_files(workdir, name, iteration):  # noqa: F811
    run = workdir / "experiments" / name
    state = torch.load(run / "training_states" / f"{iteration}.state", weights_only=True)
    return torch.load(run / "models" / f"net_g_{iteration}.pth", weights_only=True), state


def test_a_schedule_free_run_interrupted_and_resumed_ends_bit_identical_to_a_straight_one(workdir):  # noqa: F811
    # Saves at 3 and 6, validations (averaged weights, then back) at 2, 4 and 6, the EMA read every iteration.
    straight = train(options(workdir, "straight", [*SCHEDULE_FREE, "train.total_iter=6"])[1], progress=False)
    train(options(workdir, "split", [*SCHEDULE_FREE, "train.total_iter=3"])[1], progress=False)
    resumed = train(options(workdir, "split", [*SCHEDULE_FREE, "train.total_iter=6"])[1], auto_resume=True,
                    progress=False)
    assert resumed.start_iteration == 3 and resumed.losses == straight.losses
    (a, state_a), (b, state_b) = run_files(workdir, "straight", 6), run_files(workdir, "split", 6)
    for key in ("params", "params_ema"):
        assert all(torch.equal(a[key][name], b[key][name]) for name in a[key])
    assert all(torch.equal(y, z) for y, z in zip(state_a["step"]["training_points"]["g"],
                                                  state_b["step"]["training_points"]["g"]))


def test_the_saved_generator_is_the_schedule_free_average_not_the_training_point(workdir):  # noqa: F811
    train(options(workdir, "sf", [*SCHEDULE_FREE, "train.total_iter=3"])[1], progress=False)
    nets, state = run_files(workdir, "sf", 3)
    beta1 = state["step"]["optimizers"]["g"]["param_groups"][0]["betas"][0]
    points, zs = state["step"]["training_points"]["g"], state["step"]["optimizers"]["g"]["state"]
    saved = list(nets["params"].values())  # the network's parameters in the optimiser's order
    for i, (x, y) in enumerate(zip(saved, points)):
        # schedulefree's eval(): x = y + (1 - 1 / beta1) (z - y)
        torch.testing.assert_close(x, y.lerp(zs[i]["z"], 1 - 1 / beta1), rtol=1e-6, atol=1e-7)
    assert any(not torch.equal(x, y) for x, y in zip(saved, points))


def test_adan_schedule_free_trains_three_iterations(workdir):  # noqa: F811
    sets = ["train.optim_g.type=AdanScheduleFree", "train.optim_g.betas=[0.98,0.92,0.99]", "train.scheduler=~",
            "train.total_iter=3", "val.val_freq=3", "logger.save_checkpoint_freq=3"]
    result = train(options(workdir, "adansf", sets)[1], progress=False)
    assert result.iteration == 3 and all(torch.isfinite(torch.tensor(v)) for v in result.losses.values())


def test_adan_schedule_free_warms_its_learning_rate_up_linearly():
    from srgan_kit.training.schedule_free import adan_schedule_free

    weight = torch.nn.Parameter(torch.ones(3))
    optimizer = adan_schedule_free([weight], lr=1.0, warmup_steps=4)
    optimizer.train()
    seen = []
    base_step = optimizer.base.step
    optimizer.base.step = lambda: (seen.append(optimizer.param_groups[0]["lr"]), base_step())
    for _ in range(5):
        weight.grad = torch.ones(3)
        optimizer.step()
    assert seen == [0.25, 0.5, 0.75, 1.0, 1.0] and optimizer.param_groups[0]["lr"] == 1.0


def test_a_scheduler_with_a_schedule_free_optimiser_is_refused_in_one_line(workdir):  # noqa: F811
    with pytest.raises(OptionError, match=r"train.scheduler: MultiStepLR would fight AdamWScheduleFree "
                                          r"\(train.optim_g\), which needs no learning-rate schedule"):
        options(workdir, sets=["train.optim_g.type=AdamWScheduleFree"])
