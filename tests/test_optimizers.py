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
